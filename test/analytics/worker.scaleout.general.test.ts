// Two-phase aggregation in its general form, across two real `shardline
// analytics` processes over a 4-shard stream, one SIGKILLed mid-window:
// HAVING, expressions over aggregates, COUNT(DISTINCT) and
// APPROX_COUNT_DISTINCT over processing time (the AnalyticsApp Deployment's
// command line), and TUMBLE over an event-time column with out-of-order and
// late records (closed on the shards' event-time watermarks, declared on the
// AnalyticsApp's input). Every result is
// checked against an oracle computed here in plain JavaScript over the
// records read back; each window and key comes out once.
import { DuckDBInstance } from '@duckdb/node-api';
import { AnalyticsAppSpec } from '../../crds/index.js';
import { startStack, type Stack } from '../harness/runtime.js';
import { createStream, deploymentCommand, putJson, readAll, sleep, spawnWorker, waitFor, type WorkerProcess } from './helpers.js';

let stack: Stack;
const workers: WorkerProcess[] = [];

beforeAll(async () => {
  stack = await startStack(1);
});

afterAll(async () => {
  for (const w of workers) await w.kill();
  await stack?.stop();
});

const held = (logs: string) => new Set([...logs.matchAll(/took (shardId-\d+)/g)].map((m) => m[1]));
const ts = (ms: number) => new Date(ms).toISOString().replace('T', ' ').replace('Z', '');

