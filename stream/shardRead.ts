// Reading one shard's JetStream stream: positions → records. The stream info
// call tells where the tip is, then messages are fetched with pipelined direct
// gets (any replica may answer them).
import type { JetStreamManager, NatsConnection } from 'nats';
import type { Store } from './connect.js';
import { batchArrivalMs, batchCount, decodeBatch, recordsDataBytes, walkBatch, type MakeRecord, type StoredRecord } from './recordBatch.js';
import type { PackedMessage } from './packedRecords.js';
import { isAggregatedAt } from './kinesis/aggregation.js';
import { isSealed, openBatch } from './batchCipher.js';
import { defaultKeyRing, KeyError, type KeyRing } from './keyring.js';
import { directRequest } from './directGets.js';

export interface ReadRecord {
  jsSeq: number;
  index: number;
  partitionKey: string;
  data: Buffer;
  arrivalMs: number;
  /** Stored encrypted (the stream had server-side encryption on when it was written). */
  encrypted?: boolean;
}

export interface ShardTip {
  firstSeq: number;
  lastSeq: number;
  /** Arrival of the newest message, 0 when the shard is empty. */
  lastMs: number;
}

export interface ShardRead {
  records: ReadRecord[];
  /** Where the next read starts. */
  next: { jsSeq: number; index: number };
  tip: ShardTip;
  /** True when everything stored up to the tip has been returned. */
  atEnd: boolean;
}

/** Most direct gets in flight at once. */
const WINDOW = 64;
/** Gets of a read's first window, before it knows how many records a message holds. */
const FIRST_WINDOW = 4;

/**
 * How many messages the next window asks for: enough to fill what is left of
 * the read's record and byte limits at the records and bytes per message seen
 * so far (plus one), never more than WINDOW, never more messages than records
 * left (each message holds at least one). Asking a full WINDOW regardless
 * fetched up to 64 messages of ~70 KB and hundreds of records each to hand
 * out 10,000 records: most of them were received, parsed and dropped, then
 * fetched again by the next read (2-3× the transport CPU per record handed out).
 */
function windowSize(recordsLeft: number, bytesLeft: number, seen: WindowStats): number {
  let n = Math.min(WINDOW, recordsLeft);
  if (seen.asked === 0) return Math.max(1, Math.min(n, FIRST_WINDOW));
  // Messages that gave no records (expired, gone) say nothing about the next ones: over them, full windows.
  if (seen.msgs > 0) n = Math.min(n, Math.ceil(recordsLeft / (seen.records / seen.msgs)) + 1, Math.ceil(bytesLeft / (seen.bytes / seen.msgs)) + 1);
  return Math.max(1, n);
}

interface WindowStats {
  /** Messages asked for so far. */
  asked: number;
  /** Messages that gave records, and the records and bytes they gave (from where the read took them). */
  msgs: number;
  records: number;
  bytes: number;
}

/** Per-attempt timeout of the read path's JetStream requests, and attempts (the old single timeout was 10 s). */
const ATTEMPT_MS = 2_000;
const ATTEMPTS = 5;

/**
 * Sends a read-path JetStream request again when it times out. During a
 * failover an answer may never come: the request left on a connection that
 * then died (the answer is lost with it), or the shard stream is electing a
 * leader (STREAM.INFO goes unanswered until there is one). Waiting out one
 * 10 s timeout stalled every GetRecords caught in it for 10 s; asking again
 * every 2 s (over the reconnected connection, of the new leader) answers as
 * soon as the cluster can, within the same 10 s in all.
 */
async function retryOnTimeout<T>(attempt: () => Promise<T>): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await attempt();
    } catch (e) {
      if ((e as { code?: string })?.code !== 'TIMEOUT' || i >= ATTEMPTS) throw e;
    }
  }
}

/** A JetStreamManager on the store's connection whose requests time out after ATTEMPT_MS. */
const shortJsm = new WeakMap<NatsConnection, Promise<JetStreamManager>>();
function readJsm(store: Store): Promise<JetStreamManager> {
  let jsm = shortJsm.get(store.nc);
  if (!jsm) shortJsm.set(store.nc, (jsm = store.nc.jetstreamManager({ timeout: ATTEMPT_MS, checkAPI: false })));
  return jsm;
}

