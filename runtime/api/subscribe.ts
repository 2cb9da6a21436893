// SubscribeToShard: an HTTP response that stays open and carries AWS
// event-stream messages (initial-response, then SubscribeToShardEvent) for up
// to `subscriptionMs`.
//
// Records are pushed: a JetStream ordered consumer on the shard's stream,
// starting at the requested position, hands every new message to us as the
// server stores it; we send what arrived together as one event (an event
// flushes as soon as the consumer reports nothing pending). When idle, an
// empty event goes out at least every HEARTBEAT_MS.
//
// One subscription per consumer and shard may start every 5 seconds, across
// all runtimes: starting one creates a key in a KV bucket whose entries expire
// after 5 s (JetStream's create is atomic). A later start publishes a takeover
// notice on core NATS; the older subscription then ends with
// ResourceInUseException, as AWS does.
import { resolveShardId } from './shardIds.js';
import { createHash, randomUUID } from 'node:crypto';
import { DeliverPolicy, StorageType, type Consumer, type ConsumerMessages, type KV, type Subscription } from 'nats';
import type { Response } from '../http/server.js';
import { encodeBody, type Wire } from '../http/wire.js';
import { eventFrame, exceptionFrame } from '../http/eventStream.js';
import { decodeSequence, encodeSequence, MAX_RECORDS_PER_MESSAGE } from '../../stream/kinesis/sequence.js';
import { batchArrivalMs, batchCount, decodeBatch } from '../../stream/recordBatch.js';
import { isSealed, openBatch } from '../../stream/batchCipher.js';
import { KeyError } from '../../stream/keyring.js';
import { jsStreamName, jsSubject, shardIndexOf } from '../../stream/names.js';
import { seqAtTimestamp, shardTip } from '../../stream/shardRead.js';
import { hourMs } from '../../stream/streams.js';
import type { Store } from '../../stream/connect.js';
import type { ShardRecord, StreamRecord } from '../../stream/streamRecord.js';
import { liveConsumers } from '../../stream/consumers.js';
import { invalidArgument, resourceInUse, resourceNotFound, type KinesisError } from './errors.js';
import { childShardsOf } from './ops/read.js';
import { keysOf } from './ops/encryption.js';
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
/** Longest a partial event waits while the consumer still reports messages pending. */
const PENDING_FLUSH_MS = 20;

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

function shardMissing(ctx: ApiContext, stream: string, shardId: string) {
  return resourceNotFound(`Shard ${shardId} in stream ${stream} under account ${ctx.config.accountId} does not exist`);
}

/** The sequence number just before a position (what AFTER_SEQUENCE_NUMBER resumes from). */
function before(shardIndex: number, p: { jsSeq: number; index: number }): string {
  if (p.index > 0) return encodeSequence({ shardIndex, jsSeq: p.jsSeq, index: p.index - 1 });
  if (p.jsSeq <= 1) return encodeSequence({ shardIndex, jsSeq: 0, index: 0 });
  return encodeSequence({ shardIndex, jsSeq: p.jsSeq - 1, index: MAX_RECORDS_PER_MESSAGE });
}

async function startPosition(ctx: ApiContext, rec: StreamRecord, shard: ShardRecord, sp: Params): Promise<{ jsSeq: number; index: number }> {
  const type = sp.Type as string;
  const js = jsStreamName(rec.uid, shard.index);
  switch (type) {
    case 'TRIM_HORIZON':
      return { jsSeq: 0, index: 0 };
    case 'LATEST':
      return { jsSeq: (await shardTip(ctx.store, js)).lastSeq + 1, index: 0 };
    case 'AT_TIMESTAMP': {
      const ts = sp.Timestamp as Date | undefined;
      if (!ts) throw invalidArgument('Must specify timestampInMillis parameter for iterator of type AT_TIMESTAMP. Current request has no timestamp parameter.');
      if (ts.getTime() > Date.now()) {
        throw invalidArgument(`The timestampInMillis parameter cannot be greater than the currentTimestampInMillis. timestampInMillis: ${ts.getTime()}, currentTimestampInMillis: ${Date.now()}`);
      }
      return { jsSeq: await seqAtTimestamp(ctx.store, js, jsSubject(rec.uid, shard.index), ts.getTime()), index: 0 };
    }
    default: {
      // AT_SEQUENCE_NUMBER, AFTER_SEQUENCE_NUMBER
      const seq = sp.SequenceNumber as string | undefined;
      if (seq === undefined) {
        throw invalidArgument(`Must specify SequenceNumber for StartingPosition of type ${type}. Current request has no SequenceNumber.`);
      }
      const d = decodeSequence(seq);
      if (!d) {
        throw invalidArgument(`StartingSequenceNumber ${seq} used in SubscribeToShard on shard ${shard.shardId} in stream ${rec.name} under account ${ctx.config.accountId} is invalid.`);
      }
      if (d.shardIndex !== shard.index) {
        throw invalidArgument(`Invalid StartingSequenceNumber. It encodes shardId-${String(d.shardIndex).padStart(12, '0')}, while it was used in a call to a shard with ${shard.shardId}`);
      }
      return type === 'AT_SEQUENCE_NUMBER' ? { jsSeq: d.jsSeq, index: d.index } : { jsSeq: d.jsSeq, index: d.index + 1 };
    }
  }
}

