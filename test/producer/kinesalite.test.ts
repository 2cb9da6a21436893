// The same producer code against another Kinesis implementation (kinesalite, in memory): plain and
// aggregated records land where put() says, and read back de-aggregated.
import { createRequire } from 'node:module';
import { CreateStreamCommand, DescribeStreamSummaryCommand, KinesisClient } from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { Producer, deaggregate } from '../../producer/index.js';
import { freePort } from '../harness/ports.js';
import { TEST_CREDENTIALS } from '../harness/runtime.js';
import { readStream, until } from '../runtime/records.helpers.js';

const require = createRequire(import.meta.url);
const kinesalite = require('kinesalite') as (opts: Record<string, unknown>) => {
  listen(port: number, host: string, cb: () => void): void;
  close(cb: (err?: Error) => void): void;
};

let server: ReturnType<typeof kinesalite>;
let client: KinesisClient;

beforeAll(async () => {
  const port = await freePort();
  server = kinesalite({ createStreamMs: 0, deleteStreamMs: 0, updateStreamMs: 0 });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
  client = new KinesisClient({
    endpoint: `http://127.0.0.1:${port}`,
    region: 'us-east-1',
    credentials: TEST_CREDENTIALS,
    requestHandler: new NodeHttpHandler(),
  });
  await client.send(new CreateStreamCommand({ StreamName: 'kl', ShardCount: 3 }));
  await until('kl ACTIVE', async () => (await client.send(new DescribeStreamSummaryCommand({ StreamName: 'kl' }))).StreamDescriptionSummary?.StreamStatus === 'ACTIVE');
});
afterAll(async () => {
  client?.destroy();
  await new Promise<void>((r) => server?.close(() => r()));
});

test.each([false, true])('kinesalite stores what the producer puts (aggregation %s)', async (aggregation) => {
  const before = new Set([...(await readStream(client, 'kl')).values()].flat().map((r) => r.SequenceNumber));
  const producer = new Producer({ client, streamName: 'kl', aggregation });
  const recs = Array.from({ length: 700 }, (_, i) => ({ partitionKey: `pk-${i % 23}`, data: `agg=${aggregation} #${i}` }));
  const results = await Promise.all(recs.map((r) => producer.put(r)));
  await producer.close();
  expect(producer.stats()).toMatchObject({ succeeded: 700, failed: 0, throttled: 0 });

  const users = new Map<string, { partitionKey: string; data: string }>();
  for (const [shardId, stored] of await readStream(client, 'kl')) {
    for (const r of stored) {
      if (before.has(r.SequenceNumber)) continue;
      const inner = deaggregate(r.Data!);
      if (aggregation) expect(inner).toBeDefined();
      if (!inner) users.set(`${shardId}/${r.SequenceNumber}`, { partitionKey: r.PartitionKey!, data: Buffer.from(r.Data!).toString() });
      else inner.forEach((u, k) => users.set(`${shardId}/${r.SequenceNumber}/${k}`, { partitionKey: u.partitionKey, data: u.data.toString() }));
    }
  }
  expect(users.size).toBe(700);
  results.forEach((res, i) => {
    const key = `${res.shardId}/${res.sequenceNumber}${res.subSequenceNumber === undefined ? '' : `/${res.subSequenceNumber}`}`;
    expect(users.get(key)).toEqual({ partitionKey: recs[i]!.partitionKey, data: recs[i]!.data });
  });
  if (aggregation) expect(producer.stats().entries).toBeLessThan(20);
});
