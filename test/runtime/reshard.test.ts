// Split, merge and uniform scaling on real JetStream, with writers racing the
// reshard through two runtime processes.
import {
  CreateStreamCommand, DescribeStreamCommand, GetRecordsCommand, GetShardIteratorCommand, MergeShardsCommand,
  PutRecordsCommand, SplitShardCommand, UpdateShardCountCommand, InvalidArgumentException, KinesisClient,
  ListShardsCommand, waitUntilStreamExists,
} from '@aws-sdk/client-kinesis';
import type { NatsServers } from '../harness/nats.js';
import { sdkClient, startInProcess, startStack, type Stack } from '../harness/runtime.js';
import type { RunningRuntime } from '../../runtime/server.js';

let nats: NatsServers;
let a: RunningRuntime & { endpoint: string };
let b: RunningRuntime & { endpoint: string };
let ca: KinesisClient;
let cb: KinesisClient;

let stack: Stack;

beforeAll(async () => {
  stack = await startStack(2);
  ({ nats, runtimes: [a, b], clients: [ca, cb] } = stack);
});
afterAll(() => stack?.stop());

/** Reads a whole stream parent-before-children; returns data by partition key in read order. */
async function readAll(client: KinesisClient, stream: string): Promise<Map<string, string[]>> {
  const shards = (await client.send(new ListShardsCommand({ StreamName: stream }))).Shards!;
  const done = new Set<string>();
  const out = new Map<string, string[]>();
  const ready = (s: (typeof shards)[number]) =>
    [s.ParentShardId, s.AdjacentParentShardId].every((p) => !p || done.has(p) || !shards.some((x) => x.ShardId === p));
  while (done.size < shards.length) {
    const next = shards.find((s) => !done.has(s.ShardId!) && ready(s))!;
    let it = (await client.send(new GetShardIteratorCommand({ StreamName: stream, ShardId: next.ShardId, ShardIteratorType: 'TRIM_HORIZON' }))).ShardIterator;
    for (let i = 0; it && i < 1000; i++) {
      const r = await client.send(new GetRecordsCommand({ ShardIterator: it }));
      for (const rec of r.Records ?? []) {
        const k = rec.PartitionKey!;
        out.set(k, [...(out.get(k) ?? []), Buffer.from(rec.Data!).toString()]);
      }
      if (!next.SequenceNumberRange?.EndingSequenceNumber && (r.Records ?? []).length === 0) break;
      it = r.NextShardIterator;
    }
    done.add(next.ShardId!);
  }
  return out;
}

test('split and merge change the shard map with lineage and exact ending sequence numbers', async () => {
  await ca.send(new CreateStreamCommand({ StreamName: 'rs1', ShardCount: 2 }));
  await ca.send(new PutRecordsCommand({ StreamName: 'rs1', Records: Array.from({ length: 20 }, (_, i) => ({ PartitionKey: `k${i}`, Data: Buffer.from(`v${i}`) })) }));
  const mid = (1n << 126n).toString();
  await ca.send(new SplitShardCommand({ StreamName: 'rs1', ShardToSplit: 'shardId-000000000000', NewStartingHashKey: mid }));
  // The other runtime learns of the reshard through its watched cache, so it may
  // still say UPDATING for a moment (as Kinesis does): wait as a client would.
  await waitUntilStreamExists({ client: cb, maxWaitTime: 30, minDelay: 1 }, { StreamName: 'rs1' });
  let d = (await cb.send(new DescribeStreamCommand({ StreamName: 'rs1' }))).StreamDescription!;
  expect(d.StreamStatus).toBe('ACTIVE');
  const byId = Object.fromEntries(d.Shards!.map((s) => [s.ShardId, s]));
  expect(byId['shardId-000000000000']!.SequenceNumberRange!.EndingSequenceNumber).toMatch(/^\d+$/);
  expect(byId['shardId-000000000002']).toMatchObject({ ParentShardId: 'shardId-000000000000', HashKeyRange: { StartingHashKey: '0', EndingHashKey: (BigInt(mid) - 1n).toString() } });
  expect(byId['shardId-000000000003']).toMatchObject({ ParentShardId: 'shardId-000000000000', HashKeyRange: { StartingHashKey: mid } });
  await expect(ca.send(new SplitShardCommand({ StreamName: 'rs1', ShardToSplit: 'shardId-000000000000', NewStartingHashKey: mid }))).rejects.toBeInstanceOf(InvalidArgumentException);
  await expect(ca.send(new MergeShardsCommand({ StreamName: 'rs1', ShardToMerge: 'shardId-000000000002', AdjacentShardToMerge: 'shardId-000000000001' }))).rejects.toBeInstanceOf(InvalidArgumentException);
  await ca.send(new MergeShardsCommand({ StreamName: 'rs1', ShardToMerge: 'shardId-000000000003', AdjacentShardToMerge: 'shardId-000000000001' }));
  await waitUntilStreamExists({ client: ca, maxWaitTime: 30, minDelay: 1 }, { StreamName: 'rs1' });
  d = (await ca.send(new DescribeStreamCommand({ StreamName: 'rs1' }))).StreamDescription!;
  const merged = d.Shards!.find((s) => s.ShardId === 'shardId-000000000004')!;
  expect(merged).toMatchObject({ ParentShardId: 'shardId-000000000003', AdjacentParentShardId: 'shardId-000000000001', HashKeyRange: { StartingHashKey: mid, EndingHashKey: (2n ** 128n - 1n).toString() } });
  // The closed parent's reader ends with ChildShards and no next iterator.
  const it = (await ca.send(new GetShardIteratorCommand({ StreamName: 'rs1', ShardId: 'shardId-000000000000', ShardIteratorType: 'TRIM_HORIZON' }))).ShardIterator;
  const r = await ca.send(new GetRecordsCommand({ ShardIterator: it }));
  expect(r.NextShardIterator).toBeUndefined();
  expect(r.ChildShards?.map((c) => c.ShardId).sort()).toEqual(['shardId-000000000002', 'shardId-000000000003']);
  const all = await readAll(ca, 'rs1');
  expect([...all.values()].flat().sort()).toEqual(Array.from({ length: 20 }, (_, i) => `v${i}`).sort());
});

