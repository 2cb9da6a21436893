// Consumer groups over the direct source and JetStream KV leases, on a real
// nats-server: shards spread over workers, graceful hand-off on stop(), a
// split and a merge during consumption, and the initial positions.
import { CreateStreamCommand, MergeShardsCommand, PutRecordCommand, PutRecordsCommand, SplitShardCommand, type KinesisClient } from '@aws-sdk/client-kinesis';
import { startNats, type NatsServers } from '../harness/nats.js';
import { sdkClient, startInProcess } from '../harness/runtime.js';
import type { RunningRuntime } from '../../runtime/server.js';
import { Consumer, directSource, kvLeaseStore, type LeaseStore, type RecordBatch, type ShardSource } from '../../consumer/index.js';
import { Registry } from 'prom-client';
import { KEYS, orderViolations, putRange, recordingFactory, sleep, waitFor, type Seen } from './helpers.js';

let nats: NatsServers;
let rt: RunningRuntime & { endpoint: string };
let client: KinesisClient;
let source: ShardSource;
let leases: LeaseStore;
const running: Consumer[] = [];

beforeAll(async () => {
  nats = await startNats();
  rt = await startInProcess(nats.url);
  client = sdkClient(rt.endpoint, { http1: true });
  source = directSource(rt.ctx.store);
  leases = kvLeaseStore(rt.ctx.store);
});
afterAll(async () => {
  for (const c of running) await c.stop();
  client?.destroy();
  await rt?.close();
  await nats?.stop();
});

function consumer(app: string, stream: string, worker: string, seen: Seen[], extra: Partial<ConstructorParameters<typeof Consumer>[0]> = {}): Consumer {
  const c = new Consumer({
    applicationName: app,
    streamName: stream,
    source,
    leaseStore: leases,
    workerId: worker,
    processorFactory: recordingFactory(worker, seen),
    failoverTimeMs: 1_500,
    idleTimeBetweenReadsMs: 200,
    shardSyncIntervalMs: 500,
    metricsRegistry: new Registry(),
    ...extra,
  });
  running.push(c);
  return c;
}

const values = (seen: Seen[]) => seen.map((s) => s.value).sort((a, b) => a - b);
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

test('two workers split four shards; stop() hands over with a final checkpoint and nothing is processed twice', async () => {
  await client.send(new CreateStreamCommand({ StreamName: 'c1', ShardCount: 4 }));
  await putRange(client, 'c1', 0, 400, KEYS);
  const seen: Seen[] = [];
  const registry = new Registry();
  const a = consumer('app1', 'c1', 'wa', seen, { metricsRegistry: registry });
  const b = consumer('app1', 'c1', 'wb', seen, { metricsRegistry: registry });
  await Promise.all([a.start(), b.start()]);
  await waitFor(() => a.heldShards().length === 2 && b.heldShards().length === 2, 15_000, 'two leases each');
  await waitFor(() => seen.length >= 400, 15_000, '400 records');
  await putRange(client, 'c1', 400, 600, KEYS);
  await waitFor(() => seen.length >= 600, 15_000, '600 records');
  await a.stop();
  await waitFor(() => b.heldShards().length === 4, 15_000, 'b holds all four');
  await putRange(client, 'c1', 600, 700, KEYS);
  await waitFor(() => seen.length >= 700, 15_000, '700 records');
  await sleep(300);
  expect(values(seen)).toEqual(range(0, 700));
  expect(orderViolations(seen)).toEqual([]);
  // After the hand-off only b processes.
  expect(seen.filter((s) => s.value >= 600).every((s) => s.worker === 'wb')).toBe(true);
  // Metrics per application and shard.
  const metric = async (name: string) => (await registry.getSingleMetric(name)!.get()).values;
  const processed = await metric('shardline_consumer_records_processed_total');
  expect(processed.filter((v) => v.labels.application === 'app1').reduce((s, v) => s + v.value, 0)).toBe(700);
  expect(new Set(processed.map((v) => v.labels.shard))).toEqual(new Set(['shardId-000000000000', 'shardId-000000000001', 'shardId-000000000002', 'shardId-000000000003']));
  const bytes = await metric('shardline_consumer_bytes_processed_total');
  expect(bytes.reduce((s, v) => s + v.value, 0)).toBe(seen.reduce((s, r) => s + String(r.value).length, 0));
  const leaseCount = await metric('shardline_consumer_leases');
  expect(leaseCount.find((v) => v.labels.worker === 'wb')!.value).toBe(4);
  const transfers = await metric('shardline_consumer_lease_transfers_total');
  // Four leases taken at start (free, or by hand-off while the two balance), then a's two released by stop() and
  // taken free by b; nobody died, so none expired and none was lost.
  const kind = (k: string) => transfers.find((v) => v.labels.kind === k)?.value ?? 0;
  expect(kind('free') + kind('handoff')).toBeGreaterThanOrEqual(6);
  expect(kind('free')).toBeGreaterThanOrEqual(4);
  expect(kind('expired')).toBe(0);
  expect(kind('lost')).toBe(0);
  expect((await metric('shardline_consumer_millis_behind_latest')).length).toBe(4);
  expect((await metric('shardline_consumer_iterator_age_ms')).length).toBe(4);
  const latency = await metric('shardline_consumer_processing_seconds');
  expect(latency.find((v) => (v as { metricName?: string }).metricName === 'shardline_consumer_processing_seconds_count')!.value).toBeGreaterThan(0);
  await b.stop();
});

