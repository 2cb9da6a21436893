// Pure unit test of the Consumer's graceful hand-over (in-memory lease store,
// a scripted source): a worker that just joined asks a busy owner for a shard.
// The owner learns of the request through its next checkpoint (the lease's
// revision moved), before any round of its own has seen the new worker's
// heartbeat. It must still hand the lease to the asker, not release it to
// anyone: released, the shard stayed unread until the asker's next round (a
// third of the failover time, up to twice that), the 5–7 s gap seen in an
// early hand-over under load.
import { Consumer, memoryLeaseStore, type ShardReader, type ShardSource } from '../../consumer/index.js';
import { keys, type LeaseValue } from '../../consumer/leaseRecords.js';

const SHARDS = ['shardId-000000000000', 'shardId-000000000001'];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Every shard endless: one record per read, 5 ms apart. */
const source: ShardSource = {
  async listShards() {
    return SHARDS.map((shardId) => ({ shardId, closed: false }));
  },
  async openShard(_name, shardId): Promise<ShardReader> {
    let n = 0;
    return {
      async next(opts) {
        await sleep(5);
        if (opts.signal.aborted) return { records: [], millisBehindLatest: 0, shardEnded: false };
        n++;
        return { records: [{ sequenceNumber: String(n), partitionKey: shardId, data: Buffer.from('x'), arrivalMs: Date.now() }], millisBehindLatest: 0, shardEnded: false };
      },
      close() {},
    };
  },
};

test('a lease asked for by a worker that just joined is handed to it, not released', async () => {
  const store = memoryLeaseStore();
  const log: string[] = [];
  const worker = (id: string) =>
    new Consumer({
      applicationName: 'app',
      streamName: 's',
      workerId: id,
      source,
      leaseStore: store,
      // Rounds 10 s apart: none of A's rounds runs between B joining and the hand-over.
      failoverTimeMs: 30_000,
      idleTimeBetweenReadsMs: 10,
      log: (m) => log.push(m),
      processorFactory: () => ({
        async processRecords(_batch, cp) {
          await cp.checkpoint();
        },
        async shutdownRequested(cp) {
          await cp.checkpoint();
        },
        async shardEnded(cp) {
          await cp.checkpoint();
        },
      }),
    });
  const a = worker('A');
  await a.start();
  expect(a.heldShards()).toEqual(SHARDS);
  await sleep(50);
  const b = worker('B');
  // B's first round: A alive with both shards, B with none: B asks for one.
  await b.start();
  for (let i = 0; i < 100 && a.heldShards().length === 2; i++) await sleep(20);
  expect(a.heldShards()).toHaveLength(1);
  const shard = SHARDS.find((id) => !a.heldShards().includes(id))!;
  expect(log).toContain(`worker A: handing ${shard} to B`);
  const lease = (await store.get(keys('app', 's').lease(shard)))!.value as LeaseValue;
  expect(lease.owner).toBe('B');
  expect(lease.handoffTo).toBeUndefined();
  await b.stop();
  await a.stop();
});
