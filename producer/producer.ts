// The producer (what the KPL gives Kinesis users): put() buffers a record and resolves with where it
// was stored. Records are routed to their predicted shard, held there for at most maxBufferedTimeMs,
// rate-limited per shard to the shard write limits, optionally packed into KPL aggregated records,
// and sent in PutRecords calls of ≤ 500 entries / ≤ 5 MiB with a bounded number in flight. Failed
// entries are retried with backoff and jitter until they succeed, fail for good, or outlive their TTL.
import { PutRecordsCommand, type KinesisClient, type PutRecordsRequestEntry } from '@aws-sdk/client-kinesis';
import { AggregateBuilder } from '../stream/kinesis/aggregation.js';
import { backoffMs, isRetryableCode, isRetryableRequestError, ProducerError, type AttemptFailure } from './errors.js';
import { ShardLimiter, type ShardRateLimit } from './rateLimiter.js';
import { hashKeyOf, ShardMap, type OpenShard } from './shardMap.js';

const MiB = 1024 * 1024;
const MAX_HASH_KEY = (1n << 128n) - 1n;

export interface ProducerRecord {
  partitionKey: string;
  data: Uint8Array | string;
  /** Decimal 128-bit hash key overriding the partition key's MD5 for routing. */
  explicitHashKey?: string;
}

export interface PutResult {
  shardId: string;
  sequenceNumber: string;
  /** Position inside the aggregated record that carried it; absent when the record went on its own. */
  subSequenceNumber?: number;
  /** PutRecords attempts it took. */
  attempts: number;
}

export interface AggregationOptions {
  /** Largest aggregated record, magic, digest and outer partition key included (default 51200 as the KPL's; ≤ 1 MiB). */
  maxBytes?: number;
  /** Most user records in one aggregated record (default unbounded). */
  maxCount?: number;
}

export interface ProducerOptions {
  client: KinesisClient;
  streamName?: string;
  streamARN?: string;
  /** Longest a record waits in the buffer before it is sent (default 100 ms). */
  maxBufferedTimeMs?: number;
  /** Entries per PutRecords call (default and maximum 500). */
  maxRecordsPerRequest?: number;
  /** Bytes (data + partition keys) per PutRecords call (default and maximum 5 MiB). */
  maxBytesPerRequest?: number;
  /** PutRecords calls in flight at once (default 8). */
  maxInFlightRequests?: number;
  /** A record not written this long after put() is rejected with code RecordExpired (default 30 s). */
  recordTtlMs?: number;
  /** Per-shard limits the producer keeps to (default Kinesis': 1000 records/s, 1 MiB/s, 0.5 s burst); false: none. */
  rateLimit?: Partial<ShardRateLimit> | false;
  /** Backoff between attempts: base·2^(n-1) capped at max, jittered down to half (defaults 100 ms, 5 s). */
  retry?: { baseMs?: number; maxMs?: number };
  /** Pack records for the same shard into KPL aggregated records (default off). */
  aggregation?: boolean | AggregationOptions;
  /** Largest user record, data + partition key (default 1 MiB). */
  maxRecordBytes?: number;
  /**
   * Keep each shard's records in put() order: one PutRecords call per shard in flight, failed entries
   * retried before anything later, and with aggregation one aggregated record per shard per call (so
   * even a throttled entry cannot be overtaken). Without aggregation, entries of one call that partly
   * fail can still be overtaken by their successors in that call, as PutRecords does not order entries.
   * Default false: calls for a shard overlap, as with the KPL.
   */
  ordered?: boolean;
  /** Errors with no put() to reject (a failed shard map refresh). Default: ignored. */
  onError?: (e: unknown) => void;
}

export interface ProducerStats {
  /** User records accepted by put() and not settled yet. */
  outstanding: number;
  buffered: number;
  inFlightRequests: number;
  requests: number;
  /** PutRecords entries sent (an aggregated record is one entry). */
  entries: number;
  succeeded: number;
  failed: number;
  expired: number;
  /** User-record attempts that were retried. */
  retries: number;
  /** Entries the server answered with ProvisionedThroughputExceededException. */
  throttled: number;
  shardMapLoads: number;
  /** Failed entries by error code (entry-level ErrorCode or the failed call's error name). */
  errors: Record<string, number>;
}

