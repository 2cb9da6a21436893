// `shardline dev` delivers: it starts an S3 server (s3rver) with its data
// under the dev data directory and a worker per delivery stream, so a record
// put through the Firehose API is listed by `aws s3 ls` against it.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FirehoseClient, CreateDeliveryStreamCommand, DescribeDeliveryStreamCommand, PutRecordBatchCommand } from '@aws-sdk/client-firehose';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { KinesisClient, PutRecordsCommand } from '@aws-sdk/client-kinesis';
import { freePort, waitForPort } from '../harness/ports.js';
import { TEST_CREDENTIALS } from '../harness/runtime.js';

let dev: ChildProcess | undefined;
let dir: string;

afterAll(async () => {
  if (dev && dev.exitCode === null) {
    const gone = new Promise((r) => dev!.once('exit', r));
    dev.kill('SIGTERM');
    await gone;
  }
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

const aws = (home: string, ...args: string[]) => new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
  execFile('/usr/bin/aws', args, {
    env: {
      PATH: process.env.PATH, HOME: home, AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', AWS_DEFAULT_REGION: 'us-east-1',
      AWS_EC2_METADATA_DISABLED: 'true', AWS_PAGER: '', AWS_CONFIG_FILE: path.join(home, 'config'), AWS_SHARED_CREDENTIALS_FILE: path.join(home, 'credentials'),
    },
    timeout: 60_000,
  }, (err, stdout, stderr) => resolve({ code: err ? Number((err as { code?: number }).code ?? -1) : 0, stdout, stderr }));
});

