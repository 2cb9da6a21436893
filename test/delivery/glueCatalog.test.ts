// The Glue Data Catalog subset on the shared endpoint (AWSGlue.*, JSON 1.1)
// through @aws-sdk/client-glue, and Firehose's record format conversion
// naming a catalog table: the worker resolves the table when it forms a
// flush (an updated table applies to the next flush), and a deleted table
// sends that flush's records to the error prefix as format-conversion-failed.
// Real nats-server, runtime, s3rver, `shardline delivery` process; Parquet
// objects are read back by DuckDB.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  GlueClient, CreateDatabaseCommand, GetDatabaseCommand, DeleteDatabaseCommand, CreateTableCommand, GetTableCommand, GetTablesCommand,
  UpdateTableCommand, DeleteTableCommand, type TableInput,
} from '@aws-sdk/client-glue';
import { CreateDeliveryStreamCommand, DescribeDeliveryStreamCommand, PutRecordBatchCommand, type FirehoseClient } from '@aws-sdk/client-firehose';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { TEST_CREDENTIALS } from '../harness/runtime.js';
import type { S3Server } from '../harness/s3.js';
import { ROLE, startDeliveryStack, waitFor, type DeliveryStack } from '../harness/delivery.js';
import { readParquet } from '../harness/parquetRead.js';
import { DeliveryStreamSpec, type DeliveryStream } from '../../crds/schema/deliverystream.js';
import { deliveryDefinitionOf } from '../../operator/model/deliveryDefinition.js';
import { ensureDeliveryDefinition, openDeliveryStore } from '../../stream/deliveryStreams.js';

const BUCKET = 'lake';
let stack: DeliveryStack;
let s3: S3Server;
let fh: FirehoseClient;
let glue: GlueClient;

beforeAll(async () => {
  stack = await startDeliveryStack({ buckets: [BUCKET] });
  ({ s3, fh } = stack);
  glue = new GlueClient({ endpoint: stack.rt.endpoint, region: 'us-east-1', credentials: TEST_CREDENTIALS, maxAttempts: 1, requestHandler: new NodeHttpHandler() });
});
afterAll(async () => {
  glue?.destroy();
  await stack?.stop();
});

const table = (name: string, columns: [string, string][]): TableInput => ({
  Name: name, TableType: 'EXTERNAL_TABLE', Parameters: { classification: 'parquet' },
  StorageDescriptor: { Columns: columns.map(([Name, Type]) => ({ Name, Type })), Location: `s3://${BUCKET}/${name}/` },
});
const failure = (p: Promise<unknown>) => p.then(() => 'ok', (e) => `${e.name}: ${e.message}`);