export async function shardTip(store: Store, jsStream: string): Promise<ShardTip> {
  const jsm = await readJsm(store);
  const info = await retryOnTimeout(() => jsm.streams.info(jsStream));
  const st = info.state;
  return {
    firstSeq: st.first_seq,
    lastSeq: st.last_seq,
    lastMs: st.messages > 0 && st.last_ts ? Date.parse(st.last_ts) : 0,
  };
}

export interface DirectMsg {
  seq: number;
  data: Uint8Array;
}

const enc = new TextEncoder();

/** JetStream direct get; undefined when no such message (expired or beyond the tip). */
function getMsg(store: Store, jsStream: string, seq: number, subject?: string, baseline = false): Promise<DirectMsg | undefined> {
  const api = `$JS.API.DIRECT.GET.${jsStream}`;
  // The same bytes as JSON.stringify({ seq }), from Buffer's pool instead of a new ArrayBuffer per get.
  const payload = () => (subject || baseline ? enc.encode(JSON.stringify(subject ? { seq, next_by_subj: subject } : { seq })) : Buffer.from(`{"seq":${seq}}`, 'latin1'));
  return retryOnTimeout(() => (baseline ? store.nc.request(api, payload(), { timeout: ATTEMPT_MS }) : directRequest(store.nc, api, payload(), ATTEMPT_MS))).then((m) => {
    const code = m.headers?.code ?? 0;
    if (code === 404) return undefined;
    if (code >= 400) throw new Error(`direct get ${jsStream}#${seq}: status ${code} ${m.headers?.description ?? ''}`);
    const s = Number(m.headers?.get('Nats-Sequence'));
    if (!Number.isFinite(s) || s <= 0) throw new Error(`direct get ${jsStream}#${seq}: no sequence header`);
    return { seq: s, data: m.data };
  });
}

/**
 * A message inside the tip (first..last sequence, which the stream leader
 * reported). A direct get may be answered by a follower that has not yet
 * applied a message the leader already acknowledged: its 404 does not mean
 * the message is gone, and skipping it would silently lose the record for this
 * reader (seen on replicas-3 streams when reading at the tip). So a 404 here
 * is checked with the leader's STREAM.MSG.GET, which is authoritative; only a
 * message the leader does not have either (expired since the tip was read) is
 * skipped. Rare, so reads stay on direct gets.
 */
function getMsgInTip(store: Store, jsStream: string, seq: number, baseline: boolean): Promise<DirectMsg | undefined> {
  return getMsg(store, jsStream, seq, undefined, baseline).then((m) => m ?? getMsgFromLeader(store, jsStream, seq));
}

async function getMsgFromLeader(store: Store, jsStream: string, seq: number): Promise<DirectMsg | undefined> {
  try {
    const sm = await store.jsm.streams.getMessage(jsStream, { seq });
    return { seq: sm.seq, data: sm.data };
  } catch (e) {
    const err = e as { api_error?: { err_code?: number }; message?: string };
    if (err.api_error?.err_code === 10037 || /no message found/i.test(String(err.message))) return undefined;
    throw e;
  }
}

/** Messages `from`..`upto`, inside the tip, fetched at once (undefined: gone). */
function messagesAt(store: Store, jsStream: string, from: number, upto: number, baseline: boolean): Promise<(DirectMsg | undefined)[]> {
  return Promise.all(Array.from({ length: upto - from + 1 }, (_, i) => getMsgInTip(store, jsStream, from + i, baseline)));
}

/** Direct gets in flight at once for messagesInRange(). */
const RANGE_WINDOW = 16;

/**
 * Messages `from`..`to` of a stream, all inside the tip its caller read, in
 * order: RANGE_WINDOW direct gets at a time (as a shard read fetches its
 * windows), those the leader no longer has left out. For streams that are not
 * shards (analytics' partials stream); the stream needs allow_direct.
 */
