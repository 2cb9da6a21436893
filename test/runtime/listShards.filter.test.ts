// ListShards ShardFilter: which shards a consumer starting at a point needs.
import { CreateStreamCommand, ListShardsCommand, SplitShardCommand, MergeShardsCommand, InvalidArgumentException, type KinesisClient } from '@aws-sdk/client-kinesis';
import { startNats, type NatsServers } from '../harness/nats.js';
import { sdkClient, startInProcess } from '../harness/runtime.js';
import { shardFilter } from '../../runtime/api/ops/shardFilter.js';
import type { ShardRecord } from '../../stream/streamRecord.js';
import type { RunningRuntime } from '../../runtime/server.js';

const shard = (id: number, createdAtMs: number, closedAtMs?: number): ShardRecord => ({
  shardId: `shardId-${String(id).padStart(12, '0')}`, index: id, createdAtMs, closedAtMs,
  hashKeyRange: { startingHashKey: '0', endingHashKey: '1' }, startingSequenceNumber: '0',
});

describe('shardFilter (pure)', () => {
  // 0 closed at 100 (children 1, 2 created at 100); 2 closed at 200 (child 3).
  const shards = [shard(0, 0, 100), shard(1, 100), shard(2, 100, 200), shard(3, 200)];
  const ids = (f: Parameters<typeof shardFilter>[0], horizon = 0) => shards.filter(shardFilter(f, 1000, horizon)).map((s) => s.index);
  test.each([
    [{ Type: 'AT_LATEST' }, 0, [1, 3]],
    [{ Type: 'AT_TRIM_HORIZON' }, 0, [0]],
    [{ Type: 'AT_TRIM_HORIZON' }, 150, [1, 2]],
    [{ Type: 'FROM_TRIM_HORIZON' }, 150, [1, 2, 3]],
    [{ Type: 'AT_TIMESTAMP', Timestamp: 150 }, 0, [1, 2]],
    [{ Type: 'AT_TIMESTAMP', Timestamp: 50 }, 0, [0]],
    [{ Type: 'FROM_TIMESTAMP', Timestamp: 150 }, 0, [1, 2, 3]],
    [{ Type: 'FROM_TIMESTAMP', Timestamp: 250 }, 0, [1, 3]],
    [{ Type: 'AFTER_SHARD_ID', ShardId: 'shardId-000000000001' }, 0, [2, 3]],
  ] as const)('%j with horizon %d → %j', (f, horizon, want) => {
    expect(ids(f as never, horizon)).toEqual(want);
  });
  test('missing members are InvalidArgumentException', () => {
    expect(() => shardFilter({ Type: 'AFTER_SHARD_ID' }, 0, 0)).toThrow(expect.objectContaining({ type: 'InvalidArgumentException' }));
    expect(() => shardFilter({ Type: 'AT_TIMESTAMP' }, 0, 0)).toThrow(expect.objectContaining({ type: 'InvalidArgumentException' }));
  });
});

describe('ListShards with ShardFilter on a real stream', () => {
  let nats: NatsServers;
  let rt: RunningRuntime & { endpoint: string };
  let client: KinesisClient;
  beforeAll(async () => {
    nats = await startNats();
    rt = await startInProcess(nats.url);
    client = sdkClient(rt.endpoint);
    await client.send(new CreateStreamCommand({ StreamName: 'lsf', ShardCount: 2 }));
    await client.send(new SplitShardCommand({ StreamName: 'lsf', ShardToSplit: 'shardId-000000000000', NewStartingHashKey: (1n << 126n).toString() }));
    await client.send(new MergeShardsCommand({ StreamName: 'lsf', ShardToMerge: 'shardId-000000000003', AdjacentShardToMerge: 'shardId-000000000001' }));
  });
  afterAll(async () => {
    client?.destroy();
    await rt?.close();
    await nats?.stop();
  });
  const list = async (ShardFilter: object, MaxResults?: number) => {
    const ids: string[] = [];
    let r = await client.send(new ListShardsCommand({ StreamName: 'lsf', ShardFilter: ShardFilter as never, MaxResults }));
    ids.push(...r.Shards!.map((s) => s.ShardId!));
    while (r.NextToken) {
      r = await client.send(new ListShardsCommand({ NextToken: r.NextToken, MaxResults }));
      ids.push(...r.Shards!.map((s) => s.ShardId!));
    }
    return ids.map((id) => Number(id.slice(-2)));
  };
  test('AT_LATEST lists only open shards, paging keeps the filter', async () => {
    expect(await list({ Type: 'AT_LATEST' }, 1)).toEqual([2, 4]);
  });
  test('AT_TRIM_HORIZON lists the shards open at the horizon; FROM_TRIM_HORIZON all', async () => {
    expect(await list({ Type: 'AT_TRIM_HORIZON' })).toEqual([0, 1]);
    expect(await list({ Type: 'FROM_TRIM_HORIZON' })).toEqual([0, 1, 2, 3, 4]);
  });
  test('AFTER_SHARD_ID, and ShardFilter with NextToken is rejected', async () => {
    expect(await list({ Type: 'AFTER_SHARD_ID', ShardId: 'shardId-000000000002' })).toEqual([3, 4]);
    const first = await client.send(new ListShardsCommand({ StreamName: 'lsf', MaxResults: 1 }));
    await expect(client.send(new ListShardsCommand({ NextToken: first.NextToken, ShardFilter: { Type: 'AT_LATEST' } }))).rejects.toBeInstanceOf(InvalidArgumentException);
  });
});
