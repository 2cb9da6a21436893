// The in-cluster source: reads shards straight from JetStream through the
// stream library's one shard reader (no API server in between), decrypting
// with the key ring. A backlog is read in bounded batches (pipelined direct
// gets); once caught up the reader follows the shard live (a JetStream ordered
// consumer pushes each append), so a record reaches processRecords within
// milliseconds of being stored.
import type { Store } from '../../stream/connect.js';
import { StreamNotFoundError } from '../../stream/errors.js';
import type { KeyRing } from '../../stream/keyring.js';
import { follow, readBatch, readBatchPacked, resolveStart, type PackedBatchOut, type Position, type ShardBatchOut } from '../../stream/shardReader.js';
import { getStream } from '../../stream/streams.js';
import type { StreamRecord } from '../../stream/streamRecord.js';
import type { ShardReader, ShardSource, SourceBatch } from '../types.js';

const MAX_BYTES = 10 * 1024 * 1024;

async function streamRecord(store: Store, name: string): Promise<StreamRecord> {
  const rec = await getStream(store, name);
  if (!rec || rec.status === 'DELETING') throw new StreamNotFoundError(name);
  return rec;
}

/** `lingerMs`: while following a shard live, a batch not yet full is held this long after its first record (FollowOptions). */
export function directSource(store: Store, opts: { keys?: KeyRing; lingerMs?: number } = {}): ShardSource {
  return {
    async listShards(name) {
      const rec = await streamRecord(store, name);
      return rec.shards.map((s) => ({
        shardId: s.shardId,
        parentShardId: s.parentShardId,
        adjacentParentShardId: s.adjacentParentShardId,
        closed: s.endingSequenceNumber !== undefined,
      }));
    },
    async openShard(name, shardId, start) {
      const rec = await streamRecord(store, name);
      return new DirectReader(store, rec, shardId, await resolveStart(store, rec, shardId, start), opts.keys, opts.lingerMs);
    },
  };
}

const toSource = (b: ShardBatchOut | PackedBatchOut): SourceBatch => ('packed' in b
  ? { records: [], packed: b.packed, millisBehindLatest: b.millisBehindLatest, shardEnded: b.shardEnded }
  : { records: b.records, millisBehindLatest: b.millisBehindLatest, shardEnded: b.shardEnded });
const countOf = (b: ShardBatchOut | PackedBatchOut) => ('packed' in b ? b.packed.count : b.records.length);

class DirectReader implements ShardReader {
  private live?: { ctl: AbortController; it: AsyncIterator<ShardBatchOut>; pending?: Promise<IteratorResult<ShardBatchOut>> };
  /**
   * Read-ahead while draining a backlog: the batch after the one just handed
   * out is read while the application processes that one, so reading and
   * processing overlap (one batch in memory ahead, per shard).
   */
  private ahead?: { from: Position; limit: number; packed: boolean; batch: Promise<ShardBatchOut | PackedBatchOut> };

  constructor(
    private readonly store: Store,
    private rec: StreamRecord,
    private readonly shardId: string,
    private pos: Position,
    private readonly keys?: KeyRing,
    private readonly lingerMs?: number,
  ) {}

  /** A batch from `from`, on a fresh stream record each time (a reshard may have closed the shard); packed: records left in their messages. */
  private async read(from: Position, limit: number, packed: boolean): Promise<ShardBatchOut | PackedBatchOut> {
    this.rec = await streamRecord(this.store, this.rec.name);
    const o = { limit, maxBytes: MAX_BYTES, keys: this.keys };
    return packed ? readBatchPacked(this.store, this.rec, this.shardId, from, o) : readBatch(this.store, this.rec, this.shardId, from, o);
  }

  async next(opts: { limit: number; waitMs: number; signal: AbortSignal; packed?: boolean }): Promise<SourceBatch> {
    if (!this.live) {
      const a = this.ahead;
      this.ahead = undefined;
      const packed = opts.packed === true;
      // The read-ahead counts only if it starts here, holds no more than asked for now, and in the form asked for.
      const b = a && a.from === this.pos && a.limit <= opts.limit && a.packed === packed ? await a.batch : await this.read(this.pos, opts.limit, packed);
      this.pos = b.next;
      const n = countOf(b);
      if (n > 0 && !b.shardEnded) {
        const batch = this.read(b.next, opts.limit, packed);
        batch.catch(() => undefined); // a failed read-ahead fails the next call, not the process
        this.ahead = { from: b.next, limit: opts.limit, packed, batch };
      }
      if (n > 0 || b.shardEnded) return toSource(b);
      const ctl = new AbortController();
      const it = follow(this.store, this.rec, this.shardId, this.pos, { signal: ctl.signal, keys: this.keys, limit: opts.limit, lingerMs: this.lingerMs })[Symbol.asyncIterator]();
      this.live = { ctl, it };
    }
    const live = this.live;
    live.pending ??= live.it.next();
    let timer: NodeJS.Timeout | undefined;
    let onAbort = () => undefined as void;
    const idle = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), opts.waitMs);
      onAbort = () => resolve(undefined);
      opts.signal.addEventListener('abort', onAbort, { once: true });
    });
    let r: IteratorResult<ShardBatchOut> | undefined;
    try {
      r = await Promise.race([live.pending, idle]);
    } catch (e) {
      // Follow again from the last position handed out on the next call.
      this.stopLive();
      throw e;
    } finally {
      clearTimeout(timer);
      opts.signal.removeEventListener('abort', onAbort);
    }
    if (!r) return { records: [], millisBehindLatest: 0, shardEnded: false };
    live.pending = undefined;
    if (r.done) {
      this.stopLive();
      return { records: [], millisBehindLatest: 0, shardEnded: false };
    }
    this.pos = r.value.next;
    return toSource(r.value);
  }

  private stopLive(): void {
    this.live?.ctl.abort();
    this.live = undefined;
  }

  close(): void {
    this.ahead = undefined;
    this.stopLive();
  }
}
