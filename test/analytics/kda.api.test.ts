// The Kinesis Data Analytics API through @aws-sdk/client-kinesis-analytics:
// shapes, versions, ConcurrentModificationException, CodeValidationException
// with DuckDB's position and reason, statuses, tags, DiscoverInputSchema.
import {
  AddApplicationOutputCommand, AddApplicationReferenceDataSourceCommand, CreateApplicationCommand, DeleteApplicationCommand,
  DeleteApplicationOutputCommand, DescribeApplicationCommand, DiscoverInputSchemaCommand, ListApplicationsCommand,
  ListTagsForResourceCommand, StartApplicationCommand, TagResourceCommand, UntagResourceCommand, UpdateApplicationCommand,
  type KinesisAnalyticsClient,
} from '@aws-sdk/client-kinesis-analytics';
import { startStack, type Stack } from '../harness/runtime.js';
import { analyticsClient, createStream, putJson } from './helpers.js';

let stack: Stack;
let ka: KinesisAnalyticsClient;
let inArn: string;
let outArn: string;

const schema = {
  RecordFormat: { RecordFormatType: 'JSON' as const, MappingParameters: { JSONMappingParameters: { RecordRowPath: '$' } } },
  RecordEncoding: 'UTF-8',
  RecordColumns: [
    { Name: 'TICKER_SYMBOL', SqlType: 'VARCHAR(4)', Mapping: '$.TICKER_SYMBOL' },
    { Name: 'PRICE', SqlType: 'REAL', Mapping: '$.PRICE' },
  ],
};
const input = () => ({ NamePrefix: 'SOURCE_SQL_STREAM', KinesisStreamsInput: { ResourceARN: inArn, RoleARN: 'arn:aws:iam::000000000000:role/r' }, InputSchema: schema });
const CODE = `CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (TICKER_SYMBOL VARCHAR(4), PRICE REAL);
CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
  SELECT STREAM TICKER_SYMBOL, PRICE FROM "SOURCE_SQL_STREAM_001" WHERE PRICE > 10;`;

beforeAll(async () => {
  stack = await startStack(1);
  ka = analyticsClient(stack.runtimes[0]!.endpoint);
  inArn = await createStream(stack.clients[0]!, 'api-in', 1);
  outArn = await createStream(stack.clients[0]!, 'api-out', 1);
});

afterAll(async () => {
  ka?.destroy();
  await stack?.stop();
});

const err = async (p: Promise<unknown>) => {
  try {
    await p;
  } catch (e) {
    return e as Error & { name: string; message: string };
  }
  throw new Error('no error');
};

