// Scale-out of `shardline analytics`: two replicas started with the
// AnalyticsApp Deployment's command line split a 4-shard stream by lease and
// combine partial aggregates (two-phase aggregation); one replica is SIGKILLed
// mid-run. Every window and key is emitted once, equal to an oracle computed
// here from the records read back. InputParallelism 2 deals the shards out to
// two in-application streams; the API validates it as AWS does.
import { CreateApplicationCommand, DescribeApplicationCommand } from '@aws-sdk/client-kinesis-analytics';
import { AnalyticsAppSpec } from '../../crds/index.js';
import { analyticsDefinition } from '../../operator/model/workers.js';
import { startStack, type Stack } from '../harness/runtime.js';
import { analyticsClient, createStream, deploymentCommand, putJson, readAll, sleep, spawnWorker, startWorker, waitFor, type WorkerProcess } from './helpers.js';

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

/**
 * Two replicas of an AnalyticsApp over a 4-shard stream; `disrupt` acts on them once both lease shards
 * (given the running producer); then every window and key must come out once, equal to the oracle.
 */
async function twoReplicas(name: string, disrupt: (a: WorkerProcess, b: WorkerProcess, produce: (ms: number) => Promise<void>) => Promise<void>, env: Record<string, string> = {}) {
  const k = stack.clients[0]!;
  const [trades, stats, errors] = [`${name}-trades`, `${name}-stats`, `${name}-errors`];
  await createStream(k, trades, 4);
  await createStream(k, stats, 1);
  await createStream(k, errors, 1);
  const spec = AnalyticsAppSpec.parse({
    inputs: [{ name: 'SOURCE_SQL_STREAM_001', dataStreamRef: { name: trades }, startingPosition: 'TRIM_HORIZON', columns: [
      { name: 'TICKER', sqlType: 'VARCHAR(8)', mapping: '$.ticker' },
      { name: 'PRICE', sqlType: 'DOUBLE', mapping: '$.price' },
      { name: 'QTY', sqlType: 'INTEGER', mapping: '$.qty' },
    ] }],
    sql: `CREATE OR REPLACE STREAM "STATS" (TICKER VARCHAR(8), N INTEGER, QTY_SUM INTEGER, LO DOUBLE, HI DOUBLE, AVG_PRICE DOUBLE, W TIMESTAMP);
CREATE OR REPLACE PUMP "P" AS INSERT INTO "STATS"
  SELECT STREAM TICKER, COUNT(*), SUM(QTY), MIN(PRICE), MAX(PRICE), AVG(PRICE), STEP("SOURCE_SQL_STREAM_001".ROWTIME BY INTERVAL '1' SECOND)
  FROM "SOURCE_SQL_STREAM_001"
  WHERE QTY > 0
  GROUP BY TICKER, STEP("SOURCE_SQL_STREAM_001".ROWTIME BY INTERVAL '1' SECOND);`,
    outputs: [
      { name: 'STATS', dataStreamRef: { name: stats }, format: 'JSON' },
      { name: 'error_stream', dataStreamRef: { name: errors }, format: 'JSON' },
    ],
    replicas: 2,
  });
  const cmd = deploymentCommand(stack, name, spec, [trades, stats, errors]);
  const a = spawnWorker(cmd.args, cmd.configFile, { ...cmd.env, ...env });
  workers.push(a);
  await waitFor('the first replica to combine', async () => /holds the application lease/.test(a.logs()));
  expect(a.logs()).toMatch(/two-phase aggregation/);
  const b = spawnWorker(cmd.args, cmd.configFile, { ...cmd.env, ...env });
  workers.push(b);

  let n = 0;
  const bad: string[] = [];
  const produce = async (ms: number) => {
    const until = Date.now() + ms;
    while (Date.now() < until) {
      await putJson(k, trades, Array.from({ length: 20 }, () => { n++; return { ticker: `T${n % 5}`, price: 10 + ((n * 7) % 13) / 4, qty: (n % 6) - 1 }; }));
      if (n % 200 === 0) { const b = `not json ${n}`; bad.push(b); await putJson(k, trades, [b]); }
      await sleep(100);
    }
  };
  // Both replicas lease shards before one is killed (the second steals its share from the first).
  await produce(2000);
  await waitFor('the second replica to lease shards', async () => {
    await produce(300);
    return held(b.logs()).size >= 1;
  }, 40000);
  expect(b.logs()).toMatch(/two-phase aggregation/);
  await produce(1500);
  await disrupt(a, b, produce);
  await produce(1000);

  // The oracle: a plain aggregation over the records read back with their arrival times.
  const expected = new Map<string, { n: number; qty: number; lo: number; hi: number; sum: number }>();
  for (const r of await readAll(k, trades)) {
    let d;
    try { d = JSON.parse(r.data); } catch { continue; }
    if (!(d.qty > 0)) continue;
    const key = `${d.ticker}|${ts(Math.floor(r.arrivalMs / 1000) * 1000)}`;
    const g = expected.get(key) ?? { n: 0, qty: 0, lo: Infinity, hi: -Infinity, sum: 0 };
    g.n++; g.qty += d.qty; g.lo = Math.min(g.lo, d.price); g.hi = Math.max(g.hi, d.price); g.sum += d.price;
    expected.set(key, g);
  }
  const got = await waitFor('every window', async () => {
    const rows = await readAll(k, stats);
    return rows.length >= expected.size ? rows.map((r) => JSON.parse(r.data)) : undefined;
  }, 40000);
  await sleep(2000);
  const all = (await readAll(k, stats)).map((r) => JSON.parse(r.data));
  expect(all.length).toBe(got.length);
  const keys = all.map((r) => `${r.TICKER}|${r.W}`);
  expect(new Set(keys).size).toBe(keys.length); // one row per window and key
  expect([...keys].sort()).toEqual([...expected.keys()].sort());
  for (const r of all) {
    const g = expected.get(`${r.TICKER}|${r.W}`)!;
    expect({ n: r.N, qty: r.QTY_SUM, lo: r.LO, hi: r.HI }).toEqual({ n: g.n, qty: g.qty, lo: g.lo, hi: g.hi });
    expect(r.AVG_PRICE).toBeCloseTo(g.sum / g.n, 9);
  }
  // Records that do not map reach error_stream with the reason.
  const errs = await waitFor('error rows', async () => {
    const e = (await readAll(k, errors)).map((r) => JSON.parse(r.data));
    return new Set(e.map((x) => x.DATA_ROW)).size >= bad.length ? e : undefined;
  }, 20000);
  expect([...new Set(errs.map((e) => e.DATA_ROW))].sort()).toEqual([...bad].sort());
  expect(errs.every((e) => e.ERROR_NAME === 'MAPPING_ERROR')).toBe(true);
}

