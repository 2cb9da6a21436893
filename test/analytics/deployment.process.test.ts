// The AnalyticsApp Deployment's own command line and environment, from the
// operator's model, started as real processes (only the ConfigMap mount path is
// swapped for a temporary file): two replicas, one holds the application, the
// other takes over when it is SIGKILLed; every window reaches the output
// DataStream once, equal to an oracle over the input read back. Then an
// AnalyticsApp with spec.outputs[].lambda: rows reach a real HTTP function as
// KDA's LambdaOutput sends them (CSV and JSON lines, base64), by ARN and by URL.
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { AnalyticsAppSpec } from '../../crds/index.js';
import { analyticsChildren } from '../../operator/model/workers.js';
import { startStack, type Stack } from '../harness/runtime.js';
import { createStream, putJson, readAll, sleep, spawnWorker, waitFor, type WorkerProcess } from './helpers.js';

let stack: Stack;
const workers: WorkerProcess[] = [];
let fn: http.Server | undefined;

beforeAll(async () => {
  stack = await startStack(1);
});

afterAll(async () => {
  for (const w of workers) await w.kill();
  fn?.close();
  await stack?.stop();
});

/** The Deployment's command line and environment for an AnalyticsApp, the ConfigMap written to a temporary directory. */
function deploymentProcess(kids: ReturnType<typeof analyticsChildren>) {
  const container = (kids.deployment as any).spec.template.spec.containers[0];
  const mount = container.volumeMounts.find((m: any) => m.name === 'config').mountPath;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'analytics-cm-'));
  fs.writeFileSync(path.join(dir, 'config.json'), (kids.configMap as any).data['config.json']);
  const args = (container.args as string[]).map((a) => a.replace(mount, dir));
  const env = Object.fromEntries((container.env as { name: string; value?: string }[]).filter((e) => e.value !== undefined).map((e) => [e.name, e.value!]));
  return { container, args, env, configFile: path.join(dir, 'config.json') };
}

test('two replicas run the Deployment command line; SIGKILL of the active one; windows exactly once', async () => {
  const k = stack.clients[0]!;
  await createStream(k, 'orders', 2);
  await createStream(k, 'order-totals', 1);
  const spec = AnalyticsAppSpec.parse({
    inputs: [{ name: 'SOURCE_SQL_STREAM_001', dataStreamRef: { name: 'orders' }, startingPosition: 'TRIM_HORIZON', columns: [
      { name: 'CUSTOMER', sqlType: 'VARCHAR(16)', mapping: '$.customer' },
      { name: 'AMOUNT', sqlType: 'DOUBLE', mapping: '$.amount' },
    ] }],
    sql: `CREATE OR REPLACE STREAM "TOTALS" (CUSTOMER VARCHAR(16), N INTEGER, TOTAL DOUBLE, WINDOW_START TIMESTAMP);
CREATE OR REPLACE PUMP "P" AS INSERT INTO "TOTALS"
  SELECT STREAM CUSTOMER, COUNT(*), SUM(AMOUNT), FLOOR("SOURCE_SQL_STREAM_001".ROWTIME TO SECOND)
  FROM "SOURCE_SQL_STREAM_001"
  WHERE AMOUNT > 0
  GROUP BY CUSTOMER, FLOOR("SOURCE_SQL_STREAM_001".ROWTIME TO SECOND);`,
    outputs: [{ name: 'TOTALS', dataStreamRef: { name: 'order-totals' }, format: 'JSON' }],
    replicas: 2,
  });
  const app = { apiVersion: 'shardline.dev/v1alpha1', kind: 'AnalyticsApp', metadata: { name: 'totals', namespace: 'shop', uid: 'u-1', generation: 1 }, spec } as const;
  const streams = new Map([
    ['orders', { name: 'orders', streamName: 'orders', endpoint: stack.runtimes[0]!.endpoint }],
    ['order-totals', { name: 'order-totals', streamName: 'order-totals', endpoint: stack.runtimes[0]!.endpoint }],
  ]);
  const kids = analyticsChildren(app as any, spec, streams, { image: 'shardline:test', natsUrl: stack.nats.url, pdbApiVersion: 'policy/v1', sharedEndpoint: stack.runtimes[0]!.endpoint });
  const { container, args, env, configFile } = deploymentProcess(kids);
  expect(container.args[0]).toBe('analytics');
  expect(env.SHARDLINE_NATS_URL).toBe(stack.nats.url);

  workers.push(spawnWorker(args, configFile, env));
  await waitFor('the first replica to hold the lease', async () => /holds the application lease/.test(workers[0]!.logs()));
  workers.push(spawnWorker(args, configFile, env));

  let n = 0;
  const produce = async (ms: number) => {
    const until = Date.now() + ms;
    while (Date.now() < until) {
      await putJson(k, 'orders', Array.from({ length: 10 }, () => { n++; return { customer: `c${n % 3}`, amount: (n % 11) - 1 }; }));
      await sleep(100);
    }
  };
  await produce(2500);
  await workers[0]!.kill('SIGKILL');
  await produce(2500);
  await waitFor('the standby to take over', async () => /holds the application lease/.test(workers[1]!.logs()), 20000);
  await produce(1000);

  const expected = new Map<string, { n: number; total: number }>();
  for (const r of await readAll(k, 'orders')) {
    const d = JSON.parse(r.data);
    if (!(d.amount > 0)) continue;
    const key = JSON.stringify([`c${d.customer.slice(1)}`, new Date(Math.floor(r.arrivalMs / 1000) * 1000).toISOString().replace('T', ' ').replace('Z', '')]);
    const g = expected.get(key) ?? { n: 0, total: 0 };
    g.n++; g.total += d.amount;
    expected.set(key, g);
  }
  const want = [...expected].map(([key, g]) => { const [c, w] = JSON.parse(key); return JSON.stringify({ CUSTOMER: c, N: g.n, TOTAL: g.total, WINDOW_START: w }); }).sort();
  const got = await waitFor('every window', async () => {
    const rows = await readAll(k, 'order-totals');
    return rows.length >= want.length ? rows : undefined;
  }, 30000);
  expect(got.map((r) => r.data).sort()).toEqual(want);
}, 90000);

