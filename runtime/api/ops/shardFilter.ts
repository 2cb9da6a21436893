// ListShards' ShardFilter: which shards a consumer starting at a point in the
// stream's history needs. A shard is "open at t" when it was created at or
// before t and not closed before t.
import type { ShardRecord } from '../../../stream/streamRecord.js';
import { invalidArgument } from '../errors.js';

export interface ShardFilterSpec {
  Type: 'AFTER_SHARD_ID' | 'AT_TRIM_HORIZON' | 'FROM_TRIM_HORIZON' | 'AT_LATEST' | 'AT_TIMESTAMP' | 'FROM_TIMESTAMP';
  ShardId?: string;
  /** Epoch milliseconds once read from the request (a Date there). */
  Timestamp?: number;
}

const openAt = (s: ShardRecord, t: number) => s.createdAtMs <= t && (s.closedAtMs === undefined || s.closedAtMs >= t);
const openFrom = (s: ShardRecord, t: number) => s.closedAtMs === undefined || s.closedAtMs >= t;

/** Checks the filter's members and returns the predicate it stands for. */
export function shardFilter(f: ShardFilterSpec, nowMs: number, trimHorizonMs: number): (s: ShardRecord) => boolean {
  switch (f.Type) {
    case 'AFTER_SHARD_ID': {
      const after = f.ShardId;
      if (after === undefined) throw invalidArgument('ShardId must be specified when ShardFilter type is AFTER_SHARD_ID.');
      return (s) => s.shardId > after;
    }
    case 'AT_TRIM_HORIZON':
      return (s) => openAt(s, trimHorizonMs);
    case 'FROM_TRIM_HORIZON':
      return (s) => openFrom(s, trimHorizonMs);
    case 'AT_LATEST':
      return (s) => s.closedAtMs === undefined;
    case 'AT_TIMESTAMP':
    case 'FROM_TIMESTAMP': {
      const t = f.Timestamp;
      if (t === undefined) throw invalidArgument(`Timestamp must be specified when ShardFilter type is ${f.Type}.`);
      if (t > nowMs) throw invalidArgument(`The timestamp ${t} cannot be in the future.`);
      // A time before the trim horizon reads from the horizon, as AWS does.
      const at = Math.max(t, trimHorizonMs);
      return f.Type === 'AT_TIMESTAMP' ? (s) => openAt(s, at) : (s) => openFrom(s, at);
    }
  }
}