export async function* messagesInRange(store: Store, jsStream: string, from: number, to: number): AsyncGenerator<DirectMsg> {
  for (let seq = Math.max(from, 1); seq <= to; seq += RANGE_WINDOW) {
    const upto = Math.min(to, seq + RANGE_WINDOW - 1);
    for (const m of await messagesAt(store, jsStream, seq, upto, false)) if (m) yield m;
  }
}

/** Bytes a record counts for against read limits: its data and its partition key in UTF-8, as Kinesis counts them. */
export function recordBytes(r: { partitionKey: string; data: Uint8Array }): number {
  return r.data.length + Buffer.byteLength(r.partitionKey, 'utf8');
}

export interface DecodedMessage<T = StoredRecord> {
  arrivalMs: number;
  /** Records in the message (including those before `fromIndex` and expired ones). */
  count: number;
  /** Stored encrypted. */
  encrypted: boolean;
  /** Records from `fromIndex` on; empty when the message is past retention. */
  records: T[];
}

/** What a reader builds its records from: per message, a maker of its records (see decodeBatch). */
export type ShapeRecords<T> = (m: { jsSeq: number; arrivalMs: number; encrypted: boolean }) => MakeRecord<T>;

/**
 * The one decode step of every read path: opens a sealed message with the key
 * it names (KeyUnavailableError when that key is not usable) and decodes the
 * records from `fromIndex` on (at most `max`). A message that arrived before `minArrivalMs` is
 * past retention: no records, and it is not decrypted (its key may be gone).
 */
export function decodeMessage(
  data: Uint8Array, fromIndex: number, minArrivalMs: number, keys: KeyRing | undefined, granted?: ReadonlySet<string>,
): DecodedMessage;
export function decodeMessage<T>(
  data: Uint8Array, fromIndex: number, minArrivalMs: number, keys: KeyRing | undefined, granted: ReadonlySet<string> | undefined, make: (m: { arrivalMs: number; encrypted: boolean }) => MakeRecord<T>, max?: number,
): DecodedMessage<T>;
export function decodeMessage<T>(
  data: Uint8Array, fromIndex: number, minArrivalMs: number, keys: KeyRing | undefined, granted?: ReadonlySet<string>, make?: (m: { arrivalMs: number; encrypted: boolean }) => MakeRecord<T>, max?: number,
): DecodedMessage<T | StoredRecord> {
  const { arrivalMs, count, encrypted, plain } = openMessage(data, minArrivalMs, keys, granted);
  if (!plain) return { arrivalMs, count, encrypted, records: [] };
  return { arrivalMs, count, encrypted, records: make ? decodeBatch(plain, fromIndex, make({ arrivalMs, encrypted }), max).records : decodeBatch(plain, fromIndex).records };
}

/**
 * A stored message's header and its plain batch: opened with the key it
 * names when sealed (KeyUnavailableError when that key is not usable); no
 * batch when it arrived before `minArrivalMs` (past retention: not
 * decrypted, its key may be gone).
 */
function openMessage(data: Uint8Array, minArrivalMs: number, keys: KeyRing | undefined, granted?: ReadonlySet<string>): { arrivalMs: number; count: number; encrypted: boolean; plain?: Buffer } {
  const arrivalMs = batchArrivalMs(data);
  const count = batchCount(data);
  const encrypted = isSealed(data);
  if (arrivalMs < minArrivalMs) return { arrivalMs, count, encrypted };
  const plain = encrypted ? openBatch(data, keys ?? defaultKeyRing(), granted) : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return { arrivalMs, count, encrypted, plain };
}

/** readShard's own records (positions as JetStream sequence and index). */
const readRecords: ShapeRecords<ReadRecord> = ({ jsSeq, arrivalMs, encrypted }) => (partitionKey, data, index) => ({ jsSeq, index, partitionKey, data, arrivalMs, encrypted });

export interface ReadShardOptions {
  limit: number;
  maxBytes: number;
  minArrivalMs: number;
  keys?: KeyRing;
  keptKeys?: ReadonlySet<string>;
  /**
   * Read as before windows and direct requests: 64 messages asked per round
   * trip whatever the limits, every message decoded whole, each get an
   * nc.request(). Only for comparisons (bench/readWindows.ts, the reader's
   * tests); the records and positions are the same either way.
   */
  baseline?: boolean;
}

