// The lag a consumer group's workers report, read from the consumer library's
// lease store (consumer/leaseRecords.ts): one lease per shard, where each owner
// writes MillisBehindLatest and iterator age at every renewal. Plus the open
// shard count of the stream, which caps how many workers can be busy.
import type { Store } from '../../stream/connect.js';
import { getStream } from '../../stream/streams.js';
import { keys, SHARD_END, type LeaseValue } from '../../consumer/leaseRecords.js';
import { kvLeaseStore } from '../../consumer/leases/kv.js';
import type { ConsumerGroup, GroupLag } from '../workerScaling/sampler.js';

export function consumerLagReader(store: Store): (g: ConsumerGroup) => Promise<GroupLag> {
  const leases = kvLeaseStore(store);
  return async (g) => {
    const k = keys(g.application, g.stream);
    const [entries, rec] = await Promise.all([leases.list(k.all), getStream(store, g.stream)]);
    const out: GroupLag = { leases: [], openShards: rec ? rec.shards.filter((s) => s.endingSequenceNumber === undefined).length : 0 };
    for (const [key, e] of entries) {
      if (!k.isLease(key)) continue;
      const v = e.value as LeaseValue;
      // A finished parent shard is no work any more.
      if (v.checkpoint === SHARD_END) continue;
      out.leases.push({ shardId: v.shardId, revision: e.revision, owned: v.owner !== undefined, millisBehindLatest: v.millisBehindLatest, iteratorAgeMs: v.iteratorAgeMs, ratePerSec: v.ratePerSec ?? 0 });
    }
    return out;
  };
}
