// Firehose's per-delivery-stream Direct PUT quota (docs/quotas-and-metrics.md):
// records/s, requests/s and bytes/s, combined over PutRecord and PutRecordBatch,
// enforced across every runtime process the way the per-shard limits are
// (shardUsage.ts): each process keeps a token bucket per delivery stream and
// limit (refill = the limit per second, capacity = one second of it), charged
// with its own admissions at once and with the other processes' when their
// gossip arrives, and admits only what its own view of the buckets holds.
import { randomBytes } from 'node:crypto';
import type { NatsConnection, Subscription } from 'nats';
import { InvalidArgumentError } from 'commander';
import { TokenBucket } from '../../common/tokenBucket.js';
import { ENV, envNumber } from '../../contract/env.js';

const MiB = 1024 * 1024;

export interface DirectPutLimits {
  recordsPerSec: number;
  requestsPerSec: number;
  bytesPerSec: number;
}

/** AWS's defaults in US East (N. Virginia), US West (Oregon) and Europe (Ireland). */
export const DIRECT_PUT_LIMITS: DirectPutLimits = { recordsPerSec: 500_000, requestsPerSec: 2_000, bytesPerSec: 5 * MiB };

/** The `--firehose-put-quota` default: records/s,requests/s,bytes/s. */
export const DIRECT_PUT_QUOTA_DEFAULT = `${DIRECT_PUT_LIMITS.recordsPerSec},${DIRECT_PUT_LIMITS.requestsPerSec},${DIRECT_PUT_LIMITS.bytesPerSec}`;

/** `off`, or three positive integers `records/s,requests/s,bytes/s`; undefined for `off`. */
export function directPutLimitsOf(spec: string): DirectPutLimits | undefined {
  const v = spec.trim().toLowerCase();
  if (v === 'off') return undefined;
  const parts = v.split(',').map((p) => p.trim());
  const nums = parts.map((p) => (/^\d+$/.test(p) ? Number(p) : NaN));
  if (nums.length !== 3 || nums.some((n) => !Number.isSafeInteger(n) || n < 1)) {
    throw new InvalidArgumentError('expected records/s,requests/s,bytes/s (three positive integers, e.g. 500000,2000,5242880) or off');
  }
  return { recordsPerSec: nums[0]!, requestsPerSec: nums[1]!, bytesPerSec: nums[2]! };
}

/** The option parser: checks the spec, keeps its text (the help shows the default as written). */
export const directPutQuotaSpec = (raw: string): string => {
  directPutLimitsOf(raw);
  return raw.trim();
};

export const DIRECT_PUT_GOSSIP_SUBJECT = 'shardline.quota.firehose';

/** Local usage not gossiped yet beyond this share of a limit is gossiped at once. */
const EAGER_SHARE = 0.05;
/** A delivery stream's buckets are dropped once full and idle this long. */
const FORGET_IDLE_MS = 60_000;

interface StreamBuckets {
  records: TokenBucket;
  requests: TokenBucket;
  bytes: TokenBucket;
  /** Local admissions since the last gossip: records, requests, bytes. */
  pending: [number, number, number];
  lastActiveMs: number;
}

/** Gossip entry: delivery stream, records, requests, bytes. */
type GossipEntry = [string, number, number, number];
interface GossipMessage {
  p: string;
  u: GossipEntry[];
}

export class DirectPutQuota {
  readonly procId = randomBytes(6).toString('hex');
  private readonly streams = new Map<string, StreamBuckets>();
  private readonly dirty = new Set<string>();
  private eagerScheduled = false;
  private sub?: Subscription;
  private timer?: NodeJS.Timeout;
  private readonly gossipMs: number;
  private readonly log: (msg: string) => void;

  /** `limits` undefined: every request is admitted and nothing is gossiped. */
  constructor(
    private readonly nc: NatsConnection,
    readonly limits: DirectPutLimits | undefined,
    opts: { gossipMs?: number; log?: (msg: string) => void } = {},
  ) {
    this.gossipMs = opts.gossipMs ?? envNumber(process.env, ENV.quotaGossipMs, 100);
    this.log = opts.log ?? (() => undefined);
  }

