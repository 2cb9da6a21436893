// The RecordProcessor of one leased shard (consumer library): buffer until
// SizeInMBs or IntervalInSeconds, then flush exactly once:
//   1. intent (first/last record, version, destination) → KV (written while
//      the objects are built: it is durable before anything is uploaded)
//   2. objects, named from that range → S3
//   3. checkpoint at the last record (the lease's).
// After a crash the consumer hands out the records after the checkpoint
// again; when the first of them is the intent's first record, the batch is
// re-formed up to the intent's last record and written again: same keys, same
// bytes, so the retried PUT overwrites and nothing lands in two objects. An
// intent the checkpoint has passed is simply ignored (so it is never cleared:
// one KV round trip less per flush).
// Scheduling (Firehose semantics): IntervalInSeconds bounds how long a record
// waits, counted from its arrival in the stream (approximateArrivalTimestamp)
// — but never before the batch that brought it was taken in: a record that is
// already older than the interval when read (a backlog) is flushed with the
// batch it came in, not alone. A timer flushes on time when no further
// records come. Flushes of a shard run one at a time (processRecords and the
// timer are serialized), and a flush that failed half-way is retried with the
// same range and destination before anything else (its intent is written).
import type { Checkpointer, ConsumerRecord, RecordBatch, RecordProcessor } from '../../consumer/types.js';
import type { DeliveryStreamRecord } from '../../stream/deliveryStreams.js';
import { buildObjects, minOf, type OutObject } from './objects.js';
import { httpFlush } from './httpFlush.js';
import { FlushCost } from './flushCost.js';
import type { InRecord, ProcessContext } from './processing.js';
import { beginFlush, hitFailpoint, type ObjectStore } from './s3.js';
import { comparePos, samePos, type FlushIntent, type IntentStore, type RecordPos } from './state.js';
import type { DeliveryMetrics } from './metrics.js';

const MiB = 1024 * 1024;
/** A failed interval flush is tried again after this long (as the consumer retries a failed batch). */
const RETRY_MS = 1_000;
/** An interval flush starts at most this share of the interval early (its expected duration: FlushCost). */
const MAX_LEAD = 0.1;

export interface ProcessorDeps {
  objects: ObjectStore;
  intents: IntentStore;
  metrics?: DeliveryMetrics;
  log: (m: string) => void;
  /** The current definition (UpdateDestination changes it while running). */
  definition: () => DeliveryStreamRecord;
  /** Lambda URLs, ARNs, region for the processing chain. */
  processing: ProcessContext;
  signal: AbortSignal;
  /** Tests shorten the HTTP retry backoff (1 s·2ⁿ). */
  httpBackoffUnitMs?: number;
  /** The HTTP endpoint's access key from the worker's environment (a DeliveryStream resource's Secret); the definition's own wins. */
  httpAccessKey?: string;
}

const posOf = (r: ConsumerRecord): RecordPos => (r.subSequenceNumber === undefined ? { seq: r.sequenceNumber } : { seq: r.sequenceNumber, sub: r.subSequenceNumber });

/**
 * A buffered record: one object over the consumer's record (the hot path of a
 * drain allocates nothing else per record). Its position, the transform's
 * record id and the Kinesis metadata are derived when asked for: only the
 * flush's first and last positions are, and the rest only with a transform.
 */
class Buffered implements InRecord {
  readonly data: Buffer;
  readonly arrivalMs: number;
  constructor(readonly source: ConsumerRecord, private readonly fromKinesis: boolean) {
    this.data = source.data;
    this.arrivalMs = source.approximateArrivalTimestamp.getTime();
  }

  get pos(): RecordPos {
    return posOf(this.source);
  }

  /** The record id Firehose hands the transform: stable across a replay (its position). */
  get recordId(): string {
    const r = this.source;
    return r.subSequenceNumber === undefined ? r.sequenceNumber : `${r.sequenceNumber}.${r.subSequenceNumber}`;
  }

