// KinesisFirehoseInput: an application reading a delivery stream sees the
// records put into it. A Direct PUT delivery stream fed with Firehose
// PutRecordBatch, read by an application created through
// @aws-sdk/client-kinesis-analytics and run by a real `shardline analytics`
// process (one active replica); a delivery stream with a Kinesis source, read
// by an AnalyticsApp-style inline definition in two-phase mode (partials and
// combiner). Oracles: tumbling counts computed here from the records put and
// their stored arrival times. Then a missing delivery stream: StartApplication
// refuses it, and a worker whose input vanished reports it on the application;
// DiscoverInputSchema and UpdateApplication with delivery stream ARNs.
import { FirehoseClient, CreateDeliveryStreamCommand, DeleteDeliveryStreamCommand, DescribeDeliveryStreamCommand, PutRecordBatchCommand } from '@aws-sdk/client-firehose';
import {
  CreateApplicationCommand, DescribeApplicationCommand, DiscoverInputSchemaCommand, StartApplicationCommand, UpdateApplicationCommand, type KinesisAnalyticsClient,
} from '@aws-sdk/client-kinesis-analytics';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { startStack, TEST_CREDENTIALS, type Stack } from '../harness/runtime.js';
import { connectStore, type Store } from '../../stream/connect.js';
import { getStream } from '../../stream/streams.js';
import { readBatch } from '../../stream/shardReader.js';
import { analyticsClient, createStream, putJson, readAll, sleep, startWorker, waitFor, type WorkerProcess } from './helpers.js';

const ROLE = 'arn:aws:iam::000000000000:role/x';
const PAGES = ['home', 'cart', 'search', 'item'];
const ts = (ms: number) => new Date(ms).toISOString().replace('T', ' ').replace('Z', '');

const CODE = `CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (PAGE VARCHAR(8), VIEWS INTEGER, WINDOW_START TIMESTAMP);
CREATE OR REPLACE PUMP "STREAM_PUMP" AS
  INSERT INTO "DESTINATION_SQL_STREAM"
    SELECT STREAM PAGE, COUNT(*) AS VIEWS, STEP("SOURCE_SQL_STREAM_001".ROWTIME BY INTERVAL '2' SECOND)
    FROM "SOURCE_SQL_STREAM_001"
    GROUP BY PAGE, STEP("SOURCE_SQL_STREAM_001".ROWTIME BY INTERVAL '2' SECOND);`;

const schema = {
  RecordFormat: { RecordFormatType: 'JSON' as const, MappingParameters: { JSONMappingParameters: { RecordRowPath: '$' } } },
  RecordEncoding: 'UTF-8',
  RecordColumns: [
    { Name: 'PAGE', SqlType: 'VARCHAR(8)', Mapping: '$.page' },
    { Name: 'USER_ID', SqlType: 'INTEGER', Mapping: '$.user' },
  ],
};

let stack: Stack;
let fh: FirehoseClient;
let ka: KinesisAnalyticsClient;
let store: Store;
const workers: WorkerProcess[] = [];

beforeAll(async () => {
  stack = await startStack(1);
  fh = new FirehoseClient({ endpoint: stack.runtimes[0]!.endpoint, region: 'us-east-1', credentials: TEST_CREDENTIALS, maxAttempts: 1, requestHandler: new NodeHttpHandler() });
  ka = analyticsClient(stack.runtimes[0]!.endpoint);
  store = await connectStore({ natsUrl: stack.nats.url });
});

afterAll(async () => {
  for (const w of workers) await w.kill();
  fh?.destroy();
  ka?.destroy();
  await store?.close();
  await stack?.stop();
});

const s3 = { RoleARN: ROLE, BucketARN: 'arn:aws:s3:::unused', BufferingHints: { SizeInMBs: 1, IntervalInSeconds: 60 } };

