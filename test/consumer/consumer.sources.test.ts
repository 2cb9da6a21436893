// Sources and lease stores beyond the basics: SubscribeToShard renewed from
// its continuation when the subscription ends (every 1.5 s here, 5 min in
// AWS) without loss or repeat; the direct source on an encrypted stream
// (plaintext with the key ring, nothing without it); compare-and-set
// semantics shared by the KV, memory and file lease stores.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CreateStreamCommand, StartStreamEncryptionCommand, type KinesisClient } from '@aws-sdk/client-kinesis';
import { Registry } from 'prom-client';
import { startNats, type NatsServers } from '../harness/nats.js';
import { sdkClient, startInProcess } from '../harness/runtime.js';
import type { RunningRuntime } from '../../runtime/server.js';
import { KeyRing } from '../../stream/keyring.js';
import {
  Consumer, directSource, fileLeaseStore, kinesisSource, kvLeaseStore, memoryLeaseStore, type ConsumerOptions, type ConsumerRecord, type LeaseStore,
} from '../../consumer/index.js';
import { KEYS, putRange, sleep, waitFor } from './helpers.js';

const KEY_ID = '1234abcd-12ab-34cd-56ef-1234567890ab';
const KEY = `${KEY_ID}:${randomBytes(32).toString('base64')}`;

let nats: NatsServers;
let rt: RunningRuntime & { endpoint: string };
let client: KinesisClient;
let h2: KinesisClient;

beforeAll(async () => {
  nats = await startNats();
  rt = await startInProcess(nats.url, { subscriptionMs: 1_500, consumerTransitionMs: 200, kmsKeys: KEY });
  client = sdkClient(rt.endpoint, { http1: true });
  h2 = sdkClient(rt.endpoint);
});
afterAll(async () => {
  client?.destroy();
  h2?.destroy();
  await rt?.close();
  await nats?.stop();
});

function collect(seen: ConsumerRecord[]): ConsumerOptions['processorFactory'] {
  return () => ({
    async processRecords(batch, cp) {
      seen.push(...batch.records);
      await cp.checkpoint();
    },
    async shardEnded(cp) {
      await cp.checkpoint();
    },
  });
}

test('SubscribeToShard: subscriptions that end are renewed from the continuation, nothing lost or repeated', async () => {
  await client.send(new CreateStreamCommand({ StreamName: 'efo1', ShardCount: 1 }));
  const seen: ConsumerRecord[] = [];
  const c = new Consumer({
    applicationName: 'efo-app',
    streamName: 'efo1',
    source: kinesisSource(h2, { mode: 'efo', consumerName: 'efo-app' }),
    leaseStore: memoryLeaseStore(),
    processorFactory: collect(seen),
    metricsRegistry: new Registry(),
  });
  await c.start();
  // 5 s of writes: at least three subscriptions of 1.5 s.
  const t0 = Date.now();
  let n = 0;
  while (Date.now() - t0 < 5_000) {
    await putRange(client, 'efo1', n, n + KEYS, KEYS);
    n += KEYS;
    await sleep(100);
  }
  await waitFor(() => seen.length >= n, 10_000, `${n} records`);
  await sleep(300);
  await c.stop();
  const values = seen.map((r) => Number(r.data.toString()));
  expect(values.length).toBe(n);
  expect(new Set(values).size).toBe(n);
  const seqs = seen.map((r) => r.sequenceNumber);
  expect(seqs).toEqual([...seqs].sort());
}, 60_000);

test('direct source on an encrypted stream: plaintext with the key ring, no records without it', async () => {
  await client.send(new CreateStreamCommand({ StreamName: 'enc1', ShardCount: 1 }));
  await client.send(new StartStreamEncryptionCommand({ StreamName: 'enc1', EncryptionType: 'KMS', KeyId: KEY_ID }));
  await putRange(client, 'enc1', 0, 20);
  const seen: ConsumerRecord[] = [];
  const withKey = new Consumer({
    applicationName: 'enc-app',
    streamName: 'enc1',
    source: directSource(rt.ctx.store, { keys: new KeyRing({ inline: KEY }) }),
    leaseStore: memoryLeaseStore(),
    processorFactory: collect(seen),
    metricsRegistry: new Registry(),
  });
  await withKey.start();
  await waitFor(() => seen.length >= 20, 10_000, '20 records');
  await withKey.stop();
  expect(seen.map((r) => Number(r.data.toString())).sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i));
  expect(seen.every((r) => r.encryptionType === 'KMS')).toBe(true);

  const none: ConsumerRecord[] = [];
  const logs: string[] = [];
  const withoutKey = new Consumer({
    applicationName: 'enc-app-nokey',
    streamName: 'enc1',
    source: directSource(rt.ctx.store, { keys: new KeyRing({}) }),
    leaseStore: memoryLeaseStore(),
    processorFactory: collect(none),
    metricsRegistry: new Registry(),
    log: (m) => logs.push(m),
  });
  await withoutKey.start();
  await waitFor(() => logs.some((l) => l.includes('shardId-000000000000') && /key/i.test(l)), 10_000, 'a key error logged');
  await withoutKey.stop();
  expect(none).toEqual([]);
});

describe.each([
  ['kv', () => kvLeaseStore(rt.ctx.store, { bucket: 'shardline_leases_cas_test' })],
  ['memory', () => memoryLeaseStore()],
  ['file', () => fileLeaseStore(path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'shardline-cas-')), 'leases.json'))],
])('%s lease store', (_name, make: () => LeaseStore) => {
  test('compare-and-set: create once, update at the current revision only, delete at it only, list by prefix', async () => {
    const s = make();
    const r1 = await s.put('a.b.lease.x', { v: 1 }, 0);
    expect(r1).toBeGreaterThan(0);
    expect(await s.put('a.b.lease.x', { v: 2 }, 0)).toBeUndefined();
    const r2 = await s.put('a.b.lease.x', { v: 2 }, r1!);
    expect(r2).toBeGreaterThan(r1!);
    expect(await s.put('a.b.lease.x', { v: 3 }, r1!)).toBeUndefined();
    expect(await s.get('a.b.lease.x')).toEqual({ value: { v: 2 }, revision: r2 });
    await s.put('a.b.worker.w', { w: true }, 0);
    await s.put('a.c.lease.y', { other: true }, 0);
    expect([...(await s.list('a.b.')).keys()].sort()).toEqual(['a.b.lease.x', 'a.b.worker.w']);
    expect(await s.delete('a.b.lease.x', r1!)).toBe(false);
    expect(await s.delete('a.b.lease.x', r2!)).toBe(true);
    expect(await s.get('a.b.lease.x')).toBeUndefined();
    // Created again after a delete.
    expect(await s.put('a.b.lease.x', { v: 4 }, 0)).toBeGreaterThan(0);
  });

  test('concurrent writers at one revision: exactly one wins', async () => {
    const s = make();
    const r = (await s.put('a.b.lease.z', { owner: 'none' }, 0))!;
    const results = await Promise.all(['w1', 'w2', 'w3', 'w4'].map((w) => s.put('a.b.lease.z', { owner: w }, r)));
    expect(results.filter((x) => x !== undefined)).toHaveLength(1);
  });
});
