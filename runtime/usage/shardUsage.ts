// Per-shard usage of one runtime process: the throughput limits of PROVISIONED
// streams, enforced across every runtime process, and the per-shard counters
// that /metrics and the NATS summary export. See docs/quotas-and-metrics.md.
//
// Admission is local and in memory. Each process keeps, per shard and limit, a
// token bucket (refill = the limit per second, capacity = one second of it)
// charged with what was admitted — by itself at once, by the others when their
// gossip arrives — and admits a request only if its own view of the bucket
// holds the tokens. Processes gossip the usage they admitted since their last
// gossip on a core-NATS subject every 100 ms, and at once (next event-loop
// turn) when it passes 5% of a limit or was a GetRecords call.
import { randomBytes } from 'node:crypto';
import type { NatsConnection, Subscription } from 'nats';
import type { ShardRecord, StreamRecord } from '../../stream/streamRecord.js';
import type { StreamCache } from '../../stream/streamCache.js';
import { quotaEnforced } from '../../stream/quotaSettings.js';
import {
  COUNTER_NAMES,
  metricsPublishMs,
  metricsSubject,
  zeroCounters,
  type ShardCounters,
  type ShardMetricsMessage,
} from '../../stream/shardMetrics.js';
import { TokenBucket } from '../../common/tokenBucket.js';
import { ENV, envNumber } from '../../contract/env.js';

const MiB = 1024 * 1024;

/** AWS's per-shard limits for PROVISIONED streams. */
export const SHARD_LIMITS = {
  writeRecordsPerSec: 1000,
  writeBytesPerSec: 1 * MiB,
  readCallsPerSec: 5,
  readBytesPerSec: 2 * MiB,
} as const;

export const GOSSIP_SUBJECT = 'shardline.quota.usage';

/** Local usage not gossiped yet beyond this share of a limit is gossiped at once. */
const EAGER_SHARE = 0.05;
/** Streams idle this long stop being published on shardline.metrics.<uid>. */
const PUBLISH_IDLE_MS = 60_000;
/** One written record in this many has its hash key sampled (ON_DEMAND streams only). */
const KEY_SAMPLE_EVERY = 8;
/** Distinct keys kept per shard and publish interval; later new keys count only in the total weight. */
const KEY_SAMPLE_MAX = 256;

interface ShardState {
  uid: string;
  index: number;
  /** Set once this process served the shard (remote usage alone does not). */
  stream?: string;
  shardId?: string;
  /** Buckets charged by every process's admissions (see tokenBucket.ts). */
  writeRecords: TokenBucket;
  writeBytes: TokenBucket;
  readCalls: TokenBucket;
  /** Charged after the read with the bytes returned: a big read holds later ones back. */
  readBytes: TokenBucket;
  /** Local usage since the last gossip: records, bytes, calls, read bytes. */
  pending: [number, number, number, number];
  counters: ShardCounters;
  /** Counters at the last metrics publish (for rates). */
  published: ShardCounters;
  /** Iterator age of the last GetRecords, and whether one was served since the last publish. */
  iteratorAgeMs: number;
  readSincePublish: boolean;
  lastActiveMs: number;
  /** Hash keys sampled since the last publish (hex → weight), and the weight of every sampled record. */
  keys?: Map<string, number>;
  keyWeight: number;
}

/** Gossip entry: uid, shard index, records, bytes, read calls, read bytes. */
type GossipEntry = [string, number, number, number, number, number];
interface GossipMessage {
  p: string;
  u: GossipEntry[];
}

export interface ShardUsageOptions {
  gossipMs?: number;
  publishMs?: number;
  log?: (msg: string) => void;
}

export class ShardUsage {
  readonly procId = randomBytes(6).toString('hex');
  private readonly shards = new Map<string, ShardState>();
  private sampleCountdown = KEY_SAMPLE_EVERY;
  private readonly dirty = new Set<ShardState>();
  private eagerScheduled = false;
  private sub?: Subscription;
  private timers: NodeJS.Timeout[] = [];
  private stopCache?: () => void;
  private lastPublishMs = Date.now();
  private readonly gossipMs: number;
  private readonly publishMs: number;

  constructor(
    private readonly nc: NatsConnection,
    opts: ShardUsageOptions = {},
  ) {
    this.gossipMs = opts.gossipMs ?? envNumber(process.env, ENV.quotaGossipMs, 100);
    this.publishMs = opts.publishMs ?? metricsPublishMs();
    this.log = opts.log ?? (() => undefined);
  }

  private readonly log: (msg: string) => void;

  start(cache: StreamCache): void {
    this.sub = this.nc.subscribe(GOSSIP_SUBJECT, {
      callback: (err, msg) => {
        if (err) return;
        try {
          this.applyGossip(msg.json<GossipMessage>());
        } catch (e) {
          this.log(`quota gossip: ${(e as Error).message}`);
        }
      },
    });
    this.timers.push(setInterval(() => this.gossip(), this.gossipMs));
    this.timers.push(setInterval(() => this.publishMetrics(), this.publishMs));
    for (const t of this.timers) t.unref();
    this.stopCache = cache.onChange((name, s) => this.forget(name, s?.record));
  }

