// Per-shard client-side rate limiting, so the producer stays inside Kinesis' shard write limits
// (1000 records/s and 1 MiB/s per shard) instead of sending and being throttled.
//
// Two token buckets per shard (records, bytes), refilled at the configured rate, holding at most
// `burstSeconds` of it. The server's buckets hold a full second, so with burstSeconds < 1 a client
// that never exceeds its own buckets stays admitted even when its requests reach the server up to
// (1 - burstSeconds) s closer together than it sent them (queueing, retries, other runtimes).

import { TokenBucket } from '../common/tokenBucket.js';

export interface ShardRateLimit {
  recordsPerSecond: number;
  bytesPerSecond: number;
  /** Bucket capacity in seconds of the rate (default 0.5). */
  burstSeconds: number;
}

export class ShardLimiter {
  private readonly records: TokenBucket;
  private readonly bytes: TokenBucket;
  constructor(limit: ShardRateLimit, nowMs: number) {
    this.records = new TokenBucket(limit.recordsPerSecond, Math.max(1, limit.recordsPerSecond * limit.burstSeconds), nowMs);
    this.bytes = new TokenBucket(limit.bytesPerSecond, Math.max(1, limit.bytesPerSecond * limit.burstSeconds), nowMs);
  }
  /** Takes one record of `bytes` if the shard has room for it now. */
  tryTake(nowMs: number, bytes: number): boolean {
    if (!this.records.allows(nowMs, 1) || !this.bytes.allows(nowMs, bytes)) return false;
    this.records.charge(nowMs, 1);
    this.bytes.charge(nowMs, bytes);
    return true;
  }
  /** Ms until `records` records of `bytes` in all would be admitted. */
  waitMs(nowMs: number, records: number, bytes: number): number {
    return Math.max(this.records.waitMs(nowMs, records), this.bytes.waitMs(nowMs, bytes));
  }
}
