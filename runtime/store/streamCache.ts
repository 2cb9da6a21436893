// Every runtime process keeps the stream records in memory through a KV watch,
// so the write path routes without a round trip and sees reshards promptly.
import type { KV, KvWatchOptions, QueuedIterator, KvEntry } from 'nats';
import { nameFromStreamKey } from './names.js';
import { readStream } from './streams.js';
import type { ShardRecord, StreamRecord } from './streamRecord.js';

export interface CachedStream {
  record: StreamRecord;
  revision: number;
  /**
   * Open shards sorted by starting hash key, with bigint bounds for routing and
   * the same bounds as 32-digit lowercase hex (which compare as the numbers do).
   */
  routes: { start: bigint; end: bigint; startHex: string; endHex: string; shard: ShardRecord }[];
}

const hex128 = (n: bigint) => n.toString(16).padStart(32, '0');

function toCached(record: StreamRecord, revision: number): CachedStream {
  const routes = record.shards
    .filter((s) => s.endingSequenceNumber === undefined)
    .map((s) => {
      const start = BigInt(s.hashKeyRange.startingHashKey);
      const end = BigInt(s.hashKeyRange.endingHashKey);
      return { start, end, startHex: hex128(start), endHex: hex128(end), shard: s };
    })
    .sort((a, b) => (a.start < b.start ? -1 : 1));
  return { record, revision, routes };
}

/**
 * routeOf for a hash key given as 32 lowercase hex digits (an MD5 digest):
 * equal-length hex strings compare as their numbers, so the write path routes
 * every record without making a BigInt.
 */
export function routeOfHex(s: CachedStream, hex: string): ShardRecord | undefined {
  let lo = 0;
  let hi = s.routes.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const r = s.routes[mid]!;
    if (hex < r.startHex) hi = mid - 1;
    else if (hex > r.endHex) lo = mid + 1;
    else return r.shard;
  }
  return undefined;
}

/** The open shard whose hash key range holds `key`. */
export function routeOf(s: CachedStream, key: bigint): ShardRecord | undefined {
  let lo = 0;
  let hi = s.routes.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const r = s.routes[mid]!;
    if (key < r.start) hi = mid - 1;
    else if (key > r.end) lo = mid + 1;
    else return r.shard;
  }
  return undefined;
}

export class StreamCache {
  private readonly byName = new Map<string, CachedStream>();
  private watcher?: QueuedIterator<KvEntry>;
  private readonly listeners = new Set<(name: string, s: CachedStream | undefined) => void>();

  constructor(private readonly kv: KV) {}

  async start(): Promise<void> {
    let ready!: () => void;
    const initial = new Promise<void>((r) => (ready = r));
    const opts: KvWatchOptions = { key: 'stream.>', initializedFn: () => ready() };
    this.watcher = await this.kv.watch(opts);
    void (async () => {
      for await (const e of this.watcher!) this.apply(e);
    })();
    await initial;
  }

  private apply(e: KvEntry): void {
    const name = nameFromStreamKey(e.key);
    if (name === undefined) return;
    if (e.operation !== 'PUT' || e.length === 0) {
      const cur = this.byName.get(name);
      if (cur && cur.revision < e.revision) this.set(name, undefined);
      return;
    }
    const cur = this.byName.get(name);
    if (cur && cur.revision >= e.revision) return;
    this.set(name, toCached(e.json<StreamRecord>(), e.revision));
  }

  private set(name: string, s: CachedStream | undefined): void {
    if (s) this.byName.set(name, s);
    else this.byName.delete(name);
    for (const l of this.listeners) l(name, s);
  }

  get(name: string): CachedStream | undefined {
    return this.byName.get(name);
  }

  /** Reads the record from KV (strongly consistent) and refreshes the cache. */
  async fresh(name: string): Promise<CachedStream | undefined> {
    const v = await readStream(this.kv, name);
    if (!v) {
      this.set(name, undefined);
      return undefined;
    }
    const cur = this.byName.get(name);
    if (cur && cur.revision >= v.revision) return cur;
    const c = toCached(v.record, v.revision);
    this.set(name, c);
    return c;
  }

  /** The cached record, or a KV read when this process has not seen it yet. */
  async lookup(name: string): Promise<CachedStream | undefined> {
    return this.byName.get(name) ?? this.fresh(name);
  }

  names(): string[] {
    return [...this.byName.keys()].sort();
  }

  onChange(l: (name: string, s: CachedStream | undefined) => void): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  stop(): void {
    this.watcher?.stop();
  }
}
