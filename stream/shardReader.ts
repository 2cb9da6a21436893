// The one shard reader. Every read of records goes through here: the Kinesis
// API (GetShardIterator/GetRecords, SubscribeToShard), the lineage reader, and
// the consumer library and workers built on them. It resolves a start position
// (all five iterator types), reads a bounded batch (poll), or follows the shard
// live (push), with one decode/decrypt step (shardRead.ts decodeMessage) and
// one retention horizon. Positions are storage positions: (JetStream message
// sequence, record index in the message), what a sequence number encodes.
import { DeliverPolicy, type Consumer, type ConsumerMessages, type JsMsg } from 'nats';
import type { Store } from './connect.js';
import { InvalidPositionError, ShardNotFoundError, StreamLibraryError } from './errors.js';
import { KeyError, type KeyRing } from './keyring.js';
import { readerKeys } from './storeKeys.js';
import { decodeSequence, sequenceIndex, sequencePrefix } from './kinesis/sequence.js';
import { jsStreamName, jsSubject, shardIdOf, shardIndexOf } from './names.js';
import { decodeMessage, readShard, readShardPacked, recordBytes, seqAtTimestamp, shardTip, type ShapeRecords, type ShardTip } from './shardRead.js';
import { retentionHorizonMs } from './retention.js';
import { PackedRecords } from './packedRecords.js';
import { keptKeyGrant } from './streamEncryption.js';
import { getStream } from './streams.js';
import type { ShardRecord, StreamRecord } from './streamRecord.js';

export type StartPosition =
  | { type: 'TRIM_HORIZON' }
  | { type: 'LATEST' }
  | { type: 'AT_SEQUENCE_NUMBER'; sequenceNumber: string }
  | { type: 'AFTER_SEQUENCE_NUMBER'; sequenceNumber: string }
  | { type: 'AT_TIMESTAMP'; timestampMs: number };

/** Storage position in the shard's JetStream stream: the next record is the first at or after (jsSeq, index). */
export interface Position {
  jsSeq: number;
  index: number;
}

export interface ShardRecordOut {
  sequenceNumber: string;
  partitionKey: string;
  data: Buffer;
  arrivalMs: number;
  /** Stored encrypted (server-side encryption was on when it was written). */
  encrypted: boolean;
}

export interface ShardBatchOut {
  records: ShardRecordOut[];
  /** Where the next read starts. */
  next: Position;
  millisBehindLatest: number;
  /** The shard is closed (resharded) and everything in it has been returned: read its children next. */
  shardEnded: boolean;
}

export { retentionHorizonMs } from './retention.js';

/** The shard of the stream with this id; ShardNotFoundError when there is none. */
export function shardOf(stream: StreamRecord, shardId: string): ShardRecord {
  const idx = shardIndexOf(shardId);
  const shard = idx === undefined ? undefined : stream.shards.find((s) => s.index === idx);
  if (!shard) throw new ShardNotFoundError(stream.name, shardId);
  return shard;
}

/** Shards created from this one by a split or merge. */
export function childShards(stream: StreamRecord, shardId: string): ShardRecord[] {
  return stream.shards.filter((c) => c.parentShardId === shardId || c.adjacentParentShardId === shardId);
}

/**
 * Lineage order: the shards to read now, given which shards have been read to
 * their end. A shard is readable once each of its parents has ended or is no
 * longer in the stream (gone past retention), so per-partition-key order holds
 * across splits and merges. Sorted by shard index.
 */
export function readableShards(stream: StreamRecord, ended: (shardId: string) => boolean): ShardRecord[] {
  const known = new Set(stream.shards.map((s) => s.shardId));
  const done = (id: string | undefined) => !id || !known.has(id) || ended(id);
  return stream.shards
    .filter((s) => !ended(s.shardId) && done(s.parentShardId) && done(s.adjacentParentShardId))
    .sort((a, b) => a.index - b.index);
}

/**
 * The storage position a start position names. AT/AFTER_SEQUENCE_NUMBER must
 * be a sequence number of this shard (InvalidPositionError otherwise); a
 * position before what the shard still holds reads from its trim horizon. On a
 * closed shard LATEST is its end. With `parentsRead` (the caller has read this
 * shard's parents to their end, in lineage order) LATEST starts at the shard's
 * beginning: every record of the child was written after the parents' last, so
 * starting at its tip would skip some. AT_TIMESTAMP needs no such care: the
 * search finds the child's first record at or after the time either way.
 */