test('create, describe, list; versions move with each change; a stale version is a ConcurrentModificationException', async () => {
  const c = await ka.send(new CreateApplicationCommand({ ApplicationName: 'app-1', ApplicationDescription: 'first', ApplicationCode: CODE, Inputs: [input()], Tags: [{ Key: 'team', Value: 'data' }] }));
  expect(c.ApplicationSummary).toEqual({ ApplicationName: 'app-1', ApplicationARN: 'arn:aws:kinesis' + 'analytics:us-east-1:000000000000:application/app-1', ApplicationStatus: 'READY' });
  const d = (await ka.send(new DescribeApplicationCommand({ ApplicationName: 'app-1' }))).ApplicationDetail!;
  expect(d.ApplicationVersionId).toBe(1);
  expect(d.ApplicationCode).toBe(CODE);
  expect(d.ApplicationDescription).toBe('first');
  expect(d.CreateTimestamp).toBeInstanceOf(Date);
  expect(d.InputDescriptions![0]).toMatchObject({ InputId: '1.1', NamePrefix: 'SOURCE_SQL_STREAM', InAppStreamNames: ['SOURCE_SQL_STREAM_001'], KinesisStreamsInputDescription: { ResourceARN: inArn }, InputSchema: schema, InputParallelism: { Count: 1 } });

  await ka.send(new AddApplicationOutputCommand({ ApplicationName: 'app-1', CurrentApplicationVersionId: 1, Output: { Name: 'DESTINATION_SQL_STREAM', KinesisStreamsOutput: { ResourceARN: outArn, RoleARN: 'arn:aws:iam::000000000000:role/r' }, DestinationSchema: { RecordFormatType: 'CSV' } } }));
  const e = await err(ka.send(new AddApplicationOutputCommand({ ApplicationName: 'app-1', CurrentApplicationVersionId: 1, Output: { Name: 'X', KinesisStreamsOutput: { ResourceARN: outArn, RoleARN: 'r' }, DestinationSchema: { RecordFormatType: 'JSON' } } })));
  expect(e.name).toBe('ConcurrentModificationException');
  const d2 = (await ka.send(new DescribeApplicationCommand({ ApplicationName: 'app-1' }))).ApplicationDetail!;
  expect(d2.ApplicationVersionId).toBe(2);
  expect(d2.OutputDescriptions).toEqual([{ OutputId: '1.1', Name: 'DESTINATION_SQL_STREAM', KinesisStreamsOutputDescription: { ResourceARN: outArn, RoleARN: expect.any(String) }, DestinationSchema: { RecordFormatType: 'CSV' } }]);

  await ka.send(new UpdateApplicationCommand({ ApplicationName: 'app-1', CurrentApplicationVersionId: 2, ApplicationUpdate: { ApplicationCodeUpdate: CODE.replace('> 10', '> 20') } }));
  expect((await ka.send(new DescribeApplicationCommand({ ApplicationName: 'app-1' }))).ApplicationDetail!.ApplicationCode).toMatch(/> 20/);
  await ka.send(new DeleteApplicationOutputCommand({ ApplicationName: 'app-1', CurrentApplicationVersionId: 3, OutputId: '1.1' }));

  await ka.send(new CreateApplicationCommand({ ApplicationName: 'app-0' }));
  const l = await ka.send(new ListApplicationsCommand({ Limit: 1 }));
  expect(l).toMatchObject({ ApplicationSummaries: [{ ApplicationName: 'app-0', ApplicationStatus: 'READY' }], HasMoreApplications: true });
  const l2 = await ka.send(new ListApplicationsCommand({ ExclusiveStartApplicationName: 'app-0' }));
  expect(l2.ApplicationSummaries!.map((a) => a.ApplicationName)).toEqual(['app-1']);
  expect(l2.HasMoreApplications).toBe(false);

  expect((await err(ka.send(new CreateApplicationCommand({ ApplicationName: 'app-1' })))).name).toBe('ResourceInUseException');
  expect((await err(ka.send(new DescribeApplicationCommand({ ApplicationName: 'nope' })))).name).toBe('ResourceNotFoundException');
});

test('bad SQL: CodeValidationException with the position and DuckDB\'s reason', async () => {
  const e = await err(ka.send(new CreateApplicationCommand({
    ApplicationName: 'bad-sql', Inputs: [input()],
    ApplicationCode: `CREATE OR REPLACE STREAM "D" (P REAL);\nCREATE OR REPLACE PUMP "P" AS INSERT INTO "D"\n  SELECT STREAM PRICEE FROM "SOURCE_SQL_STREAM_001";`,
  })));
  expect(e.name).toBe('CodeValidationException');
  expect(e.message).toMatch(/^Binder Error: Referenced column "PRICEE" not found in FROM clause!/);
  expect(e.message).toMatch(/\(line 3, column 17\)$/);
  const e2 = await err(ka.send(new CreateApplicationCommand({ ApplicationName: 'bad-sql', Inputs: [input()], ApplicationCode: 'CREATE OR REPLACE STREAM "D" (P REAL); SELECT 1;' })));
  expect(e2.name).toBe('CodeValidationException');
  expect(e2.message).toBe("expected CREATE but found 'SELECT' (line 1, column 40)");
  // Nothing was stored.
  expect((await err(ka.send(new DescribeApplicationCommand({ ApplicationName: 'bad-sql' })))).name).toBe('ResourceNotFoundException');
  // An update that breaks the code is refused and leaves the version alone.
  await ka.send(new CreateApplicationCommand({ ApplicationName: 'good-sql', Inputs: [input()], ApplicationCode: CODE }));
  const e3 = await err(ka.send(new UpdateApplicationCommand({ ApplicationName: 'good-sql', CurrentApplicationVersionId: 1, ApplicationUpdate: { ApplicationCodeUpdate: CODE.replace('PRICE > 10', 'PRICE >') } })));
  expect(e3.name).toBe('CodeValidationException');
  expect(e3.message).toMatch(/Parser Error: syntax error at end of input|Parser Error/);
  expect((await ka.send(new DescribeApplicationCommand({ ApplicationName: 'good-sql' }))).ApplicationDetail!.ApplicationVersionId).toBe(1);
});

