// The stream cache's KV watch replaced when it goes silent (stream/streamCache.ts
// watchLiveness), against a real nats-server. A watch whose ordered consumer
// died with its server delivers nothing and reports nothing (seen on a
// 3-server cluster, test/runtime/cluster.test.ts); here the silence is made by
// dropping what the watch delivers until it is opened again.
import { startNats, type NatsServers } from '../harness/nats.js';
import { connectStore, type Store } from '../../stream/connect.js';
import { beginStream, getStream } from '../../stream/streams.js';
import { StreamCache } from '../../stream/streamCache.js';

let nats: NatsServers;
let store: Store;
let other: Store;

beforeAll(async () => {
  nats = await startNats();
  store = await connectStore({ natsUrl: nats.url, name: 'writer' });
  other = await connectStore({ natsUrl: nats.url, name: 'reader' });
});
afterAll(async () => {
  await other?.close();
  await store?.close();
  await nats?.stop();
});

test('a watch that delivers nothing while the bucket moves is opened again, and the cache catches up', async () => {
  await beginStream(store, { name: 'before', shardCount: 1, mode: 'PROVISIONED', retentionHours: 24, replicas: 1 });
  const logs: string[] = [];
  const cache = new StreamCache(other.streams, other.nc, (m) => logs.push(m));
  await cache.start();
  try {
    expect(cache.get('before')).toBeDefined();
    // From here the watch is silent: what it delivers is dropped until the cache opens a new one.
    const c = cache as unknown as { apply(e: unknown): void; open(): Promise<unknown> };
    const apply = c.apply;
    const open = c.open;
    c.apply = () => undefined;
    c.open = function (this: unknown) {
      c.apply = apply;
      return open.call(this);
    };
    const openedAt = Date.now();
    await beginStream(store, { name: 'after', shardCount: 2, mode: 'PROVISIONED', retentionHours: 24, replicas: 1 });
    for (let i = 0; i < 200 && !cache.get('after'); i++) await new Promise((r) => setTimeout(r, 100));
    expect(cache.get('after')?.record).toEqual(await getStream(other, 'after'));
    expect(logs.filter((l) => /the KV watch delivered nothing past revision \d+ in \d+ ms while the bucket is at \d+; opening it again/.test(l))).toHaveLength(1);
    // Not before the stall allowance (5 s), and within a few checks of it.
    expect(Date.now() - openedAt).toBeGreaterThanOrEqual(5_000);
    // Caught up: no further replacement.
    await new Promise((r) => setTimeout(r, 5_000));
    expect(logs.filter((l) => /opening it again/.test(l))).toHaveLength(1);
  } finally {
    cache.stop();
  }
}, 60_000);
