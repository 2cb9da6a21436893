// One shard of an event source mapping: records are gathered into batches
// (BatchSize, batching window, 6 MiB) on up to ParallelizationFactor lanes
// (a partition key always maps to the same lane, so its records stay in
// order; each lane has one batch in flight), and handed to the function.
// A failed batch is retried (or bisected), and finally discarded to the
// failure destination. The checkpoint advances over the longest prefix of the
// shard whose records are all done, so a restart never skips a record.
import { createHash } from 'node:crypto';
import type { Checkpointer, ConsumerRecord, RecordBatch, RecordProcessor } from '../types.js';
import { onFailureRecord, type FailureCondition } from './failure.js';
import { MAX_PAYLOAD_BYTES, type EventSourceMappingSettings } from './settings.js';

export type BatchHandler = (batch: { shardId: string; records: ConsumerRecord[] }) => Promise<void>;

interface Entry {
  r: ConsumerRecord;
  bytes: number;
  at: number;
  done: boolean;
}

/** The record's share of the Lambda event: base64 data, key, sequence number (twice) and the fixed fields and ARNs (≤ 512 bytes). */
export function eventBytes(r: ConsumerRecord): number {
  return Math.ceil(r.data.length / 3) * 4 + Buffer.byteLength(r.partitionKey) + 2 * r.sequenceNumber.length + 512;
}

/** Raised inside a lane when the shard is being given up: the batch is neither done nor failed. */
class Abandoned extends Error {}

export interface ShardBatcherContext {
  shardId: string;
  handler: BatchHandler;
  settings: EventSourceMappingSettings;
  functionArn: string;
  streamArn: string;
  now: () => number;
  log: (m: string) => void;
  /** The shard is done with (ended, handed over, lost). */
  onClose?: () => void;
}

export class ShardBatcher implements RecordProcessor {
  private readonly lanes: Lane[];
  /** Every record handed to a lane and not yet covered by a checkpoint, in shard order. */
  private readonly order: Entry[] = [];
  private cp?: Checkpointer;
  private checkpointing: Promise<void> = Promise.resolve();
  stopped = false;
  private progressWaiters: (() => void)[] = [];
  /** A checkpoint failed (the lease is gone): surfaced from the next processRecords. */
  private failure?: Error;

  constructor(readonly ctx: ShardBatcherContext) {
    this.lanes = Array.from({ length: ctx.settings.parallelizationFactor ?? 1 }, () => new Lane(this));
  }

  get batchSize(): number {
    return this.ctx.settings.batchSize ?? 100;
  }
  get windowMs(): number {
    return (this.ctx.settings.maximumBatchingWindowInSeconds ?? 0) * 1000;
  }

  private laneOf(key: string): Lane {
    if (this.lanes.length === 1) return this.lanes[0]!;
    return this.lanes[createHash('md5').update(key).digest().readUInt32BE(0) % this.lanes.length]!;
  }

  async processRecords(batch: RecordBatch, cp: Checkpointer): Promise<void> {
    if (this.failure) throw this.failure;
    this.cp = cp;
    const at = this.ctx.now();
    for (const r of batch.records) {
      const e: Entry = { r, bytes: eventBytes(r), at, done: false };
      this.order.push(e);
      this.laneOf(r.partitionKey).add(e);
    }
    for (const l of this.lanes) l.maybeFlush(false);
    // Back-pressure: read on only while every lane has at most about a batch waiting.
    while (!this.stopped && this.lanes.reduce((n, l) => n + l.buffered, 0) > this.lanes.length * this.batchSize) await this.progress();
  }

  async shardEnded(cp: Checkpointer): Promise<void> {
    this.cp = cp;
    await this.drain(true);
    if (this.failure) throw this.failure;
    await cp.checkpoint();
    this.ctx.onClose?.();
  }

  async shutdownRequested(cp: Checkpointer): Promise<void> {
    this.cp = cp;
    // Batches in flight finish (their retries are abandoned); gathered ones are left for the next owner.
    this.halt();
    await Promise.all(this.lanes.map((l) => l.inFlight));
    await this.advance();
    await this.checkpointing;
    this.ctx.onClose?.();
  }

  leaseLost(): void {
    this.halt();
    this.ctx.onClose?.();
  }

  /** No new invocations, no more retries; what is in flight completes. */
  halt(): void {
    this.stopped = true;
    for (const l of this.lanes) l.stop();
    this.onBatchDone();
  }

  /** Everything gathered is invoked now (window or not), and waited for. */
  private async drain(force: boolean): Promise<void> {
    while (!this.stopped && this.lanes.some((l) => l.buffered > 0 || l.inFlight)) {
      for (const l of this.lanes) l.maybeFlush(force);
      await this.progress();
    }
    await this.checkpointing;
  }

  private progress(): Promise<void> {
    return new Promise((r) => this.progressWaiters.push(r));
  }

  /** A batch finished (done or discarded): move the checkpoint over the completed prefix. */
  onBatchDone(): void {
    void this.advance();
    const w = this.progressWaiters;
    this.progressWaiters = [];
    for (const r of w) r();
  }

