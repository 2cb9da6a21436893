// A pass-through application with a reference-data join (a CSV object in S3,
// s3rver) on two `shardline analytics` processes: each loads the table, joins
// the rows of the shards it leases and emits them; every row once, equal to a
// JavaScript oracle over the records read back. (AnalyticsApp resources carry
// no reference data; the worker config does, as for API-created applications.)
import { S3Client, PutObjectCommand } from '@aws-sdk/client-s3';
import { startS3, type S3Server } from '../harness/s3.js';
import { startStack, type Stack } from '../harness/runtime.js';
import { createStream, putJson, readAll, sleep, startWorker, waitFor, type WorkerProcess } from './helpers.js';

let stack: Stack;
let s3: S3Server;
let s3Endpoint: string;
const workers: WorkerProcess[] = [];

beforeAll(async () => {
  stack = await startStack(1);
  s3 = await startS3();
  await s3.createBucket('refs');
  s3Endpoint = s3.endpoint;
});

afterAll(async () => {
  for (const w of workers) await w.kill();
  await s3?.stop();
  await stack?.stop();
});

test('a reference-data join runs on both replicas, each over the shards it leases: every row once, equal to the oracle', async () => {
  const k = stack.clients[0]!;
  const s3 = new S3Client({ endpoint: s3Endpoint, forcePathStyle: true, region: 'us-east-1', credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } });
  await s3.send(new PutObjectCommand({ Bucket: 'refs', Key: 'companies.csv', Body: 'AMZN,Amazon\nMSFT,Microsoft\nAAPL,Apple\n' }));
  s3.destroy();
  await createStream(k, 'ref-in', 4);
  await createStream(k, 'ref-out', 2);
  const config = {
    applicationName: 'ref-pass', natsUrl: stack.nats.url, startingPosition: 'TRIM_HORIZON', leaseMs: 3000, idleWatermarkLagMs: 300, checkpointIntervalMs: 1000, s3Endpoint,
    application: {
      name: 'ref-pass',
      code: `CREATE OR REPLACE STREAM "OUT" (ID INTEGER, TICKER VARCHAR(4), COMPANY VARCHAR(20), PRICE DOUBLE);
CREATE OR REPLACE PUMP "P" AS INSERT INTO "OUT"
  SELECT STREAM s.ID, s.TICKER, "c"."Company", s.PRICE * 2
  FROM "SOURCE_SQL_STREAM_001" AS s LEFT JOIN "CompanyName" AS "c" ON s.TICKER = "c"."Ticker"
  WHERE s.PRICE > 1;`,
      inputs: [{ id: '1.1', namePrefix: 'SOURCE_SQL_STREAM', source: { kind: 'stream', name: 'ref-in' }, format: { type: 'JSON', rowPath: '$' }, columns: [
        { name: 'ID', sqlType: 'INTEGER', mapping: '$.id' }, { name: 'TICKER', sqlType: 'VARCHAR(4)', mapping: '$.ticker' }, { name: 'PRICE', sqlType: 'DOUBLE', mapping: '$.price' },
      ] }],
      outputs: [{ id: '1.1', name: 'OUT', destination: { kind: 'stream', name: 'ref-out' }, format: 'JSON' }],
      references: [{ id: '2.1', tableName: 'CompanyName', s3: { bucket: 'refs', key: 'companies.csv' }, format: { type: 'CSV', rowDelimiter: '\n', columnDelimiter: ',' }, columns: [{ name: 'Ticker', sqlType: 'VARCHAR(4)' }, { name: 'Company', sqlType: 'VARCHAR(20)' }] }],
    },
  };
  const a = startWorker(config, { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' });
  const b = startWorker(config, { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' });
  workers.push(a, b);
  const tickers = ['AMZN', 'MSFT', 'AAPL', 'TSLA'];
  let n = 0;
  const took = (w: WorkerProcess) => /took shardId-/.test(w.logs());
  const until = Date.now() + 40_000;
  while (!(took(a) && took(b)) || n < 1000) {
    if (Date.now() > until) throw new Error(`both replicas never held shards: ${a.logs()}\n${b.logs()}`);
    await putJson(k, 'ref-in', Array.from({ length: 50 }, () => { n++; return { id: n, ticker: tickers[n % 4], price: n % 5 }; }));
    await sleep(100);
  }
  for (const w of [a, b]) expect(w.logs()).toMatch(/pass-through: every pump is stateless/);
  const names: Record<string, string | null> = { AMZN: 'Amazon', MSFT: 'Microsoft', AAPL: 'Apple', TSLA: null };
  const expected = (await readAll(k, 'ref-in')).map((r) => JSON.parse(r.data)).filter((d) => d.price > 1)
    .map((d) => JSON.stringify({ ID: d.id, TICKER: d.ticker, COMPANY: names[d.ticker], PRICE: d.price * 2 })).sort();
  await waitFor('every row', async () => (await readAll(k, 'ref-out')).length >= expected.length, 30_000);
  await sleep(1000);
  expect((await readAll(k, 'ref-out')).map((r) => r.data).sort()).toEqual(expected);
}, 90_000);
