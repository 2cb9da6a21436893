// Stream and shard-map management: the one implementation both the Kinesis API
// and the operator use. Every step is idempotent so a crash between steps is
// finished by whoever touches the stream next.
import { randomBytes } from 'node:crypto';
import type { KV, StreamConfig } from 'nats';
import { DiscardPolicy, RetentionPolicy, StorageType, nanos } from 'nats';
import type { Store } from './connect.js';
import { retentionMs } from './retention.js';
import { ConflictError, StreamExistsError, StreamNotFoundError, WorkInterruptedError, storageRefusal } from './errors.js';
import { isValidName, jsStreamName, jsSubject, nameFromStreamKey, shardIdOf, streamKey } from './names.js';
import { evenRanges } from './kinesis/hashKeys.js';
import { startingSequence } from './kinesis/sequence.js';
import { purgeAllPages, purgePages, readRecord, writePages, type PageLayout } from './shardMap.js';
import { kvEntries } from './kvKeys.js';
import {
  DEFAULT_MAX_RECORD_SIZE_KIB,
  type ShardRecord,
  type StreamRecord,
  type StreamSettings,
} from './streamRecord.js';

export type { StreamRecord, StreamSettings, ShardRecord } from './streamRecord.js';

export { hourMs } from './retention.js';

export interface Versioned {
  record: StreamRecord;
  /** The header's KV revision: the record's version for compare-and-set and for caches. */
  revision: number;
  /** The shard-map pages it was read with (stream/shardMap.ts); undefined for a record in the format before pages. */
  layout?: PageLayout;
}

export { ConflictError, StreamExistsError, StreamNotFoundError } from './errors.js';

export async function readStream(kv: KV, name: string): Promise<Versioned | undefined> {
  // Defence in depth: a name Kinesis could never have created is simply not
  // there, rather than an invalid KV key (the API validates names first).
  if (!isValidName(name)) return undefined;
  return readRecord(kv, name);
}

export async function getStream(store: Store, name: string): Promise<StreamRecord | undefined> {
  return (await readStream(store.streams, name))?.record;
}

export async function listStreamNames(store: Store): Promise<string[]> {
  const names: string[] = [];
  for (const e of await kvEntries(store.streams, 'stream.>')) {
    const n = nameFromStreamKey(e.key);
    if (n !== undefined) names.push(n);
  }
  return names.sort();
}

/**
 * Applies `change` to the stored record with compare-and-set, retrying when
 * another process wrote in between. `change` returns undefined to leave it be.
 */
export async function updateStream(
  store: Store,
  name: string,
  change: (r: StreamRecord) => StreamRecord | undefined,
): Promise<StreamRecord> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const cur = await readStream(store.streams, name);
    if (!cur) throw new StreamNotFoundError(name);
    const next = change(structuredClone(cur.record));
    if (!next) return cur.record;
    // Only the changed shard-map pages are written; the header swap below publishes them.
    const w = await writePages(store.streams, next, { uid: cur.record.uid, layout: cur.layout });
    try {
      await store.streams.update(streamKey(name), w.header, cur.revision);
    } catch (e) {
      await purgePages(store.streams, w.written);
      if (!isWrongRevision(e)) throw e;
      continue;
    }
    await purgePages(store.streams, w.replaced);
    return next;
  }
  throw new ConflictError(`stream ${name} is being changed concurrently`);
}

function isWrongRevision(e: unknown): boolean {
  const m = String((e as Error)?.message ?? e);
  return m.includes('wrong last sequence') || m.includes('10071');
}

export function newShards(count: number, nowMs: number, firstIndex = 0): ShardRecord[] {
  return evenRanges(count).map((r, i) => ({
    shardId: shardIdOf(firstIndex + i),
    index: firstIndex + i,
    hashKeyRange: { startingHashKey: r.start.toString(), endingHashKey: r.end.toString() },
    startingSequenceNumber: startingSequence(firstIndex + i),
    createdAtMs: nowMs,
  }));
}

/** JetStream's own default duplicate window: how long a shard stream remembers the message ids it stored. */
export const EMIT_DUPLICATE_WINDOW_MS = 120_000;

