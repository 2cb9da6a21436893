// Resharding: split, merge and uniform scaling of a stream's shard map.
//
// Order of steps (each idempotent; the record's UPDATING status marks a
// reshard in progress):
//   1. record ACTIVE → UPDATING, with the children appended as "pending"
//   2. children's JetStream streams created
//   3. parents' JetStream streams sealed: JetStream refuses further writes, so
//      the last stored message is exactly the parent's end, and a write racing
//      the reshard fails (retryable) instead of landing in a closed shard
//   4. record: parents closed with EndingSequenceNumber, children opened, ACTIVE
import { StreamLibraryError } from './errors.js';
import type { StreamUpdateConfig } from 'nats';
import type { Store } from './connect.js';
import { jsStreamName } from './names.js';
import { eachLimited, ensureShardStream, readStream, updateStream, StreamNotFoundError, type WorkOptions } from './streams.js';
import { encodeSequence, startingSequence } from './kinesis/sequence.js';
import { MAX_HASH_KEY } from './kinesis/hashKeys.js';
import { batchCount } from './recordBatch.js';
import type { ShardRecord, StreamRecord } from './streamRecord.js';
import { openShards } from './streamRecord.js';

/** A reshard request the stream's state does not allow; `kind` picks the Kinesis error. */
export class ReshardError extends StreamLibraryError {
  constructor(
    readonly kind: 'InvalidArgument' | 'ResourceInUse' | 'LimitExceeded' | 'ResourceNotFound',
    message: string,
    /** What a ResourceNotFound is about: the stream, or a shard of an existing stream. */
    readonly missing: 'stream' | 'shard' = 'stream',
  ) {
    super(message);
  }
}

export interface ShardPlan {
  /** Shards to close. */
  parents: string[];
  /** New shards: hash range and lineage (indices are assigned here). */
  children: { start: bigint; end: bigint; parentShardId: string; adjacentParentShardId?: string }[];
}

const range = (s: ShardRecord) => ({ start: BigInt(s.hashKeyRange.startingHashKey), end: BigInt(s.hashKeyRange.endingHashKey) });

/**
 * `account` only names the account in messages, as Kinesis words them. AWS's
 * rule, as its message states it: the key must be greater than StartingHashKey
 * + 1 and less than EndingHashKey, so each child covers at least two keys.
 */
export function planSplit(rec: StreamRecord, shardId: string, newStartingHashKey: bigint, account = ''): ShardPlan {
  const s = openShards(rec).find((x) => x.shardId === shardId);
  if (!s) throw closedOrMissing(rec, shardId, account);
  const r = range(s);
  if (newStartingHashKey <= r.start + 1n || newStartingHashKey >= r.end) {
    throw new ReshardError(
      'InvalidArgument',
      `NewStartingHashKey ${newStartingHashKey} used in SplitShard() on shard ${shardId} in stream ${rec.name} under account ${account} is not both greater than one plus the shard's StartingHashKey ${r.start} and less than the shard's EndingHashKey ${r.end}.`,
    );
  }
  return {
    parents: [shardId],
    children: [
      { start: r.start, end: newStartingHashKey - 1n, parentShardId: shardId },
      { start: newStartingHashKey, end: r.end, parentShardId: shardId },
    ],
  };
}

export function planMerge(rec: StreamRecord, shardId: string, adjacentShardId: string, account = ''): ShardPlan {
  const open = openShards(rec);
  const a = open.find((x) => x.shardId === shardId);
  const b = open.find((x) => x.shardId === adjacentShardId);
  if (!a) throw closedOrMissing(rec, shardId, account);
  if (!b) throw closedOrMissing(rec, adjacentShardId, account);
  const ra = range(a);
  const rb = range(b);
  if (ra.end + 1n !== rb.start && rb.end + 1n !== ra.start) {
    throw new ReshardError(
      'InvalidArgument',
      `Shards ${shardId} and ${adjacentShardId} in stream ${rec.name} under account ${account} are not an adjacent pair of shards eligible for merging`,
    );
  }
  const lo = ra.start < rb.start ? ra : rb;
  const hi = ra.start < rb.start ? rb : ra;
  return { parents: [shardId, adjacentShardId], children: [{ start: lo.start, end: hi.end, parentShardId: shardId, adjacentParentShardId: adjacentShardId }] };
}

