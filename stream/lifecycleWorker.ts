// The background half of the asynchronous stream lifecycle. CreateStream,
// DeleteStream and the reshard calls write the record's new status
// (CREATING / DELETING / UPDATING) and return; the shard streams are made or
// removed here. Exactly one process of the store does this work at a time,
// the holder of the `lifecycle` KV lease: when it dies, another takes the
// lease once the TTL runs out and finishes what it left (every step is
// idempotent). Which streams need work is known from the stream cache's watch
// (an index of non-ACTIVE streams and of streams with closed shards), never
// from scanning the bucket.
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Store } from './connect.js';
import type { CachedStream, StreamCache } from './streamCache.js';
import { KvLease } from './kvLease.js';
import { CreationPacer, sharedPacer } from './creationPacer.js';
import { finishCreate, finishDelete, readStream, type WorkOptions } from './streams.js';
import { finishReshard } from './reshard.js';
import { earliestClosedMs, sweepStream } from './closedShardJanitor.js';
import { hourMs, retentionHorizonMs } from './retention.js';
import { StorageRefusedError, WorkInterruptedError } from './errors.js';

export interface LifecycleWorkerOptions {
  log?: (m: string) => void;
  pacer?: CreationPacer;
  leaseTtlMs?: number;
  /** Shard streams made or removed at once. */
  concurrency?: number;
  /** How long a newly pending stream is left to the API call that made it so (default 1 s). */
  graceMs?: number;
  /** First retry delay after a refusal or failure (doubles up to 30 s). */
  retryMs?: number;
}

export class LifecycleWorker {
  readonly lease: KvLease;
  /** Streams whose status is not ACTIVE: the work to do. */
  private readonly pending = new Set<string>();
  /** Streams with closed shards: the earliest close time (the janitor's index). */
  private readonly closed = new Map<string, number>();
  private readonly retry = new Map<string, { atMs: number; delayMs: number }>();
  private wake?: () => void;
  private stopped = false;
  private unsubscribe?: () => void;
  private loopDone?: Promise<void>;
  private readonly log: (m: string) => void;
  private readonly pacer: CreationPacer;
  private lastSweepMs = 0;
  /** Streams made ACTIVE / removed / resharded by this process, and refusals seen (for tests and metrics). */
  readonly stats = { created: 0, deleted: 0, resharded: 0, refusals: 0 };

  constructor(private readonly store: Store, private readonly cache: StreamCache, private readonly o: LifecycleWorkerOptions = {}) {
    this.log = o.log ?? (() => undefined);
    this.pacer = o.pacer ?? sharedPacer();
    this.lease = new KvLease(store, 'lifecycle', `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`, { ttlMs: o.leaseTtlMs, log: this.log });
  }

  start(): void {
    this.unsubscribe = this.cache.onChange((name, s) => this.index(name, s));
    for (const name of this.cache.names()) this.index(name, this.cache.get(name));
    this.lease.start();
    this.loopDone = this.loop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    this.wake?.();
    await this.loopDone;
    await this.lease.stop();
  }

  /** Look at the pending streams now (an API call left work behind). */
  nudge(): void {
    for (const [name, r] of this.retry) if (r.delayMs === 0) this.retry.delete(name);
    this.wake?.();
  }

  /** Streams waiting for background work (names). */
  pendingNames(): string[] {
    return [...this.pending].sort();
  }

  private index(name: string, s: CachedStream | undefined): void {
    if (s && s.record.status !== 'ACTIVE') {
      if (!this.pending.has(name)) {
        this.pending.add(name);
        // A grace period for the API call that wrote the status and may be finishing small work itself (runtime/api/lifecycle.ts).
        this.retry.set(name, { atMs: Date.now() + (this.o.graceMs ?? 1_000), delayMs: 0 });
      }
    } else {
      this.pending.delete(name);
      this.retry.delete(name);
    }
    const closedAt = s ? earliestClosedMs(s.record) : undefined;
    if (closedAt === undefined) this.closed.delete(name);
    else this.closed.set(name, closedAt);
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      if (this.lease.held()) {
        for (const name of [...this.pending]) {
          if (this.stopped || !this.lease.held()) break;
          const r = this.retry.get(name);
          if (r && Date.now() < r.atMs) continue;
          await this.step(name);
        }
        await this.sweepDue();
      }
      const due = Math.min(500, ...[...this.retry.values()].map((r) => Math.max(10, r.atMs - Date.now())));
      await new Promise<void>((res) => {
        const t = setTimeout(res, due);
        this.wake = () => (clearTimeout(t), res());
      });
      this.wake = undefined;
    }
  }

  private work(): WorkOptions {
    return { pace: () => this.pacer.acquire(), keepGoing: () => !this.stopped && this.lease.held(), concurrency: this.o.concurrency };
  }

  private async step(name: string): Promise<void> {
    try {
      // The KV entry, not the cache: act on the latest record.
      const cur = (await readStream(this.store.streams, name))?.record;
      if (!cur) return void this.pending.delete(name);
      switch (cur.status) {
        case 'CREATING':
          await finishCreate(this.store, cur, this.work());
          this.stats.created++;
          this.log(`stream ${name}: ${cur.shards.length} shard streams made; ACTIVE`);
          break;
        case 'DELETING':
          await finishDelete(this.store, cur, this.work());
          this.stats.deleted++;
          this.log(`stream ${name}: deleted`);
          break;
        case 'UPDATING':
          await finishReshard(this.store, cur, this.work());
          this.stats.resharded++;
          break;
        default:
          this.pending.delete(name);
      }
      this.retry.delete(name);
      await this.cache.fresh(name).catch(() => undefined);
    } catch (e) {
      if (e instanceof WorkInterruptedError) return;
      if (e instanceof StorageRefusedError) this.stats.refusals++;
      const code = (e as { errCode?: number; api_error?: { err_code?: number } }).errCode ?? (e as { api_error?: { err_code?: number } }).api_error?.err_code;
      const prev = this.retry.get(name)?.delayMs;
      const delayMs = Math.min(30_000, prev ? prev * 2 : this.o.retryMs ?? 500);
      this.retry.set(name, { atMs: Date.now() + delayMs, delayMs });
      this.log(`stream ${name}: background work failed, retrying in ${delayMs} ms: ${(e as Error)?.message ?? e}${code ? ` (JetStream ${code})` : ''}`);
    }
  }

  /** The closed-shard janitor, for the streams the index says have a shard past retention. */
  private async sweepDue(): Promise<void> {
    const now = Date.now();
    if (now - this.lastSweepMs < Math.max(1000, Math.min(60_000, hourMs() / 60))) return;
    this.lastSweepMs = now;
    for (const [name, closedAt] of this.closed) {
      const s = this.cache.get(name);
      if (!s || closedAt >= retentionHorizonMs(s.record, now)) continue;
      await sweepStream(this.store, s.record, now).catch((e) => this.log(`closed-shard sweep of ${name}: ${(e as Error).message}`));
    }
  }
}
