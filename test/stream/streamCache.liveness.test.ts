// The stream cache's KV watch replaced when it goes silent (stream/streamCache.ts
// watchLiveness), against a real nats-server. A watch whose ordered consumer
// died with its server delivers nothing and reports nothing (seen on a
// 3-server cluster, test/runtime/cluster.test.ts); here the silence is made by
// dropping what the watch delivers until it is opened again.
import { startNats, type NatsServers } from '../harness/nats.js';
import { connectStore, type Store } from '../../stream/connect.js';
import { beginStream, getStream, updateStream } from '../../stream/streams.js';
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

/** From now on what the cache's watch delivers is dropped, until the cache opens a new watch. */
function silence(cache: StreamCache): void {
  const c = cache as unknown as { apply(e: unknown): void; open(): Promise<unknown> };
  const apply = c.apply;
  const open = c.open;
  c.apply = () => undefined;
  c.open = function (this: unknown) {
    c.apply = apply;
    return open.call(this);
  };
}

test('a watch that delivers nothing while the bucket moves is opened again, and the cache catches up', async () => {
  await beginStream(store, { name: 'before', shardCount: 1, mode: 'PROVISIONED', retentionHours: 24, replicas: 1 });
  const logs: string[] = [];
  const cache = new StreamCache(other.streams, other.nc, (m) => logs.push(m));
  await cache.start();
  try {
    expect(cache.get('before')).toBeDefined();
    // From here the watch is silent: what it delivers is dropped until the cache opens a new one.
    silence(cache);
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

test('on a bucket the watch is always a write behind, a watch that goes silent later is still opened again', async () => {
  await beginStream(store, { name: 'busy', shardCount: 1, mode: 'PROVISIONED', retentionHours: 24, replicas: 1 });
  const logs: string[] = [];
  const cache = new StreamCache(other.streams, other.nc, (m) => logs.push(m));
  await cache.start();
  // A bucket whose every check finds one write the watch has not delivered
  // yet: its status answers one revision past the real one, and a write
  // every 50 ms moves the real one on.
  const kv = (cache as unknown as { watchKv: { status(): Promise<{ streamInfo: { state: { last_seq: number } } }> } }).watchKv;
  const status = kv.status.bind(kv);
  kv.status = async () => {
    const st = await status();
    st.streamInfo.state.last_seq += 1;
    return st;
  };
  let writing = true;
  let n = 0;
  const writer = (async () => {
    while (writing) {
      await updateStream(store, 'busy', (r) => ({ ...r, tags: { n: String(++n) } }));
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  try {
    // Healthy for 7 s (past the stall allowance, so an old mark would be stale): no replacement.
    await new Promise((r) => setTimeout(r, 7_000));
    expect(logs.filter((l) => /opening it again/.test(l))).toHaveLength(0);
    expect(Number(cache.get('busy')!.record.tags?.n)).toBeGreaterThan(n - 20);
    // Then silent while the writes go on.
    silence(cache);
    const silentAt = Date.now();
    while (Date.now() - silentAt < 20_000 && !logs.some((l) => /opening it again/.test(l))) await new Promise((r) => setTimeout(r, 100));
    expect(logs.filter((l) => /opening it again/.test(l))).toHaveLength(1);
    // A check notices within 2 s, a stall is called after 5 s more, at the next check.
    expect(Date.now() - silentAt).toBeGreaterThanOrEqual(5_000);
    expect(Date.now() - silentAt).toBeLessThan(10_000);
    const before = n;
    while (Number(cache.get('busy')!.record.tags?.n) < before) await new Promise((r) => setTimeout(r, 50));
  } finally {
    writing = false;
    await writer;
    cache.stop();
  }
}, 60_000);
