// The lineage-aware shard reader every consumer of a stream shares (delivery
// workers, analytics workers, the client library). It reads every shard of a
// stream, a child only after all its parents are drained to their end, so
// per-partition-key order survives splits and merges; it resumes from a
// checkpoint that names, per shard, the last record handed out and acknowledged.
import type { Store } from './connect.js';
import { jsStreamName } from './names.js';
import { readShard, seqAtTimestamp, shardTip, type ReadRecord } from './shardRead.js';
import { getStream, hourMs } from './streams.js';
import { decodeSequence, encodeSequence } from './kinesis/sequence.js';
import { jsSubject } from './names.js';
import type { ShardRecord, StreamRecord } from './streamRecord.js';

/** Per shard: the sequence number of the last record processed, or SHARD_END. */
export type Checkpoint = Record<string, string>;
export const SHARD_END = 'SHARD_END';

export type StartPosition = { type: 'TRIM_HORIZON' } | { type: 'LATEST' } | { type: 'AT_TIMESTAMP'; timestampMs: number };

export interface ShardBatch {
  shardId: string;
  records: (ReadRecord & { sequenceNumber: string })[];
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
  private readonly positions = new Map<string, { jsSeq: number; index: number }>();

  constructor(private readonly store: Store, private readonly opts: LineageReaderOptions) {
    this.checkpoint = { ...(opts.checkpoint ?? {}) };
  }

  /** Shards readable now: not finished, and every parent finished (or gone past retention). */
  readableShards(rec: StreamRecord): ShardRecord[] {
    const known = new Set(rec.shards.map((s) => s.shardId));
    const done = (id: string | undefined) => !id || !known.has(id) || this.checkpoint[id] === SHARD_END;
    return rec.shards
      .filter((s) => this.checkpoint[s.shardId] !== SHARD_END && done(s.parentShardId) && done(s.adjacentParentShardId))
      .sort((a, b) => a.index - b.index);
  }

  private async startOf(rec: StreamRecord, shard: ShardRecord): Promise<{ jsSeq: number; index: number }> {
    const cp = this.checkpoint[shard.shardId];
    if (cp) {
      const p = decodeSequence(cp);
      if (p) return { jsSeq: p.jsSeq, index: p.index + 1 };
    }
    // A child of a shard we read is read from its start, whatever the start position says.
    const isChild = shard.parentShardId !== undefined && rec.shards.some((s) => s.shardId === shard.parentShardId);
    const start = this.opts.start ?? { type: 'TRIM_HORIZON' };
    const js = jsStreamName(rec.uid, shard.index);
    if (isChild || start.type === 'TRIM_HORIZON') return { jsSeq: 0, index: 0 };
    if (start.type === 'LATEST') return { jsSeq: (await shardTip(this.store, js)).lastSeq + 1, index: 0 };
    return { jsSeq: await seqAtTimestamp(this.store, js, jsSubject(rec.uid, shard.index), start.timestampMs), index: 0 };
  }

  /** One read from every readable shard; empty batches are left out unless a shard ended. */
  async poll(): Promise<ShardBatch[]> {
    const rec = await getStream(this.store, this.opts.stream);
    if (!rec) throw new Error(`stream ${this.opts.stream} not found`);
    const out: ShardBatch[] = [];
    for (const shard of this.readableShards(rec)) {
      let pos = this.positions.get(shard.shardId);
      if (!pos) this.positions.set(shard.shardId, (pos = await this.startOf(rec, shard)));
      const read = await readShard(this.store, jsStreamName(rec.uid, shard.index), pos, {
        limit: this.opts.limit ?? 10000,
        maxBytes: 10 * 1024 * 1024,
        minArrivalMs: Date.now() - rec.retentionHours * hourMs(),
      });
      this.positions.set(shard.shardId, read.next);
      const records = read.records.map((r) => ({ ...r, sequenceNumber: encodeSequence({ shardIndex: shard.index, jsSeq: r.jsSeq, index: r.index }) }));
      const ended = shard.endingSequenceNumber !== undefined && read.atEnd;
      if (records.length === 0 && !ended) continue;
      out.push({
        shardId: shard.shardId,
        records,
        shardEnded: ended,
        checkpoint: ended ? SHARD_END : records[records.length - 1]!.sequenceNumber,
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
