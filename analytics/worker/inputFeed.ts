// An application input read through the consumer library: one Consumer per
// application and input (application name `analytics.<app>.<input>`), shards
// taken by lease in `shardline_leases`, records read by the one shard reader
// (directSource). Each leased shard's processor buffers what it reads; the
// runner takes the buffered records merged in arrival order up to the point
// every shard has reached, and the ROWTIME watermark every shard allows.
//
// The runner's checkpoint (checkpoint.ts) is the authority on positions: it
// holds, per shard, the last record whose row is in the saved engine state.
// Lease checkpoints are written only after that checkpoint is saved, so they
// are never ahead of it; records at or before the saved position that are
// read again (a crash between the two writes) are skipped.
import type { Store } from '../../stream/connect.js';
import { Consumer, directSource, kvLeaseStore, SHARD_END } from '../../consumer/index.js';
import { keys as leaseKeys, type LeaseValue } from '../../consumer/leaseRecords.js';
import { compareSequence } from '../../consumer/userRecords.js';
import type { Checkpointer, LeaseStore, RecordBatch, RecordProcessor, ShardSource } from '../../consumer/types.js';

import type { ShardPos } from './checkpoint.js';
import { analyticsConsumerGroup, type InputDef } from '../../contract/analytics.js';
import { deliveryStreamRecordsStream } from '../../stream/deliveryStreams.js';
export type { ShardPos };

export interface FedRecord { shardId: string; pos: ShardPos; data: Buffer; arrivalMs: number; partitionKey: string }

/** Records a shard's processor may hold before reads pause (the consumer waits on processRecords). */
const MAX_BUFFERED = 20_000;
const SHARD_LIST_MS = 2_000;

const after = (a: ShardPos, b: ShardPos | undefined) => !b || compareSequence(a.seq, b.seq) > 0 || (a.seq === b.seq && (a.sub ?? -1) > (b.sub ?? -1));

class ShardBuffer {
  records: FedRecord[] = [];
  maxArrivalMs = Number.NEGATIVE_INFINITY;
  /** The last read found nothing more (caught up): as of `caughtUpAtMs` every stored record was read. */
  idle = false;
  caughtUpAtMs = Number.NEGATIVE_INFINITY;
  /** shardEnded: nothing more will come. */
  ended = false;
  /** Last record handed to the engine, and the last one covered by a saved checkpoint. */
  consumed?: ShardPos;
  saved?: ShardPos;
  /** Last position written into the lease, and the last record read under this lease (a checkpoint cannot pass it). */
  leased?: ShardPos;
  lastRead?: ShardPos;
  gone = false;
  constructor(readonly shardId: string, start: ShardPos | undefined) {
    this.consumed = start;
    this.saved = start;
    this.leased = undefined;
  }
}

/**
 * The stream an input's records are read from: a Kinesis stream input's own
 * stream; for a delivery stream input (KinesisFirehoseInput), the stream that
 * holds what was put into it (stream/deliveryStreams.ts). Both are then read
 * the same way, so ROWTIME is the record's arrival in that stream.
 */
export async function inputStreamName(store: Store, input: Pick<InputDef, 'id' | 'source'>): Promise<string> {
  if (input.source.kind === 'stream') return input.source.name;
  try {
    return await deliveryStreamRecordsStream(store, input.source.name);
  } catch (e) {
    throw new Error(`input ${input.id}: ${(e as Error).message}`);
  }
}

export interface InputFeedOptions {
  store: Store;
  applicationName: string;
  inputId: string;
  /** An API application's run (its own consumer group); absent for AnalyticsApp resources. */
  runId?: string;
  streamName: string;
  /** Where shards without a lease start. */
  start: 'NOW' | 'TRIM_HORIZON';
  /** Positions from the runner's checkpoint (shard id → last record in the saved state). */
  saved: Record<string, ShardPos>;
  /** A fresh start (StartApplication NOW/TRIM_HORIZON): earlier leases and their checkpoints are dropped first. */
  fresh: boolean;
  failoverTimeMs: number;
  log: (m: string) => void;
  source?: ShardSource;
  leaseStore?: LeaseStore;
}

export class InputFeed {
  readonly consumer: Consumer;
  private readonly buffers = new Map<string, ShardBuffer>();
  private readonly leases: LeaseStore;
  private readonly source: ShardSource;
  private readonly keys: ReturnType<typeof leaseKeys>;
  /** Shards the stream lists and whether each is finished (lease at SHARD_END). */
  private shards = new Map<string, { finished: boolean }>();
  private shardsAt = 0;
  private wake?: () => void;
  private stopped = false;

