// A leased shard's batch → rows of its in-application stream, for the shard
// workers (two-phase partials, pass-through): records at or before the
// shard's saved position are skipped (read again after a crash or a move, or
// a batch retried), the rest are mapped straight into the engine's row objects.
import { compareSequence } from '../../consumer/userRecords.js';
import type { ConsumerRecord } from '../../consumer/types.js';
import type { Value } from '../engine/types.js';
import type { RecordMapper } from '../mapping.js';
import type { ShardPos } from './checkpoint.js';

export interface ShardRows {
  rows: { t: number; seq: number; v: Value[] }[];
  /** The first and last new records' positions (undefined: nothing new). */
  first?: ShardPos;
  last?: ShardPos;
  /** The newest arrival among the new records (-Infinity: none). */
  maxArrivalMs: number;
}

/** `onError(reason, arrivalMs, record)` for each record that does not map (it goes to error_stream). */
export function shardRows(records: ConsumerRecord[], after: ShardPos | undefined, mapper: RecordMapper, onError: (reason: string, arrivalMs: number, r: ConsumerRecord) => void): ShardRows {
  const out: ShardRows = { rows: [], maxArrivalMs: Number.NEGATIVE_INFINITY };
  const reasons: string[] = [];
  let last: ConsumerRecord | undefined;
  let t = 0;
  const make = (v: Value[]) => ({ t, seq: 0, v });
  for (const r of records) {
    // A batch is in shard order: once one record is new, the rest are too (no comparison per record).
    if (!out.first) {
      const pos = { seq: r.sequenceNumber, sub: r.subSequenceNumber };
      if (after && (compareSequence(pos.seq, after.seq) < 0 || (pos.seq === after.seq && (pos.sub ?? -1) <= (after.sub ?? -1)))) continue;
      out.first = pos;
    }
    last = r;
    t = r.approximateArrivalTimestamp.getTime();
    if (t > out.maxArrivalMs) out.maxArrivalMs = t;
    mapper.mapTo(r.data, out.rows, reasons, make);
    if (reasons.length) {
      for (const e of reasons) onError(e, t, r);
      reasons.length = 0;
    }
  }
  if (last) out.last = { seq: last.sequenceNumber, sub: last.subSequenceNumber };
  return out;
}
