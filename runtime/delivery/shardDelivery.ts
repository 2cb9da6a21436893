// Delivers one shard of the source: read from the checkpoint, buffer until
// SizeInMBs or IntervalInSeconds, then flush exactly once:
//   1. intent (range, version, destination) → KV
//   2. objects (names derived from the range) → S3
//   3. checkpoint := end of range → KV, intent cleared.
// After a crash the intent's range is re-read and flushed again, producing
// the same keys and bytes: the retried PUT overwrites, nothing is duplicated,
// nothing acknowledged is skipped.
import type { Store } from '../../stream/connect.js';
import type { DeliveryStreamRecord } from '../../stream/deliveryStreams.js';
import type { KeyRing } from '../../stream/keyring.js';
import { jsStreamName } from '../../stream/names.js';
import { readShard, seqAtTimestamp } from '../../stream/shardRead.js';
import { jsSubject } from '../../stream/names.js';
import { buildObjects, type BatchRecord } from './objects.js';
import { beginFlush, hitFailpoint, type ObjectStore } from './s3.js';
import { comparePos, type FlushIntent, type Position, type ShardState } from './state.js';
import type { DeliveryMetrics } from './metrics.js';

const MiB = 1024 * 1024;
const IDLE_POLL_MS = 200;
const READ_LIMIT = 10_000;

export interface ShardDeliveryDeps {
  store: Store;
  objects: ObjectStore;
  state: ShardState;
  keys?: KeyRing;
  metrics?: DeliveryMetrics;
  log: (m: string) => void;
  /** The current definition (UpdateDestination changes it while running). */
  definition: () => DeliveryStreamRecord;
  signal: AbortSignal;
}

interface Buffered extends BatchRecord { pos: Position; bytes: number }

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((r) => {
    const t = setTimeout(r, ms);
    signal.addEventListener('abort', () => (clearTimeout(t), r()), { once: true });
  });

export class ShardDelivery {
  constructor(
    private readonly deps: ShardDeliveryDeps,
    private readonly streamUid: string,
    private readonly shardIndex: number,
    /** The shard was closed by a reshard: stop once everything in it is delivered. */
    private readonly closed: boolean,
  ) {}

  private get jsStream() {
    return jsStreamName(this.streamUid, this.shardIndex);
  }

  /** Where delivery starts the first time: Direct PUT from the beginning, a Kinesis source from the delivery stream's creation. */
  private async initialPosition(def: DeliveryStreamRecord): Promise<Position> {
    if (def.type === 'DirectPut' || !def.kinesisSource) return { jsSeq: 1, index: 0 };
    const seq = await seqAtTimestamp(this.deps.store, this.jsStream, jsSubject(this.streamUid, this.shardIndex), def.kinesisSource.deliveryStartMs);
    return { jsSeq: seq, index: 0 };
  }

  async run(): Promise<void> {
    const { state, signal } = this.deps;
    let pos = await state.checkpoint();
    if (!pos) {
      pos = await this.initialPosition(this.deps.definition());
      await state.setCheckpoint(pos);
    }
    const intent = await state.intent();
    if (intent && comparePos(intent.from, pos) === 0) {
      this.deps.log(`shard ${this.shardIndex}: replaying the flush of ${intent.records} records interrupted at ${JSON.stringify(intent.from)}`);
      pos = await this.replay(intent);
    }
    let buffer: Buffered[] = [];
    let bytes = 0;
    let firstAt = 0;
    while (!signal.aborted) {
      const def = this.deps.definition();
      const hints = def.s3.BufferingHints;
      const sizeLimit = hints.SizeInMBs * MiB;
      const read = await readShard(this.deps.store, this.jsStream, pos, {
        limit: READ_LIMIT, maxBytes: Math.max(1, sizeLimit - bytes), minArrivalMs: 0, keys: this.deps.keys,
      });
      for (const r of read.records) {
        if (buffer.length === 0) firstAt = Date.now();
        const size = r.data.length;
        buffer.push({ data: r.data, arrivalMs: r.arrivalMs, pos: { jsSeq: r.jsSeq, index: r.index }, bytes: size });
        bytes += size;
      }
      if (read.records.length) this.deps.metrics?.incoming(read.records.length, read.records.reduce((n, r) => n + r.data.length, 0));
      pos = read.next;
      const due = buffer.length > 0 && (bytes >= sizeLimit || Date.now() - firstAt >= hints.IntervalInSeconds * 1000);
      if (due) {
        await this.flush(def, buffer, pos);
        buffer = [];
        bytes = 0;
        continue;
      }
      if (read.atEnd) {
        if (this.closed && buffer.length === 0) return;
        const wait = buffer.length ? Math.min(IDLE_POLL_MS, firstAt + hints.IntervalInSeconds * 1000 - Date.now()) : IDLE_POLL_MS;
        await sleep(Math.max(10, wait), signal);
      }
    }
  }

  /** Re-reads exactly the intent's range and writes it again; returns the position after it. */
  private async replay(intent: FlushIntent): Promise<Position> {
    const records: BatchRecord[] = [];
    let pos = intent.from;
    while (comparePos(pos, intent.to) < 0) {
      const read = await readShard(this.deps.store, this.jsStream, pos, { limit: READ_LIMIT, maxBytes: 64 * MiB, minArrivalMs: 0, keys: this.deps.keys });
      for (const r of read.records) {
        if (comparePos({ jsSeq: r.jsSeq, index: r.index }, intent.to) >= 0) break;
        records.push({ data: r.data, arrivalMs: r.arrivalMs });
      }
      if (read.records.length === 0 && read.atEnd) break; // expired or gone: deliver what is left of it
      pos = read.next;
    }
    await this.write(intent, records);
    return intent.to;
  }

  private async flush(def: DeliveryStreamRecord, buffer: Buffered[], next: Position): Promise<void> {
    const intent: FlushIntent = { from: buffer[0]!.pos, to: next, records: buffer.length, versionId: def.versionId, s3: def.s3 };
    await this.deps.state.setIntent(intent);
    await this.write(intent, buffer);
  }

  private async write(intent: FlushIntent, records: BatchRecord[]): Promise<void> {
    beginFlush();
    const def = this.deps.definition();
    const objects = records.length
      ? buildObjects({ deliveryStreamName: def.name, uid: def.uid, shard: this.shardIndex, from: intent.from, to: intent.to, versionId: intent.versionId, s3: intent.s3, records })
      : [];
    hitFailpoint('before-upload');
    for (const o of objects) {
      const started = Date.now();
      // Transient S3 failures are retried with backoff until they succeed or the worker stops: the intent keeps the batch.
      for (let attempt = 0; ; attempt++) {
        try {
          await this.deps.objects.put(o.bucket, o.key, o.body);
          this.deps.metrics?.delivered(o.records, o.body.length, Date.now() - started, records);
          break;
        } catch (e) {
          this.deps.metrics?.failed((e as { code?: string }).code ?? 'S3Error');
          this.deps.log(`shard ${this.shardIndex}: put ${o.key}: ${(e as Error).message} (attempt ${attempt + 1})`);
          if (this.deps.signal.aborted) throw e;
          await sleep(Math.min(30_000, 500 * 2 ** attempt), this.deps.signal);
        }
      }
    }
    hitFailpoint('after-upload');
    await this.deps.state.setCheckpoint(intent.to);
    await this.deps.state.clearIntent();
  }
}