  private advance(): Promise<void> {
    let last: Entry | undefined;
    while (this.order.length > 0 && this.order[0]!.done) last = this.order.shift();
    const cp = this.cp;
    if (!last || !cp) return this.checkpointing;
    const { sequenceNumber, subSequenceNumber } = last.r;
    this.checkpointing = this.checkpointing
      .then(() => cp.checkpoint(sequenceNumber, subSequenceNumber))
      .catch((e: Error) => {
        this.failure ??= e;
        this.halt();
      });
    return this.checkpointing;
  }

  async sendFailure(records: ConsumerRecord[], condition: FailureCondition, invokeCount: number): Promise<void> {
    const { ctx } = this;
    ctx.log(`${ctx.shardId}: discarding ${records.length} records (${condition}) ${records[0]!.sequenceNumber}..${records[records.length - 1]!.sequenceNumber}`);
    if (!ctx.settings.onFailure) return;
    const rec = onFailureRecord({ shardId: ctx.shardId, records, condition, invokeCount, functionArn: ctx.functionArn, streamArn: ctx.streamArn, nowMs: ctx.now() });
    // The destination must get it: retried until it does (or the shard is given up).
    for (let delay = 200; ; delay = Math.min(10_000, delay * 2)) {
      try {
        await ctx.settings.onFailure(rec);
        return;
      } catch (e) {
        if (this.stopped) throw new Abandoned();
        ctx.log(`${ctx.shardId}: failure destination: ${(e as Error).message}`);
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }
}

class Lane {
  private buf: Entry[] = [];
  private bytes = 0;
  private timer?: NodeJS.Timeout;
  inFlight?: Promise<void>;
  private stopped = false;

  constructor(private readonly shard: ShardBatcher) {}

  get buffered(): number {
    return this.buf.length;
  }

  add(e: Entry): void {
    this.buf.push(e);
    this.bytes += e.bytes;
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  /** Invokes the next batch if none is in flight and one is due: full, 6 MiB, window elapsed (or `force`). */
  maybeFlush(force: boolean): void {
    if (this.stopped || this.inFlight || this.buf.length === 0) return;
    const s = this.shard;
    const waited = s.ctx.now() - this.buf[0]!.at;
    const due = force || s.windowMs === 0 || this.buf.length >= s.batchSize || this.bytes >= MAX_PAYLOAD_BYTES || waited >= s.windowMs;
    if (!due) {
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.maybeFlush(false), s.windowMs - waited);
      return;
    }
    clearTimeout(this.timer);
    let n = 0;
    let bytes = 0;
    while (n < this.buf.length && n < s.batchSize && (n === 0 || bytes + this.buf[n]!.bytes <= MAX_PAYLOAD_BYTES)) bytes += this.buf[n++]!.bytes;
    const batch = this.buf.splice(0, n);
    this.bytes -= bytes;
    this.inFlight = this.run(batch, 0)
      .then(() => {
        for (const e of batch) e.done = true;
      })
      .catch((e) => {
        if (!(e instanceof Abandoned)) s.ctx.log(`${s.ctx.shardId}: ${(e as Error).message}`);
      })
      .finally(() => {
        this.inFlight = undefined;
        s.onBatchDone();
        this.maybeFlush(false);
      });
  }

  /** Invokes the function with the batch until it succeeds, is bisected, or is discarded. */
  private async run(batch: Entry[], retries: number, invokeCount = 0): Promise<void> {
    const s = this.shard;
    const st = s.ctx.settings;
    const maxRetries = st.maximumRetryAttempts ?? -1;
    const maxAgeMs = (st.maximumRecordAgeInSeconds ?? -1) * 1000;
    for (let delay = st.retryDelayMs ?? 1000; ; delay = Math.min(30_000, delay * 2)) {
      if (this.stopped) throw new Abandoned();
      if (maxAgeMs > 0) {
        // Records past the maximum age are not sent to the function any more.
        const now = s.ctx.now();
        const cut = batch.findIndex((e) => now - e.r.approximateArrivalTimestamp.getTime() <= maxAgeMs);
        const old = cut < 0 ? batch : batch.slice(0, cut);
        if (old.length > 0) {
          await s.sendFailure(old.map((e) => e.r), 'RecordAgeExceeded', invokeCount);
          for (const e of old) e.done = true;
          batch = batch.slice(old.length);
          if (batch.length === 0) return;
        }
      }
      try {
        invokeCount++;
        await s.ctx.handler({ shardId: s.ctx.shardId, records: batch.map((e) => e.r) });
        return;
      } catch (e) {
        s.ctx.log(`${s.ctx.shardId}: function error on ${batch.length} records: ${(e as Error).message}`);
        if (st.bisectBatchOnFunctionError && batch.length > 1) {
          const half = Math.ceil(batch.length / 2);
          const left = batch.slice(0, half);
          await this.run(left, retries);
          for (const x of left) x.done = true;
          s.onBatchDone();
          await this.run(batch.slice(half), retries);
          return;
        }
        if (maxRetries !== -1 && retries >= maxRetries) {
          await s.sendFailure(batch.map((x) => x.r), 'RetryAttemptsExhausted', invokeCount);
          return;
        }
        retries++;
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }
}