  get kinesis(): InRecord['kinesis'] {
    const r = this.source;
    return this.fromKinesis ? { shardId: r.shardId, partitionKey: r.partitionKey, sequenceNumber: r.sequenceNumber, subsequenceNumber: r.subSequenceNumber } : undefined;
  }
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((r) => {
    const t = setTimeout(r, ms);
    signal.addEventListener('abort', () => (clearTimeout(t), r()), { once: true });
  });

/** A formed flush: its records and intent are fixed from now on (a retry writes exactly these). */
interface Pending { intent: FlushIntent; records: Buffered[]; bytes: number; intentWritten: boolean }

export class DeliveryProcessor implements RecordProcessor {
  private buffer: Buffered[] = [];
  private bytes = 0;
  /** Oldest arrival among the buffered records, and when the batch bringing the first of them was taken in. */
  private oldestArrivalMs = Infinity;
  private takenAt = 0;
  /** A flush interrupted by a crash, to be re-formed from the records handed out again. */
  private replay?: FlushIntent;
  private shardId = '';
  /** The flush being written (or that failed and is retried first). */
  private pending?: Pending;
  /** Resolves once the pending flush's intent is in KV (awaited before anything is uploaded). */
  private intentDurable: Promise<void> = Promise.resolve();
  /** The last record taken into the buffer. */
  private lastPushed?: ConsumerRecord;
  /** When the batch being taken in was handed over. */
  private batchAt = 0;
  /** processRecords and timer flushes, one after the other. */
  private work: Promise<unknown> = Promise.resolve();
  private timer?: NodeJS.Timeout;
  private timerAt = 0;
  /** The consumer's checkpointer for this shard (the timer flushes with it). */
  private cp?: Checkpointer;
  /** Handed over, ended or lost: no more timer flushes. */
  private closed = false;
  private readonly cost = new FlushCost();

  constructor(private readonly deps: ProcessorDeps) {}

  async initialize(input: { shardId: string }): Promise<void> {
    this.shardId = input.shardId;
    this.replay = await this.deps.intents.get();
  }

  /** Runs `f` after everything queued before it (processRecords and timer flushes never overlap). */
  private serial<T>(f: () => Promise<T>): Promise<T> {
    const run = this.work.then(f, f);
    this.work = run.catch(() => undefined);
    return run;
  }

  processRecords(batch: RecordBatch, cp: Checkpointer): Promise<void> {
    this.cp = cp;
    return this.serial(() => this.take(batch, cp));
  }

  private async take(batch: RecordBatch, cp: Checkpointer): Promise<void> {
    // A flush that failed half-way goes first, as it was formed (throws again if it fails: the consumer retries the batch).
    if (this.pending) await this.deliver(cp);
    let records = batch.records;
    // The consumer hands a batch again when processRecords threw (e.g. the intent write failed):
    // what was already taken in (buffered, or flushed) must not be buffered twice.
    const seen = this.lastPushed && posOf(this.lastPushed);
    if (seen && records.length && comparePos(posOf(records[0]!), seen) <= 0) records = records.filter((r) => comparePos(posOf(r), seen) > 0);
    if (records.length) {
      let bytes = 0;
      for (const r of records) bytes += r.data.length;
      this.deps.metrics?.incoming(records.length, bytes);
    }
    this.batchAt = Date.now();
    // The definition is read once per batch and again after each flush (UpdateDestination applies to the next flush).
    let def = this.deps.definition();
    let sizeLimit = def.s3.BufferingHints.SizeInMBs * MiB;
    for (const r of records) {
      if (this.replay) {
        const pos = posOf(r);
        if (this.buffer.length === 0 && !samePos(pos, this.replay.first)) {
          // The checkpoint is past the intent (the flush completed): nothing to replay.
          if (comparePos(pos, this.replay.first) > 0) this.replay = undefined;
        }
        if (this.replay) {
          this.push(r, def);
          if (samePos(pos, this.replay.last)) {
            const intent = this.replay;
            this.replay = undefined;
            this.deps.log(`${this.shardId}: replaying the flush of ${intent.records} records interrupted at ${intent.first.seq}`);
            this.form(intent, true);
            await this.deliver(cp);
          }
          continue;
        }
      }
      this.push(r, def);
      if (this.bytes >= sizeLimit) {
        await this.flush(cp);
        def = this.deps.definition();
        sizeLimit = def.s3.BufferingHints.SizeInMBs * MiB;
      }
    }
    if (this.due()) await this.flush(cp);
    this.arm();
  }