test('shardline dev: Firehose PutRecordBatch → objects in the local S3 server, listed by aws s3 ls, data under the data dir', async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shardline-dev-'));
  const [apiPort, natsPort, s3Port] = [await freePort(), await freePort(), await freePort()];
  const manifest = path.join(dir, 'pipeline.yaml');
  fs.writeFileSync(manifest, [
    'apiVersion: shardline.dev/v1alpha1', 'kind: DataStream', 'metadata: { name: clicks }', 'spec: { shards: 1 }',
    '---', 'apiVersion: shardline.dev/v1alpha1', 'kind: DeliveryStream', 'metadata: { name: clicks-archive }',
    'spec: { source: { dataStreamRef: { name: clicks }, startingPosition: TRIM_HORIZON }, buffering: { intervalSeconds: 0 }, s3: { bucket: clicks, format: JSON_LINES } }',
  ].join('\n') + '\n');
  dev = spawn(process.execPath, [path.resolve('dist/runtime/cli.js'), 'dev', '--data-dir', path.join(dir, 'data'), '--nats-port', String(natsPort), '-f', manifest], {
    env: { ...process.env, SHARDLINE_PORT: String(apiPort), SHARDLINE_DEV_S3_PORT: String(s3Port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  dev.stdout!.on('data', (d) => (out += d));
  dev.stderr!.on('data', (d) => (out += d));
  await waitForPort(apiPort, 30_000);
  await waitForPort(s3Port, 30_000);
  const fh = new FirehoseClient({ endpoint: `http://127.0.0.1:${apiPort}`, region: 'us-east-1', credentials: TEST_CREDENTIALS, maxAttempts: 1, requestHandler: new NodeHttpHandler() });
  try {
    await fh.send(new CreateDeliveryStreamCommand({
      DeliveryStreamName: 'local',
      ExtendedS3DestinationConfiguration: {
        RoleARN: 'arn:aws:iam::000000000000:role/x', BucketARN: 'arn:aws:s3:::dev-lake', BufferingHints: { SizeInMBs: 1, IntervalInSeconds: 0 },
        ProcessingConfiguration: { Enabled: true, Processors: [{ Type: 'AppendDelimiterToRecord' }] },
      },
    }));
    for (;;) {
      const d = await fh.send(new DescribeDeliveryStreamCommand({ DeliveryStreamName: 'local' }));
      if (d.DeliveryStreamDescription!.DeliveryStreamStatus === 'ACTIVE') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const out1 = await fh.send(new PutRecordBatchCommand({ DeliveryStreamName: 'local', Records: ['one', 'two', 'three'].map((s) => ({ Data: Buffer.from(s) })) }));
    expect(out1.FailedPutCount).toBe(0);
    const home = path.join(dir, 'home');
    fs.mkdirSync(home);
    let listing = '';
    for (let i = 0; i < 60 && !listing.includes('local-1-'); i++) {
      listing = (await aws(home, '--endpoint-url', `http://127.0.0.1:${s3Port}`, 's3', 'ls', '--recursive', 's3://dev-lake/')).stdout;
      if (!listing.includes('local-1-')) await new Promise((r) => setTimeout(r, 500));
    }
    const key = listing.trim().split(/\s+/).pop()!;
    expect(key).toMatch(/^\d{4}\/\d{2}\/\d{2}\/\d{2}\/local-1-[\d-]{19}-[0-9a-f-]{36}$/);
    const got = await aws(home, '--endpoint-url', `http://127.0.0.1:${s3Port}`, 's3', 'cp', `s3://dev-lake/${key}`, '-');
    expect(got.stdout).toBe('one\ntwo\nthree\n');
    expect(fs.existsSync(path.join(dir, 'data', 's3', 'dev-lake'))).toBe(true);
    expect(out).toContain(`aws --endpoint-url http://127.0.0.1:${s3Port} s3 ls`);

    // A DeliveryStream manifest (`dev -f`) delivers its DataStream the same way.
    const kinesis = new KinesisClient({ endpoint: `http://127.0.0.1:${apiPort}`, region: 'us-east-1', credentials: TEST_CREDENTIALS, maxAttempts: 1, requestHandler: new NodeHttpHandler() });
    try {
      await kinesis.send(new PutRecordsCommand({ StreamName: 'clicks', Records: ['{"c":1}', '{"c":2}'].map((d, i) => ({ Data: Buffer.from(d), PartitionKey: `p${i}` })) }));
    } finally {
      kinesis.destroy();
    }
    let clicks = '';
    for (let i = 0; i < 60 && !clicks.includes('clicks-archive-1-'); i++) {
      clicks = (await aws(home, '--endpoint-url', `http://127.0.0.1:${s3Port}`, 's3', 'ls', '--recursive', 's3://clicks/')).stdout;
      if (!clicks.includes('clicks-archive-1-')) await new Promise((r) => setTimeout(r, 500));
    }
    const clickKey = clicks.trim().split(/\s+/).pop()!;
    expect((await aws(home, '--endpoint-url', `http://127.0.0.1:${s3Port}`, 's3', 'cp', `s3://clicks/${clickKey}`, '-')).stdout).toBe('{"c":1}\n{"c":2}\n');
  } finally {
    fh.destroy();
  }
}, 120_000);

test('shardline dev refuses a DeliveryStream manifest whose HTTP endpoint key is a Kubernetes Secret (it would otherwise send no key)', async () => {
  const own = fs.mkdtempSync(path.join(os.tmpdir(), 'shardline-dev-key-'));
  try {
    const [apiPort, natsPort, s3Port] = [await freePort(), await freePort(), await freePort()];
    const manifest = path.join(own, 'hook.yaml');
    fs.writeFileSync(manifest, [
      'apiVersion: shardline.dev/v1alpha1', 'kind: DeliveryStream', 'metadata: { name: hook }',
      'spec: { source: { type: DirectPut }, s3: { bucket: backup }, http: { url: "https://collector.example.com/in", accessKeySecretRef: { name: collector, key: token } } }',
    ].join('\n') + '\n');
    const p = spawn(process.execPath, [path.resolve('dist/runtime/cli.js'), 'dev', '--data-dir', path.join(own, 'data'), '--nats-port', String(natsPort), '-f', manifest], {
      env: { ...process.env, SHARDLINE_PORT: String(apiPort), SHARDLINE_DEV_S3_PORT: String(s3Port) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    p.stdout!.on('data', (d) => (out += d));
    p.stderr!.on('data', (d) => (out += d));
    const code = await new Promise<number | null>((r) => p.once('exit', (c) => r(c)));
    expect(code).toBe(1);
    expect(out).toContain('DeliveryStream hook');
    expect(out).toContain('spec.http.accessKeySecretRef names a Kubernetes Secret, which dev cannot read');
  } finally {
    fs.rmSync(own, { recursive: true, force: true });
  }
}, 60_000);