  stop(): void {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    this.stopCache?.();
    this.sub?.unsubscribe();
  }

  // ---- the hot path ----

  /**
   * Admits one record of `bytes` (data + partition key) to the shard, counting
   * it against the limits; false (and nothing counted but the throttle) when
   * it does not fit. Always true for streams without enforcement. A record
   * above 1 MiB (streams with MaxRecordSizeInKiB up to 10 MiB) needs a full
   * bytes bucket and leaves it in debt, which later writes wait out: AWS's
   * "burst up to 10 MiB while averaging 1 MiB/s".
   */
  admitWrite(rec: StreamRecord, shard: ShardRecord, bytes: number): boolean {
    if (!quotaEnforced(rec)) return true;
    const st = this.local(rec, shard);
    const now = Date.now();
    if (st.writeRecords.level(now) < 1 || st.writeBytes.level(now) < Math.min(bytes, SHARD_LIMITS.writeBytesPerSec)) {
      st.counters.writeProvisionedThroughputExceeded++;
      return false;
    }
    st.writeRecords.charge(now, 1);
    st.writeBytes.charge(now, bytes);
    st.pending[0]++;
    st.pending[1] += bytes;
    this.markDirty(st, st.pending[0] >= SHARD_LIMITS.writeRecordsPerSec * EAGER_SHARE || st.pending[1] >= SHARD_LIMITS.writeBytesPerSec * EAGER_SHARE);
    return true;
  }

  /** Records stored in the shard (counted whether or not enforcement is on). */
  wrote(rec: StreamRecord, shard: ShardRecord, records: number, bytes: number): void {
    const st = this.local(rec, shard);
    st.counters.incomingRecords += records;
    st.counters.incomingBytes += bytes;
  }

  /**
   * Samples the hash keys of records just written to an ON_DEMAND stream's shard, for the
   * autoscaler (where to split, which key is hot). One record in KEY_SAMPLE_EVERY, counted
   * across calls, so the cost on the write path is a decrement for most records.
   */
  sampleKeys(rec: StreamRecord, shard: ShardRecord, count: number, keyAt: (i: number) => bigint | string, bytesAt: (i: number) => number): void {
    if (rec.mode !== 'ON_DEMAND') return;
    let i = this.sampleCountdown - 1;
    if (i >= count) {
      this.sampleCountdown -= count;
      return;
    }
    const st = this.local(rec, shard);
    st.keys ??= new Map();
    for (; i < count; i += KEY_SAMPLE_EVERY) {
      const k = keyAt(i);
      const hex = typeof k === 'string' ? k : k.toString(16).padStart(32, '0');
      const w = Math.max(1, bytesAt(i) / 1024);
      st.keyWeight += w;
      const cur = st.keys.get(hex);
      if (cur !== undefined) st.keys.set(hex, cur + w);
      else if (st.keys.size < KEY_SAMPLE_MAX) st.keys.set(hex, w);
    }
    this.sampleCountdown = i - count + 1;
  }

  /** Admits one GetRecords call; false when the shard's read limits are used up. */
  admitRead(rec: StreamRecord, shard: ShardRecord): boolean {
    if (!quotaEnforced(rec)) return true;
    const st = this.local(rec, shard);
    const now = Date.now();
    if (st.readCalls.level(now) < 1 || st.readBytes.level(now) <= 0) {
      st.counters.readProvisionedThroughputExceeded++;
      return false;
    }
    st.readCalls.charge(now, 1);
    st.pending[2]++;
    this.markDirty(st, true);
    return true;
  }

  /** A GetRecords call returned `records` of `bytes` (data + partition keys). */
  readDone(rec: StreamRecord, shard: ShardRecord, records: number, bytes: number, iteratorAgeMs: number): void {
    const st = this.local(rec, shard);
    st.counters.getRecords++;
    st.counters.outgoingRecords += records;
    st.counters.outgoingBytes += bytes;
    st.iteratorAgeMs = iteratorAgeMs;
    st.readSincePublish = true;
    if (quotaEnforced(rec) && bytes > 0) {
      st.readBytes.charge(Date.now(), bytes);
      st.pending[3] += bytes;
      this.markDirty(st, true);
    }
  }

  private stateOf(uid: string, index: number): ShardState {
    const key = `${uid}/${index}`;
    let st = this.shards.get(key);
    if (!st) {
      const now = Date.now();
      st = {
        uid,
        index,
        writeRecords: new TokenBucket(SHARD_LIMITS.writeRecordsPerSec, SHARD_LIMITS.writeRecordsPerSec, now),
        writeBytes: new TokenBucket(SHARD_LIMITS.writeBytesPerSec, SHARD_LIMITS.writeBytesPerSec, now),
        readCalls: new TokenBucket(SHARD_LIMITS.readCallsPerSec, SHARD_LIMITS.readCallsPerSec, now),
        readBytes: new TokenBucket(SHARD_LIMITS.readBytesPerSec, SHARD_LIMITS.readBytesPerSec, now),
        pending: [0, 0, 0, 0],
        counters: zeroCounters(),
        published: zeroCounters(),
        iteratorAgeMs: 0,
        keyWeight: 0,
        readSincePublish: false,
        lastActiveMs: now,
      };
      this.shards.set(key, st);
    }
    return st;
  }