test('two replicas split 4 shards and combine partials: one row per window and key, equal to the oracle, through a SIGKILL', async () => {
  await twoReplicas('kill', async (a, b, produce) => {
    await a.kill('SIGKILL');
    await produce(2500);
    await waitFor('the survivor to combine', async () => /holds the application lease/.test(b.logs()), 30000);
  });
}, 180000);

test('a replica paused past its lease (SIGSTOP) and resumed neither loses nor repeats a window', async () => {
  await twoReplicas('pause', async (a, b, produce) => {
    b.proc.kill('SIGSTOP');
    // Longer than the lease (10 s): the other replica takes the paused one's shards and their saved state.
    await waitFor('the other replica to take the paused one\'s shards', async () => {
      await produce(500);
      return /took shardId-\d+ \(expired\)/.test(a.logs());
    }, 40000);
    b.proc.kill('SIGCONT');
    await produce(2500);
  }, { SHARDLINE_TEST_PARTIAL_CHUNK_ROWS: '2' }); // several partial messages per window and shard
}, 180000);

test('InputParallelism 2: two in-application streams, each fed a subset of the shards; 1–64 validated', async () => {
  const k = stack.clients[0]!;
  const ka = analyticsClient(stack.runtimes[0]!.endpoint);
  const inArn = await createStream(k, 'par-in', 4);
  await createStream(k, 'par-out', 1);
  const input = (count: number) => ({
    NamePrefix: 'SOURCE_SQL_STREAM', InputParallelism: { Count: count }, KinesisStreamsInput: { ResourceARN: inArn, RoleARN: 'r' },
    InputSchema: { RecordFormat: { RecordFormatType: 'JSON' as const, MappingParameters: { JSONMappingParameters: { RecordRowPath: '$' } } }, RecordColumns: [{ Name: 'ID', SqlType: 'INTEGER', Mapping: '$.id' }] },
  });
  for (const bad of [0, 65]) {
    const e = await ka.send(new CreateApplicationCommand({ ApplicationName: `par-${bad}`, Inputs: [input(bad)] })).catch((x) => x);
    expect(e.name).toBe('ValidationException');
    expect(e.message).toContain("at 'inputs.1.member.inputParallelism.count'");
  }
  // The code may read every in-application stream of the input; a stream past the parallelism does not exist.
  const code = (n: number) => `CREATE OR REPLACE STREAM "OUT" (ID INTEGER);
CREATE OR REPLACE PUMP "P" AS INSERT INTO "OUT" SELECT STREAM ID FROM "SOURCE_SQL_STREAM_00${n}";`;
  const e3 = await ka.send(new CreateApplicationCommand({ ApplicationName: 'par-3', ApplicationCode: code(3), Inputs: [input(2)] })).catch((x) => x);
  expect(e3.name).toBe('CodeValidationException');
  expect(e3.message).toContain('SOURCE_SQL_STREAM_003');
  await ka.send(new CreateApplicationCommand({ ApplicationName: 'par-2', ApplicationCode: code(2), Inputs: [input(2)] }));
  const d = (await ka.send(new DescribeApplicationCommand({ ApplicationName: 'par-2' }))).ApplicationDetail!;
  expect(d.InputDescriptions![0]!.InAppStreamNames).toEqual(['SOURCE_SQL_STREAM_001', 'SOURCE_SQL_STREAM_002']);
  ka.destroy();

  const w = startWorker({
    applicationName: 'par', natsUrl: stack.nats.url, startingPosition: 'TRIM_HORIZON', leaseMs: 3000, idleWatermarkLagMs: 300, checkpointIntervalMs: 1000,
    application: {
      name: 'par',
      code: `CREATE OR REPLACE STREAM "OUT" (ID INTEGER, SRC VARCHAR(4));
CREATE OR REPLACE PUMP "P1" AS INSERT INTO "OUT" SELECT STREAM ID, 'one' FROM "SOURCE_SQL_STREAM_001";
CREATE OR REPLACE PUMP "P2" AS INSERT INTO "OUT" SELECT STREAM ID, 'two' FROM "SOURCE_SQL_STREAM_002";`,
      inputs: [{ id: '1.1', namePrefix: 'SOURCE_SQL_STREAM', parallelism: 2, source: { kind: 'stream', name: 'par-in' }, format: { type: 'JSON', rowPath: '$' }, columns: [{ name: 'ID', sqlType: 'INTEGER', mapping: '$.id' }] }],
      outputs: [{ id: '1.1', name: 'OUT', destination: { kind: 'stream', name: 'par-out' }, format: 'JSON' }],
    },
  });
  workers.push(w);
  await putJson(k, 'par-in', Array.from({ length: 200 }, (_, i) => ({ id: i })));
  const rows = await waitFor('200 rows', async () => { const r = await readAll(k, 'par-out'); return r.length >= 200 ? r : undefined; }, 30000);
  expect(w.logs()).toMatch(/pass-through: every pump is stateless/);
  const shardOf = new Map((await readAll(k, 'par-in')).map((r) => [JSON.parse(r.data).id as number, r.shardId]));
  const out = rows.map((r) => JSON.parse(r.data) as { ID: number; SRC: string });
  expect(out.map((r) => r.ID).sort((a, b) => a - b)).toEqual(Array.from({ length: 200 }, (_, i) => i));
  // Shards are dealt out by index: even shards feed _001, odd ones _002.
  for (const r of out) expect(r.SRC).toBe(Number(/(\d+)$/.exec(shardOf.get(r.ID)!)![1]) % 2 === 0 ? 'one' : 'two');
  expect(new Set(out.map((r) => r.SRC))).toEqual(new Set(['one', 'two']));
  await w.kill('SIGTERM');
}, 90000);

test('AnalyticsApp inputs take a parallelism of 1–64 into the worker\'s definition', () => {
  const input = (parallelism?: number) => ({ name: 'SOURCE_SQL_STREAM_001', dataStreamRef: { name: 's' }, columns: [{ name: 'ID', sqlType: 'INTEGER' }], ...(parallelism === undefined ? {} : { parallelism }) });
  const spec = (p?: number) => AnalyticsAppSpec.safeParse({ inputs: [input(p)], sql: 'x' });
  expect(spec(0).success).toBe(false);
  expect(spec(65).success).toBe(false);
  const ok = spec(2);
  if (!ok.success) throw ok.error;
  const app = { metadata: { name: 'p', namespace: 'n' } } as any;
  const def = analyticsDefinition(app, ok.data, new Map());
  expect(def.inputs[0]!.parallelism).toBe(2);
  expect(analyticsDefinition(app, spec(undefined).data!, new Map()).inputs[0]!.parallelism).toBe(1);
});