interface Pending {
  partitionKey: string;
  explicitHashKey?: string;
  data: Buffer;
  /** data + partition key bytes, what Kinesis counts. */
  bytes: number;
  hashKey: bigint;
  enqueuedMs: number;
  deadlineMs: number;
  notBeforeMs: number;
  attempts: number;
  failures: AttemptFailure[];
  resolve(r: PutResult): void;
  reject(e: ProducerError): void;
}

/** A FIFO with O(1) shift and cheap put-back at the front (retries). */
class Queue {
  private items: Pending[] = [];
  private head = 0;
  bytes = 0;
  /** A PutRecords call carrying this shard's records is in flight (ordered mode sends one at a time). */
  busy = false;
  constructor(
    public shard: OpenShard,
    readonly limiter: ShardLimiter | undefined,
  ) {}
  get length(): number {
    return this.items.length - this.head;
  }
  at(i: number): Pending | undefined {
    return this.items[this.head + i];
  }
  push(p: Pending): void {
    this.items.push(p);
    this.bytes += p.bytes;
  }
  shift(): Pending {
    const p = this.items[this.head++]!;
    this.bytes -= p.bytes;
    if (this.head > 4096 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return p;
  }
  putBack(ps: Pending[]): void {
    this.items = ps.concat(this.items.slice(this.head));
    this.head = 0;
    for (const p of ps) this.bytes += p.bytes;
  }
  drainAll(): Pending[] {
    const all = this.items.slice(this.head);
    this.items = [];
    this.head = 0;
    this.bytes = 0;
    return all;
  }
}

interface Entry {
  shard: OpenShard;
  queue: Queue;
  items: Pending[];
  aggregated: boolean;
  request: PutRecordsRequestEntry;
}

export class Producer {
  private readonly client: KinesisClient;
  private readonly stream: { streamName?: string; streamARN?: string };
  private readonly maxBufferedTimeMs: number;
  private readonly maxRecords: number;
  private readonly maxBytes: number;
  private readonly maxInFlight: number;
  private readonly ttlMs: number;
  private readonly rateLimit: ShardRateLimit | undefined;
  private readonly retryBaseMs: number;
  private readonly retryMaxMs: number;
  private readonly agg: { maxBytes: number; maxCount: number } | undefined;
  private readonly maxRecordBytes: number;
  private readonly ordered: boolean;
  private readonly onError: (e: unknown) => void;

  private map?: ShardMap;
  private mapLoad?: Promise<void>;
  private mapStale = false;
  private mapFailures = 0;
  private readonly queues = new Map<string, Queue>();
  private unrouted: Pending[] = [];
  private buffered = 0;
  private bufferedBytes = 0;
  private inFlight = 0;
  private flushing = 0;
  private closed = false;
  private rr = 0;
  private immediate?: NodeJS.Immediate;
  private timer?: NodeJS.Timeout;
  private timerAt = Infinity;
  private idleUntil = 0;
  private idleWaiters: (() => void)[] = [];
  private readonly errorCounts: Record<string, number> = {};
  private readonly counters = { outstanding: 0, requests: 0, entries: 0, succeeded: 0, failed: 0, expired: 0, retries: 0, throttled: 0, shardMapLoads: 0 };

