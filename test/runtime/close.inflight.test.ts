// Background work stopped while it is in flight: stop() resolves only after
// that work settled, so the owner may drain the NATS connection next, and
// nothing of it rejects later. A pass of the shard autoscaler that was
// creating its KV bucket when the runtime drained its connection rejected
// unhandled (CONNECTION_DRAINING or TIMEOUT), which jest charges to whatever
// suite is running in that worker.
import { startNats, type NatsServers } from '../harness/nats.js';
import { Autoscaler } from '../../runtime/autoscale/controller.js';
import { StreamCache } from '../../stream/streamCache.js';
import { KvLease } from '../../stream/kvLease.js';
import { connectStore, type Store } from '../../stream/connect.js';

let nats: NatsServers;
const unhandled: unknown[] = [];
const onUnhandled = (e: unknown) => void unhandled.push(e);

beforeAll(async () => {
  nats = await startNats();
  process.on('unhandledRejection', onUnhandled);
});
afterAll(async () => {
  process.off('unhandledRejection', onUnhandled);
  await nats?.stop();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('the autoscaler stops only once its pass has settled, so its owner can close the store under it', async () => {
  // A fresh store and autoscaler each round; the first round meets the bucket
  // creation, later rounds binding to it. Either is a JetStream request in
  // flight when the pass starts.
  for (let round = 0; round < 5; round++) {
    const store = await connectStore({ natsUrl: nats.url });
    const cache = new StreamCache(store.streams, store.nc);
    await cache.start();
    const a = new Autoscaler(store, cache, {
      defaultMinShards: 1, defaultMaxShards: 4, scaleDownStabilizationMs: 8000, scaleUpWindowMs: 3000, shardLimit: 100, intervalMs: 1,
    });
    const evaluate = a.evaluate.bind(a);
    let open = 0;
    let began!: () => void;
    const holderPass = new Promise<void>((r) => (began = r));
    a.evaluate = (nowMs?: number) => {
      const p = evaluate(nowMs);
      open++;
      const settle = () => void open--;
      p.then(settle, settle);
      // Only the lease holder's passes touch the store.
      if (a.lease.held()) began();
      return p;
    };
    a.start();
    await holderPass;
    await a.stop();
    expect(open).toBe(0);
    cache.stop();
    await store.close();
  }
  await sleep(500);
  expect(unhandled.map(String)).toEqual([]);
}, 60_000);

test('a lease stopped while it is being taken is let go (not left held until its TTL)', async () => {
  const store: Store = await connectStore({ natsUrl: nats.url });
  const other: Store = await connectStore({ natsUrl: nats.url });
  try {
    for (let round = 0; round < 5; round++) {
      const lease = new KvLease(store, `race-${round}`, 'first', { ttlMs: 30_000 });
      lease.start();
      // The take is in flight (its first tick runs at once): stop now.
      await sleep(0);
      await lease.stop();
      // Another holder takes it at once; before, the take that landed after
      // stop() kept it for the whole TTL (30 s).
      const next = new KvLease(other, `race-${round}`, 'second', { ttlMs: 30_000, renewMs: 50 });
      next.start();
      const deadline = Date.now() + 3_000;
      while (!next.held() && Date.now() < deadline) await sleep(20);
      const held = next.held();
      await next.stop();
      expect(held).toBe(true);
    }
  } finally {
    await store.close();
    await other.close();
  }
}, 60_000);
