// Two delivery worker processes share a Kinesis source's shards through the
// consumer library's leases (no record delivered twice, each holds some
// shards, the survivor takes over a SIGKILLed one's shards), and KPL
// aggregates (made with aws-kinesis-agg, an independent codec) are delivered
// as their user records.
import http from 'node:http';
import { CreateStreamCommand, PutRecordsCommand, type KinesisClient } from '@aws-sdk/client-kinesis';
import { type FirehoseClient, CreateDeliveryStreamCommand } from '@aws-sdk/client-firehose';
import type { S3Server } from '../harness/s3.js';
import { ROLE, startDeliveryStack, type DeliveryProcess, type DeliveryStack } from '../harness/delivery.js';
import { freePort } from '../harness/ports.js';
import { aggAggregate } from '../harness/kplAgg.js';
const BUCKET = 'shared';

let stack: DeliveryStack;
let s3: S3Server;
let fh: FirehoseClient;
let kinesis: KinesisClient;

beforeAll(async () => {
  stack = await startDeliveryStack({ buckets: [BUCKET] });
  ({ s3, fh, kinesis } = stack);
});
afterAll(() => stack?.stop());

async function fromStream(name: string, stream: string, shards: number) {
  await kinesis.send(new CreateStreamCommand({ StreamName: stream, ShardCount: shards }));
  await new Promise((r) => setTimeout(r, 500));
  await fh.send(new CreateDeliveryStreamCommand({
    DeliveryStreamName: name, DeliveryStreamType: 'KinesisStreamAsSource',
    KinesisStreamSourceConfiguration: { KinesisStreamARN: `arn:aws:kinesis:us-east-1:000000000000:stream/${stream}`, RoleARN: ROLE },
    ExtendedS3DestinationConfiguration: {
      RoleARN: ROLE, BucketARN: `arn:aws:s3:::${BUCKET}`, Prefix: `${name}/`, BufferingHints: { SizeInMBs: 1, IntervalInSeconds: 0 },
      ProcessingConfiguration: { Enabled: true, Processors: [{ Type: 'AppendDelimiterToRecord' }] },
    },
  }));
  return stack.waitActive(name);
}

async function worker(name: string): Promise<DeliveryProcess & { port: number }> {
  const port = await freePort();
  const p = stack.worker(name, { args: ['--metrics-port', String(port)], env: { SHARDLINE_DELIVERY_LEASE_MS: '1500' } });
  return Object.assign(p, { port });
}

const status = (port: number) => new Promise<{ shards: string[]; deliveredRecords: number }>((resolve, reject) => {
  http.get(`http://127.0.0.1:${port}/status`, (res) => {
    let body = '';
    res.on('data', (d) => (body += d));
    res.on('end', () => resolve(JSON.parse(body)));
  }).on('error', reject);
});

async function until<T>(what: string, f: () => Promise<T | undefined | false>, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f().catch(() => undefined);
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function census(prefix: string): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (const k of await s3.list(BUCKET, prefix)) {
    for (const line of (await s3.get(BUCKET, k)).toString().split('\n')) if (line) counts.set(line, (counts.get(line) ?? 0) + 1);
  }
  return counts;
}

async function putPlain(stream: string, ids: string[]) {
  for (let i = 0; i < ids.length; i += 500) {
    const out = await kinesis.send(new PutRecordsCommand({ StreamName: stream, Records: ids.slice(i, i + 500).map((id) => ({ Data: Buffer.from(id), PartitionKey: id })) }));
    expect(out.FailedRecordCount).toBe(0);
  }
}

test('two replicas split four shards, deliver each record once, and the survivor takes over a killed one', async () => {
  await fromStream('pair', 'pair-src', 4);
  const a = await worker('pair');
  const b = await worker('pair');
  // Both hold shards once the leases have balanced.
  const held = await until('both workers hold shards', async () => {
    const [sa, sb] = [await status(a.port), await status(b.port)];
    return sa.shards.length > 0 && sb.shards.length > 0 && sa.shards.length + sb.shards.length === 4 && [sa, sb];
  });
  expect(new Set([...held[0].shards, ...held[1].shards]).size).toBe(4);
  const ids = Array.from({ length: 2000 }, (_, i) => `p${i}`);
  await putPlain('pair-src', ids.slice(0, 1000));
  await until('first half delivered', async () => (await census('pair/')).size >= 1000);
  await a.kill('SIGKILL');
  await putPlain('pair-src', ids.slice(1000));
  const counts = await until('all delivered', async () => {
    const c = await census('pair/');
    return c.size >= ids.length && c;
  }, 60_000);
  expect([...counts.values()].every((n) => n === 1)).toBe(true);
  expect([...counts.keys()].sort()).toEqual([...ids].sort());
  expect((await status(b.port)).shards).toHaveLength(4);
  // Prometheus, with Firehose's metric names mapped: b delivered at least the second half.
  const text = await new Promise<string>((resolve, reject) => {
    http.get(`http://127.0.0.1:${b.port}/metrics`, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve(body));
    }).on('error', reject);
  });
  const value = (name: string) => Number(new RegExp(`^${name}\\{delivery_stream="pair"\\} (\\S+)$`, 'm').exec(text)?.[1]);
  expect(value('shardline_firehose_delivery_to_s3_records_total')).toBeGreaterThanOrEqual(1000);
  expect(value('shardline_firehose_incoming_records_total')).toBeGreaterThanOrEqual(value('shardline_firehose_delivery_to_s3_records_total'));
  expect(value('shardline_firehose_delivery_to_s3_success_total')).toBeGreaterThan(0);
  expect(value('shardline_firehose_delivery_to_s3_bytes_total')).toBeGreaterThan(0);
  expect(value('shardline_firehose_delivery_to_s3_data_freshness_seconds')).toBeGreaterThanOrEqual(0);
}, 120_000);

test('KPL aggregates from a Kinesis source are delivered as their user records', async () => {
  await fromStream('kpl', 'kpl-src', 1);
  const w = await worker('kpl');
  const users = Array.from({ length: 300 }, (_, i) => ({ partitionKey: `u${i % 7}`, data: Buffer.from(`user-${i}`) }));
  const aggregates = await aggAggregate(users);
  expect(aggregates.length).toBeLessThan(users.length);
  const out = await kinesis.send(new PutRecordsCommand({ StreamName: 'kpl-src', Records: aggregates.map((a) => ({ Data: a.data, PartitionKey: a.partitionKey })) }));
  expect(out.FailedRecordCount).toBe(0);
  const counts = await until('user records delivered', async () => {
    const c = await census('kpl/');
    return c.size >= users.length && c;
  });
  expect([...counts.keys()].sort()).toEqual(users.map((u) => u.data.toString()).sort());
  expect([...counts.values()].every((n) => n === 1)).toBe(true);
  await w.kill('SIGTERM');
}, 60_000);
