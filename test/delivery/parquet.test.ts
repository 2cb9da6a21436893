// Record format conversion end to end (real nats-server, runtime, s3rver,
// `shardline delivery` process, AWS SDK and CLI): a DeliveryStream resource's
// inline schema through the operator's definition step, the Firehose API
// naming that table, Parquet objects read back by DuckDB, failed records in
// the error prefix as format-conversion-failed, and the API's validation.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  type FirehoseClient, CreateDeliveryStreamCommand, PutRecordBatchCommand, UpdateDestinationCommand,
  type ExtendedS3DestinationConfiguration,
} from '@aws-sdk/client-firehose';
import { TEST_CREDENTIALS } from '../harness/runtime.js';
import type { S3Server } from '../harness/s3.js';
import { ROLE, jsonServer, startDeliveryStack, type DeliveryStack } from '../harness/delivery.js';
import { readParquet } from '../harness/parquetRead.js';
import type { RunningRuntime } from '../../runtime/server.js';
import { DeliveryStreamSpec, type DeliveryStream } from '../../crds/schema/deliverystream.js';
import { deliveryDefinitionOf } from '../../operator/model/deliveryDefinition.js';
import { ensureDeliveryDefinition, openDeliveryStore } from '../../stream/deliveryStreams.js';

const AWS_CLI = '/usr/bin/aws';
const BUCKET = 'lake';
const COLUMNS = [
  { name: 'id', type: 'int' },
  { name: 'user', type: 'struct<name:string,tags:array<string>>' },
  { name: 'amount', type: 'decimal(12,2)' },
  { name: 'at', type: 'timestamp' },
];

let stack: DeliveryStack;
let rt: RunningRuntime & { endpoint: string };
let s3: S3Server;
let fh: FirehoseClient;
let home: string;

beforeAll(async () => {
  stack = await startDeliveryStack({ buckets: [BUCKET] });
  ({ rt, s3, fh } = stack);
  home = fs.mkdtempSync(path.join(os.tmpdir(), 'shardline-aws-'));
});
afterAll(async () => {
  await stack?.stop();
  if (home) fs.rmSync(home, { recursive: true, force: true });
});

const worker = (name: string) => stack.worker(name);