/**
 * UNIFORM_SCALING to `target` open shards: the fewest splits and merges that
 * leave `target` shards of (near) equal ranges. Implemented as closing every
 * open shard whose range is not already one of the target ranges and opening
 * the target ranges they cover, each child recording the parent(s) whose
 * ranges it overlaps (at most two, as Kinesis lineage allows).
 */
export function planUniform(rec: StreamRecord, target: number): ShardPlan {
  const open = openShards(rec).map((s) => ({ s, ...range(s) })).sort((x, y) => (x.start < y.start ? -1 : 1));
  const size = (MAX_HASH_KEY + 1n) / BigInt(target);
  const targets = Array.from({ length: target }, (_, i) => ({
    start: size * BigInt(i),
    end: i === target - 1 ? MAX_HASH_KEY : size * BigInt(i + 1) - 1n,
  }));
  const keep = new Set(open.filter((o) => targets.some((t) => t.start === o.start && t.end === o.end)).map((o) => o.s.shardId));
  const children: ShardPlan['children'] = [];
  for (const t of targets) {
    if (open.some((o) => keep.has(o.s.shardId) && o.start === t.start)) continue;
    const overlapping = open.filter((o) => o.start <= t.end && o.end >= t.start);
    if (overlapping.length > 2) {
      throw new ReshardError('InvalidArgument', `UpdateShardCount from ${open.length} to ${target} shards needs more than one step for stream ${rec.name}.`);
    }
    children.push({ start: t.start, end: t.end, parentShardId: overlapping[0]!.s.shardId, adjacentParentShardId: overlapping[1]?.s.shardId });
  }
  const parents = [...new Set(children.flatMap((c) => [c.parentShardId, c.adjacentParentShardId].filter((x): x is string => !!x)))];
  return { parents, children };
}

function closedOrMissing(rec: StreamRecord, shardId: string, account: string): ReshardError {
  const s = rec.shards.find((x) => x.shardId === shardId);
  if (!s) return new ReshardError('ResourceNotFound', `Could not find shard ${shardId} in stream ${rec.name} under account ${account}.`, 'shard');
  return new ReshardError(
    'InvalidArgument',
    `Shard ${shardId} in stream ${rec.name} under account ${account} has already been merged or split, and thus is not eligible for merging or splitting.`,
  );
}

/** Seals a shard's JetStream stream and returns the sequence number of its last record. */
async function sealShard(store: Store, rec: StreamRecord, shard: ShardRecord): Promise<string> {
  const name = jsStreamName(rec.uid, shard.index);
  const info = await store.jsm.streams.info(name);
  // StreamUpdateConfig's type omits `sealed`; the server accepts it (2.6.2+).
  if (!info.config.sealed) await store.jsm.streams.update(name, { sealed: true } as Partial<StreamUpdateConfig>);
  const st = (await store.jsm.streams.info(name)).state;
  if (st.messages === 0) return startingSequence(shard.index);
  const last = await store.jsm.streams.getMessage(name, { seq: st.last_seq });
  return encodeSequence({ shardIndex: shard.index, jsSeq: st.last_seq, index: batchCount(last.data) - 1 });
}

/**
 * Applies a plan built from the current record by `plan`. The plan function
 * runs on the record read inside the compare-and-set, so it always sees the
 * latest map; it throws ReshardError when the request is not allowed.
 */
export async function reshard(store: Store, name: string, plan: (r: StreamRecord) => ShardPlan, o: WorkOptions = {}): Promise<StreamRecord> {
  return finishReshard(store, await beginReshard(store, name, plan), o);
}