test('HAVING, expressions over aggregates, COUNT(DISTINCT) and APPROX_COUNT_DISTINCT on two replicas through a SIGKILL equal the oracle', async () => {
  const k = stack.clients[0]!;
  await createStream(k, 'g-trades', 4);
  await createStream(k, 'g-stats', 1);
  await createStream(k, 'g-errors', 1);
  const W = `STEP("SOURCE_SQL_STREAM_001".ROWTIME BY INTERVAL '1' SECOND)`;
  const spec = AnalyticsAppSpec.parse({
    inputs: [{ name: 'SOURCE_SQL_STREAM_001', dataStreamRef: { name: 'g-trades' }, startingPosition: 'TRIM_HORIZON', columns: [
      { name: 'TICKER', sqlType: 'VARCHAR(8)', mapping: '$.ticker' },
      { name: 'TRADER', sqlType: 'VARCHAR(8)', mapping: '$.trader' },
      { name: 'QTY', sqlType: 'INTEGER', mapping: '$.qty' },
    ] }],
    sql: `CREATE OR REPLACE STREAM "STATS" (TICKER VARCHAR(8), N INTEGER, AVG_QTY DOUBLE, BUCKET VARCHAR(8), TRADERS INTEGER, APPROX_TRADERS INTEGER, W TIMESTAMP);
CREATE OR REPLACE PUMP "P" AS INSERT INTO "STATS"
  SELECT STREAM TICKER, COUNT(*), SUM(QTY) * 1.0 / COUNT(*) AS avg_qty,
    CASE WHEN COUNT(*) > 30 THEN 'busy' ELSE 'quiet' END, COUNT(DISTINCT TRADER), APPROX_COUNT_DISTINCT(TRADER), ${W}
  FROM "SOURCE_SQL_STREAM_001"
  WHERE QTY > 0
  GROUP BY TICKER, ${W}
  HAVING SUM(QTY) > 40;`,
    outputs: [
      { name: 'STATS', dataStreamRef: { name: 'g-stats' }, format: 'JSON' },
      { name: 'error_stream', dataStreamRef: { name: 'g-errors' }, format: 'JSON' },
    ],
    replicas: 2,
  });
  const cmd = deploymentCommand(stack, 'general', spec, ['g-trades', 'g-stats', 'g-errors']);
  const a = spawnWorker(cmd.args, cmd.configFile, cmd.env);
  workers.push(a);
  await waitFor('the first replica to combine', async () => /holds the application lease/.test(a.logs()));
  expect(a.logs()).toMatch(/two-phase aggregation/);
  const b = spawnWorker(cmd.args, cmd.configFile, cmd.env);
  workers.push(b);

  let n = 0;
  const produce = async (ms: number) => {
    const until = Date.now() + ms;
    while (Date.now() < until) {
      await putJson(k, 'g-trades', Array.from({ length: 20 }, () => { n++; return { ticker: `T${n % 5}`, trader: `u${(n * 7) % 23}`, qty: (n % 6) - 1 }; }));
      await sleep(100);
    }
  };
  await produce(2000);
  await waitFor('the second replica to lease shards', async () => {
    await produce(300);
    return held(b.logs()).size >= 1;
  }, 40000);
  expect(b.logs()).toMatch(/two-phase aggregation/);
  await produce(1500);
  // The combiner dies mid-window; the survivor takes its shards and the application lease.
  await a.kill('SIGKILL');
  await produce(2500);
  await waitFor('the survivor to combine', async () => /holds the application lease/.test(b.logs()), 30000);
  await produce(1000);

  // Oracle: the query as a plain batch computation over the records read back with their arrival times.
  const groups = new Map<string, { n: number; qty: number; traders: Set<string> }>();
  for (const r of await readAll(k, 'g-trades')) {
    const d = JSON.parse(r.data);
    if (!(d.qty > 0)) continue;
    const key = `${d.ticker}|${ts(Math.floor(r.arrivalMs / 1000) * 1000)}`;
    const g = groups.get(key) ?? { n: 0, qty: 0, traders: new Set<string>() };
    g.n++; g.qty += d.qty; g.traders.add(d.trader);
    groups.set(key, g);
  }
  const expected = new Map([...groups].filter(([, g]) => g.qty > 40));
  expect(expected.size).toBeGreaterThan(5);
  const got = await waitFor('every window', async () => {
    const rows = await readAll(k, 'g-stats');
    return rows.length >= expected.size ? rows : undefined;
  }, 40000);
  await sleep(2000);
  const all = (await readAll(k, 'g-stats')).map((r) => JSON.parse(r.data));
  expect(all.length).toBe(got.length);
  const keys = all.map((r) => `${r.TICKER}|${r.W}`);
  expect(new Set(keys).size).toBe(keys.length); // one row per window and key
  expect([...keys].sort()).toEqual([...expected.keys()].sort());
  // APPROX_COUNT_DISTINCT is DuckDB's HyperLogLog: the oracle is DuckDB's over each group's traders, in one batch query.
  const db = await (await DuckDBInstance.create(':memory:')).connect();
  const pairs = [...expected].flatMap(([key, g]) => [...g.traders].map((t) => `('${key}', '${t}')`));
  const approx = new Map((await db.runAndReadAll(`SELECT k, approx_count_distinct(t) FROM (VALUES ${pairs.join(', ')}) AS x(k, t) GROUP BY k`)).getRows().map((r) => [String(r[0]), Number(r[1])]));
  db.closeSync();
  for (const r of all) {
    const g = expected.get(`${r.TICKER}|${r.W}`)!;
    expect({ n: r.N, bucket: r.BUCKET, traders: r.TRADERS }).toEqual({ n: g.n, bucket: g.n > 30 ? 'busy' : 'quiet', traders: g.traders.size });
    expect(r.AVG_QTY).toBeCloseTo(g.qty / g.n, 9);
    expect(r.APPROX_TRADERS).toBe(approx.get(`${r.TICKER}|${r.W}`));
  }
  expect((await readAll(k, 'g-errors')).length).toBe(0);
}, 180000);

/**
 * Event-time TUMBLE over two replicas with out-of-order and late records. The first replica (the
 * combiner) is SIGKILLed mid-window, or (`crashAt`, SHARDLINE_TEST_CRASH_AT) kills itself in its first
 * batch with late rows: after saving that shard's state, before publishing, or right after publishing.
 * Every window equals the oracle and every late record reaches error_stream exactly once.
 */