test('UpdateShardCount 4→8→4 under concurrent writers on two runtimes loses and duplicates nothing', async () => {
  await ca.send(new CreateStreamCommand({ StreamName: 'rs2', ShardCount: 4 }));
  let stop = false;
  const acked = new Map<string, number>();
  let retried = 0;
  const producer = async (client: KinesisClient, id: string) => {
    for (let n = 0; !stop && n < 100000; n++) {
      const key = `${id}-${n % 16}`;
      let pending = Array.from({ length: 10 }, (_, j) => ({ PartitionKey: key, Data: Buffer.from(`${id}:${n}:${j}`) }));
      for (let attempt = 0; pending.length && attempt < 50; attempt++) {
        const out = await client.send(new PutRecordsCommand({ StreamName: 'rs2', Records: pending }));
        const failed: typeof pending = [];
        out.Records!.forEach((r, i) => (r.ErrorCode ? failed.push(pending[i]!) : acked.set(pending[i]!.Data.toString(), 1)));
        retried += failed.length;
        // Kinesis ordering per key only holds when a failed record is retried before later ones.
        pending = failed;
      }
      expect(pending).toHaveLength(0);
    }
  };
  const producers = [producer(ca, 'a1'), producer(ca, 'a2'), producer(cb, 'b1'), producer(cb, 'b2')];
  await new Promise((r) => setTimeout(r, 300));
  const t0 = Date.now();
  await ca.send(new UpdateShardCountCommand({ StreamName: 'rs2', TargetShardCount: 8, ScalingType: 'UNIFORM_SCALING' }));
  const up = Date.now() - t0;
  await new Promise((r) => setTimeout(r, 300));
  const t1 = Date.now();
  await cb.send(new UpdateShardCountCommand({ StreamName: 'rs2', TargetShardCount: 4, ScalingType: 'UNIFORM_SCALING' }));
  const down = Date.now() - t1;
  await new Promise((r) => setTimeout(r, 300));
  stop = true;
  await Promise.all(producers);
  // Time to ACTIVE is a benchmark figure (bench reshard), not a test assertion.
  const d = (await ca.send(new DescribeStreamCommand({ StreamName: 'rs2' }))).StreamDescription!;
  expect(d.Shards!.filter((s) => !s.SequenceNumberRange?.EndingSequenceNumber)).toHaveLength(4);
  const all = await readAll(ca, 'rs2');
  const seen = [...all.values()].flat();
  expect(new Set(seen).size).toBe(seen.length); // no duplicates
  for (const k of acked.keys()) expect(seen).toContain(k);
  // Per partition key, order of (n, j) is intact across parent → child.
  for (const [, values] of all) {
    const order = values.map((v) => v.split(':').slice(1).map(Number) as [number, number]);
    for (let i = 1; i < order.length; i++) {
      const [pn, pj] = order[i - 1]!;
      const [n, j] = order[i]!;
      expect(n > pn || (n === pn && j > pj)).toBe(true);
    }
  }
  process.stdout.write(`reshard 4→8 ${up} ms, 8→4 ${down} ms, acked ${acked.size}, retried ${retried}\n`);
}, 60000);

