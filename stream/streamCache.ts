// Every runtime process keeps the stream records in memory through a KV watch,
// so the write path routes without a round trip and sees reshards promptly.
import { Events, type KV, type KvWatchOptions, type NatsConnection, type QueuedIterator, type KvEntry } from 'nats';
import { isHiddenStreamName, nameFromStreamKey } from './names.js';
import { readStream } from './streams.js';
import { assemble, isPageKey, streamOfPageKey, type StoredHeader } from './shardMap.js';
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

/** A record's routing view: its open shards sorted by hash key range (what routeOf/routeOfHex search). */
export function toCached(record: StreamRecord, revision: number): CachedStream {
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

/** How often the watch's progress is compared with the bucket, and how long it may lag before it is replaced. */
const WATCH_CHECK_MS = 2_000;
const WATCH_STALL_MS = 5_000;

export class StreamCache {
  private readonly byName = new Map<string, CachedStream>();
  /**
   * Shard-map pages seen by the watch, by stream name then page key
   * (stream/shardMap.ts). A writer puts pages before the header naming them,
   * and the watch delivers the bucket in order, so a header's pages are here
   * when the header arrives.
   */
  private readonly pages = new Map<string, Map<string, { revision: number; shards: ShardRecord[] }>>();
  private watcher?: QueuedIterator<KvEntry>;
  private readonly listeners = new Set<(name: string, s: CachedStream | undefined) => void>();
  private stopped = false;
  private reopening = false;
  /** The bucket the watch reads through (see start()). */
  private watchKv: KV;
  /** The highest revision the watch delivered, and the bucket's last sequence before the current watch opened. */
  private seenRevision = 0;
  private coveredSeq = 0;
  /** Since when the bucket has held a sequence the watch has not delivered, and which (watchLiveness). */
  private behind?: { since: number; seq: number };
  private livenessTimer?: NodeJS.Timeout;

  /** With `nc`, the watch is opened again after every reconnect (see restartOnReconnect). */
  constructor(
    private readonly kv: KV,
    private readonly nc?: NatsConnection,
    private readonly log: (msg: string) => void = () => undefined,
  ) {
    this.watchKv = kv;
  }

  async start(): Promise<void> {
    // Watches go through a handle whose JetStream requests time out after 2 s
    // (the store's wait 10 s). With a server down, creating the watch's
    // consumer either answers in milliseconds or never (nats-server 2.9 may
    // place the ephemeral consumer on the dead peer; about one try in three on
    // a 3-server cluster, and every try while the bucket elects a leader):
    // trying again soon beats waiting 10 s for an answer that will not come.
    const bucket = (this.kv as Partial<{ bucket: string }>).bucket;
    if (this.nc && bucket) this.watchKv = await this.nc.jetstream({ timeout: 2_000 }).views.kv(bucket, { bindOnly: true });
    await (await this.open()).initial;
    if (this.nc) void this.restartOnReconnect(this.nc);
    this.livenessTimer = setInterval(() => void this.watchLiveness(), WATCH_CHECK_MS);
    this.livenessTimer.unref();
  }

  /**
   * A watch whose ordered consumer lived on a server that died can stay
   * silent without an error, also in a runtime whose own connection did not
   * move (restartOnReconnect does not see it): seen on a 3-server cluster,
   * the other runtime's cache missed a retention change for good. When the
   * bucket has held a sequence the watch has not delivered for WATCH_STALL_MS,
   * the watch is replaced (its loop ends and reopens).
   */
  private async watchLiveness(): Promise<void> {
    if (this.stopped || this.reopening) return;
    let last: number;
    try {
      last = (await this.watchKv.status()).streamInfo.state.last_seq;
    } catch {
      return; // no answer (no leader yet): asked again at the next check
    }
    if (last <= Math.max(this.seenRevision, this.coveredSeq)) {
      this.behind = undefined;
      return;
    }
    const now = Date.now();
    // A new mark once the watch has passed the last one: on a bucket written
    // without pause the watch is always a little behind, and an old mark it
    // has passed must not hide a stall that starts later.
    if (!this.behind || this.seenRevision >= this.behind.seq) {
      this.behind = { since: now, seq: last };
      return;
    }
    if (now - this.behind.since < WATCH_STALL_MS) return;
    this.log(`stream cache: the KV watch delivered nothing past revision ${Math.max(this.seenRevision, this.coveredSeq)} in ${now - this.behind.since} ms while the bucket is at ${last}; opening it again`);
    this.behind = undefined;
    this.watcher?.stop();
  }

  /**
   * Opens the KV watch (an ordered consumer); `initial` resolves once the
   * current values are in. If the watch ends other than through stop() it is
   * opened again: a watch that ends on an error (the client gives up
   * recreating its consumer, e.g. while the bucket has no leader) used to
   * leave the cache frozen for the life of the process.
   */
  private async open(): Promise<{ initial: Promise<void> }> {
    let ready!: () => void;
    const initial = new Promise<void>((r) => (ready = r));
    // Every key: headers (stream.>) and their shard-map pages (shards.>); nats-server 2.9 takes one filter.
    const opts: KvWatchOptions = { key: '>', initializedFn: () => ready() };
    // What the new watch covers: every entry up to here that still exists (a purged one never comes).
    const covered = await this.watchKv.status().then((st) => st.streamInfo.state.last_seq, () => undefined);
    const w = await this.watchKv.watch(opts);
    if (covered !== undefined) this.coveredSeq = Math.max(this.coveredSeq, covered);
    this.watcher = w;
    void (async () => {
      try {
        for await (const e of w) this.apply(e);
      } catch (e) {
        this.log(`stream cache: KV watch failed: ${(e as Error)?.message ?? e}`);
      }
      if (!this.stopped) void this.reopen();
    })();
    return { initial };
  }

  /** Opens the watch again, retrying until it opens; replayed entries older than the cache's are ignored. */
  private async reopen(): Promise<void> {
    if (this.reopening || this.stopped) return;
    this.reopening = true;
    for (let delay = 250; !this.stopped; delay = Math.min(delay * 2, 1_000)) {
      try {
        await this.open();
        break;
      } catch (e) {
        this.log(`stream cache: reopening the KV watch: ${(e as Error)?.message ?? e}`);
        await new Promise((r) => setTimeout(r, delay));
      }
    }
    this.reopening = false;
  }

  /**
   * After the connection moves to another server (the one it was on died),
   * the watch is replaced. Its ordered consumer could otherwise stay silent
   * for good: seen on a 3-server cluster when the runtime's server, which also
   * led the bucket, was SIGKILLed — no error, no heartbeat-triggered reset,
   * and the cache never saw another change (reshards, deletes) again.
   */
  private async restartOnReconnect(nc: NatsConnection): Promise<void> {
    for await (const s of nc.status()) {
      if (this.stopped) return;
      if (s.type === Events.Reconnect) this.watcher?.stop(); // its loop ends and reopens
    }
  }

  private apply(e: KvEntry): void {
    if (e.revision > this.seenRevision) this.seenRevision = e.revision;
    if (isPageKey(e.key)) return this.applyPage(e);
    const name = nameFromStreamKey(e.key);
    if (name === undefined) return;
    if (e.operation !== 'PUT' || e.length === 0) {
      this.prunePages(name, e.revision, new Set());
      const cur = this.byName.get(name);
      if (cur && cur.revision < e.revision) this.set(name, undefined);
      return;
    }
    const cur = this.byName.get(name);
    if (cur && cur.revision >= e.revision) return;
    const h = e.json<StoredHeader>();
    const held = this.pages.get(name);
    const record = assemble(h, (k) => held?.get(k)?.shards);
    if (!record) {
      // A page missed (not expected: pages precede their header): read the record whole.
      void this.fresh(name).catch((err) => this.log(`stream cache: reading ${name}: ${(err as Error)?.message ?? err}`));
      return;
    }
    this.set(name, toCached(record, e.revision));
    const used = new Set((h.shardMap?.pages ?? []).map((id, i) => `${i}.${id}`));
    this.prunePages(name, e.revision, used);
  }

  private applyPage(e: KvEntry): void {
    const name = streamOfPageKey(e.key);
    if (name === undefined) return;
    let held = this.pages.get(name);
    if (e.operation !== 'PUT' || e.length === 0) {
      held?.delete(e.key);
      return;
    }
    if (!held) this.pages.set(name, (held = new Map()));
    held.set(e.key, { revision: e.revision, shards: e.json<ShardRecord[]>() });
  }

  /**
   * Drops pages of `name` older than a header (revision `rev`) that does not
   * use them: pages the writers purged (a purge sends the watch nothing), or
   * pages of a write that lost its compare-and-set. Newer pages may belong to
   * a header still to come and stay.
   */
  private prunePages(name: string, rev: number, used: Set<string>): void {
    const held = this.pages.get(name);
    if (!held) return;
    for (const [k, p] of held) {
      if (p.revision < rev && !used.has(k.split('.').slice(-2).join('.'))) held.delete(k);
    }
    if (held.size === 0) this.pages.delete(name);
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

  /** Kinesis-visible stream names (a Direct PUT delivery stream's backing stream is not one). */
  names(): string[] {
    return [...this.byName.keys()].filter((n) => !isHiddenStreamName(n)).sort();
  }

  /**
   * Resolves once the cache holds a record of `name` newer than `revision`
   * (or none), or after `timeoutMs`, whichever comes first.
   */
  changed(name: string, revision: number, timeoutMs: number): Promise<void> {
    const cur = this.byName.get(name);
    if (!cur || cur.revision > revision) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(t);
        off();
        resolve();
      };
      const t = setTimeout(done, Math.max(0, timeoutMs));
      const off = this.onChange((n, s) => {
        if (n === name && (!s || s.revision > revision)) done();
      });
    });
  }

  onChange(l: (name: string, s: CachedStream | undefined) => void): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.livenessTimer);
    this.watcher?.stop();
  }
}
