// Per-shard metrics (docs/quotas-and-metrics.md): GET /metrics in Prometheus format with
// exact values after a known load, per runtime process; and the per-shard
// summary the operator's autoscaler reads from NATS (readShardMetrics).
import {
  CreateStreamCommand, GetRecordsCommand, GetShardIteratorCommand, KinesisClient, ListShardsCommand, PutRecordsCommand,
  ProvisionedThroughputExceededException,
} from '@aws-sdk/client-kinesis';
import type { NatsServers } from '../harness/nats.js';
import { startStack, type Stack } from '../harness/runtime.js';
import type { RunningRuntime } from '../../runtime/server.js';
import { readShardMetrics } from '../../stream/shardMetrics.js';

let nats: NatsServers;
let a: RunningRuntime & { endpoint: string };
let b: RunningRuntime & { endpoint: string };
let ca: KinesisClient;
let cb: KinesisClient;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const log = (m: string) => process.stderr.write(`[metrics.test] ${m}\n`);
const SHARD0 = 'shardId-000000000000';
const SHARD1 = 'shardId-000000000001';

let stack: Stack;

beforeAll(async () => {
  stack = await startStack(2);
  ({ nats, runtimes: [a, b], clients: [ca, cb] } = stack);
});
afterAll(() => stack?.stop());

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

async function scrape(rt: { endpoint: string }): Promise<{ contentType: string; samples: Sample[]; text: string }> {
  const res = await fetch(`${rt.endpoint}/metrics`);
  expect(res.status).toBe(200);
  const text = await res.text();
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return { contentType: res.headers.get('content-type') ?? '', samples, text };
}

const value = (samples: Sample[], name: string, stream: string, shard: string) =>
  samples.find((s) => s.name === name && s.labels.stream === stream && s.labels.shard === shard)?.value;

async function targets(client: KinesisClient, stream: string): Promise<string[]> {
  return (await client.send(new ListShardsCommand({ StreamName: stream }))).Shards!.map((s) => s.HashKeyRange!.StartingHashKey!);
}

test('/metrics exposes per-shard counters with exact values after a known load', async () => {
  await ca.send(new CreateStreamCommand({ StreamName: 'm1', ShardCount: 2 }));
  for (const rt of [a, b]) await rt.ctx.cache.fresh('m1');
  const [h0, h1] = await targets(ca, 'm1');
  // Shard 0: 100 records of 50 bytes + key "pk" = 5200 bytes.
  const p0 = await ca.send(
    new PutRecordsCommand({ StreamName: 'm1', Records: Array.from({ length: 100 }, () => ({ PartitionKey: 'pk', ExplicitHashKey: h0, Data: Buffer.alloc(50, 1) })) }),
  );
  expect(p0.FailedRecordCount).toBe(0);
  // Shard 1, one request: 20 × (1000 + 2) bytes, then 3 × (400 000 + 2): the third passes 1 MiB and is refused.
  const p1 = await ca.send(
    new PutRecordsCommand({
      StreamName: 'm1',
      Records: [
        ...Array.from({ length: 20 }, () => ({ PartitionKey: 'pk', ExplicitHashKey: h1, Data: Buffer.alloc(1000, 2) })),
        ...Array.from({ length: 3 }, () => ({ PartitionKey: 'pk', ExplicitHashKey: h1, Data: Buffer.alloc(400_000, 3) })),
      ],
    }),
  );
  expect(p1.FailedRecordCount).toBe(1);
  expect(p1.Records![22]!.ErrorCode).toBe('ProvisionedThroughputExceededException');

  // Read shard 0 in two calls after records aged at least 300 ms.
  await sleep(300);
  const it = (await ca.send(new GetShardIteratorCommand({ StreamName: 'm1', ShardId: SHARD0, ShardIteratorType: 'TRIM_HORIZON' }))).ShardIterator;
  const g1 = await ca.send(new GetRecordsCommand({ ShardIterator: it, Limit: 60 }));
  const g2 = await ca.send(new GetRecordsCommand({ ShardIterator: g1.NextShardIterator }));
  expect(g1.Records!.length + g2.Records!.length).toBe(100);
  const readAt = Date.now();

  // Shard 1: ten GetRecords at once: five (plus whatever refilled meanwhile) admitted, the rest throttled.
  const it1 = (await ca.send(new GetShardIteratorCommand({ StreamName: 'm1', ShardId: SHARD1, ShardIteratorType: 'LATEST' }))).ShardIterator;
  const outcomes = await Promise.all(
    Array.from({ length: 10 }, () =>
      ca.send(new GetRecordsCommand({ ShardIterator: it1 })).then(
        () => 'ok',
        (e: unknown) => (e instanceof ProvisionedThroughputExceededException ? 'throttled' : String(e)),
      ),
    ),
  );
  const admitted = outcomes.filter((o) => o === 'ok').length;
  const throttled = outcomes.filter((o) => o === 'throttled').length;
  expect(admitted + throttled).toBe(10);
  expect(admitted).toBeGreaterThanOrEqual(5);
  expect(throttled).toBeGreaterThanOrEqual(1);

  const { contentType, samples, text } = await scrape(a);
  expect(contentType).toMatch(/^text\/plain; version=0\.0\.4/);
  expect(text).toContain('# TYPE shardline_shard_incoming_bytes_total counter');
  expect(text).toContain('# TYPE shardline_shard_iterator_age_seconds gauge');
  const v = (name: string, shard: string) => value(samples, name, 'm1', shard);
  expect(v('shardline_shard_incoming_records_total', SHARD0)).toBe(100);
  expect(v('shardline_shard_incoming_bytes_total', SHARD0)).toBe(5200);
  expect(v('shardline_shard_incoming_records_total', SHARD1)).toBe(22);
  expect(v('shardline_shard_incoming_bytes_total', SHARD1)).toBe(20 * 1002 + 2 * 400_002);
  expect(v('shardline_shard_write_provisioned_throughput_exceeded_total', SHARD0)).toBe(0);
  expect(v('shardline_shard_write_provisioned_throughput_exceeded_total', SHARD1)).toBe(1);
  expect(v('shardline_shard_outgoing_records_total', SHARD0)).toBe(100);
  expect(v('shardline_shard_outgoing_bytes_total', SHARD0)).toBe(5200);
  expect(v('shardline_shard_get_records_total', SHARD0)).toBe(2);
  expect(v('shardline_shard_read_provisioned_throughput_exceeded_total', SHARD0)).toBe(0);
  expect(v('shardline_shard_outgoing_records_total', SHARD1)).toBe(0);
  expect(v('shardline_shard_get_records_total', SHARD1)).toBe(admitted);
  expect(v('shardline_shard_read_provisioned_throughput_exceeded_total', SHARD1)).toBe(throttled);
  // Shard 0's last GetRecords returned records ≥ 300 ms old; shard 1's returned none.
  const age0 = v('shardline_shard_iterator_age_seconds', SHARD0)!;
  expect(age0).toBeGreaterThanOrEqual(0.3);
  expect(age0).toBeLessThan((300 + (Date.now() - readAt) + 5000) / 1000);
  expect(v('shardline_shard_iterator_age_seconds', SHARD1)).toBe(0);

  // One registry per process: runtime b served nothing of m1.
  const other = await scrape(b);
  expect(other.samples.filter((s) => s.labels.stream === 'm1')).toEqual([]);
  // Counters accumulate per process: a write through b shows on b only.
  await cb.send(new PutRecordsCommand({ StreamName: 'm1', Records: [{ PartitionKey: 'pk', ExplicitHashKey: h0, Data: Buffer.alloc(8) }] }));
  expect(value((await scrape(b)).samples, 'shardline_shard_incoming_records_total', 'm1', SHARD0)).toBe(1);
  expect(value((await scrape(a)).samples, 'shardline_shard_incoming_records_total', 'm1', SHARD0)).toBe(100);
});

