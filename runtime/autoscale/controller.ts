// The shard autoscaler of a store: exactly one active instance (under a KV
// lease), living in the runtime processes, so every ON_DEMAND stream scales —
// created by a DataStream or through the Kinesis API, on Kubernetes or under
// `shardline dev`. Once a second it folds the published shard metrics into
// its window (never waiting on them), asks the pure decision function about
// every ON_DEMAND stream, acts through the same reshard code as the API, and
// records each decision with its reason and the values behind it in the store
// (stream/autoscaling.ts), from where the operator reflects it into status
// and Events.
import { randomBytes } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import type { KV } from 'nats';
import type { Store } from '../../stream/connect.js';
import type { StreamCache } from '../../stream/streamCache.js';
import { openShards, type StreamRecord } from '../../stream/streamRecord.js';
import { planMerge, planSplit, reshard, updateShardCount } from '../../stream/reshard.js';
import { autoscaleBucket, deleteScaling, readScaling, writeScaling, type DecisionRecord, type StreamScaling } from '../../stream/autoscaling.js';
import { KvLease } from '../../stream/kvLease.js';
import { decide, DEFAULT_POLICY, type Decision, type ScalingPolicy } from './decide.js';
import { MetricsWindow } from './window.js';

export interface AutoscalerOptions {
  /** Store-wide bounds for streams whose owner set none (API-created streams). */
  defaultMinShards: number;
  defaultMaxShards: number;
  /** Default stabilization window before scaling down. */
  scaleDownStabilizationMs: number;
  /** Window whose mean decides scaling up. */
  scaleUpWindowMs: number;
  /** Open shards allowed across the store (the account shard limit). */
  shardLimit: number;
  /** Evaluation interval. */
  intervalMs?: number;
  log?: (msg: string) => void;
}

const actionShards = (open: number, d: Decision): number => {
  const a = d.action;
  if (a.kind === 'updateShardCount') return a.targetShards;
  if (a.kind === 'split') return open + a.splits.length;
  if (a.kind === 'merge') return open - a.merges.length;
  return open;
};

export class Autoscaler {
  readonly lease: KvLease;
  private readonly window: MetricsWindow;
  private timer?: NodeJS.Timeout;
  private kv?: KV;
  private busy = false;
  /** The pass in progress (started by the timer). */
  private running?: Promise<void>;
  /** uid → what was last recorded, to write only on change. */
  private readonly recorded = new Map<string, StreamScaling>();
  private readonly log: (msg: string) => void;

  constructor(private readonly store: Store, private readonly cache: StreamCache, private readonly opts: AutoscalerOptions) {
    this.log = opts.log ?? (() => undefined);
    this.lease = new KvLease(store, 'autoscaler', `${process.pid}-${randomBytes(4).toString('hex')}`, { log: this.log });
    // The window keeps the longest stabilization any stream may ask for.
    this.window = new MetricsWindow(store.nc, Math.max(opts.scaleDownStabilizationMs, 3_600_000));
  }

  start(): void {
    // Every runtime listens (a new holder decides at once with history), only the lease holder acts.
    this.window.start();
    this.lease.start();
    const tick = () => {
      // A failed pass is logged and the next one comes; it must never become
      // an unhandled rejection (one from a pass still running while the
      // runtime closed its NATS connection failed whichever test ran next).
      this.running = this.evaluate()
        .catch((e) => this.log(`autoscaler: ${(e as Error)?.message ?? e}`))
        .finally(() => {
          this.running = undefined;
          if (this.timer !== undefined) this.timer = setTimeout(tick, this.opts.intervalMs ?? 1000).unref();
        });
    };
    this.timer = setTimeout(tick, this.opts.intervalMs ?? 1000).unref();
  }

  /** Resolves once no pass is running: the owner may close the store's connection after this. */
  async stop(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.window.stop();
    // Bounded: with NATS unreachable a pass's request waits out its timeout (a failed pass is only logged).
    await Promise.race([this.running, delay(5_000, undefined, { ref: false })]);
    await this.lease.stop();
  }

  policyOf(rec: StreamRecord, shardsInStore: number): ScalingPolicy {
    const a = rec.autoscaling ?? {};
    return {
      ...DEFAULT_POLICY,
      upWindowMs: this.opts.scaleUpWindowMs,
      downWindowMs: a.scaleDownStabilizationSeconds !== undefined ? a.scaleDownStabilizationSeconds * 1000 : this.opts.scaleDownStabilizationMs,
      minShards: a.minShards ?? this.opts.defaultMinShards,
      maxShards: Math.max(a.maxShards ?? this.opts.defaultMaxShards, a.minShards ?? 1),
      // Shards this stream may add: the store's limit minus every open shard in the store (its own included).
      shardLimitLeft: this.opts.shardLimit - shardsInStore,
    };
  }