async function createDeliveryStream(name: string, sourceArn?: string): Promise<string> {
  await fh.send(new CreateDeliveryStreamCommand({
    DeliveryStreamName: name,
    DeliveryStreamType: sourceArn ? 'KinesisStreamAsSource' : 'DirectPut',
    ...(sourceArn ? { KinesisStreamSourceConfiguration: { KinesisStreamARN: sourceArn, RoleARN: ROLE } } : {}),
    ExtendedS3DestinationConfiguration: s3,
  }));
  return waitFor(`${name} ACTIVE`, async () => {
    const d = (await fh.send(new DescribeDeliveryStreamCommand({ DeliveryStreamName: name }))).DeliveryStreamDescription!;
    return d.DeliveryStreamStatus === 'ACTIVE' ? d.DeliveryStreamARN! : undefined;
  });
}

const doc = (n: number) => ({ page: PAGES[(n * 7 + (n >> 3)) % PAGES.length], user: n });

/** Counts per page and 2 s window of arrival: the rows the application must emit. */
function oracle(records: { data: string; arrivalMs: number }[]): string[] {
  const m = new Map<string, number>();
  for (const r of records) {
    const k = JSON.stringify([(JSON.parse(r.data) as { page: string }).page, ts(Math.floor(r.arrivalMs / 2000) * 2000)]);
    m.set(k, (m.get(k) ?? 0) + 1);
  }
  return [...m].map(([k, n]) => { const [p, w] = JSON.parse(k); return JSON.stringify({ PAGE: p, VIEWS: n, WINDOW_START: w }); }).sort();
}

/** What a Direct PUT delivery stream holds, with arrival times, read from its backing stream through the shard reader. */
async function backingRecords(deliveryStream: string): Promise<{ data: string; arrivalMs: number }[]> {
  const s = (await getStream(store, `firehose/${deliveryStream}`))!;
  const out: { data: string; arrivalMs: number }[] = [];
  for (const shard of s.shards) {
    let from = { jsSeq: 0, index: 0 };
    for (;;) {
      const b = await readBatch(store, s, shard.shardId, from, { limit: 10000, maxBytes: 8 << 20 });
      for (const r of b.records) out.push({ data: Buffer.from(r.data).toString('utf8'), arrivalMs: r.arrivalMs });
      if (b.records.length === 0) break;
      from = b.next;
    }
  }
  return out;
}

async function rowsOf(stream: string, want: number): Promise<string[]> {
  const k = stack.clients[0]!;
  await waitFor(`${want} rows in ${stream}`, async () => (await readAll(k, stream)).length >= want, 30000);
  await sleep(1000);
  return (await readAll(k, stream)).map((r) => r.data).sort();
}