interface EventRecord {
  SequenceNumber: string;
  ApproximateArrivalTimestamp: Date;
  Data: Buffer;
  PartitionKey: string;
  EncryptionType?: string;
}

export const subscribeToShard: StreamingOperation = async (ctx, p, io) => {
  // Everything that can fail the request fails it before the response starts.
  const { stream: rec0, consumer } = await resolveConsumer(ctx, { ConsumerARN: p.ConsumerARN }, false);
  if (consumer.status !== 'ACTIVE') throw consumerNotActive(ctx, rec0.name, consumer);
  const streamName = rec0.name;
  const uid = rec0.uid;
  const shardId = resolveShardId(p.ShardId as string) ?? (p.ShardId as string);
  const idx = shardIndexOf(shardId);
  const shard = idx === undefined ? undefined : rec0.shards.find((s) => s.index === idx);
  if (!shard) throw shardMissing(ctx, streamName, shardId);
  const start = await startPosition(ctx, rec0, shard, p.StartingPosition as Params);
  const jsStream = jsStreamName(uid, shard.index);

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

  let oc: Consumer;
  let messages: ConsumerMessages;
  try {
    oc = await ctx.store.js.consumers.get(jsStream, {
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: Math.max(start.jsSeq, 1),
    });
    messages = await oc.consume({ max_messages: 256 });
  } catch (e) {
    await kv.delete(`sub.${claimKey}`).catch(() => undefined);
    const s = await ctx.cache.fresh(streamName);
    if (!s || s.record.uid !== uid) throw shardMissing(ctx, streamName, shardId);
    throw e;
  }

  await new ShardSubscription(ctx, io, {
    streamName, uid, shard, start, consumer: oc, messages, takeoverSubject, me, consumerName: consumer.name, consumerCreatedAtMs: consumer.createdAtMs,
  }).run();
};

interface SubscriptionArgs {
  streamName: string;
  uid: string;
  shard: ShardRecord;
  start: { jsSeq: number; index: number };
  consumer: Consumer;
  messages: ConsumerMessages;
  takeoverSubject: string;
  me: string;
  consumerName: string;
  consumerCreatedAtMs: number;
}

