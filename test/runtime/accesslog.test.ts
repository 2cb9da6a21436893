// One access-log line per request (issue 12, operability): a client's error
// carries x-amzn-RequestId, and the server's line for it has the same id, the
// operation, stream, status, error type, latency and the caller's access key.
// `accessLog: false` (--access-log false) turns the lines off.
import { CreateStreamCommand, DescribeStreamSummaryCommand, KinesisClient, PutRecordCommand } from '@aws-sdk/client-kinesis';
import { startNats, type NatsServers } from '../harness/nats.js';
import { TEST_CREDENTIALS } from '../harness/runtime.js';
import { runtimeConfig } from '../../runtime/config.js';
import { startRuntime, type RunningRuntime } from '../../runtime/server.js';

let nats: NatsServers;
const started: RunningRuntime[] = [];

beforeAll(async () => {
  nats = await startNats();
});
afterAll(async () => {
  for (const r of started) await r.close();
  await nats?.stop();
});

async function runtimeWithLog(accessLog: boolean): Promise<{ client: KinesisClient; lines: () => Record<string, any>[] }> {
  const raw: string[] = [];
  const config = {
    ...runtimeConfig([]),
    natsUrl: nats.url,
    port: 0,
    host: '127.0.0.1',
    accessLog,
    credentials: `${TEST_CREDENTIALS.accessKeyId}:${TEST_CREDENTIALS.secretAccessKey}`,
  };
  const rt = await startRuntime(config, (l) => raw.push(l));
  started.push(rt);
  const client = new KinesisClient({ endpoint: `http://127.0.0.1:${rt.port}`, region: 'us-east-1', credentials: TEST_CREDENTIALS, maxAttempts: 1 });
  return { client, lines: () => raw.map((l) => JSON.parse(l)).filter((l) => l.log === 'access') };
}

async function until<T>(f: () => T | undefined, ms = 5000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error('no such log line');
    await new Promise((r) => setTimeout(r, 20));
  }
}

test("a client's error and success match the server's access-log lines by request id", async () => {
  const { client, lines } = await runtimeWithLog(true);
  const err = await client.send(new DescribeStreamSummaryCommand({ StreamName: 'nope' })).catch((e) => e);
  expect(err.name).toBe('ResourceNotFoundException');
  const errId = err.$metadata.requestId as string;
  expect(errId).toMatch(/^[0-9a-f-]{36}$/);
  const errLine = await until(() => lines().find((l) => l.requestId === errId));
  expect(errLine).toMatchObject({
    level: 'info',
    component: 'runtime',
    msg: 'request',
    operation: 'DescribeStreamSummary',
    stream: 'nope',
    status: 400,
    errorType: 'ResourceNotFoundException',
    accessKeyId: TEST_CREDENTIALS.accessKeyId,
  });
  expect(errLine.latencyMs).toBeGreaterThan(0);

  await client.send(new CreateStreamCommand({ StreamName: 'logged', ShardCount: 1 }));
  const ok = await client.send(new PutRecordCommand({ StreamName: 'logged', PartitionKey: 'k', Data: Buffer.from('x') }));
  const okLine = await until(() => lines().find((l) => l.requestId === ok.$metadata.requestId));
  expect(okLine).toMatchObject({ operation: 'PutRecord', stream: 'logged', status: 200, accessKeyId: TEST_CREDENTIALS.accessKeyId });
  expect(okLine.errorType).toBeUndefined();
  // Exactly one line per request.
  expect(lines().filter((l) => l.requestId === ok.$metadata.requestId)).toHaveLength(1);
  client.destroy();
});

test('accessLog false: no access lines', async () => {
  const { client, lines } = await runtimeWithLog(false);
  await client.send(new DescribeStreamSummaryCommand({ StreamName: 'nope' })).catch(() => undefined);
  await new Promise((r) => setTimeout(r, 200));
  expect(lines()).toHaveLength(0);
  client.destroy();
});