  private push(r: ConsumerRecord, def: DeliveryStreamRecord) {
    if (this.buffer.length === 0) this.takenAt = this.batchAt;
    const b = new Buffered(r, def.type === 'KinesisStreamAsSource');
    if (b.arrivalMs < this.oldestArrivalMs) this.oldestArrivalMs = b.arrivalMs;
    this.buffer.push(b);
    this.lastPushed = r;
    this.bytes += r.data.length;
  }

  /**
   * When the buffer must be flushed: IntervalInSeconds after its oldest record's arrival, less the time the flush is
   * expected to take (so the object is in S3 when the interval is up; at most a tenth of the interval), but not before
   * the batch that brought it was taken in (records already overdue when read go with their batch), nor more than the
   * interval after it (an arrival stamped by a clock ahead of the worker's). Undefined:
   * nothing to flush (empty, or an interrupted flush is still being re-formed: only its own records may go into it).
   */
  private deadline(): number | undefined {
    if (this.buffer.length === 0 || this.replay) return undefined;
    const intervalMs = this.deps.definition().s3.BufferingHints.IntervalInSeconds * 1000;
    const lead = Math.min(this.cost.predictMs(this.bytes), intervalMs * MAX_LEAD);
    // Nor later than the interval after it was read: an arrival stamped by a clock ahead of this one must not hold it longer.
    return Math.max(Math.min(this.oldestArrivalMs, this.takenAt) + intervalMs - lead, this.takenAt);
  }

  private due(): boolean {
    const d = this.deadline();
    return d !== undefined && Date.now() >= d;
  }

  /** A timer at the deadline, so an interval flush happens on time when no further records come. */
  private arm(): void {
    const d = this.closed ? undefined : this.deadline();
    if (d === undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    } else if (!this.timer || this.timerAt !== d) {
      this.timerAt = d;
      this.schedule(d - Date.now());
    }
  }

