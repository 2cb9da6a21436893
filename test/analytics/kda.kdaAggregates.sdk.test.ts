// KDA's FIRST_VALUE, LAST_VALUE, EXP_AVG and COUNT_DISTINCT_ITEMS_TUMBLING on the
// real path: an application created through @aws-sdk/client-kinesis-analytics,
// run by a real `shardline analytics` process, reading records put with the
// Kinesis SDK; each output stream equals an oracle computed here from the input
// records as stored (ROWTIME = arrival time, ties in the shard's order).
import { CreateApplicationCommand, DescribeApplicationCommand, StartApplicationCommand } from '@aws-sdk/client-kinesis-analytics';
import { startStack, type Stack } from '../harness/runtime.js';
import { analyticsClient, createStream, putJson, readAll, sleep, startWorker, waitFor, type WorkerProcess } from './helpers.js';

const ROLE = 'arn:aws:iam::000000000000:role/kda';
const SRC = 'SOURCE_SQL_STREAM_001';
// Three pumps, three outputs: FIRST/LAST per ticker of 2 s tumbling windows; the reference's
// EXP_AVG example (window and half-life shortened) with FIRST_VALUE over the same window; the
// reference's COUNT_DISTINCT_ITEMS_TUMBLING Example 1 with a 2 s window.
const CODE = `CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (TICKER_SYMBOL VARCHAR(4), FIRST_PRICE DOUBLE, LAST_PRICE DOUBLE, LAST_KNOWN DOUBLE);
CREATE OR REPLACE PUMP "FIRST_LAST_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
  SELECT STREAM TICKER_SYMBOL, FIRST_VALUE(PRICE), LAST_VALUE(PRICE), LAST_VALUE(PRICE) IGNORE NULLS
  FROM "${SRC}" GROUP BY TICKER_SYMBOL, STEP("${SRC}".ROWTIME BY INTERVAL '2' SECOND);

CREATE OR REPLACE STREAM "EXP_STREAM" (TICKER_SYMBOL VARCHAR(4), PRICE DOUBLE, AVG_PRICE DOUBLE, FIRST_PRICE DOUBLE);
CREATE OR REPLACE PUMP "EXP_PUMP" AS INSERT INTO "EXP_STREAM"
  select stream ticker_symbol, price, exp_avg(price, INTERVAL '1' SECOND) over w as avgPrice, first_value(price) over w
  from "${SRC}" window w as (partition by ticker_symbol range interval '2' second preceding);

CREATE OR REPLACE STREAM "DISTINCT_STREAM" (NUMBER_OF_DISTINCT_ITEMS BIGINT);
CREATE OR REPLACE PUMP "DISTINCT_PUMP" AS INSERT INTO "DISTINCT_STREAM"
  SELECT STREAM * FROM TABLE(COUNT_DISTINCT_ITEMS_TUMBLING(CURSOR(SELECT STREAM * FROM "${SRC}"), 'TICKER_SYMBOL', 2));`;

let stack: Stack;
const workers: WorkerProcess[] = [];

beforeAll(async () => {
  stack = await startStack(1);
});

afterAll(async () => {
  for (const w of workers) await w.kill();
  await stack?.stop();
});

type Rec = { TICKER_SYMBOL: string; PRICE: number | null; t: number; i: number };

