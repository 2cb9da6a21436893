// Batching mode (Lambda event source mapping semantics) over a real
// nats-server: batch bounds (BatchSize, window, 6 MiB), ParallelizationFactor
// with per-key order, bisection onto a poisoned record, retries, record age,
// and the on-failure records a data stream receives.
import { CreateStreamCommand, GetRecordsCommand, GetShardIteratorCommand, PutRecordCommand, type KinesisClient } from '@aws-sdk/client-kinesis';
import { Registry } from 'prom-client';
import { startNats, type NatsServers } from '../harness/nats.js';
import { sdkClient, startInProcess } from '../harness/runtime.js';
import type { RunningRuntime } from '../../runtime/server.js';
import {
  dataStreamDestination, directSource, EventSourceMapping, eventBytesForTest, MAX_PAYLOAD_BYTES, memoryLeaseStore, toLambdaEvent,
  type ConsumerRecord, type EventSourceMappingOptions, type OnFailureRecord,
} from './batching.helpers.js';
import { KEYS, putRange, sleep, waitFor } from './helpers.js';

let nats: NatsServers;
let rt: RunningRuntime & { endpoint: string };
let client: KinesisClient;
const mappings: EventSourceMapping[] = [];

beforeAll(async () => {
  nats = await startNats();
  rt = await startInProcess(nats.url);
  client = sdkClient(rt.endpoint, { http1: true });
});
afterAll(async () => {
  for (const m of mappings) await m.stop();
  client?.destroy();
  await rt?.close();
  await nats?.stop();
});

async function stream(name: string, shards = 1): Promise<void> {
  await client.send(new CreateStreamCommand({ StreamName: name, ShardCount: shards }));
}

function mapping(o: Omit<EventSourceMappingOptions, 'source' | 'leaseStore' | 'applicationName'> & { applicationName?: string }): EventSourceMapping {
  const m = new EventSourceMapping({
    applicationName: `esm-${o.streamName}`,
    source: directSource(rt.ctx.store),
    leaseStore: memoryLeaseStore(),
    failoverTimeMs: 1_500,
    idleTimeBetweenReadsMs: 100,
    metricsRegistry: new Registry(),
    retryDelayMs: 20,
    ...o,
  });
  mappings.push(m);
  return m;
}

const value = (r: ConsumerRecord) => Number(r.data.toString());

test('settings out of Lambda ranges are rejected with InvalidParameterValueException', () => {
  const base = { streamName: 'x', handler: async () => undefined };
  for (const bad of [{ batchSize: 0 }, { batchSize: 10_001 }, { maximumBatchingWindowInSeconds: 301 }, { parallelizationFactor: 11 },
    { maximumRetryAttempts: -2 }, { maximumRecordAgeInSeconds: 59 }, { batchSize: 1.5 }]) {
    expect(() => mapping({ ...base, ...bad })).toThrow(expect.objectContaining({ name: 'InvalidParameterValueException' }));
  }
  mappings.length = 0;
});