export async function resolveStart(
  store: Store,
  stream: StreamRecord,
  shardId: string,
  start: StartPosition,
  opts: { parentsRead?: boolean; nowMs?: number } = {},
): Promise<Position> {
  const shard = shardOf(stream, shardId);
  const js = jsStreamName(stream.uid, shard.index);
  switch (start.type) {
    case 'AT_SEQUENCE_NUMBER':
    case 'AFTER_SEQUENCE_NUMBER': {
      const d = decodeSequence(start.sequenceNumber);
      if (!d) throw new InvalidPositionError(stream.name, shard.shardId, { kind: 'malformed', sequenceNumber: start.sequenceNumber });
      if (d.shardIndex !== shard.index) {
        throw new InvalidPositionError(stream.name, shard.shardId, { kind: 'other-shard', sequenceNumber: start.sequenceNumber, encodedShardId: shardIdOf(d.shardIndex) });
      }
      return start.type === 'AT_SEQUENCE_NUMBER' ? { jsSeq: d.jsSeq, index: d.index } : { jsSeq: d.jsSeq, index: d.index + 1 };
    }
    case 'AT_TIMESTAMP': {
      const now = opts.nowMs ?? Date.now();
      if (start.timestampMs > now) {
        throw new InvalidPositionError(stream.name, shard.shardId, { kind: 'future-timestamp', timestampMs: start.timestampMs, nowMs: now });
      }
      return { jsSeq: await seqAtTimestamp(store, js, jsSubject(stream.uid, shard.index), start.timestampMs), index: 0 };
    }
    case 'LATEST':
      if (opts.parentsRead) return { jsSeq: 0, index: 0 };
      return { jsSeq: (await shardTip(store, js)).lastSeq + 1, index: 0 };
    case 'TRIM_HORIZON':
      return { jsSeq: 0, index: 0 };
  }
}

/** True when the stream record is gone, being deleted, or names another creation than `stream`. */
async function shardGone(store: Store, stream: StreamRecord): Promise<boolean> {
  const now = await getStream(store, stream.name).catch(() => stream);
  return !now || now.uid !== stream.uid || now.status === 'DELETING';
}

/**
 * Reads the records from `from` on, bounded by `limit` records and `maxBytes`
 * (data plus partition key; at least one record is returned when there is
 * one). `shardEnded` is judged on `stream` as passed: give a current record
 * (a shard closed after the record was read is seen on a later call). An encrypted message whose key is unusable fails the read with
 * KeyUnavailableError, unless records before it were read: those are returned
 * and the next read (starting at it) fails.
 */
export async function readBatch(
  store: Store,
  stream: StreamRecord,
  shardId: string,
  from: Position,
  opts: { limit: number; maxBytes: number; keys?: KeyRing; nowMs?: number },
): Promise<ShardBatchOut> {
  const shard = shardOf(stream, shardId);
  const read = await readOf(store, stream, shardId, opts, (o) => readShard(store, jsStreamName(stream.uid, shard.index), from, { ...o, shape: recordsOf(shard.index) }));
  return { records: read.records, ...batchEnd(read, shard, read.records[read.records.length - 1]?.arrivalMs) };
}

/** Where a read leaves off: the next position, its lag behind the shard's newest record, and whether the closed shard is done. */
function batchEnd(read: { next: Position; tip: ShardTip; atEnd: boolean }, shard: ShardRecord, lastArrivalMs: number | undefined): Omit<ShardBatchOut, 'records'> {
  return {
    next: read.next,
    millisBehindLatest: read.atEnd || lastArrivalMs === undefined ? 0 : Math.max(0, read.tip.lastMs - lastArrivalMs),
    shardEnded: shard.endingSequenceNumber !== undefined && read.atEnd,
  };
}

/** readBatch() with the records left in their messages (PackedRecords): no object per record. */
export async function readBatchPacked(
  store: Store,
  stream: StreamRecord,
  shardId: string,
  from: Position,
  opts: { limit: number; maxBytes: number; keys?: KeyRing; nowMs?: number },
): Promise<PackedBatchOut> {
  const shard = shardOf(stream, shardId);
  const read = await readOf(store, stream, shardId, opts, (o) => readShardPacked(store, jsStreamName(stream.uid, shard.index), from, o));
  const packed = new PackedRecords(shard.index, read.messages);
  return { packed, ...batchEnd(read, shard, packed.lastArrivalMs()) };
}

