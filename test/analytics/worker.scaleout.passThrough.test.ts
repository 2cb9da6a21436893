// Pass-through applications on several replicas: two `shardline analytics`
// processes started with the AnalyticsApp Deployment's command line split a
// 4-shard stream by lease, and each emits the rows of the shards it holds
// (projection, expressions, a filter and a chain of two pumps; no window).
// One replica is SIGKILLed mid-stream, paused past its lease (SIGSTOP) and
// resumed, or kills itself between saving an emit and publishing all of it. The output equals a JavaScript oracle over the
// records read back: every row once, none lost, ROWTIME the record's arrival.
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

async function twoReplicas(name: string, disrupt: (a: WorkerProcess, b: WorkerProcess, produce: (ms: number) => Promise<void>) => Promise<void>, envA: Record<string, string> = {}) {
  const k = stack.clients[0]!;
  const [trades, out, big, errors] = [`${name}-trades`, `${name}-out`, `${name}-big`, `${name}-errors`];
  await createStream(k, trades, 4);
  await createStream(k, out, 2);
  await createStream(k, big, 1);
  await createStream(k, errors, 1);
  const spec = AnalyticsAppSpec.parse({
    inputs: [{ name: 'SOURCE_SQL_STREAM_001', dataStreamRef: { name: trades }, startingPosition: 'TRIM_HORIZON', columns: [
      { name: 'ID', sqlType: 'INTEGER', mapping: '$.id' },
      { name: 'TICKER', sqlType: 'VARCHAR(8)', mapping: '$.ticker' },
      { name: 'PRICE', sqlType: 'DOUBLE', mapping: '$.price' },
      { name: 'QTY', sqlType: 'INTEGER', mapping: '$.qty' },
    ] }],
    sql: `CREATE OR REPLACE STREAM "OUT" (ID INTEGER, TICKER VARCHAR(8), NOTIONAL DOUBLE, SIDE VARCHAR(5), AT TIMESTAMP);
CREATE OR REPLACE PUMP "P" AS INSERT INTO "OUT"
  SELECT STREAM ID, LOWER(TICKER), PRICE * QTY, CASE WHEN QTY > 2 THEN 'BIG' ELSE 'SMALL' END, "SOURCE_SQL_STREAM_001".ROWTIME
  FROM "SOURCE_SQL_STREAM_001"
  WHERE QTY > 0;
CREATE OR REPLACE STREAM "BIG" (ID INTEGER, NOTIONAL DOUBLE);
CREATE OR REPLACE PUMP "Q" AS INSERT INTO "BIG" SELECT STREAM ID, NOTIONAL FROM "OUT" WHERE SIDE = 'BIG';`,
    outputs: [
      { name: 'OUT', dataStreamRef: { name: out }, format: 'JSON' },
      { name: 'BIG', dataStreamRef: { name: big }, format: 'CSV' },
      { name: 'error_stream', dataStreamRef: { name: errors }, format: 'JSON' },
    ],
    replicas: 2,
  });
  const cmd = deploymentCommand(stack, name, spec, [trades, out, big, errors]);
  const a = spawnWorker(cmd.args, cmd.configFile, { ...cmd.env, ...envA });
  workers.push(a);
  await waitFor('the first replica to start', async () => /pass-through: every pump is stateless/.test(a.logs()));
  const b = spawnWorker(cmd.args, cmd.configFile, cmd.env);
  workers.push(b);

  let n = 0;
  const bad: string[] = [];
  const produce = async (ms: number) => {
    const until = Date.now() + ms;
    while (Date.now() < until) {
      await putJson(k, trades, Array.from({ length: 20 }, () => { n++; return { id: n, ticker: `T${n % 5}`, price: 10 + ((n * 7) % 13) / 4, qty: (n % 6) - 1 }; }));
      if (n % 200 === 0) { const x = `not json ${n}`; bad.push(x); await putJson(k, trades, [x]); }
      await sleep(100);
    }
  };
  await produce(1500);
  await waitFor('the second replica to lease shards', async () => {
    await produce(300);
    return held(b.logs()).size >= 1 && held(a.logs()).size >= 1 ? true : undefined;
  }, 40000);
  expect(b.logs()).toMatch(/pass-through: every pump is stateless/);
  expect(a.logs()).not.toMatch(/holds the application lease/);
  await produce(1500);
  await disrupt(a, b, produce);
  await produce(1000);

  // The oracle: the pumps' projection and filters in plain JavaScript over the records read back.
  const expectedOut = new Map<number, unknown>();
  const expectedBig = new Map<number, string>();
  for (const r of await readAll(k, trades)) {
    let d;
    try { d = JSON.parse(r.data); } catch { continue; }
    if (!(d.qty > 0)) continue;
    const side = d.qty > 2 ? 'BIG' : 'SMALL';
    expectedOut.set(d.id, { ID: d.id, TICKER: d.ticker.toLowerCase(), NOTIONAL: d.price * d.qty, SIDE: side, AT: ts(r.arrivalMs) });
    if (side === 'BIG') expectedBig.set(d.id, `${d.id},${d.price * d.qty}`);
  }
  expect(expectedOut.size).toBeGreaterThan(500);
  await waitFor('every row', async () => (await readAll(k, out)).length >= expectedOut.size && (await readAll(k, big)).length >= expectedBig.size, 60000);
  await sleep(2000);
  const got = (await readAll(k, out)).map((r) => JSON.parse(r.data));
  const ids = got.map((r) => r.ID as number);
  expect(ids.length).toBe(new Set(ids).size); // no row twice
  expect([...ids].sort((x, y) => x - y)).toEqual([...expectedOut.keys()].sort((x, y) => x - y)); // none lost
  for (const r of got) expect(r).toEqual(expectedOut.get(r.ID));
  const gotBig = (await readAll(k, big)).map((r) => r.data.trim());
  expect(gotBig.length).toBe(new Set(gotBig).size);
  expect([...gotBig].sort()).toEqual([...expectedBig.values()].sort());
  // Records that do not map reach error_stream once each, with the reason.
  const errs = await waitFor('error rows', async () => {
    const e = (await readAll(k, errors)).map((r) => JSON.parse(r.data));
    return e.length >= bad.length ? e : undefined;
  }, 20000);
  await sleep(1000);
  const allErrs = (await readAll(k, errors)).map((r) => JSON.parse(r.data));
  expect(allErrs.map((e) => e.DATA_ROW).sort()).toEqual([...bad].sort());
  expect(errs.every((e) => e.ERROR_NAME === 'MAPPING_ERROR')).toBe(true);
  return { a, b };
}