test('a closed shard is dropped with its storage once its data is past retention', async () => {
  const { sweepClosedShards } = await import('../../stream/closedShardJanitor.js');
  const { getStream } = await import('../../stream/streams.js');
  const { jsStreamName } = await import('../../stream/names.js');
  await ca.send(new CreateStreamCommand({ StreamName: 'rs3', ShardCount: 1 }));
  await ca.send(new SplitShardCommand({ StreamName: 'rs3', ShardToSplit: 'shardId-000000000000', NewStartingHashKey: (1n << 127n).toString() }));
  const rec = (await getStream(a.ctx.store, 'rs3'))!;
  // Not yet past retention: nothing removed.
  await sweepClosedShards(a.ctx.store, Date.now());
  expect((await getStream(a.ctx.store, 'rs3'))!.shards.map((s) => s.shardId)).toContain('shardId-000000000000');
  await sweepClosedShards(a.ctx.store, Date.now() + 25 * 3600_000);
  const after = (await getStream(a.ctx.store, 'rs3'))!;
  expect(after.shards.map((s) => s.shardId)).toEqual(['shardId-000000000001', 'shardId-000000000002']);
  await expect(a.ctx.store.jsm.streams.info(jsStreamName(rec.uid, 0))).rejects.toThrow(/not found/);
});

test('reshard errors: hash key outside the parent, scaling beyond 2× or below ½×, shard limit, UPDATING', async () => {
  const { LimitExceededException, ResourceInUseException, UpdateShardCountCommand: Scale, DeleteStreamCommand, IncreaseStreamRetentionPeriodCommand } = await import('@aws-sdk/client-kinesis');
  const { updateStream } = await import('../../stream/streams.js');
  await ca.send(new CreateStreamCommand({ StreamName: 'rs4', ShardCount: 2 }));
  const half = (1n << 127n).toString();
  // shardId-000000000000 covers [0, 2^127-1]: 2^127 lies in its neighbour, 0 is its own start.
  await expect(ca.send(new SplitShardCommand({ StreamName: 'rs4', ShardToSplit: 'shardId-000000000000', NewStartingHashKey: half }))).rejects.toBeInstanceOf(InvalidArgumentException);
  await expect(ca.send(new SplitShardCommand({ StreamName: 'rs4', ShardToSplit: 'shardId-000000000000', NewStartingHashKey: '0' }))).rejects.toBeInstanceOf(InvalidArgumentException);
  await expect(ca.send(new Scale({ StreamName: 'rs4', TargetShardCount: 5, ScalingType: 'UNIFORM_SCALING' }))).rejects.toThrow(/double/);
  await expect(ca.send(new Scale({ StreamName: 'rs4', TargetShardCount: 1, ScalingType: 'UNIFORM_SCALING' }))).resolves.toMatchObject({ CurrentShardCount: 2, TargetShardCount: 1 });
  // A runtime with a small account shard limit refuses growth past it.
  const small = await startInProcess(nats.url, { shardLimit: 4 });
  const cs = sdkClient(small.endpoint, { http1: true });
  try {
    await expect(cs.send(new CreateStreamCommand({ StreamName: 'rs5', ShardCount: 100 }))).rejects.toBeInstanceOf(LimitExceededException);
    await expect(cs.send(new Scale({ StreamName: 'rs4', TargetShardCount: 2, ScalingType: 'UNIFORM_SCALING' }))).rejects.toBeInstanceOf(LimitExceededException);
  } finally {
    cs.destroy();
    await small.close();
  }
  // While UPDATING (a reshard in progress), AWS refuses further changes.
  await updateStream(a.ctx.store, 'rs4', (r) => ({ ...r, status: 'UPDATING' }));
  await a.ctx.cache.fresh('rs4');
  const open = (await ca.send(new ListShardsCommand({ StreamName: 'rs4', ShardFilter: { Type: 'AT_LATEST' } }))).Shards![0]!.ShardId!;
  await expect(ca.send(new SplitShardCommand({ StreamName: 'rs4', ShardToSplit: open, NewStartingHashKey: '12345' }))).rejects.toBeInstanceOf(ResourceInUseException);
  await expect(ca.send(new Scale({ StreamName: 'rs4', TargetShardCount: 2, ScalingType: 'UNIFORM_SCALING' }))).rejects.toBeInstanceOf(ResourceInUseException);
  await expect(ca.send(new DeleteStreamCommand({ StreamName: 'rs4' }))).rejects.toBeInstanceOf(ResourceInUseException);
  await expect(ca.send(new IncreaseStreamRetentionPeriodCommand({ StreamName: 'rs4', RetentionPeriodHours: 48 }))).rejects.toBeInstanceOf(ResourceInUseException);
});