test('databases and tables: create, get, list, update (VersionId), delete, with Glue\'s error names', async () => {
  await glue.send(new CreateDatabaseCommand({ DatabaseInput: { Name: 'Shop', Description: 'the shop' } }));
  const db = (await glue.send(new GetDatabaseCommand({ Name: 'shop' }))).Database!;
  expect(db).toMatchObject({ Name: 'shop', Description: 'the shop', CatalogId: '000000000000' });
  expect(db.CreateTime).toBeInstanceOf(Date);
  expect(Math.abs(db.CreateTime!.getTime() - Date.now())).toBeLessThan(60_000);
  expect(await failure(glue.send(new CreateDatabaseCommand({ DatabaseInput: { Name: 'shop' } })))).toBe('AlreadyExistsException: Database already exists.');
  expect(await failure(glue.send(new GetDatabaseCommand({ Name: 'nope' })))).toBe('EntityNotFoundException: Database nope not found.');

  await glue.send(new CreateTableCommand({ DatabaseName: 'shop', TableInput: table('Orders', [['id', 'bigint'], ['tags', 'array<string>']]) }));
  await glue.send(new CreateTableCommand({ DatabaseName: 'shop', TableInput: table('refunds', [['id', 'bigint']]) }));
  const t = (await glue.send(new GetTableCommand({ DatabaseName: 'SHOP', Name: 'orders' }))).Table!;
  expect(t).toMatchObject({
    Name: 'orders', DatabaseName: 'shop', VersionId: '0', TableType: 'EXTERNAL_TABLE', Parameters: { classification: 'parquet' },
    StorageDescriptor: { Columns: [{ Name: 'id', Type: 'bigint' }, { Name: 'tags', Type: 'array<string>' }], Location: `s3://${BUCKET}/Orders/` },
  });
  expect(t.UpdateTime).toBeInstanceOf(Date);
  expect(await failure(glue.send(new CreateTableCommand({ DatabaseName: 'shop', TableInput: table('orders', [['id', 'int']]) })))).toBe('AlreadyExistsException: Table already exists.');
  expect(await failure(glue.send(new CreateTableCommand({ DatabaseName: 'nope', TableInput: table('t', [['id', 'int']]) })))).toBe('EntityNotFoundException: Database nope not found.');
  expect(await failure(glue.send(new GetTableCommand({ DatabaseName: 'shop', Name: 'missing' })))).toBe('EntityNotFoundException: Table missing not found.');
  expect(await failure(glue.send(new CreateTableCommand({ DatabaseName: 'shop', TableInput: table('bad', [['id', 'int32']]) })))).toMatch(/^InvalidInputException: Column id has an invalid type: unknown type int32/);

  const all = await glue.send(new GetTablesCommand({ DatabaseName: 'shop' }));
  expect(all.TableList!.map((x) => x.Name)).toEqual(['orders', 'refunds']);
  expect((await glue.send(new GetTablesCommand({ DatabaseName: 'shop', Expression: 'ord.*' }))).TableList!.map((x) => x.Name)).toEqual(['orders']);
  const page1 = await glue.send(new GetTablesCommand({ DatabaseName: 'shop', MaxResults: 1 }));
  expect(page1.TableList!.map((x) => x.Name)).toEqual(['orders']);
  const page2 = await glue.send(new GetTablesCommand({ DatabaseName: 'shop', MaxResults: 1, NextToken: page1.NextToken }));
  expect(page2.TableList!.map((x) => x.Name)).toEqual(['refunds']);
  expect(page2.NextToken).toBeUndefined();

  await glue.send(new UpdateTableCommand({ DatabaseName: 'shop', TableInput: table('orders', [['id', 'bigint'], ['tags', 'array<string>'], ['total', 'double']]) }));
  const t1 = (await glue.send(new GetTableCommand({ DatabaseName: 'shop', Name: 'orders' }))).Table!;
  expect(t1.VersionId).toBe('1');
  expect(t1.StorageDescriptor!.Columns!.map((c) => c.Name)).toEqual(['id', 'tags', 'total']);
  // UpdateTable naming a version that is no longer current.
  expect(await failure(glue.send(new UpdateTableCommand({ DatabaseName: 'shop', VersionId: '0', TableInput: table('orders', [['id', 'int']]) })))).toMatch(/^ConcurrentModificationException: /);
  expect(await failure(glue.send(new UpdateTableCommand({ DatabaseName: 'shop', TableInput: table('ghost', [['id', 'int']]) })))).toBe('EntityNotFoundException: Table ghost not found.');

  await glue.send(new DeleteTableCommand({ DatabaseName: 'shop', Name: 'refunds' }));
  expect(await failure(glue.send(new DeleteTableCommand({ DatabaseName: 'shop', Name: 'refunds' })))).toBe('EntityNotFoundException: Table refunds not found.');
  // Deleting the database deletes its tables.
  await glue.send(new DeleteDatabaseCommand({ Name: 'shop' }));
  await glue.send(new CreateDatabaseCommand({ DatabaseInput: { Name: 'shop' } }));
  expect((await glue.send(new GetTablesCommand({ DatabaseName: 'shop' }))).TableList).toEqual([]);
  await glue.send(new DeleteDatabaseCommand({ Name: 'shop' }));
}, 60_000);

