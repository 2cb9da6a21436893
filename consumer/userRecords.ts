// Stored records → the user records processRecords sees: KPL aggregates are
// opened into their user records, each with the aggregate's sequence number
// and its index as sub-sequence number (as the KCL does).
import { deaggregate, isAggregated } from '../stream/kinesis/aggregation.js';
import type { ConsumerRecord, SourceRecord } from './types.js';

export function userRecords(shardId: string, records: SourceRecord[], opts: { deaggregate: boolean }): ConsumerRecord[] {
  const out: ConsumerRecord[] = new Array(records.length);
  let n = 0;
  // Records stored together share one arrival time: one Date for them (hot path: no spreads, few allocations).
  let at = new Date(records[0]?.arrivalMs ?? 0);
  for (const r of records) {
    if (r.arrivalMs !== at.getTime()) at = new Date(r.arrivalMs);
    const encryptionType = r.encrypted ? 'KMS' : 'NONE';
    const parts = opts.deaggregate && isAggregated(r.data) ? deaggregate(r.data) : undefined;
    if (!parts) {
      out[n++] = {
        shardId,
        sequenceNumber: r.sequenceNumber,
        partitionKey: r.partitionKey,
        explicitHashKey: r.explicitHashKey,
        data: r.data,
        approximateArrivalTimestamp: at,
        encryptionType,
      };
      continue;
    }
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i]!;
      out[n++] = {
        shardId,
        sequenceNumber: r.sequenceNumber,
        subSequenceNumber: i,
        partitionKey: p.partitionKey,
        explicitHashKey: p.explicitHashKey,
        data: p.data,
        approximateArrivalTimestamp: at,
        encryptionType,
      };
    }
  }
  out.length = n;
  return out;
}

/** Compares Kinesis sequence numbers (decimal strings of any width). */
export function compareSequence(a: string, b: string): number {
  if (a.length !== b.length && /^\d+$/.test(a) && /^\d+$/.test(b)) {
    const x = BigInt(a), y = BigInt(b);
    return x < y ? -1 : x > y ? 1 : 0;
  }
  return a < b ? -1 : a > b ? 1 : 0;
}

