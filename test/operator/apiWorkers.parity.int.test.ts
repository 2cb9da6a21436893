// API-created delivery streams get what a DeliveryStream resource's worker
// gets: a Kinesis source that is an encrypted DataStream puts the worker in
// that DataStream's namespace with the stream's key set (and a key swap waits
// for its roll), and a Lambda processor naming an ARN is called at the URL the
// operator's --api-lambda-functions map gives it; so is an API-created
// analytics application's LambdaOutput. A real apiserver +
// controller-manager, nats-server, s3rver; this tiny kubelet runs every pod's
// real process: a runtime holding exactly its pod's key files, or the worker
// with its container's command line, resolved environment, ConfigMap and key files.
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import {
  FirehoseClient, CreateDeliveryStreamCommand, DeleteDeliveryStreamCommand, DescribeDeliveryStreamCommand, PutRecordBatchCommand,
} from '@aws-sdk/client-firehose';
import { DescribeStreamSummaryCommand, GetRecordsCommand, GetShardIteratorCommand, ListShardsCommand, PutRecordCommand, type KinesisClient } from '@aws-sdk/client-kinesis';
import { startControlPlane, CRD_FILES, until, type ControlPlane } from '../harness/kube.js';
import { startNats, type NatsServers } from '../harness/nats.js';
import { sdkClient, startInProcess, TEST_CREDENTIALS } from '../harness/runtime.js';
import { startS3, type S3Server } from '../harness/s3.js';
import { startDeliveryProcess, type DeliveryProcess } from '../harness/delivery.js';
import { markPodReady, podEnv, podKeyFiles } from '../harness/pods.js';
import { startOperator, type OperatorHandle } from '../../operator/manager.js';
import { connectStreamStore, type StreamStore } from '../../operator/store/streamStore.js';
import { ConfigMaps, DataStreams, Deployments, Pods, Secrets } from '../../operator/kube/resources.js';
import { CreateApplicationCommand, DeleteApplicationCommand, DescribeApplicationCommand, StartApplicationCommand } from '@aws-sdk/client-kinesis-analytics';
import { analyticsClient, createStream, putJson } from '../analytics/helpers.js';
import { KMS_KEYS_DIR, WORKER_CONFIG_DIR } from '../../contract/mounts.js';
import { ENV } from '../../contract/env.js';
import type { RunningRuntime } from '../../runtime/server.js';

const UPPER_ARN = 'arn:aws:lambda:us-east-1:000000000000:function:upper';
const UNMAPPED_ARN = 'arn:aws:lambda:us-east-1:000000000000:function:nowhere';

let cp: ControlPlane;
let nats: NatsServers;
let s3: S3Server;
let op: OperatorHandle;
let store: StreamStore;
let rt: RunningRuntime & { endpoint: string };
let fh: FirehoseClient;
let fn: http.Server;
let fnCalls = 0;
/** Every record the function was called with, decoded. */
const fnReceived: string[] = [];
let opNs: string;
let tmp: string;
const logs: string[] = [];

type Pod =
  | { kind: 'runtime'; ns: string; rt: RunningRuntime & { endpoint: string }; c: KinesisClient; keys: string[] }
  | { kind: 'delivery' | 'analytics'; ns: string; proc: DeliveryProcess; keys: string[]; env: Record<string, string>; deployment: string };
const pods = new Map<string, Pod>();
/** Pods whose process runs but which are not reported Ready while `hold` says so (a slow pod holding up a roll). */
let hold: (p: Pod) => boolean = () => false;
const ready = new Set<string>();
const namespaces = new Set<string>();

async function stopPod(p: Pod): Promise<void> {
  if (p.kind === 'runtime') { p.c.destroy(); await p.rt.close(); } else await p.proc.kill('SIGTERM');
}

