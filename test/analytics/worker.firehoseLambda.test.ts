// KinesisFirehoseOutput and LambdaOutput, end to end with real processes: a
// `shardline analytics` worker writes one in-application stream into a Direct
// PUT delivery stream, whose real `shardline delivery` worker puts it in S3
// (s3rver), and another into an HTTP function speaking KDA's Lambda output
// contract (ARN mapped to its URL in the worker config) that answers
// DeliveryFailed once. Oracles: the input records as read back, filtered and
// formatted here. Then exactly-once into a delivery stream: a worker killed
// between the two messages of an emit, and the next one finishing it.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { FirehoseClient, CreateDeliveryStreamCommand, DescribeDeliveryStreamCommand } from '@aws-sdk/client-firehose';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { KinesisClient } from '@aws-sdk/client-kinesis';
import { startNats, type NatsServers } from '../harness/nats.js';
import { startInProcess, sdkClient, TEST_CREDENTIALS } from '../harness/runtime.js';
import { startS3, type S3Server } from '../harness/s3.js';
import { startDeliveryProcess, writeConfig, type DeliveryProcess } from '../harness/delivery.js';
import type { RunningRuntime } from '../../runtime/server.js';
import { createStream, putJson, readAll, startWorker, waitFor, type WorkerProcess } from './helpers.js';

const BUCKET = 'kda-out';
const FUNCTION_ARN = 'arn:aws:lambda:us-east-1:000000000000:function:kda-sink';

let nats: NatsServers;
let rt: RunningRuntime & { endpoint: string };
let s3: S3Server;
let fh: FirehoseClient;
let k: KinesisClient;
let fn: http.Server;
const invocations: { body: Record<string, unknown>; raw: string }[] = [];
const accepted: { recordId: string; data: string }[] = [];
const failedOnce = new Set<string>();
const procs: (WorkerProcess | DeliveryProcess)[] = [];

beforeAll(async () => {
  nats = await startNats();
  rt = await startInProcess(nats.url);
  s3 = await startS3();
  await s3.createBucket(BUCKET);
  fh = new FirehoseClient({ endpoint: rt.endpoint, region: 'us-east-1', credentials: TEST_CREDENTIALS, maxAttempts: 1, requestHandler: new NodeHttpHandler() });
  k = sdkClient(rt.endpoint, { http1: true });
  // The function: the first record of every invocation that has not failed before is answered DeliveryFailed.
  fn = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (d) => (raw += d));
    req.on('end', () => {
      const body = JSON.parse(raw) as { records: { recordId: string; data: string }[] };
      invocations.push({ body, raw });
      const out = body.records.map((r, i) => {
        if (i === 0 && !failedOnce.has(r.recordId)) {
          failedOnce.add(r.recordId);
          return { recordId: r.recordId, result: 'DeliveryFailed' };
        }
        accepted.push({ recordId: r.recordId, data: Buffer.from(r.data, 'base64').toString('utf8') });
        return { recordId: r.recordId, result: 'Ok' };
      });
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ records: out }));
    });
  });
  await new Promise<void>((r) => fn.listen(0, '127.0.0.1', r));
});

afterAll(async () => {
  for (const p of procs) await p.kill();
  fn?.close();
  fh?.destroy();
  k?.destroy();
  await rt?.close();
  await s3?.stop();
  await nats?.stop();
});