  constructor(opts: ProducerOptions) {
    if (!opts.streamName && !opts.streamARN) throw new TypeError('Producer needs streamName or streamARN');
    this.client = opts.client;
    this.stream = { streamName: opts.streamName, streamARN: opts.streamARN };
    this.maxBufferedTimeMs = clamp(opts.maxBufferedTimeMs ?? 100, 0, 3_600_000, 'maxBufferedTimeMs');
    this.maxRecords = clamp(opts.maxRecordsPerRequest ?? 500, 1, 500, 'maxRecordsPerRequest');
    this.maxBytes = clamp(opts.maxBytesPerRequest ?? 5 * MiB, 1, 5 * MiB, 'maxBytesPerRequest');
    this.maxInFlight = clamp(opts.maxInFlightRequests ?? 8, 1, 1000, 'maxInFlightRequests');
    this.ttlMs = clamp(opts.recordTtlMs ?? 30_000, 1, Number.MAX_SAFE_INTEGER, 'recordTtlMs');
    this.rateLimit =
      opts.rateLimit === false
        ? undefined
        : { recordsPerSecond: 1000, bytesPerSecond: MiB, burstSeconds: 0.5, ...(opts.rateLimit ?? {}) };
    if (this.rateLimit) {
      clamp(this.rateLimit.recordsPerSecond, 1e-3, Infinity, 'rateLimit.recordsPerSecond');
      clamp(this.rateLimit.bytesPerSecond, 1, Infinity, 'rateLimit.bytesPerSecond');
      clamp(this.rateLimit.burstSeconds, 1e-3, 3600, 'rateLimit.burstSeconds');
    }
    this.retryBaseMs = opts.retry?.baseMs ?? 100;
    this.retryMaxMs = opts.retry?.maxMs ?? 5000;
    const agg = opts.aggregation === true ? {} : opts.aggregation || undefined;
    this.agg = agg && {
      maxBytes: clamp(agg.maxBytes ?? 51_200, 64, MiB, 'aggregation.maxBytes'),
      maxCount: agg.maxCount ?? Number.MAX_SAFE_INTEGER,
    };
    this.maxRecordBytes = opts.maxRecordBytes ?? MiB;
    this.ordered = opts.ordered ?? false;
    this.onError = opts.onError ?? (() => undefined);
  }

  /** Buffers one record; resolves once it is stored, rejects with ProducerError when it cannot be. */
  put(record: ProducerRecord): Promise<PutResult> {
    if (this.closed) return Promise.reject(new ProducerError('ProducerClosed', 'the producer is closed', 0));
    let p!: Pending;
    const promise = new Promise<PutResult>((resolve, reject) => {
      const invalid = validate(record, this.maxRecordBytes);
      if (invalid) return reject(new ProducerError('ValidationError', invalid, 0));
      const data = typeof record.data === 'string' ? Buffer.from(record.data, 'utf8') : toBuffer(record.data);
      const now = Date.now();
      p = {
        partitionKey: record.partitionKey,
        explicitHashKey: record.explicitHashKey,
        data,
        bytes: data.length + Buffer.byteLength(record.partitionKey, 'utf8'),
        hashKey: hashKeyOf(record.partitionKey, record.explicitHashKey),
        enqueuedMs: now,
        deadlineMs: now + this.ttlMs,
        notBeforeMs: 0,
        attempts: 0,
        failures: [],
        resolve: (r) => {
          this.settled();
          this.counters.succeeded++;
          resolve(r);
        },
        reject: (e) => {
          this.settled();
          this.counters.failed++;
          reject(e);
        },
      };
    });
    if (p) {
      this.counters.outstanding++;
      this.enqueue(p);
      this.schedule();
    }
    return promise;
  }

  /** Sends everything buffered without waiting for maxBufferedTimeMs; resolves once nothing is outstanding. */
  async flush(): Promise<void> {
    if (this.counters.outstanding === 0) return;
    this.flushing++;
    this.schedule();
    try {
      await new Promise<void>((r) => this.idleWaiters.push(r));
    } finally {
      this.flushing--;
    }
  }

  /** Refuses new records, sends and settles the buffered ones, then stops its timers. */
  async close(): Promise<void> {
    this.closed = true;
    await this.flush();
    // A shard map reload a reshard set off: let it finish rather than outlive the producer.
    await this.mapLoad?.catch(() => undefined);
    if (this.timer) clearTimeout(this.timer);
    if (this.immediate) clearImmediate(this.immediate);
    this.timer = this.immediate = undefined;
  }