async function waitForKeys(prefix: string, n: number, timeoutMs = 30_000): Promise<string[]> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const keys = await s3.list(BUCKET, prefix);
    if (keys.length >= n) return keys;
    if (Date.now() > until) throw new Error(`timed out; objects so far: ${keys.join(', ')}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function put(name: string, records: string[]) {
  const out = await fh.send(new PutRecordBatchCommand({ DeliveryStreamName: name, Records: records.map((r) => ({ Data: Buffer.from(r) })) }));
  expect(out.FailedPutCount).toBe(0);
}

const waitActive = (name: string) => stack.waitActive(name);

const GOOD = [
  { id: 1, user: { name: 'ada', tags: ['a', 'b'] }, amount: 12.5, at: '2024-05-01T10:00:00.250Z' },
  { id: 2, user: null, amount: '0.01', at: 1714557600 },
  { ID: 3, User: { Name: 'bob', tags: [] } },
];

test('a DeliveryStream resource with format PARQUET: Parquet objects DuckDB reads, failures to the error prefix', async () => {
  const spec = DeliveryStreamSpec.parse({
    source: { type: 'DirectPut' }, buffering: { sizeMiB: 1, intervalSeconds: 0 },
    s3: { bucket: BUCKET, endpoint: s3.endpoint, prefix: 'orders/', errorOutputPrefix: 'failed/!{firehose:error-output-type}/', format: 'PARQUET', parquet: { schema: { databaseName: 'shop', tableName: 'orders', columns: COLUMNS } } },
  });
  const d: DeliveryStream = { apiVersion: 'shardline.dev/v1alpha1', kind: 'DeliveryStream', metadata: { name: 'orders-pq', namespace: 'shop', uid: 'u-pq', generation: 1 }, spec };
  const defn = deliveryDefinitionOf(d, spec, undefined, 'us-east-1', '000000000000');
  if (!defn.ok) throw new Error(defn.message);
  await ensureDeliveryDefinition(await openDeliveryStore(rt.ctx.store), defn.def);
  await waitActive('orders-pq');
  worker('orders-pq');

  await put('orders-pq', [...GOOD.map((r) => JSON.stringify(r)), '{"id": 4, "amount": ', JSON.stringify({ id: 'five', amount: 1 })]);
  const [key] = await waitForKeys('orders/', 1);
  expect(key).toMatch(/^orders\/\d{4}\/\d{2}\/\d{2}\/\d{2}\/orders-pq-1-\d{4}(-\d{2}){5}-[0-9a-f-]{36}\.parquet$/);
  const t = await readParquet(await s3.get(BUCKET, key!), 'SELECT id, "user", CAST(amount AS VARCHAR) AS amount, CAST("at" AS VARCHAR) AS "at" FROM t ORDER BY id');
  expect(t.codecs).toEqual(['SNAPPY']);
  expect(t.types).toEqual({ id: 'INTEGER', user: 'STRUCT("name" VARCHAR, tags VARCHAR[])', amount: 'DECIMAL(12,2)', at: 'TIMESTAMP' });
  expect(t.rows).toEqual([
    { id: 1, user: { name: 'ada', tags: ['a', 'b'] }, amount: '12.50', at: '2024-05-01 10:00:00.25' },
    { id: 2, user: null, amount: '0.01', at: '2024-05-01 10:00:00' },
    { id: 3, user: { name: 'bob', tags: [] }, amount: null, at: null },
  ]);

  const [errKey] = await waitForKeys('failed/format-conversion-failed/', 1);
  const errs = (await s3.get(BUCKET, errKey!)).toString().split('\n').filter(Boolean).map((l) => JSON.parse(l));
  expect(errs.map((e) => Buffer.from(e.rawData, 'base64').toString())).toEqual(['{"id": 4, "amount": ', JSON.stringify({ id: 'five', amount: 1 })]);
  expect(errs[0]).toMatchObject({ attemptsMade: 1, ErrorCode: 'DataFormatConversion.ParseError', ErrorMessage: expect.stringMatching(/malformed JSON/), dataCatalogTable: { databaseName: 'shop', tableName: 'orders', catalogId: '000000000000', region: 'us-east-1' } });
  expect(errs[1]).toMatchObject({ ErrorCode: 'DataFormatConversion.MalformedData', ErrorMessage: expect.stringMatching(/at id: expected int/) });
  for (const e of errs) expect(typeof e.arrivalTimestamp === 'number' && typeof e.attemptEndingTimestamp === 'number').toBe(true);
  expect(errKey).not.toMatch(/\.parquet$/);
}, 60_000);

const apiDest = (over: Partial<ExtendedS3DestinationConfiguration> = {}): ExtendedS3DestinationConfiguration => ({
  RoleARN: ROLE, BucketARN: `arn:aws:s3:::${BUCKET}`, BufferingHints: { SizeInMBs: 1, IntervalInSeconds: 0 }, CompressionFormat: 'UNCOMPRESSED',
  DataFormatConversionConfiguration: {
    Enabled: true,
    SchemaConfiguration: { RoleARN: ROLE, DatabaseName: 'shop', TableName: 'orders' },
    InputFormatConfiguration: { Deserializer: { OpenXJsonSerDe: {} } },
    OutputFormatConfiguration: { Serializer: { ParquetSerDe: { Compression: 'GZIP' } } },
  },
  ...over,
});

test('the Firehose API names the table a resource declared; FileExtension; UpdateDestination keeps it', async () => {
  await fh.send(new CreateDeliveryStreamCommand({ DeliveryStreamName: 'api-pq', DeliveryStreamType: 'DirectPut', ExtendedS3DestinationConfiguration: apiDest({ Prefix: 'api/', FileExtension: '.pq' }) }));
  const desc = await waitActive('api-pq');
  const ext = desc.Destinations![0]!.ExtendedS3DestinationDescription!;
  expect(ext.DataFormatConversionConfiguration).toEqual({
    Enabled: true,
    SchemaConfiguration: { RoleARN: ROLE, DatabaseName: 'shop', TableName: 'orders', VersionId: 'LATEST' },
    InputFormatConfiguration: { Deserializer: { OpenXJsonSerDe: {} } },
    OutputFormatConfiguration: { Serializer: { ParquetSerDe: { Compression: 'GZIP' } } },
  });
  const w = worker('api-pq');
  await put('api-pq', GOOD.map((r) => JSON.stringify(r)));
  const [key] = await waitForKeys('api/', 1).catch((e) => {
    throw new Error(`${e.message}\n${w.stderr()}`);
  });
  expect(key).toMatch(/\.pq$/);
  const t = await readParquet(await s3.get(BUCKET, key!), 'SELECT id FROM t ORDER BY id');
  expect(t.codecs).toEqual(['GZIP']);
  expect(t.rows).toEqual([{ id: 1 }, { id: 2 }, { id: 3 }]);

  // An update that leaves the conversion alone keeps it (and its columns).
  await fh.send(new UpdateDestinationCommand({ DeliveryStreamName: 'api-pq', CurrentDeliveryStreamVersionId: desc.VersionId, DestinationId: desc.Destinations![0]!.DestinationId, ExtendedS3DestinationUpdate: { Prefix: 'api2/' } }));
  await new Promise((r) => setTimeout(r, 2500)); // the worker follows the definition
  await put('api-pq', [JSON.stringify({ id: 7 })]);
  const [key2] = await waitForKeys('api2/', 1);
  expect((await readParquet(await s3.get(BUCKET, key2!), 'SELECT id FROM t')).rows).toEqual([{ id: 7 }]);
}, 60_000);

test('API validation: S3 compression, ORC, unknown table, missing deserializer, WriterVersion V2; and the CLI sees the same', async () => {
  const create = (name: string, dest: ExtendedS3DestinationConfiguration) =>
    fh.send(new CreateDeliveryStreamCommand({ DeliveryStreamName: name, ExtendedS3DestinationConfiguration: dest })).then(() => 'created', (e) => `${e.name}: ${e.message}`);
  expect(await create('bad-1', apiDest({ CompressionFormat: 'GZIP' }))).toMatch(/^InvalidArgumentException: CompressionFormat must be set to UNCOMPRESSED when DataFormatConversion is enabled/);
  const orc = apiDest();
  orc.DataFormatConversionConfiguration!.OutputFormatConfiguration = { Serializer: { OrcSerDe: { Compression: 'ZLIB' } } };
  expect(await create('bad-2', orc)).toMatch(/^InvalidArgumentException: OrcSerDe is not supported/);
  const unknown = apiDest();
  unknown.DataFormatConversionConfiguration!.SchemaConfiguration = { RoleARN: ROLE, DatabaseName: 'shop', TableName: 'nope' };
  expect(await create('bad-3', unknown)).toMatch(/^InvalidArgumentException: Table shop\.nope is not known to this Shardline store\. Create it in the Glue Data Catalog served on this endpoint/);
  const noDeser = apiDest();
  noDeser.DataFormatConversionConfiguration!.InputFormatConfiguration = { Deserializer: {} };
  expect(await create('bad-4', noDeser)).toMatch(/^InvalidArgumentException: InputFormatConfiguration\.Deserializer must specify exactly one/);
  const v2 = apiDest();
  v2.DataFormatConversionConfiguration!.OutputFormatConfiguration = { Serializer: { ParquetSerDe: { WriterVersion: 'V2' } } };
  expect(await create('bad-5', v2)).toMatch(/^InvalidArgumentException: ParquetSerDe\.WriterVersion V2/);
  const small = apiDest();
  small.DataFormatConversionConfiguration!.OutputFormatConfiguration = { Serializer: { ParquetSerDe: { PageSizeBytes: 100 } } };
  expect(await create('bad-6', small)).toMatch(/^ValidationException: .*pageSizeBytes' failed to satisfy constraint: Member must have value greater than or equal to 65536/);
  // Disabled conversion needs nothing else.
  expect(await create('off-1', apiDest({ CompressionFormat: 'GZIP', DataFormatConversionConfiguration: { Enabled: false } }))).toBe('created');

  const cli = await new Promise<{ code: number; stderr: string }>((resolve) => {
    execFile(AWS_CLI, ['firehose', 'create-delivery-stream', '--delivery-stream-name', 'bad-cli', '--endpoint-url', rt.endpoint, '--output', 'json',
      '--extended-s3-destination-configuration', JSON.stringify(apiDest({ CompressionFormat: 'Snappy', BufferingHints: { SizeInMBs: 64, IntervalInSeconds: 60 } }))], {
      env: {
        PATH: process.env.PATH, HOME: home, AWS_ACCESS_KEY_ID: TEST_CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: TEST_CREDENTIALS.secretAccessKey,
        AWS_DEFAULT_REGION: 'us-east-1', AWS_EC2_METADATA_DISABLED: 'true', AWS_PAGER: '', AWS_MAX_ATTEMPTS: '1',
        AWS_CONFIG_FILE: path.join(home, 'config'), AWS_SHARED_CREDENTIALS_FILE: path.join(home, 'credentials'),
      },
      timeout: 60_000,
    }, (err, _stdout, stderr) => resolve({ code: err ? Number((err as { code?: number }).code ?? -1) : 0, stderr }));
  });
  expect(cli.code).not.toBe(0);
  expect(cli.stderr).toMatch(/InvalidArgumentException.*CompressionFormat must be set to UNCOMPRESSED/);
}, 90_000);

test('exactly once with Parquet: SIGKILL after the 2nd upload; the replay rewrites that object byte for byte, every record once', async () => {
  const name = 'pq-eo';
  await fh.send(new CreateDeliveryStreamCommand({ DeliveryStreamName: name, ExtendedS3DestinationConfiguration: apiDest({ Prefix: `${name}/`, BufferingHints: { SizeInMBs: 1, IntervalInSeconds: 0 } }) }));
  await waitActive(name);
  const records = (from: number, n: number) => Array.from({ length: n }, (_, i) => JSON.stringify({ id: from + i, pad: 'z'.repeat(1000) }));
  for (let i = 0; i < 3000; i += 500) await put(name, records(i, 500)); // ~3 MiB: three flushes of 1 MiB at least
  const dying = stack.worker(name, { env: { SHARDLINE_DELIVERY_LEASE_MS: '1500', SHARDLINE_FAILPOINTS: 'after-upload@2' } });
  expect((await dying.exited).signal).toBe('SIGKILL');
  const before = await s3.list(BUCKET, `${name}/`);
  expect(before).toHaveLength(2);
  const second = new Map(await Promise.all(before.map(async (k) => [k, await s3.get(BUCKET, k)] as const)));
  for (let i = 3000; i < 3700; i += 500) await put(name, records(i, Math.min(500, 3700 - i)));
  const w = worker(name);
  const until = Date.now() + 60_000;
  let ids: number[] = [];
  let keys: string[] = [];
  while (Date.now() < until) {
    keys = await s3.list(BUCKET, `${name}/`);
    ids = [];
    for (const k of keys) ids.push(...(await readParquet(await s3.get(BUCKET, k), 'SELECT id FROM t')).rows.map((r) => r.id as number));
    if (ids.length >= 3700) break;
    await new Promise((r) => setTimeout(r, 300));
  }
  expect(w.stderr()).toContain('replaying the flush');
  expect(ids.length).toBe(3700);
  expect(new Set(ids).size).toBe(3700);
  // The objects written before the kill are still there with the same bytes (the replayed one overwritten identically).
  for (const [k, body] of second) expect(Buffer.compare(await s3.get(BUCKET, k), body)).toBe(0);
}, 120_000);

/**
 * A transform speaking the Lambda contract that turns CSV lines `id,amount,region` into JSON:
 * "bad" lines fail, "drop" lines are dropped, an id that is not a number passes through (conversion fails it).
 */
async function csvToJson() {
  const seen: string[] = [];
  const fn = await jsonServer((event) => [200, {
    records: event.records.map((r: { recordId: string; data: string }) => {
      const line = Buffer.from(r.data, 'base64').toString();
      seen.push(line);
      if (line === 'bad') return { recordId: r.recordId, result: 'ProcessingFailed', data: r.data };
      if (line === 'drop') return { recordId: r.recordId, result: 'Dropped', data: r.data };
      const [id, amount, region] = line.split(',');
      const out = { id: /^\d+$/.test(id!) ? Number(id) : id, amount: Number(amount), region };
      return { recordId: r.recordId, result: 'Ok', data: Buffer.from(JSON.stringify(out)).toString('base64') };
    }),
  }]);
  return { ...fn, seen };
}

const SALES = [{ name: 'id', type: 'int' }, { name: 'amount', type: 'double' }, { name: 'region', type: 'string' }];

test('processing feeds format conversion: the transform\'s JSON becomes Parquet per dynamic partition; processing-failed and format-conversion-failed to the error prefix; the API accepts the same', async () => {
  const fn = await csvToJson();
  try {
    const spec = DeliveryStreamSpec.parse({
      source: { type: 'DirectPut' }, buffering: { sizeMiB: 64, intervalSeconds: 0 },
      s3: {
        bucket: BUCKET, endpoint: s3.endpoint, prefix: 'sales/region=!{partitionKeyFromQuery:region}/', errorOutputPrefix: 'sales-err/!{firehose:error-output-type}/',
        format: 'PARQUET', parquet: { schema: { databaseName: 'shop', tableName: 'sales', columns: SALES } },
      },
      processing: { transform: { functionUrl: `${fn.url}/fn`, timeoutSeconds: 10, numberOfRetries: 0 }, dynamicPartitioning: { partitionKeys: { region: '.region' } } },
    });
    const d: DeliveryStream = { apiVersion: 'shardline.dev/v1alpha1', kind: 'DeliveryStream', metadata: { name: 'sales-pq', namespace: 'shop', uid: 'u-sales', generation: 1 }, spec };
    const defn = deliveryDefinitionOf(d, spec, undefined, 'us-east-1', '000000000000');
    if (!defn.ok) throw new Error(defn.message);
    expect(defn.def.s3.ProcessingConfiguration!.Processors!.map((p) => p.Type)).toEqual(['Lambda', 'MetadataExtraction']);
    await ensureDeliveryDefinition(await openDeliveryStore(rt.ctx.store), defn.def);
    await waitActive('sales-pq');
    worker('sales-pq');

    await put('sales-pq', ['1,10.5,eu', '2,3.25,us', 'bad', '3,1,eu', 'drop', 'x9,2,us']);
    const keys = await waitForKeys('sales/', 2);
    expect(keys.every((k) => /\.parquet$/.test(k))).toBe(true);
    const rows = async (region: string) => {
      const key = keys.find((k) => k.startsWith(`sales/region=${region}/`));
      return (await readParquet(await s3.get(BUCKET, key!), 'SELECT * FROM t ORDER BY id')).rows;
    };
    // The transform ran on the raw CSV; the partition key came from its output; Parquet holds the transformed rows.
    expect(await rows('eu')).toEqual([{ id: 1, amount: 10.5, region: 'eu' }, { id: 3, amount: 1, region: 'eu' }]);
    expect(await rows('us')).toEqual([{ id: 2, amount: 3.25, region: 'us' }]);
    expect(fn.seen.sort()).toEqual(['1,10.5,eu', '2,3.25,us', '3,1,eu', 'bad', 'drop', 'x9,2,us']);

    const [pf] = await waitForKeys('sales-err/processing-failed/', 1);
    const failed = (await s3.get(BUCKET, pf!)).toString().split('\n').filter(Boolean).map((l) => JSON.parse(l));
    expect(failed.map((e) => Buffer.from(e.rawData, 'base64').toString())).toEqual(['bad']);
    expect(failed[0]).toMatchObject({ errorCode: 'Lambda.ProcessingFailedStatus', attemptsMade: 1 });
    const [cf] = await waitForKeys('sales-err/format-conversion-failed/', 1);
    const conv = (await s3.get(BUCKET, cf!)).toString().split('\n').filter(Boolean).map((l) => JSON.parse(l));
    // What failed conversion is the transform's output, as Firehose records it.
    expect(conv.map((e) => JSON.parse(Buffer.from(e.rawData, 'base64').toString()))).toEqual([{ id: 'x9', amount: 2, region: 'us' }]);
    expect(conv[0]).toMatchObject({ ErrorCode: 'DataFormatConversion.MalformedData', dataCatalogTable: { databaseName: 'shop', tableName: 'sales' } });

    // The Firehose API: a Lambda processor and format conversion (naming the table above) on one destination.
    await fh.send(new CreateDeliveryStreamCommand({
      DeliveryStreamName: 'sales-api', DeliveryStreamType: 'DirectPut',
      ExtendedS3DestinationConfiguration: {
        ...apiDest({ Prefix: 'sales-api/', ErrorOutputPrefix: 'sales-api-err/' }),
        DataFormatConversionConfiguration: { ...apiDest().DataFormatConversionConfiguration, SchemaConfiguration: { RoleARN: ROLE, DatabaseName: 'shop', TableName: 'sales' } },
        ProcessingConfiguration: { Enabled: true, Processors: [{ Type: 'Lambda', Parameters: [{ ParameterName: 'LambdaArn', ParameterValue: `${fn.url}/fn` }, { ParameterName: 'NumberOfRetries', ParameterValue: '0' }] }] },
      },
    }));
    await waitActive('sales-api');
    worker('sales-api');
    await put('sales-api', ['7,1.5,ap', 'bad']);
    const [apiKey] = await waitForKeys('sales-api/', 1);
    expect((await readParquet(await s3.get(BUCKET, apiKey!), 'SELECT * FROM t')).rows).toEqual([{ id: 7, amount: 1.5, region: 'ap' }]);
    await waitForKeys('sales-api-err/', 1);
  } finally {
    await fn.close();
  }
}, 90_000);
