// SubscribeToShard: an HTTP response that stays open and carries AWS
// event-stream messages (initial-response, then SubscribeToShardEvent) for up
// to `subscriptionMs`.
//
// Records are pushed: the stream library's follow() (stream/shardReader.ts, a
// JetStream ordered consumer from the requested position) hands us what
// arrived together as one batch, which goes out as one event. When idle, an
// empty event goes out at least every HEARTBEAT_MS.
//
// One subscription per consumer and shard may start every 5 seconds, across
// all runtimes: starting one creates a key in a KV bucket whose entries expire
// after 5 s (JetStream's create is atomic). A later start publishes a takeover
// notice on core NATS; the older subscription then ends with
// ResourceInUseException, as AWS does.
import { createHash, randomUUID } from 'node:crypto';
import { StorageType, type KV, type Subscription } from 'nats';
import type { Response } from '../http/server.js';
import { encodeBody, type Wire } from '../http/wire.js';
import { eventFrame, exceptionFrame } from '../http/eventStream.js';
import { encodeSequence, MAX_RECORDS_PER_MESSAGE } from '../../stream/kinesis/sequence.js';
import { KeyUnavailableError, ShardNotFoundError } from '../../stream/errors.js';
import { follow, resolveStart, shardOf, type Follower, type Position, type ShardBatchOut, type StartPosition } from '../../stream/shardReader.js';
import type { Store } from '../../stream/connect.js';
import type { ShardRecord, StreamRecord } from '../../stream/streamRecord.js';
import { liveConsumers } from '../../stream/consumers.js';
import { invalidArgument, resourceInUse, type KinesisError } from './errors.js';
import { asKinesis, shardNotFound, toKinesisError } from './libraryErrors.js';
import { AT_TIMESTAMP_MISSING, childShardsOf } from './ops/read.js';
import { keysOf } from './ops/encryption.js';
import { resolveShardId } from './shardIds.js';
import { consumerNotActive, creationSeconds, resolveConsumer } from './ops/consumers.js';
import type { ApiContext, Params } from './context.js';

export interface StreamingIo {
  res: Response;
  wire: Wire;
  onError?: (e: unknown) => void;
}

/** An operation whose answer is written incrementally rather than returned. */
export type StreamingOperation = (ctx: ApiContext, params: Params, io: StreamingIo) => Promise<void>;

export const SUBSCRIPTIONS_BUCKET = 'shardline_subscriptions';
/** AWS: a second SubscribeToShard within 5 s of a successful one is refused. */
export const RESUBSCRIBE_WINDOW_MS = 5_000;
/** An event at least this often, records or not. */
export const HEARTBEAT_MS = 4_500;
const MAX_EVENT_RECORDS = 10_000;
const MAX_EVENT_BYTES = 4 * 1024 * 1024;
/** How often the subscription checks its shard was closed (from the cached record) while idle. */
const RECHECK_MS = 200;

const EVENT_CONTENT_TYPE: Record<Wire, string> = { json: 'application/json', cbor: 'application/x-amz-cbor-1.1' };

const claimBuckets = new WeakMap<Store, Promise<KV>>();

function claimBucket(store: Store): Promise<KV> {
  let kv = claimBuckets.get(store);
  if (!kv) {
    kv = store.js.views.kv(SUBSCRIPTIONS_BUCKET, {
      history: 1,
      ttl: RESUBSCRIBE_WINDOW_MS,
      replicas: store.replicas,
      storage: StorageType.Memory,
    });
    kv.catch(() => claimBuckets.delete(store));
    claimBuckets.set(store, kv);
  }
  return kv;
}

function isWrongLastSequence(e: unknown): boolean {
  const m = String((e as Error)?.message ?? e);
  return m.includes('wrong last sequence') || m.includes('10071') || m.includes('key exists');
}

/** The sequence number just before a position (what AFTER_SEQUENCE_NUMBER resumes from). */
function before(shardIndex: number, p: { jsSeq: number; index: number }): string {
  if (p.index > 0) return encodeSequence({ shardIndex, jsSeq: p.jsSeq, index: p.index - 1 });
  if (p.jsSeq <= 1) return encodeSequence({ shardIndex, jsSeq: 0, index: 0 });
  return encodeSequence({ shardIndex, jsSeq: p.jsSeq - 1, index: MAX_RECORDS_PER_MESSAGE });
}

/** SubscribeToShard's StartingPosition as the library's start position. */
function startOf(sp: Params): StartPosition {
  const type = sp.Type as StartPosition['type'];
  if (type === 'AT_SEQUENCE_NUMBER' || type === 'AFTER_SEQUENCE_NUMBER') {
    const seq = sp.SequenceNumber as string | undefined;
    if (seq === undefined) {
      throw invalidArgument(`Must specify SequenceNumber for StartingPosition of type ${type}. Current request has no SequenceNumber.`);
    }
    return { type, sequenceNumber: seq };
  }
  if (type === 'AT_TIMESTAMP') {
    const ts = sp.Timestamp as Date | undefined;
    if (!ts) throw invalidArgument(AT_TIMESTAMP_MISSING);
    return { type, timestampMs: ts.getTime() };
  }
  return { type };
}