test('bad input shapes are InvalidArgumentException; validation of names', async () => {
  expect((await err(ka.send(new CreateApplicationCommand({ ApplicationName: 'x', Inputs: [{ ...input(), KinesisStreamsInput: { ResourceARN: 'arn:nope', RoleARN: 'r' } }] })))).name).toBe('InvalidArgumentException');
  expect((await err(ka.send(new CreateApplicationCommand({ ApplicationName: 'x', Inputs: [{ ...input(), InputSchema: { ...schema, RecordColumns: [{ Name: 'A', SqlType: 'BLOB2' }] } }] })))).message).toMatch(/unsupported SQL type 'BLOB2'/);
  expect((await err(ka.send(new CreateApplicationCommand({ ApplicationName: 'bad name!' })))).name).toBe('ValidationException');
});

test('statuses: StartApplication moves READY → STARTING; starting again is ResourceInUseException', async () => {
  await ka.send(new CreateApplicationCommand({ ApplicationName: 'app-start', Inputs: [input()], ApplicationCode: CODE }));
  await ka.send(new StartApplicationCommand({ ApplicationName: 'app-start', InputConfigurations: [{ Id: '1.1', InputStartingPositionConfiguration: { InputStartingPosition: 'NOW' } }] }));
  const d = (await ka.send(new DescribeApplicationCommand({ ApplicationName: 'app-start' }))).ApplicationDetail!;
  expect(d.ApplicationStatus).toBe('STARTING');
  expect(d.InputDescriptions![0]!.InputStartingPositionConfiguration).toEqual({ InputStartingPosition: 'NOW' });
  expect((await err(ka.send(new StartApplicationCommand({ ApplicationName: 'app-start', InputConfigurations: [{ Id: '1.1', InputStartingPositionConfiguration: { InputStartingPosition: 'NOW' } }] })))).name).toBe('ResourceInUseException');
  expect((await err(ka.send(new StartApplicationCommand({ ApplicationName: 'app-0', InputConfigurations: [] })))).name).toBe('InvalidApplicationConfigurationException');
  // Delete needs the creation time.
  expect((await err(ka.send(new DeleteApplicationCommand({ ApplicationName: 'app-start', CreateTimestamp: new Date(0) })))).name).toBe('InvalidArgumentException');
  await ka.send(new DeleteApplicationCommand({ ApplicationName: 'app-start', CreateTimestamp: d.CreateTimestamp }));
  expect((await err(ka.send(new DescribeApplicationCommand({ ApplicationName: 'app-start' })))).name).toBe('ResourceNotFoundException');
});

test('reference data source, tags', async () => {
  await ka.send(new CreateApplicationCommand({ ApplicationName: 'app-ref', Inputs: [input()] }));
  await ka.send(new AddApplicationReferenceDataSourceCommand({
    ApplicationName: 'app-ref', CurrentApplicationVersionId: 1,
    ReferenceDataSource: { TableName: 'COMPANIES', S3ReferenceDataSource: { BucketARN: 'arn:aws:s3:::refs', FileKey: 'companies.csv', ReferenceRoleARN: 'arn:aws:iam::000000000000:role/r' }, ReferenceSchema: { RecordFormat: { RecordFormatType: 'CSV', MappingParameters: { CSVMappingParameters: { RecordRowDelimiter: '\n', RecordColumnDelimiter: ',' } } }, RecordColumns: [{ Name: 'TICKER', SqlType: 'VARCHAR(4)' }, { Name: 'COMPANY', SqlType: 'VARCHAR(32)' }] } },
  }));
  // Code joining the reference table now compiles.
  await ka.send(new UpdateApplicationCommand({ ApplicationName: 'app-ref', CurrentApplicationVersionId: 2, ApplicationUpdate: { ApplicationCodeUpdate: `CREATE OR REPLACE STREAM "D" (T VARCHAR(4), C VARCHAR(32));
CREATE OR REPLACE PUMP "P" AS INSERT INTO "D" SELECT STREAM s.TICKER_SYMBOL, r.COMPANY FROM "SOURCE_SQL_STREAM_001" AS s LEFT JOIN "COMPANIES" AS r ON s.TICKER_SYMBOL = r.TICKER;` } }));
  const d = (await ka.send(new DescribeApplicationCommand({ ApplicationName: 'app-ref' }))).ApplicationDetail!;
  expect(d.ReferenceDataSourceDescriptions![0]).toMatchObject({ ReferenceId: '1.1', TableName: 'COMPANIES', S3ReferenceDataSourceDescription: { BucketARN: 'arn:aws:s3:::refs', FileKey: 'companies.csv' } });
  const arn = d.ApplicationARN!;
  await ka.send(new TagResourceCommand({ ResourceARN: arn, Tags: [{ Key: 'a', Value: '1' }, { Key: 'b', Value: '2' }] }));
  await ka.send(new UntagResourceCommand({ ResourceARN: arn, TagKeys: ['a'] }));
  expect((await ka.send(new ListTagsForResourceCommand({ ResourceARN: arn }))).Tags).toEqual([{ Key: 'b', Value: '2' }]);
});

