// A worker of a consumer application (KCL's Scheduler): it keeps one lease per
// shard in the LeaseStore, renews the ones it holds, takes free and expired
// ones, asks the most loaded worker for one when it is below its share, and
// runs a ShardRunner per held lease. A child shard's lease becomes available
// only once every parent is checkpointed at SHARD_END, so per-key order holds
// across splits and merges.
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { planBalance, type BalanceLease } from './balance.js';
import { initialCheckpoint, keys, SHARD_END, type LeaseValue, type WorkerValue } from './leaseRecords.js';
import { consumerMetrics, type ConsumerMetrics } from './metrics.js';
import { LeaseLostError, ShardRunner } from './shardRunner.js';
import type { ConsumerOptions, LeaseStore, SourceShard } from './types.js';

interface Task {
  shardId: string;
  key: string;
  revision: number;
  value: LeaseValue;
  runner?: ShardRunner;
  /** Lease writes (renewals, checkpoints, release) one after another: each needs the previous revision. */
  writes: Promise<unknown>;
  finished?: Promise<void>;
  handingOff?: boolean;
  lost?: boolean;
  renewedAt: number;
}

interface Entry {
  key: string;
  revision: number;
  value: LeaseValue;
}

const DEFAULTS = {
  failoverTimeMs: 10_000,
  maxRecords: 10_000,
  idleTimeBetweenReadsMs: 1_000,
  shardSyncIntervalMs: 10_000,
};

export class Consumer {
  readonly workerId: string;
  private readonly store: LeaseStore;
  private readonly keys: ReturnType<typeof keys>;
  private readonly metrics: ConsumerMetrics;
  private readonly log: (m: string) => void;
  private readonly failoverMs: number;
  private readonly tasks = new Map<string, Task>();
  /** Per key: the revision last seen and when (this worker's clock) it was first seen. */
  private readonly seen = new Map<string, { revision: number; atMs: number }>();
  private workerRevision = 0;
  /** Per shard: the lease revision of our last write when our task for it ended (a listing older than that is stale). */
  private readonly released = new Map<string, number>();
  /** Workers seen alive at the last round (this one included). */
  private liveWorkers = new Set<string>();
  private shards: SourceShard[] = [];
  private shardsAt = 0;
  private shardsDirty = true;
  private timer?: NodeJS.Timeout;
  private ticking?: Promise<void>;
  private again = false;
  private stopped = false;
  private started = false;

