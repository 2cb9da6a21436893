// The same consumer application through the Kinesis API, with kinesisSource:
// against kinesalite (another Kinesis implementation) with in-memory and file
// lease stores, and against Shardline's API by GetRecords polling and by
// SubscribeToShard (enhanced fan-out).
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CreateStreamCommand, DescribeStreamSummaryCommand, SplitShardCommand, type KinesisClient } from '@aws-sdk/client-kinesis';
import { Registry } from 'prom-client';
import { startNats, type NatsServers } from '../harness/nats.js';
import { freePort } from '../harness/ports.js';
import { sdkClient, startInProcess } from '../harness/runtime.js';
import type { RunningRuntime } from '../../runtime/server.js';
import { Consumer, fileLeaseStore, kinesisSource, memoryLeaseStore, type LeaseStore, type ShardSource } from '../../consumer/index.js';
import { KEYS, orderViolations, putRange, recordingFactory, sleep, waitFor, type Seen } from './helpers.js';

const require = createRequire(import.meta.url);
const kinesalite = require('kinesalite') as (o: Record<string, unknown>) => { listen(p: number, h: string, cb: () => void): void; close(cb: () => void): void };

let server: ReturnType<typeof kinesalite>;
let kl: KinesisClient;
let nats: NatsServers;
let rt: RunningRuntime & { endpoint: string };
let sl: KinesisClient;
let slH2: KinesisClient;
const consumers: Consumer[] = [];

beforeAll(async () => {
  const port = await freePort();
  server = kinesalite({ createStreamMs: 0, deleteStreamMs: 0, updateStreamMs: 0, shardLimit: 100 });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  kl = sdkClient(`http://127.0.0.1:${port}`, { http1: true });
  nats = await startNats();
  rt = await startInProcess(nats.url);
  sl = sdkClient(rt.endpoint, { http1: true });
  slH2 = sdkClient(rt.endpoint);
});
afterAll(async () => {
  for (const c of consumers) await c.stop();
  for (const c of [kl, sl, slH2]) c?.destroy();
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  await rt?.close();
  await nats?.stop();
});

async function waitActive(client: KinesisClient, stream: string): Promise<void> {
  await waitFor(async () => (await client.send(new DescribeStreamSummaryCommand({ StreamName: stream }))).StreamDescriptionSummary?.StreamStatus === 'ACTIVE', 10_000, `${stream} ACTIVE`);
}

/**
 * The application under test, identical for every backend: two workers, a
 * split while they consume, every record once and in per-key order.
 */
async function runApp(client: KinesisClient, source: ShardSource, leaseStores: [LeaseStore, LeaseStore], stream: string): Promise<Seen[]> {
  await client.send(new CreateStreamCommand({ StreamName: stream, ShardCount: 2 }));
  await waitActive(client, stream);
  await putRange(client, stream, 0, 120, KEYS);
  const seen: Seen[] = [];
  const make = (worker: string, store: LeaseStore) => {
    const c = new Consumer({
      applicationName: 'same-app',
      streamName: stream,
      source,
      leaseStore: store,
      workerId: worker,
      processorFactory: recordingFactory(worker, seen),
      failoverTimeMs: 1_500,
      idleTimeBetweenReadsMs: 250,
      shardSyncIntervalMs: 500,
      metricsRegistry: new Registry(),
    });
    consumers.push(c);
    return c;
  };
  const a = make('wa', leaseStores[0]);
  const b = make('wb', leaseStores[1]);
  await Promise.all([a.start(), b.start()]);
  await waitFor(() => seen.length >= 120, 20_000, 'backlog');
  await client.send(new SplitShardCommand({ StreamName: stream, ShardToSplit: 'shardId-000000000000', NewStartingHashKey: (1n << 126n).toString() }));
  await waitActive(client, stream);
  for (let n = 120; n < 240; n += KEYS) await putRange(client, stream, n, n + KEYS, KEYS);
  await waitFor(() => new Set(seen.map((s) => s.value)).size >= 240, 30_000, 'all records');
  await sleep(300);
  await Promise.all([a.stop(), b.stop()]);
  expect([...new Set(seen.map((s) => s.value))].sort((x, y) => x - y)).toEqual(Array.from({ length: 240 }, (_, i) => i));
  expect(orderViolations(seen)).toEqual([]);
  // Both workers took part, and the split's children were read.
  expect(new Set(seen.map((s) => s.worker))).toEqual(new Set(['wa', 'wb']));
  expect(seen.some((s) => s.shardId === 'shardId-000000000002')).toBe(true);
  return seen;
}

test('kinesalite, GetRecords polling, in-memory lease store', async () => {
  const store = memoryLeaseStore();
  const seen = await runApp(kl, kinesisSource(kl), [store, store], 'kl-mem');
  // kinesalite's own sequence numbers, not Shardline's.
  expect(seen[0]!.sequenceNumber.length).toBeGreaterThan(40);
}, 90_000);

test('kinesalite, GetRecords polling, two workers sharing a file lease store', async () => {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'shardline-leases-')), 'leases.json');
  await runApp(kl, kinesisSource(kl), [fileLeaseStore(file), fileLeaseStore(file)], 'kl-file');
  expect(fs.readFileSync(file, 'utf8')).toContain('SHARD_END');
}, 90_000);

test('Shardline API, GetRecords polling', async () => {
  const store = memoryLeaseStore();
  await runApp(sl, kinesisSource(sl), [store, store], 'sl-poll');
}, 90_000);

test('Shardline API, SubscribeToShard (enhanced fan-out, HTTP/2)', async () => {
  const store = memoryLeaseStore();
  await runApp(slH2, kinesisSource(slH2, { mode: 'efo', consumerName: 'app-efo' }), [store, store], 'sl-efo');
}, 90_000);