  stats(): ProducerStats {
    return { ...this.counters, errors: { ...this.errorCounts }, buffered: this.buffered, inFlightRequests: this.inFlight };
  }

  /** The shard map the producer routes by (loaded on first use), for inspection. */
  async shards(): Promise<readonly OpenShard[]> {
    if (!this.map) await this.loadMap();
    return this.map!.shards;
  }

  // ---- buffering ----

  private settled(): void {
    if (--this.counters.outstanding === 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  private enqueue(p: Pending): void {
    this.buffered++;
    this.bufferedBytes += p.bytes;
    if (!this.map) {
      this.unrouted.push(p);
      void this.loadMap().catch(() => undefined);
      return;
    }
    this.queueOf(this.map.shardOf(p.hashKey)).push(p);
  }

  private queueOf(shard: OpenShard): Queue {
    let q = this.queues.get(shard.shardId);
    if (!q) {
      q = new Queue(shard, this.rateLimit && new ShardLimiter(this.rateLimit, Date.now()));
      this.queues.set(shard.shardId, q);
    }
    return q;
  }

  private unbuffer(p: Pending): void {
    this.buffered--;
    this.bufferedBytes -= p.bytes;
  }

  /** Loads (or reloads after a reshard) the shard map and re-routes everything buffered by it. */
  private loadMap(): Promise<void> {
    this.mapLoad ??= (async () => {
      try {
        const map = await ShardMap.load(this.client, this.stream);
        this.counters.shardMapLoads++;
        this.mapFailures = 0;
        this.mapStale = false;
        const buffered = [...this.unrouted];
        this.unrouted = [];
        for (const q of this.queues.values()) buffered.push(...q.drainAll());
        const old = this.queues;
        // Shards that survive keep their queue (and rate limiter); others are dropped.
        const keep = new Map<string, Queue>();
        for (const s of map.shards) {
          const q = old.get(s.shardId);
          if (q) {
            q.shard = s;
            keep.set(s.shardId, q);
          }
        }
        this.queues.clear();
        for (const [id, q] of keep) this.queues.set(id, q);
        this.map = map;
        buffered.sort((a, b) => a.enqueuedMs - b.enqueuedMs);
        for (const p of buffered) this.queueOf(map.shardOf(p.hashKey)).push(p);
      } catch (e) {
        this.mapFailures++;
        if (!this.map) {
          // Nothing can be routed: fail the waiting records unless the error is worth another try.
          const code = errorName(e);
          if (!isRetryableRequestError(e)) {
            const waiting = this.unrouted;
            this.unrouted = [];
            for (const p of waiting) {
              this.unbuffer(p);
              p.reject(new ProducerError(code, `cannot list the stream's shards: ${(e as Error).message}`, 0, [{ code, message: String((e as Error).message) }]));
            }
          } else this.expireUnrouted(Date.now());
        }
        this.onError(e);
        if (this.unrouted.length > 0 || (this.mapStale && !this.closed)) {
          const wait = backoffMs(this.mapFailures, this.retryBaseMs, this.retryMaxMs);
          // Not unref'd: records waiting for a shard map keep the process alive until written or expired.
          setTimeout(() => void this.loadMap().catch(() => undefined), wait);
        }
        throw e;
      } finally {
        this.mapLoad = undefined;
        this.schedule();
      }
    })();
    return this.mapLoad;
  }

  private expireUnrouted(now: number): void {
    this.unrouted = this.unrouted.filter((p) => {
      if (p.deadlineMs > now) return true;
      this.expire(p);
      return false;
    });
  }

  private expire(p: Pending): void {
    this.unbuffer(p);
    this.counters.expired++;
    const last = p.failures.at(-1);
    p.reject(
      new ProducerError(
        'RecordExpired',
        `record not written within ${this.ttlMs} ms (${p.attempts} attempts${last ? `; last error ${last.code}: ${last.message}` : ''})`,
        p.attempts,
        p.failures,
      ),
    );
  }

  // ---- scheduling ----

  /** Arranges the next drain: now when something is due, else a timer at the earliest moment something will be. */
  private schedule(): void {
    if (this.immediate || !this.map || this.inFlight >= this.maxInFlight) return;
    const now = Date.now();
    const full = this.flushing > 0 || this.bufferedBytes >= this.maxBytes || (!this.agg && this.buffered >= this.maxRecords);
    let next = Infinity;
    for (const q of this.queues.values()) {
      const head = q.at(0);
      if (!head || (this.ordered && q.busy)) continue;
      let t = Math.max(full || this.fullAggregate(q) ? now : head.enqueuedMs + this.maxBufferedTimeMs, head.notBeforeMs);
      if (q.limiter) {
        const cost = this.nextCost(q);
        t = Math.max(t, now + q.limiter.waitMs(now, cost.records, cost.bytes));
      }
      next = Math.min(next, t, head.deadlineMs);
      if (next <= now) break;
    }
    if (this.unrouted.length > 0) next = Math.min(next, this.unrouted[0]!.deadlineMs);
    if (next === Infinity) return;
    next = Math.max(next, this.idleUntil);
    if (next <= now) {
      if (this.timer) clearTimeout(this.timer);
      this.timer = undefined;
      this.timerAt = Infinity;
      this.immediate = setImmediate(() => {
        this.immediate = undefined;
        this.drain();
      });
      return;
    }
    if (this.timer && this.timerAt <= next) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = next;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.timerAt = Infinity;
      this.drain();
    }, next - now);
  }