  constructor(private readonly o: InputFeedOptions) {
    this.leases = o.leaseStore ?? kvLeaseStore(o.store);
    this.source = o.source ?? directSource(o.store);
    const appName = InputFeed.consumerName(o.applicationName, o.inputId, o.runId);
    this.keys = leaseKeys(appName, o.streamName);
    this.consumer = new Consumer({
      applicationName: appName,
      streamName: o.streamName,
      source: this.source,
      leaseStore: this.leases,
      processorFactory: (shardId) => this.processor(shardId),
      initialPosition: o.start === 'TRIM_HORIZON' ? { type: 'TRIM_HORIZON' } : { type: 'LATEST' },
      failoverTimeMs: o.failoverTimeMs,
      idleTimeBetweenReadsMs: 200,
      shardSyncIntervalMs: SHARD_LIST_MS,
      // GetRecords' own limit: each batch costs DuckDB a fill and a query, so fewer, larger ones (~20% less CPU per event at 10,000 than 5,000).
      maxRecords: 10_000,
      callProcessRecordsEvenForEmptyRecordList: true,
      log: (m) => o.log(`input ${o.inputId}: ${m}`),
    });
  }

  /** One consumer application per analytics application and input. */
  static consumerName(app: string, inputId: string, runId?: string): string {
    return analyticsConsumerGroup(app, inputId, runId);
  }

  async start(): Promise<void> {
    if (this.o.fresh) {
      for (const [key, v] of await this.leases.list(this.keys.all)) await this.leases.delete(key, v.revision);
    }
    await this.refreshShards(true);
    await this.consumer.start();
  }

  /** Graceful: every shard writes its saved position into its lease and is released. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.consumer.stop();
  }

  private async refreshShards(force = false): Promise<void> {
    if (!force && Date.now() - this.shardsAt < SHARD_LIST_MS) return;
    this.shardsAt = Date.now();
    const listed = await this.source.listShards(this.o.streamName);
    const leases = await this.leases.list(this.keys.all);
    const finished = new Set<string>();
    for (const [k, v] of leases) if (this.keys.isLease(k) && (v.value as LeaseValue).checkpoint === SHARD_END) finished.add((v.value as LeaseValue).shardId);
    this.shards = new Map(listed.map((s) => [s.shardId, { finished: finished.has(s.shardId) }]));
  }

  private processor(shardId: string): RecordProcessor {
    let buf: ShardBuffer;
    const leaseUpTo = async (cp: Checkpointer) => {
      const s = buf.saved;
      if (s && after(s, buf.leased) && buf.lastRead && !after(s, buf.lastRead)) {
        await cp.checkpoint(s.seq, s.sub);
        buf.leased = s;
      }
    };
    return {
      initialize: () => {
        buf = new ShardBuffer(shardId, this.o.saved[shardId]);
        this.buffers.set(shardId, buf);
      },
      processRecords: async (batch: RecordBatch, cp: Checkpointer) => {
        // A batch is in shard order: once one record is new, the rest are too (no comparisons per record).
        let fresh = false;
        for (const r of batch.records) {
          const pos = { seq: r.sequenceNumber, sub: r.subSequenceNumber };
          buf.lastRead = pos;
          // Already in the saved state (read again after a crash): skipped.
          if (!fresh && (!after(pos, buf.consumed) || (buf.records.length && !after(pos, buf.records[buf.records.length - 1]!.pos)))) continue;
          fresh = true;
          const arrivalMs = r.approximateArrivalTimestamp.getTime();
          buf.records.push({ shardId, pos, data: r.data, arrivalMs, partitionKey: r.partitionKey });
          if (arrivalMs > buf.maxArrivalMs) buf.maxArrivalMs = arrivalMs;
        }
        buf.idle = batch.records.length === 0 && batch.millisBehindLatest === 0;
        // Caught up as of the read, not of now (RecordBatch.readAtMs).
        if (buf.idle) buf.caughtUpAtMs = batch.readAtMs ?? Date.now();
        await leaseUpTo(cp);
        while (buf.records.length > MAX_BUFFERED && !this.stopped && !buf.gone) await new Promise((r) => setTimeout(r, 50));
      },
      shardEnded: async (cp: Checkpointer) => {
        buf.ended = true;
        // SHARD_END only once every record of the shard is in a saved checkpoint: the children start after that.
        while (!this.stopped && (buf.records.length > 0 || (buf.consumed && after(buf.consumed, buf.saved)))) await new Promise((r) => setTimeout(r, 50));
        if (this.stopped) return;
        await cp.checkpoint();
      },
      shutdownRequested: async (cp: Checkpointer) => {
        await leaseUpTo(cp).catch(() => undefined);
        buf.gone = true;
        this.buffers.delete(shardId);
      },
      leaseLost: () => {
        this.o.log(`input ${this.o.inputId}: lease of ${shardId} lost`);
        buf.gone = true;
        this.buffers.delete(shardId);
      },
    };
  }

  /** Shards whose records still matter: listed, not finished, not ended and drained. */
  private live(): { shardId: string; buf?: ShardBuffer }[] {
    const out: { shardId: string; buf?: ShardBuffer }[] = [];
    for (const [shardId, s] of this.shards) {
      const buf = this.buffers.get(shardId);
      if (buf?.ended && buf.records.length === 0) continue;
      if (!buf && s.finished) continue;
      out.push({ shardId, buf });
    }
    return out;
  }

