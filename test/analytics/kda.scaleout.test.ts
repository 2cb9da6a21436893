// An application created and started through @aws-sdk/client-kinesis-analytics
// runs on every replica of its worker Deployment: two real `shardline
// analytics` processes with the command line and config the operator gives an
// API application's Deployment (operator/model/apiWorkers.ts) split a 4-shard
// stream through the run's consumer-group leases and combine partial
// aggregates (the second replica started after the application is RUNNING
// joins). Each window and key comes out once, equal to an oracle computed
// here from the records read back; StopApplication + StartApplication from
// TRIM_HORIZON computes everything afresh (a new run: no shard state of the
// old one is resumed); LAST_STOPPED_POINT resumes; a SIGKILLed replica (the
// one holding the application lease) still leaves each window once. Also a
// pass-through application through an update and a fresh run, and one whose
// plan splits nothing: the lease holder runs it, the other stands by.
import {
  CreateApplicationCommand, DescribeApplicationCommand, StartApplicationCommand, StopApplicationCommand, type KinesisAnalyticsClient,
} from '@aws-sdk/client-kinesis-analytics';
import { startStack, type Stack } from '../harness/runtime.js';
import { connectStore, type Store } from '../../stream/connect.js';
import { applicationsKv, readApplication } from '../../stream/applications.js';
import { kvLeaseStore } from '../../consumer/index.js';
import { keys as leaseKeys, type LeaseValue } from '../../consumer/leaseRecords.js';
import { analyticsConsumerGroup } from '../../contract/analytics.js';
import { analyticsClient, apiDeploymentCommand, createStream, putJson, readAll, sleep, spawnWorker, waitFor, type WorkerProcess } from './helpers.js';

let stack: Stack;
let store: Store;
const workers: WorkerProcess[] = [];

beforeAll(async () => {
  stack = await startStack(1);
  store = await connectStore({ natsUrl: stack.nats.url, name: 'test-kda-scaleout' });
});

afterAll(async () => {
  for (const w of workers) await w.kill();
  await store?.close();
  await stack?.stop();
});

const APP = 'clicks-by-page';
const CODE = `CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (PAGE VARCHAR(8), N INTEGER, TOTAL INTEGER, W TIMESTAMP);
CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
  SELECT STREAM PAGE, COUNT(*), SUM(MS), STEP("SOURCE_SQL_STREAM_001".ROWTIME BY INTERVAL '1' SECOND)
  FROM "SOURCE_SQL_STREAM_001"
  GROUP BY PAGE, STEP("SOURCE_SQL_STREAM_001".ROWTIME BY INTERVAL '1' SECOND);`;
const ts = (ms: number) => new Date(ms).toISOString().replace('T', ' ').replace('Z', '');

/** One output row per page and 1-s window of arrival time, from the input records arrived in [from, to). */
function oracle(records: { data: string; arrivalMs: number }[], from: number, to: number): string[] {
  const m = new Map<string, { n: number; total: number }>();
  for (const r of records) {
    if (r.arrivalMs < from || r.arrivalMs >= to) continue;
    const d = JSON.parse(r.data);
    const key = JSON.stringify([d.page, ts(Math.floor(r.arrivalMs / 1000) * 1000)]);
    const g = m.get(key) ?? { n: 0, total: 0 };
    g.n++; g.total += d.ms;
    m.set(key, g);
  }
  return [...m].map(([k, g]) => { const [page, w] = JSON.parse(k); return JSON.stringify({ PAGE: page, N: g.n, TOTAL: g.total, W: w }); }).sort();
}

const status = async (ka: KinesisAnalyticsClient) => (await ka.send(new DescribeApplicationCommand({ ApplicationName: APP }))).ApplicationDetail!;
const record = async () => (await readApplication<any>(await applicationsKv(store), APP))!.record;

/** Owners of the run's shard leases (consumer group of the record's run). */
async function leaseOwners(inputId: string, runId: string): Promise<Map<string, string>> {
  const k = leaseKeys(analyticsConsumerGroup(APP, inputId, runId), 'clicks');
  const out = new Map<string, string>();
  for (const [key, v] of await kvLeaseStore(store).list(k.all)) if (k.isLease(key) && (v.value as LeaseValue).owner) out.set((v.value as LeaseValue).shardId, (v.value as LeaseValue).owner!);
  return out;
}

