// One leased shard: open the source at the checkpoint, read, hand records to
// the application's processor, until the shard ends, the worker hands the
// lease over (graceful: shutdownRequested, final checkpoint) or loses it.
import type { ConsumerMetrics } from './metrics.js';
import { SHARD_END } from './leaseRecords.js';
import { compareSequence, userRecords } from './userRecords.js';
import type { Checkpointer, ConsumerRecord, RecordProcessor, ShardReader, ShardSource, SourceStart } from './types.js';
import type { PackedRecords } from '../stream/packedRecords.js';

/** The lease is no longer this worker's: nothing it does for the shard counts any more. */
export class LeaseLostError extends Error {
  constructor(shardId: string) {
    super(`lease of ${shardId} lost`);
    this.name = 'LeaseLostError';
  }
}

export interface RunnerOptions {
  applicationName: string;
  streamName: string;
  shardId: string;
  /** The lease's checkpoint when taken. */
  checkpoint: string;
  subSequenceNumber?: number;
  source: ShardSource;
  processor: RecordProcessor;
  maxRecords: number;
  idleTimeBetweenReadsMs: number;
  deaggregate: boolean;
  callProcessRecordsEvenForEmptyRecordList: boolean;
  metrics: ConsumerMetrics;
  log: (msg: string) => void;
  /** Stores a checkpoint in the lease (compare-and-set); rejects with LeaseLostError. */
  writeCheckpoint(sequenceNumber: string, subSequenceNumber?: number): Promise<void>;
}

const RETRY_MS = 1_000;

export function startOf(checkpoint: string, sub?: number): SourceStart {
  if (checkpoint === 'TRIM_HORIZON' || checkpoint === 'LATEST') return { type: checkpoint };
  if (checkpoint.startsWith('AT_TIMESTAMP:')) return { type: 'AT_TIMESTAMP', timestampMs: Number(checkpoint.slice('AT_TIMESTAMP:'.length)) };
  // Inside an aggregate: read it again and skip the user records already processed.
  return sub === undefined ? { type: 'AFTER_SEQUENCE_NUMBER', sequenceNumber: checkpoint } : { type: 'AT_SEQUENCE_NUMBER', sequenceNumber: checkpoint };
}

export class ShardRunner {
  readonly done: Promise<void>;
  /** User records processed since the last call of takeProcessed(). */
  private processed = 0;
  private stopping?: 'shutdown' | 'lost';
  private readonly abort = new AbortController();
  private lastHandedOut?: { seq: string; sub?: number };
  private inShardEnded = false;
  /** The processor checkpointed SHARD_END. */
  ended = false;
  private wakeRetry?: () => void;

  constructor(private readonly o: RunnerOptions) {
    this.done = this.run();
  }

  /** The shard's lag as the last read measured it (MillisBehindLatest) and the age of the last record processed: written into the lease at renewal, where the operator reads it to scale workers. */
  lag: { millisBehindLatest: number; iteratorAgeMs: number } = { millisBehindLatest: 0, iteratorAgeMs: 0 };

  takeProcessed(): number {
    const n = this.processed;
    this.processed = 0;
    return n;
  }

  /** Graceful: finish the batch in hand, then shutdownRequested (final checkpoint). */
  shutdown(): Promise<void> {
    this.stopping ??= 'shutdown';
    this.abort.abort();
    this.wakeRetry?.();
    return this.done;
  }

  /** The lease is gone: stop at once; checkpoints from now on fail. */
  lost(): Promise<void> {
    this.stopping = 'lost';
    this.abort.abort();
    this.wakeRetry?.();
    return this.done;
  }

  private readonly checkpointer: Checkpointer = {
    checkpoint: async (sequenceNumber?: string, subSequenceNumber?: number) => {
      if (this.stopping === 'lost') throw new LeaseLostError(this.o.shardId);
      if (sequenceNumber === undefined) {
        if (this.inShardEnded) {
          await this.o.writeCheckpoint(SHARD_END);
          this.ended = true;
          return;
        }
        if (!this.lastHandedOut) return;
        sequenceNumber = this.lastHandedOut.seq;
        subSequenceNumber = this.lastHandedOut.sub;
      } else if (!this.lastHandedOut || compareSequence(sequenceNumber, this.lastHandedOut.seq) > 0) {
        throw new Error(`checkpoint ${sequenceNumber} is beyond the last record handed out on ${this.o.shardId}`);
      }
      await this.o.writeCheckpoint(sequenceNumber, subSequenceNumber);
    },
  };

  private async pause(ms: number): Promise<void> {
    await new Promise<void>((r) => {
      const t = setTimeout(r, ms);
      this.wakeRetry = () => (clearTimeout(t), r());
    });
    this.wakeRetry = undefined;
  }

