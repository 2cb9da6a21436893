// Per-shard client-side rate limiting, so the producer stays inside Kinesis' shard write limits
// (1000 records/s and 1 MiB/s per shard) instead of sending and being throttled.
//
// Two token buckets per shard (records, bytes), refilled at the configured rate, holding at most
// `burstSeconds` of it. The server's buckets hold a full second, so with burstSeconds < 1 a client
// that never exceeds its own buckets stays admitted even when its requests reach the server up to
// (1 - burstSeconds) s closer together than it sent them (queueing, retries, other runtimes).

export interface ShardRateLimit {
  recordsPerSecond: number;
  bytesPerSecond: number;
  /** Bucket capacity in seconds of the rate (default 0.5). */
  burstSeconds: number;
}

class Bucket {
  private tokens: number;
  private atMs: number;
  constructor(readonly rate: number, readonly capacity: number, nowMs: number) {
    this.tokens = capacity;
    this.atMs = nowMs;
  }
  level(nowMs: number): number {
    if (nowMs > this.atMs) {
      this.tokens = Math.min(this.capacity, this.tokens + ((nowMs - this.atMs) / 1000) * this.rate);
      this.atMs = nowMs;
    }
    return this.tokens;
  }
  /** Whether `n` may go now: a cost above the capacity needs a full bucket and leaves it in debt. */
  allows(nowMs: number, n: number): boolean {
    return this.level(nowMs) >= Math.min(n, this.capacity);
  }
  take(nowMs: number, n: number): void {
    this.level(nowMs);
    this.tokens -= n;
  }
  /** Ms until allows(n) turns true. */
  waitMs(nowMs: number, n: number): number {
    const missing = Math.min(n, this.capacity) - this.level(nowMs);
    return missing <= 0 ? 0 : Math.ceil((missing / this.rate) * 1000);
  }
}

export class ShardLimiter {
  private readonly records: Bucket;
  private readonly bytes: Bucket;
  constructor(limit: ShardRateLimit, nowMs: number) {
    this.records = new Bucket(limit.recordsPerSecond, Math.max(1, limit.recordsPerSecond * limit.burstSeconds), nowMs);
    this.bytes = new Bucket(limit.bytesPerSecond, Math.max(1, limit.bytesPerSecond * limit.burstSeconds), nowMs);
  }
  /** Takes one record of `bytes` if the shard has room for it now. */
  tryTake(nowMs: number, bytes: number): boolean {
    if (!this.records.allows(nowMs, 1) || !this.bytes.allows(nowMs, bytes)) return false;
    this.records.take(nowMs, 1);
    this.bytes.take(nowMs, bytes);
    return true;
  }
  /** Ms until `records` records of `bytes` in all would be admitted. */
  waitMs(nowMs: number, records: number, bytes: number): number {
    return Math.max(this.records.waitMs(nowMs, records), this.bytes.waitMs(nowMs, bytes));
  }
}
