// A Kinesis Data Analytics SQL application from AWS's documentation (tumbling
// counts by ticker over the stock-ticker demo schema) created and started
// through @aws-sdk/client-kinesis-analytics unchanged, run by real
// `shardline analytics` processes that are killed mid-window: every window's
// row reaches the output DataStream exactly once, equal to an oracle computed
// here from the input records read back with GetRecords.
import {
  CreateApplicationCommand, DescribeApplicationCommand, StartApplicationCommand, StopApplicationCommand,
} from '@aws-sdk/client-kinesis-analytics';
import { startStack, type Stack } from '../harness/runtime.js';
import { analyticsClient, createStream, putJson, readAll, sleep, startWorker, waitFor, type WorkerProcess } from './helpers.js';

const TICKERS = ['AMZN', 'MSFT', 'AAPL', 'TSLA', 'GE'];
const ts = (ms: number) => new Date(ms).toISOString().replace('T', ' ').replace('Z', '');

// The documented example, with the window shortened from 60 to 2 seconds and
// the window's start selected too, so the oracle can tell windows apart.
const CODE = `CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (
    TICKER_SYMBOL VARCHAR(4),
    TICKER_COUNT INTEGER,
    WINDOW_START TIMESTAMP);

CREATE OR REPLACE PUMP "STREAM_PUMP" AS
  INSERT INTO "DESTINATION_SQL_STREAM"
    SELECT STREAM TICKER_SYMBOL, COUNT(*) AS TICKER_COUNT,
        STEP("SOURCE_SQL_STREAM_001".ROWTIME BY INTERVAL '2' SECOND)
    FROM "SOURCE_SQL_STREAM_001"
    GROUP BY TICKER_SYMBOL,
        STEP("SOURCE_SQL_STREAM_001".ROWTIME BY INTERVAL '2' SECOND);`;

const tickerSchema = {
  RecordFormat: { RecordFormatType: 'JSON' as const, MappingParameters: { JSONMappingParameters: { RecordRowPath: '$' } } },
  RecordEncoding: 'UTF-8',
  RecordColumns: [
    { Name: 'TICKER_SYMBOL', SqlType: 'VARCHAR(4)', Mapping: '$.TICKER_SYMBOL' },
    { Name: 'SECTOR', SqlType: 'VARCHAR(16)', Mapping: '$.SECTOR' },
    { Name: 'CHANGE', SqlType: 'REAL', Mapping: '$.CHANGE' },
    { Name: 'PRICE', SqlType: 'REAL', Mapping: '$.PRICE' },
  ],
};

let stack: Stack;
const workers: WorkerProcess[] = [];

beforeAll(async () => {
  stack = await startStack(1);
});

afterAll(async () => {
  for (const w of workers) await w.kill();
  await stack?.stop();
});