test('two replicas of an API application split the shards; TRIM_HORIZON restarts afresh, LAST_STOPPED_POINT resumes; a SIGKILL leaves each window once', async () => {
  const k = stack.clients[0]!;
  const ka = analyticsClient(stack.runtimes[0]!.endpoint);
  const inArn = await createStream(k, 'clicks', 4);
  const outArn = await createStream(k, 'page-stats', 1);
  await ka.send(new CreateApplicationCommand({
    ApplicationName: APP, ApplicationCode: CODE,
    Inputs: [{
      NamePrefix: 'SOURCE_SQL_STREAM', KinesisStreamsInput: { ResourceARN: inArn, RoleARN: 'arn:aws:iam::000000000000:role/x' },
      InputSchema: {
        RecordFormat: { RecordFormatType: 'JSON', MappingParameters: { JSONMappingParameters: { RecordRowPath: '$' } } },
        RecordColumns: [{ Name: 'PAGE', SqlType: 'VARCHAR(8)', Mapping: '$.page' }, { Name: 'MS', SqlType: 'INTEGER', Mapping: '$.ms' }],
      },
    }],
    Outputs: [{ Name: 'DESTINATION_SQL_STREAM', KinesisStreamsOutput: { ResourceARN: outArn, RoleARN: 'arn:aws:iam::000000000000:role/x' }, DestinationSchema: { RecordFormatType: 'JSON' } }],
  }));
  const inputId = (await status(ka)).InputDescriptions![0]!.InputId!;
  const cmd = apiDeploymentCommand(stack, APP);
  const a = spawnWorker(cmd.args, cmd.configFile, cmd.env);
  workers.push(a);
  let b!: WorkerProcess;

  let n = 0;
  const produce = async (ms: number) => {
    const until = Date.now() + ms;
    while (Date.now() < until) {
      await putJson(k, 'clicks', Array.from({ length: 24 }, () => { n++; return { page: `p${n % 6}`, ms: (n * 37) % 500 }; }));
      await sleep(100);
    }
  };
  const start = async (position: 'TRIM_HORIZON' | 'LAST_STOPPED_POINT') => {
    await ka.send(new StartApplicationCommand({ ApplicationName: APP, InputConfigurations: [{ Id: inputId, InputStartingPositionConfiguration: { InputStartingPosition: position } }] }));
    await waitFor('RUNNING', async () => (await status(ka)).ApplicationStatus === 'RUNNING');
  };
  const stop = async () => {
    await ka.send(new StopApplicationCommand({ ApplicationName: APP }));
    await waitFor('READY', async () => (await status(ka)).ApplicationStatus === 'READY');
  };
  /** The output rows after the first `skip`, once there are `count` of them (and no more a moment later). */
  const output = async (skip: number, count: number) => {
    await waitFor(`${count} output rows`, async () => (await readAll(k, 'page-stats')).length - skip >= count, 60_000);
    await sleep(2500);
    return (await readAll(k, 'page-stats')).slice(skip).map((r) => r.data);
  };

  // Run 1 from TRIM_HORIZON: both replicas lease shards of the run's consumer group, the second started
  // once the application is RUNNING (it joins).
  await start('TRIM_HORIZON');
  const run1 = (await record()).runId as string;
  expect(run1).toMatch(/^[0-9a-f]{16}$/);
  await produce(1500);
  b = spawnWorker(cmd.args, cmd.configFile, cmd.env);
  workers.push(b);
  const owners = await waitFor('both replicas to lease shards', async () => {
    await produce(300);
    const o = await leaseOwners(inputId, run1);
    return o.size === 4 && new Set(o.values()).size === 2 ? o : undefined;
  }, 60_000);
  expect(owners.size).toBe(4);
  expect(a.logs()).toMatch(/two-phase aggregation; this replica combines/);
  expect(b.logs()).not.toMatch(/holds the application lease/);
  for (const w of [a, b]) expect(w.logs()).toMatch(/two-phase aggregation: this replica aggregates the shards it leases/);
  await produce(2000);
  const end1 = Date.now();
  await sleep(1100);
  let input = await readAll(k, 'clicks');
  const want1 = oracle(input, 0, end1);
  expect(want1.length).toBeGreaterThan(20);
  const got1 = await output(0, want1.length);
  expect(got1.sort()).toEqual(want1);

  // Stop; start again from TRIM_HORIZON: a new run reads every record again and computes the same rows afresh.
  await stop();
  await start('TRIM_HORIZON');
  const run2 = (await record()).runId as string;
  expect(run2).not.toBe(run1);
  const got2 = await output(want1.length, want1.length);
  expect(got2.sort()).toEqual(want1);
  await waitFor('both replicas to lease shards of the new run', async () => new Set((await leaseOwners(inputId, run2)).values()).size === 2, 60_000);
  // The earlier run's leases are gone.
  expect((await leaseOwners(inputId, run1)).size).toBe(0);

  // Stop; records put while stopped, and more after LAST_STOPPED_POINT: the same run resumes where it stopped.
  await stop();
  const stopped = Date.now();
  await sleep(1100);
  await produce(1500);
  await start('LAST_STOPPED_POINT');
  expect((await record()).runId).toBe(run2);
  await produce(2500);
  // SIGKILL the replica combining (the application lease holder) mid-window; the other takes over.
  const leader = a;
  const other = b;
  expect(b.logs()).not.toMatch(/holds the application lease/);
  await leader.kill('SIGKILL');
  await produce(2500);
  await waitFor('the other replica to take the application lease', async () => /holds the application lease/.test(other.logs()), 60_000);
  await produce(1500);
  const end3 = Date.now();
  await sleep(1100);
  input = await readAll(k, 'clicks');
  const want3 = oracle(input, stopped, end3);
  expect(want3.length).toBeGreaterThan(20);
  const got3 = await output(want1.length * 2, want3.length);
  // Each window and key once, equal to the oracle over what arrived since the stop.
  expect(got3.sort()).toEqual(want3);
  // The survivor holds every shard of the run now.
  const left = await leaseOwners(inputId, run2);
  expect(left.size).toBe(4);
  expect(new Set(left.values()).size).toBe(1);
  expect(other.logs()).not.toMatch(/lease lost; exiting/);
}, 400_000);