  /** One pass over every ON_DEMAND stream; a no-op unless this process holds the lease. */
  async evaluate(nowMs = Date.now()): Promise<void> {
    if (this.busy || !this.lease.held(nowMs)) return;
    this.busy = true;
    try {
      this.kv ??= await autoscaleBucket(this.store);
      const records = this.cache.names().map((n) => this.cache.get(n)?.record).filter((r): r is StreamRecord => r !== undefined);
      const shardsInStore = records.reduce((n, r) => n + openShards(r).length, 0);
      for (const rec of records) {
        if (rec.mode !== 'ON_DEMAND' || rec.status !== 'ACTIVE') continue;
        if (!this.lease.held()) return;
        await this.evaluateStream(rec, shardsInStore, nowMs).catch((e) => this.log(`autoscaler: stream ${rec.name}: ${(e as Error).message}`));
      }
      for (const uid of this.recorded.keys()) {
        if (!records.some((r) => r.uid === uid)) {
          this.recorded.delete(uid);
          this.window.forget(uid);
          await deleteScaling(this.kv, uid);
        }
      }
    } finally {
      this.busy = false;
    }
  }

  private async evaluateStream(rec: StreamRecord, shardsInStore: number, nowMs: number): Promise<void> {
    const policy = this.policyOf(rec, shardsInStore);
    const lastChange = Math.max(...rec.shards.map((s) => Math.max(s.createdAtMs, s.closedAtMs ?? 0)));
    const d = decide({
      // Windows end with the newest complete second, not at the wall clock (which is up to 2 s ahead of it).
      nowMs: this.window.asOfMs(nowMs),
      shards: this.window.views(rec, policy.upWindowMs),
      policy,
      // Any change to the shard map counts, whoever made it (an API call, the operator, us).
      lastActionMs: lastChange > rec.createdAtMs ? lastChange : undefined,
    });
    const open = openShards(rec).length;
    let outcome = 'none';
    if (d.action.kind !== 'none') {
      // A decision not acted on (dry run, or refused) comes again every second: say it once a minute.
      const last = this.recorded.get(rec.uid)?.decisions.at(-1);
      const repeat = last && last.outcome !== 'applied' && JSON.stringify((last.metrics as { action?: unknown }).action) === JSON.stringify(d.action) && nowMs - last.atMs < 60_000;
      if (repeat) return;
      if (rec.autoscaling?.dryRun) outcome = 'dry-run';
      else {
        try {
          await this.act(rec.name, d);
          outcome = 'applied';
        } catch (e) {
          outcome = `failed: ${(e as Error).message}`;
        }
      }
      this.log(`autoscaler: stream ${rec.name}: ${d.action.kind} ${open} → ${actionShards(open, d)} shards (${outcome}): ${d.reason}`);
    }
    await this.record(rec, d, open, outcome, nowMs);
  }

  private async act(name: string, d: Decision): Promise<void> {
    const a = d.action;
    if (a.kind === 'updateShardCount') await updateShardCount(this.store, name, a.targetShards);
    else if (a.kind === 'split') for (const s of a.splits) await reshard(this.store, name, (r) => planSplit(r, s.shardId, BigInt(s.newStartingHashKey)));
    else if (a.kind === 'merge') for (const m of a.merges) await reshard(this.store, name, (r) => planMerge(r, m.shardId, m.adjacentShardId));
  }

  /** Writes the stream's scaling state when a decision acted (or would have) or the hot keys changed. */
  private async record(rec: StreamRecord, d: Decision, open: number, outcome: string, nowMs: number): Promise<void> {
    let cur = this.recorded.get(rec.uid);
    if (!cur) cur = (await readScaling(this.kv!, rec.uid)) ?? { stream: rec.name, uid: rec.uid, decisions: [], hotKeys: [], updatedAtMs: 0 };
    this.recorded.set(rec.uid, cur);
    const hotKeys = d.hotKeys.map((h) => ({ ...h, share: Math.round(h.share * 1000) / 1000, utilization: Math.round(h.utilization * 1000) / 1000 }));
    const hotChanged = JSON.stringify(hotKeys.map((h) => [h.shardId, h.hashKey])) !== JSON.stringify(cur.hotKeys.map((h) => [h.shardId, h.hashKey]));
    if (d.action.kind === 'none' && !hotChanged) return;
    const entry: DecisionRecord | undefined = d.action.kind === 'none' && outcome === 'none'
      ? undefined
      : { atMs: nowMs, action: d.action.kind, fromShards: open, toShards: outcome === 'applied' ? actionShards(open, d) : open, reason: d.reason, metrics: { ...d.metrics, action: d.action }, outcome };
    const next: StreamScaling = { ...cur, stream: rec.name, hotKeys, decisions: entry ? [...cur.decisions, entry] : cur.decisions, updatedAtMs: nowMs };
    await writeScaling(this.kv!, next);
    this.recorded.set(rec.uid, next);
  }
}
