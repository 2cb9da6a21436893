// GetRecords racing DeleteStream (issue 12, the fuzz suite's one-off 500):
// an iterator read while the stream is being deleted found the record still
// cached but its JetStream shard streams gone, and the storage's "stream not
// found" became 500 InternalFailure. Kinesis answers ResourceNotFoundException.
// Real runtime on a real nats-server; the AWS SDK's own error names.
import { CreateStreamCommand, DeleteStreamCommand, GetRecordsCommand, GetShardIteratorCommand, PutRecordCommand } from '@aws-sdk/client-kinesis';
import { startNats, type NatsServers } from '../harness/nats.js';
import { sdkClient, startInProcess } from '../harness/runtime.js';
import type { RunningRuntime } from '../../runtime/server.js';

let nats: NatsServers;
let rt: RunningRuntime & { endpoint: string };
beforeAll(async () => {
  nats = await startNats();
  rt = await startInProcess(nats.url, {});
});
afterAll(async () => {
  await rt?.close();
  await nats?.stop();
});

test('GetRecords during and after DeleteStream: records or ResourceNotFoundException, never a 5xx', async () => {
  const c = sdkClient(rt.endpoint, { http1: true });
  const answers = new Map<string, number>();
  for (let round = 0; round < 5; round++) {
    const name = `gone${round}`;
    await c.send(new CreateStreamCommand({ StreamName: name, ShardCount: 1 }));
    await c.send(new PutRecordCommand({ StreamName: name, PartitionKey: 'k', Data: Buffer.from('x') }));
    const it = (await c.send(new GetShardIteratorCommand({ StreamName: name, ShardId: 'shardId-000000000000', ShardIteratorType: 'TRIM_HORIZON' }))).ShardIterator;
    // Readers in flight while the stream goes.
    const reads = Array.from({ length: 8 }, async (_, i) => {
      await new Promise((r) => setTimeout(r, i * 3));
      try {
        await c.send(new GetRecordsCommand({ ShardIterator: it }));
        return 'ok';
      } catch (e) {
        const err = e as { name: string; $metadata?: { httpStatusCode?: number } };
        return `${err.$metadata?.httpStatusCode ?? '?'} ${err.name}`;
      }
    });
    await c.send(new DeleteStreamCommand({ StreamName: name }));
    for (const a of await Promise.all(reads)) answers.set(a, (answers.get(a) ?? 0) + 1);
    // After DeleteStream has answered (and the shard's read budget has refilled): the stream is gone.
    // The racing reads above may all land before the delete; this one never does.
    await new Promise((r) => setTimeout(r, 1100));
    const after = await c.send(new GetRecordsCommand({ ShardIterator: it })).then(() => 'ok', (e: { name: string; $metadata?: { httpStatusCode?: number } }) => `${e.$metadata?.httpStatusCode ?? '?'} ${e.name}`);
    expect(after).toBe('400 ResourceNotFoundException');
  }
  c.destroy();
  const kinds = [...answers.keys()];
  // (Eight reads at once exceed the shard's 5 reads a second: throttling is a fine answer too.)
  expect(kinds.filter((k) => !['ok', '400 ResourceNotFoundException', '400 ProvisionedThroughputExceededException'].includes(k))).toEqual([]);
}, 120_000);
