// `shardline dev -f` runs AnalyticsApp manifests as the operator would: a
// `shardline analytics --config <file>` child process with the operator's
// config, writing to a DataStream and to a DeliveryStream of the same
// manifests (delivered to dev's local S3). Bad SQL stops dev with the reason.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { KinesisClient } from '@aws-sdk/client-kinesis';
import { S3Client, ListObjectsV2Command, GetObjectCommand } from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { freePort, waitForPort } from '../harness/ports.js';
import { TEST_CREDENTIALS } from '../harness/runtime.js';
import { putJson, readAll, waitFor } from '../analytics/helpers.js';

const devs: ChildProcess[] = [];
const dirs: string[] = [];

afterAll(async () => {
  for (const d of devs) {
    if (d.exitCode !== null || d.signalCode !== null) continue;
    const gone = new Promise((r) => d.once('exit', r));
    d.kill('SIGTERM');
    await gone;
  }
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

async function startDev(manifest: string) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shardline-dev-apps-'));
  dirs.push(dir);
  const file = path.join(dir, 'app.yaml');
  fs.writeFileSync(file, manifest);
  const [apiPort, natsPort, s3Port] = [await freePort(), await freePort(), await freePort()];
  const dev = spawn(process.execPath, [path.resolve('dist/runtime/cli.js'), 'dev', '--data-dir', path.join(dir, 'data'), '--nats-port', String(natsPort), '--port', String(apiPort), '-f', file], {
    env: { ...process.env, SHARDLINE_DEV_S3_PORT: String(s3Port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  devs.push(dev);
  let out = '';
  dev.stdout!.on('data', (d) => (out += d));
  dev.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((r) => dev.once('exit', (code) => r(code)));
  return { dev, dir, apiPort, s3Port, natsPort, out: () => out, exited };
}

const doc = (kind: string, name: string, spec: unknown) => `apiVersion: shardline.dev/v1alpha1\nkind: ${kind}\nmetadata: { name: ${name} }\nspec: ${JSON.stringify(spec)}\n`;

const app = (sql: string) => doc('AnalyticsApp', 'orders-split', {
  sql,
  inputs: [{ name: 'SOURCE_SQL_STREAM_001', dataStreamRef: { name: 'orders' }, format: 'JSON', startingPosition: 'TRIM_HORIZON', columns: [{ name: 'ITEM', sqlType: 'VARCHAR(16)', mapping: '$.item' }, { name: 'QTY', sqlType: 'INTEGER', mapping: '$.qty' }] }],
  outputs: [
    { name: 'BIG', dataStreamRef: { name: 'big-orders' }, format: 'CSV' },
    { name: 'SMALL', deliveryStreamRef: { name: 'small-orders' }, format: 'JSON' },
  ],
});

const SQL = `CREATE OR REPLACE STREAM "BIG" (ITEM VARCHAR(16), QTY INTEGER);
CREATE OR REPLACE PUMP "B" AS INSERT INTO "BIG" SELECT STREAM ITEM, QTY FROM "SOURCE_SQL_STREAM_001" WHERE QTY > 1;
CREATE OR REPLACE STREAM "SMALL" (ITEM VARCHAR(16));
CREATE OR REPLACE PUMP "S" AS INSERT INTO "SMALL" SELECT STREAM ITEM FROM "SOURCE_SQL_STREAM_001" WHERE QTY <= 1;`;

test('dev -f runs an AnalyticsApp manifest: rows in its DataStream output and, through its DeliveryStream output, in the local S3', async () => {
  const d = await startDev([
    doc('DataStream', 'orders', { shards: 2 }), doc('DataStream', 'big-orders', { shards: 1 }),
    doc('DeliveryStream', 'small-orders', { source: { type: 'DirectPut' }, buffering: { intervalSeconds: 0 }, s3: { bucket: 'small', format: 'JSON_LINES' } }),
    app(SQL),
  ].join('---\n'));
  await waitForPort(d.apiPort, 60_000);
  await waitFor('dev summary', async () => d.out().includes('AnalyticsApp orders-split: shardline analytics --config'), 60_000);
  // The operator's command line, with its config (as the ConfigMap holds it) under the data directory.
  const config = JSON.parse(fs.readFileSync(path.join(d.dir, 'data', 'analytics', 'orders-split.json'), 'utf8'));
  expect(config.applicationName).toBe('k8s.dev.orders-split');
  expect(config.application.outputs.map((o: { destination: unknown }) => o.destination)).toEqual([{ kind: 'stream', name: 'big-orders' }, { kind: 'firehose', name: 'small-orders' }]);

  const k = new KinesisClient({ endpoint: `http://127.0.0.1:${d.apiPort}`, region: 'us-east-1', credentials: TEST_CREDENTIALS, maxAttempts: 3, requestHandler: new NodeHttpHandler() });
  const s3 = new S3Client({ endpoint: `http://127.0.0.1:${d.s3Port}`, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' }, requestHandler: new NodeHttpHandler() });
  try {
    const orders = Array.from({ length: 40 }, (_, i) => ({ item: `it${i}`, qty: i % 3 }));
    await putJson(k, 'orders', orders);
    const wantBig = orders.filter((o) => o.qty > 1).map((o) => `${o.item},${o.qty}\n`).sort();
    const wantSmall = orders.filter((o) => o.qty <= 1).map((o) => JSON.stringify({ ITEM: o.item })).sort();
    const big = await waitFor('rows in big-orders', async () => {
      const rows = await readAll(k, 'big-orders');
      return rows.length >= wantBig.length ? rows : undefined;
    }, 60_000);
    expect(big.map((r) => r.data).sort()).toEqual(wantBig);
    let small: string[] = [];
    await waitFor('rows in s3://small', async () => {
      small = [];
      const list = await s3.send(new ListObjectsV2Command({ Bucket: 'small' })).catch(() => ({ Contents: [] }));
      for (const o of list.Contents ?? []) {
        const body = await s3.send(new GetObjectCommand({ Bucket: 'small', Key: o.Key! }));
        small.push(...(await body.Body!.transformToString()).split('\n').filter(Boolean));
      }
      return small.length >= wantSmall.length;
    }, 60_000);
    expect(small.sort()).toEqual(wantSmall);
  } finally {
    k.destroy();
    s3.destroy();
  }
  // Ctrl-C ends the worker with dev.
  const pid = Number(/AnalyticsApp orders-split: worker pid (\d+)/.exec(d.out())![1]);
  d.dev.kill('SIGTERM');
  expect(await d.exited).toBe(0);
  expect(() => process.kill(pid, 0)).toThrow();
}, 150_000);

test('dev -f with an AnalyticsApp whose SQL does not compile stops with InvalidSQL and the engine reason', async () => {
  const d = await startDev([doc('DataStream', 'orders', { shards: 1 }), doc('DataStream', 'big-orders', { shards: 1 }),
    doc('DeliveryStream', 'small-orders', { source: { type: 'DirectPut' }, s3: { bucket: 'small' } }),
    app(SQL.replace('WHERE QTY > 1', 'WHERE NO_SUCH_COLUMN > 1'))].join('---\n'));
  expect(await d.exited).toBe(1);
  expect(d.out()).toMatch(/AnalyticsApp orders-split: InvalidSQL: .*NO_SUCH_COLUMN/is);
}, 90_000);