/**
 * What the read loop does with one message's records from `fromIndex`: how
 * many it offers (at most `max`), each one's bytes, and taking one. Throws
 * KeyError when the message cannot be opened.
 */
interface MessageRecords {
  count: number;
  size(k: number): number;
  /** Takes the first `n` records (the read takes a message's records from its first on). */
  take(n: number): void;
}
type OpenMessage = (m: DirectMsg, fromIndex: number, max: number) => MessageRecords;

/**
 * The one read loop: records from `from` up to the tip read first, at most
 * `limit` records and `maxBytes` bytes (always at least one record). `shape`
 * builds the records handed out (default ReadRecord) as they are decoded.
 */
export async function readShard(
  store: Store,
  jsStream: string,
  from: { jsSeq: number; index: number },
  opts: ReadShardOptions,
): Promise<ShardRead>;
export async function readShard<T extends { partitionKey: string; data: Uint8Array }>(
  store: Store,
  jsStream: string,
  from: { jsSeq: number; index: number },
  opts: ReadShardOptions & { shape: ShapeRecords<T> },
): Promise<Omit<ShardRead, 'records'> & { records: T[] }>;
export async function readShard<T extends { partitionKey: string; data: Uint8Array }>(
  store: Store,
  jsStream: string,
  from: { jsSeq: number; index: number },
  opts: ReadShardOptions & { shape?: ShapeRecords<T> },
): Promise<Omit<ShardRead, 'records'> & { records: (T | ReadRecord)[] }> {
  const shape = (opts.shape ?? readRecords) as ShapeRecords<T | ReadRecord>;
  const records: (T | ReadRecord)[] = [];
  const baseline = opts.baseline === true;
  const read = await readLoop(store, jsStream, from, opts, (m, fromIndex, max) => {
    const batch = decodeMessage(m.data, fromIndex, opts.minArrivalMs, opts.keys, opts.keptKeys, (d) => shape({ jsSeq: m.seq, ...d }), baseline ? Infinity : max);
    const recs = batch.records;
    return { count: recs.length, size: (k) => recordBytes(recs[k]!), take: (n) => { for (let k = 0; k < n; k++) records.push(recs[k]!); } };
  });
  return { records, ...read };
}

/**
 * readShard() without an object per record: the records stay in their
 * messages' bytes (PackedMessage: the plain batch and the range of records
 * taken), for readers that decode the data themselves (analytics' shard
 * workers). The same records, limits, positions and errors as readShard().
 */
export async function readShardPacked(
  store: Store,
  jsStream: string,
  from: { jsSeq: number; index: number },
  opts: Omit<ReadShardOptions, 'baseline'>,
): Promise<Omit<ShardRead, 'records'> & { messages: PackedMessage[] }> {
  const messages: PackedMessage[] = [];
  const read = await readLoop(store, jsStream, from, opts, (m, fromIndex, max) => {
    const { arrivalMs, encrypted, plain: payload } = openMessage(m.data, opts.minArrivalMs, opts.keys, opts.keptKeys);
    if (!payload) return { count: 0, size: () => 0, take: () => undefined };
    const walked = walkBatch(payload, fromIndex, max, isAggregatedAt);
    return {
      count: walked.count,
      size: (k) => walked.sizes[k]!,
      take: (n) => {
        let aggregates = false;
        if (walked.aggregates) for (const k of walked.aggregates) if (k < n) aggregates = true;
        // Their data bytes now, while walkBatch has just read their length fields (counted after processing,
        // a backlog batch's ~10 MB had left the cache: ~2.5% of an analytics worker's CPU).
        const dataBytes = recordsDataBytes(payload, walked.at, n);
        messages.push({ jsSeq: m.seq, arrivalMs, encrypted, payload, from: fromIndex, to: fromIndex + n, at: walked.at, aggregates, dataBytes });
      },
    };
  });
  return { messages, ...read };
}