test('a worker joining gets its share by graceful hand-off (final checkpoint, no record processed twice)', async () => {
  await client.send(new CreateStreamCommand({ StreamName: 'c4', ShardCount: 4 }));
  const seen: Seen[] = [];
  const a = consumer('app4', 'c4', 'wa', seen);
  await a.start();
  await waitFor(() => a.heldShards().length === 4, 10_000, 'a holds all');
  let n = 0;
  let putting = true;
  const writer = (async () => {
    while (putting) {
      await putRange(client, 'c4', n, n + KEYS, KEYS);
      n += KEYS;
      await sleep(20);
    }
  })();
  await waitFor(() => seen.length > 100, 10_000, 'records');
  const b = consumer('app4', 'c4', 'wb', seen);
  await b.start();
  // b gets a share (by load: the 12 keys need not hash evenly over 4 shards, so not necessarily two each).
  await waitFor(() => b.heldShards().length > 0 && new Set([...a.heldShards(), ...b.heldShards()]).size === 4 &&
    a.heldShards().length + b.heldShards().length === 4, 15_000, 'shards shared');
  await sleep(500);
  putting = false;
  await writer;
  await waitFor(() => new Set(seen.map((s) => s.value)).size >= n, 15_000, 'all records');
  await sleep(300);
  expect(values(seen)).toEqual(range(0, n));
  expect(seen.some((s) => s.worker === 'wb')).toBe(true);
  expect(orderViolations(seen)).toEqual([]);
  await Promise.all([a.stop(), b.stop()]);
});

test('balance by load: the worker holding the one hot shard gives its cold shards away (1 lease against 3)', async () => {
  await client.send(new CreateStreamCommand({ StreamName: 'c5', ShardCount: 4 }));
  const seen: Seen[] = [];
  const a = consumer('app5', 'c5', 'wa', seen);
  const b = consumer('app5', 'c5', 'wb', seen);
  await Promise.all([a.start(), b.start()]);
  await waitFor(() => a.heldShards().length === 2 && b.heldShards().length === 2, 10_000, 'two each while idle');
  let putting = true;
  let n = 0;
  // Everything into shard 0 (hash key 0).
  const writer = (async () => {
    while (putting) {
      const res = await client.send(new PutRecordsCommand({
        StreamName: 'c5',
        Records: Array.from({ length: 100 }, (_, i) => ({ PartitionKey: 'hot', ExplicitHashKey: '0', Data: Buffer.from(String(n + i)) })),
      }));
      n += 100 - (res.FailedRecordCount ?? 0);
      await sleep(50);
    }
  })();
  const hotOwner = () => (a.heldShards().includes('shardId-000000000000') ? a : b);
  await waitFor(() => hotOwner().heldShards().length === 1 && (hotOwner() === a ? b : a).heldShards().length === 3, 20_000, 'hot shard alone');
  putting = false;
  await writer;
  expect(hotOwner().heldShards()).toEqual(['shardId-000000000000']);
  await Promise.all([a.stop(), b.stop()]);
}, 60_000);

test('a split and a merge during consumption: parents finish before children, per-key order holds', async () => {
  await client.send(new CreateStreamCommand({ StreamName: 'c2', ShardCount: 2 }));
  const seen: Seen[] = [];
  const ended: string[] = [];
  const a = consumer('app2', 'c2', 'wa', seen, { processorFactory: recordingFactory('wa', seen, { ended }) });
  const b = consumer('app2', 'c2', 'wb', seen, { processorFactory: recordingFactory('wb', seen, { ended }) });
  await Promise.all([a.start(), b.start()]);
  let n = 0;
  let putting = true;
  const writer = (async () => {
    while (putting) {
      await putRange(client, 'c2', n, n + KEYS, KEYS);
      n += KEYS;
      await sleep(20);
    }
  })();
  await waitFor(() => seen.length > 100, 15_000, 'first records');
  await client.send(new SplitShardCommand({ StreamName: 'c2', ShardToSplit: 'shardId-000000000000', NewStartingHashKey: (1n << 126n).toString() }));
  await waitFor(() => ended.includes('shardId-000000000000'), 15_000, 'parent 0 ended');
  await client.send(new MergeShardsCommand({ StreamName: 'c2', ShardToMerge: 'shardId-000000000003', AdjacentShardToMerge: 'shardId-000000000001' }));
  await waitFor(() => ended.includes('shardId-000000000001') && ended.includes('shardId-000000000003'), 15_000, 'merged parents ended');
  await sleep(300);
  putting = false;
  await writer;
  await waitFor(() => new Set(seen.map((s) => s.value)).size >= n, 15_000, `all ${n} records`);
  expect([...new Set(values(seen))]).toEqual(range(0, n));
  expect(orderViolations(seen)).toEqual([]);
  // The merged child only after both its parents' last records.
  const firstOf = (shard: string) => seen.findIndex((s) => s.shardId === shard);
  const lastOf = (shard: string) => seen.map((s) => s.shardId).lastIndexOf(shard);
  expect(firstOf('shardId-000000000004')).toBeGreaterThan(lastOf('shardId-000000000001'));
  expect(firstOf('shardId-000000000004')).toBeGreaterThan(lastOf('shardId-000000000003'));
  expect(firstOf('shardId-000000000002')).toBeGreaterThan(lastOf('shardId-000000000000'));
  const dup = seen.length - new Set(seen.map((s) => s.value)).size;
  console.log(`split+merge: ${n} records, ${dup} processed twice`);
  await Promise.all([a.stop(), b.stop()]);
}, 90_000);

