// A write that storage refuses for a reason the write path has no answer for
// reaches the client only as an ErrorCode; the runtime's log must say why, in
// one line naming the stream, the shard and the cause. The refusal here is
// real: the shard's JetStream stream is limited to one message (discard new),
// so JetStream answers the second write with "maximum messages exceeded".
import { CreateStreamCommand, DescribeStreamSummaryCommand, PutRecordCommand, PutRecordsCommand, type KinesisClient } from '@aws-sdk/client-kinesis';
import type { StreamUpdateConfig } from 'nats';
import { startNats, type NatsServers } from '../harness/nats.js';
import { sdkClient } from '../harness/runtime.js';
import { runtimeConfig } from '../../runtime/config.js';
import { startRuntime, type RunningRuntime } from '../../runtime/server.js';
import { jsStreamName } from '../../stream/names.js';
import { getStream } from '../../stream/streams.js';
import { until } from './records.helpers.js';

let nats: NatsServers;
let rt: RunningRuntime;
let client: KinesisClient;
const lines: string[] = [];

beforeAll(async () => {
  nats = await startNats();
  rt = await startRuntime({ ...runtimeConfig([]), natsUrl: nats.url, port: 0, host: '127.0.0.1' }, (m) => lines.push(m));
  client = sdkClient(`http://127.0.0.1:${rt.port}`, { http1: true });
}, 60_000);
afterAll(async () => {
  client?.destroy();
  await rt?.close();
  await nats?.stop();
});

test('a storage refusal is answered retryably and logged once with stream, shard and cause', async () => {
  await client.send(new CreateStreamCommand({ StreamName: 'full', ShardCount: 1 }));
  await until('ACTIVE', async () => (await client.send(new DescribeStreamSummaryCommand({ StreamName: 'full' }))).StreamDescriptionSummary!.StreamStatus === 'ACTIVE');
  const rec = (await getStream(rt.ctx.store, 'full'))!;
  const js = jsStreamName(rec.uid, 0);
  const cfg = (await rt.ctx.store.jsm.streams.info(js)).config;
  await rt.ctx.store.jsm.streams.update(js, { ...cfg, max_msgs: 1, discard: 'new' } as StreamUpdateConfig);

  await client.send(new PutRecordCommand({ StreamName: 'full', PartitionKey: 'a', Data: Buffer.from('first') }));
  const r = await client.send(new PutRecordsCommand({ StreamName: 'full', Records: [{ PartitionKey: 'a', Data: Buffer.from('second') }, { PartitionKey: 'b', Data: Buffer.from('third') }] }));
  expect(r.FailedRecordCount).toBe(2);
  expect(r.Records!.map((e) => e.ErrorCode)).toEqual(['InternalFailure', 'InternalFailure']);
  // PutRecord: a retryable 503 the SDK's retry strategy recognises, not a 500.
  await expect(client.send(new PutRecordCommand({ StreamName: 'full', PartitionKey: 'a', Data: Buffer.from('fourth') }))).rejects.toMatchObject({
    name: 'ServiceUnavailable',
    $metadata: { httpStatusCode: 503 },
  });

  // The runtime logs JSON lines (common/log.ts); the message is `msg`.
  const put = lines.map((l) => JSON.parse(l).msg as string).filter((m) => m.startsWith('put: '));
  expect(put[0]).toBe('put: 2 records for full/shardId-000000000000 failed: PublishError: JetStream: maximum messages exceeded');
  // The identical failure a moment later is folded into the next line for that cause, not logged again.
  expect(put).toHaveLength(1);
});