  private schedule(ms: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.serial(() => this.onTimer()).catch((e) => {
        // The flush stays formed (pending); this timer, or the next batch, retries it.
        this.deps.log(`${this.shardId}: interval flush failed (${(e as Error).message}); retrying in ${RETRY_MS} ms`);
        if (!this.closed && !this.timer) this.schedule(RETRY_MS);
      });
    }, Math.max(0, ms));
  }

  private async onTimer(): Promise<void> {
    const cp = this.cp;
    if (this.closed || !cp) return;
    if (this.pending) await this.deliver(cp);
    if (this.due()) await this.flush(cp);
    this.arm();
  }

  /** No more timer flushes; waits for one in progress. */
  private async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.work;
  }

  async shardEnded(cp: Checkpointer): Promise<void> {
    await this.close();
    if (this.pending) await this.deliver(cp);
    if (this.buffer.length) await this.flush(cp);
    await cp.checkpoint();
  }

  async shutdownRequested(cp: Checkpointer): Promise<void> {
    await this.close();
    // Deliver what is buffered before handing the shard over (unless a replay is still incomplete: the next owner redoes it).
    if (this.pending) await this.deliver(cp);
    if (this.buffer.length && !this.replay) await this.flush(cp);
  }

  /** Arrival of the oldest record not yet delivered (buffered or being flushed); undefined when none. */
  oldestPendingMs(): number | undefined {
    const flushing = this.pending ? minOf(this.pending.records, (r) => r.arrivalMs) : Infinity;
    const oldest = Math.min(flushing, this.buffer.length ? this.oldestArrivalMs : Infinity);
    return oldest === Infinity ? undefined : oldest;
  }

  leaseLost(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.buffer = [];
    this.bytes = 0;
    this.oldestArrivalMs = Infinity;
    this.pending = undefined;
  }

  /** Forms a flush of the whole buffer with a new intent. */
  private async flush(cp: Checkpointer): Promise<void> {
    const def = this.deps.definition();
    const intent: FlushIntent = { first: this.buffer[0]!.pos, last: this.buffer[this.buffer.length - 1]!.pos, records: this.buffer.length, versionId: def.versionId, s3: def.s3, http: def.http };
    this.form(intent, false);
    await this.deliver(cp);
  }

  /** The buffer becomes the pending flush of `intent`. */
  private form(intent: FlushIntent, intentWritten: boolean): void {
    this.pending = { intent, records: this.buffer, bytes: this.bytes, intentWritten };
    this.buffer = [];
    this.bytes = 0;
    this.oldestArrivalMs = Infinity;
  }

  /** Writes the pending flush: intent (unless written), objects, checkpoint. On failure it stays pending, unchanged. */
  private async deliver(cp: Checkpointer): Promise<void> {
    const p = this.pending!;
    const started = Date.now();
    if (!p.intentWritten) {
      const written = this.deps.intents.set(p.intent).then(() => void (p.intentWritten = true));
      written.catch(() => undefined); // awaited below or in upload()
      this.intentDurable = written;
      // An HTTP endpoint hears of the batch before its objects are built: the intent must be durable first.
      if (p.intent.http) await written;
    } else {
      this.intentDurable = Promise.resolve();
    }
    try {
      await this.upload(p.intent, p.records, cp);
    } finally {
      // Settled either way (upload may fail before awaiting it): no unhandled rejection, and a failed write is retried.
      await this.intentDurable.catch(() => undefined);
    }
    this.pending = undefined;
    this.cost.observe(p.bytes, Date.now() - started);
  }

  private async upload(intent: FlushIntent, records: Buffered[], cp: Checkpointer): Promise<void> {
    beginFlush();
    const def = this.deps.definition();
    const flush = { deliveryStreamName: def.name, uid: def.uid, shardId: this.shardId, first: intent.first, last: intent.last, versionId: intent.versionId, s3: intent.s3, records };
    // HTTP endpoint: processing, one request, S3 gets backups and failures (httpFlush.ts).
    const objects: OutObject[] = intent.http
      ? await httpFlush(flush, intent.http, { processing: this.deps.processing, signal: this.deps.signal, log: this.deps.log, metrics: this.deps.metrics, backoffUnitMs: this.deps.httpBackoffUnitMs, accessKey: this.deps.httpAccessKey })
      : await buildObjects(flush, this.deps.processing);
    // The intent was written while the objects were built; nothing is uploaded before it is durable.
    await this.intentDurable;
    hitFailpoint('before-upload');
    for (const o of objects) {
      const started = Date.now();
      // Transient S3 failures are retried with backoff until they succeed or the worker stops: the intent keeps the batch.
      for (let attempt = 0; ; attempt++) {
        try {
          await this.deps.objects.put(o.bucket, o.key, o.body);
          if (o.error) this.deps.metrics?.failed(o.error, o.records);
          else if (!o.backup) this.deps.metrics?.delivered(o.records, o.body.length, Date.now() - started);
          break;
        } catch (e) {
          this.deps.metrics?.failed((e as { code?: string }).code ?? 'S3Error', 0, `s3://${o.bucket}: ${(e as Error).message}`);
          this.deps.log(`${this.shardId}: put ${o.key}: ${(e as Error).message} (attempt ${attempt + 1})`);
          if (this.deps.signal.aborted) throw e;
          await sleep(Math.min(30_000, 500 * 2 ** attempt), this.deps.signal);
        }
      }
    }
    hitFailpoint('after-upload');
    await cp.checkpoint(intent.last.seq, intent.last.sub);
  }
}