  private local(rec: StreamRecord, shard: ShardRecord): ShardState {
    const st = this.stateOf(rec.uid, shard.index);
    if (st.stream === undefined) {
      st.stream = rec.name;
      st.shardId = shard.shardId;
    }
    st.lastActiveMs = Date.now();
    return st;
  }

  // ---- gossip ----

  private markDirty(st: ShardState, eager: boolean): void {
    this.dirty.add(st);
    if (eager && !this.eagerScheduled) {
      this.eagerScheduled = true;
      setImmediate(() => this.gossip());
    }
  }

  /** Publishes the usage admitted here since the last gossip. */
  private gossip(): void {
    this.eagerScheduled = false;
    if (this.dirty.size === 0 || this.nc.isClosed()) return;
    const u: GossipEntry[] = [];
    for (const st of this.dirty) {
      const [r, b, c, rb] = st.pending;
      u.push([st.uid, st.index, r, b, c, rb]);
      st.pending = [0, 0, 0, 0];
    }
    this.dirty.clear();
    try {
      this.nc.publish(GOSSIP_SUBJECT, JSON.stringify({ p: this.procId, u } satisfies GossipMessage));
    } catch (e) {
      this.log(`quota gossip: ${(e as Error).message}`);
    }
  }

  private applyGossip(m: GossipMessage): void {
    if (m.p === this.procId || !Array.isArray(m.u)) return;
    const now = Date.now();
    for (const [uid, index, r, b, c, rb] of m.u) {
      const st = this.stateOf(uid, index);
      st.lastActiveMs = now;
      if (r > 0) st.writeRecords.charge(now, r);
      if (b > 0) st.writeBytes.charge(now, b);
      if (c > 0) st.readCalls.charge(now, c);
      if (rb > 0) st.readBytes.charge(now, rb);
    }
  }

  /** Drops state of a deleted or recreated stream, and of shards no longer in its record. */
  private forget(name: string, rec: StreamRecord | undefined): void {
    const live = rec ? new Set(rec.shards.map((s) => s.index)) : undefined;
    for (const [key, st] of this.shards) {
      if (st.stream !== name) continue;
      if (!rec || st.uid !== rec.uid || !live!.has(st.index)) {
        this.shards.delete(key);
        this.dirty.delete(st);
      }
    }
  }

  // ---- metrics ----

  /** Shards this process served, with their counters (for /metrics). */
  *served(): Iterable<{ stream: string; shardId: string; counters: ShardCounters; iteratorAgeMs: number }> {
    for (const st of this.shards.values()) {
      if (st.stream !== undefined) yield { stream: st.stream, shardId: st.shardId!, counters: st.counters, iteratorAgeMs: st.iteratorAgeMs };
    }
  }

  /** One message per recently active stream on shardline.metrics.<uid>. */
  private publishMetrics(): void {
    const now = Date.now();
    const intervalMs = Math.max(1, now - this.lastPublishMs);
    this.lastPublishMs = now;
    const byUid = new Map<string, ShardMetricsMessage>();
    for (const [key, st] of this.shards) {
      if (st.stream === undefined) {
        // Known only through gossip: forget once its buckets are full again.
        if (now - st.lastActiveMs > 2000 && [st.writeRecords, st.writeBytes, st.readCalls, st.readBytes].every((t) => t.full(now))) this.shards.delete(key);
        continue;
      }
      if (now - st.lastActiveMs > PUBLISH_IDLE_MS) continue;
      let m = byUid.get(st.uid);
      if (!m) byUid.set(st.uid, (m = { proc: this.procId, stream: st.stream, uid: st.uid, atMs: now, intervalMs, shards: [] }));
      const rates = zeroCounters();
      for (const k of COUNTER_NAMES) rates[k] = ((st.counters[k] - st.published[k]) * 1000) / intervalMs;
      const sampled = st.keys?.size ? { keys: [...st.keys], keyWeight: st.keyWeight } : {};
      m.shards.push({ shardId: st.shardId!, totals: { ...st.counters }, rates, iteratorAgeMs: st.readSincePublish ? st.iteratorAgeMs : 0, ...sampled });
      st.keys = undefined;
      st.keyWeight = 0;
      st.published = { ...st.counters };
      st.readSincePublish = false;
    }
    if (this.nc.isClosed()) return;
    for (const m of byUid.values()) {
      try {
        this.nc.publish(metricsSubject(m.uid), JSON.stringify(m));
      } catch (e) {
        this.log(`metrics publish: ${(e as Error).message}`);
      }
    }
  }
}
