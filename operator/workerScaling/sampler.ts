// A long-lived, windowed view of the lag of the consumer groups whose workers
// the operator scales. A reconcile registers its group and reads the samples
// gathered so far; it never waits for a read. The sampler reads every group on
// its own timer, one group at a time, from the consumer library's leases (each
// owner writes its shard's MillisBehindLatest there at every renewal).
//
// A lease whose revision has not moved for `staleMs` (by this process's
// clock, as the consumer library judges liveness, so clock skew does not
// matter) has no live owner: its last lag report is old news and is left out.
import type { LagSample } from './decide.js';

export interface ConsumerGroup {
  /** The consumer library's applicationName (a DeliveryStream's workers: firehose-<uid>). */
  application: string;
  stream: string;
}

export interface ShardLagReport {
  shardId: string;
  revision: number;
  /** A live-looking owner holds the lease. */
  owned: boolean;
  millisBehindLatest?: number;
  iteratorAgeMs?: number;
  /** Records/s the owner processed (the lease's ratePerSec). */
  ratePerSec: number;
}

export interface GroupLag {
  leases: ShardLagReport[];
  /** Open shards of the stream; 0 when it does not exist. */
  openShards: number;
}

export type ReadGroupLag = (g: ConsumerGroup) => Promise<GroupLag>;

interface Tracked {
  group: ConsumerGroup;
  samples: LagSample[];
  keepMs: number;
  /** Lease key → revision and when this process first saw it. */
  seen: Map<string, { revision: number; atMs: number }>;
  touchedMs: number;
}

export class WorkerLagSampler {
  private readonly tracked = new Map<string, Tracked>();
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private stopped = false;
  private started = false;

  constructor(
    private readonly read: ReadGroupLag,
    private readonly o: { intervalMs: number; staleMs: number; log?: (m: string) => void; clock?: () => number },
  ) {}

  private now(): number {
    return (this.o.clock ?? Date.now)();
  }

  /** Registers (or keeps) `key`'s group and returns the samples so far, oldest first. A changed group starts afresh. */
  track(key: string, group: ConsumerGroup, keepMs: number): LagSample[] {
    let t = this.tracked.get(key);
    if (!t || t.group.application !== group.application || t.group.stream !== group.stream) {
      t = { group, samples: [], keepMs, seen: new Map(), touchedMs: this.now() };
      this.tracked.set(key, t);
      this.kick();
    }
    t.keepMs = keepMs;
    t.touchedMs = this.now();
    return [...t.samples];
  }

  untrack(key: string): void {
    this.tracked.delete(key);
  }

  start(): void {
    this.stopped = false;
    this.started = true;
    this.schedule(this.o.intervalMs);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  private kick(): void {
    // A new group gets its first sample at once, not an interval later.
    if (this.started && !this.stopped && !this.running) this.schedule(0);
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.running = this.sampleAll().finally(() => {
        this.running = undefined;
        this.schedule(this.o.intervalMs);
      });
    }, ms);
    this.timer.unref?.();
  }

  /** One sample of every tracked group; groups no reconcile asked for lately are dropped. */
  async sampleAll(): Promise<void> {
    for (const [key, t] of [...this.tracked]) {
      if (this.stopped) return;
      if (this.now() - t.touchedMs > Math.max(t.keepMs, 10 * 60_000)) {
        this.tracked.delete(key);
        continue;
      }
      try {
        const lag = await this.read(t.group);
        if (this.tracked.get(key) === t) this.fold(t, lag);
      } catch (e) {
        this.o.log?.(`worker lag of ${t.group.application} on ${t.group.stream}: ${(e as Error).message}`);
      }
    }
  }

  private fold(t: Tracked, lag: GroupLag): void {
    const now = this.now();
    let lagMs = 0;
    let iteratorAgeMs = 0;
    let reporting = 0;
    let ratePerSec = 0;
    const keys = new Set<string>();
    for (const l of lag.leases) {
      keys.add(l.shardId);
      const prev = t.seen.get(l.shardId);
      if (!prev || prev.revision !== l.revision) t.seen.set(l.shardId, { revision: l.revision, atMs: now });
      const fresh = now - (t.seen.get(l.shardId)!.atMs) <= this.o.staleMs;
      // A lease first seen now is fresh only if it is owned; its revision must then move within staleMs to stay so.
      if (!l.owned || !fresh || l.millisBehindLatest === undefined) continue;
      reporting++;
      // MillisBehindLatest is the arrival gap to the shard's newest record as of the last read: it does not grow
      // while a slow processor works on a batch, nor show how long a burst has waited; the iterator age does.
      lagMs = Math.max(lagMs, l.millisBehindLatest, l.iteratorAgeMs ?? 0);
      iteratorAgeMs = Math.max(iteratorAgeMs, l.iteratorAgeMs ?? 0);
      ratePerSec += l.ratePerSec;
    }
    for (const k of t.seen.keys()) if (!keys.has(k)) t.seen.delete(k);
    t.samples.push({ atMs: now, lagMs, iteratorAgeMs, reportingShards: reporting, openShards: lag.openShards, ratePerSec });
    // Keep one sample older than the window: it shows that observation covers the whole window.
    const cut = now - t.keepMs;
    while (t.samples.length > 1 && t.samples[1]!.atMs <= cut) t.samples.shift();
  }
}
