// kvKeys/kvEntries on a real nats-server: the listing consumer groups, stream
// listings and key rings rely on. It must answer while entries are rewritten
// and after the writes stop (nats.js's kv.keys() could wait forever then on
// nats-server 2.9), leave deleted and purged keys out of kvEntries, and keep to
// the filter.
import type { KV } from 'nats';
import { startNats, type NatsServers } from '../harness/nats.js';
import { connectStore, type Store } from '../../stream/connect.js';
import { kvEntries, kvKeys } from '../../stream/kvKeys.js';

let nats: NatsServers;
let store: Store;
let kv: KV;

beforeAll(async () => {
  nats = await startNats();
  store = await connectStore({ natsUrl: nats.url });
  kv = await store.js.views.kv('kvkeys_test', { history: 1 });
});
afterAll(async () => {
  await store?.close();
  await nats?.stop();
});

test('keys under a filter, sorted; kvEntries leaves deleted and purged keys out', async () => {
  for (const k of ['a.1', 'a.2', 'a.3', 'b.1']) await kv.put(k, k);
  await kv.delete('a.2');
  await kv.purge('a.3');
  expect(await kvKeys(kv, 'a.>')).toEqual(['a.1', 'a.2', 'a.3']);
  expect((await kvEntries(kv, 'a.>')).map((e) => e.key)).toEqual(['a.1']);
  expect((await kvEntries(kv)).map((e) => [e.key, e.string()])).toEqual([['a.1', 'a.1'], ['b.1', 'b.1']]);
  expect(await kvKeys(kv, 'none.>')).toEqual([]);
});

test('listing while entries are rewritten, and after the writes stop, always answers with every live key', async () => {
  const keys = Array.from({ length: 40 }, (_, i) => `w.${String(i).padStart(2, '0')}`);
  for (const k of keys) await kv.put(k, '0');
  let writing = true;
  const writer = (async () => {
    for (let n = 1; writing; n++) await Promise.all(keys.map((k) => kv.put(k, String(n))));
  })();
  const listed: number[] = [];
  for (let i = 0; i < 30; i++) listed.push((await kvEntries(kv, 'w.>')).length);
  writing = false;
  await writer;
  for (let i = 0; i < 5; i++) listed.push((await kvEntries(kv, 'w.>')).length);
  expect(listed).toEqual(listed.map(() => keys.length));
});