  constructor(private readonly o: ConsumerOptions) {
    this.workerId = o.workerId ?? `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
    this.store = o.leaseStore;
    this.keys = keys(o.applicationName, o.streamName);
    this.metrics = consumerMetrics(o.metricsRegistry);
    this.log = o.log ?? (() => undefined);
    this.failoverMs = o.failoverTimeMs ?? DEFAULTS.failoverTimeMs;
  }

  /** Renewal (and balancing) period: a third of the failover time, as the KCL renews. */
  private get tickMs(): number {
    return Math.max(100, Math.floor(this.failoverMs / 3));
  }

  /** Joins the application: the first round of lease taking is done when this resolves. */
  async start(): Promise<void> {
    if (this.started) throw new Error('consumer already started');
    this.started = true;
    await this.tick();
    this.schedule(this.tickMs);
  }

  /** Graceful: every shard gets shutdownRequested (final checkpoint), then its lease is released for others to take at once. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.timer);
    await this.ticking;
    await Promise.all([...this.tasks.values()].map(async (t) => {
      await t.runner?.shutdown();
      await t.finished;
    }));
    await this.store.delete(this.keys.worker(this.workerId), this.workerRevision).catch(() => false);
    this.metrics.leases.set(this.labels(), 0);
  }

  /** Shards this worker holds now. */
  heldShards(): string[] {
    return [...this.tasks.values()].filter((t) => !t.lost).map((t) => t.shardId).sort();
  }

  private labels() {
    return { application: this.o.applicationName, stream: this.o.streamName, worker: this.workerId };
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.runTick(), ms);
  }

  private kick(): void {
    this.schedule(0);
  }

  private runTick(): void {
    if (this.stopped) return;
    if (this.ticking) {
      this.again = true;
      return;
    }
    this.ticking = this.tick()
      .catch((e) => this.log(`worker ${this.workerId}: ${(e as Error).message}`))
      .finally(() => {
        this.ticking = undefined;
        const again = this.again;
        this.again = false;
        this.schedule(again ? 0 : this.tickMs);
      });
  }

  /** True while the entry's revision moved within the failover time (first sight counts as a move). */
  private alive(key: string, revision: number, now: number): boolean {
    const s = this.seen.get(key);
    if (!s || s.revision !== revision) {
      this.seen.set(key, { revision, atMs: now });
      return true;
    }
    return now - s.atMs < this.failoverMs;
  }

  private async heartbeat(): Promise<void> {
    const key = this.keys.worker(this.workerId);
    const value: WorkerValue = { workerId: this.workerId, startedAtMs: Date.now() };
    let rev = await this.store.put(key, value, this.workerRevision);
    if (rev === undefined) {
      const cur = await this.store.get(key);
      rev = await this.store.put(key, value, cur?.revision ?? 0);
    }
    if (rev !== undefined) this.workerRevision = rev;
  }

  private async tick(): Promise<void> {
    const now = Date.now();
    await this.heartbeat();
    if (this.shardsDirty || now - this.shardsAt >= (this.o.shardSyncIntervalMs ?? DEFAULTS.shardSyncIntervalMs)) {
      try {
        this.shards = await this.o.source.listShards(this.o.streamName);
        this.shardsAt = now;
        this.shardsDirty = false;
      } catch (e) {
        // Renewals must go on while the shard list is unavailable (the endpoint restarts, a throttle).
        if (this.shardsAt === 0) throw e;
        this.log(`worker ${this.workerId}: listing shards: ${(e as Error).message}`);
      }
    }
    const entries = await this.store.list(this.keys.all);
    const leases = new Map<string, Entry>();
    const workers: string[] = [];
    for (const [key, v] of entries) {
      if (this.keys.isLease(key)) {
        const value = v.value as LeaseValue;
        leases.set(value.shardId, { key, revision: v.revision, value });
      } else if (this.keys.isWorker(key)) {
        const w = v.value as WorkerValue;
        if (w.workerId === this.workerId) continue;
        if (this.alive(key, v.revision, now)) workers.push(w.workerId);
        // A dead worker's heartbeat is removed by whoever notices (compare-and-set: only that revision).
        else await this.store.delete(key, v.revision);
      }
    }
    // Forget what was seen of entries that are gone.
    for (const k of this.seen.keys()) if (!entries.has(k)) this.seen.delete(k);
    this.liveWorkers = new Set([...workers, this.workerId]);
    await this.createLeases(leases);
    this.syncTasks(leases);
    if (this.stopped) return;
    await this.balance(leases, workers, now);
    this.metrics.leases.set(this.labels(), this.heldShards().length);
  }

  /** A lease for every shard without one; a child of a shard we already track starts at its beginning. */
  private async createLeases(leases: Map<string, Entry>): Promise<void> {
    const initial = this.o.initialPosition ?? { type: 'TRIM_HORIZON' as const };
    const had = new Set(leases.keys());
    for (const s of this.shards) {
      if (leases.has(s.shardId)) continue;
      const parents = [s.parentShardId, s.adjacentParentShardId].filter((p): p is string => p !== undefined);
      let checkpoint = initialCheckpoint(initial);
      if (parents.some((p) => had.has(p))) checkpoint = 'TRIM_HORIZON';
      // Starting at LATEST, a shard that is already closed has nothing to give.
      else if (initial.type === 'LATEST' && s.closed) checkpoint = SHARD_END;
      const value: LeaseValue = { shardId: s.shardId, checkpoint, parents, ratePerSec: 0, ownerSwitches: 0 };
      const key = this.keys.lease(s.shardId);
      const rev = await this.store.put(key, value, 0);
      if (rev !== undefined) leases.set(s.shardId, { key, revision: rev, value });
      else {
        const cur = await this.store.get(key);
        if (cur) leases.set(s.shardId, { key, revision: cur.revision, value: cur.value as LeaseValue });
      }
    }
    // Leases of shards gone past retention, unless someone still holds them.
    const listed = new Set(this.shards.map((s) => s.shardId));
    for (const [id, e] of leases) {
      if (listed.has(id) || e.value.owner) continue;
      if (await this.store.delete(e.key, e.revision)) leases.delete(id);
    }
  }

  /** Our tasks against the stored leases: lost ones stop, asked-for ones are handed over, the rest renewed. */
  private syncTasks(leases: Map<string, Entry>): void {
    for (const t of this.tasks.values()) {
      if (t.lost || t.handingOff) continue;
      const e = leases.get(t.shardId);
      if (!e || (e.revision > t.revision && e.value.owner !== this.workerId)) {
        this.lose(t);
        continue;
      }
      if (e.revision > t.revision) {
        t.revision = e.revision;
        t.value = e.value;
      }
      if (t.value.handoffTo) this.handOff(t);
      else void this.renew(t);
    }
  }

  private async balance(leases: Map<string, Entry>, workers: string[], now: number): Promise<void> {
    const done = (id: string) => !this.shards.some((s) => s.shardId === id) || leases.get(id)?.value.checkpoint === SHARD_END;
    const view: BalanceLease[] = [];
    for (const e of leases.values()) {
      const v = e.value;
      // Parents first: a child waits until every parent is finished.
      if (v.checkpoint === SHARD_END || !v.parents.every(done)) continue;
      let owner = v.owner;
      if (owner === this.workerId) {
        // Handed to us (a steal we asked for), or ours from before a restart under the same worker id.
        // Not when the listing predates our own last write of it: a task that
        // ended (SHARD_END, a hand-over) after the list was read would start
        // again from a stale checkpoint and re-process what it had done.
        if (!this.tasks.has(v.shardId) && e.revision > (this.released.get(v.shardId) ?? 0)) this.startTask(e, 'handoff');
      } else if (owner && !this.alive(e.key, e.revision, now)) owner = undefined;
      view.push({ shardId: v.shardId, owner, ratePerSec: v.ratePerSec, handoffTo: v.handoffTo });
    }
    const plan = planBalance(this.workerId, workers, view);
    for (const id of plan.take) {
      if (this.stopped) return;
      const e = leases.get(id)!;
      const kind = e.value.owner ? 'expired' : 'free';
      const value: LeaseValue = { ...e.value, owner: this.workerId, handoffTo: undefined, ownerSwitches: e.value.ownerSwitches + 1 };
      const rev = await this.store.put(e.key, value, e.revision);
      if (rev === undefined) continue; // another worker was quicker
      this.startTask({ key: e.key, revision: rev, value }, kind);
    }
    if (plan.steal) {
      const e = leases.get(plan.steal)!;
      // The owner sees this at its next renewal, checkpoints and hands the lease over (graceful, no re-processing).
      await this.store.put(e.key, { ...e.value, handoffTo: this.workerId }, e.revision);
    }
  }

  private startTask(e: Entry, kind: 'free' | 'expired' | 'handoff'): void {
    if (this.stopped) return;
    let processor;
    try {
      processor = this.o.processorFactory(e.value.shardId);
    } catch (err) {
      // Not held without a processor: released for the next round (here or elsewhere).
      this.log(`worker ${this.workerId}: processorFactory(${e.value.shardId}) failed: ${(err as Error).message}`);
      void this.store.put(e.key, { ...e.value, owner: undefined, handoffTo: undefined }, e.revision).catch(() => undefined);
      return;
    }
    this.metrics.transfers.inc({ application: this.o.applicationName, stream: this.o.streamName, kind });
    this.log(`worker ${this.workerId}: took ${e.value.shardId} (${kind}) at ${e.value.checkpoint}`);
    const t: Task = { shardId: e.value.shardId, key: e.key, revision: e.revision, value: e.value, writes: Promise.resolve(), renewedAt: Date.now() };
    this.tasks.set(t.shardId, t);
    t.runner = new ShardRunner({
      applicationName: this.o.applicationName,
      streamName: this.o.streamName,
      shardId: t.shardId,
      checkpoint: e.value.checkpoint,
      subSequenceNumber: e.value.subSequenceNumber,
      source: this.o.source,
      processor,
      maxRecords: this.o.maxRecords ?? DEFAULTS.maxRecords,
      idleTimeBetweenReadsMs: this.o.idleTimeBetweenReadsMs ?? DEFAULTS.idleTimeBetweenReadsMs,
      deaggregate: this.o.deaggregate ?? true,
      callProcessRecordsEvenForEmptyRecordList: this.o.callProcessRecordsEvenForEmptyRecordList ?? false,
      metrics: this.metrics,
      log: this.log,
      writeCheckpoint: (seq, sub) => this.write(t, (v) => ({ ...v, checkpoint: seq, subSequenceNumber: sub })),
    });
    t.finished = t.runner.done.then(() => this.finished(t));
  }

  /** A compare-and-set write of our lease; a moved revision is re-read: still ours → again, otherwise the lease is lost. */
  private write(t: Task, change: (v: LeaseValue) => LeaseValue): Promise<void> {
    const run = async () => {
      if (t.lost) throw new LeaseLostError(t.shardId);
      for (let i = 0; i < 10; i++) {
        const next = change(t.value);
        const rev = await this.store.put(t.key, next, t.revision);
        if (rev !== undefined) {
          t.revision = rev;
          t.value = next;
          return;
        }
        const cur = await this.store.get(t.key);
        if (!cur || (cur.value as LeaseValue).owner !== this.workerId) {
          this.lose(t);
          throw new LeaseLostError(t.shardId);
        }
        t.revision = cur.revision;
        t.value = cur.value as LeaseValue;
        // Not awaited: the hand-off itself writes through this queue.
        if (t.value.handoffTo) queueMicrotask(() => this.handOff(t));
      }
      throw new Error(`lease ${t.shardId}: too many concurrent writes`);
    };
    const p = t.writes.then(run);
    t.writes = p.catch(() => undefined);
    return p;
  }

  private renew(t: Task): Promise<void> {
    const now = Date.now();
    const rate = ((t.runner?.takeProcessed() ?? 0) * 1000) / Math.max(1, now - t.renewedAt);
    t.renewedAt = now;
    // Smoothed, so one slow batch does not move leases around.
    const lag = t.runner?.lag ?? { millisBehindLatest: 0, iteratorAgeMs: 0 };
    // The lag rides on the renewal (no extra write): the operator scales the workers on it.
    return this.write(t, (v) => ({ ...v, ratePerSec: Math.round((v.ratePerSec * 0.5 + rate * 0.5) * 100) / 100, millisBehindLatest: lag.millisBehindLatest, iteratorAgeMs: lag.iteratorAgeMs })).catch((e) => {
      if (!(e instanceof LeaseLostError)) this.log(`worker ${this.workerId}: renewing ${t.shardId}: ${(e as Error).message}`);
    });
  }

  private lose(t: Task): void {
    if (t.lost) return;
    t.lost = true;
    this.metrics.transfers.inc({ application: this.o.applicationName, stream: this.o.streamName, kind: 'lost' });
    this.log(`worker ${this.workerId}: lost ${t.shardId}`);
    void t.runner?.lost();
  }

  private handOff(t: Task): void {
    if (t.handingOff || t.lost) return;
    t.handingOff = true;
    this.log(`worker ${this.workerId}: handing ${t.shardId} to ${t.value.handoffTo}`);
    void t.runner?.shutdown();
  }

  /** The runner ended: record SHARD_END / hand over / release, and forget the task. */
  private async finished(t: Task): Promise<void> {
    try {
      if (t.lost) return;
      const ended = t.runner?.ended === true;
      await this.write(t, (v) => ({
        ...v,
        // A hand-off goes to the worker that asked; otherwise (stop, shard end) the lease is free for anyone.
        owner: t.handingOff && !ended && v.handoffTo && this.liveWorkers.has(v.handoffTo) ? v.handoffTo : undefined,
        handoffTo: undefined,
        ratePerSec: ended ? 0 : v.ratePerSec,
        ...(ended ? { millisBehindLatest: 0, iteratorAgeMs: 0 } : {}),
      }));
      if (ended) {
        // Its children may start now.
        this.shardsDirty = true;
        this.kick();
      }
    } catch (e) {
      if (!(e instanceof LeaseLostError)) this.log(`worker ${this.workerId}: releasing ${t.shardId}: ${(e as Error).message}`);
    } finally {
      this.released.set(t.shardId, t.revision);
      this.tasks.delete(t.shardId);
      this.metrics.leases.set(this.labels(), this.heldShards().length);
      // Not ended, not asked to stop: the runner gave up; the lease is free again for the next round.
      if (!this.stopped && !t.handingOff && !t.lost) this.kick();
    }
  }
}
