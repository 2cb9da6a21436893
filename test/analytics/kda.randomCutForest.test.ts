// The developer guide's anomaly detection example (RANDOM_CUT_FOREST over heart rates, its pump's
// SQL unchanged) created with the Kinesis Analytics SDK and run by real `shardline analytics`
// processes, records put with the Kinesis SDK, the worker SIGKILLed midway and started again:
// every input row comes out once with an ANOMALY_SCORE, the injected high heart rates score
// highest, and the scores equal those of one uninterrupted engine over the records as stored; and
// the SQL reference's RANDOM_CUT_FOREST_WITH_EXPLANATION stock ticker example the same way.
import { CreateApplicationCommand, DescribeApplicationCommand, StartApplicationCommand } from '@aws-sdk/client-kinesis-analytics';
import { startStack, type Stack } from '../harness/runtime.js';
import { analyticsClient, createStream, putJson, readAll, sleep, startWorker, waitFor, type WorkerProcess } from './helpers.js';
import { Engine, type Row } from '../../analytics/engine/engine.js';

const ROLE = 'arn:aws:iam::000000000000:role/kda';
const CODE = `CREATE OR REPLACE STREAM "TEMP_STREAM" ("heartRate" INTEGER, "rateType" varchar(20), "ANOMALY_SCORE" DOUBLE);
CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "TEMP_STREAM"
  SELECT STREAM "heartRate", "rateType", ANOMALY_SCORE
  FROM TABLE(RANDOM_CUT_FOREST(CURSOR(SELECT STREAM * FROM "SOURCE_SQL_STREAM_001")));`;
const COLUMNS = [{ name: 'heartRate', sqlType: 'INTEGER' }, { name: 'rateType', sqlType: 'VARCHAR(20)' }];

let stack: Stack;
const workers: WorkerProcess[] = [];

beforeAll(async () => {
  stack = await startStack(1);
});

afterAll(async () => {
  for (const w of workers) await w.kill();
  await stack?.stop();
});

/** As the guide's generator: heart rates 60–100, and a few 150–200 marked HIGH. */
function heartRate(n: number, high: Set<number>) {
  return high.has(n) ? { heartRate: 150 + ((n * 37) % 51), rateType: 'HIGH' } : { heartRate: 60 + ((n * 7919) % 41), rateType: 'NORMAL' };
}