test('pass-through API application on two replicas: each record once; an update switches both replicas to the new version without repeating or losing records; TRIM_HORIZON re-emits every record once', async () => {
  const k = stack.clients[0]!;
  const ka = analyticsClient(stack.runtimes[0]!.endpoint);
  const name = 'upper-pages';
  const inArn = await createStream(k, 'pt-in', 4);
  const outArn = await createStream(k, 'pt-out', 1);
  const code = (expr: string) => `CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (ID INTEGER, P VARCHAR(16));
CREATE OR REPLACE PUMP "P" AS INSERT INTO "DESTINATION_SQL_STREAM" SELECT STREAM ID, ${expr} FROM "SOURCE_SQL_STREAM_001";`;
  await ka.send(new CreateApplicationCommand({
    ApplicationName: name, ApplicationCode: code('UPPER(PAGE)'),
    Inputs: [{
      NamePrefix: 'SOURCE_SQL_STREAM', KinesisStreamsInput: { ResourceARN: inArn, RoleARN: 'arn:aws:iam::000000000000:role/x' },
      InputSchema: {
        RecordFormat: { RecordFormatType: 'JSON', MappingParameters: { JSONMappingParameters: { RecordRowPath: '$' } } },
        RecordColumns: [{ Name: 'ID', SqlType: 'INTEGER', Mapping: '$.id' }, { Name: 'PAGE', SqlType: 'VARCHAR(8)', Mapping: '$.page' }],
      },
    }],
    Outputs: [{ Name: 'DESTINATION_SQL_STREAM', KinesisStreamsOutput: { ResourceARN: outArn, RoleARN: 'arn:aws:iam::000000000000:role/x' }, DestinationSchema: { RecordFormatType: 'JSON' } }],
  }));
  const detail = async () => (await ka.send(new DescribeApplicationCommand({ ApplicationName: name }))).ApplicationDetail!;
  const inputId = (await detail()).InputDescriptions![0]!.InputId!;
  const cmd = apiDeploymentCommand(stack, name);
  const a = spawnWorker(cmd.args, cmd.configFile, cmd.env);
  const b = spawnWorker(cmd.args, cmd.configFile, cmd.env);
  workers.push(a, b);
  let n = 0;
  const produce = async (ms: number) => {
    const until = Date.now() + ms;
    while (Date.now() < until) {
      await putJson(k, 'pt-in', Array.from({ length: 20 }, () => { n++; return { id: n, page: `Page${n % 7}` }; }));
      await sleep(100);
    }
  };
  const outputs = async () => (await readAll(k, 'pt-out')).map((r) => JSON.parse(r.data) as { ID: number; P: string });
  /** Waits until the output holds `count` rows, then a moment more (nothing further may come). */
  const settle = async (count: number) => {
    await waitFor(`${count} output rows`, async () => (await readAll(k, 'pt-out')).length >= count, 60_000);
    await sleep(2500);
    return outputs();
  };
  const rows = (ids: number[], f: (page: string) => string) => ids.map((id) => JSON.stringify({ ID: id, P: f(`Page${id % 7}`) })).sort();
  const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

  await ka.send(new StartApplicationCommand({ ApplicationName: name, InputConfigurations: [{ Id: inputId, InputStartingPositionConfiguration: { InputStartingPosition: 'TRIM_HORIZON' } }] }));
  await waitFor('RUNNING', async () => (await detail()).ApplicationStatus === 'RUNNING');
  const run = (await readApplication<any>(await applicationsKv(store), name))!.record.runId as string;
  await produce(1500);
  await waitFor('both replicas to lease shards', async () => {
    await produce(300);
    const o = await leaseOwnersOf(name, inputId, run, 'pt-in');
    return o.size === 4 && new Set(o.values()).size === 2;
  }, 60_000);
  for (const w of [a, b]) expect(w.logs()).toMatch(/pass-through: every pump is stateless/);
  await produce(1500);
  const v1 = n;
  const got1 = await settle(v1);
  expect(got1.map((r) => JSON.stringify(r)).sort()).toEqual(rows(range(1, v1), (p) => p.toUpperCase()));

  // UpdateApplication while RUNNING: both replicas stop version 1 and run version 2 from where it stopped.
  const { UpdateApplicationCommand } = await import('@aws-sdk/client-kinesis-analytics');
  await ka.send(new UpdateApplicationCommand({ ApplicationName: name, CurrentApplicationVersionId: 1, ApplicationUpdate: { ApplicationCodeUpdate: code(`LOWER(PAGE) || '!'`) } }));
  await waitFor('RUNNING version 2', async () => { const d = await detail(); return d.ApplicationStatus === 'RUNNING' && d.ApplicationVersionId === 2; });
  expect((await readApplication<any>(await applicationsKv(store), name))!.record.runId).toBe(run);
  await produce(2500);
  const v2 = n;
  const got2 = await settle(v2);
  expect(got2.slice(v1).map((r) => JSON.stringify(r)).sort()).toEqual(rows(range(v1 + 1, v2), (p) => `${p.toLowerCase()}!`));
  await waitFor('both replicas on version 2', async () => [a, b].every((w) => /version 2, run [0-9a-f]+: pass-through/.test(w.logs())), 30_000);

  // A fresh run from TRIM_HORIZON: every record once more, through version 2.
  await ka.send(new StopApplicationCommand({ ApplicationName: name }));
  await waitFor('READY', async () => (await detail()).ApplicationStatus === 'READY');
  await ka.send(new StartApplicationCommand({ ApplicationName: name, InputConfigurations: [{ Id: inputId, InputStartingPositionConfiguration: { InputStartingPosition: 'TRIM_HORIZON' } }] }));
  await waitFor('RUNNING', async () => (await detail()).ApplicationStatus === 'RUNNING');
  const got3 = await settle(v2 * 2);
  expect(got3.slice(v2).map((r) => JSON.stringify(r)).sort()).toEqual(rows(range(1, v2), (p) => `${p.toLowerCase()}!`));
}, 300_000);

