// KPL aggregates (written by aws-kinesis-agg, the AWS codec, as an independent
// producer) are de-aggregated transparently: user records with sub-sequence
// numbers, and a checkpoint in the middle of an aggregate resumes at the next
// user record.
import { CreateStreamCommand, PutRecordCommand, type KinesisClient } from '@aws-sdk/client-kinesis';
import { Registry } from 'prom-client';
import { startNats, type NatsServers } from '../harness/nats.js';
import { sdkClient, startInProcess } from '../harness/runtime.js';
import { aggAggregate } from '../harness/kplAgg.js';
import type { RunningRuntime } from '../../runtime/server.js';
import { Consumer, directSource, memoryLeaseStore, type ConsumerRecord, type ConsumerOptions } from '../../consumer/index.js';
import { sleep, waitFor } from './helpers.js';

let nats: NatsServers;
let rt: RunningRuntime & { endpoint: string };
let client: KinesisClient;

beforeAll(async () => {
  nats = await startNats();
  rt = await startInProcess(nats.url);
  client = sdkClient(rt.endpoint, { http1: true });
  await client.send(new CreateStreamCommand({ StreamName: 'agg', ShardCount: 1 }));
  // Two aggregates of 6 user records each, then two plain records.
  for (const from of [0, 6]) {
    const users = Array.from({ length: 6 }, (_, i) => ({ partitionKey: `pk-${from + i}`, data: Buffer.from(String(from + i)) }));
    for (const e of await aggAggregate(users)) await client.send(new PutRecordCommand({ StreamName: 'agg', PartitionKey: e.partitionKey, Data: e.data }));
  }
  for (const v of [12, 13]) await client.send(new PutRecordCommand({ StreamName: 'agg', PartitionKey: `pk-${v}`, Data: Buffer.from(String(v)) }));
});
afterAll(async () => {
  client?.destroy();
  await rt?.close();
  await nats?.stop();
});

function run(o: Partial<ConsumerOptions> & Pick<ConsumerOptions, 'leaseStore' | 'processorFactory'>): Consumer {
  return new Consumer({
    applicationName: 'agg-app',
    streamName: 'agg',
    source: directSource(rt.ctx.store),
    failoverTimeMs: 1_500,
    idleTimeBetweenReadsMs: 100,
    metricsRegistry: new Registry(),
    ...o,
  });
}

test('user records come out one by one with sub-sequence numbers; a sub-sequence checkpoint resumes at the next one', async () => {
  const store = memoryLeaseStore();
  const seen: ConsumerRecord[] = [];
  let checkpointed = false;
  const first = run({
    leaseStore: store,
    processorFactory: () => ({
      async processRecords(batch, cp) {
        if (checkpointed) return;
        seen.push(...batch.records);
        // Only the first 9 count as processed: record 8 is sub-sequence 2 of the second aggregate.
        const r8 = batch.records.find((r) => r.data.toString() === '8')!;
        await cp.checkpoint(r8.sequenceNumber, r8.subSequenceNumber);
        checkpointed = true;
      },
      async shardEnded(cp) { await cp.checkpoint(); },
    }),
  });
  await first.start();
  await waitFor(() => checkpointed, 10_000, 'first batch');
  await first.stop();
  expect(seen.map((r) => r.data.toString())).toEqual(Array.from({ length: 14 }, (_, i) => String(i)));
  expect(seen.map((r) => r.partitionKey)).toEqual(Array.from({ length: 14 }, (_, i) => `pk-${i}`));
  expect(seen.map((r) => r.subSequenceNumber)).toEqual([0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 5, undefined, undefined]);
  // The six user records of one aggregate share its sequence number.
  expect(new Set(seen.slice(0, 6).map((r) => r.sequenceNumber)).size).toBe(1);
  expect(seen[6]!.sequenceNumber > seen[5]!.sequenceNumber).toBe(true);

  const resumed: string[] = [];
  const second = run({
    leaseStore: store,
    processorFactory: () => ({
      async processRecords(batch, cp) {
        resumed.push(...batch.records.map((r) => r.data.toString()));
        await cp.checkpoint();
      },
      async shardEnded(cp) { await cp.checkpoint(); },
    }),
  });
  await second.start();
  await waitFor(() => resumed.length >= 5, 10_000, 'resumed records');
  await sleep(200);
  await second.stop();
  expect(resumed).toEqual(['9', '10', '11', '12', '13']);
});

test('deaggregate: false hands the aggregate over as one record', async () => {
  const seen: ConsumerRecord[] = [];
  const c = run({
    applicationName: 'raw-app',
    deaggregate: false,
    leaseStore: memoryLeaseStore(),
    processorFactory: () => ({
      async processRecords(batch) { seen.push(...batch.records); },
      async shardEnded(cp) { await cp.checkpoint(); },
    }),
  });
  await c.start();
  await waitFor(() => seen.length >= 4, 10_000, 'records');
  await c.stop();
  expect(seen).toHaveLength(4);
  expect(seen[0]!.data.subarray(0, 4)).toEqual(Buffer.from([0xf3, 0x89, 0x9a, 0xc2]));
  expect(seen[0]!.subSequenceNumber).toBeUndefined();
});