export const subscribeToShard: StreamingOperation = async (ctx, p, io) => {
  // Everything that can fail the request fails it before the response starts.
  const { stream: rec0, consumer } = await resolveConsumer(ctx, { ConsumerARN: p.ConsumerARN }, false);
  if (consumer.status !== 'ACTIVE') throw consumerNotActive(ctx, rec0.name, consumer);
  const streamName = rec0.name;
  const uid = rec0.uid;
  const shardId = resolveShardId(p.ShardId as string) ?? (p.ShardId as string);
  let shard: ShardRecord;
  try {
    shard = shardOf(rec0, shardId);
  } catch (e) {
    throw toKinesisError(ctx, e, 'SubscribeToShard');
  }
  const start = await resolveStart(ctx.store, rec0, shard.shardId, startOf(p.StartingPosition as Params)).catch(asKinesis(ctx, 'SubscribeToShard'));

  const claimKey = createHash('sha256').update(`${uid}\n${consumer.name}\n${creationSeconds(consumer.createdAtMs)}\n${shard.index}`).digest('hex').slice(0, 40);
  const takeoverSubject = `shardline.efo.takeover.${claimKey}`;
  const me = randomUUID();
  const kv = await claimBucket(ctx.store);
  try {
    await kv.create(`sub.${claimKey}`, me);
  } catch (e) {
    if (!isWrongLastSequence(e)) throw e;
    throw resourceInUse(`Another active subscription exists for this consumer: ${ctx.config.accountId}:${streamName}:${shardId}:${consumer.name}`);
  }
  ctx.store.nc.publish(takeoverSubject, me);

  const abort = new AbortController();
  const current = () => {
    const r = ctx.cache.get(streamName)?.record;
    return r && r.uid === uid ? r : undefined;
  };
  const records = follow(ctx.store, rec0, shard.shardId, start, { signal: abort.signal, keys: keysOf(ctx), current, recheckMs: RECHECK_MS, limit: MAX_EVENT_RECORDS, maxBytes: MAX_EVENT_BYTES });
  try {
    await records.ready();
  } catch (e) {
    abort.abort();
    await kv.delete(`sub.${claimKey}`).catch(() => undefined);
    const s = await ctx.cache.fresh(streamName);
    if (!s || s.record.uid !== uid) throw shardNotFound(ctx, streamName, shardId);
    throw toKinesisError(ctx, e, 'SubscribeToShard');
  }

  await new ShardSubscription(ctx, io, {
    streamName, uid, shard, start, records, abort, takeoverSubject, me, consumerName: consumer.name, consumerCreatedAtMs: consumer.createdAtMs,
  }).run();
};

interface SubscriptionArgs {
  streamName: string;
  uid: string;
  shard: ShardRecord;
  start: Position;
  records: Follower;
  abort: AbortController;
  takeoverSubject: string;
  me: string;
  consumerName: string;
  consumerCreatedAtMs: number;
}

class ShardSubscription {
  private readonly res: Response;
  private readonly wire: Wire;
  private readonly shardIndex: number;
  private continuation: string;
  private lastEventAt = Date.now();
  private closed = false;
  private timers: NodeJS.Timeout[] = [];
  private heartbeat?: NodeJS.Timeout;
  private takeover?: Subscription;
  private unwatch?: () => void;
  private done!: () => void;
  private readonly finished = new Promise<void>((r) => (this.done = r));
  private drainWaiters: (() => void)[] = [];

  constructor(
    private readonly ctx: ApiContext,
    private readonly io: StreamingIo,
    private readonly a: SubscriptionArgs,
  ) {
    this.res = io.res;
    this.wire = io.wire;
    this.shardIndex = a.shard.index;
    this.continuation = before(this.shardIndex, a.start);
  }

  async run(): Promise<void> {
    const { res } = this;
    res.statusCode = 200;
    res.setHeader('Content-Type', 'application/vnd.amazon.eventstream');
    res.on('close', () => this.finish(false));
    res.on('drain', () => this.wakeDrainWaiters());
    if (res.destroyed) {
      // The client went away while the subscription was being set up.
      this.finish(false);
      return;
    }
    this.write(eventFrame('initial-response', EVENT_CONTENT_TYPE[this.wire], encodeBody(this.wire, {})));

    this.takeover = this.ctx.store.nc.subscribe(this.a.takeoverSubject, {
      callback: (_err, m) => {
        if (m && m.string() !== this.a.me) {
          this.fail('ResourceInUseException', `Another active subscription exists for this consumer: ${this.ctx.config.accountId}:${this.a.streamName}:${this.a.shard.shardId}:${this.a.consumerName}`);
        }
      },
    });
    this.unwatch = this.ctx.cache.onChange((name) => {
      if (name === this.a.streamName) this.onRecordChange();
    });
    this.timers.push(setTimeout(() => this.finish(true), this.ctx.config.subscriptionMs));
    this.scheduleHeartbeat(HEARTBEAT_MS);
    void this.consume();
    await this.finished;
  }