  private async run(): Promise<void> {
    const { o } = this;
    const labels = { application: o.applicationName, stream: o.streamName, shard: o.shardId };
    let reader: ShardReader | undefined;
    try {
      await o.processor.initialize?.({ shardId: o.shardId, checkpoint: o.checkpoint });
      // Records up to this position were processed under an earlier lease (a sub-sequence checkpoint).
      let skip = o.subSequenceNumber === undefined ? undefined : { seq: o.checkpoint, sub: o.subSequenceNumber };
      while (!this.stopping) {
        try {
          reader ??= await o.source.openShard(o.streamName, o.shardId, startOf(o.checkpoint, o.subSequenceNumber));
          const readAtMs = Date.now();
          const batch = await reader.next({ limit: o.maxRecords, waitMs: o.idleTimeBetweenReadsMs, signal: this.abort.signal, packed: o.processor.processPackedRecords !== undefined });
          if (this.stopping) break;
          const packed = batch.packed;
          o.metrics.millisBehindLatest.set(labels, batch.millisBehindLatest);
          this.lag.millisBehindLatest = batch.millisBehindLatest;
          if (packed && !skip && !(o.deaggregate && packed.hasAggregates())) {
            if (batch.millisBehindLatest === 0 && packed.count === 0) this.lag.iteratorAgeMs = 0;
            if (packed.count > 0 || o.callProcessRecordsEvenForEmptyRecordList) await this.processPacked(packed, batch.millisBehindLatest, readAtMs);
          } else {
            // Packed records that need de-aggregation or skipping go the ordinary way.
            const source = packed ? packed.toRecords() : batch.records;
            let records = userRecords(o.shardId, source, { deaggregate: o.deaggregate });
            if (skip) {
              const s = skip;
              records = records.filter((r) => r.sequenceNumber !== s.seq || (r.subSequenceNumber ?? 0) > s.sub);
              if (source.length > 0) skip = undefined;
            }
            if (batch.millisBehindLatest === 0 && records.length === 0) this.lag.iteratorAgeMs = 0;
            if (records.length > 0 || o.callProcessRecordsEvenForEmptyRecordList) await this.process(records, batch.millisBehindLatest, readAtMs);
          }
          if (batch.shardEnded) {
            await this.finishShard();
            return;
          }
        } catch (e) {
          if (this.stopping) break;
          o.log(`${o.shardId}: ${(e as Error).message}; retrying in ${RETRY_MS} ms`);
          await this.pause(RETRY_MS);
        }
      }
      if (this.stopping === 'shutdown') await o.processor.shutdownRequested?.(this.checkpointer);
      else await o.processor.leaseLost?.();
    } catch (e) {
      o.log(`${o.shardId}: ${(e as Error).message}`);
    } finally {
      await reader?.close();
    }
  }

  /** processRecords, again after a pause when it throws (records are never skipped). */
  private async process(records: ConsumerRecord[], millisBehindLatest: number, readAtMs: number): Promise<void> {
    const last = records[records.length - 1];
    await this.handOut({
      count: records.length,
      last: last && { seq: last.sequenceNumber, sub: last.subSequenceNumber, arrivalMs: last.approximateArrivalTimestamp.getTime() },
      bytes: () => records.reduce((n, r) => n + r.data.length, 0),
      call: () => this.o.processor.processRecords({ shardId: this.o.shardId, records, millisBehindLatest, readAtMs }, this.checkpointer),
    });
  }

  /** processPackedRecords, as process() does processRecords. */
  private async processPacked(packed: PackedRecords, millisBehindLatest: number, readAtMs: number): Promise<void> {
    const seq = packed.lastSequenceNumber();
    await this.handOut({
      count: packed.count,
      last: seq === undefined ? undefined : { seq, arrivalMs: packed.lastArrivalMs()! },
      bytes: () => packed.dataBytes(),
      call: () => this.o.processor.processPackedRecords!({ shardId: this.o.shardId, packed, millisBehindLatest, readAtMs }, this.checkpointer),
    });
    // Processed (a failed call is retried with the same bytes above, so not before).
    if (this.o.processor.packedBytesDuringCallOnly) packed.recycle();
  }

  private async handOut(b: { count: number; last?: { seq: string; sub?: number; arrivalMs: number }; bytes(): number; call(): Promise<void> }): Promise<void> {
    const { o } = this;
    const last = b.last;
    const before = this.lastHandedOut;
    if (last) this.lastHandedOut = { seq: last.seq, sub: last.sub };
    for (;;) {
      const t0 = process.hrtime.bigint();
      try {
        await b.call();
        o.metrics.latency.observe({ application: o.applicationName, stream: o.streamName }, Number(process.hrtime.bigint() - t0) / 1e9);
        break;
      } catch (e) {
        if (e instanceof LeaseLostError || this.stopping === 'lost') throw e;
        o.log(`${o.shardId}: processRecords failed (${(e as Error).message}); the batch is retried in ${RETRY_MS} ms`);
        await this.pause(RETRY_MS);
        if (this.stopping) {
          // Not processed: a final no-argument checkpoint must not cover it.
          this.lastHandedOut = before;
          throw e;
        }
      }
    }
    if (b.count === 0) return;
    const labels = { application: o.applicationName, stream: o.streamName, shard: o.shardId };
    this.processed += b.count;
    o.metrics.records.inc(labels, b.count);
    o.metrics.bytes.inc(labels, b.bytes());
    this.lag.iteratorAgeMs = Math.max(0, Date.now() - last!.arrivalMs);
    o.metrics.iteratorAgeMs.set(labels, this.lag.iteratorAgeMs);
  }

  /** shardEnded until the processor checkpoints SHARD_END (its children wait for that). */
  private async finishShard(): Promise<void> {
    this.inShardEnded = true;
    while (!this.ended && !this.stopping) {
      try {
        await this.o.processor.shardEnded(this.checkpointer);
      } catch (e) {
        if (e instanceof LeaseLostError) return;
        this.o.log(`${this.o.shardId}: shardEnded failed: ${(e as Error).message}`);
      }
      if (!this.ended) {
        this.o.log(`${this.o.shardId}: shardEnded did not checkpoint; its children wait. Called again in ${RETRY_MS} ms`);
        await this.pause(RETRY_MS);
      }
    }
  }
}