export interface PackedBatchOut extends Omit<ShardBatchOut, 'records'> {
  packed: PackedRecords;
}

/** A read of the shard with the stream's keys and retention; a storage error of a deleted stream is ShardNotFoundError. */
async function readOf<T>(
  store: Store,
  stream: StreamRecord,
  shardId: string,
  opts: { limit: number; maxBytes: number; keys?: KeyRing; nowMs?: number },
  read: (o: { limit: number; maxBytes: number; minArrivalMs: number; keys: KeyRing; keptKeys: ReadonlySet<string> | undefined }) => Promise<T>,
): Promise<T> {
  // The store's default key and kept key materials, attached once per ring.
  const keys = await readerKeys(store, opts.keys);
  return read({
    limit: opts.limit,
    maxBytes: opts.maxBytes,
    minArrivalMs: retentionHorizonMs(stream, opts.nowMs),
    keys,
    keptKeys: keptKeyGrant(keys, stream),
  }).catch(async (e) => {
    // The caller's record may be older than a DeleteStream (or a recreation)
    // whose storage is already gone: the storage's "stream not found" / "no
    // responders" then means no such shard, not a fault.
    if (!(e instanceof KeyError) && (await shardGone(store, stream))) throw new ShardNotFoundError(stream.name, shardId);
    throw e;
  });
}

/**
 * The records readBatch and follow hand out, built as each message is decoded
 * (one object per record). A record's sequence number is the message's part
 * (encoded once per message) and its index.
 */
const recordsOf = (shardIndex: number): ShapeRecords<ShardRecordOut> => ({ jsSeq, arrivalMs, encrypted }) => {
  const prefix = sequencePrefix(shardIndex, jsSeq);
  return (partitionKey, data, index) => ({ sequenceNumber: prefix + sequenceIndex(index), partitionKey, data, arrivalMs, encrypted });
};

export interface FollowOptions {
  signal: AbortSignal;
  keys?: KeyRing;
  /** A batch is handed out once it holds this many records (default 10,000)… */
  limit?: number;
  /** …or this many bytes (default 4 MiB), or nothing more is pending (on the server or queued in the client). */
  maxBytes?: number;
  /**
   * The stream's current record, to notice the shard being closed by a
   * reshard (default: read from the KV bucket). Undefined (or another uid)
   * once the stream is deleted: the follow ends with ShardNotFoundError.
   */
  current?: () => StreamRecord | undefined | Promise<StreamRecord | undefined>;
  /** How often the record is checked while no records arrive (default 1000 ms). */
  recheckMs?: number;
  /**
   * A batch not yet full is held this long after its first record (default
   * 0: handed out as soon as nothing more is pending). Readers that pay per
   * batch (analytics evaluates each batch in DuckDB) take fewer, larger ones.
   */
  lingerMs?: number;
}

/** A live follow of one shard; iterate it once, after awaiting ready() if the subscription must be in place first. */
export interface Follower extends AsyncIterable<ShardBatchOut> {
  /** Resolves once the server-side consumer exists; rejects as the iteration would (e.g. ShardNotFoundError). */
  ready(): Promise<void>;
}

/** Longest a partial batch waits while the server still reports messages pending. */
const PENDING_FLUSH_MS = 20;

/**
 * A follow behind the shard's tip measures MillisBehindLatest against the
 * tip's arrival (STREAM.INFO), asked at most this often; between two asks the
 * last measure stands. A caught-up (or idle) follow never asks.
 */
const TIP_REFRESH_MS = 1000;

/**
 * Follows the shard live from `from`: a JetStream ordered consumer pushes each
 * message as the server stores it; messages that arrive together become one
 * batch (handed out once nothing more is pending: the server reports none and
 * the client's queue is empty). Ends when
 * the shard is closed and read to its end (a last batch with shardEnded), when
 * `signal` aborts, or with an error: KeyUnavailableError (after a batch of
 * what came before the message it cannot open), ShardNotFoundError when the
 * stream is deleted. While the caller handles a batch no more are fetched
 * beyond the consumer's buffer. A batch's `next` after a whole message is
 * (its sequence, its record count): the same place as the next message's
 * start, and one past the message's last record for AFTER_SEQUENCE_NUMBER.
 * MillisBehindLatest is what Kinesis means by it (as readBatch reports it):
 * how far the batch's last record arrived before the shard's newest one, 0
 * when nothing newer is stored.
 */