export function shardStreamConfig(rec: StreamRecord, shardIndex: number): Partial<StreamConfig> {
  return {
    name: jsStreamName(rec.uid, shardIndex),
    subjects: [jsSubject(rec.uid, shardIndex)],
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    discard: DiscardPolicy.Old,
    max_age: nanos(retentionMs(rec)),
    num_replicas: rec.replicas,
    // Reads are direct gets: any replica may answer.
    allow_direct: true,
    // Producers retry through Kinesis semantics, not JetStream de-duplication: the write path sends
    // no message ids, so the window costs ingest nothing. Analytics emits do carry ids
    // (analytics/worker/emitter.ts): a worker paused past its lease that publishes a message its
    // successor already wrote has it dropped here, if it resumes within the window.
    duplicate_window: nanos(Math.min(EMIT_DUPLICATE_WINDOW_MS, retentionMs(rec))),
  };
}

/** Creates the shard's JetStream stream unless it exists (then aligns its retention). Resource refusals are StorageRefusedError. */
export async function ensureShardStream(store: Store, rec: StreamRecord, shardIndex: number, pace?: () => Promise<void>): Promise<void> {
  const cfg = shardStreamConfig(rec, shardIndex);
  try {
    const info = await store.jsm.streams.info(cfg.name!);
    if (info.config.max_age !== cfg.max_age || info.config.duplicate_window !== cfg.duplicate_window) {
      await store.jsm.streams.update(cfg.name!, { ...info.config, max_age: cfg.max_age, duplicate_window: cfg.duplicate_window });
    }
  } catch (e) {
    if (!isNotFound(e)) throw storageRefusal(e) ?? e;
    await pace?.();
    await store.jsm.streams.add(cfg).catch((e2) => {
      throw storageRefusal(e2) ?? e2;
    });
  }
}

function isNotFound(e: unknown): boolean {
  const m = String((e as Error)?.message ?? e);
  return m.includes('stream not found') || m.includes('10059');
}

/** Options for work that may run long (creating or removing many shard streams). */
export interface WorkOptions {
  /** Called before each shard stream is created (stream/creationPacer.ts). */
  pace?: () => Promise<void>;
  /** Checked between steps: false stops the work with WorkInterruptedError (e.g. the lease was lost). */
  keepGoing?: () => boolean;
  /** Shard streams made or removed at once (default 4). */
  concurrency?: number;
}

/** Runs `f` over `items`, `concurrency` at a time, stopping at the first failure or when keepGoing says so. */
export async function eachLimited<T>(items: T[], o: WorkOptions, f: (t: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failed: unknown;
  const lane = async () => {
    while (failed === undefined && next < items.length) {
      if (o.keepGoing && !o.keepGoing()) throw new WorkInterruptedError('stopped: no longer the holder of the lifecycle lease');
      const item = items[next++]!;
      try {
        await f(item);
      } catch (e) {
        failed ??= e;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(o.concurrency ?? 4, items.length)) }, lane));
  if (failed !== undefined) throw failed;
}

/**
 * Writes the record of a new stream with status CREATING (its shard streams
 * are made by finishCreate), or returns the one already there. With
 * `mustBeNew`, an existing stream is a StreamExistsError.
 */
export async function beginStream(store: Store, settings: StreamSettings, opts: { mustBeNew?: boolean } = {}): Promise<StreamRecord> {
  if (!isValidName(settings.name)) throw new Error(`invalid stream name ${JSON.stringify(settings.name)}: want 1-128 of [a-zA-Z0-9_.-]`);
  const now = Date.now();
  const current = await readStream(store.streams, settings.name);
  if (current && opts.mustBeNew) throw new StreamExistsError(settings.name);
  if (current) return current.record;
  const rec: StreamRecord = {
    name: settings.name,
    uid: randomBytes(6).toString('hex'),
    status: 'CREATING',
    mode: settings.mode,
    createdAtMs: now,
    retentionHours: settings.retentionHours,
    replicas: settings.replicas,
    shards: newShards(settings.shardCount, now),
    nextShardIndex: settings.shardCount,
    tags: settings.tags ?? {},
    encryption: { type: 'NONE' },
    enhancedMonitoring: [],
    maxRecordSizeKiB: settings.maxRecordSizeKiB ?? DEFAULT_MAX_RECORD_SIZE_KIB,
    ...(settings.autoscaling ? { autoscaling: settings.autoscaling } : {}),
  };
  const w = await writePages(store.streams, rec);
  try {
    await store.streams.create(streamKey(settings.name), w.header);
    return rec;
  } catch (e) {
    await purgePages(store.streams, w.written);
    // Lost a race with another creator.
    if (opts.mustBeNew) throw new StreamExistsError(settings.name);
    const again = await readStream(store.streams, settings.name);
    if (!again) throw e;
    return again.record;
  }
}