/** Step 1 alone: the record UPDATING with the plan's children pending (finishReshard does the rest). */
export async function beginReshard(store: Store, name: string, plan: (r: StreamRecord) => ShardPlan): Promise<StreamRecord> {
  let planned: ShardPlan | undefined;
  let pending: ShardRecord[] = [];
  let begun: StreamRecord;
  try {
    begun = await updateStream(store, name, (r) => {
      if (r.status !== 'ACTIVE') {
        throw new ReshardError('ResourceInUse', `Stream ${name} under account is not ACTIVE, instead in state ${r.status}`);
      }
      planned = plan(r);
      const now = Date.now();
      pending = planned.children.map((c, i) => ({
        shardId: `shardId-${String(r.nextShardIndex + i).padStart(12, '0')}`,
        index: r.nextShardIndex + i,
        parentShardId: c.parentShardId,
        adjacentParentShardId: c.adjacentParentShardId,
        hashKeyRange: { startingHashKey: c.start.toString(), endingHashKey: c.end.toString() },
        startingSequenceNumber: startingSequence(r.nextShardIndex + i),
        createdAtMs: now,
      }));
      return { ...r, status: 'UPDATING', nextShardIndex: r.nextShardIndex + pending.length, pendingShards: pending, pendingParents: planned.parents };
    });
  } catch (e) {
    if (e instanceof StreamNotFoundError) throw new ReshardError('ResourceNotFound', `Stream ${name} not found.`);
    throw e;
  }
  return begun;
}

/** Steps 2–4 for a record left UPDATING (by this call or a crashed process). */
export async function finishReshard(store: Store, rec: StreamRecord, o: WorkOptions = {}): Promise<StreamRecord> {
  if (rec.status !== 'UPDATING' || !rec.pendingShards) return rec;
  const pending = rec.pendingShards ?? [];
  const parents = rec.pendingParents ?? [];
  await eachLimited(pending, o, (c) => ensureShardStream(store, rec, c.index, o.pace));
  // All parents at once: writes to a sealed parent wait until the record
  // below shows its children, so the time from first seal to switch is a
  // stall for writers; sealing one after another made it grow with the count.
  const endings = new Map<string, string>(
    await Promise.all(
      parents.map(async (id) => {
        const p = rec.shards.find((s) => s.shardId === id)!;
        return [id, p.endingSequenceNumber ?? (await sealShard(store, rec, p))] as const;
      }),
    ),
  );
  const now = Date.now();
  return updateStream(store, rec.name, (r) => {
    if (r.uid !== rec.uid || r.status !== 'UPDATING') return undefined;
    const shards = r.shards.map((s) => (endings.has(s.shardId) && s.endingSequenceNumber === undefined ? { ...s, endingSequenceNumber: endings.get(s.shardId), closedAtMs: now } : s));
    const { pendingShards: _p, pendingParents: _q, ...rest } = r;
    return { ...rest, status: 'ACTIVE', shards: [...shards, ...pending.map((c) => ({ ...c, createdAtMs: now }))] };
  });
}

export async function updateShardCount(store: Store, name: string, target: number, o: WorkOptions = {}): Promise<StreamRecord> {
  return finishReshard(store, await beginReshard(store, name, planShardCount(name, target)), o);
}

/** The plan of UpdateShardCount (UNIFORM_SCALING) to `target` open shards, with its limits. */
export function planShardCount(name: string, target: number): (r: StreamRecord) => ShardPlan {
  return (r) => {
    const open = openShards(r).length;
    if (target === open) throw new ReshardError('InvalidArgument', `Stream ${name} already has ${open} open shards.`);
    if (target > open * 2) {
      throw new ReshardError('InvalidArgument', `UpdateShardCount cannot scale up over double your current open shard count. Current open shard count: ${open} Target shard count: ${target}`);
    }
    if (target * 2 < open) {
      throw new ReshardError('InvalidArgument', `UpdateShardCount cannot scale down below half your current open shard count. Current open shard count: ${open} Target shard count: ${target}`);
    }
    return planUniform(r, target);
  };
}

export { readStream };