test('a Direct PUT delivery stream fed by PutRecordBatch, read through KinesisFirehoseInput: tumbling counts equal the oracle', async () => {
  const k = stack.clients[0]!;
  const dsArn = await createDeliveryStream('clicks');
  const outArn = await createStream(k, 'click-counts', 1);
  await ka.send(new CreateApplicationCommand({
    ApplicationName: 'clicks-by-page',
    ApplicationCode: CODE,
    Inputs: [{ NamePrefix: 'SOURCE_SQL_STREAM', KinesisFirehoseInput: { ResourceARN: dsArn, RoleARN: ROLE }, InputSchema: schema }],
    Outputs: [{ Name: 'DESTINATION_SQL_STREAM', KinesisStreamsOutput: { ResourceARN: outArn, RoleARN: ROLE }, DestinationSchema: { RecordFormatType: 'JSON' } }],
  }));
  const d = await ka.send(new DescribeApplicationCommand({ ApplicationName: 'clicks-by-page' }));
  expect(d.ApplicationDetail!.InputDescriptions![0]!.KinesisFirehoseInputDescription!.ResourceARN).toBe(dsArn);

  // Some records before the start (read from TRIM_HORIZON), the rest while it runs.
  let n = 0;
  const put = async (count: number) => {
    const r = await fh.send(new PutRecordBatchCommand({
      DeliveryStreamName: 'clicks',
      Records: Array.from({ length: count }, () => ({ Data: Buffer.from(JSON.stringify(doc(n++)) + '\n') })),
    }));
    expect(r.FailedPutCount).toBe(0);
  };
  await put(40);
  const w = startWorker({ applicationName: 'clicks-by-page', natsUrl: stack.nats.url, leaseMs: 600, idleWatermarkLagMs: 300, checkpointIntervalMs: 250 });
  workers.push(w);
  await ka.send(new StartApplicationCommand({
    ApplicationName: 'clicks-by-page',
    InputConfigurations: [{ Id: d.ApplicationDetail!.InputDescriptions![0]!.InputId!, InputStartingPositionConfiguration: { InputStartingPosition: 'TRIM_HORIZON' } }],
  }));
  await waitFor('RUNNING', async () => (await ka.send(new DescribeApplicationCommand({ ApplicationName: 'clicks-by-page' }))).ApplicationDetail!.ApplicationStatus === 'RUNNING');
  const until = Date.now() + 5000;
  while (Date.now() < until) {
    await put(25);
    await sleep(150);
  }

  const stored = await backingRecords('clicks');
  // The oracle's input is exactly what was put.
  expect(stored.map((r) => JSON.parse(r.data).user).sort((a, b) => a - b)).toEqual(Array.from({ length: n }, (_, i) => i));
  const want = oracle(stored);
  expect(want.length).toBeGreaterThan(8);
  expect(await rowsOf('click-counts', want.length)).toEqual(want);
  expect(w.logs()).not.toMatch(/Error:|cannot run/);

  // DiscoverInputSchema on the delivery stream samples the same records.
  const found = await ka.send(new DiscoverInputSchemaCommand({ ResourceARN: dsArn, RoleARN: ROLE, InputStartingPositionConfiguration: { InputStartingPosition: 'TRIM_HORIZON' } }));
  expect(found.InputSchema!.RecordColumns!.map((c) => [c.Name, c.Mapping]).sort()).toEqual([['PAGE', '$.page'], ['USER', '$.user']]);
  expect(found.RawInputRecords!.length).toBeGreaterThan(0);
  for (const r of found.RawInputRecords!) expect(PAGES).toContain(JSON.parse(r).page);
});

test('a delivery stream with a Kinesis source, read in two-phase mode: tumbling counts equal the oracle', async () => {
  const k = stack.clients[0]!;
  const srcArn = await createStream(k, 'page-views', 3);
  await createDeliveryStream('views-archive', srcArn);
  await createStream(k, 'view-counts', 1);
  // What the operator gives an AnalyticsApp worker: the definition inline.
  const application = {
    name: 'k8s.default.views',
    code: CODE,
    inputs: [{
      id: '1.1', namePrefix: 'SOURCE_SQL_STREAM', source: { kind: 'firehose', name: 'views-archive' },
      format: { type: 'JSON', rowPath: '$' },
      columns: [{ name: 'PAGE', sqlType: 'VARCHAR(8)', mapping: '$.page' }, { name: 'USER_ID', sqlType: 'INTEGER', mapping: '$.user' }],
    }],
    outputs: [{ id: '1.1', name: 'DESTINATION_SQL_STREAM', destination: { kind: 'stream', name: 'view-counts' }, format: 'JSON' }],
  };
  let n = 0;
  const docs = (count: number) => Array.from({ length: count }, () => doc(n++));
  await putJson(k, 'page-views', docs(60));
  const config = { applicationName: 'k8s.default.views', natsUrl: stack.nats.url, application, startingPosition: 'TRIM_HORIZON', leaseMs: 600, idleWatermarkLagMs: 300, checkpointIntervalMs: 250 };
  const a = startWorker(config);
  const b = startWorker(config);
  workers.push(a, b);
  await waitFor('two-phase mode', async () => /two-phase aggregation/.test(a.logs()) && /two-phase aggregation/.test(b.logs()), 20000);
  const until = Date.now() + 5000;
  while (Date.now() < until) {
    await putJson(k, 'page-views', docs(30));
    await sleep(150);
  }

  const input = await readAll(k, 'page-views');
  expect(input.length).toBe(n);
  const want = oracle(input);
  expect(want.length).toBeGreaterThan(8);
  expect(await rowsOf('view-counts', want.length)).toEqual(want);
  for (const w of [a, b]) expect(w.logs()).not.toMatch(/Error:|does not exist/);
});