test('DiscoverInputSchema infers columns from the stream\'s records', async () => {
  const arn = await createStream(stack.clients[0]!, 'discover-in', 1);
  expect((await err(ka.send(new DiscoverInputSchemaCommand({ ResourceARN: arn, RoleARN: 'r', InputStartingPositionConfiguration: { InputStartingPosition: 'TRIM_HORIZON' } })))).name).toBe('UnableToDetectSchemaException');
  await putJson(stack.clients[0]!, 'discover-in', [
    { TICKER_SYMBOL: 'AMZN', PRICE: 10.5, QTY: 3, AT: '2024-01-01T00:00:00Z', META: { OK: true } },
    { TICKER_SYMBOL: 'MSFT', PRICE: 11, QTY: 4, AT: '2024-01-01T00:00:01Z', META: { OK: false } },
  ]);
  const r = await ka.send(new DiscoverInputSchemaCommand({ ResourceARN: arn, RoleARN: 'r', InputStartingPositionConfiguration: { InputStartingPosition: 'TRIM_HORIZON' } }));
  expect(r.InputSchema!.RecordFormat!.RecordFormatType).toBe('JSON');
  expect(r.InputSchema!.RecordColumns).toEqual([
    { Name: 'TICKER_SYMBOL', SqlType: 'VARCHAR(4)', Mapping: '$.TICKER_SYMBOL' },
    { Name: 'PRICE', SqlType: 'DOUBLE', Mapping: '$.PRICE' },
    { Name: 'QTY', SqlType: 'INTEGER', Mapping: '$.QTY' },
    { Name: 'AT', SqlType: 'TIMESTAMP', Mapping: '$.AT' },
    { Name: 'META_OK', SqlType: 'BOOLEAN', Mapping: '$.META.OK' },
  ]);
  expect(r.ParsedInputRecords).toEqual([['AMZN', '10.5', '3', '2024-01-01T00:00:00Z', 'true'], ['MSFT', '11', '4', '2024-01-01T00:00:01Z', 'false']]);
  expect(r.RawInputRecords).toHaveLength(2);
});

test('the AWS CLI v2 (aws kinesisanalytics …) works unchanged', async () => {
  const { execFile } = await import('node:child_process');
  const os = await import('node:os');
  const home = (await import('node:fs')).mkdtempSync((await import('node:path')).join(os.tmpdir(), 'awscli-'));
  const aws = (...args: string[]) => new Promise<{ code: number; out: string; err: string }>((resolve) => {
    execFile('/usr/bin/aws', ['--endpoint-url', stack.runtimes[0]!.endpoint, '--output', 'json', 'kinesisanalytics', ...args], {
      env: { PATH: process.env.PATH, HOME: home, AWS_ACCESS_KEY_ID: 'AKIDTEST', AWS_SECRET_ACCESS_KEY: 'secret', AWS_DEFAULT_REGION: 'us-east-1', AWS_EC2_METADATA_DISABLED: 'true', AWS_PAGER: '', AWS_MAX_ATTEMPTS: '1', AWS_CONFIG_FILE: `${home}/config`, AWS_SHARED_CREDENTIALS_FILE: `${home}/credentials` },
    }, (e, out, err) => resolve({ code: e ? (e as { code?: number }).code ?? 1 : 0, out, err }));
  });
  const c = await aws('create-application', '--application-name', 'cli-app', '--application-code', CODE, '--inputs', JSON.stringify([input()]));
  expect(c.err).toBe('');
  expect(JSON.parse(c.out).ApplicationSummary.ApplicationStatus).toBe('READY');
  const d = JSON.parse((await aws('describe-application', '--application-name', 'cli-app')).out);
  expect(d.ApplicationDetail.ApplicationVersionId).toBe(1);
  const l = JSON.parse((await aws('list-applications')).out);
  expect(l.ApplicationSummaries.map((a: { ApplicationName: string }) => a.ApplicationName)).toContain('cli-app');
  const bad = await aws('update-application', '--application-name', 'cli-app', '--current-application-version-id', '7', '--application-update', JSON.stringify({ ApplicationCodeUpdate: CODE }));
  expect(bad.code).not.toBe(0);
  expect(bad.err).toMatch(/ConcurrentModificationException/);
});