async function eventTimeTwoReplicas(name: string, crashAt?: 'errors-saved' | 'errors-published') {
  const k = stack.clients[0]!;
  const [inS, outS, countsS, lateS] = ['in', 'out', 'counts', 'late'].map((x) => `${name}-${x}`) as [string, string, string, string];
  await createStream(k, inS, 4);
  await createStream(k, outS, 1);
  await createStream(k, countsS, 1);
  await createStream(k, lateS, 1);
  const tvf = `TABLE(TUMBLE(TABLE "SOURCE_SQL_STREAM_001", DESCRIPTOR(EVENT_TIME), INTERVAL '1' SECOND))`;
  // The AnalyticsApp's own Deployment command line: the input declares the event-time column and its lateness.
  const spec = AnalyticsAppSpec.parse({
    inputs: [{
      name: 'SOURCE_SQL_STREAM_001', dataStreamRef: { name: inS }, startingPosition: 'TRIM_HORIZON',
      columns: [
        { name: 'SENSOR', sqlType: 'VARCHAR(8)', mapping: '$.sensor' }, { name: 'KIND', sqlType: 'VARCHAR(8)', mapping: '$.kind' },
        { name: 'READING', sqlType: 'DOUBLE', mapping: '$.reading' }, { name: 'EVENT_TIME', sqlType: 'TIMESTAMP', mapping: '$.at' },
      ],
      watermark: { column: 'EVENT_TIME', delaySeconds: 2 },
    }],
    sql: `CREATE OR REPLACE STREAM "STATS" (WS TIMESTAMP, SENSOR VARCHAR(8), N INTEGER, HI DOUBLE, SPREAD DOUBLE, KINDS INTEGER);
CREATE OR REPLACE STREAM "COUNTS" (WS TIMESTAMP, WE TIMESTAMP, SENSOR VARCHAR(8), N INTEGER);
CREATE OR REPLACE PUMP "P" AS INSERT INTO "STATS"
  SELECT STREAM window_start, SENSOR, COUNT(*), MAX(READING), MAX(READING) - MIN(READING), COUNT(DISTINCT KIND)
  FROM ${tvf}
  GROUP BY window_start, SENSOR HAVING SUM(READING) > 800;
CREATE OR REPLACE PUMP "C" AS INSERT INTO "COUNTS"
  SELECT STREAM window_start, window_end, SENSOR, COUNT(*) FROM ${tvf} GROUP BY window_start, window_end, SENSOR;`,
    outputs: [
      { name: 'STATS', dataStreamRef: { name: outS }, format: 'JSON' },
      { name: 'COUNTS', dataStreamRef: { name: countsS }, format: 'JSON' },
      { name: 'error_stream', dataStreamRef: { name: lateS }, format: 'JSON' },
    ],
    replicas: 2,
  });
  const cmd = deploymentCommand(stack, name, spec, [inS, outS, countsS, lateS]);
  const env = { ...cmd.env, SHARDLINE_EVENT_IDLE_MS: '4000' };
  const a = spawnWorker(cmd.args, cmd.configFile, crashAt ? { ...env, SHARDLINE_TEST_CRASH_AT: crashAt } : env);
  workers.push(a);
  await waitFor('the first replica to combine', async () => /holds the application lease/.test(a.logs()));
  expect(a.logs()).toMatch(/two-phase aggregation: this replica aggregates the shards it leases \(P, C\)/);
  const b = spawnWorker(cmd.args, cmd.configFile, env);
  workers.push(b);

  // Event time runs at 1 s per 0.5 s of wall time from a fixed start; readings are up to 1.5 s out of
  // order (inside the 2 s lateness) and every 25th is 30 s late (its window closed long ago).
  const start = Date.UTC(2026, 0, 1);
  let n = 0;
  const produce = async (batches: number) => {
    for (let i = 0; i < batches; i++) {
      const docs = [];
      for (let j = 0; j < 10; j++) {
        n++;
        const now = start + n * 20;
        const isLate = n % 25 === 0 && n > 200;
        const at = isLate ? now - 30_000 : now - ((n * 37) % 1500);
        docs.push({ n, sensor: `s${n % 3}`, kind: `k${(n * 5) % 7}`, reading: (n * 13) % 97, at: new Date(at).toISOString(), ...(isLate ? { late: true } : {}) });
      }
      await putJson(k, inS, docs);
      await sleep(100);
    }
  };
  await produce(15);
  await waitFor('the second replica to lease shards', async () => {
    await produce(3);
    return held(b.logs()).size >= 1;
  }, 40000);
  await produce(10);
  if (!crashAt) await a.kill('SIGKILL');
  else {
    await waitFor('the first replica to kill itself in a batch with late rows', async () => {
      await produce(2);
      return a.proc.signalCode === 'SIGKILL' || undefined;
    }, 40000);
  }
  await produce(25);
  // Records keep coming while the survivor waits out the lease: a shard without records for
  // SHARDLINE_EVENT_IDLE_MS counts as idle and closes its event-time windows (later rows are late).
  await waitFor('the survivor to combine', async () => {
    await produce(3);
    return /holds the application lease/.test(b.logs());
  }, 40000);
  await produce(10);

  // Oracle: per shard, in the shard's order, a record is late when its window ended at or before the
  // greatest event time seen before it in that shard less the 2 s lateness; once the shards fall idle
  // every other window closes. (The producer marks the records it made 30 s late: the same ones.)
  type Doc = { n: number; sensor: string; kind: string; reading: number; at: string; late?: boolean };
  const byShard = new Map<string, Doc[]>();
  for (const r of await readAll(k, inS)) byShard.set(r.shardId, [...(byShard.get(r.shardId) ?? []), JSON.parse(r.data)]);
  expect(byShard.size).toBe(4);
  const onTime: Doc[] = [];
  const late: Doc[] = [];
  for (const docs of byShard.values()) {
    let max = Number.NEGATIVE_INFINITY;
    for (const d of docs) {
      const t = Date.parse(d.at);
      if (Math.floor(t / 1000) * 1000 + 1000 <= max - 2000) late.push(d);
      else onTime.push(d);
      max = Math.max(max, t);
    }
  }
  expect(late.map((d) => d.n).sort()).toEqual([...onTime, ...late].filter((d) => d.late).map((d) => d.n).sort());
  expect(late.length).toBeGreaterThan(10);
  const groups = new Map<string, Doc[]>();
  for (const d of onTime) {
    const key = `${ts(Math.floor(Date.parse(d.at) / 1000) * 1000)}|${d.sensor}`;
    groups.set(key, [...(groups.get(key) ?? []), d]);
  }
  const stats = [...groups].filter(([, ds]) => ds.reduce((x, d) => x + d.reading, 0) > 800).map(([key, ds]) => {
    const [ws, sensor] = key.split('|');
    const rs = ds.map((d) => d.reading);
    return JSON.stringify({ WS: ws, SENSOR: sensor, N: ds.length, HI: Math.max(...rs), SPREAD: Math.max(...rs) - Math.min(...rs), KINDS: new Set(ds.map((d) => d.kind)).size });
  }).sort();
  const counts = [...groups].map(([key, ds]) => {
    const [ws, sensor] = key.split('|');
    return JSON.stringify({ WS: ws, WE: ts(Date.parse(`${ws}Z`) + 1000), SENSOR: sensor, N: ds.length });
  }).sort();
  expect(stats.length).toBeGreaterThan(10);
  expect(counts.length).toBeGreaterThan(stats.length); // HAVING left some windows out
  await waitFor('every window', async () => (await readAll(k, outS)).length >= stats.length && (await readAll(k, countsS)).length >= counts.length, 60000)
    .catch(async (e) => {
      const out = (await readAll(k, countsS)).map((r) => r.data).sort();
      throw new Error(`${(e as Error).message}: ${out.length}/${counts.length} counts; missing ${counts.filter((c) => !out.includes(c)).slice(0, 5).join(' ')}; extra ${out.filter((c) => !counts.includes(c)).slice(0, 5).join(' ')}; errors ${(await readAll(k, lateS)).length}; survivor: ${b.logs().slice(-3000)}`);
    });
  await sleep(2000);
  expect((await readAll(k, outS)).map((r) => r.data).sort()).toEqual(stats);
  expect((await readAll(k, countsS)).map((r) => r.data).sort()).toEqual(counts);
  // Every late record reaches error_stream once per pump that reads it (each judges lateness for its own
  // windows), whichever replica read it and wherever the other died.
  const errors = (await readAll(k, lateS)).map((r) => JSON.parse(r.data));
  expect(errors.every((e) => e.ERROR_NAME === 'LATE_ROW')).toBe(true);
  for (const pump of ['P', 'C']) {
    const lateRows = errors.filter((e) => e.PUMP_NAME === pump).map((e) => JSON.stringify(JSON.parse(e.DATA_ROW)));
    expect(new Set(lateRows).size).toBe(late.length);
    expect(lateRows.length).toBe(late.length);
  }
  expect(errors).toHaveLength(2 * late.length);
}

test('TUMBLE on event time across two replicas: out-of-order and late records, SIGKILL of the combiner mid-window', async () => {
  await eventTimeTwoReplicas('e');
}, 180000);

test('a replica killed in a batch with late rows after saving its state, before publishing: each late row reported once', async () => {
  await eventTimeTwoReplicas('es', 'errors-saved');
}, 180000);

test('a replica killed in a batch with late rows right after publishing: each late row reported once', async () => {
  await eventTimeTwoReplicas('ep', 'errors-published');
}, 180000);
