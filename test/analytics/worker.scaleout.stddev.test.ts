// Variance and standard deviation on several replicas: two `shardline
// analytics` processes (the AnalyticsApp Deployment's command line) split a
// 4-shard stream, aggregate count, mean and squared deviations per shard, and
// the application-lease holder merges them; it is SIGKILLed mid-window and the
// other replica takes over. Prices sit around 1e6 with a spread of cents, where
// sums of squares in DOUBLE lose the variance. The oracle is DuckDB's own
// STDDEV_POP/STDDEV_SAMP/VAR_POP/VAR_SAMP in one batch query over the records
// read back (by arrival second), compared with a tolerance.
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

test('STDDEV_POP/SAMP, VAR_POP/SAMP, STDDEV and VARIANCE on two replicas through a SIGKILL of the combiner equal DuckDB\'s own', async () => {
  const k = stack.clients[0]!;
  await createStream(k, 'v-trades', 4);
  await createStream(k, 'v-stats', 1);
  const W = `STEP("SOURCE_SQL_STREAM_001".ROWTIME BY INTERVAL '1' SECOND)`;
  const spec = AnalyticsAppSpec.parse({
    inputs: [{ name: 'SOURCE_SQL_STREAM_001', dataStreamRef: { name: 'v-trades' }, startingPosition: 'TRIM_HORIZON', columns: [
      { name: 'TICKER', sqlType: 'VARCHAR(8)', mapping: '$.ticker' },
      { name: 'PRICE', sqlType: 'DOUBLE', mapping: '$.price' },
      { name: 'QTY', sqlType: 'INTEGER', mapping: '$.qty' },
    ] }],
    sql: `CREATE OR REPLACE STREAM "STATS" (TICKER VARCHAR(8), N INTEGER, SP DOUBLE, SS DOUBLE, VP DOUBLE, VS DOUBLE, SD DOUBLE, VR DOUBLE, QSD DOUBLE, W TIMESTAMP);
CREATE OR REPLACE PUMP "P" AS INSERT INTO "STATS"
  SELECT STREAM TICKER, COUNT(*), STDDEV_POP(PRICE), STDDEV_SAMP(PRICE), VAR_POP(PRICE), VAR_SAMP(PRICE), STDDEV(PRICE), VARIANCE(PRICE), STDDEV_POP(QTY), ${W}
  FROM "SOURCE_SQL_STREAM_001"
  GROUP BY TICKER, ${W};`,
    outputs: [{ name: 'STATS', dataStreamRef: { name: 'v-stats' }, format: 'JSON' }],
    replicas: 2,
  });
  const cmd = deploymentCommand(stack, 'variance', spec, ['v-trades', 'v-stats']);
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
      await putJson(k, 'v-trades', Array.from({ length: 20 }, () => { n++; return { ticker: `T${n % 5}`, price: 1_000_000 + ((n * 37) % 101) / 100, qty: (n * 7) % 13 }; }));
      await sleep(100);
    }
  };
  await produce(2000);
  await waitFor('the second replica to lease shards', async () => {
    await produce(300);
    return held(b.logs()).size >= 1;
  }, 40000);
  await produce(1500);
  await a.kill('SIGKILL');
  await produce(2500);
  await waitFor('the survivor to combine', async () => /holds the application lease/.test(b.logs()), 30000);
  await produce(1000);

  // The oracle: DuckDB's aggregates over the records read back, grouped by ticker and arrival second.
  const recs = (await readAll(k, 'v-trades')).map((r) => ({ ...JSON.parse(r.data), w: ts(Math.floor(r.arrivalMs / 1000) * 1000) }));
  const db = await (await DuckDBInstance.create(':memory:')).connect();
  await db.run('CREATE TABLE t (ticker VARCHAR, price DOUBLE, qty INTEGER, w VARCHAR)');
  for (let i = 0; i < recs.length; i += 1000) {
    await db.run(`INSERT INTO t VALUES ${recs.slice(i, i + 1000).map((r) => `('${r.ticker}', ${r.price}, ${r.qty}, '${r.w}')`).join(', ')}`);
  }
  const rows = (await db.runAndReadAll(`SELECT ticker || '|' || w, count(*), stddev_pop(price), stddev_samp(price), var_pop(price), var_samp(price), stddev(price), variance(price), stddev_pop(qty)
    FROM t GROUP BY ticker, w`)).getRows();
  db.closeSync();
  const expected = new Map(rows.map((r) => [String(r[0]), r.slice(1).map((x) => (x === null ? null : Number(x)))]));
  expect(expected.size).toBeGreaterThan(20);

  const got = await waitFor('every window', async () => {
    const out = await readAll(k, 'v-stats');
    return out.length >= expected.size ? out : undefined;
  }, 40000);
  await sleep(2000);
  const all = (await readAll(k, 'v-stats')).map((r) => JSON.parse(r.data));
  expect(all.length).toBe(got.length);
  const keys = all.map((r) => `${r.TICKER}|${r.W}`);
  expect(new Set(keys).size).toBe(keys.length); // one row per window and key
  expect([...keys].sort()).toEqual([...expected.keys()].sort());
  const near = (x: number | null, y: number | null) => (x === null || y === null ? x === y : Math.abs(x - y) <= 1e-6 * Math.max(1e-3, Math.abs(y)));
  for (const r of all) {
    const e = expected.get(`${r.TICKER}|${r.W}`)!;
    expect(r.N).toBe(e[0]);
    const cols = [r.SP, r.SS, r.VP, r.VS, r.SD, r.VR, r.QSD];
    cols.forEach((x, i) => { if (!near(x, e[i + 1]!)) throw new Error(`${r.TICKER}|${r.W} column ${i}: ${x} vs DuckDB ${e[i + 1]}`); });
  }
}, 180000);
