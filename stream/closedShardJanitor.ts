// A sealed JetStream stream no longer expires messages by age, so a closed
// shard is removed here once its newest data is past the retention period
// (as AWS drops a closed shard). Every runtime runs it; compare-and-set on
// the record makes concurrent runs harmless.
import type { Store } from './connect.js';
import { jsStreamName } from './names.js';
import { hourMs, retentionHorizonMs } from './retention.js';
import { listStreamNames, getStream, updateStream } from './streams.js';

export async function sweepClosedShards(store: Store, now = Date.now()): Promise<number> {
  let removed = 0;
  for (const name of await listStreamNames(store)) {
    const rec = await getStream(store, name);
    if (!rec || rec.status !== 'ACTIVE') continue;
    const horizon = retentionHorizonMs(rec, now);
    const expired = rec.shards.filter((s) => s.closedAtMs !== undefined && s.closedAtMs < horizon);
    for (const s of expired) {
      await store.jsm.streams.delete(jsStreamName(rec.uid, s.index)).catch((e) => {
        if (!String(e?.message).includes('not found')) throw e;
      });
    }
    if (expired.length === 0) continue;
    const gone = new Set(expired.map((s) => s.shardId));
    await updateStream(store, name, (r) => (r.uid === rec.uid ? { ...r, shards: r.shards.filter((s) => !gone.has(s.shardId)) } : undefined));
    removed += expired.length;
  }
  return removed;
}

export function startClosedShardJanitor(store: Store, log: (m: string) => void): () => void {
  const every = Math.max(1000, Math.min(60_000, hourMs() / 60));
  const t = setInterval(() => {
    sweepClosedShards(store).catch((e) => log(`closed-shard sweep: ${(e as Error).message}`));
  }, every);
  t.unref();
  return () => clearInterval(t);
}