  /**
   * Buffered records up to the newest arrival every live shard has reached,
   * merged in arrival order (stable per shard), so rows reach the engine in
   * the order they arrived whatever order the shards were read in. A shard
   * no worker reads yet holds everything back.
   */
  async take(): Promise<FedRecord[]> {
    await this.refreshShards().catch((e) => this.o.log(`input ${this.o.inputId}: listing shards: ${(e as Error).message}`));
    let bound = Number.POSITIVE_INFINITY;
    for (const { buf } of this.live()) {
      if (!buf) return [];
      if (!(buf.idle || buf.ended)) bound = Math.min(bound, buf.maxArrivalMs);
    }
    const out: FedRecord[] = [];
    for (const buf of this.buffers.values()) {
      let k = 0;
      while (k < buf.records.length && buf.records[k]!.arrivalMs <= bound) k++;
      if (k === 0) continue;
      const taken = buf.records.splice(0, k);
      buf.consumed = taken[taken.length - 1]!.pos;
      for (const r of taken) out.push(r);
    }
    // Array.prototype.sort is stable: ties keep each shard's order (and its runs are already sorted).
    return out.sort((a, b) => a.arrivalMs - b.arrivalMs);
  }

  /**
   * ROWTIME every record not yet taken will be at or after, less `lagMs` for
   * appends in flight (a record's arrival is stamped just before it is stored).
   * A caught-up shard follows the clock; an ended, drained one does not hold back.
   */
  watermark(lagMs: number): number {
    let wm = Number.POSITIVE_INFINITY;
    for (const { buf } of this.live()) {
      if (!buf) return Number.NEGATIVE_INFINITY;
      const reached = buf.idle && buf.records.length === 0 ? Math.max(buf.maxArrivalMs, buf.caughtUpAtMs) : buf.maxArrivalMs;
      wm = Math.min(wm, reached - lagMs);
    }
    return wm;
  }

  /** Positions of the records handed to the engine (for the checkpoint), including shards held before. */
  positions(): Record<string, ShardPos> {
    const out: Record<string, ShardPos> = { ...this.o.saved };
    for (const [id, b] of this.buffers) if (b.consumed) out[id] = b.consumed;
    for (const id of Object.keys(out)) if (!this.shards.has(id) && this.shards.size > 0) delete out[id];
    return out;
  }

  /** The checkpoint with `positions` is saved: leases may follow. */
  saved(positions: Record<string, ShardPos>): void {
    for (const [id, p] of Object.entries(positions)) {
      const b = this.buffers.get(id);
      if (b) b.saved = p;
    }
    Object.assign(this.o.saved, positions);
  }

  /** Some shard ended and waits for a checkpoint covering its last records. */
  endWaiting(): boolean {
    for (const b of this.buffers.values()) if (b.ended && b.consumed && after(b.consumed, b.saved)) return true;
    return false;
  }

  heldShards(): string[] {
    return this.consumer.heldShards();
  }
}

/** The in-application stream (1-based, of `parallelism`) a shard feeds: shards are dealt out by their index. */
export function inAppIndexOf(shardId: string, parallelism: number): number {
  const m = /(\d+)$/.exec(shardId);
  const n = m ? Number(m[1]) : [...shardId].reduce((h, c) => (h * 31 + c.charCodeAt(0)) >>> 0, 7);
  return (n % parallelism) + 1;
}