test('FIRST_VALUE / LAST_VALUE, EXP_AVG and COUNT_DISTINCT_ITEMS_TUMBLING through the SDK and a worker equal their oracles', async () => {
  const k = stack.clients[0]!;
  const ka = analyticsClient(stack.runtimes[0]!.endpoint);
  // One input shard: its order is the arrival order that breaks ROWTIME ties.
  const inArn = await createStream(k, 'kagg-in', 1);
  const outs = { DESTINATION_SQL_STREAM: 'kagg-out', EXP_STREAM: 'kagg-exp', DISTINCT_STREAM: 'kagg-distinct' };
  const Outputs = [];
  for (const [Name, stream] of Object.entries(outs)) {
    Outputs.push({ Name, KinesisStreamsOutput: { ResourceARN: await createStream(k, stream, 1), RoleARN: ROLE }, DestinationSchema: { RecordFormatType: 'JSON' as const } });
  }
  await ka.send(new CreateApplicationCommand({
    ApplicationName: 'kda-aggregates',
    ApplicationCode: CODE,
    Inputs: [{
      NamePrefix: 'SOURCE_SQL_STREAM', KinesisStreamsInput: { ResourceARN: inArn, RoleARN: ROLE },
      InputSchema: {
        RecordFormat: { RecordFormatType: 'JSON', MappingParameters: { JSONMappingParameters: { RecordRowPath: '$' } } }, RecordEncoding: 'UTF-8',
        RecordColumns: [{ Name: 'TICKER_SYMBOL', SqlType: 'VARCHAR(4)', Mapping: '$.TICKER_SYMBOL' }, { Name: 'PRICE', SqlType: 'DOUBLE', Mapping: '$.PRICE' }],
      },
    }],
    Outputs,
  }));
  workers.push(startWorker({ applicationName: 'kda-aggregates', natsUrl: stack.nats.url, leaseMs: 600, idleWatermarkLagMs: 300, checkpointIntervalMs: 250 }));
  const d = await ka.send(new DescribeApplicationCommand({ ApplicationName: 'kda-aggregates' }));
  await ka.send(new StartApplicationCommand({
    ApplicationName: 'kda-aggregates',
    InputConfigurations: [{ Id: d.ApplicationDetail!.InputDescriptions![0]!.InputId!, InputStartingPositionConfiguration: { InputStartingPosition: 'TRIM_HORIZON' } }],
  }));
  await waitFor('RUNNING', async () => (await ka.send(new DescribeApplicationCommand({ ApplicationName: 'kda-aggregates' }))).ApplicationDetail!.ApplicationStatus === 'RUNNING');

  // 4 s of records, 8 at a time (many share an arrival millisecond); every price unique so first and
  // last name one record; every 7th price NULL; the set of tickers grows, so distinct counts differ.
  const until = Date.now() + 4000;
  for (let n = 0, round = 0; Date.now() < until; round++) {
    await putJson(k, 'kagg-in', Array.from({ length: 8 }, () => {
      n++;
      return { TICKER_SYMBOL: `T${n % (2 + Math.floor(round / 4))}`, PRICE: n % 7 === 0 ? null : n };
    }));
    await sleep(150);
  }
  const input: Rec[] = (await readAll(k, 'kagg-in')).map((r, i) => ({ ...JSON.parse(r.data), t: r.arrivalMs, i }));
  input.sort((a, b) => a.t - b.t || a.i - b.i);

  const groups = new Map<string, Rec[]>();
  for (const x of input) {
    const key = `${Math.floor(x.t / 2000)}|${x.TICKER_SYMBOL}`;
    groups.set(key, [...(groups.get(key) ?? []), x]);
  }
  const firstLast = [...groups.values()].map((g) => {
    const known = g.filter((x) => x.PRICE !== null);
    return JSON.stringify([g[0]!.TICKER_SYMBOL, g[0]!.PRICE, g[g.length - 1]!.PRICE, known[known.length - 1]?.PRICE ?? null]);
  }).sort();
  const exp = input.map((x) => {
    // The frame ends at the current row: of its ROWTIME, the rows read before it (one shard: in sequence order).
    const frame = input.filter((y) => y.TICKER_SYMBOL === x.TICKER_SYMBOL && (y.t < x.t || (y.t === x.t && y.i <= x.i)) && y.t >= x.t - 2000);
    const known = frame.filter((y) => y.PRICE !== null);
    const newest = Math.max(...known.map((y) => y.t));
    const w = known.map((y) => 2 ** ((y.t - newest) / 1000));
    const avg = known.length ? known.reduce((s, y, j) => s + y.PRICE! * w[j]!, 0) / w.reduce((s, v) => s + v, 0) : null;
    return JSON.stringify([x.TICKER_SYMBOL, x.PRICE, avg?.toFixed(6) ?? null, frame[0]!.PRICE]);
  }).sort();
  const windows = new Map<number, Set<string>>();
  for (const x of input) windows.set(Math.floor(x.t / 2000), (windows.get(Math.floor(x.t / 2000)) ?? new Set()).add(x.TICKER_SYMBOL));
  const distinct = [...windows.values()].map((s) => s.size).sort();
  expect(new Set(distinct).size).toBeGreaterThan(1);

  const read = async (stream: string, n: number) => waitFor(`${n} rows in ${stream}`, async () => {
    const rows = await readAll(k, stream);
    return rows.length >= n ? rows.map((r) => JSON.parse(r.data) as Record<string, number | string | null>) : undefined;
  }, 30_000);
  const gotFirstLast = await read('kagg-out', firstLast.length);
  expect(gotFirstLast.map((o) => JSON.stringify([o.TICKER_SYMBOL, o.FIRST_PRICE, o.LAST_PRICE, o.LAST_KNOWN])).sort()).toEqual(firstLast);
  const gotExp = await read('kagg-exp', exp.length);
  expect(gotExp.map((o) => JSON.stringify([o.TICKER_SYMBOL, o.PRICE, o.AVG_PRICE === null ? null : (o.AVG_PRICE as number).toFixed(6), o.FIRST_PRICE])).sort()).toEqual(exp);
  const gotDistinct = await read('kagg-distinct', distinct.length);
  expect(gotDistinct.map((o) => o.NUMBER_OF_DISTINCT_ITEMS).sort()).toEqual(distinct);
  // Nothing more comes: each window once.
  await sleep(1000);
  expect((await readAll(k, 'kagg-out')).length).toBe(firstLast.length);
  expect((await readAll(k, 'kagg-distinct')).length).toBe(distinct.length);
}, 90_000);