  /**
   * An upper bound of the bytes the queue's next entry will cost, for the rate limiter's wait: the head
   * record, or with aggregation everything queued plus the protobuf overhead (≤ 20 bytes a record),
   * capped at one aggregate. Never below the real cost, so a wake-up finds the tokens it waited for.
   */
  private nextCost(q: Queue): { records: number; bytes: number } {
    const head = q.at(0)!;
    if (this.agg) return { records: 1, bytes: Math.max(head.bytes, Math.min(this.agg.maxBytes, q.bytes + 20 * q.length + 64)) };
    // Plain records: wait for room for a batch (50 ms of the record rate) rather than wake for every
    // token, which would spend the in-flight requests on calls of a record or two.
    const n = Math.min(q.length, Math.max(1, Math.floor(this.rateLimit!.recordsPerSecond * 0.05)));
    return { records: n, bytes: Math.max(head.bytes, Math.ceil((q.bytes / q.length) * n)) };
  }

  /** With aggregation, a queue holding a full aggregated record sends it without waiting out the buffer time. */
  private fullAggregate(q: Queue): boolean {
    return this.agg !== undefined && q.bytes >= this.agg.maxBytes;
  }

  /** Builds and sends PutRecords calls while there is room in flight and something is due. */
  private drain(): void {
    // PutRecords reported a shard the map did not predict (a reshard): send nothing more by the old
    // map until the reload answers (its completion schedules the next drain; a failed reload falls
    // back to the old map).
    if (this.mapStale && this.mapLoad) return;
    const now = Date.now();
    this.expireUnrouted(now);
    let sent = 0;
    while (this.inFlight < this.maxInFlight) {
      const entries = this.collect(now);
      if (entries.length === 0) break;
      sent++;
      void this.send(entries);
    }
    // A wake-up that found nothing to send must not spin: the next one is at least a few ms away.
    if (sent === 0 && this.inFlight < this.maxInFlight) this.idleUntil = now + 5;
    this.schedule();
  }