test('readShardMetrics sums per-shard rates from every runtime over NATS', async () => {
  await ca.send(new CreateStreamCommand({ StreamName: 'm2', ShardCount: 2 }));
  for (const rt of [a, b]) await rt.ctx.cache.fresh('m2');
  const [h0, h1] = await targets(ca, 'm2');
  // Steady load: shard 0 gets 100/s through a and 100/s through b; shard 1 gets 50/s through b.
  // Records of 100 bytes + key "k".
  let stop = false;
  const data = Buffer.alloc(100, 9);
  const producer = async (client: KinesisClient, h: string, perTick: number) => {
    const start = Date.now();
    for (let tick = 0; !stop; tick++) {
      const at = start + tick * 100;
      if (at > Date.now()) await sleep(at - Date.now());
      const r = await client.send(new PutRecordsCommand({ StreamName: 'm2', Records: Array.from({ length: perTick }, () => ({ PartitionKey: 'k', ExplicitHashKey: h, Data: data })) }));
      expect(r.FailedRecordCount).toBe(0);
    }
  };
  const producers = [producer(ca, h0!, 10), producer(cb, h0!, 10), producer(cb, h1!, 5)];
  await sleep(1500);
  const m = await readShardMetrics(a.ctx.store, 'm2');
  stop = true;
  await Promise.all(producers);
  expect(m).toBeDefined();
  const [s0, s1] = m!.shards;
  log(
    `readShardMetrics m2 (${m!.processes} processes): ${s0!.shardId} ${s0!.incomingRecords.toFixed(1)} records/s ${s0!.incomingBytes.toFixed(0)} B/s; ` +
      `${s1!.shardId} ${s1!.incomingRecords.toFixed(1)} records/s ${s1!.incomingBytes.toFixed(0)} B/s`,
  );
  expect(m!.stream).toBe('m2');
  expect(m!.processes).toBe(2);
  expect(m!.shards.map((s) => [s.shardId, s.open])).toEqual([[SHARD0, true], [SHARD1, true]]);
  // One-second rates of 100 ms ticks: ±30 %.
  expect(s0!.incomingRecords).toBeGreaterThan(140);
  expect(s0!.incomingRecords).toBeLessThan(260);
  expect(s0!.incomingBytes).toBeCloseTo(s0!.incomingRecords * 101, 0);
  expect(s1!.incomingRecords).toBeGreaterThan(35);
  expect(s1!.incomingRecords).toBeLessThan(65);
  expect(s0!.writeProvisionedThroughputExceeded).toBe(0);
  expect(s0!.outgoingRecords).toBe(0);

  // Unknown stream: undefined.
  expect(await readShardMetrics(a.ctx.store, 'nope', { waitMs: 10 })).toBeUndefined();
});
