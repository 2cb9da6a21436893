// The in-cluster source: reads shards straight from JetStream through the
// stream library (no API server in between), decrypting with the key ring.
// Until the library's single shard reader (stream/shardReader.ts) lands this
// adapts stream/shardRead.ts, the same calls GetRecords makes.
import type { Subscription } from 'nats';
import type { Store } from '../../stream/connect.js';
import type { KeyRing } from '../../stream/keyring.js';
import { decodeSequence, encodeSequence } from '../../stream/kinesis/sequence.js';
import { jsStreamName, jsSubject } from '../../stream/names.js';
import { readShard, seqAtTimestamp, shardTip } from '../../stream/shardRead.js';
import { getStream, hourMs } from '../../stream/streams.js';
import type { StreamRecord } from '../../stream/streamRecord.js';
import type { ShardReader, ShardSource, SourceBatch, SourceStart } from '../types.js';

const MAX_BYTES = 10 * 1024 * 1024;

export function directSource(store: Store, opts: { keys?: KeyRing } = {}): ShardSource {
  const record = async (name: string): Promise<StreamRecord> => {
    const rec = await getStream(store, name);
    if (!rec || rec.status === 'DELETING') throw new Error(`stream ${name} not found`);
    return rec;
  };
  return {
    async listShards(name) {
      const rec = await record(name);
      return rec.shards.map((s) => ({
        shardId: s.shardId,
        parentShardId: s.parentShardId,
        adjacentParentShardId: s.adjacentParentShardId,
        closed: s.endingSequenceNumber !== undefined,
      }));
    },
    async openShard(name, shardId, start) {
      const rec = await record(name);
      const shard = rec.shards.find((s) => s.shardId === shardId);
      if (!shard) throw new Error(`shard ${shardId} not found in stream ${name}`);
      return new DirectReader(store, rec, shard.index, await startPosition(store, rec, shard.index, start), opts.keys);
    },
  };
}

async function startPosition(store: Store, rec: StreamRecord, index: number, start: SourceStart): Promise<{ jsSeq: number; index: number }> {
  const js = jsStreamName(rec.uid, index);
  switch (start.type) {
    case 'TRIM_HORIZON':
      return { jsSeq: 0, index: 0 };
    case 'LATEST':
      return { jsSeq: (await shardTip(store, js)).lastSeq + 1, index: 0 };
    case 'AT_TIMESTAMP':
      return { jsSeq: await seqAtTimestamp(store, js, jsSubject(rec.uid, index), start.timestampMs), index: 0 };
    case 'AT_SEQUENCE_NUMBER':
    case 'AFTER_SEQUENCE_NUMBER': {
      const p = decodeSequence(start.sequenceNumber);
      if (!p || p.shardIndex !== index) throw new Error(`sequence number ${start.sequenceNumber} is not of shard index ${index}`);
      return { jsSeq: p.jsSeq, index: p.index + (start.type === 'AFTER_SEQUENCE_NUMBER' ? 1 : 0) };
    }
  }
}

class DirectReader implements ShardReader {
  private readonly js: string;
  private sub?: Subscription;
  /** Set by a message on the shard's subject: something new to read. */
  private wake?: () => void;
  private pinged = false;
  private closedShard: boolean;

  constructor(
    private readonly store: Store,
    private rec: StreamRecord,
    private readonly index: number,
    private pos: { jsSeq: number; index: number },
    private readonly keys?: KeyRing,
  ) {
    this.js = jsStreamName(rec.uid, index);
    this.closedShard = this.isClosed(rec);
  }

  private isClosed(rec: StreamRecord): boolean {
    return rec.shards.find((s) => s.index === this.index)?.endingSequenceNumber !== undefined;
  }

  /**
   * A core subscription on the shard's subject sees every append as it is
   * stored (JetStream publishes are plain NATS messages): the reader waits on
   * it instead of polling, so a record reaches processRecords within
   * milliseconds. Taken only while the reader is caught up.
   */
  private listen(): void {
    if (this.sub || this.closedShard) return;
    this.sub = this.store.nc.subscribe(jsSubject(this.rec.uid, this.index), {
      callback: () => {
        this.pinged = true;
        this.wake?.();
      },
    });
  }

  async next(opts: { limit: number; waitMs: number; signal: AbortSignal }): Promise<SourceBatch> {
    for (let waited = false; ; waited = true) {
      this.pinged = false;
      const read = await readShard(this.store, this.js, this.pos, {
        limit: opts.limit,
        maxBytes: MAX_BYTES,
        minArrivalMs: Date.now() - this.rec.retentionHours * hourMs(),
        keys: this.keys,
      });
      this.pos = read.next;
      if (read.records.length > 0 || waited || opts.signal.aborted || this.closedShard) {
        const last = read.records[read.records.length - 1];
        if (read.atEnd && !this.closedShard && read.records.length === 0) {
          // The shard may have been closed by a reshard since we looked.
          const rec = await getStream(this.store, this.rec.name);
          if (rec && rec.uid === this.rec.uid) {
            this.rec = rec;
            this.closedShard = this.isClosed(rec);
          }
        }
        return {
          records: read.records.map((r) => ({
            sequenceNumber: encodeSequence({ shardIndex: this.index, jsSeq: r.jsSeq, index: r.index }),
            partitionKey: r.partitionKey,
            data: r.data,
            arrivalMs: r.arrivalMs,
            encrypted: r.encrypted,
          })),
          millisBehindLatest: read.atEnd || !last ? 0 : Math.max(0, read.tip.lastMs - last.arrivalMs),
          shardEnded: this.closedShard && read.atEnd && read.records.length === 0,
        };
      }
      this.listen();
      if (!this.pinged) {
        await new Promise<void>((resolve) => {
          const done = () => {
            clearTimeout(t);
            opts.signal.removeEventListener('abort', done);
            this.wake = undefined;
            resolve();
          };
          const t = setTimeout(done, opts.waitMs);
          opts.signal.addEventListener('abort', done);
          this.wake = done;
        });
      }
    }
  }

  close(): void {
    this.sub?.unsubscribe();
    this.sub = undefined;
    this.wake?.();
  }
}