  /** One request's worth of entries from the due shards, round-robin so no shard starves the others. */
  private collect(now: number): Entry[] {
    const full = this.flushing > 0 || this.bufferedBytes >= this.maxBytes || (!this.agg && this.buffered >= this.maxRecords);
    const queues = [...this.queues.values()];
    const entries: Entry[] = [];
    let bytes = 0;
    const start = this.rr++ % Math.max(1, queues.length);
    for (let k = 0; k < queues.length && entries.length < this.maxRecords; k++) {
      const q = queues[(start + k) % queues.length]!;
      while (q.length > 0 && q.at(0)!.deadlineMs <= now) this.expire(q.shift());
      const head = q.at(0);
      if (!head || head.notBeforeMs > now || (this.ordered && q.busy)) continue;
      const due = full || head.enqueuedMs + this.maxBufferedTimeMs <= now;
      if (!due && !this.fullAggregate(q)) continue;
      // Not due yet: only full aggregated records go; the rest keeps filling.
      while (entries.length < this.maxRecords && (due || this.fullAggregate(q))) {
        const e = this.agg ? this.nextAggregate(q, now, this.maxBytes - bytes) : this.nextPlain(q, now, this.maxBytes - bytes);
        if (!e) break;
        bytes += e.bytes;
        entries.push(e.entry);
        if (this.ordered) {
          q.busy = true;
          if (this.agg) break;
        }
      }
    }
    return entries;
  }

  private nextPlain(q: Queue, now: number, room: number): { entry: Entry; bytes: number } | undefined {
    const p = q.at(0);
    // A record larger than a whole request (streams with MaxRecordSizeInKiB above 5 MiB) goes alone.
    if (!p || p.notBeforeMs > now || p.deadlineMs <= now || (p.bytes > room && room < this.maxBytes)) return undefined;
    if (q.limiter && !q.limiter.tryTake(now, p.bytes)) return undefined;
    q.shift();
    return { entry: this.plainEntry(q, p), bytes: p.bytes };
  }

  private plainEntry(q: Queue, p: Pending): Entry {
    this.unbuffer(p);
    return {
      shard: q.shard,
      queue: q,
      items: [p],
      aggregated: false,
      request: { PartitionKey: p.partitionKey, Data: p.data, ExplicitHashKey: p.explicitHashKey },
    };
  }

  /** The longest run of ready records at the queue's head that fits one aggregated record (a lone record goes plain). */
  private nextAggregate(q: Queue, now: number, room: number): { entry: Entry; bytes: number } | undefined {
    const first = q.at(0);
    if (!first || first.notBeforeMs > now || first.deadlineMs <= now) return undefined;
    const outerKeyBytes = Buffer.byteLength(first.partitionKey, 'utf8');
    const limit = Math.min(this.agg!.maxBytes, room) - outerKeyBytes;
    const b = new AggregateBuilder();
    let n = 0;
    for (let p = q.at(0); p && n < this.agg!.maxCount; p = q.at(++n)) {
      if (p.notBeforeMs > now || p.deadlineMs <= now || b.sizeWith(p) > limit) break;
      b.add(p);
    }
    if (n <= 1) return this.nextPlain(q, now, room);
    const bytes = b.sizeBytes + outerKeyBytes;
    if (q.limiter && !q.limiter.tryTake(now, bytes)) return undefined;
    const items: Pending[] = [];
    for (let i = 0; i < n; i++) {
      const p = q.shift();
      this.unbuffer(p);
      items.push(p);
    }
    return {
      // The outer record carries the first record's hash key explicitly, so it lands on the shard
      // predicted for all of them (the KPL does the same).
      entry: {
        shard: q.shard,
        queue: q,
        items,
        aggregated: true,
        request: { PartitionKey: first.partitionKey, Data: b.build(), ExplicitHashKey: first.hashKey.toString() },
      },
      bytes,
    };
  }

  // ---- sending ----