test('spec.outputs[].lambda: the Deployment worker delivers CSV and JSON rows to a real function, by ARN and by URL', async () => {
  const k = stack.clients[0]!;
  await createStream(k, 'audit-in', 2);
  const received: { path: string; body: { invocationId: string; applicationArn: string; records: { recordId: string; lambdaDeliveryRecordMetadata: unknown; data: string }[] } }[] = [];
  fn = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (d) => (raw += d));
    req.on('end', () => {
      const body = JSON.parse(raw);
      received.push({ path: req.url!, body });
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ records: body.records.map((r: { recordId: string }) => ({ recordId: r.recordId, result: 'Ok' })) }));
    });
  });
  await new Promise<void>((r) => fn!.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(fn.address() as AddressInfo).port}`;
  const arn = 'arn:aws:lambda:us-east-1:123456789012:function:audit-sink';
  const spec = AnalyticsAppSpec.parse({
    inputs: [{ name: 'SOURCE_SQL_STREAM_001', dataStreamRef: { name: 'audit-in' }, startingPosition: 'TRIM_HORIZON', columns: [
      { name: 'ACCOUNT', sqlType: 'VARCHAR(24)', mapping: '$.account' },
      { name: 'CENTS', sqlType: 'INTEGER', mapping: '$.cents' },
    ] }],
    sql: `CREATE OR REPLACE STREAM "AUDIT" (ACCOUNT VARCHAR(24), DOLLARS INTEGER);
CREATE OR REPLACE PUMP "A" AS INSERT INTO "AUDIT" SELECT STREAM ACCOUNT, CENTS / 100 FROM "SOURCE_SQL_STREAM_001";
CREATE OR REPLACE STREAM "BIG" (ACCOUNT VARCHAR(24), CENTS INTEGER);
CREATE OR REPLACE PUMP "B" AS INSERT INTO "BIG" SELECT STREAM ACCOUNT, CENTS FROM "SOURCE_SQL_STREAM_001" WHERE ABS(CENTS) >= 5000;`,
    outputs: [
      { name: 'AUDIT', format: 'CSV', lambda: { functionUrl: `${base}/by-arn`, functionArn: arn } },
      { name: 'BIG', format: 'JSON', lambda: { functionUrl: `${base}/by-url` } },
    ],
  });
  const app = { apiVersion: 'shardline.dev/v1alpha1', kind: 'AnalyticsApp', metadata: { name: 'audit', namespace: 'shop', uid: 'u-2', generation: 1 }, spec } as const;
  const streams = new Map([['audit-in', { name: 'audit-in', streamName: 'audit-in', endpoint: stack.runtimes[0]!.endpoint }]]);
  const kids = analyticsChildren(app as any, spec, streams, { image: 'shardline:test', natsUrl: stack.nats.url, pdbApiVersion: 'policy/v1', sharedEndpoint: stack.runtimes[0]!.endpoint });
  const d = deploymentProcess(kids);
  const w = spawnWorker(d.args, d.configFile, d.env);
  workers.push(w);

  // Names with a comma and a quote: KDA's CSV quotes them.
  const docs = Array.from({ length: 200 }, (_, i) => ({ account: i % 25 === 0 ? `acme, "intl" ${i}` : `acct-${i % 9}`, cents: ((i * 7919) % 20001) - 10000 }));
  await putJson(k, 'audit-in', docs);
  const stored = (await readAll(k, 'audit-in')).map((r) => JSON.parse(r.data) as { account: string; cents: number });
  expect(stored).toHaveLength(docs.length);
  const csv = (v: string) => (/[",\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);
  const wantCsv = stored.map((x) => `${csv(x.account)},${Math.trunc(x.cents / 100) + 0}\n`).sort();
  const wantJson = stored.filter((x) => Math.abs(x.cents) >= 5000).map((x) => JSON.stringify({ ACCOUNT: x.account, CENTS: x.cents })).sort();
  const data = (p: string) => received.filter((r) => r.path === p).flatMap((r) => r.body.records.map((x) => Buffer.from(x.data, 'base64').toString('utf8')));
  await waitFor(`rows at the function (${data('/by-arn').length}/${wantCsv.length}, ${data('/by-url').length}/${wantJson.length})`, async () =>
    data('/by-arn').length >= wantCsv.length && data('/by-url').length >= wantJson.length, 30000).catch((e) => { throw new Error(`${(e as Error).message}\n${w.logs()}`); });
  await sleep(500);
  expect(data('/by-arn').sort()).toEqual(wantCsv);
  expect(data('/by-url').sort()).toEqual(wantJson);
  // The KDA request shape, the application's ARN, one recordId per record.
  for (const r of received) {
    expect(Object.keys(r.body)).toEqual(['invocationId', 'applicationArn', 'records']);
    expect(r.body.applicationArn).toBe('arn:aws:kinesisanalytics:us-east-1:000000000000:application/k8s.shop.audit');
    for (const x of r.body.records) expect(Object.keys(x)).toEqual(['recordId', 'lambdaDeliveryRecordMetadata', 'data']);
  }
  const ids = received.flatMap((r) => r.body.records.map((x) => x.recordId));
  expect(new Set(ids).size).toBe(ids.length);
}, 60000);
