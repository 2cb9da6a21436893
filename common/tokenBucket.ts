// A token bucket that may go into debt: it refills at `rate` per second up to
// `capacity`. Two users:
// - the runtime's quotas: local admissions need the tokens they take, while
//   usage admitted by other processes (learned through gossip) is charged
//   whatever the balance, so over-admission in the gossip delay is paid back
//   before anything else is admitted. Over any interval T, what all processes
//   admit together is at most capacity + rate·T + what was admitted but not yet
//   gossiped.
// - the producer's client-side shard limits: a cost above the capacity needs a
//   full bucket and leaves it in debt, so one large record is not refused forever.

export class TokenBucket {
  private tokens: number;
  private atMs: number;

  constructor(
    readonly rate: number,
    readonly capacity: number,
    nowMs: number,
  ) {
    this.tokens = capacity;
    this.atMs = nowMs;
  }

  /** Tokens available at `nowMs` (negative while in debt). */
  level(nowMs: number): number {
    if (nowMs > this.atMs) {
      this.tokens = Math.min(this.capacity, this.tokens + ((nowMs - this.atMs) / 1000) * this.rate);
      this.atMs = nowMs;
    }
    return this.tokens;
  }

  /** Takes `n` tokens unconditionally (may leave the bucket in debt). */
  charge(nowMs: number, n: number): void {
    this.level(nowMs);
    this.tokens -= n;
  }

  full(nowMs: number): boolean {
    return this.level(nowMs) >= this.capacity;
  }

  /** Whether `n` may go now (a cost above the capacity needs a full bucket). */
  allows(nowMs: number, n: number): boolean {
    return this.level(nowMs) >= Math.min(n, this.capacity);
  }

  /** Ms until allows(n) turns true. */
  waitMs(nowMs: number, n: number): number {
    const missing = Math.min(n, this.capacity) - this.level(nowMs);
    return missing <= 0 ? 0 : Math.ceil((missing / this.rate) * 1000);
  }
}