test('initial positions: LATEST skips the backlog, AT_TIMESTAMP starts at the first record at or after it, a checkpoint wins over both', async () => {
  await client.send(new CreateStreamCommand({ StreamName: 'c3', ShardCount: 2 }));
  await putRange(client, 'c3', 0, 50);
  await sleep(50);
  const t = Date.now();
  await sleep(50);
  await putRange(client, 'c3', 50, 80);

  const latest: Seen[] = [];
  const l = consumer('latest', 'c3', 'w', latest, { initialPosition: { type: 'LATEST' } });
  await l.start();
  await waitFor(() => l.heldShards().length === 2, 10_000, 'leases');
  await sleep(500);
  await putRange(client, 'c3', 80, 90);
  await waitFor(() => latest.length >= 10, 10_000, 'new records');
  await sleep(300);
  expect(values(latest)).toEqual(range(80, 90));

  const at: Seen[] = [];
  const a = consumer('at', 'c3', 'w', at, { initialPosition: { type: 'AT_TIMESTAMP', timestampMs: t } });
  await a.start();
  await waitFor(() => at.length >= 40, 10_000, 'records after t');
  await sleep(300);
  expect(values(at)).toEqual(range(50, 90));
  await a.stop();

  // Restarted: resumes after its checkpoint whatever the initial position says.
  await putRange(client, 'c3', 90, 100);
  const again: Seen[] = [];
  const r = consumer('at', 'c3', 'w2', again, { initialPosition: { type: 'TRIM_HORIZON' } });
  await r.start();
  await waitFor(() => again.length >= 10, 10_000, 'records after the checkpoint');
  await sleep(300);
  expect(values(again)).toEqual(range(90, 100));
  await Promise.all([l.stop(), r.stop()]);
});

test('a slow processor behind a live backlog: MillisBehindLatest is the gap to the newest record until caught up, then 0', async () => {
  await client.send(new CreateStreamCommand({ StreamName: 'clag', ShardCount: 1 }));
  const batches: { values: number[]; lag: number }[] = [];
  let open!: () => void;
  const gate = new Promise<void>((r) => (open = r));
  const c = new Consumer({
    applicationName: 'lag', streamName: 'clag', source, leaseStore: leases, workerId: 'w', failoverTimeMs: 1_500,
    idleTimeBetweenReadsMs: 200, shardSyncIntervalMs: 500, metricsRegistry: new Registry(), maxRecords: 5,
    initialPosition: { type: 'LATEST' },
    processorFactory: () => ({
      async processRecords(b: RecordBatch) {
        batches.push({ values: b.records.map((r) => Number(r.data.toString())), lag: b.millisBehindLatest });
        await gate; // the first batch holds the processor while the backlog is written
        await sleep(30);
      },
      async shardEnded() {},
      async shutdownRequested() {},
    }),
  });
  running.push(c);
  await c.start();
  await waitFor(() => c.heldShards().length === 1, 10_000, 'lease');
  await sleep(500); // caught up: the reader follows the shard live
  const put = (v: number) => client.send(new PutRecordCommand({ StreamName: 'clag', PartitionKey: 'k', Data: Buffer.from(String(v)) }));
  await put(-1);
  await waitFor(() => batches.length === 1, 10_000, 'the first batch');
  // One stored message per record; the put times bound each arrival.
  const n = 60;
  const before: number[] = [];
  const after: number[] = [];
  for (let i = 0; i < n; i++) {
    before.push(Date.now());
    await put(i);
    after.push(Date.now());
    await sleep(5);
  }
  open();
  await waitFor(() => batches.flatMap((b) => b.values).length >= n + 1, 20_000, 'the backlog');
  expect(batches.flatMap((b) => b.values)).toEqual([-1, ...range(0, n)]);
  const rest = batches.slice(1);
  for (const b of rest.slice(0, -1)) {
    const j = b.values.at(-1)!;
    expect(b.lag).toBeGreaterThan(0);
    expect(b.lag).toBeGreaterThanOrEqual(before[n - 1]! - after[j]! - 2);
    expect(b.lag).toBeLessThanOrEqual(after[n - 1]! - before[j]! + 2);
  }
  expect(rest.at(-1)!.lag).toBe(0);
  expect(rest.length).toBeLessThan(n / 2); // batches of up to 5 from what the reader holds, not one a message
  await c.stop();
});