test('two replicas each emit the rows of the shards they lease: every row once, equal to the oracle, through a SIGKILL', async () => {
  await twoReplicas('pt-kill', async (a, b, produce) => {
    await a.kill('SIGKILL');
    await waitFor('the survivor to take the killed replica\'s shards', async () => {
      await produce(500);
      return /took shardId-\d+ \(expired\)/.test(b.logs());
    }, 40000);
    await produce(1000);
  });
}, 180000);

test('a replica paused past its lease (SIGSTOP) and resumed neither loses nor repeats a row', async () => {
  await twoReplicas('pt-pause', async (a, b, produce) => {
    b.proc.kill('SIGSTOP');
    // Longer than the lease (10 s): the other replica takes the paused one's shards and their saved state.
    await waitFor('the other replica to take the paused one\'s shards', async () => {
      await produce(500);
      return /took shardId-\d+ \(expired\)/.test(a.logs());
    }, 40000);
    b.proc.kill('SIGCONT');
    await produce(3000);
  });
}, 180000);

test('a replica killed between saving an emit and publishing all of it: the successor publishes only what is missing', async () => {
  const { b } = await twoReplicas('pt-midemit', async (a, b, produce) => {
    await waitFor('the replica to kill itself mid-emit', async () => {
      await produce(300);
      return a.proc.signalCode === 'SIGKILL';
    }, 60000);
    await waitFor('the survivor to take its shards', async () => {
      await produce(500);
      return /recovered its last emit/.test(b.logs());
    }, 40000);
  }, { SHARDLINE_TEST_CRASH_AT: 'mid-emit', SHARDLINE_TEST_CRASH_AFTER_EMITS: '200' });
  expect(b.logs()).toMatch(/recovered its last emit: \d+ message\(s\) published, 1 already stored/);
}, 180000);