export function follow(store: Store, stream: StreamRecord, shardId: string, from: Position, opts: FollowOptions): Follower {
  const shard = shardOf(stream, shardId);
  const jsStream = jsStreamName(stream.uid, shard.index);
  let setup: Promise<{ consumer: Consumer; messages: ConsumerMessages }> | undefined;
  const start = () =>
    (setup ??= (async () => {
      try {
        const consumer = await store.js.consumers.get(jsStream, { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: Math.max(from.jsSeq, 1) });
        const messages = await consumer.consume({ max_messages: 256 });
        // Also when the iteration never starts (ready() awaited, then aborted).
        opts.signal.addEventListener('abort', () => { messages.stop(); consumer.delete().catch(() => undefined); }, { once: true });
        return { consumer, messages };
      } catch (e) {
        const rec = await currentRecord(store, stream, opts).catch(() => stream);
        if (!rec || !rec.shards.some((s) => s.index === shard.index)) throw new ShardNotFoundError(stream.name, shardId);
        throw e;
      }
    })());
  return {
    ready: async () => void (await start()),
    [Symbol.asyncIterator]: () => followShard(store, stream, shard, from, opts, start)[Symbol.asyncIterator](),
  };
}

async function currentRecord(store: Store, stream: StreamRecord, opts: FollowOptions): Promise<StreamRecord | undefined> {
  const r = opts.current ? await opts.current() : await getStream(store, stream.name);
  return r && r.uid === stream.uid ? r : undefined;
}

