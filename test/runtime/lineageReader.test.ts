// The shared shard reader: parents before children, resumable checkpoints.
import { CreateStreamCommand, PutRecordsCommand, SplitShardCommand, MergeShardsCommand, type KinesisClient } from '@aws-sdk/client-kinesis';
import { startNats, type NatsServers } from '../harness/nats.js';
import { sdkClient, startInProcess } from '../harness/runtime.js';
import { LineageReader, SHARD_END } from '../../stream/lineageReader.js';
import type { RunningRuntime } from '../../runtime/server.js';

let nats: NatsServers;
let rt: RunningRuntime & { endpoint: string };
let client: KinesisClient;

beforeAll(async () => {
  nats = await startNats();
  rt = await startInProcess(nats.url);
  client = sdkClient(rt.endpoint, { http1: true });
});
afterAll(async () => {
  client?.destroy();
  await rt?.close();
  await nats?.stop();
});

const put = (stream: string, from: number, to: number) =>
  client.send(new PutRecordsCommand({
    StreamName: stream,
    Records: Array.from({ length: to - from }, (_, i) => ({ PartitionKey: `key-${(from + i) % 5}`, Data: Buffer.from(String(from + i)) })),
  }));

async function drain(reader: LineageReader, rounds = 10): Promise<{ order: string[]; shards: string[] }> {
  const order: string[] = [];
  const shards: string[] = [];
  for (let i = 0; i < rounds; i++) {
    const batches = await reader.poll();
    if (batches.length === 0) break;
    for (const b of batches) {
      shards.push(b.shardId);
      order.push(...b.records.map((r) => `${r.partitionKey}=${r.data.toString()}`));
      reader.commit(b);
    }
  }
  return { order, shards };
}

test('reads parents before children and keeps per-key order across split and merge', async () => {
  await client.send(new CreateStreamCommand({ StreamName: 'lr', ShardCount: 2 }));
  await put('lr', 0, 50);
  await client.send(new SplitShardCommand({ StreamName: 'lr', ShardToSplit: 'shardId-000000000000', NewStartingHashKey: (1n << 126n).toString() }));
  await put('lr', 50, 100);
  await client.send(new MergeShardsCommand({ StreamName: 'lr', ShardToMerge: 'shardId-000000000003', AdjacentShardToMerge: 'shardId-000000000001' }));
  await put('lr', 100, 150);
  const reader = new LineageReader(rt.ctx.store, { stream: 'lr' });
  const { order, shards } = await drain(reader);
  expect(order).toHaveLength(150);
  for (let k = 0; k < 5; k++) {
    const values = order.filter((o) => o.startsWith(`key-${k}=`)).map((o) => Number(o.split('=')[1]));
    expect(values).toEqual([...values].sort((a, b) => a - b));
  }
  // Children come after their parents ended.
  expect(shards.indexOf('shardId-000000000002')).toBeGreaterThan(shards.lastIndexOf('shardId-000000000000'));
  expect(shards.indexOf('shardId-000000000004')).toBeGreaterThan(shards.lastIndexOf('shardId-000000000001'));
  expect(reader.snapshot()['shardId-000000000000']).toBe(SHARD_END);
});

test('resumes from a checkpoint without re-reading or skipping', async () => {
  await client.send(new CreateStreamCommand({ StreamName: 'lr2', ShardCount: 1 }));
  await put('lr2', 0, 30);
  const first = new LineageReader(rt.ctx.store, { stream: 'lr2', limit: 10 });
  const [b] = await first.poll();
  first.commit(b!);
  const resumed = new LineageReader(rt.ctx.store, { stream: 'lr2', checkpoint: first.snapshot() });
  const { order } = await drain(resumed);
  expect(order.map((o) => Number(o.split('=')[1]))).toEqual(Array.from({ length: 20 }, (_, i) => i + 10));
});
