// Pure unit test of the Consumer's lease rounds (in-memory lease store, a
// scripted source): a round lists the leases, then acts on them. When a shard
// task of this worker ends (SHARD_END written, lease released) between the
// list and the act, the listing still names this worker as the owner with the
// old checkpoint. Restarting the shard from that listing re-processed the
// last batch (seen in the drain benchmark as 10,000 records too many).
import { Consumer, memoryLeaseStore, SHARD_END, type LeaseStore, type ShardReader, type ShardSource } from '../../consumer/index.js';

const SHARD = 'shardId-000000000000';

test('a task that ends between a round\'s listing and its balance is not started again from the stale listing', async () => {
  const inner = memoryLeaseStore();
  let releaseGate!: () => void;
  const gate = new Promise<void>((r) => (releaseGate = r));
  let released!: () => void;
  const leaseReleased = new Promise<void>((r) => (released = r));
  let lists = 0;
  const store: LeaseStore = {
    async list(prefix) {
      const snapshot = await inner.list(prefix);
      // Round 2: the listing is taken while the task runs; the task then
      // finishes (SHARD_END, release) before the round acts on the listing.
      if (++lists === 2) {
        releaseGate();
        await leaseReleased;
      }
      return snapshot;
    },
    get: (k) => inner.get(k),
    async put(key, value, rev) {
      const r = await inner.put(key, value, rev);
      const v = value as { checkpoint?: string; owner?: string };
      // A moment later: the task is forgotten once this write has returned.
      if (r !== undefined && v.checkpoint === SHARD_END && v.owner === undefined) setTimeout(released, 20);
      return r;
    },
    delete: (k, rev) => inner.delete(k, rev),
  };
  const opened: string[] = [];
  const source: ShardSource = {
    async listShards() {
      return [{ shardId: SHARD, closed: true }];
    },
    async openShard(_name, _shard, start): Promise<ShardReader> {
      opened.push(start.type);
      let sent = start.type !== 'TRIM_HORIZON';
      return {
        async next() {
          await gate;
          if (sent) return { records: [], millisBehindLatest: 0, shardEnded: true };
          sent = true;
          return { records: [{ sequenceNumber: '1', partitionKey: 'k', data: Buffer.from('x'), arrivalMs: Date.now() }], millisBehindLatest: 0, shardEnded: false };
        },
        close() {},
      };
    },
  };
  const processed: string[] = [];
  const consumer = new Consumer({
    applicationName: 'stale',
    streamName: 's',
    workerId: 'w1',
    source,
    leaseStore: store,
    failoverTimeMs: 300,
    idleTimeBetweenReadsMs: 10,
    processorFactory: () => ({
      async processRecords(batch, cp) {
        for (const r of batch.records) processed.push(r.sequenceNumber);
        await cp.checkpoint();
      },
      async shardEnded(cp) {
        await cp.checkpoint();
      },
    }),
  });
  await consumer.start();
  await leaseReleased;
  // Several more rounds (100 ms apart) in which a stale restart would show.
  await new Promise((r) => setTimeout(r, 600));
  await consumer.stop();
  expect(lists).toBeGreaterThan(3);
  expect(processed).toEqual(['1']);
  expect(opened).toEqual(['TRIM_HORIZON']);
});