async function* followShard(
  store: Store,
  stream: StreamRecord,
  shard: ShardRecord,
  from: Position,
  opts: FollowOptions,
  start: () => Promise<{ consumer: Consumer; messages: ConsumerMessages }>,
): AsyncGenerator<ShardBatchOut> {
  const limit = opts.limit ?? 10_000;
  const maxBytes = opts.maxBytes ?? 4 * 1024 * 1024;
  const recheckMs = opts.recheckMs ?? 1000;
  const lingerMs = opts.lingerMs ?? 0;
  const jsStream = jsStreamName(stream.uid, shard.index);
  const shape = recordsOf(shard.index);
  const { consumer, messages } = await start();
  const keys = await readerKeys(store, opts.keys);
  const it = messages[Symbol.asyncIterator]();
  let rec: StreamRecord = stream;
  let next: Position = { ...from };
  /** Highest message sequence handed out in full (from.jsSeq − 1 before any). */
  let through = from.jsSeq - 1;
  let records: ShardRecordOut[] = [];
  let bytes = 0;
  /** Messages after the last one taken: still on the server (the message's pending count)… */
  let pending = 0;
  /** …or already pushed to this client and queued in the consumer (JetStream's pending does not count those). */
  let buffered = 0;
  let lastArrivalMs = 0;
  /** The shard's tip as last asked, and the lag measured against it (kept until the next ask). */
  let tip: ShardTip | undefined;
  let tipAt = 0;
  let lagMs = 0;
  let firstAt = 0;
  // The next message is asked for once and parked here; each wait below
  // listens for it, a timer and the abort signal, and removes its listeners
  // when done (a follow idles for hours: nothing may pile up per wait).
  let asking = false;
  let arrived: { r: IteratorResult<JsMsg> } | { e: unknown } | undefined;
  let wake: (() => void) | undefined;
  const ask = () => {
    asking = true;
    it.next().then(
      (r) => (arrived = { r }),
      (e) => (arrived = { e }),
    ).finally(() => {
      asking = false;
      wake?.();
    });
  };
  const wait = (ms: number) =>
    new Promise<'arrived' | 'timer' | 'abort'>((resolve) => {
      const finish = (k: 'arrived' | 'timer' | 'abort') => {
        clearTimeout(timer);
        opts.signal.removeEventListener('abort', onAbort);
        wake = undefined;
        resolve(k);
      };
      const onAbort = () => finish('abort');
      const timer = setTimeout(() => finish('timer'), ms);
      opts.signal.addEventListener('abort', onAbort, { once: true });
      wake = () => finish('arrived');
      if (opts.signal.aborted) finish('abort');
    });

  /** How far the last record handed out is behind the shard's newest; 0 when nothing is known to follow it. */
  const behindMs = async (): Promise<number> => {
    if (pending === 0 && buffered === 0) return (lagMs = 0);
    if (Date.now() - tipAt >= TIP_REFRESH_MS) {
      tipAt = Date.now();
      tip = (await shardTip(store, jsStream).catch(() => undefined)) ?? tip;
    }
    // A tip asked before the records handed out cannot measure them: the last measure stands until the next ask.
    if (tip && tip.lastSeq > through && lastArrivalMs > 0) lagMs = Math.max(0, tip.lastMs - lastArrivalMs);
    return lagMs;
  };
  const take = async (shardEnded: boolean): Promise<ShardBatchOut> => {
    const out = {
      records,
      next: { ...next },
      millisBehindLatest: shardEnded ? 0 : await behindMs(),
      shardEnded,
    };
    records = [];
    bytes = 0;
    return out;
  };
  const endJsSeq = (r: StreamRecord): number | undefined => {
    const end = r.shards.find((s) => s.index === shard.index)?.endingSequenceNumber;
    return end === undefined ? undefined : decodeSequence(end)?.jsSeq;
  };
  /** Closed, and nothing left to hand out: past its end, or the rest expired / lies beyond what the stream holds. */
  const drained = async (askTip: boolean): Promise<boolean> => {
    const end = endJsSeq(rec);
    if (end === undefined) return false;
    if (through >= end) return true;
    if (!askTip) return false;
    const t = await shardTip(store, jsStream).catch(() => undefined);
    return t !== undefined && (t.lastSeq <= through || Math.max(t.firstSeq, 1) > end);
  };
  const refresh = async (): Promise<void> => {
    const r = await currentRecord(store, stream, opts);
    if (!r || !r.shards.some((s) => s.index === shard.index)) throw new ShardNotFoundError(stream.name, shard.shardId);
    rec = r;
  };

  try {
    await refresh();
    if (await drained(true)) {
      yield await take(true);
      return;
    }
    for (;;) {
      if (opts.signal.aborted) return;
      if (!arrived) {
        if (!asking) ask();
        const woke = await wait(records.length > 0 ? Math.max(0, firstAt + Math.max(PENDING_FLUSH_MS, lingerMs) - Date.now()) : recheckMs);
        if (woke === 'abort') return;
        if (woke === 'timer') {
          if (records.length > 0) {
            yield await take(false);
            continue;
          }
          await refresh();
          if (await drained(true)) {
            yield await take(true);
            return;
          }
          continue;
        }
      }
      const got = arrived!;
      arrived = undefined;
      if ('e' in got) {
        // The consumer failed: a deleted stream is ShardNotFoundError, anything else as it came.
        await refresh();
        throw got.e;
      }
      if (got.r.done) {
        // The consumer stopped under us (stream deleted, or stopped on abort).
        if (opts.signal.aborted) return;
        await refresh();
        throw new StreamLibraryError(`follow of ${stream.name}/${shard.shardId} ended unexpectedly`);
      }
      const m = got.r.value;
      const fromIndex = m.seq === next.jsSeq ? next.index : 0;
      let decoded;
      try {
        decoded = decodeMessage(m.data, fromIndex, retentionHorizonMs(rec), keys, keptKeyGrant(keys, rec), (d) => shape({ jsSeq: m.seq, ...d }));
      } catch (e) {
        // What came before the message it cannot open is handed out first.
        if (records.length > 0) yield await take(false);
        throw e;
      }
      if (records.length === 0) firstAt = Date.now();
      for (const r of decoded.records) {
        records.push(r);
        bytes += recordBytes(r);
      }
      if (decoded.records.length > 0) lastArrivalMs = decoded.arrivalMs;
      next = { jsSeq: m.seq, index: Math.max(decoded.count, fromIndex) };
      through = m.seq;
      pending = m.info.pending;
      // The consumer's queue still holds the message being handled (until the next one is asked for).
      buffered = Math.max(0, messages.getPending() - 1);
      if (await drained(false)) {
        yield await take(true);
        return;
      }
      // Nothing pending: hand out even an empty batch (expired messages), so the caller sees `next` move.
      const lingered = records.length === 0 || Date.now() - firstAt >= lingerMs;
      if ((pending === 0 && buffered === 0 && lingered) || records.length >= limit || bytes >= maxBytes) yield await take(false);
    }
  } finally {
    messages.stop();
    // The ordered consumer is ephemeral on the server; remove it now rather than at its inactivity threshold.
    consumer.delete().catch(() => undefined);
  }
}