test('tumbling counts by ticker: SIGKILL before an emit, in the middle of one and mid-window; each window once, equal to the oracle', async () => {
  const k = stack.clients[0]!;
  const ka = analyticsClient(stack.runtimes[0]!.endpoint);
  const inArn = await createStream(k, 'ticker-in', 2);
  const outArn = await createStream(k, 'ticker-out', 2);
  const errArn = await createStream(k, 'ticker-errors', 1);
  const created = await ka.send(new CreateApplicationCommand({
    ApplicationName: 'ticker-counts',
    ApplicationCode: CODE,
    Inputs: [{ NamePrefix: 'SOURCE_SQL_STREAM', KinesisStreamsInput: { ResourceARN: inArn, RoleARN: 'arn:aws:iam::000000000000:role/x' }, InputSchema: tickerSchema }],
    Outputs: [
      { Name: 'DESTINATION_SQL_STREAM', KinesisStreamsOutput: { ResourceARN: outArn, RoleARN: 'arn:aws:iam::000000000000:role/x' }, DestinationSchema: { RecordFormatType: 'JSON' } },
      { Name: 'error_stream', KinesisStreamsOutput: { ResourceARN: errArn, RoleARN: 'arn:aws:iam::000000000000:role/x' }, DestinationSchema: { RecordFormatType: 'JSON' } },
    ],
  }));
  expect(created.ApplicationSummary!.ApplicationStatus).toBe('READY');
  const d = await ka.send(new DescribeApplicationCommand({ ApplicationName: 'ticker-counts' }));
  expect(d.ApplicationDetail!.InputDescriptions![0]!.InAppStreamNames).toEqual(['SOURCE_SQL_STREAM_001']);

  const config = { applicationName: 'ticker-counts', natsUrl: stack.nats.url, leaseMs: 600, idleWatermarkLagMs: 300, checkpointIntervalMs: 250 };
  // First worker dies right after checkpointing its first emit, before writing it.
  workers.push(startWorker(config, { SHARDLINE_TEST_CRASH_AT: 'before-emit' }));
  await ka.send(new StartApplicationCommand({
    ApplicationName: 'ticker-counts',
    InputConfigurations: [{ Id: d.ApplicationDetail!.InputDescriptions![0]!.InputId!, InputStartingPositionConfiguration: { InputStartingPosition: 'TRIM_HORIZON' } }],
  }));
  await waitFor('RUNNING', async () => (await ka.send(new DescribeApplicationCommand({ ApplicationName: 'ticker-counts' }))).ApplicationDetail!.ApplicationStatus === 'RUNNING');

  let bad = 0;
  const produce = async (ms: number) => {
    const until = Date.now() + ms;
    let n = 0;
    while (Date.now() < until) {
      const docs: unknown[] = [];
      for (let i = 0; i < 15; i++) {
        n++;
        docs.push({ TICKER_SYMBOL: TICKERS[(n * 7 + i) % TICKERS.length], SECTOR: 'TECH', CHANGE: (n % 7) - 3, PRICE: 10 + (n % 90) });
      }
      if (n % 4 === 0) { docs.push('not json {'); bad++; }
      if (n % 6 === 0) { docs.push({ TICKER_SYMBOL: 'TOOLONG', SECTOR: 'X', CHANGE: 0, PRICE: 1 }); bad++; }
      await putJson(k, 'ticker-in', docs);
      await sleep(120);
    }
  };
  await produce(2500);
  await waitFor('the first worker to crash', async () => workers[0]!.proc.exitCode !== null || workers[0]!.proc.signalCode !== null, 15000);
  // Second: dies after writing the first message of an emit.
  workers.push(startWorker(config, { SHARDLINE_TEST_CRASH_AT: 'mid-emit' }));
  await produce(2500);
  await waitFor('the second worker to crash', async () => workers[1]!.proc.exitCode !== null || workers[1]!.proc.signalCode !== null, 15000);
  // Third: SIGKILLed by the test in the middle of a window.
  workers.push(startWorker(config));
  await produce(1500);
  await workers[2]!.kill('SIGKILL');
  workers.push(startWorker(config));
  await produce(1500);

  // Oracle over the input as stored: count per ticker and 2 s window of arrival time.
  const input = await readAll(k, 'ticker-in');
  const expected = new Map<string, number>();
  let expectedBad = 0;
  for (const r of input) {
    let doc: { TICKER_SYMBOL?: unknown };
    try { doc = JSON.parse(r.data); } catch { expectedBad++; continue; }
    if (typeof doc.TICKER_SYMBOL !== 'string' || doc.TICKER_SYMBOL.length > 4) { expectedBad++; continue; }
    const key = JSON.stringify([doc.TICKER_SYMBOL, ts(Math.floor(r.arrivalMs / 2000) * 2000)]);
    expected.set(key, (expected.get(key) ?? 0) + 1);
  }
  expect(expectedBad).toBe(bad);
  const want = [...expected].map(([key, n]) => { const [t, w] = JSON.parse(key); return JSON.stringify({ TICKER_SYMBOL: t, TICKER_COUNT: n, WINDOW_START: w }); }).sort();
  expect(want.length).toBeGreaterThan(15);
  // Every window has closed once the watermark passes the last arrival's window.
  const got = await waitFor('every window', async () => {
    const rows = (await readAll(k, 'ticker-out')).map((r) => r.data).sort();
    return rows.length >= want.length ? rows : undefined;
  }, 30000);
  await sleep(1000);
  const final = (await readAll(k, 'ticker-out')).map((r) => r.data).sort();
  expect(final).toEqual(got);
  expect(final).toEqual(want);
  for (const w of workers.slice(0, 2)) expect(w.logs()).not.toMatch(/Error:/);
  expect(workers[1]!.logs() + workers[2]!.logs()).toMatch(/recovered emit/);

  // Records that do not map: one error_stream row each, with the reason.
  const errors = (await readAll(k, 'ticker-errors')).map((r) => JSON.parse(r.data));
  expect(errors.length).toBe(bad);
  expect(errors.every((e) => e.ERROR_NAME === 'MAPPING_ERROR')).toBe(true);
  expect(errors.some((e) => /not JSON/.test(e.MESSAGE))).toBe(true);
  expect(errors.some((e) => /longer than VARCHAR\(4\)/.test(e.MESSAGE) && e.DATA_ROW.includes('TOOLONG'))).toBe(true);

  await ka.send(new StopApplicationCommand({ ApplicationName: 'ticker-counts' }));
  await waitFor('READY', async () => (await ka.send(new DescribeApplicationCommand({ ApplicationName: 'ticker-counts' }))).ApplicationDetail!.ApplicationStatus === 'READY');
}, 120000);
