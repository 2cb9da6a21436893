// The AnalyticsApp Deployment's own command line and environment, from the
// operator's model, started as real processes (only the ConfigMap mount path is
// swapped for a temporary file): two replicas, one holds the application, the
// other takes over when it is SIGKILLed; every window reaches the output
// DataStream once, equal to an oracle over the input read back.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AnalyticsAppSpec } from '../../crds/index.js';
import { analyticsChildren } from '../../operator/model/workers.js';
import { startStack, type Stack } from '../harness/runtime.js';
import { createStream, putJson, readAll, sleep, spawnWorker, waitFor, type WorkerProcess } from './helpers.js';

let stack: Stack;
const workers: WorkerProcess[] = [];

beforeAll(async () => {
  stack = await startStack(1);
});

afterAll(async () => {
  for (const w of workers) await w.kill();
  await stack?.stop();
});

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
  const container = (kids.deployment as any).spec.template.spec.containers[0];
  const mount = container.volumeMounts.find((m: any) => m.name === 'config').mountPath;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'analytics-cm-'));
  fs.writeFileSync(path.join(dir, 'config.json'), (kids.configMap as any).data['config.json']);
  const args = (container.args as string[]).map((a) => a.replace(mount, dir));
  expect(container.args[0]).toBe('analytics');
  const env = Object.fromEntries((container.env as { name: string; value?: string }[]).filter((e) => e.value !== undefined).map((e) => [e.name, e.value!]));
  expect(env.SHARDLINE_NATS_URL).toBe(stack.nats.url);

  workers.push(spawnWorker(args, path.join(dir, 'config.json'), env));
  await waitFor('the first replica to hold the lease', async () => /holds the application lease/.test(workers[0]!.logs()));
  workers.push(spawnWorker(args, path.join(dir, 'config.json'), env));

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