test('the guide example through the SDK: every row once with its score, the HIGH rows highest, a SIGKILL midway changes nothing', async () => {
  const k = stack.clients[0]!;
  const ka = analyticsClient(stack.runtimes[0]!.endpoint);
  // One input shard: the records' order in it is the order the forest sees them, which the oracle repeats.
  const inArn = await createStream(k, 'hr-in', 1);
  const outArn = await createStream(k, 'hr-out', 1);
  await ka.send(new CreateApplicationCommand({
    ApplicationName: 'heart-rates',
    ApplicationCode: CODE,
    Inputs: [{
      NamePrefix: 'SOURCE_SQL_STREAM',
      KinesisStreamsInput: { ResourceARN: inArn, RoleARN: ROLE },
      InputSchema: {
        RecordFormat: { RecordFormatType: 'JSON', MappingParameters: { JSONMappingParameters: { RecordRowPath: '$' } } },
        RecordEncoding: 'UTF-8',
        RecordColumns: COLUMNS.map((c) => ({ Name: c.name, SqlType: c.sqlType, Mapping: `$.${c.name}` })),
      },
    }],
    Outputs: [{ Name: 'TEMP_STREAM', KinesisStreamsOutput: { ResourceARN: outArn, RoleARN: ROLE }, DestinationSchema: { RecordFormatType: 'JSON' } }],
  }));
  const d = await ka.send(new DescribeApplicationCommand({ ApplicationName: 'heart-rates' }));
  const config = { applicationName: 'heart-rates', natsUrl: stack.nats.url, leaseMs: 600, idleWatermarkLagMs: 300, checkpointIntervalMs: 250 };
  workers.push(startWorker(config));
  await ka.send(new StartApplicationCommand({
    ApplicationName: 'heart-rates',
    InputConfigurations: [{ Id: d.ApplicationDetail!.InputDescriptions![0]!.InputId!, InputStartingPositionConfiguration: { InputStartingPosition: 'TRIM_HORIZON' } }],
  }));
  await waitFor('RUNNING', async () => (await ka.send(new DescribeApplicationCommand({ ApplicationName: 'heart-rates' }))).ApplicationDetail!.ApplicationStatus === 'RUNNING');

  const TOTAL = 700;
  const high = new Set([420, 530, 640]);
  const put = async (from: number, to: number) => {
    for (let n = from; n < to; n += 50) {
      await putJson(k, 'hr-in', Array.from({ length: Math.min(50, to - n) }, (_, i) => heartRate(n + i, high)));
      await sleep(60);
    }
  };
  await put(0, 450);
  // The forest has scored some rows (past the 256 it learns from) when the worker is killed.
  await waitFor('rows past the learning phase', async () => (await readAll(k, 'hr-out')).length >= 300, 60000);
  await workers[0]!.kill('SIGKILL');
  await put(450, TOTAL);
  workers.push(startWorker(config));
  const out = await waitFor('every row', async () => {
    const rows = await readAll(k, 'hr-out');
    return rows.length >= TOTAL ? rows : undefined;
  }, 60000);
  await sleep(1000);
  const final = (await readAll(k, 'hr-out')).map((r) => JSON.parse(r.data) as { heartRate: number; rateType: string; ANOMALY_SCORE: number });
  expect(final).toHaveLength(out.length);

  // Each input record once, in the stream's order, with a score.
  const input = (await readAll(k, 'hr-in')).map((r) => JSON.parse(r.data) as { heartRate: number; rateType: string });
  expect(input).toHaveLength(TOTAL);
  expect(final.map((o) => [o.heartRate, o.rateType])).toEqual(input.map((x) => [x.heartRate, x.rateType]));
  expect(final.every((o) => typeof o.ANOMALY_SCORE === 'number' && o.ANOMALY_SCORE >= 0)).toBe(true);
  expect(final.slice(0, 256).every((o) => o.ANOMALY_SCORE === 0)).toBe(true);
  // The HIGH rows are the three highest scores.
  const top = [...final].sort((a, b) => b.ANOMALY_SCORE - a.ANOMALY_SCORE).slice(0, high.size);
  expect(top.map((o) => o.rateType)).toEqual(['HIGH', 'HIGH', 'HIGH']);

  // The same scores as one engine that never stopped, fed the records as stored.
  const e = await Engine.compile({ code: CODE, inputs: [{ name: 'SOURCE_SQL_STREAM_001', columns: COLUMNS }] });
  const want: Row[] = [];
  try {
    await e.push('SOURCE_SQL_STREAM_001', input.map((x, i) => ({ t: i, v: [x.heartRate, x.rateType] })));
    want.push(...(e.drain().get('TEMP_STREAM') ?? []));
  } finally {
    e.close();
  }
  expect(final.map((o) => o.ANOMALY_SCORE)).toEqual(want.map((r) => r.v[2]));
  expect(workers[1]!.logs()).not.toMatch(/Error:/);
}, 180_000);