/** Starts a pod's process as the kubelet would run its container. */
async function startPod(ns: string, pod: any): Promise<Pod | undefined> {
  const component = pod.metadata.labels?.['app.kubernetes.io/component'];
  if (component !== 'runtime' && component !== 'delivery' && component !== 'analytics') return undefined;
  const dir = path.join(tmp, pod.metadata.name);
  const keyDir = path.join(dir, 'kms-keys');
  fs.mkdirSync(keyDir, { recursive: true });
  const files = await podKeyFiles(cp.client, ns, pod);
  for (const [f, v] of Object.entries(files)) fs.writeFileSync(path.join(keyDir, f), v);
  const keys = Object.keys(files).sort();
  if (component === 'runtime') {
    const r = await startInProcess(nats.url, { kmsKeysFile: keyDir });
    return { kind: 'runtime', ns, rt: r, c: sdkClient(r.endpoint, { http1: true }), keys };
  }
  const container = pod.spec.containers[0];
  const configVol = pod.spec.volumes.find((v: any) => v.name === 'config');
  const cm = await cp.client.get<any>(ConfigMaps, ns, configVol.configMap.name);
  for (const [f, v] of Object.entries(cm.data as Record<string, string>)) fs.writeFileSync(path.join(dir, f), v);
  const env = await podEnv(cp.client, ns, container);
  if (env[ENV.kmsKeysFile] !== undefined) {
    expect(env[ENV.kmsKeysFile]).toBe(KMS_KEYS_DIR);
    env[ENV.kmsKeysFile] = keyDir;
  }
  const args = (container.args as string[]).map((a) => a.replace(WORKER_CONFIG_DIR, dir));
  const proc = startDeliveryProcess(args, { ...env, PATH: process.env.PATH ?? '', HOME: dir }, { cleanEnv: true });
  return { kind: component, ns, proc, keys, env, deployment: configVol.configMap.name };
}

/** One kubelet pass over the watched namespaces: processes for new pods (then Ready), gone pods' processes stopped. */
async function kubelet(): Promise<void> {
  const live = new Set<string>();
  for (const ns of namespaces) {
    for (const pod of (await cp.client.list<any>(Pods, ns)).items) {
      if (pod.metadata.deletionTimestamp) continue;
      live.add(pod.metadata.name);
      let p = pods.get(pod.metadata.name);
      if (!p) {
        p = await startPod(ns, pod);
        if (!p) continue;
        pods.set(pod.metadata.name, p);
      }
      if (ready.has(pod.metadata.name) || hold(p)) continue;
      await markPodReady(cp.client, ns, pod.metadata.name);
      ready.add(pod.metadata.name);
    }
  }
  for (const [name, p] of pods) {
    if (live.has(name)) continue;
    pods.delete(name);
    ready.delete(name);
    await stopPod(p);
  }
}

let stopped = false;
let kubeletTimer: NodeJS.Timeout | undefined;

beforeAll(async () => {
  [cp, nats, s3] = await Promise.all([startControlPlane({ crdFiles: CRD_FILES, operatorRbac: true }), startNats(), startS3()]);
  opNs = await cp.namespace('op');
  namespaces.add(opNs);
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shardline-apiworkers-enc-'));
  await cp.client.create(Secrets, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 's3-creds', namespace: opNs }, stringData: { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' } });
  // A transform function speaking the Lambda contract: upper-cases every record.
  fn = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      fnCalls++;
      const ev = JSON.parse(Buffer.concat(chunks).toString());
      for (const r of ev.records) fnReceived.push(Buffer.from(r.data, 'base64').toString());
      const records = ev.records.map((r: any) => ({ recordId: r.recordId, result: 'Ok', data: Buffer.from(Buffer.from(r.data, 'base64').toString().toUpperCase()).toString('base64') }));
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ records }));
    });
  });
  await new Promise<void>((r) => fn.listen(0, '127.0.0.1', r));
  const fnUrl = `http://127.0.0.1:${(fn.address() as AddressInfo).port}/`;
  store = await connectStreamStore(nats.url);
  op = await startOperator({
    kubeConfig: cp.operatorKc!, natsUrl: nats.url, image: 'shardline:test', sharedEndpoint: 'http://shardline.shardline-system.svc:4567', resyncMs: 1000, recheckMs: 500, store,
    apiWorkers: { namespace: opNs, deliveryS3: { endpoint: s3.endpoint, region: 'us-east-1', secret: 's3-creds' }, lambdaFunctions: { [UPPER_ARN]: fnUrl } },
    log: (m) => logs.push(m),
  });
  await op.synced;
  // The shared endpoint: it holds no key, so it cannot open an encrypted stream's records.
  rt = await startInProcess(nats.url);
  fh = new FirehoseClient({ endpoint: rt.endpoint, region: 'us-east-1', credentials: TEST_CREDENTIALS, maxAttempts: 1, requestHandler: new NodeHttpHandler() });
  const tick = async () => {
    try { await kubelet(); } catch { /* the next pass retries */ }
    if (!stopped) kubeletTimer = setTimeout(tick, 150);
  };
  void tick();
}, 120_000);