test('BatchSize bounds every batch; one batch in flight per shard; records in shard order', async () => {
  await stream('b1');
  await putRange(client, 'b1', 0, 500);
  const batches: number[][] = [];
  const seqs: string[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const m = mapping({
    streamName: 'b1',
    batchSize: 50,
    handler: async ({ records }) => {
      maxInFlight = Math.max(maxInFlight, ++inFlight);
      await sleep(2);
      batches.push(records.map(value));
      seqs.push(...records.map((r) => r.sequenceNumber));
      inFlight--;
    },
  });
  await m.start();
  await waitFor(() => batches.flat().length >= 500, 20_000, '500 records');
  expect(batches.every((b) => b.length >= 1 && b.length <= 50)).toBe(true);
  expect(batches.filter((b) => b.length === 50).length).toBeGreaterThanOrEqual(9);
  expect([...batches.flat()].sort((a, b) => a - b)).toEqual(Array.from({ length: 500 }, (_, i) => i));
  // In the shard's order (what the sequence numbers say).
  expect(seqs).toEqual([...seqs].sort());
  expect(maxInFlight).toBe(1);
  await m.stop();
});

test('MaximumBatchingWindowInSeconds gathers records that trickle in; 6 MiB bounds a batch of large records', async () => {
  await stream('b2');
  const batches: ConsumerRecord[][] = [];
  const m = mapping({ streamName: 'b2', batchSize: 1000, maximumBatchingWindowInSeconds: 1, handler: async ({ records }) => void batches.push(records) });
  await m.start();
  const t0 = Date.now();
  for (let i = 0; i < 20; i++) {
    await client.send(new PutRecordCommand({ StreamName: 'b2', PartitionKey: 'k', Data: Buffer.from(String(i)) }));
    await sleep(100);
  }
  await waitFor(() => batches.flat().length >= 20, 10_000, '20 records');
  // ~2 s of trickle in 1 s windows: a few batches of several records each, not 20 invocations.
  expect(batches.length).toBeGreaterThanOrEqual(2);
  expect(batches.length).toBeLessThanOrEqual(4);
  expect(batches[0]!.length).toBeGreaterThan(3);
  expect(Date.now() - t0).toBeGreaterThanOrEqual(2000);
  await m.stop();

  // 1,000,000-byte records: a Lambda event holds four of them (base64 grows them by a third).
  // On-demand: no per-shard write limit for the 10 MB; all into the first shard (hash key 0).
  await client.send(new CreateStreamCommand({ StreamName: 'b3', StreamModeDetails: { StreamMode: 'ON_DEMAND' } }));
  const big: ConsumerRecord[][] = [];
  for (let i = 0; i < 10; i++) {
    await client.send(new PutRecordCommand({ StreamName: 'b3', PartitionKey: 'k', ExplicitHashKey: '0', Data: Buffer.alloc(1_000_000, 48 + i) }));
  }
  const m2 = mapping({ streamName: 'b3', batchSize: 100, maximumBatchingWindowInSeconds: 2, handler: async ({ records }) => void big.push(records) });
  await m2.start();
  await waitFor(() => big.flat().length >= 10, 20_000, 'big records');
  expect(big.map((b) => b.length)).toEqual([4, 4, 2]);
  for (const b of big) expect(b.reduce((s, r) => s + eventBytesForTest(r), 0)).toBeLessThanOrEqual(MAX_PAYLOAD_BYTES);
  // The estimate is an upper bound of the Lambda event the batch makes, and that event fits the 6 MiB payload limit.
  for (const b of big) {
    const json = JSON.stringify(toLambdaEvent({ shardId: 'shardId-000000000000', records: b }, { streamArn: 'arn:aws:kinesis:us-east-1:000000000000:stream/b3' }));
    expect(Buffer.byteLength(json)).toBeLessThanOrEqual(b.reduce((s, r) => s + eventBytesForTest(r), 0));
  }
  await m2.stop();
}, 60_000);

test('ParallelizationFactor 4: up to four batches in flight on one shard, order kept per partition key', async () => {
  await stream('b4');
  await putRange(client, 'b4', 0, 2000);
  const handled: { key: string; value: number; seq: string }[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const m = mapping({
    streamName: 'b4',
    batchSize: 20,
    parallelizationFactor: 4,
    handler: async ({ records }) => {
      maxInFlight = Math.max(maxInFlight, ++inFlight);
      await sleep(1 + Math.random() * 5);
      for (const r of records) handled.push({ key: r.partitionKey, value: value(r), seq: r.sequenceNumber });
      inFlight--;
    },
  });
  await m.start();
  await waitFor(() => handled.length >= 2000, 30_000, '2000 records');
  await sleep(200);
  expect(handled).toHaveLength(2000);
  expect(new Set(handled.map((h) => h.value)).size).toBe(2000);
  // Per key in stored order (sequence numbers; one PutRecords call does not promise order among its records).
  const lastSeq = new Map<string, string>();
  const bad: string[] = [];
  for (const h of handled) {
    const prev = lastSeq.get(h.key);
    if (prev !== undefined && h.seq <= prev) bad.push(`${h.key}: ${h.seq} after ${prev}`);
    lastSeq.set(h.key, h.seq);
  }
  expect(bad).toEqual([]);
  expect(maxInFlight).toBeGreaterThan(1);
  expect(maxInFlight).toBeLessThanOrEqual(4);
  // Interleaved across keys: strict shard order is not kept (that is the point of the factor).
  expect(handled.map((h) => h.seq)).not.toEqual(handled.map((h) => h.seq).sort());
  await m.stop();
}, 60_000);

async function readAll(name: string): Promise<OnFailureRecord[]> {
  const it = await client.send(new GetShardIteratorCommand({ StreamName: name, ShardId: 'shardId-000000000000', ShardIteratorType: 'TRIM_HORIZON' }));
  const res = await client.send(new GetRecordsCommand({ ShardIterator: it.ShardIterator }));
  return (res.Records ?? []).map((r) => JSON.parse(Buffer.from(r.Data!).toString()) as OnFailureRecord);
}

test('BisectBatchOnFunctionError isolates a poisoned record; the failure destination (a data stream) gets its shard and sequence', async () => {
  await stream('b5');
  await stream('b5-dlq');
  await putRange(client, 'b5', 0, 64);
  const ok: number[] = [];
  let invocations = 0;
  const m = mapping({
    streamName: 'b5',
    batchSize: 16,
    bisectBatchOnFunctionError: true,
    maximumRetryAttempts: 1,
    onFailure: dataStreamDestination(client, 'b5-dlq'),
    functionArn: 'arn:aws:lambda:us-east-1:123456789012:function:poisoned',
    handler: async ({ records }) => {
      invocations++;
      if (records.some((r) => value(r) === 37)) throw new Error('poison');
      ok.push(...records.map(value));
    },
  });
  await m.start();
  await waitFor(() => ok.length >= 63, 20_000, '63 good records');
  const dlq = await waitFor(async () => { const r = await readAll('b5-dlq'); return r.length > 0 && r; }, 10_000, 'failure record');
  // Every good record processed exactly once, in order; the poisoned one never.
  expect(ok).toEqual(Array.from({ length: 64 }, (_, i) => i).filter((v) => v !== 37));
  expect(dlq).toHaveLength(1);
  const f = dlq[0]!;
  const seq37 = await sequenceOf('b5', 37);
  expect(f.KinesisBatchInfo).toEqual({
    shardId: 'shardId-000000000000',
    startSequenceNumber: seq37.sequenceNumber,
    endSequenceNumber: seq37.sequenceNumber,
    approximateArrivalOfFirstRecord: seq37.arrival,
    approximateArrivalOfLastRecord: seq37.arrival,
    batchSize: 1,
    streamArn: 'arn:aws:kinesis:us-east-1:000000000000:stream/b5',
  });
  expect(f.requestContext).toEqual({ requestId: expect.stringMatching(/^[0-9a-f-]{36}$/), functionArn: 'arn:aws:lambda:us-east-1:123456789012:function:poisoned', condition: 'RetryAttemptsExhausted', approximateInvokeCount: 2 });
  expect(f.responseContext).toEqual({ statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' });
  expect(f.version).toBe('1.0');
  expect(Number.isNaN(Date.parse(f.timestamp))).toBe(false);
  // 16-record batch → 8 → 4 → 2 → 1 (twice: one retry), and the good halves.
  expect(invocations).toBeLessThan(30);
  await m.stop();
});

async function sequenceOf(name: string, v: number): Promise<{ sequenceNumber: string; arrival: string }> {
  const it = await client.send(new GetShardIteratorCommand({ StreamName: name, ShardId: 'shardId-000000000000', ShardIteratorType: 'TRIM_HORIZON' }));
  const res = await client.send(new GetRecordsCommand({ ShardIterator: it.ShardIterator }));
  const r = res.Records!.find((x) => Buffer.from(x.Data!).toString() === String(v))!;
  return { sequenceNumber: r.SequenceNumber!, arrival: r.ApproximateArrivalTimestamp!.toISOString() };
}

test('without bisect the whole batch is discarded after MaximumRetryAttempts, and consumption goes on after it', async () => {
  await stream('b6');
  await stream('b6-dlq');
  await putRange(client, 'b6', 0, 30, KEYS);
  const ok: number[] = [];
  let calls = 0;
  const m = mapping({
    streamName: 'b6',
    batchSize: 10,
    maximumRetryAttempts: 2,
    onFailure: dataStreamDestination(client, 'b6-dlq'),
    handler: async ({ records }) => {
      if (records.some((r) => value(r) === 15)) {
        calls++;
        throw new Error('poison');
      }
      ok.push(...records.map(value));
    },
  });
  await m.start();
  await waitFor(() => ok.length >= 20, 10_000, 'the other batches');
  const [f] = await waitFor(async () => { const r = await readAll('b6-dlq'); return r.length > 0 && r; }, 10_000, 'failure record');
  expect(ok).toEqual([...Array.from({ length: 10 }, (_, i) => i), ...Array.from({ length: 10 }, (_, i) => 20 + i)]);
  expect(calls).toBe(3);
  expect(f!.requestContext.approximateInvokeCount).toBe(3);
  expect(f!.KinesisBatchInfo.batchSize).toBe(10);
  expect(f!.KinesisBatchInfo.startSequenceNumber).toBe((await sequenceOf('b6', 10)).sequenceNumber);
  expect(f!.KinesisBatchInfo.endSequenceNumber).toBe((await sequenceOf('b6', 19)).sequenceNumber);
  await m.stop();
});

test('MaximumRecordAgeInSeconds: records older than it are discarded without invoking the function', async () => {
  await stream('b7');
  await putRange(client, 'b7', 0, 5);
  const failures: OnFailureRecord[] = [];
  let calls = 0;
  const m = mapping({
    streamName: 'b7',
    maximumRecordAgeInSeconds: 60,
    // Two minutes from now: every record is 120 s old.
    now: () => Date.now() + 120_000,
    onFailure: async (f) => void failures.push(f),
    handler: async () => void calls++,
  });
  await m.start();
  await waitFor(() => failures.length > 0, 10_000, 'failure');
  expect(calls).toBe(0);
  expect(failures[0]!.requestContext.condition).toBe('RecordAgeExceeded');
  expect(failures[0]!.requestContext.approximateInvokeCount).toBe(0);
  expect(failures[0]!.responseContext).toBeUndefined();
  expect(failures[0]!.KinesisBatchInfo.batchSize).toBe(5);
  await m.stop();
});