test('Firehose names a catalog table: Parquet with its columns; UpdateTable applies to the next flush; a deleted table sends records to the error prefix', async () => {
  await glue.send(new CreateDatabaseCommand({ DatabaseInput: { Name: 'lake' } }));
  await glue.send(new CreateTableCommand({ DatabaseName: 'lake', TableInput: table('events', [['id', 'bigint'], ['name', 'string']]) }));
  const dest = {
    RoleARN: ROLE, BucketARN: `arn:aws:s3:::${BUCKET}`, BufferingHints: { SizeInMBs: 1, IntervalInSeconds: 0 }, CompressionFormat: 'UNCOMPRESSED' as const,
    Prefix: 'events/', ErrorOutputPrefix: 'events-err/!{firehose:error-output-type}/',
    DataFormatConversionConfiguration: {
      Enabled: true,
      SchemaConfiguration: { RoleARN: ROLE, DatabaseName: 'lake', TableName: 'events' },
      InputFormatConfiguration: { Deserializer: { OpenXJsonSerDe: {} } },
      OutputFormatConfiguration: { Serializer: { ParquetSerDe: {} } },
    },
  };
  // A table the catalog does not have is refused at creation.
  const missing = await failure(fh.send(new CreateDeliveryStreamCommand({
    DeliveryStreamName: 'no-table', ExtendedS3DestinationConfiguration: { ...dest, DataFormatConversionConfiguration: { ...dest.DataFormatConversionConfiguration, SchemaConfiguration: { RoleARN: ROLE, DatabaseName: 'lake', TableName: 'nope' } } },
  })));
  expect(missing).toMatch(/^InvalidArgumentException: Table lake\.nope is not known to this Shardline store\. Create it in the Glue Data Catalog/);
  const version = await failure(fh.send(new CreateDeliveryStreamCommand({
    DeliveryStreamName: 'old-version', ExtendedS3DestinationConfiguration: { ...dest, DataFormatConversionConfiguration: { ...dest.DataFormatConversionConfiguration, SchemaConfiguration: { RoleARN: ROLE, DatabaseName: 'lake', TableName: 'events', VersionId: '3' } } },
  })));
  expect(version).toMatch(/^InvalidArgumentException: SchemaConfiguration\.VersionId 3 is not supported/);

  await fh.send(new CreateDeliveryStreamCommand({ DeliveryStreamName: 'events', ExtendedS3DestinationConfiguration: dest }));
  await stack.waitActive('events');
  const described = (await fh.send(new DescribeDeliveryStreamCommand({ DeliveryStreamName: 'events' }))).DeliveryStreamDescription!;
  expect(described.Destinations![0]!.ExtendedS3DestinationDescription!.DataFormatConversionConfiguration!.SchemaConfiguration).toEqual({ RoleARN: ROLE, DatabaseName: 'lake', TableName: 'events', VersionId: 'LATEST' });
  const w = stack.worker('events');
  const put = async (records: unknown[]) => {
    const out = await fh.send(new PutRecordBatchCommand({ DeliveryStreamName: 'events', Records: records.map((r) => ({ Data: Buffer.from(JSON.stringify(r)) })) }));
    expect(out.FailedPutCount).toBe(0);
  };
  const keys = (prefix: string, n: number) => waitFor(`${n} objects under ${prefix}`, async () => {
    const k = await s3.list(BUCKET, prefix);
    return k.length >= n ? k : undefined;
  }, 30_000, 200);

  await put([{ id: 1, name: 'a', score: 0.5 }, { id: 2, name: 'b' }]);
  const [first] = await keys('events/', 1);
  const t0 = await readParquet(await s3.get(BUCKET, first!), 'SELECT CAST(id AS INTEGER) AS id, name FROM t ORDER BY id');
  // The table's columns and types (score is not a column: dropped, as OpenX does).
  expect(t0.types).toEqual({ id: 'BIGINT', name: 'VARCHAR' });
  expect(t0.rows).toEqual([{ id: 1, name: 'a' }, { id: 2, name: 'b' }]);

  // A new column: the worker sees the new version within its definition poll (1 s); the next flush has it.
  await glue.send(new UpdateTableCommand({ DatabaseName: 'lake', TableInput: table('events', [['id', 'bigint'], ['name', 'string'], ['score', 'double']]) }));
  await new Promise((r) => setTimeout(r, 2500));
  await put([{ id: 3, name: 'c', score: 0.25 }]);
  const two = await keys('events/', 2);
  const second = two.find((k) => k !== first)!;
  const t1 = await readParquet(await s3.get(BUCKET, second), 'SELECT name, score FROM t');
  expect(t1.types).toEqual({ id: 'BIGINT', name: 'VARCHAR', score: 'DOUBLE' });
  expect(t1.rows).toEqual([{ name: 'c', score: 0.25 }]);
  // The first object is untouched by the change.
  expect(Object.keys((await readParquet(await s3.get(BUCKET, first!))).types)).toEqual(['id', 'name']);

  // The table is gone: the next flush's records go to the error prefix, none is lost.
  await glue.send(new DeleteTableCommand({ DatabaseName: 'lake', Name: 'events' }));
  await new Promise((r) => setTimeout(r, 2500));
  await put([{ id: 4, name: 'd' }, { id: 5, name: 'e' }]);
  const [errKey] = await keys('events-err/', 1);
  expect(errKey).toMatch(/^events-err\/format-conversion-failed\/events-1-/);
  const lines = (await s3.get(BUCKET, errKey!)).toString().split('\n').filter(Boolean).map((l) => JSON.parse(l));
  expect(lines.map((l) => JSON.parse(Buffer.from(l.rawData, 'base64').toString()).id)).toEqual([4, 5]);
  expect(lines[0]).toMatchObject({
    attemptsMade: 1, ErrorCode: 'DataFormatConversion.EntityNotFound',
    ErrorMessage: expect.stringContaining('The specified table/database could not be found'),
    dataCatalogTable: { databaseName: 'lake', tableName: 'events', catalogId: '000000000000' },
  });
  expect(await s3.list(BUCKET, 'events/')).toHaveLength(2);
  await w.kill('SIGTERM');
}, 90_000);

