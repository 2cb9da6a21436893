// messagesInRange (the analytics combiner's read of its partials stream)
// against a real nats-server: a range of messages in order, with a purged
// prefix and deleted messages in between left out, across several windows of
// direct gets, and stopping at the range's end. The oracle is the list of
// payloads published here. ensurePartialsStream turns direct gets on for a
// partials stream an earlier worker created without them.
import { nanos, StorageType } from 'nats';
import { startNats, type NatsServers } from '../harness/nats.js';
import { connectStore, type Store } from '../../stream/connect.js';
import { messagesInRange } from '../../stream/shardRead.js';
import { ensurePartialsStream, partialsStreamName } from '../../analytics/worker/partials.js';

let nats: NatsServers;
let store: Store;

beforeAll(async () => {
  nats = await startNats();
  store = await connectStore({ natsUrl: nats.url, name: 'messagesInRange-test' });
});
afterAll(async () => {
  await store?.close();
  await nats?.stop();
});

async function collect(stream: string, from: number, to: number): Promise<[number, string][]> {
  const out: [number, string][] = [];
  for await (const m of messagesInRange(store, stream, from, to)) out.push([m.seq, Buffer.from(m.data).toString()]);
  return out;
}

test('the messages of a range, in order, without those purged or deleted', async () => {
  await store.jsm.streams.add({ name: 'RANGE', subjects: ['range.x'], storage: StorageType.File, allow_direct: true });
  const sent: string[] = [];
  // 50 messages: more than three windows of direct gets; sizes up to ~200 KB (several socket reads).
  for (let i = 1; i <= 50; i++) {
    const body = `m${i}:` + 'x'.repeat(i % 7 === 0 ? 200_000 : i * 3);
    sent.push(body);
    await store.js.publish('range.x', Buffer.from(body));
  }
  await store.jsm.streams.purge('RANGE', { seq: 4 }); // 1-3 gone
  for (const seq of [10, 17, 18, 33]) await store.jsm.streams.deleteMessage('RANGE', seq);
  const gone = new Set([1, 2, 3, 10, 17, 18, 33]);
  const expected = (from: number, to: number): [number, string][] =>
    sent.flatMap((body, i) => (i + 1 >= from && i + 1 <= to && !gone.has(i + 1) ? [[i + 1, body] as [number, string]] : []));

  expect(await collect('RANGE', 1, 50)).toEqual(expected(1, 50));
  expect(await collect('RANGE', 17, 35)).toEqual(expected(17, 35));
  expect(await collect('RANGE', 50, 50)).toEqual(expected(50, 50));
  expect(await collect('RANGE', 40, 39)).toEqual([]);
  // An iteration left early stops fetching; nothing it had in flight is left unhandled.
  for await (const m of messagesInRange(store, 'RANGE', 4, 50)) {
    expect(m.seq).toBe(4);
    break;
  }
});

test('a partials stream created without direct gets takes them after ensurePartialsStream', async () => {
  const name = partialsStreamName('older-app');
  // As workers before direct gets created it.
  await store.jsm.streams.add({
    name, subjects: ['shardline.analytics.partials.older'], storage: StorageType.File,
    duplicate_window: nanos(10 * 60_000), max_age: nanos(24 * 3600_000),
  });
  await store.js.publish('shardline.analytics.partials.older', Buffer.from('p1'));
  // Direct gets go unanswered there (a read would time out after its retries).
  expect((await store.jsm.streams.info(name)).config.allow_direct).toBeFalsy();
  await ensurePartialsStream(store, 'older-app');
  const info = await store.jsm.streams.info(name);
  expect(info.config.allow_direct).toBe(true);
  expect(info.config.duplicate_window).toBe(nanos(10 * 60_000));
  expect(await collect(name, 1, 1)).toEqual([[1, 'p1']]);
  // A new one has them from the start.
  const fresh = await ensurePartialsStream(store, 'new-app');
  expect((await store.jsm.streams.info(fresh)).config.allow_direct).toBe(true);
});
