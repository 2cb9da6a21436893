// One holder at a time for a store-wide job (the shard autoscaler), through a
// JetStream KV key: taken with create (which fails while someone holds it),
// renewed with compare-and-set on the revision, and freed by the bucket's
// max_age when the holder dies without letting go. A holder that cannot renew
// before the TTL stops acting at once, so two holders never overlap by more
// than a renewal that was already in flight.
import { setTimeout as delay } from 'node:timers/promises';
import type { KV } from 'nats';
import type { Store } from './connect.js';

// Its own bucket: max_age is the lease TTL and applies to every key in it (the consumer library's
// shardline_leases bucket holds checkpoints, which must never expire).
export const LEASES_BUCKET = 'shardline_store_leases';

export interface KvLeaseOptions {
  /** How long a lease lives without renewal (the bucket's max_age; every lease in the bucket shares it). */
  ttlMs?: number;
  /** Renew / retry interval. */
  renewMs?: number;
  log?: (msg: string) => void;
}

export class KvLease {
  private kv?: KV;
  private revision = 0;
  private heldUntilMs = 0;
  private timer?: NodeJS.Timeout;
  /** The take or renewal in flight. */
  private trying?: Promise<void>;
  private readonly ttlMs: number;
  private readonly renewMs: number;

  constructor(private readonly store: Store, readonly key: string, readonly holder: string, opts: KvLeaseOptions = {}) {
    this.ttlMs = opts.ttlMs ?? 10_000;
    this.renewMs = opts.renewMs ?? Math.max(200, Math.floor(this.ttlMs / 4));
    this.log = opts.log ?? (() => undefined);
  }

  private readonly log: (msg: string) => void;

  /** True while this process holds the lease (and its last renewal is younger than the TTL). */
  held(nowMs = Date.now()): boolean {
    return this.revision > 0 && nowMs < this.heldUntilMs;
  }

  start(): void {
    const tick = () => {
      this.trying = this.tryOnce().finally(() => {
        this.trying = undefined;
        if (this.timer !== undefined) this.timer = setTimeout(tick, this.renewMs).unref();
      });
    };
    this.timer = setTimeout(tick, 0).unref();
  }

  /**
   * Lets go of the lease. A take or renewal in flight is waited for first: one
   * that landed after stop() would leave the lease held (nobody else could
   * take it until the TTL ran out), using the connection while its owner closes it.
   */
  async stop(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    // Bounded: with NATS unreachable a request waits out its 10 s timeout (tryOnce handles its failure).
    await Promise.race([this.trying, delay(5_000, undefined, { ref: false })]);
    if (this.revision > 0 && this.kv) {
      // Let go at once, so another process takes over without waiting out the TTL.
      await this.kv.delete(this.key, { previousSeq: this.revision }).catch(() => undefined);
    }
    this.revision = 0;
  }

  private async bucket(): Promise<KV> {
    this.kv ??= await this.store.js.views.kv(LEASES_BUCKET, { history: 1, ttl: this.ttlMs, replicas: this.store.replicas });
    return this.kv;
  }

  private async tryOnce(): Promise<void> {
    const started = Date.now();
    try {
      const kv = await this.bucket();
      const value = JSON.stringify({ holder: this.holder, atMs: started });
      if (this.revision > 0) {
        this.revision = await kv.update(this.key, value, this.revision);
      } else {
        this.revision = await kv.create(this.key, value);
        this.log(`lease ${this.key}: taken by ${this.holder}`);
      }
      this.heldUntilMs = started + this.ttlMs;
    } catch (e) {
      if (this.revision > 0) this.log(`lease ${this.key}: lost (${(e as Error).message})`);
      this.revision = 0;
      this.heldUntilMs = 0;
    }
  }
}
