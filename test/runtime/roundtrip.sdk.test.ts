// Round trips with the real AWS SDK v3 over its default handler (HTTP/2
// cleartext) and over HTTP/1.1, against a real nats-server.
import {
  CreateStreamCommand, DescribeStreamCommand, DescribeStreamSummaryCommand, GetRecordsCommand,
  GetShardIteratorCommand, ListShardsCommand, ListStreamsCommand, PutRecordCommand, PutRecordsCommand,
  DeleteStreamCommand, KinesisClient, ResourceNotFoundException, ResourceInUseException,
} from '@aws-sdk/client-kinesis';
import { startNats, type NatsServers } from '../harness/nats.js';
import { sdkClient, startInProcess } from '../harness/runtime.js';
import type { RunningRuntime } from '../../runtime/server.js';

let nats: NatsServers;
let rt: RunningRuntime & { endpoint: string };

beforeAll(async () => {
  nats = await startNats();
  rt = await startInProcess(nats.url);
});
afterAll(async () => {
  await rt?.close();
  await nats?.stop();
});

describe.each([
  ['default handler (h2c)', false],
  ['NodeHttpHandler (HTTP/1.1)', true],
])('AWS SDK v3 with %s', (_label, http1) => {
  let client: KinesisClient;
  const stream = `sdk-${http1 ? 'h1' : 'h2'}`;
  beforeAll(() => {
    client = sdkClient(rt.endpoint, { http1 });
  });
  afterAll(() => client.destroy());

  test('create, describe, list', async () => {
    await client.send(new CreateStreamCommand({ StreamName: stream, ShardCount: 3 }));
    const d = await client.send(new DescribeStreamCommand({ StreamName: stream }));
    expect(d.StreamDescription?.StreamStatus).toBe('ACTIVE');
    expect(d.StreamDescription?.Shards?.map((s) => s.ShardId)).toEqual([
      'shardId-000000000000', 'shardId-000000000001', 'shardId-000000000002',
    ]);
    expect(d.StreamDescription?.StreamCreationTimestamp).toBeInstanceOf(Date);
    const sum = await client.send(new DescribeStreamSummaryCommand({ StreamName: stream }));
    expect(sum.StreamDescriptionSummary?.OpenShardCount).toBe(3);
    const l = await client.send(new ListStreamsCommand({}));
    expect(l.StreamNames).toContain(stream);
    const shards = await client.send(new ListShardsCommand({ StreamName: stream, MaxResults: 2 }));
    expect(shards.Shards).toHaveLength(2);
    const rest = await client.send(new ListShardsCommand({ NextToken: shards.NextToken }));
    expect(rest.Shards?.map((s) => s.ShardId)).toEqual(['shardId-000000000002']);
    await expect(client.send(new CreateStreamCommand({ StreamName: stream, ShardCount: 1 }))).rejects.toBeInstanceOf(ResourceInUseException);
  });

  test('put and get records, bytes intact', async () => {
    const payloads = Array.from({ length: 50 }, (_, i) => Buffer.from(`record-${i}-${'x'.repeat(i)}`));
    const put = await client.send(
      new PutRecordsCommand({ StreamName: stream, Records: payloads.map((Data, i) => ({ Data, PartitionKey: `k${i % 7}` })) }),
    );
    expect(put.FailedRecordCount).toBe(0);
    const single = await client.send(new PutRecordCommand({ StreamName: stream, PartitionKey: 'solo', Data: Buffer.from([0, 1, 2, 255]) }));
    const seen = new Map<string, Buffer>();
    for (const shardId of ['shardId-000000000000', 'shardId-000000000001', 'shardId-000000000002']) {
      const it = await client.send(new GetShardIteratorCommand({ StreamName: stream, ShardId: shardId, ShardIteratorType: 'TRIM_HORIZON' }));
      const got = await client.send(new GetRecordsCommand({ ShardIterator: it.ShardIterator }));
      for (const r of got.Records ?? []) seen.set(r.SequenceNumber!, Buffer.from(r.Data!));
      expect(got.NextShardIterator).toBeDefined();
      expect(got.MillisBehindLatest).toBe(0);
    }
    expect(seen.size).toBe(51);
    put.Records!.forEach((r, i) => expect(seen.get(r.SequenceNumber!)).toEqual(payloads[i]));
    expect(seen.get(single.SequenceNumber!)).toEqual(Buffer.from([0, 1, 2, 255]));
  });

  test('delete, then not found', async () => {
    await client.send(new DeleteStreamCommand({ StreamName: stream }));
    await expect(client.send(new DescribeStreamCommand({ StreamName: stream }))).rejects.toBeInstanceOf(ResourceNotFoundException);
    await expect(
      client.send(new PutRecordCommand({ StreamName: stream, PartitionKey: 'a', Data: Buffer.from('x') })),
    ).rejects.toBeInstanceOf(ResourceNotFoundException);
  });
});
