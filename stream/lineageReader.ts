// The lineage-aware shard reader every consumer of a stream shares (delivery
// workers, analytics workers, the client library). It reads every shard of a
// stream, a child only after all its parents are drained to their end, so
// per-partition-key order survives splits and merges; it resumes from a
// checkpoint that names, per shard, the last record handed out and acknowledged.
import type { Store } from './connect.js';
import { StreamNotFoundError } from './errors.js';
import { readBatch, readableShards, resolveStart, type Position, type ShardRecordOut } from './shardReader.js';
import { getStream } from './streams.js';
import type { ShardRecord, StreamRecord } from './streamRecord.js';

/** Per shard: the sequence number of the last record processed, or SHARD_END. */
export type Checkpoint = Record<string, string>;
export const SHARD_END = 'SHARD_END';

export type StartPosition = { type: 'TRIM_HORIZON' } | { type: 'LATEST' } | { type: 'AT_TIMESTAMP'; timestampMs: number };

export interface ShardBatch {
  shardId: string;
  records: ShardRecordOut[];
  /** True when this batch drained a closed shard: its children become readable. */
  shardEnded: boolean;
  /** Checkpoint value to store once the batch is processed. */
  checkpoint: string;
}

export interface LineageReaderOptions {
  stream: string;
  start?: StartPosition;
  checkpoint?: Checkpoint;
  /** Records per read (≤ 10000). */
  limit?: number;
}

export class LineageReader {
  private readonly checkpoint: Checkpoint;
  /** Next storage position per shard being read. */
  private readonly positions = new Map<string, Position>();

  constructor(private readonly store: Store, private readonly opts: LineageReaderOptions) {
    this.checkpoint = { ...(opts.checkpoint ?? {}) };
  }

  /** Shards readable now: not finished, and every parent finished (or gone past retention). */
  readableShards(rec: StreamRecord): ShardRecord[] {
    return readableShards(rec, (id) => this.checkpoint[id] === SHARD_END);
  }

  private startOf(rec: StreamRecord, shard: ShardRecord): Promise<Position> {
    const cp = this.checkpoint[shard.shardId];
    if (cp) return resolveStart(this.store, rec, shard.shardId, { type: 'AFTER_SEQUENCE_NUMBER', sequenceNumber: cp });
    // A child of a shard we read starts at its beginning rather than at LATEST (resolveStart's parentsRead).
    const parentsRead = shard.parentShardId !== undefined && rec.shards.some((s) => s.shardId === shard.parentShardId);
    return resolveStart(this.store, rec, shard.shardId, this.opts.start ?? { type: 'TRIM_HORIZON' }, { parentsRead });
  }

  /** One read from every readable shard; empty batches are left out unless a shard ended. */
  async poll(): Promise<ShardBatch[]> {
    const rec = await getStream(this.store, this.opts.stream);
    if (!rec) throw new StreamNotFoundError(this.opts.stream);
    const out: ShardBatch[] = [];
    for (const shard of this.readableShards(rec)) {
      let pos = this.positions.get(shard.shardId);
      if (!pos) this.positions.set(shard.shardId, (pos = await this.startOf(rec, shard)));
      const read = await readBatch(this.store, rec, shard.shardId, pos, { limit: this.opts.limit ?? 10000, maxBytes: 10 * 1024 * 1024 });
      this.positions.set(shard.shardId, read.next);
      const records = read.records;
      if (records.length === 0 && !read.shardEnded) continue;
      out.push({
        shardId: shard.shardId,
        records,
        shardEnded: read.shardEnded,
        checkpoint: read.shardEnded ? SHARD_END : records[records.length - 1]!.sequenceNumber,
      });
    }
    return out;
  }

  /** Records that a batch was processed; children of an ended shard become readable. */
  commit(batch: ShardBatch): void {
    this.checkpoint[batch.shardId] = batch.checkpoint;
    if (batch.shardEnded) this.positions.delete(batch.shardId);
  }

  snapshot(): Checkpoint {
    return { ...this.checkpoint };
  }
}