test('a flush replayed after SIGKILL keeps the table version it was formed with; the change applies to the flush after it', async () => {
  await glue.send(new CreateDatabaseCommand({ DatabaseInput: { Name: 'replay' } }));
  await glue.send(new CreateTableCommand({ DatabaseName: 'replay', TableInput: table('t', [['id', 'bigint']]) }));
  await fh.send(new CreateDeliveryStreamCommand({
    DeliveryStreamName: 'replayed',
    ExtendedS3DestinationConfiguration: {
      RoleARN: ROLE, BucketARN: `arn:aws:s3:::${BUCKET}`, BufferingHints: { SizeInMBs: 1, IntervalInSeconds: 0 }, CompressionFormat: 'UNCOMPRESSED', Prefix: 'replayed/',
      DataFormatConversionConfiguration: {
        Enabled: true, SchemaConfiguration: { RoleARN: ROLE, DatabaseName: 'replay', TableName: 't' },
        InputFormatConfiguration: { Deserializer: { OpenXJsonSerDe: {} } }, OutputFormatConfiguration: { Serializer: { ParquetSerDe: {} } },
      },
    },
  }));
  await stack.waitActive('replayed');
  await fh.send(new PutRecordBatchCommand({ DeliveryStreamName: 'replayed', Records: [{ Data: Buffer.from('{"id":1,"extra":"x"}') }] }));
  // The worker forms the flush (its intent holds the columns of version 0) and dies before uploading.
  const dying = stack.worker('replayed', { env: { SHARDLINE_FAILPOINTS: 'before-upload@1' } });
  await dying.exited;
  expect(dying.stderr()).toContain('failpoint before-upload (flush 1)');
  expect(await s3.list(BUCKET, 'replayed/')).toEqual([]);
  await glue.send(new UpdateTableCommand({ DatabaseName: 'replay', TableInput: table('t', [['id', 'bigint'], ['extra', 'string']]) }));

  const w = stack.worker('replayed');
  const [replayedKey] = await waitFor('the replayed object', async () => {
    const k = await s3.list(BUCKET, 'replayed/');
    return k.length ? k : undefined;
  }, 30_000, 200);
  expect((await readParquet(await s3.get(BUCKET, replayedKey!))).types).toEqual({ id: 'BIGINT' });
  await fh.send(new PutRecordBatchCommand({ DeliveryStreamName: 'replayed', Records: [{ Data: Buffer.from('{"id":2,"extra":"y"}') }] }));
  const both = await waitFor('the next object', async () => {
    const k = await s3.list(BUCKET, 'replayed/');
    return k.length >= 2 ? k : undefined;
  }, 30_000, 200);
  const next = await readParquet(await s3.get(BUCKET, both.find((k) => k !== replayedKey)!), 'SELECT CAST(id AS INTEGER) AS id, extra FROM t');
  expect(next.rows).toEqual([{ id: 2, extra: 'y' }]);
  await w.kill('SIGTERM');
}, 90_000);

