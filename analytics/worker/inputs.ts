// Reading an application's input streams shard by shard, with the ROWTIME
// watermark each shard allows. ROWTIME is the record's arrival time in the
// stream (ApproximateArrivalTimestamp): stored with the record, so a replay
// after a crash sees the same ROWTIMEs.
//
// Reads go through stream/shardRead.ts behind this small adapter until the one
// shard reader (stream/shardReader.ts, GUIDE.md §1) and the consumer library
// (§2) are merged; the worker then takes shards through consumer-group leases.
import type { Store } from '../../stream/connect.js';
import { jsStreamName } from '../../stream/names.js';
import { readShard, shardTip } from '../../stream/shardRead.js';
import { getStream } from '../../stream/streams.js';
import type { KeyRing } from '../../stream/keyring.js';

export interface ShardCursor {
  shardId: string;
  jsStream: string;
  pos: { jsSeq: number; index: number };
  /** Newest arrival read so far. */
  maxArrivalMs: number;
  atEnd: boolean;
  closed: boolean;
}

export interface ReadRecordOut { shardId: string; data: Buffer; arrivalMs: number; partitionKey: string }

export interface HeldRecord { shardId: string; arrivalMs: number; partitionKey: string; data: string }

export class InputReader {
  readonly cursors = new Map<string, ShardCursor>();
  private lastRefresh = 0;
  /** Records read but not yet handed out: a shard behind the others may still hold earlier arrivals. */
  private held: ReadRecordOut[] = [];

  constructor(
    private readonly store: Store,
    readonly streamName: string,
    /** Where shards without a saved position start. */
    private readonly start: 'NOW' | 'TRIM_HORIZON',
    saved: Record<string, { jsSeq: number; index: number }> | undefined,
    held: HeldRecord[] | undefined,
    private readonly keys?: KeyRing,
  ) {
    this.held = (held ?? []).map((h) => ({ shardId: h.shardId, arrivalMs: h.arrivalMs, partitionKey: h.partitionKey, data: Buffer.from(h.data, 'base64') }));
    for (const [shardId, pos] of Object.entries(saved ?? {})) {
      this.cursors.set(shardId, { shardId, jsStream: '', pos, maxArrivalMs: Number.NEGATIVE_INFINITY, atEnd: false, closed: false });
    }
  }

  /** Picks up the stream's shards (new ones after a reshard start at their beginning). */
  async refresh(force = false): Promise<void> {
    if (!force && Date.now() - this.lastRefresh < 5000) return;
    this.lastRefresh = Date.now();
    const rec = await getStream(this.store, this.streamName);
    if (!rec) throw new Error(`input stream ${this.streamName} does not exist`);
    const first = this.cursors.size === 0;
    for (const s of rec.shards) {
      const jsStream = jsStreamName(rec.uid, s.index);
      let c = this.cursors.get(s.shardId);
      if (!c) {
        let pos = { jsSeq: 1, index: 0 };
        if (first && this.start === 'NOW') pos = { jsSeq: (await shardTip(this.store, jsStream)).lastSeq + 1, index: 0 };
        c = { shardId: s.shardId, jsStream, pos, maxArrivalMs: Number.NEGATIVE_INFINITY, atEnd: false, closed: false };
        this.cursors.set(s.shardId, c);
      }
      c.jsStream = jsStream;
      c.closed = s.endingSequenceNumber !== undefined;
    }
  }

  /**
   * One read from every shard, handed out merged in arrival order, and only up
   * to the newest arrival every shard still being read has reached: rows of
   * different shards then reach the engine in the order they arrived, whatever
   * order the shards were read in (event-time watermarks depend on that order).
   */
  async pollAligned(limit: number): Promise<ReadRecordOut[]> {
    const fresh = await this.poll(limit);
    const all = [...this.held, ...fresh];
    let bound = Number.POSITIVE_INFINITY;
    for (const c of this.cursors.values()) if (!c.atEnd) bound = Math.min(bound, c.maxArrivalMs);
    const out: ReadRecordOut[] = [];
    this.held = [];
    for (const r of all) (r.arrivalMs <= bound ? out : this.held).push(r);
    // Stable: records of one shard keep their order, equal arrivals keep the read order.
    return out.map((r, i) => ({ r, i })).sort((a, b) => a.r.arrivalMs - b.r.arrivalMs || a.i - b.i).map((x) => x.r);
  }

  heldRecords(): HeldRecord[] {
    return this.held.map((h) => ({ shardId: h.shardId, arrivalMs: h.arrivalMs, partitionKey: h.partitionKey, data: h.data.toString('base64') }));
  }

  /** One read from every shard. */
  async poll(limit: number): Promise<ReadRecordOut[]> {
    await this.refresh();
    const out: ReadRecordOut[] = [];
    for (const c of this.cursors.values()) {
      if (!c.jsStream) continue;
      const r = await readShard(this.store, c.jsStream, c.pos, { limit, maxBytes: 8 << 20, minArrivalMs: 0, keys: this.keys });
      c.pos = r.next;
      c.atEnd = r.atEnd;
      for (const rec of r.records) {
        if (rec.arrivalMs > c.maxArrivalMs) c.maxArrivalMs = rec.arrivalMs;
        out.push({ shardId: c.shardId, data: rec.data, arrivalMs: rec.arrivalMs, partitionKey: rec.partitionKey });
      }
    }
    return out;
  }

  /**
   * ROWTIME every future record of this input will be at or after, less `lagMs`
   * for appends in flight (a record's arrival is stamped just before it is stored).
   * A caught-up shard follows the clock; a closed, drained one does not hold back.
   */
  watermark(nowMs: number, lagMs: number): number {
    let wm = Number.POSITIVE_INFINITY;
    for (const c of this.cursors.values()) {
      if (c.closed && c.atEnd) continue;
      const w = (c.atEnd ? Math.max(c.maxArrivalMs, nowMs) : c.maxArrivalMs) - lagMs;
      wm = Math.min(wm, w);
    }
    return wm;
  }

  positions(): Record<string, { jsSeq: number; index: number }> {
    return Object.fromEntries([...this.cursors.values()].map((c) => [c.shardId, c.pos]));
  }
}