afterAll(async () => {
  stopped = true;
  clearTimeout(kubeletTimer);
  for (const p of pods.values()) await stopPod(p);
  fh?.destroy();
  await rt?.close();
  await new Promise((r) => (fn ? fn.close(r) : r(undefined)));
  await op?.stop();
  await store?.close();
  await Promise.all([cp?.stop(), nats?.stop(), s3?.stop()]);
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

async function delivered(bucket: string, prefix?: string): Promise<string[]> {
  const out: string[] = [];
  for (const k of await s3.list(bucket, prefix)) out.push(...(await s3.get(bucket, k)).toString().split('\n').filter(Boolean));
  return out.sort();
}

const apiDeployments = async (ns: string) =>
  (await cp.client.list<any>(Deployments, ns)).items.filter((d) => d.metadata.labels?.['shardline.dev/api-definition'] === 'delivery');

async function expectConverged(): Promise<void> {
  const before = op.client.writes.total;
  await new Promise((r) => setTimeout(r, 3500));
  expect(op.client.writes.total - before).toBe(0);
}

test('an API-created delivery stream reading an encrypted DataStream runs beside it with its key set, delivers its sealed records, and takes part in a key swap', async () => {
  const ns = await cp.namespace('enc');
  namespaces.add(ns);
  for (const name of ['key-a', 'key-b']) {
    await cp.client.create(Secrets, { apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: ns }, stringData: { key: randomBytes(32).toString('base64') } });
  }
  // The install's S3 credentials Secret, under the same name in the DataStream's namespace.
  await cp.client.create(Secrets, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 's3-creds', namespace: ns }, stringData: { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' } });
  await s3.createBucket('sealed');
  await cp.client.create(DataStreams, {
    apiVersion: 'shardline.dev/v1alpha1', kind: 'DataStream', metadata: { name: 'secret-orders', namespace: ns },
    spec: { shards: 1, replicas: 1, retentionHours: 24, runtime: { dedicated: true, replicas: 1 }, encryption: { keySecretRef: { name: 'key-a', key: 'key' } } },
  });
  const runtimePod = () => [...pods.values()].find((p) => p.kind === 'runtime' && p.ns === ns) as Extract<Pod, { kind: 'runtime' }> | undefined;
  const deliveryPods = () => [...pods.values()].filter((p): p is Extract<Pod, { kind: 'delivery' | 'analytics' }> => p.kind === 'delivery' && p.ns === ns);
  await until('encrypted with key-a, its runtime running', async () => (await store.get('secret-orders'))?.encryption.keyId === 'key-a_key' && runtimePod(), 60_000);

  const acked: string[] = [];
  const failures: string[] = [];
  const unsure = new Set<string>();
  let n = 0;
  let writing = true;
  // Records written through the stream's own runtime pods (whichever runs), sealed with the key the record names.
  let depName = '';
  let from = Infinity;
  const num = (r: string) => JSON.parse(r).n as number;
  const writer = (async () => {
    while (writing) {
      const p = runtimePod();
      if (p) {
        const data = JSON.stringify({ n: n++ });
        try {
          await p.c.send(new PutRecordCommand({ StreamName: 'secret-orders', PartitionKey: data, Data: Buffer.from(data) }));
          acked.push(data);
        } catch (e) {
          // A runtime pod stopped by its roll mid-request: not acknowledged, so not expected in S3, though it may
          // have been stored before the pod went (a Kinesis write that failed may still land).
          unsure.add(data);
          if ([...pods.values()].includes(p)) failures.push(`${(e as Error).name}: ${(e as Error).message}`);
        }
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  try {
    await until('some records written', async () => acked.length >= 5, 30_000);
    // Oracle that they are sealed: the shared endpoint, holding no key, cannot open them.
    const shared = sdkClient(rt.endpoint, { http1: true });
    try {
      const shard = (await shared.send(new ListShardsCommand({ StreamName: 'secret-orders' }))).Shards![0]!.ShardId;
      const it = (await shared.send(new GetShardIteratorCommand({ StreamName: 'secret-orders', ShardId: shard, ShardIteratorType: 'TRIM_HORIZON' }))).ShardIterator;
      const err = await shared.send(new GetRecordsCommand({ ShardIterator: it })).then(() => undefined, (e: Error) => e);
      expect(`${err?.name}: ${err?.message}`).toMatch(/^KMS/);
    } finally {
      shared.destroy();
    }

    const arn = (await runtimePod()!.c.send(new DescribeStreamSummaryCommand({ StreamName: 'secret-orders' }))).StreamDescriptionSummary!.StreamARN!;
    await fh.send(new CreateDeliveryStreamCommand({
      DeliveryStreamName: 'sealed-to-s3', DeliveryStreamType: 'KinesisStreamAsSource',
      KinesisStreamSourceConfiguration: { KinesisStreamARN: arn, RoleARN: 'arn:aws:iam::000000000000:role/x' },
      ExtendedS3DestinationConfiguration: {
        RoleARN: 'arn:aws:iam::000000000000:role/x', BucketARN: 'arn:aws:s3:::sealed', BufferingHints: { SizeInMBs: 1, IntervalInSeconds: 0 },
        ProcessingConfiguration: { Enabled: true, Processors: [{ Type: 'AppendDelimiterToRecord' }] },
      },
    }));
    await until('ACTIVE', async () => (await fh.send(new DescribeDeliveryStreamCommand({ DeliveryStreamName: 'sealed-to-s3' }))).DeliveryStreamDescription!.DeliveryStreamStatus === 'ACTIVE', 20_000);
    // Firehose reads a Kinesis source from the delivery stream's creation on: every record sent from now must arrive.
    from = n;
    // Its worker runs in the DataStream's namespace (where the key Secret is), none in the operator's.
    const [dep] = await until('worker Deployment beside the DataStream', async () => { const d = await apiDeployments(ns); return d.length === 1 && d; }, 30_000);
    expect(await apiDeployments(opNs)).toEqual([]);
    depName = dep.metadata.name;
    expect(dep.metadata.annotations['shardline.dev/source-stream']).toBe('secret-orders');
    expect(dep.spec.template.spec.volumes.find((v: any) => v.name === 'kms-keys').projected.sources).toEqual([{ secret: { name: 'key-a', items: [{ key: 'key', path: 'key-a_key' }] } }]);
    await until('its pod running', async () => deliveryPods().length === 1, 30_000);
    const worker = deliveryPods()[0]!;
    expect(worker.keys).toEqual(['key-a_key']);
    expect(worker.env.AWS_ACCESS_KEY_ID).toBe('S3RVER');
    await until('records written since', async () => acked.filter((r) => num(r) >= from).length >= 5, 30_000);
    const early = acked.filter((r) => num(r) >= from);
    await until('the sealed records delivered', async () => { const got = new Set(await delivered('sealed')); return early.every((r) => got.has(r)); }, 60_000)
      .catch((e) => { throw new Error(`${(e as Error).message}; worker stderr: ${worker.proc.stderr()}`); });

    // A key swap: the API worker's next generation starts with both keys but is held unready, so the
    // record keeps naming key-a and the DataStream names the API worker Deployment it waits for.
    hold = (p) => p.kind === 'delivery' && p.keys.includes('key-b_key');
    await cp.client.patch(DataStreams, ns, 'secret-orders', { spec: { encryption: { keySecretRef: { name: 'key-b', key: 'key' } } } });
    const waiting = await until('DataStream waits for the API worker roll', async () => {
      const c = (await cp.client.get<any>(DataStreams, ns, 'secret-orders')).status?.conditions?.find((x: any) => x.type === 'Ready');
      return c?.reason === 'KeySwapWaitingForWorkers' && deliveryPods().some((p) => p.keys.includes('key-b_key')) ? c : undefined;
    }, 60_000);
    expect(waiting.message).toBe(`Encryption with key key-b_key waits for the worker Deployments ${dep.metadata.name} to roll out with it.`);
    await new Promise((r) => setTimeout(r, 2000));
    expect((await store.get('secret-orders'))?.encryption.keyId).toBe('key-a_key');
    hold = () => false;
    await until('record names key-b', async () => (await store.get('secret-orders'))?.encryption.keyId === 'key-b_key', 90_000);
    await until('API worker on the new key only', async () => deliveryPods().length === 1 && deliveryPods()[0]!.keys.join() === 'key-b_key', 60_000);
    const before = acked.length;
    await until('records written under key-b', async () => acked.length >= before + 5, 30_000);
  } finally {
    writing = false;
    await writer;
  }
  expect(failures).toEqual([]);
  const want = acked.filter((r) => num(r) >= from).sort();
  await until('every record delivered', async () => { const got = new Set(await delivered('sealed')); return want.every((r) => got.has(r)); }, 60_000).catch(() => undefined);
  const got = await delivered('sealed');
  // Each record once, only ones sent, and every acknowledged one sent after the creation.
  expect(new Set(got).size).toBe(got.length);
  expect(got.filter((r) => !acked.includes(r) && !unsure.has(r))).toEqual([]);
  expect(got.filter((r) => num(r) >= from && !unsure.has(r))).toEqual(want);
  expect(want.length).toBeGreaterThan(10);

  await expectConverged();
  await fh.send(new DeleteDeliveryStreamCommand({ DeliveryStreamName: 'sealed-to-s3' }));
  await until('its children deleted', async () => (await apiDeployments(ns)).length === 0 && !(await cp.client.get(ConfigMaps, ns, depName)), 30_000);
}, 300_000);

test('a Lambda processor naming an ARN is called at the URL the operator maps it to; records arrive transformed in S3', async () => {
  await s3.createBucket('upper');
  await fh.send(new CreateDeliveryStreamCommand({
    DeliveryStreamName: 'shout',
    ExtendedS3DestinationConfiguration: {
      RoleARN: 'arn:aws:iam::000000000000:role/x', BucketARN: 'arn:aws:s3:::upper', BufferingHints: { SizeInMBs: 1, IntervalInSeconds: 0 },
      ProcessingConfiguration: { Enabled: true, Processors: [
        { Type: 'Lambda', Parameters: [{ ParameterName: 'LambdaArn', ParameterValue: UPPER_ARN }] },
        { Type: 'AppendDelimiterToRecord' },
      ] },
    },
  }));
  await until('ACTIVE', async () => (await fh.send(new DescribeDeliveryStreamCommand({ DeliveryStreamName: 'shout' }))).DeliveryStreamDescription!.DeliveryStreamStatus === 'ACTIVE', 20_000);
  const [dep] = await until('worker Deployment', async () => { const d = await apiDeployments(opNs); return d.length === 1 && d; }, 30_000);
  // Only the ARNs this definition names reach its config.
  const cm = await cp.client.get<any>(ConfigMaps, opNs, dep.metadata.name);
  expect(JSON.parse(cm.data['config.json']).functions).toEqual({ [UPPER_ARN]: `http://127.0.0.1:${(fn.address() as AddressInfo).port}/` });
  expect(dep.spec.template.spec.volumes.map((v: any) => v.name)).not.toContain('kms-keys');
  await until('its pod running', async () => [...pods.values()].some((p) => p.kind === 'delivery' && p.ns === opNs), 30_000);
  const calls = fnCalls;
  const put = await fh.send(new PutRecordBatchCommand({ DeliveryStreamName: 'shout', Records: ['one', 'two', 'three'].map((s) => ({ Data: Buffer.from(s) })) }));
  expect(put.FailedPutCount).toBe(0);
  await until('records in S3', async () => (await delivered('upper')).length >= 3, 30_000);
  expect(await delivered('upper')).toEqual(['ONE', 'THREE', 'TWO']);
  expect(fnCalls).toBeGreaterThan(calls);

  // An ARN the map lacks: one log line names it and the flag (its records go to the error prefix).
  await fh.send(new CreateDeliveryStreamCommand({
    DeliveryStreamName: 'unmapped',
    ExtendedS3DestinationConfiguration: {
      RoleARN: 'arn:aws:iam::000000000000:role/x', BucketARN: 'arn:aws:s3:::upper', Prefix: 'unmapped/', ErrorOutputPrefix: 'unmapped-errors/', BufferingHints: { SizeInMBs: 1, IntervalInSeconds: 0 },
      ProcessingConfiguration: { Enabled: true, Processors: [{ Type: 'Lambda', Parameters: [{ ParameterName: 'LambdaArn', ParameterValue: UNMAPPED_ARN }] }] },
    },
  }));
  await until('logged', async () => logs.some((m) => m.includes('unmapped') && m.includes(UNMAPPED_ARN) && m.includes('--api-lambda-functions')), 30_000);
  await new Promise((r) => setTimeout(r, 2500));
  expect(logs.filter((m) => m.includes(UNMAPPED_ARN))).toHaveLength(1);

  await expectConverged();
  for (const name of ['shout', 'unmapped']) await fh.send(new DeleteDeliveryStreamCommand({ DeliveryStreamName: name }));
  await until('children deleted', async () => (await apiDeployments(opNs)).length === 0, 30_000);
}, 120_000);

test('an API-created application\'s LambdaOutput naming an ARN is called at the URL the operator maps it to', async () => {
  const ka = analyticsClient(rt.endpoint);
  const k = sdkClient(rt.endpoint, { http1: true });
  try {
    const inArn = await createStream(k, 'kda-lambda-in', 1);
    await ka.send(new CreateApplicationCommand({
      ApplicationName: 'to_lambda',
      ApplicationCode: `CREATE OR REPLACE STREAM "DEST" (MSG VARCHAR(32));
CREATE OR REPLACE PUMP "P" AS INSERT INTO "DEST" SELECT STREAM MSG FROM "SOURCE_SQL_STREAM_001";`,
      Inputs: [{ NamePrefix: 'SOURCE_SQL_STREAM', KinesisStreamsInput: { ResourceARN: inArn, RoleARN: 'r' }, InputSchema: { RecordFormat: { RecordFormatType: 'JSON', MappingParameters: { JSONMappingParameters: { RecordRowPath: '$' } } }, RecordColumns: [{ Name: 'MSG', SqlType: 'VARCHAR(32)', Mapping: '$.msg' }] } }],
      Outputs: [{ Name: 'DEST', LambdaOutput: { ResourceARN: UPPER_ARN, RoleARN: 'r' }, DestinationSchema: { RecordFormatType: 'JSON' } }],
    }));
    const dep = await until('an analytics Deployment', async () => (await cp.client.list<any>(Deployments, opNs)).items.find((d) => d.metadata.labels?.['shardline.dev/api-definition'] === 'analytics'), 20_000);
    const cm = await cp.client.get<any>(ConfigMaps, opNs, dep.metadata.name);
    expect(JSON.parse(cm.data['config.json']).functions).toEqual({ [UPPER_ARN]: `http://127.0.0.1:${(fn.address() as AddressInfo).port}/` });
    await until('its worker process', async () => [...pods.values()].some((p) => p.kind === 'analytics'), 20_000);
    const worker = [...pods.values()].find((p) => p.kind === 'analytics') as Extract<Pod, { proc: DeliveryProcess }>;
    await ka.send(new StartApplicationCommand({ ApplicationName: 'to_lambda', InputConfigurations: [{ Id: '1.1', InputStartingPositionConfiguration: { InputStartingPosition: 'NOW' } }] }));
    const status = async () => (await ka.send(new DescribeApplicationCommand({ ApplicationName: 'to_lambda' }))).ApplicationDetail!;
    await until('RUNNING', async () => (await status()).ApplicationStatus === 'RUNNING', 30_000)
      .catch((e) => { throw new Error(`${(e as Error).message}; worker stderr: ${worker.proc.stderr()}`); });
    await putJson(k, 'kda-lambda-in', [{ msg: 'alpha' }, { msg: 'beta' }]);
    await until('rows at the function', async () => fnReceived.filter((r) => /alpha|beta/.test(r)).length >= 2, 30_000)
      .catch((e) => { throw new Error(`${(e as Error).message}; worker stderr: ${worker.proc.stderr()}`); });
    expect(fnReceived.filter((r) => /alpha|beta/.test(r)).map((r) => JSON.parse(r)).sort((a, b) => a.MSG.localeCompare(b.MSG))).toEqual([{ MSG: 'alpha' }, { MSG: 'beta' }]);
    await ka.send(new DeleteApplicationCommand({ ApplicationName: 'to_lambda', CreateTimestamp: (await status()).CreateTimestamp }));
    await until('its children deleted', async () => !(await cp.client.get(Deployments, opNs, dep.metadata.name)), 30_000);
  } finally {
    ka.destroy();
    k.destroy();
  }
}, 120_000);
