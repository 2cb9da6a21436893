// `shardline dev` runs the store's analytics applications: an application
// created and started through the SDK gets a worker process, runs, stops, and
// its worker ends when it is deleted.
import path from 'node:path';
import {
  CreateApplicationCommand, DeleteApplicationCommand, DescribeApplicationCommand, StartApplicationCommand, StopApplicationCommand,
} from '@aws-sdk/client-kinesis-analytics';
import { connectStore, type Store } from '../../stream/connect.js';
import { superviseApplications, type ApplicationSupervisor } from '../../analytics/worker/supervisor.js';
import { startStack, type Stack } from '../harness/runtime.js';
import { analyticsClient, createStream, putJson, readAll, waitFor } from './helpers.js';

let stack: Stack;
let store: Store;
let sup: ApplicationSupervisor;

beforeAll(async () => {
  stack = await startStack(1);
  store = await connectStore({ natsUrl: stack.nats.url });
  sup = superviseApplications(store, stack.nats.url, () => undefined, { pollMs: 200, cli: path.resolve('dist/runtime/cli.js') });
});

afterAll(async () => {
  await sup?.close();
  await store?.close();
  await stack?.stop();
});

test('create → worker process; start → RUNNING and rows flow; stop → READY; delete → worker gone', async () => {
  const k = stack.clients[0]!;
  const ka = analyticsClient(stack.runtimes[0]!.endpoint);
  const inArn = await createStream(k, 'dev-in', 1);
  const outArn = await createStream(k, 'dev-out', 1);
  await ka.send(new CreateApplicationCommand({
    ApplicationName: 'dev-app',
    ApplicationCode: `CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (MSG VARCHAR(32));
CREATE OR REPLACE PUMP "P" AS INSERT INTO "DESTINATION_SQL_STREAM" SELECT STREAM UPPER(MSG) FROM "SOURCE_SQL_STREAM_001";`,
    Inputs: [{ NamePrefix: 'SOURCE_SQL_STREAM', KinesisStreamsInput: { ResourceARN: inArn, RoleARN: 'r' }, InputSchema: { RecordFormat: { RecordFormatType: 'JSON', MappingParameters: { JSONMappingParameters: { RecordRowPath: '$' } } }, RecordColumns: [{ Name: 'MSG', SqlType: 'VARCHAR(32)', Mapping: '$.msg' }] } }],
    Outputs: [{ Name: 'DESTINATION_SQL_STREAM', KinesisStreamsOutput: { ResourceARN: outArn, RoleARN: 'r' }, DestinationSchema: { RecordFormatType: 'JSON' } }],
  }));
  await waitFor('a worker', async () => sup.running().includes('dev-app'));
  await ka.send(new StartApplicationCommand({ ApplicationName: 'dev-app', InputConfigurations: [{ Id: '1.1', InputStartingPositionConfiguration: { InputStartingPosition: 'NOW' } }] }));
  const status = async () => (await ka.send(new DescribeApplicationCommand({ ApplicationName: 'dev-app' }))).ApplicationDetail!;
  await waitFor('RUNNING', async () => (await status()).ApplicationStatus === 'RUNNING');
  await putJson(k, 'dev-in', [{ msg: 'hello' }, { msg: 'world' }]);
  const rows = await waitFor('rows', async () => { const r = await readAll(k, 'dev-out'); return r.length >= 2 ? r : undefined; });
  expect(rows.map((r) => r.data).sort()).toEqual(['{"MSG":"HELLO"}', '{"MSG":"WORLD"}']);
  // UpdateApplication while RUNNING: UPDATING, then the worker runs version 2 from where version 1 stopped.
  const { UpdateApplicationCommand } = await import('@aws-sdk/client-kinesis-analytics');
  await ka.send(new UpdateApplicationCommand({ ApplicationName: 'dev-app', CurrentApplicationVersionId: 1, ApplicationUpdate: { ApplicationCodeUpdate: `CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (MSG VARCHAR(32));
CREATE OR REPLACE PUMP "P" AS INSERT INTO "DESTINATION_SQL_STREAM" SELECT STREAM LOWER(MSG) || '!' FROM "SOURCE_SQL_STREAM_001";` } }));
  expect((await status()).ApplicationStatus).toBe('UPDATING');
  await waitFor('RUNNING version 2', async () => { const d = await status(); return d.ApplicationStatus === 'RUNNING' && d.ApplicationVersionId === 2; });
  await putJson(k, 'dev-in', [{ msg: 'AGAIN' }]);
  const rows2 = await waitFor('rows of version 2', async () => { const r = await readAll(k, 'dev-out'); return r.length >= 3 ? r : undefined; });
  expect(rows2.map((r) => r.data).sort()).toEqual(['{"MSG":"HELLO"}', '{"MSG":"WORLD"}', '{"MSG":"again!"}']);
  await ka.send(new StopApplicationCommand({ ApplicationName: 'dev-app' }));
  await waitFor('READY', async () => (await status()).ApplicationStatus === 'READY');
  await ka.send(new DeleteApplicationCommand({ ApplicationName: 'dev-app', CreateTimestamp: (await status()).CreateTimestamp }));
  await waitFor('no worker', async () => !sup.running().includes('dev-app'));
  ka.destroy();
}, 60000);
