// The RecordProcessor of one leased shard (consumer library): buffer until
// SizeInMBs or IntervalInSeconds, then flush exactly once:
//   1. intent (first/last record, version, destination) → KV
//   2. objects, named from that range → S3
//   3. checkpoint at the last record (the lease's), intent cleared.
// After a crash the consumer hands out the records after the checkpoint
// again; when the first of them is the intent's first record, the batch is
// re-formed up to the intent's last record and written again: same keys, same
// bytes, so the retried PUT overwrites and nothing lands in two objects.
import type { Checkpointer, ConsumerRecord, RecordBatch, RecordProcessor } from '../../consumer/types.js';
import type { DeliveryStreamRecord } from '../../stream/deliveryStreams.js';
import { buildObjects, failedToS3, minOf, type OutObject } from './objects.js';
import { deliverHttp } from './httpEndpoint.js';
import { derivedUuid } from './objectName.js';
import type { InRecord, ProcessContext } from './processing.js';
import { beginFlush, hitFailpoint, type ObjectStore } from './s3.js';
import { comparePos, samePos, type FlushIntent, type IntentStore, type RecordPos } from './state.js';
import type { DeliveryMetrics } from './metrics.js';

const MiB = 1024 * 1024;

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

export class DeliveryProcessor implements RecordProcessor {
  private buffer: Buffered[] = [];
  private bytes = 0;
  private firstAt = 0;
  /** A flush interrupted by a crash, to be re-formed from the records handed out again. */
  private replay?: FlushIntent;
  private shardId = '';
  /** Oldest arrival in the flush being written (its records left the buffer but are not delivered yet). */
  private pendingSince?: number;
  /** The last record taken into the buffer. */
  private lastPushed?: ConsumerRecord;

  constructor(private readonly deps: ProcessorDeps) {}

  async initialize(input: { shardId: string }): Promise<void> {
    this.shardId = input.shardId;
    this.replay = await this.deps.intents.get();
  }

  async processRecords(batch: RecordBatch, cp: Checkpointer): Promise<void> {
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
    // The definition is read once per batch and again after each flush (UpdateDestination applies to the next flush).
    let def = this.deps.definition();
    let sizeLimit = def.s3.BufferingHints.SizeInMBs * MiB;
    for (const r of records) {
      if (this.replay) {
        const pos = posOf(r);
        if (this.buffer.length === 0 && !samePos(pos, this.replay.first)) {
          // The checkpoint is past the intent (it was written, the intent not yet cleared): nothing to replay.
          if (comparePos(pos, this.replay.first) > 0) this.replay = undefined;
        }
        if (this.replay) {
          this.push(r, def);
          if (samePos(pos, this.replay.last)) {
            const intent = this.replay;
            this.replay = undefined;
            this.deps.log(`${this.shardId}: replaying the flush of ${intent.records} records interrupted at ${intent.first.seq}`);
            await this.write(intent, cp);
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
    const hints = this.deps.definition().s3.BufferingHints;
    if (!this.replay && this.buffer.length && Date.now() - this.firstAt >= hints.IntervalInSeconds * 1000) await this.flush(cp);
  }

  private push(r: ConsumerRecord, def: DeliveryStreamRecord) {
    if (this.buffer.length === 0) this.firstAt = Date.now();
    this.buffer.push(new Buffered(r, def.type === 'KinesisStreamAsSource'));
    this.lastPushed = r;
    this.bytes += r.data.length;
  }

  async shardEnded(cp: Checkpointer): Promise<void> {
    if (this.buffer.length) await this.flush(cp);
    await cp.checkpoint();
  }

  async shutdownRequested(cp: Checkpointer): Promise<void> {
    // Deliver what is buffered before handing the shard over (unless a replay is still incomplete: the next owner redoes it).
    if (this.buffer.length && !this.replay) await this.flush(cp);
  }

  /** Arrival of the oldest record not yet delivered (buffered or being flushed); undefined when none. */
  oldestPendingMs(): number | undefined {
    return this.pendingSince ?? (this.buffer.length ? minOf(this.buffer, (r) => r.arrivalMs) : undefined);
  }

  leaseLost(): void {
    this.buffer = [];
    this.bytes = 0;
  }

  private async flush(cp: Checkpointer): Promise<void> {
    const def = this.deps.definition();
    const intent: FlushIntent = { first: this.buffer[0]!.pos, last: this.buffer[this.buffer.length - 1]!.pos, records: this.buffer.length, versionId: def.versionId, s3: def.s3, http: def.http };
    await this.deps.intents.set(intent);
    await this.write(intent, cp);
  }

  private async write(intent: FlushIntent, cp: Checkpointer): Promise<void> {
    const records = this.buffer;
    this.buffer = [];
    this.bytes = 0;
    this.pendingSince = records.length ? minOf(records, (r) => r.arrivalMs) : undefined;
    try {
      await this.upload(intent, records, cp);
    } finally {
      this.pendingSince = undefined;
    }
  }

  private async upload(intent: FlushIntent, records: Buffered[], cp: Checkpointer): Promise<void> {
    beginFlush();
    const def = this.deps.definition();
    const flush = { deliveryStreamName: def.name, uid: def.uid, shardId: this.shardId, first: intent.first, last: intent.last, versionId: intent.versionId, s3: intent.s3, records };
    let objects: OutObject[];
    if (intent.http) {
      // HTTP endpoint: one request per flush; S3 gets all data (AllData) or what failed (FailedDataOnly).
      const requestId = derivedUuid(`${def.uid}/${this.shardId}/${intent.first.seq}.${intent.first.sub ?? ''}-${intent.last.seq}.${intent.last.sub ?? ''}/http`);
      const started = Date.now();
      const endpoint = { ...intent.http, AccessKey: intent.http.AccessKey ?? this.deps.httpAccessKey };
      const outcome = await deliverHttp(endpoint, records, { requestId, sourceArn: this.deps.processing.deliveryStreamArn, signal: this.deps.signal, log: this.deps.log, backoffUnitMs: this.deps.httpBackoffUnitMs });
      if (outcome.ok) this.deps.metrics?.deliveredHttp(records.length, Date.now() - started);
      objects = intent.http.S3BackupMode === 'AllData' ? (await buildObjects(flush, this.deps.processing)).map((o) => ({ ...o, backup: true })) : [];
      if (!outcome.ok) {
        this.deps.metrics?.failed(outcome.errorCode, 0, `${intent.http.Url}: ${outcome.errorMessage}`);
        objects.push(...failedToS3(flush, 'http-endpoint-failed', records.map((r) => ({
          attemptsMade: outcome.attempts, arrivalTimestamp: r.arrivalMs, errorCode: outcome.errorCode, errorMessage: outcome.errorMessage,
          attemptEndingTimestamp: Date.now(), rawData: r.data.toString('base64'), EndpointUrl: intent.http!.Url, EndpointName: intent.http!.Name,
        }))));
      }
    } else {
      objects = await buildObjects(flush, this.deps.processing);
    }
    hitFailpoint('before-upload');
    for (const o of objects) {
      const started = Date.now();
      // Transient S3 failures are retried with backoff until they succeed or the worker stops: the intent keeps the batch.
      for (let attempt = 0; ; attempt++) {
        try {
          await this.deps.objects.put(o.bucket, o.key, o.body);
          if (o.error) this.deps.metrics?.failed(o.error, o.records);
          else if (!o.backup) this.deps.metrics?.delivered(o.records, o.body.length, Date.now() - started, records);
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
    await this.deps.intents.clear();
  }
}
