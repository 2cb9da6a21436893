// putObject on a real nats-server: what it writes is read back by nats.js's own
// ObjectStore (getBlob recomputes the SHA-256 digest and fails on a mismatch,
// info reports size and chunks), a new version replaces the old one and the
// old chunks are purged, and objects nats.js wrote are replaced the same way.
import { randomBytes } from 'node:crypto';
import type { ObjectStore } from 'nats';
import { startNats, type NatsServers } from '../harness/nats.js';
import { connectStore, type Store } from '../../stream/connect.js';
import { chunksOf, putObject } from '../../analytics/worker/objectPut.js';

const BUCKET = 'objput_test';
let nats: NatsServers;
let store: Store;
let os: ObjectStore;

beforeAll(async () => {
  nats = await startNats();
  store = await connectStore({ natsUrl: nats.url });
  os = await store.js.views.os(BUCKET);
});
afterAll(async () => {
  await store?.close();
  await nats?.stop();
});

const messages = async () => (await store.jsm.streams.info(`OBJ_${BUCKET}`)).state.messages;

test.each([
  ['empty', 0],
  ['one byte', 1],
  ['exactly one chunk', 128 * 1024],
  ['several chunks and a partial one', 128 * 1024 * 3 + 17],
])('%s: nats.js reads it back with a matching digest', async (_, size) => {
  const data = randomBytes(size);
  const name = `obj-${size}`;
  await putObject(store, BUCKET, name, data);
  const info = await os.info(name);
  expect(info?.size).toBe(size);
  expect(info?.chunks).toBe(Math.ceil(size / (128 * 1024)));
  const back = await os.getBlob(name);
  expect(Buffer.from(back!).equals(data)).toBe(true);
});

test('parts (a checkpoint\'s JSON, then its emit\'s payloads) are written as their concatenation would be, chunk for chunk', async () => {
  const C = 128 * 1024;
  const shapes = [[], [0], [5, 0, 7], [C], [C, C], [C - 1, 1, C + 1], [3, C * 2 + 5, 0, 11, C - 3], [C * 3 + 17]];
  for (const sizes of shapes) {
    const parts = sizes.map((n) => randomBytes(n));
    const whole = Buffer.concat(parts);
    const chunks = [...chunksOf(parts, C)];
    const want = Array.from({ length: Math.ceil(whole.length / C) }, (_, i) => whole.subarray(i * C, (i + 1) * C));
    expect(chunks.map((c) => c.length)).toEqual(want.map((c) => c.length));
    chunks.forEach((c, i) => expect(Buffer.from(c).equals(want[i]!)).toBe(true));
  }
  const parts = [randomBytes(300), randomBytes(C * 2 + 9), randomBytes(0), randomBytes(77)];
  await putObject(store, BUCKET, 'parts', parts);
  const info = await os.info('parts');
  expect(info?.size).toBe(300 + C * 2 + 9 + 77);
  expect(info?.chunks).toBe(3);
  expect(Buffer.from((await os.getBlob('parts'))!).equals(Buffer.concat(parts))).toBe(true);
});

test('a new version replaces the old and purges its chunks; versions nats.js wrote too', async () => {
  const name = 'app-checkpoint';
  await os.putBlob({ name }, randomBytes(300_000)); // nats.js: 3 chunks + meta
  const before = await messages();
  const v2 = randomBytes(200_000);
  await putObject(store, BUCKET, name, v2);
  // 2 new chunks + meta (rolled up over the old meta), the old 3 chunks purged.
  expect(await messages()).toBe(before - 3 - 1 + 2 + 1);
  expect(Buffer.from((await os.getBlob(name))!).equals(v2)).toBe(true);
  const v3 = Buffer.from(JSON.stringify({ state: 'x'.repeat(1000) }));
  await putObject(store, BUCKET, name, v3);
  expect(Buffer.from((await os.getBlob(name))!).equals(v3)).toBe(true);
  expect(await messages()).toBe(before - 3 - 1 + 1 + 1);
  // nats.js replaces ours the same way.
  await os.putBlob({ name }, Buffer.from('v4'));
  expect(Buffer.from((await os.getBlob(name))!).toString()).toBe('v4');
  expect(await messages()).toBe(before - 3 - 1 + 1 + 1);
});

test('fresh: no lookup of an old version; a name no one wrote reads back', async () => {
  await putObject(store, BUCKET, 'fresh-1', Buffer.from('hello'), { fresh: true });
  expect(Buffer.from((await os.getBlob('fresh-1'))!).toString()).toBe('hello');
  await expect(putObject(store, BUCKET, '', Buffer.from('x'))).rejects.toThrow(/name cannot be empty/);
});
