// The runtime with credentials configured verifies SigV4 on every request.
import { ListStreamsCommand, KinesisClient } from '@aws-sdk/client-kinesis';
import { startNats, type NatsServers } from '../harness/nats.js';
import { startInProcess, TEST_CREDENTIALS } from '../harness/runtime.js';
import type { RunningRuntime } from '../../runtime/server.js';

let nats: NatsServers;
let rt: RunningRuntime & { endpoint: string };

beforeAll(async () => {
  nats = await startNats();
  rt = await startInProcess(nats.url, { credentials: `${TEST_CREDENTIALS.accessKeyId}:${TEST_CREDENTIALS.secretAccessKey}` });
});
afterAll(async () => {
  await rt?.close();
  await nats?.stop();
});

const client = (accessKeyId: string, secretAccessKey: string) =>
  new KinesisClient({ endpoint: rt.endpoint, region: 'us-east-1', credentials: { accessKeyId, secretAccessKey }, maxAttempts: 1 });

test('known key with the right secret is served', async () => {
  const c = client(TEST_CREDENTIALS.accessKeyId, TEST_CREDENTIALS.secretAccessKey);
  await expect(c.send(new ListStreamsCommand({}))).resolves.toMatchObject({ StreamNames: [] });
  c.destroy();
});

test('wrong secret → InvalidSignatureException, unknown key → UnrecognizedClientException', async () => {
  const wrong = client(TEST_CREDENTIALS.accessKeyId, 'not-the-secret');
  await expect(wrong.send(new ListStreamsCommand({}))).rejects.toMatchObject({ name: 'InvalidSignatureException', $metadata: { httpStatusCode: 400 } });
  wrong.destroy();
  const unknown = client('AKIDUNKNOWN', 'x');
  await expect(unknown.send(new ListStreamsCommand({}))).rejects.toMatchObject({ name: 'UnrecognizedClientException' });
  unknown.destroy();
});

test('unsigned request → MissingAuthenticationTokenException', async () => {
  const res = await fetch(rt.endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'Kinesis_20131202.ListStreams' },
    body: '{}',
  });
  expect(res.status).toBe(400);
  expect(res.headers.get('x-amzn-requestid')).toBeTruthy();
  expect(await res.json()).toEqual({ __type: 'MissingAuthenticationTokenException', message: 'Missing Authentication Token' });
});