test('rows reach S3 through a delivery stream and a Lambda-contract function, DeliveryFailed retried', async () => {
  await createStream(k, 'trades', 2);
  await fh.send(new CreateDeliveryStreamCommand({
    DeliveryStreamName: 'big-trades', DeliveryStreamType: 'DirectPut',
    ExtendedS3DestinationConfiguration: {
      RoleARN: 'arn:aws:iam::000000000000:role/firehose', BucketARN: `arn:aws:s3:::${BUCKET}`, Prefix: 'big/',
      BufferingHints: { SizeInMBs: 1, IntervalInSeconds: 0 },
      ProcessingConfiguration: { Enabled: true, Processors: [{ Type: 'AppendDelimiterToRecord', Parameters: [] }] },
    },
  }));
  await waitFor('delivery stream ACTIVE', async () =>
    (await fh.send(new DescribeDeliveryStreamCommand({ DeliveryStreamName: 'big-trades' }))).DeliveryStreamDescription!.DeliveryStreamStatus === 'ACTIVE');
  const dlv = startDeliveryProcess(['delivery', '--config', writeConfig({ deliveryStreamName: 'big-trades', s3: { endpoint: s3.endpoint } })], { SHARDLINE_NATS_URL: nats.url });
  procs.push(dlv);

  const docs = Array.from({ length: 300 }, (_, i) => ({ sym: `S${i % 7}`, qty: (i * 37) % 100, seq: i }));
  await putJson(k, 'trades', docs);
  const url = `http://127.0.0.1:${(fn.address() as AddressInfo).port}/invoke`;
  const w = startWorker({
    applicationName: 'trades-app', natsUrl: nats.url, startingPosition: 'TRIM_HORIZON', leaseMs: 600, idleWatermarkLagMs: 300, checkpointIntervalMs: 250,
    functions: { [FUNCTION_ARN]: url },
    application: {
      name: 'trades-app',
      code: `CREATE OR REPLACE STREAM "BIG" (SYM VARCHAR(4), QTY INTEGER, SEQ INTEGER);
CREATE OR REPLACE PUMP "BIG_PUMP" AS INSERT INTO "BIG" SELECT STREAM SYM, QTY, SEQ FROM "SOURCE_SQL_STREAM_001" WHERE QTY >= 50;
CREATE OR REPLACE STREAM "SMALL" (SEQ INTEGER, SYM VARCHAR(4));
CREATE OR REPLACE PUMP "SMALL_PUMP" AS INSERT INTO "SMALL" SELECT STREAM SEQ, SYM FROM "SOURCE_SQL_STREAM_001" WHERE QTY < 50;`,
      inputs: [{
        id: '1.1', namePrefix: 'SOURCE_SQL_STREAM', source: { kind: 'stream', name: 'trades' }, format: { type: 'JSON', rowPath: '$' },
        columns: [{ name: 'SYM', sqlType: 'VARCHAR(4)', mapping: '$.sym' }, { name: 'QTY', sqlType: 'INTEGER', mapping: '$.qty' }, { name: 'SEQ', sqlType: 'INTEGER', mapping: '$.seq' }],
      }],
      outputs: [
        { id: '1.1', name: 'BIG', destination: { kind: 'firehose', name: 'big-trades' }, format: 'JSON' },
        { id: '2.1', name: 'SMALL', destination: { kind: 'lambda', arn: FUNCTION_ARN }, format: 'CSV' },
      ],
    },
  });
  procs.push(w);

  const stored = (await readAll(k, 'trades')).map((r) => JSON.parse(r.data) as { sym: string; qty: number; seq: number });
  expect(stored).toHaveLength(docs.length);
  const wantBig = stored.filter((d) => d.qty >= 50).map((d) => JSON.stringify({ SYM: d.sym, QTY: d.qty, SEQ: d.seq })).sort();
  const wantSmall = stored.filter((d) => d.qty < 50).map((d) => `${d.seq},${d.sym}\n`).sort();

  // Delivery stream → delivery worker → S3: every row once, as KDA's JSON (one object per record).
  let inS3: string[] = [];
  await waitFor(`rows in S3 (${inS3.length})`, async () => {
    inS3 = [];
    for (const key of await s3.list(BUCKET, 'big/')) inS3.push(...(await s3.get(BUCKET, key)).toString('utf8').split('\n').filter(Boolean));
    return inS3.length >= wantBig.length;
  }, 60_000);
  expect(inS3.sort()).toEqual(wantBig);

  // Function: every row accepted exactly once, as CSV lines; the KDA request shape byte for byte.
  await waitFor('rows accepted by the function', async () => accepted.length >= wantSmall.length, 60_000);
  expect(accepted.map((a) => a.data).sort()).toEqual(wantSmall);
  expect(new Set(accepted.map((a) => a.recordId)).size).toBe(accepted.length);
  const first = invocations[0]!;
  expect(Object.keys(first.body)).toEqual(['invocationId', 'applicationArn', 'records']);
  expect(first.body.applicationArn).toBe('arn:aws:kinesisanalytics:us-east-1:000000000000:application/trades-app');
  expect(first.body.invocationId).toMatch(/^[0-9a-f-]{36}$/);
  const rec0 = (first.body.records as Record<string, unknown>[])[0]!;
  expect(Object.keys(rec0)).toEqual(['recordId', 'lambdaDeliveryRecordMetadata', 'data']);
  expect(rec0.lambdaDeliveryRecordMetadata).toEqual({ retryHint: 0 });
  // Each DeliveryFailed record came again, same recordId, retryHint 1, in a later invocation.
  expect(failedOnce.size).toBeGreaterThan(0);
  for (const id of failedOnce) {
    const sends = invocations.flatMap((inv) => (inv.body.records as { recordId: string; lambdaDeliveryRecordMetadata: { retryHint: number } }[]).filter((r) => r.recordId === id));
    expect(sends.map((s) => s.lambdaDeliveryRecordMetadata.retryHint)).toEqual([0, 1]);
    expect(accepted.some((a) => a.recordId === id)).toBe(true);
  }

  // Nothing more arrives later (no duplicate emits into the delivery stream).
  await new Promise((r) => setTimeout(r, 1500));
  const again: string[] = [];
  for (const key of await s3.list(BUCKET, 'big/')) again.push(...(await s3.get(BUCKET, key)).toString('utf8').split('\n').filter(Boolean));
  expect(again.length).toBe(wantBig.length);
  expect(accepted.length).toBe(wantSmall.length);
}, 120_000);