/**
 * Makes the shard streams of a CREATING record, then marks it ACTIVE (only
 * if it is still that creation). Idempotent: a crashed creator's work is
 * finished by whoever calls this next. A refusal by the storage leaves the
 * record CREATING and throws StorageRefusedError.
 */
export async function finishCreate(store: Store, rec: StreamRecord, o: WorkOptions = {}): Promise<StreamRecord> {
  if (rec.status !== 'CREATING') return rec;
  const open = rec.shards.filter((s) => s.endingSequenceNumber === undefined);
  await eachLimited(open, o, (s) => ensureShardStream(store, rec, s.index, o.pace));
  return updateStream(store, rec.name, (r) => (r.uid === rec.uid && r.status === 'CREATING' ? { ...r, status: 'ACTIVE' } : undefined));
}

/**
 * Creates the stream (record CREATING → JetStream streams → ACTIVE), or
 * finishes a creation a crashed process left half done. With `mustBeNew`,
 * an existing stream is a StreamExistsError.
 */
export async function ensureStream(
  store: Store,
  settings: StreamSettings,
  opts: { mustBeNew?: boolean } & WorkOptions = {},
): Promise<StreamRecord> {
  const rec = await beginStream(store, settings, opts);
  if (rec.status === 'CREATING') return finishCreate(store, rec, opts);
  return rec;
}

/** Marks the stream DELETING (its storage is removed by finishDelete); undefined when there is no such stream. */
export async function markDeleting(store: Store, name: string): Promise<StreamRecord | undefined> {
  try {
    return await updateStream(store, name, (r) => (r.status === 'DELETING' ? undefined : { ...r, status: 'DELETING' }));
  } catch (e) {
    if (e instanceof StreamNotFoundError) return undefined;
    throw e;
  }
}

/** Removes a DELETING stream's JetStream streams, then its record (if still that stream). Idempotent. */
export async function finishDelete(store: Store, rec: StreamRecord, o: WorkOptions = {}): Promise<void> {
  const indices = [...rec.shards.map((s) => s.index), ...(rec.pendingShards ?? []).map((s) => s.index)];
  await eachLimited(indices, o, async (i) => {
    try {
      await store.jsm.streams.delete(jsStreamName(rec.uid, i));
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  });
  const cur = await readStream(store.streams, rec.name);
  if (cur && cur.record.uid === rec.uid) await store.streams.delete(streamKey(rec.name), { previousSeq: cur.revision }).catch(() => undefined);
  // Its shard-map pages once its header is gone: a reader never holds a header whose pages are gone.
  const after = await store.streams.get(streamKey(rec.name));
  const live = after && after.operation === 'PUT' && after.length > 0 && after.json<{ uid?: string }>().uid === rec.uid;
  if (!live) await purgeAllPages(store.streams, rec.name, rec.uid);
}

/** Marks the stream DELETING, removes its JetStream streams, then its record. Idempotent. */
export async function deleteStream(store: Store, name: string, o: WorkOptions = {}): Promise<void> {
  const rec = await markDeleting(store, name);
  if (rec) await finishDelete(store, rec, o);
}

/** Changes the retention period of every shard's storage, then the record. */
export async function setRetention(store: Store, name: string, hours: number): Promise<StreamRecord> {
  const cur = await getStream(store, name);
  if (!cur) throw new StreamNotFoundError(name);
  const next = { ...cur, retentionHours: hours };
  for (const s of cur.shards) await ensureShardStream(store, next, s.index);
  return updateStream(store, name, (r) => (r.retentionHours === hours ? undefined : { ...r, retentionHours: hours }));
}