  private async send(entries: Entry[]): Promise<void> {
    this.inFlight++;
    this.counters.requests++;
    this.counters.entries += entries.length;
    for (const e of entries) for (const p of e.items) p.attempts++;
    try {
      const out = await this.client.send(
        new PutRecordsCommand({ StreamName: this.stream.streamName, StreamARN: this.stream.streamARN, Records: entries.map((e) => e.request) }),
      );
      const results = out.Records ?? [];
      entries.forEach((e, i) => {
        const r = results[i];
        if (r?.SequenceNumber && r.ShardId) {
          if (r.ShardId !== e.shard.shardId) this.mapStale = true;
          if (e.aggregated) e.items.forEach((p, k) => p.resolve({ shardId: r.ShardId!, sequenceNumber: r.SequenceNumber!, subSequenceNumber: k, attempts: p.attempts }));
          else e.items[0]!.resolve({ shardId: r.ShardId, sequenceNumber: r.SequenceNumber, attempts: e.items[0]!.attempts });
        } else {
          const code = r?.ErrorCode ?? 'InternalFailure';
          this.failed(e, code, r?.ErrorMessage ?? 'no result for the entry', isRetryableCode(code));
        }
      });
    } catch (err) {
      const code = errorName(err);
      const retryable = isRetryableRequestError(err);
      for (const e of entries) this.failed(e, code, (err as Error).message ?? String(err), retryable);
    } finally {
      this.inFlight--;
      for (const e of entries) e.queue.busy = false;
      if (this.mapStale && !this.mapLoad) void this.loadMap().catch(() => undefined);
      this.schedule();
    }
  }

  private failed(e: Entry, code: string, message: string, retryable: boolean): void {
    if (code === 'ProvisionedThroughputExceededException') this.counters.throttled++;
    this.errorCounts[code] = (this.errorCounts[code] ?? 0) + 1;
    const now = Date.now();
    const back: Pending[] = [];
    for (const p of e.items) {
      p.failures.push({ code, message });
      if (!retryable) {
        p.reject(new ProducerError(code, message, p.attempts, p.failures));
        continue;
      }
      p.notBeforeMs = now + backoffMs(p.attempts, this.retryBaseMs, this.retryMaxMs);
      if (p.notBeforeMs >= p.deadlineMs) {
        this.buffered++;
        this.bufferedBytes += p.bytes;
        this.expire(p);
        continue;
      }
      this.counters.retries++;
      back.push(p);
    }
    if (back.length === 0) return;
    for (const p of back) {
      this.buffered++;
      this.bufferedBytes += p.bytes;
    }
    // Back at the front of their shard's queue (by the current map: the shard may have changed).
    const byQueue = new Map<Queue, Pending[]>();
    for (const p of back) {
      const q = this.queueOf(this.map!.shardOf(p.hashKey));
      byQueue.set(q, [...(byQueue.get(q) ?? []), p]);
    }
    for (const [q, ps] of byQueue) q.putBack(ps);
  }
}

function clamp(v: number, min: number, max: number, name: string): number {
  if (typeof v !== 'number' || Number.isNaN(v) || v < min || v > max) throw new RangeError(`${name} must be between ${min} and ${max} (got ${v})`);
  return v;
}

function toBuffer(d: Uint8Array): Buffer {
  return Buffer.isBuffer(d) ? d : Buffer.from(d.buffer, d.byteOffset, d.byteLength);
}

function errorName(e: unknown): string {
  const err = e as { name?: string; code?: string };
  return err?.name && err.name !== 'Error' ? err.name : (err?.code ?? 'Error');
}

/** Kinesis' own checks on a record, made before buffering so a bad record fails at once and alone. */
function validate(r: ProducerRecord, maxRecordBytes: number): string | undefined {
  if (typeof r?.partitionKey !== 'string' || r.partitionKey.length < 1 || [...r.partitionKey].length > 256)
    return 'partitionKey must be a string of 1 to 256 characters';
  if (typeof r.data !== 'string' && !(r.data instanceof Uint8Array)) return 'data must be a string or Uint8Array';
  const bytes = (typeof r.data === 'string' ? Buffer.byteLength(r.data, 'utf8') : r.data.byteLength) + Buffer.byteLength(r.partitionKey, 'utf8');
  if (bytes > maxRecordBytes) return `record of ${bytes} bytes (data + partition key) exceeds ${maxRecordBytes}`;
  if (r.explicitHashKey !== undefined) {
    if (!/^\d{1,39}$/.test(r.explicitHashKey) || BigInt(r.explicitHashKey) > MAX_HASH_KEY)
      return 'explicitHashKey must be a decimal integer between 0 and 2^128 - 1';
  }
  return undefined;
}