  /** Each batch the shard reader hands out is one event; the last of a closed shard carries ChildShards. */
  private async consume(): Promise<void> {
    try {
      for await (const batch of this.a.records) {
        if (this.closed) break;
        if (batch.shardEnded) {
          this.send(batch, true);
          break;
        }
        if (!this.send(batch, false)) await this.waitDrain();
      }
    } catch (e) {
      if (this.closed) return;
      // What came before a message it cannot open went out already (with its continuation).
      if (e instanceof KeyUnavailableError) return this.fail(e.code, e.message);
      const s = e instanceof ShardNotFoundError ? undefined : await this.ctx.cache.fresh(this.a.streamName).catch(() => undefined);
      if (!s || s.record.uid !== this.a.uid) {
        this.fail('ResourceNotFoundException', `Shard ${this.a.shard.shardId} in stream ${this.a.streamName} under account ${this.ctx.config.accountId} does not exist`);
      } else {
        this.io.onError?.(e);
        this.fail('InternalFailureException', 'Internal service error.');
      }
    }
  }

  /** The stream's current record, undefined once it is deleted (or recreated). */
  private record(): StreamRecord | undefined {
    const r = this.ctx.cache.get(this.a.streamName)?.record;
    return r && r.uid === this.a.uid ? r : undefined;
  }

  private onRecordChange(): void {
    if (this.closed) return;
    const rec = this.record();
    if (!rec) {
      this.fail('ResourceNotFoundException', `Shard ${this.a.shard.shardId} in stream ${this.a.streamName} under account ${this.ctx.config.accountId} does not exist`);
      return;
    }
    const live = liveConsumers(rec, Date.now(), this.ctx.config.consumerTransitionMs).find(
      (c) => c.name === this.a.consumerName && c.createdAtMs === this.a.consumerCreatedAtMs,
    );
    if (!live || live.status === 'DELETING') this.finish(true);
  }

  private scheduleHeartbeat(ms: number): void {
    this.heartbeat = setTimeout(() => this.beat(), ms);
  }

  private beat(): void {
    if (this.closed) return;
    const idle = Date.now() - this.lastEventAt;
    if (idle < HEARTBEAT_MS) return this.scheduleHeartbeat(HEARTBEAT_MS - idle);
    this.send(undefined, false);
    this.scheduleHeartbeat(HEARTBEAT_MS);
  }

  /**
   * Sends one event: the batch's records (none for a heartbeat); `final` adds
   * ChildShards and ends. Returns false under backpressure.
   */
  private send(batch: ShardBatchOut | undefined, final: boolean): boolean {
    if (this.closed) return true;
    if (batch) this.continuation = before(this.shardIndex, batch.next);
    const rec = this.record();
    const shard = rec?.shards.find((x) => x.index === this.shardIndex);
    const event = {
      Records: (batch?.records ?? []).map((r) => ({
        SequenceNumber: r.sequenceNumber,
        ApproximateArrivalTimestamp: new Date(r.arrivalMs),
        Data: r.data,
        PartitionKey: r.partitionKey,
        EncryptionType: r.encrypted ? 'KMS' : undefined,
      })),
      ContinuationSequenceNumber: final ? undefined : this.continuation,
      MillisBehindLatest: final ? 0 : (batch?.millisBehindLatest ?? 0),
      ChildShards: final && rec && shard ? childShardsOf(rec, shard) : undefined,
    };
    const ok = this.write(eventFrame('SubscribeToShardEvent', EVENT_CONTENT_TYPE[this.wire], encodeBody(this.wire, event)));
    if (final) this.finish(true);
    return ok;
  }

  private write(frame: Buffer): boolean {
    if (this.closed || this.res.writableEnded || this.res.destroyed) return true;
    this.lastEventAt = Date.now();
    return (this.res as { write(b: Buffer): boolean }).write(frame);
  }

  private waitDrain(): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((r) => this.drainWaiters.push(r));
  }

  private wakeDrainWaiters(): void {
    const w = this.drainWaiters;
    this.drainWaiters = [];
    for (const r of w) r();
  }

  /** Ends the stream with a modeled exception message. */
  private fail(type: KinesisError['type'], message: string): void {
    if (this.closed) return;
    this.write(exceptionFrame(type, EVENT_CONTENT_TYPE[this.wire], encodeBody(this.wire, { message })));
    this.finish(true);
  }

  private finish(endResponse: boolean): void {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    if (this.heartbeat) clearTimeout(this.heartbeat);
    this.takeover?.unsubscribe();
    this.unwatch?.();
    // Stops the shard reader's consumer (and deletes it on the server).
    this.a.abort.abort();
    this.wakeDrainWaiters();
    if (endResponse && !this.res.writableEnded && !this.res.destroyed) this.res.end();
    this.done();
  }
}