class ShardSubscription {
  private readonly res: Response;
  private readonly wire: Wire;
  private readonly shardIndex: number;
  private next: { jsSeq: number; index: number };
  private continuation: string;
  private batch: EventRecord[] = [];
  private batchBytes = 0;
  private lastArrivalMs = 0;
  private pending = 0;
  private lastEventAt = Date.now();
  private closed = false;
  private timers: NodeJS.Timeout[] = [];
  private flushTimer?: NodeJS.Timeout;
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
    this.next = { ...a.start };
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
      if (name === this.a.streamName) void this.onRecordChange();
    });
    this.timers.push(setTimeout(() => this.finish(true), this.ctx.config.subscriptionMs));
    this.scheduleHeartbeat(HEARTBEAT_MS);
    // A shard already closed (and read to its end) ends right away.
    await this.checkClosed(true);
    void this.consume();
    await this.finished;
  }

  private async consume(): Promise<void> {
    try {
      for await (const m of this.a.messages) {
        if (this.closed) break;
        const rec = this.record();
        if (!rec) break;
        const fromIndex = m.seq === this.next.jsSeq ? this.next.index : 0;
        const count = batchCount(m.data);
        const inRetention = batchArrivalMs(m.data) >= Date.now() - rec.retentionHours * hourMs();
        // Encrypted messages are opened with the key they name; an unusable key ends the stream with its KMS* error.
        const sealed = isSealed(m.data);
        if (inRetention) {
          const batch = decodeBatch(sealed ? openBatch(m.data, keysOf(this.ctx)) : m.data, fromIndex);
          const encrypted = sealed ? 'KMS' : undefined;
          batch.records.forEach((r, i) => {
            this.batch.push({
              SequenceNumber: encodeSequence({ shardIndex: this.shardIndex, jsSeq: m.seq, index: fromIndex + i }),
              ApproximateArrivalTimestamp: new Date(batch.arrivalMs),
              Data: r.data,
              PartitionKey: r.partitionKey,
              EncryptionType: encrypted,
            });
            this.batchBytes += r.data.length + r.partitionKey.length;
          });
          this.lastArrivalMs = batch.arrivalMs;
        }
        this.next = { jsSeq: m.seq + 1, index: 0 };
        if (count > 0) this.continuation = encodeSequence({ shardIndex: this.shardIndex, jsSeq: m.seq, index: count - 1 });
        this.pending = m.info.pending;
        if (this.drained(rec)) {
          this.flush(true);
          break;
        }
        if (this.pending === 0 || this.batch.length >= MAX_EVENT_RECORDS || this.batchBytes >= MAX_EVENT_BYTES) {
          if (!this.flush(false)) await this.waitDrain();
        } else if (!this.flushTimer && this.batch.length > 0) {
          this.flushTimer = setTimeout(() => {
            this.flushTimer = undefined;
            if (this.batch.length > 0) this.flush(false);
          }, PENDING_FLUSH_MS);
        }
      }
    } catch (e) {
      if (this.closed) return;
      if (e instanceof KeyError) {
        // What came before the message it cannot open still goes out (with its continuation).
        if (this.batch.length > 0) this.flush(false);
        return this.fail(e.code, e.message);
      }
      const s = await this.ctx.cache.fresh(this.a.streamName).catch(() => undefined);
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

  private shardNow(rec: StreamRecord): ShardRecord | undefined {
    return rec.shards.find((s) => s.index === this.shardIndex);
  }

  /** Closed by a reshard and everything up to its last record delivered. */
  private drained(rec: StreamRecord): boolean {
    const end = this.shardNow(rec)?.endingSequenceNumber;
    if (end === undefined) return false;
    const d = decodeSequence(end);
    return d !== undefined && this.next.jsSeq > d.jsSeq;
  }

  private async checkClosed(askTip: boolean): Promise<void> {
    const rec = this.record();
    if (this.closed || !rec) return;
    const end = this.shardNow(rec)?.endingSequenceNumber;
    if (end === undefined) return;
    let drained = this.drained(rec);
    if (!drained && askTip) {
      // Nothing left to deliver although our position is not past the end:
      // the remainder expired (or the end lies beyond what the stream holds).
      const tip = await shardTip(this.ctx.store, jsStreamName(this.a.uid, this.shardIndex)).catch(() => undefined);
      if (tip && (tip.lastSeq < this.next.jsSeq || Math.max(tip.firstSeq, 1) > decodeSequence(end)!.jsSeq)) drained = true;
    }
    if (drained && !this.closed) this.flush(true);
  }

  private async onRecordChange(): Promise<void> {
    if (this.closed) return;
    const rec = this.record();
    if (!rec) {
      this.fail('ResourceNotFoundException', `Shard ${this.a.shard.shardId} in stream ${this.a.streamName} under account ${this.ctx.config.accountId} does not exist`);
      return;
    }
    const live = liveConsumers(rec, Date.now(), this.ctx.config.consumerTransitionMs).find(
      (c) => c.name === this.a.consumerName && c.createdAtMs === this.a.consumerCreatedAtMs,
    );
    if (!live || live.status === 'DELETING') {
      this.finish(true);
      return;
    }
    await this.checkClosed(false);
  }

  private scheduleHeartbeat(ms: number): void {
    this.heartbeat = setTimeout(() => void this.beat(), ms);
  }

  private async beat(): Promise<void> {
    if (this.closed) return;
    const idle = Date.now() - this.lastEventAt;
    if (idle < HEARTBEAT_MS) return this.scheduleHeartbeat(HEARTBEAT_MS - idle);
    await this.checkClosed(true);
    if (this.closed) return;
    if (Date.now() - this.lastEventAt >= HEARTBEAT_MS) this.flush(false);
    this.scheduleHeartbeat(HEARTBEAT_MS);
  }

  /** Sends the collected records as one event; `final` adds ChildShards and ends. Returns false under backpressure. */
  private flush(final: boolean): boolean {
    if (this.closed) return true;
    if (this.flushTimer) {
      clearTimeout(this.flushTimer);
      this.flushTimer = undefined;
    }
    const records = this.batch;
    this.batch = [];
    this.batchBytes = 0;
    const rec = this.record();
    const behind = this.pending > 0 && this.lastArrivalMs > 0 ? Math.max(0, Date.now() - this.lastArrivalMs) : 0;
    const shard = rec && this.shardNow(rec);
    const event = {
      Records: records,
      ContinuationSequenceNumber: final ? undefined : this.continuation,
      MillisBehindLatest: final ? 0 : behind,
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
    // Undelivered records are dropped with the continuation they carried: the
    // client resumes from the last event it received.
    this.batch = [];
    this.batchBytes = 0;
    this.write(exceptionFrame(type, EVENT_CONTENT_TYPE[this.wire], encodeBody(this.wire, { message })));
    this.finish(true);
  }

  private finish(endResponse: boolean): void {
    if (this.closed) return;
    // Records already taken from the consumer go out before a normal end.
    if (endResponse && this.batch.length > 0) this.flush(false);
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    if (this.heartbeat) clearTimeout(this.heartbeat);
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.takeover?.unsubscribe();
    this.unwatch?.();
    this.a.messages.stop();
    // The ordered consumer is ephemeral on the server; remove it now rather than at its inactivity threshold.
    this.a.consumer.delete().catch(() => undefined);
    this.wakeDrainWaiters();
    if (endResponse && !this.res.writableEnded && !this.res.destroyed) this.res.end();
    this.done();
  }
}