test('delivery stream output: a worker killed mid-emit, the next finishes it; every row in S3 once', async () => {
  await createStream(k, 'eo-in', 1);
  await fh.send(new CreateDeliveryStreamCommand({
    DeliveryStreamName: 'eo-archive', DeliveryStreamType: 'DirectPut',
    ExtendedS3DestinationConfiguration: {
      RoleARN: 'arn:aws:iam::000000000000:role/firehose', BucketARN: `arn:aws:s3:::${BUCKET}`, Prefix: 'eo/',
      BufferingHints: { SizeInMBs: 1, IntervalInSeconds: 0 },
      ProcessingConfiguration: { Enabled: true, Processors: [{ Type: 'AppendDelimiterToRecord', Parameters: [] }] },
    },
  }));
  await waitFor('delivery stream ACTIVE', async () =>
    (await fh.send(new DescribeDeliveryStreamCommand({ DeliveryStreamName: 'eo-archive' }))).DeliveryStreamDescription!.DeliveryStreamStatus === 'ACTIVE');
  procs.push(startDeliveryProcess(['delivery', '--config', writeConfig({ deliveryStreamName: 'eo-archive', s3: { endpoint: s3.endpoint } })], { SHARDLINE_NATS_URL: nats.url }));
  const docs = Array.from({ length: 120 }, (_, i) => ({ n: i }));
  await putJson(k, 'eo-in', docs);
  // Two outputs into the same delivery stream: an emit is two messages, so 'mid-emit' dies between them.
  const config = {
    applicationName: 'eo-app', natsUrl: nats.url, startingPosition: 'TRIM_HORIZON', leaseMs: 600, idleWatermarkLagMs: 300, checkpointIntervalMs: 250,
    application: {
      name: 'eo-app',
      code: `CREATE OR REPLACE STREAM "EVEN" (N INTEGER);
CREATE OR REPLACE PUMP "E" AS INSERT INTO "EVEN" SELECT STREAM N FROM "SOURCE_SQL_STREAM_001" WHERE MOD(N, 2) = 0;
CREATE OR REPLACE STREAM "ODD" (N INTEGER, TEN INTEGER);
CREATE OR REPLACE PUMP "O" AS INSERT INTO "ODD" SELECT STREAM N, N * 10 FROM "SOURCE_SQL_STREAM_001" WHERE MOD(N, 2) = 1;`,
      inputs: [{ id: '1.1', namePrefix: 'SOURCE_SQL_STREAM', source: { kind: 'stream', name: 'eo-in' }, format: { type: 'JSON', rowPath: '$' }, columns: [{ name: 'N', sqlType: 'INTEGER', mapping: '$.n' }] }],
      outputs: [
        { id: '1.1', name: 'EVEN', destination: { kind: 'firehose', name: 'eo-archive' }, format: 'JSON' },
        { id: '2.1', name: 'ODD', destination: { kind: 'firehose', name: 'eo-archive' }, format: 'CSV' },
      ],
    },
  };
  const first = startWorker(config, { SHARDLINE_TEST_CRASH_AT: 'mid-emit' });
  procs.push(first);
  await waitFor('the first worker to die mid-emit', async () => first.proc.exitCode !== null || first.proc.signalCode !== null, 30_000).catch((e) => { throw new Error(`${(e as Error).message}: ${first.logs()}`); });
  expect(first.proc.signalCode).toBe('SIGKILL');
  procs.push(startWorker(config));
  const want = [
    ...docs.filter((d) => d.n % 2 === 0).map((d) => JSON.stringify({ N: d.n })),
    ...docs.filter((d) => d.n % 2 === 1).map((d) => `${d.n},${d.n * 10}`),
  ].sort();
  let got: string[] = [];
  await waitFor('every row in S3', async () => {
    got = [];
    for (const key of await s3.list(BUCKET, 'eo/')) got.push(...(await s3.get(BUCKET, key)).toString('utf8').split('\n').filter(Boolean));
    return got.length >= want.length;
  }, 60_000);
  await new Promise((r) => setTimeout(r, 1500));
  got = [];
  for (const key of await s3.list(BUCKET, 'eo/')) got.push(...(await s3.get(BUCKET, key)).toString('utf8').split('\n').filter(Boolean));
  expect(got.sort()).toEqual(want);
}, 120_000);
