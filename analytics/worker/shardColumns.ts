// shardRows() into a ColumnBatch, for the two-phase partial workers: each new
// record is decoded straight into the batch's columns (columnDecoder.ts) when
// the decoder is sure of the result, else mapped by RecordMapper (rows or
// mapping errors, the exact path) and its rows appended. `fullRow` gives a
// row back with every column, for error_stream's DATA_ROW: the batch holds
// only the columns the pumps read.
import { compareSequence } from '../../consumer/userRecords.js';
import type { ConsumerRecord } from '../../consumer/types.js';
import type { ColumnBatch } from '../engine/columnBatch.js';
import type { Value } from '../engine/types.js';
import type { RecordMapper } from '../mapping.js';
import type { ShardPos } from './checkpoint.js';

/** What decodes a record's bytes into one row of a batch (ColumnDecoder); false: not sure, map it the exact way. */
export interface BatchDecoder {
  decode(data: Buffer, start: number, end: number, batch: ColumnBatch, t: number): boolean;
}

export interface ShardColumns {
  /** The first and last new records' positions (undefined: nothing new). */
  first?: ShardPos;
  last?: ShardPos;
  /** The newest arrival among the new records (-Infinity: none). */
  maxArrivalMs: number;
  /** Batch row r with every input column. */
  fullRow(r: number): Value[];
}

/** Fills `batch` (cleared first); `onError(reason, arrivalMs, record)` for each record that does not map. */
export function shardColumns(
  records: ConsumerRecord[], after: ShardPos | undefined, decoder: BatchDecoder | undefined, mapper: RecordMapper, batch: ColumnBatch,
  onError: (reason: string, arrivalMs: number, r: ConsumerRecord) => void,
): ShardColumns {
  batch.clear();
  let first: ShardPos | undefined;
  let last: ConsumerRecord | undefined;
  let maxArrivalMs = Number.NEGATIVE_INFINITY;
  // Batch row → its record and its place among the record's rows (a row path can give several).
  let sub: Map<number, number> | undefined;
  let grow: Int32Array = new Int32Array(records.length + 16);
  const reasons: string[] = [];
  const rows: Value[][] = [];
  const keep = (v: Value[]) => v;
  for (let i = 0; i < records.length; i++) {
    const r = records[i]!;
    // A batch is in shard order: once one record is new, the rest are too.
    if (!first) {
      const pos = { seq: r.sequenceNumber, sub: r.subSequenceNumber };
      if (after && (compareSequence(pos.seq, after.seq) < 0 || (pos.seq === after.seq && (pos.sub ?? -1) <= (after.sub ?? -1)))) continue;
      first = pos;
    }
    last = r;
    const t = r.approximateArrivalTimestamp.getTime();
    if (t > maxArrivalMs) maxArrivalMs = t;
    const at = batch.n;
    if (decoder?.decode(r.data, 0, r.data.length, batch, t)) {
      if (at >= grow.length) grow = copyGrown(grow);
      grow[at] = i;
      continue;
    }
    mapper.mapTo(r.data, rows, reasons, keep);
    for (let k = 0; k < rows.length; k++) {
      const row = batch.n;
      batch.pushRow(t, rows[k]!);
      if (row >= grow.length) grow = copyGrown(grow);
      grow[row] = i;
      if (k > 0) (sub ??= new Map()).set(row, k);
    }
    rows.length = 0;
    if (reasons.length) {
      for (const e of reasons) onError(e, t, r);
      reasons.length = 0;
    }
  }
  const src = grow;
  return {
    first,
    last: last ? { seq: last.sequenceNumber, sub: last.subSequenceNumber } : undefined,
    maxArrivalMs,
    fullRow: (row) => mapper.map(records[src[row]!]!.data).rows[sub?.get(row) ?? 0] ?? batch.row(row),
  };
}

function copyGrown(a: Int32Array): Int32Array {
  const b = new Int32Array(a.length * 2);
  b.set(a);
  return b;
}