test('a missing delivery stream: StartApplication refuses it; a worker whose input vanished reports it on the application', async () => {
  const k = stack.clients[0]!;
  const dsArn = await createDeliveryStream('short-lived');
  const outArn = await createStream(k, 'short-out', 1);
  await ka.send(new CreateApplicationCommand({
    ApplicationName: 'short',
    ApplicationCode: CODE,
    Inputs: [{ NamePrefix: 'SOURCE_SQL_STREAM', KinesisFirehoseInput: { ResourceARN: dsArn, RoleARN: ROLE }, InputSchema: schema }],
    Outputs: [{ Name: 'DESTINATION_SQL_STREAM', KinesisStreamsOutput: { ResourceARN: outArn, RoleARN: ROLE }, DestinationSchema: { RecordFormatType: 'JSON' } }],
  }));
  const id = (await ka.send(new DescribeApplicationCommand({ ApplicationName: 'short' }))).ApplicationDetail!.InputDescriptions![0]!.InputId!;
  const start = () => ka.send(new StartApplicationCommand({ ApplicationName: 'short', InputConfigurations: [{ Id: id, InputStartingPositionConfiguration: { InputStartingPosition: 'NOW' } }] }));

  // Started while it exists, deleted before a worker runs the application.
  await start();
  await fh.send(new DeleteDeliveryStreamCommand({ DeliveryStreamName: 'short-lived' }));
  await waitFor('deleted', async () => fh.send(new DescribeDeliveryStreamCommand({ DeliveryStreamName: 'short-lived' })).then(() => false, (e) => e.name === 'ResourceNotFoundException'));
  const w = startWorker({ applicationName: 'short', natsUrl: stack.nats.url, leaseMs: 600, idleWatermarkLagMs: 300, checkpointIntervalMs: 250 });
  workers.push(w);
  await waitFor('READY again', async () => (await ka.send(new DescribeApplicationCommand({ ApplicationName: 'short' }))).ApplicationDetail!.ApplicationStatus === 'READY', 20000);
  expect(w.logs()).toMatch(/cannot run: input 1\.1: delivery stream short-lived does not exist/);

  await expect(start()).rejects.toMatchObject({ name: 'InvalidApplicationConfigurationException', message: 'Input delivery stream short-lived does not exist.' });
  await expect(ka.send(new DiscoverInputSchemaCommand({ ResourceARN: dsArn, RoleARN: ROLE, InputStartingPositionConfiguration: { InputStartingPosition: 'NOW' } })))
    .rejects.toMatchObject({ name: 'ResourceNotFoundException', message: 'Delivery stream short-lived under account 000000000000 not found.' });

  // UpdateApplication points the input at another delivery stream; then it starts.
  const other = await createDeliveryStream('long-lived');
  const cur = (await ka.send(new DescribeApplicationCommand({ ApplicationName: 'short' }))).ApplicationDetail!;
  await ka.send(new UpdateApplicationCommand({
    ApplicationName: 'short', CurrentApplicationVersionId: cur.ApplicationVersionId!,
    ApplicationUpdate: { InputUpdates: [{ InputId: id, KinesisFirehoseInputUpdate: { ResourceARNUpdate: other, RoleARNUpdate: ROLE } }] },
  }));
  const updated = (await ka.send(new DescribeApplicationCommand({ ApplicationName: 'short' }))).ApplicationDetail!;
  expect(updated.InputDescriptions![0]!.KinesisFirehoseInputDescription!.ResourceARN).toBe(other);
  await start();
  await waitFor('RUNNING', async () => (await ka.send(new DescribeApplicationCommand({ ApplicationName: 'short' }))).ApplicationDetail!.ApplicationStatus === 'RUNNING', 20000);
});
