// A worker with two inputs (JSON and CSV) merged by two pumps into one
// in-application stream, a chained tumbling count, a CSV DataStream output and
// an HTTP output; rows equal oracles over the inputs as stored. Then an HTTP
// output in CSV: the endpoint gets the CSV lines as text/csv.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { startStack, type Stack } from '../harness/runtime.js';
import { createStream, putJson, readAll, sleep, startWorker, waitFor, type WorkerProcess } from './helpers.js';

let stack: Stack;
let server: http.Server;
const posted: unknown[] = [];
/** CSV POSTs: content type and body as received. */
const postedCsv: { contentType: string; body: string }[] = [];
const workers: WorkerProcess[] = [];

beforeAll(async () => {
  stack = await startStack(1);
  server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      if (req.url === '/csv') postedCsv.push({ contentType: String(req.headers['content-type']), body });
      else posted.push(...JSON.parse(body));
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
});

afterAll(async () => {
  for (const w of workers) await w.kill();
  server?.close();
  await stack?.stop();
});

const ts = (ms: number) => new Date(ms).toISOString().replace('T', ' ').replace('Z', '');

test('two inputs, chained pumps, CSV DataStream output and HTTP output', async () => {
  const k = stack.clients[0]!;
  await createStream(k, 'clicks', 1);
  await createStream(k, 'views', 2);
  await createStream(k, 'activity-out', 1);
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/rows`;
  workers.push(startWorker({
    applicationName: 'activity', natsUrl: stack.nats.url, startingPosition: 'TRIM_HORIZON', leaseMs: 600, idleWatermarkLagMs: 300, checkpointIntervalMs: 250,
    application: {
      name: 'activity',
      code: `CREATE OR REPLACE STREAM "ACTIVITY" (USER_ID VARCHAR(8), KIND VARCHAR(8), DETAIL VARCHAR(16));
CREATE OR REPLACE PUMP "CLICK_PUMP" AS INSERT INTO "ACTIVITY" SELECT STREAM USER_ID, 'click', CAST(N AS VARCHAR) FROM "CLICKS_001" WHERE N > 0;
CREATE OR REPLACE PUMP "VIEW_PUMP" AS INSERT INTO "ACTIVITY" SELECT STREAM USER_ID, 'view', UPPER(PAGE) FROM "VIEWS_001";
CREATE OR REPLACE STREAM "COUNTS" (KIND VARCHAR(8), C INTEGER, W TIMESTAMP);
CREATE OR REPLACE PUMP "COUNT_PUMP" AS INSERT INTO "COUNTS"
  SELECT STREAM KIND, COUNT(*), STEP("ACTIVITY".ROWTIME BY INTERVAL '1' SECOND) FROM "ACTIVITY"
  GROUP BY KIND, STEP("ACTIVITY".ROWTIME BY INTERVAL '1' SECOND);`,
      inputs: [
        { id: '1.1', namePrefix: 'CLICKS', source: { kind: 'stream', name: 'clicks' }, format: { type: 'JSON', rowPath: '$' }, columns: [{ name: 'USER_ID', sqlType: 'VARCHAR(8)', mapping: '$.user' }, { name: 'N', sqlType: 'INTEGER', mapping: '$.n' }] },
        { id: '2.1', namePrefix: 'VIEWS', source: { kind: 'stream', name: 'views' }, format: { type: 'CSV', rowDelimiter: '\n', columnDelimiter: ',' }, columns: [{ name: 'USER_ID', sqlType: 'VARCHAR(8)' }, { name: 'PAGE', sqlType: 'VARCHAR(16)' }] },
      ],
      outputs: [
        { id: '1.1', name: 'ACTIVITY', destination: { kind: 'stream', name: 'activity-out' }, format: 'CSV' },
        { id: '2.1', name: 'COUNTS', destination: { kind: 'http', url }, format: 'JSON' },
      ],
    },
  }));
  const until = Date.now() + 3000;
  let i = 0;
  while (Date.now() < until) {
    i++;
    await putJson(k, 'clicks', [{ user: `u${i % 5}`, n: i % 4 }, { user: `u${(i + 1) % 5}`, n: (i + 2) % 4 }]);
    await putJson(k, 'views', [`u${i % 3},home${i % 2}`, `u${i % 2},cart`]);
    await sleep(80);
  }
  const clicks = (await readAll(k, 'clicks')).map((r) => ({ ...JSON.parse(r.data), t: r.arrivalMs }));
  const views = (await readAll(k, 'views')).map((r) => { const [user, page] = r.data.split(','); return { user, page, t: r.arrivalMs }; });
  const activity = [
    ...clicks.filter((c) => c.n > 0).map((c) => ({ line: `${c.user},click,${c.n}\n`, kind: 'click', t: c.t })),
    ...views.map((v) => ({ line: `${v.user},view,${v.page!.toUpperCase()}\n`, kind: 'view', t: v.t })),
  ];
  const got = await waitFor('activity rows', async () => {
    const rows = await readAll(k, 'activity-out');
    return rows.length >= activity.length ? rows : undefined;
  });
  expect(got.map((r) => r.data).sort()).toEqual(activity.map((a) => a.line).sort());

  const counts = new Map<string, number>();
  for (const a of activity) {
    const key = JSON.stringify({ KIND: a.kind, W: ts(Math.floor(a.t / 1000) * 1000) });
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  const want = [...counts].map(([key, c]) => { const o = JSON.parse(key); return JSON.stringify({ KIND: o.KIND, C: c, W: o.W }); }).sort();
  await waitFor('every window over HTTP', async () => posted.length >= want.length);
  expect(posted.map((p) => JSON.stringify(p)).sort()).toEqual(want);
}, 60000);

test('HTTP output in CSV: every row once as a CSV line, text/csv', async () => {
  const k = stack.clients[0]!;
  await createStream(k, 'csv-in', 2);
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/csv`;
  // Values that need quoting in CSV (a comma, a quote) and a NULL.
  const docs = Array.from({ length: 150 }, (_, i) => ({ id: i, name: i % 10 === 0 ? `a,"b" ${i}` : `n${i}`, score: i % 7 === 0 ? null : i * 3 }));
  await putJson(k, 'csv-in', docs);
  workers.push(startWorker({
    applicationName: 'csv-http', natsUrl: stack.nats.url, startingPosition: 'TRIM_HORIZON', leaseMs: 600, idleWatermarkLagMs: 300, checkpointIntervalMs: 250,
    application: {
      name: 'csv-http',
      code: `CREATE OR REPLACE STREAM "OUT" (ID INTEGER, NAME VARCHAR(32), HALF INTEGER);
CREATE OR REPLACE PUMP "P" AS INSERT INTO "OUT" SELECT STREAM ID, NAME, SCORE / 2 FROM "SOURCE_SQL_STREAM_001";`,
      inputs: [{
        id: '1.1', namePrefix: 'SOURCE_SQL_STREAM', source: { kind: 'stream', name: 'csv-in' }, format: { type: 'JSON', rowPath: '$' },
        columns: [{ name: 'ID', sqlType: 'INTEGER', mapping: '$.id' }, { name: 'NAME', sqlType: 'VARCHAR(32)', mapping: '$.name' }, { name: 'SCORE', sqlType: 'INTEGER', mapping: '$.score' }],
      }],
      outputs: [{ id: '1.1', name: 'OUT', destination: { kind: 'http', url }, format: 'CSV' }],
    },
  }));
  const csvField = (v: string) => (/[",\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);
  const want = docs.map((d) => `${d.id},${csvField(d.name)},${d.score === null ? '' : Math.trunc(d.score / 2)}\n`).sort();
  const lines = () => postedCsv.flatMap((p) => p.body.split(/(?<=\n)/).filter(Boolean));
  await waitFor('every CSV row over HTTP', async () => lines().length >= want.length, 30_000);
  await sleep(500);
  expect(lines().sort()).toEqual(want);
  for (const p of postedCsv) {
    expect(p.contentType).toBe('text/csv; charset=utf-8');
    expect(p.body.endsWith('\n')).toBe(true);
  }
}, 60000);
