// The shard streams' JetStream duplicate window (stream/streams.ts) against a
// real nats-server: analytics emits carry message ids, and a worker paused past
// its lease that publishes a message its successor already stored must have it
// dropped; the write path sends no ids, so its records are never deduplicated.
// Checked with plain nats.js publishes, independent of the code under test.
import { headers } from 'nats';
import { startNats, type NatsServers } from '../harness/nats.js';
import { connectStore, type Store } from '../../stream/connect.js';
import { EMIT_DUPLICATE_WINDOW_MS, ensureShardStream, newShards } from '../../stream/streams.js';
import { jsStreamName, jsSubject } from '../../stream/names.js';
import type { StreamRecord } from '../../stream/streamRecord.js';

let nats: NatsServers;
let store: Store;

beforeAll(async () => {
  nats = await startNats();
  store = await connectStore({ natsUrl: nats.url });
});
afterAll(async () => {
  await store?.close();
  await nats?.stop();
});

const record = (uid: string): StreamRecord => ({
  name: `dedup-${uid}`, uid, status: 'ACTIVE', mode: 'PROVISIONED', createdAtMs: Date.now(), retentionHours: 24, replicas: 1,
  shards: newShards(1, Date.now()), nextShardIndex: 1, tags: {}, encryption: { type: 'NONE' }, enhancedMonitoring: [], maxRecordSizeKiB: 1024,
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('a message id published again seconds later is stored once; messages without ids are all stored', async () => {
  const rec = record('0123456789ab');
  await ensureShardStream(store, rec, 0);
  const name = jsStreamName(rec.uid, 0);
  expect((await store.jsm.streams.info(name)).config.duplicate_window).toBe(EMIT_DUPLICATE_WINDOW_MS * 1e6);
  const subject = jsSubject(rec.uid, 0);
  const first = await store.js.publish(subject, Buffer.from('emit'), { msgID: 'app:emit:1:0' });
  // Longer than the 1 s window the shard streams had: a resumed worker's late publish fell outside it.
  await sleep(1500);
  const again = await store.js.publish(subject, Buffer.from('emit'), { msgID: 'app:emit:1:0' });
  expect(first.duplicate).toBe(false);
  expect(again.duplicate).toBe(true);
  expect(again.seq).toBe(first.seq);
  // The write path's messages (no id): identical payloads are separate records.
  await store.js.publish(subject, Buffer.from('same'));
  await store.js.publish(subject, Buffer.from('same'), { headers: headers() });
  expect((await store.jsm.streams.info(name)).state.messages).toBe(3);
});

test('a shard stream created with the old 1 s window gets the longer one', async () => {
  const rec = record('ba9876543210');
  const name = jsStreamName(rec.uid, 0);
  await store.jsm.streams.add({ name, subjects: [jsSubject(rec.uid, 0)], max_age: 24 * 3600 * 1e9, duplicate_window: 1e9, allow_direct: true });
  await ensureShardStream(store, rec, 0);
  const cfg = (await store.jsm.streams.info(name)).config;
  expect(cfg.duplicate_window).toBe(EMIT_DUPLICATE_WINDOW_MS * 1e6);
  expect(cfg.max_age).toBe(24 * 3600 * 1e9);
});
