// FIRST_VALUE / LAST_VALUE on an AnalyticsApp with two replicas: two `shardline
// analytics` processes (the Deployment's command line). The pump is not split
// into per-shard partials (the first and last row follow arrival order within a
// ROWTIME, which partials from several shards do not share), so one replica runs
// it, saying why; it is SIGKILLed mid-stream and the other takes over from its
// checkpoint. Every window's row reaches the output once, equal to an oracle
// computed from the records read back (ROWTIME = arrival, ties in shard order).
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

test('FIRST_VALUE / LAST_VALUE: one active replica of two, through a SIGKILL, each window once and equal to the oracle', async () => {
  const k = stack.clients[0]!;
  // One input shard: its order is the arrival order that breaks ROWTIME ties.
  await createStream(k, 'fl-trades', 1);
  await createStream(k, 'fl-out', 1);
  const W = `STEP("SOURCE_SQL_STREAM_001".ROWTIME BY INTERVAL '1' SECOND)`;
  const spec = AnalyticsAppSpec.parse({
    inputs: [{ name: 'SOURCE_SQL_STREAM_001', dataStreamRef: { name: 'fl-trades' }, startingPosition: 'TRIM_HORIZON', columns: [
      { name: 'TICKER', sqlType: 'VARCHAR(8)', mapping: '$.ticker' },
      { name: 'PRICE', sqlType: 'DOUBLE', mapping: '$.price' },
    ] }],
    sql: `CREATE OR REPLACE STREAM "OUT" (TICKER VARCHAR(8), OPEN_PRICE DOUBLE, CLOSE_PRICE DOUBLE, N INTEGER);
CREATE OR REPLACE PUMP "P" AS INSERT INTO "OUT"
  SELECT STREAM TICKER, FIRST_VALUE(PRICE), LAST_VALUE(PRICE), COUNT(*) FROM "SOURCE_SQL_STREAM_001" GROUP BY TICKER, ${W};`,
    outputs: [{ name: 'OUT', dataStreamRef: { name: 'fl-out' }, format: 'JSON' }],
    replicas: 2,
  });
  const cmd = deploymentCommand(stack, 'first-last', spec, ['fl-trades', 'fl-out']);
  const a = spawnWorker(cmd.args, cmd.configFile, cmd.env);
  workers.push(a);
  await waitFor('the first replica to run the application', async () => /holds the application lease/.test(a.logs()));
  expect(a.logs()).toMatch(/one active replica: pump P: FIRST_VALUE follows the rows' arrival order/);
  const b = spawnWorker(cmd.args, cmd.configFile, cmd.env);
  workers.push(b);

  let n = 0;
  const produce = async (ms: number) => {
    const until = Date.now() + ms;
    while (Date.now() < until) {
      // Every price unique, so a first or last value names one record.
      await putJson(k, 'fl-trades', Array.from({ length: 10 }, () => { n++; return { ticker: `T${n % 3}`, price: n }; }));
      await sleep(100);
    }
  };
  await produce(2500);
  await a.kill('SIGKILL');
  await produce(2500);
  await waitFor('the survivor to run the application', async () => /holds the application lease/.test(b.logs()), 30000);
  await produce(1000);

  const recs = (await readAll(k, 'fl-trades')).map((r, i) => ({ ...JSON.parse(r.data) as { ticker: string; price: number }, t: r.arrivalMs, i }));
  recs.sort((x, y) => x.t - y.t || x.i - y.i);
  const groups = new Map<string, typeof recs>();
  for (const r of recs) {
    const key = `${r.ticker}|${Math.floor(r.t / 1000)}`;
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  const expected = [...groups.values()].map((g) => JSON.stringify({ TICKER: g[0]!.ticker, OPEN_PRICE: g[0]!.price, CLOSE_PRICE: g[g.length - 1]!.price, N: g.length })).sort();
  expect(expected.length).toBeGreaterThan(10);
  await waitFor('every window', async () => (await readAll(k, 'fl-out')).length >= expected.length, 40000);
  await sleep(1500);
  expect((await readAll(k, 'fl-out')).map((r) => r.data).sort()).toEqual(expected);
}, 150000);