async function readLoop(
  store: Store,
  jsStream: string,
  from: { jsSeq: number; index: number },
  opts: Pick<ReadShardOptions, 'limit' | 'maxBytes' | 'baseline'>,
  open: OpenMessage,
): Promise<Omit<ShardRead, 'records'>> {
  const tip = await shardTip(store, jsStream);
  const r = new ReadCursor(from, tip, opts);
  while (!r.full && r.seq <= tip.lastSeq) {
    const upto = r.windowEnd();
    r.take(await messagesAt(store, jsStream, r.seq, upto, r.baseline), open);
  }
  return { next: { jsSeq: r.seq, index: r.index }, tip, atEnd: !r.full && r.seq > tip.lastSeq };
}

/**
 * Where a read is and what it has taken, and the taking of each window of messages: a small
 * synchronous step of its own, so that V8 optimises it once rather than recompiling the whole
 * async read loop around it (readLoop was compiled eight times in a worker's first million records).
 */
class ReadCursor {
  seq: number;
  index: number;
  taken = 0;
  bytes = 0;
  full = false;
  readonly baseline: boolean;
  private readonly seen: WindowStats = { asked: 0, msgs: 0, records: 0, bytes: 0 };

  constructor(from: { jsSeq: number; index: number }, private readonly tip: { firstSeq: number; lastSeq: number }, private readonly opts: Pick<ReadShardOptions, 'limit' | 'maxBytes' | 'baseline'>) {
    this.seq = from.jsSeq;
    this.index = from.index;
    // JetStream sequences start at 1; an empty stream reports first_seq 0.
    const first = Math.max(tip.firstSeq, 1);
    if (this.seq < first) {
      this.seq = first;
      this.index = 0;
    }
    this.baseline = opts.baseline === true;
  }

  /** The last message of the next window to fetch. */
  windowEnd(): number {
    const { opts, seen } = this;
    const upto = Math.min(this.tip.lastSeq, this.seq + (this.baseline ? WINDOW : windowSize(opts.limit - this.taken, opts.maxBytes - this.bytes, seen)) - 1);
    seen.asked += upto - this.seq + 1;
    return upto;
  }

  /** Takes the window's records, in order, until the read is full. */
  take(msgs: (DirectMsg | undefined)[], open: OpenMessage): void {
    const { opts, seen } = this;
    for (const m of msgs) {
      if (!m) {
        this.seq++;
        this.index = 0;
        continue;
      }
      let recs: MessageRecords;
      try {
        // Only as many records as the limit can still take, and the one after
        // them, which finds the read full (the rest of the message is for the next read).
        recs = open(m, m.seq === this.seq ? this.index : 0, Math.max(0, opts.limit - this.taken) + 1);
      } catch (e) {
        // Hand out what came before it; the next read starts at it and fails.
        if (e instanceof KeyError && this.taken > 0) {
          this.full = true;
          return;
        }
        throw e;
      }
      if (m.seq !== this.seq) this.index = 0;
      if (recs.count > 0) seen.msgs++;
      // The records that fit, then taken at once (one call per message: a call per record, inlined, made
      // this loop one of the costliest functions V8 compiled in a reader).
      let k = 0;
      let full = false;
      for (; k < recs.count; k++) {
        const size = recs.size(k);
        seen.records++;
        seen.bytes += size;
        if (this.taken >= opts.limit || (this.bytes + size > opts.maxBytes && this.taken > 0)) {
          full = true;
          break;
        }
        this.taken++;
        this.bytes += size;
      }
      if (k > 0) recs.take(k);
      this.index += k;
      if (full) {
        this.full = true;
        return;
      }
      this.seq = m.seq + 1;
      this.index = 0;
    }
  }
}

/** The first message sequence whose arrival is at or after `ms` (tip+1 when none). */
export async function seqAtTimestamp(store: Store, jsStream: string, subject: string, ms: number): Promise<number> {
  const tip = await shardTip(store, jsStream);
  let lo = Math.max(tip.firstSeq, 1);
  let hi = tip.lastSeq + 1;
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2);
    const m = await getMsg(store, jsStream, mid, subject);
    if (!m) {
      hi = mid;
      continue;
    }
    if (batchArrivalMs(m.data) >= ms) hi = Math.min(mid, m.seq);
    else lo = m.seq + 1;
  }
  return lo;
}