  start(): void {
    if (!this.limits) return;
    this.sub = this.nc.subscribe(DIRECT_PUT_GOSSIP_SUBJECT, {
      callback: (err, msg) => {
        if (err) return;
        try {
          this.applyGossip(msg.json<GossipMessage>());
        } catch (e) {
          this.log(`firehose quota gossip: ${(e as Error).message}`);
        }
      },
    });
    this.timer = setInterval(() => this.gossip(), this.gossipMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.sub?.unsubscribe();
  }

  /**
   * Admits one PutRecord/PutRecordBatch request to the delivery stream: which of
   * its records (by data size) fit. Without a request token none does; each
   * record needs a record token and its bytes (a record above the bytes
   * capacity needs a full bucket and leaves it in debt), judged one by one as
   * Kinesis judges PutRecords entries.
   */
  admit(deliveryStream: string, sizes: number[]): boolean[] {
    const lim = this.limits;
    if (!lim) return sizes.map(() => true);
    const now = Date.now();
    const b = this.bucketsOf(deliveryStream, now);
    b.lastActiveMs = now;
    if (b.requests.level(now) < 1) return sizes.map(() => false);
    b.requests.charge(now, 1);
    b.pending[1]++;
    const out = sizes.map((size) => {
      if (b.records.level(now) < 1 || b.bytes.level(now) < Math.min(size, lim.bytesPerSec)) return false;
      b.records.charge(now, 1);
      b.bytes.charge(now, size);
      b.pending[0]++;
      b.pending[2] += size;
      return true;
    });
    this.dirty.add(deliveryStream);
    const eager = b.pending[0] >= lim.recordsPerSec * EAGER_SHARE || b.pending[1] >= lim.requestsPerSec * EAGER_SHARE || b.pending[2] >= lim.bytesPerSec * EAGER_SHARE;
    if (eager && !this.eagerScheduled) {
      this.eagerScheduled = true;
      setImmediate(() => this.gossip());
    }
    return out;
  }

  private bucketsOf(name: string, now: number): StreamBuckets {
    let b = this.streams.get(name);
    if (!b) {
      const lim = this.limits!;
      b = {
        records: new TokenBucket(lim.recordsPerSec, lim.recordsPerSec, now),
        requests: new TokenBucket(lim.requestsPerSec, lim.requestsPerSec, now),
        bytes: new TokenBucket(lim.bytesPerSec, lim.bytesPerSec, now),
        pending: [0, 0, 0],
        lastActiveMs: now,
      };
      this.streams.set(name, b);
    }
    return b;
  }

  /** Publishes the usage admitted here since the last gossip; drops idle streams' full buckets. */
  private gossip(): void {
    this.eagerScheduled = false;
    const now = Date.now();
    for (const [name, b] of this.streams) {
      if (!this.dirty.has(name) && now - b.lastActiveMs > FORGET_IDLE_MS && [b.records, b.requests, b.bytes].every((t) => t.full(now))) this.streams.delete(name);
    }
    if (this.dirty.size === 0 || this.nc.isClosed()) return;
    const u: GossipEntry[] = [];
    for (const name of this.dirty) {
      const b = this.streams.get(name);
      if (!b) continue;
      u.push([name, ...b.pending]);
      b.pending = [0, 0, 0];
    }
    this.dirty.clear();
    try {
      this.nc.publish(DIRECT_PUT_GOSSIP_SUBJECT, JSON.stringify({ p: this.procId, u } satisfies GossipMessage));
    } catch (e) {
      this.log(`firehose quota gossip: ${(e as Error).message}`);
    }
  }

  private applyGossip(m: GossipMessage): void {
    if (m.p === this.procId || !Array.isArray(m.u)) return;
    const now = Date.now();
    for (const [name, r, q, bytes] of m.u) {
      if (typeof name !== 'string') continue;
      const b = this.bucketsOf(name, now);
      b.lastActiveMs = now;
      if (r > 0) b.records.charge(now, r);
      if (q > 0) b.requests.charge(now, q);
      if (bytes > 0) b.bytes.charge(now, bytes);
    }
  }
}
