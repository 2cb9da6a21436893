// A sealed JetStream stream no longer expires messages by age, so a closed
// shard is removed here once its newest data is past the retention period
// (as AWS drops a closed shard). The lifecycle worker (stream/lifecycleWorker.ts)
// calls sweepStream for the streams its index says have a shard due, so no
// periodic scan reads every stream; compare-and-set makes concurrent runs harmless.
import type { Store } from './connect.js';
import { jsStreamName } from './names.js';
import { retentionHorizonMs } from './retention.js';
import { listStreamNames, getStream, updateStream } from './streams.js';
import type { StreamRecord } from './streamRecord.js';

/** The earliest close time among the record's closed shards (undefined: none closed). */
export function earliestClosedMs(rec: StreamRecord): number | undefined {
  let min: number | undefined;
  for (const s of rec.shards) if (s.closedAtMs !== undefined && (min === undefined || s.closedAtMs < min)) min = s.closedAtMs;
  return min;
}

/** Removes the stream's closed shards that are past retention; returns how many. */
export async function sweepStream(store: Store, rec: StreamRecord, now = Date.now()): Promise<number> {
  if (rec.status !== 'ACTIVE') return 0;
  const horizon = retentionHorizonMs(rec, now);
  const expired = rec.shards.filter((s) => s.closedAtMs !== undefined && s.closedAtMs < horizon);
  if (expired.length === 0) return 0;
  for (const s of expired) {
    await store.jsm.streams.delete(jsStreamName(rec.uid, s.index)).catch((e) => {
      if (!String(e?.message).includes('not found')) throw e;
    });
  }
  const gone = new Set(expired.map((s) => s.shardId));
  await updateStream(store, rec.name, (r) => (r.uid === rec.uid ? { ...r, shards: r.shards.filter((s) => !gone.has(s.shardId)) } : undefined));
  return expired.length;
}

/** Every stream at once (tools and tests; the runtime sweeps through the worker's index). */
export async function sweepClosedShards(store: Store, now = Date.now()): Promise<number> {
  let removed = 0;
  for (const name of await listStreamNames(store)) {
    const rec = await getStream(store, name);
    if (rec) removed += await sweepStream(store, rec, now);
  }
  return removed;
}
