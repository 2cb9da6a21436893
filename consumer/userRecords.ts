// Stored records → the user records processRecords sees: KPL aggregates are
// opened into their user records, each with the aggregate's sequence number
// and its index as sub-sequence number (as the KCL does).
import { deaggregate } from '../stream/kinesis/aggregation.js';
import type { ConsumerRecord, SourceRecord } from './types.js';

export function userRecords(shardId: string, records: SourceRecord[], opts: { deaggregate: boolean }): ConsumerRecord[] {
  const out: ConsumerRecord[] = [];
  for (const r of records) {
    const base = {
      shardId,
      sequenceNumber: r.sequenceNumber,
      approximateArrivalTimestamp: new Date(r.arrivalMs),
      encryptionType: r.encrypted ? ('KMS' as const) : ('NONE' as const),
    };
    const parts = opts.deaggregate ? deaggregate(r.data) : undefined;
    if (!parts) {
      out.push({ ...base, partitionKey: r.partitionKey, explicitHashKey: r.explicitHashKey, data: r.data });
      continue;
    }
    parts.forEach((p, i) => out.push({ ...base, subSequenceNumber: i, partitionKey: p.partitionKey, explicitHashKey: p.explicitHashKey, data: p.data }));
  }
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