test('the AWS CLI v2 (docs/glue-catalog.md\'s commands): create-database, create-table, get-table, and a Firehose stream naming the table', async () => {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'shardline-aws-'));
  const aws = (...args: string[]) => new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile('/usr/bin/aws', ['--endpoint-url', stack.rt.endpoint, '--output', 'json', ...args], {
      env: {
        PATH: process.env.PATH, HOME: home, AWS_ACCESS_KEY_ID: TEST_CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: TEST_CREDENTIALS.secretAccessKey,
        AWS_DEFAULT_REGION: 'us-east-1', AWS_EC2_METADATA_DISABLED: 'true', AWS_PAGER: '', AWS_MAX_ATTEMPTS: '1',
        AWS_CONFIG_FILE: path.join(home, 'config'), AWS_SHARED_CREDENTIALS_FILE: path.join(home, 'credentials'),
      },
      timeout: 60_000,
    }, (err, stdout, stderr) => resolve({ code: err ? Number((err as { code?: number }).code ?? -1) : 0, stdout, stderr }));
  });
  try {
    expect((await aws('glue', 'create-database', '--database-input', 'Name=clidb')).code).toBe(0);
    const created = await aws('glue', 'create-table', '--database-name', 'clidb', '--table-input', JSON.stringify({ Name: 'events', StorageDescriptor: { Columns: [{ Name: 'id', Type: 'bigint' }, { Name: 'name', Type: 'string' }] } }));
    expect(created.code).toBe(0);
    const got = await aws('glue', 'get-table', '--database-name', 'clidb', '--name', 'events');
    expect(got.code).toBe(0);
    expect(JSON.parse(got.stdout).Table).toMatchObject({ Name: 'events', DatabaseName: 'clidb', VersionId: '0', StorageDescriptor: { Columns: [{ Name: 'id', Type: 'bigint' }, { Name: 'name', Type: 'string' }] } });
    const missing = await aws('glue', 'get-table', '--database-name', 'clidb', '--name', 'nope');
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain('EntityNotFoundException');
    const fhCreated = await aws('firehose', 'create-delivery-stream', '--delivery-stream-name', 'cli-events', '--extended-s3-destination-configuration', JSON.stringify({
      RoleARN: ROLE, BucketARN: `arn:aws:s3:::${BUCKET}`, CompressionFormat: 'UNCOMPRESSED',
      DataFormatConversionConfiguration: {
        SchemaConfiguration: { RoleARN: ROLE, DatabaseName: 'clidb', TableName: 'events' },
        InputFormatConfiguration: { Deserializer: { OpenXJsonSerDe: {} } }, OutputFormatConfiguration: { Serializer: { ParquetSerDe: {} } },
      },
    }));
    expect(fhCreated.stderr).toBe('');
    expect(fhCreated.code).toBe(0);
  } finally {
    fs.rmSync(home, { recursive: true, force: true });
  }
}, 90_000);

test('a DeliveryStream resource names a catalog table (spec.s3.parquet.catalogTable): the worker converts with the table\'s columns', async () => {
  await glue.send(new CreateDatabaseCommand({ DatabaseInput: { Name: 'res' } }));
  await glue.send(new CreateTableCommand({ DatabaseName: 'res', TableInput: table('visits', [['page', 'string'], ['ms', 'bigint']]) }));
  const spec = DeliveryStreamSpec.parse({
    source: { type: 'DirectPut' }, buffering: { sizeMiB: 1, intervalSeconds: 0 },
    s3: { bucket: BUCKET, endpoint: s3.endpoint, prefix: 'visits/', errorOutputPrefix: 'visits-err/', format: 'PARQUET', parquet: { catalogTable: { databaseName: 'res', tableName: 'visits' } } },
  });
  const d: DeliveryStream = { apiVersion: 'shardline.dev/v1alpha1', kind: 'DeliveryStream', metadata: { name: 'visits-pq', namespace: 'web', uid: 'u-visits', generation: 1 }, spec };
  const defn = deliveryDefinitionOf(d, spec, undefined, 'us-east-1', '000000000000');
  if (!defn.ok) throw new Error(defn.message);
  await ensureDeliveryDefinition(await openDeliveryStore(stack.rt.ctx.store), defn.def);
  await stack.waitActive('visits-pq');
  stack.worker('visits-pq');
  const put = await fh.send(new PutRecordBatchCommand({ DeliveryStreamName: 'visits-pq', Records: [{ page: '/a', ms: 12, extra: true }, { page: '/b', ms: 7 }].map((r) => ({ Data: Buffer.from(JSON.stringify(r)) })) }));
  expect(put.FailedPutCount).toBe(0);
  const [key] = await waitFor('a Parquet object', async () => {
    const keys = await s3.list(BUCKET, 'visits/');
    return keys.length ? keys : undefined;
  });
  expect(key).toMatch(/\.parquet$/);
  const t = await readParquet(await s3.get(BUCKET, key!), 'SELECT * FROM t ORDER BY page');
  expect(t.types).toEqual({ page: 'VARCHAR', ms: 'BIGINT' });
  // The harness reads BIGINT back as text.
  expect(t.rows).toEqual([{ page: '/a', ms: '12' }, { page: '/b', ms: '7' }]);
  // DescribeDeliveryStream shows the reference, as for a stream the API created.
  const desc = await fh.send(new DescribeDeliveryStreamCommand({ DeliveryStreamName: 'visits-pq' }));
  expect(desc.DeliveryStreamDescription!.Destinations![0]!.ExtendedS3DestinationDescription!.DataFormatConversionConfiguration!.SchemaConfiguration).toMatchObject({ DatabaseName: 'res', TableName: 'visits' });
}, 60_000);
