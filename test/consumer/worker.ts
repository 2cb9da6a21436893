// A consumer worker PROCESS for the failover test (run from dist/ by
// consumer.failover.test.ts): it consumes a stream through the direct source
// with JetStream KV leases and prints one JSON line per record processed and,
// every 100 ms, the shards it holds. SIGTERM stops it gracefully.
import { connectStore } from '../../stream/connect.js';
import { Consumer, directSource, kvLeaseStore } from '../../consumer/index.js';

const [natsUrl, app, stream, workerId, failover] = process.argv.slice(2);
const out = (o: object) => process.stdout.write(JSON.stringify(o) + '\n');

const store = await connectStore({ natsUrl: natsUrl!, name: workerId });
const consumer = new Consumer({
  applicationName: app!,
  streamName: stream!,
  workerId,
  source: directSource(store),
  leaseStore: kvLeaseStore(store),
  failoverTimeMs: Number(failover),
  idleTimeBetweenReadsMs: 200,
  shardSyncIntervalMs: 1_000,
  processorFactory: (shardId) => ({
    async processRecords(batch, cp) {
      for (const r of batch.records) out({ e: 'rec', v: Number(r.data.toString()), shard: shardId });
      await cp.checkpoint();
    },
    async shardEnded(cp) {
      await cp.checkpoint();
    },
    async shutdownRequested(cp) {
      await cp.checkpoint();
    },
  }),
});
await consumer.start();
const held = setInterval(() => out({ e: 'held', shards: consumer.heldShards(), t: Date.now() }), 100);
process.on('SIGTERM', async () => {
  clearInterval(held);
  await consumer.stop();
  out({ e: 'stopped' });
  await store.close();
  process.exit(0);
});