async function leaseOwnersOf(app: string, inputId: string, runId: string, stream: string): Promise<Map<string, string>> {
  const k = leaseKeys(analyticsConsumerGroup(app, inputId, runId), stream);
  const out = new Map<string, string>();
  for (const [key, v] of await kvLeaseStore(store).list(k.all)) if (k.isLease(key) && (v.value as LeaseValue).owner) out.set((v.value as LeaseValue).shardId, (v.value as LeaseValue).owner!);
  return out;
}

test('an API application whose plan does not split shards runs on the lease holder; the other replica stands by and takes over after a SIGKILL, each input row once', async () => {
  const k = stack.clients[0]!;
  const ka = analyticsClient(stack.runtimes[0]!.endpoint);
  const name = 'page-momentum';
  const inArn = await createStream(k, 'mo-in', 4);
  const outArn = await createStream(k, 'mo-out', 1);
  await ka.send(new CreateApplicationCommand({
    ApplicationName: name,
    ApplicationCode: `CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (ID INTEGER, RECENT INTEGER);
CREATE OR REPLACE PUMP "P" AS INSERT INTO "DESTINATION_SQL_STREAM"
  SELECT STREAM ID, COUNT(*) OVER (PARTITION BY PAGE RANGE INTERVAL '10' SECOND PRECEDING) FROM "SOURCE_SQL_STREAM_001";`,
    Inputs: [{
      NamePrefix: 'SOURCE_SQL_STREAM', KinesisStreamsInput: { ResourceARN: inArn, RoleARN: 'arn:aws:iam::000000000000:role/x' },
      InputSchema: {
        RecordFormat: { RecordFormatType: 'JSON', MappingParameters: { JSONMappingParameters: { RecordRowPath: '$' } } },
        RecordColumns: [{ Name: 'ID', SqlType: 'INTEGER', Mapping: '$.id' }, { Name: 'PAGE', SqlType: 'VARCHAR(8)', Mapping: '$.page' }],
      },
    }],
    Outputs: [{ Name: 'DESTINATION_SQL_STREAM', KinesisStreamsOutput: { ResourceARN: outArn, RoleARN: 'arn:aws:iam::000000000000:role/x' }, DestinationSchema: { RecordFormatType: 'JSON' } }],
  }));
  const detail = async () => (await ka.send(new DescribeApplicationCommand({ ApplicationName: name }))).ApplicationDetail!;
  const inputId = (await detail()).InputDescriptions![0]!.InputId!;
  const cmd = apiDeploymentCommand(stack, name);
  const a = spawnWorker(cmd.args, cmd.configFile, cmd.env);
  workers.push(a);
  await ka.send(new StartApplicationCommand({ ApplicationName: name, InputConfigurations: [{ Id: inputId, InputStartingPositionConfiguration: { InputStartingPosition: 'TRIM_HORIZON' } }] }));
  await waitFor('RUNNING', async () => (await detail()).ApplicationStatus === 'RUNNING');
  const b = spawnWorker(cmd.args, cmd.configFile, cmd.env);
  workers.push(b);
  let n = 0;
  const produce = async (ms: number) => {
    const until = Date.now() + ms;
    while (Date.now() < until) {
      await putJson(k, 'mo-in', Array.from({ length: 20 }, () => { n++; return { id: n, page: `p${n % 3}` }; }));
      await sleep(100);
    }
  };
  await produce(3000);
  expect(a.logs()).toMatch(/running version 1, run [0-9a-f]+ \(one active replica: /);
  await waitFor('the standby to see the plan', async () => /one active replica \(the application lease holder\)/.test(b.logs()), 30_000);
  expect(b.logs()).not.toMatch(/holds the application lease|took shardId/);
  await a.kill('SIGKILL');
  await produce(2000);
  await waitFor('the standby to take over', async () => /holds the application lease/.test(b.logs()), 60_000);
  await produce(2000);
  await waitFor(`${n} output rows`, async () => (await readAll(k, 'mo-out')).length >= n, 60_000);
  await sleep(2000);
  const ids = (await readAll(k, 'mo-out')).map((r) => JSON.parse(r.data).ID as number).sort((x, y) => x - y);
  expect(ids).toEqual(Array.from({ length: n }, (_, i) => i + 1));
}, 200_000);