test("the reference's RANDOM_CUT_FOREST_WITH_EXPLANATION example through the SDK: scored rows with their explanation", async () => {
  const k = stack.clients[0]!;
  const ka = analyticsClient(stack.runtimes[0]!.endpoint);
  const inArn = await createStream(k, 'ticker-rcf-in', 1);
  const outArn = await createStream(k, 'ticker-rcf-out', 1);
  const code = `CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (anomaly REAL, ANOMALY_EXPLANATION VARCHAR(20480));
CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
SELECT "ANOMALY_SCORE", "ANOMALY_EXPLANATION" FROM TABLE (RANDOM_CUT_FOREST_WITH_EXPLANATION(CURSOR(SELECT STREAM * FROM "SOURCE_SQL_STREAM_001"), 100, 256, 100000, 1, true)) WHERE ANOMALY_SCORE > 0`;
  const cols = [['TICKER_SYMBOL', 'VARCHAR(4)'], ['SECTOR', 'VARCHAR(16)'], ['CHANGE', 'REAL'], ['PRICE', 'REAL']];
  await ka.send(new CreateApplicationCommand({
    ApplicationName: 'ticker-rcf',
    ApplicationCode: code,
    Inputs: [{
      NamePrefix: 'SOURCE_SQL_STREAM',
      KinesisStreamsInput: { ResourceARN: inArn, RoleARN: ROLE },
      InputSchema: {
        RecordFormat: { RecordFormatType: 'JSON', MappingParameters: { JSONMappingParameters: { RecordRowPath: '$' } } },
        RecordEncoding: 'UTF-8',
        RecordColumns: cols.map(([Name, SqlType]) => ({ Name, SqlType, Mapping: `$.${Name}` })),
      },
    }],
    Outputs: [{ Name: 'DESTINATION_SQL_STREAM', KinesisStreamsOutput: { ResourceARN: outArn, RoleARN: ROLE }, DestinationSchema: { RecordFormatType: 'JSON' } }],
  }));
  const d = await ka.send(new DescribeApplicationCommand({ ApplicationName: 'ticker-rcf' }));
  workers.push(startWorker({ applicationName: 'ticker-rcf', natsUrl: stack.nats.url, leaseMs: 600, idleWatermarkLagMs: 300, checkpointIntervalMs: 250 }));
  await ka.send(new StartApplicationCommand({
    ApplicationName: 'ticker-rcf',
    InputConfigurations: [{ Id: d.ApplicationDetail!.InputDescriptions![0]!.InputId!, InputStartingPositionConfiguration: { InputStartingPosition: 'TRIM_HORIZON' } }],
  }));
  // PRICE around 100 and CHANGE around 0; record 450's PRICE is far above.
  const TOTAL = 500;
  for (let n = 0; n < TOTAL; n += 100) {
    await putJson(k, 'ticker-rcf-in', Array.from({ length: 100 }, (_, i) => {
      const m = n + i;
      return { TICKER_SYMBOL: 'AMZN', SECTOR: 'TECH', CHANGE: ((m * 37) % 21) / 10 - 1, PRICE: m === 450 ? 400 : 95 + ((m * 53) % 11) };
    }));
  }
  const out = await waitFor('every scored row', async () => {
    const rows = await readAll(k, 'ticker-rcf-out');
    return rows.length >= TOTAL - 256 ? rows : undefined;
  }, 60000);
  await sleep(1000);
  const final = (await readAll(k, 'ticker-rcf-out')).map((r) => JSON.parse(r.data) as { ANOMALY: number; ANOMALY_EXPLANATION: string });
  // WHERE ANOMALY_SCORE > 0 leaves out the 256 rows of the learning phase.
  expect(final).toHaveLength(out.length);
  expect(final).toHaveLength(TOTAL - 256);
  type Explained = Record<string, { DIRECTION: string; STRENGTH: string; ATTRIBUTION_SCORE: string }>;
  for (const o of final) {
    const x = JSON.parse(o.ANOMALY_EXPLANATION) as Explained;
    expect(Object.keys(x)).toEqual(['CHANGE', 'PRICE']);
    // REAL output: the sum of the four-decimal attributions is the score to REAL's precision.
    expect(Math.abs(Number(x.CHANGE!.ATTRIBUTION_SCORE) + Number(x.PRICE!.ATTRIBUTION_SCORE) - o.ANOMALY)).toBeLessThan(1e-3);
  }
  const top = final.reduce((a, b) => (b.ANOMALY > a.ANOMALY ? b : a));
  const x = JSON.parse(top.ANOMALY_EXPLANATION) as Explained;
  expect(x.PRICE!.DIRECTION).toBe('HIGH');
  expect(Number(x.PRICE!.ATTRIBUTION_SCORE)).toBeGreaterThan(5 * Number(x.CHANGE!.ATTRIBUTION_SCORE));
  expect(final.indexOf(top)).toBe(450 - 256);
}, 120_000);
