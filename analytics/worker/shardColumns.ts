// A leased shard's batch → a ColumnBatch of its in-application stream, for the
// two-phase partial workers. Records at or before the shard's saved position
// are skipped (read again after a crash or a move, or a batch retried). Each
// new record is decoded straight into the batch's columns (columnDecoder.ts)
// when the decoder is sure of the result, else mapped by RecordMapper (rows
// or mapping errors, the exact path) and its rows appended. Records come as
// ConsumerRecords or packed in their stored messages (no object per record).
// `fullRow` gives a row back with every column, for error_stream's DATA_ROW:
// the batch holds only the columns the pumps read.
import { compareSequence } from '../../consumer/userRecords.js';
import type { ConsumerRecord } from '../../consumer/types.js';
import type { PackedRecords } from '../../stream/packedRecords.js';
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

/** `onError(reason, arrivalMs, data, pos)` for each record that does not map (it goes to error_stream); `pos` is the record's position. */
export type MappingErrors = (reason: string, arrivalMs: number, data: Buffer, pos: ShardPos) => void;

export function shardColumns(records: ConsumerRecord[], after: ShardPos | undefined, decoder: BatchDecoder | undefined, mapper: RecordMapper, batch: ColumnBatch, onError: MappingErrors): ShardColumns {
  const b = new Builder(after, decoder, mapper, batch);
  let last: ConsumerRecord | undefined;
  for (const r of records) {
    if (!b.started && b.old(r.sequenceNumber, r.subSequenceNumber)) continue;
    last = r;
    const t = r.approximateArrivalTimestamp.getTime();
    const reasons = b.add(r.data, 0, r.data.length, t);
    if (reasons) for (const e of reasons) onError(e, t, r.data, { seq: r.sequenceNumber, sub: r.subSequenceNumber });
  }
  return b.result(last && { seq: last.sequenceNumber, sub: last.subSequenceNumber });
}

/** shardColumns() over packed records: the decoder reads each record's data where it lies in its message. */
export function packedColumns(packed: PackedRecords, after: ShardPos | undefined, decoder: BatchDecoder | undefined, mapper: RecordMapper, batch: ColumnBatch, onError: MappingErrors): ShardColumns {
  const b = new Builder(after, decoder, mapper, batch);
  packed.forEach((m, index, c) => {
    if (!b.started && b.old(packed.sequenceNumber(m, index))) return;
    const reasons = b.add(m.payload, c.dataStart, c.dataEnd, m.arrivalMs);
    if (reasons) for (const e of reasons) onError(e, m.arrivalMs, m.payload.subarray(c.dataStart, c.dataEnd), { seq: packed.sequenceNumber(m, index) });
  });
  const last = b.started ? packed.lastSequenceNumber() : undefined;
  return b.result(last === undefined ? undefined : { seq: last });
}

/** Where each row of a batch came from, kept with the batch and reused batch after batch (new arrays per batch were ~70 MB per million records). */
class Sources {
  buf: Buffer[] = [];
  start = new Int32Array(1024);
  end = new Int32Array(1024);

  grow(): void {
    const grow = (a: Int32Array) => { const b = new Int32Array(a.length * 2); b.set(a); return b; };
    this.start = grow(this.start);
    this.end = grow(this.end);
  }
}

const sources = new WeakMap<ColumnBatch, Sources>();
function sourcesOf(batch: ColumnBatch): Sources {
  let s = sources.get(batch);
  if (!s) sources.set(batch, (s = new Sources()));
  return s;
}

class Builder {
  started = false;
  private first?: ShardPos;
  private maxArrivalMs = Number.NEGATIVE_INFINITY;
  // Each batch row's record (its bytes) and its place among the record's rows (a row path can give several).
  private readonly src: Sources;
  private sub?: Map<number, number>;
  private readonly reasons: string[] = [];
  private readonly rows: Value[][] = [];

  constructor(
    private readonly after: ShardPos | undefined,
    private readonly decoder: BatchDecoder | undefined,
    private readonly mapper: RecordMapper,
    private readonly batch: ColumnBatch,
  ) {
    batch.clear();
    this.src = sourcesOf(batch);
  }

  /** True for a record at or before `after` (a batch is in shard order: once one record is new, the rest are too). */
  old(seq: string, sub?: number): boolean {
    const a = this.after;
    if (a && (compareSequence(seq, a.seq) < 0 || (seq === a.seq && (sub ?? -1) <= (a.sub ?? -1)))) return true;
    this.started = true;
    this.first = { seq, sub };
    return false;
  }

  /** One record into the batch; the reasons it does not map, if any (the caller reports them with its position). */
  add(buf: Buffer, start: number, end: number, t: number): string[] | undefined {
    const batch = this.batch;
    if (t > this.maxArrivalMs) this.maxArrivalMs = t;
    const at = batch.n;
    if (this.decoder?.decode(buf, start, end, batch, t)) {
      this.source(at, buf, start, end);
      return undefined;
    }
    const data = start === 0 && end === buf.length ? buf : buf.subarray(start, end);
    this.mapper.mapTo(data, this.rows, this.reasons, (v) => v);
    for (let k = 0; k < this.rows.length; k++) {
      const row = batch.n;
      batch.pushRow(t, this.rows[k]!);
      this.source(row, buf, start, end);
      if (k > 0) (this.sub ??= new Map()).set(row, k);
    }
    this.rows.length = 0;
    if (this.reasons.length === 0) return undefined;
    const reasons = [...this.reasons];
    this.reasons.length = 0;
    return reasons;
  }

  private source(row: number, buf: Buffer, start: number, end: number): void {
    const src = this.src;
    if (row >= src.start.length) src.grow();
    src.buf[row] = buf;
    src.start[row] = start;
    src.end[row] = end;
  }

  result(last: ShardPos | undefined): ShardColumns {
    const { mapper, batch } = this;
    const { buf: srcBuf, start: srcStart, end: srcEnd } = this.src;
    const sub = this.sub;
    return {
      first: this.first,
      last,
      maxArrivalMs: this.maxArrivalMs,
      fullRow: (row) => mapper.map(srcBuf[row]!.subarray(srcStart[row], srcEnd[row])).rows[sub?.get(row) ?? 0] ?? batch.row(row),
    };
  }
}
