// Delivery streams and analytics applications created through the Firehose and
// Kinesis Analytics APIs (not as resources) get their workers from the
// operator too: a real apiserver + controller-manager, a real runtime serving
// the APIs, s3rver, and for every pod in the operator's namespace this tiny
// kubelet runs the real process with its container's command line, resolved
// environment (Secret keys) and ConfigMap. Deleting the definition through the
// API removes the Deployment; converged, the operator makes no writes.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import {
  FirehoseClient, CreateDeliveryStreamCommand, DeleteDeliveryStreamCommand, DescribeDeliveryStreamCommand, PutRecordBatchCommand,
} from '@aws-sdk/client-firehose';
import {
  CreateApplicationCommand, DeleteApplicationCommand, DescribeApplicationCommand, StartApplicationCommand,
} from '@aws-sdk/client-kinesis-analytics';
import type { KinesisClient } from '@aws-sdk/client-kinesis';
import { startControlPlane, CRD_FILES, until, type ControlPlane } from '../harness/kube.js';
import { startNats, type NatsServers } from '../harness/nats.js';
import { sdkClient, startInProcess, TEST_CREDENTIALS } from '../harness/runtime.js';
import { startS3, type S3Server } from '../harness/s3.js';
import { startDeliveryProcess, type DeliveryProcess } from '../harness/delivery.js';
import { markPodReady, podEnv } from '../harness/pods.js';
import { analyticsClient, createStream, putJson, readAll } from '../analytics/helpers.js';
import { startOperator, type OperatorHandle } from '../../operator/manager.js';
import { connectStreamStore, type StreamStore } from '../../operator/store/streamStore.js';
import { ConfigMaps, Deployments, Pods, Secrets } from '../../operator/kube/resources.js';
import { WORKER_CONFIG_DIR } from '../../contract/mounts.js';
import type { RunningRuntime } from '../../runtime/server.js';

let cp: ControlPlane;
let nats: NatsServers;
let s3: S3Server;
let op: OperatorHandle;
let store: StreamStore;
let rt: RunningRuntime & { endpoint: string };
let fh: FirehoseClient;
let k: KinesisClient;
let opNs: string;
let tmp: string;
const logs: string[] = [];
const pods = new Map<string, { component: string; proc: DeliveryProcess; args: string[]; env: Record<string, string> }>();
let stopped = false;
let kubeletTimer: NodeJS.Timeout | undefined;

/** One kubelet pass over the operator's namespace: processes for new worker pods (then Ready), gone pods' processes stopped. */
async function kubelet(): Promise<void> {
  const list = await cp.client.list<any>(Pods, opNs);
  const live = new Set<string>();
  for (const pod of list.items) {
    if (pod.metadata.deletionTimestamp) continue;
    live.add(pod.metadata.name);
    if (pods.has(pod.metadata.name)) continue;
    const component = pod.metadata.labels?.['app.kubernetes.io/component'];
    if (component !== 'delivery' && component !== 'analytics') continue;
    const dir = path.join(tmp, pod.metadata.name);
    fs.mkdirSync(dir, { recursive: true });
    const container = pod.spec.containers[0];
    const configVol = pod.spec.volumes.find((v: any) => v.name === 'config');
    const cm = await cp.client.get<any>(ConfigMaps, opNs, configVol.configMap.name);
    for (const [f, v] of Object.entries(cm.data as Record<string, string>)) fs.writeFileSync(path.join(dir, f), v);
    const env = await podEnv(cp.client, opNs, container);
    const args = (container.args as string[]).map((a) => a.replace(WORKER_CONFIG_DIR, dir));
    // Only what the pod spec gives the container (plus PATH and a HOME), as a kubelet would.
    const proc = startDeliveryProcess(args, { ...env, PATH: process.env.PATH ?? '', HOME: dir }, { cleanEnv: true });
    pods.set(pod.metadata.name, { component, proc, args: container.args, env });
    await markPodReady(cp.client, opNs, pod.metadata.name);
  }
  for (const [name, p] of pods) {
    if (live.has(name)) continue;
    pods.delete(name);
    await p.proc.kill('SIGTERM');
  }
}

beforeAll(async () => {
  [cp, nats, s3] = await Promise.all([startControlPlane({ crdFiles: CRD_FILES, operatorRbac: true }), startNats(), startS3()]);
  opNs = await cp.namespace('op');
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shardline-apiworkers-'));
  // The install's S3 credentials Secret, in the operator's namespace (s3rver's fixed account).
  await cp.client.create(Secrets, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 's3-creds', namespace: opNs }, stringData: { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' } });
  store = await connectStreamStore(nats.url);
  op = await startOperator({
    kubeConfig: cp.operatorKc!, natsUrl: nats.url, image: 'shardline:test', resyncMs: 1000, recheckMs: 500, store,
    apiWorkers: { namespace: opNs, deliveryS3: { endpoint: s3.endpoint, region: 'us-east-1', secret: 's3-creds' } },
    log: (m) => logs.push(m),
  });
  await op.synced;
  rt = await startInProcess(nats.url);
  fh = new FirehoseClient({ endpoint: rt.endpoint, region: 'us-east-1', credentials: TEST_CREDENTIALS, maxAttempts: 1, requestHandler: new NodeHttpHandler() });
  k = sdkClient(rt.endpoint, { http1: true });
  const tick = async () => {
    try { await kubelet(); } catch { /* the next pass retries */ }
    if (!stopped) kubeletTimer = setTimeout(tick, 200);
  };
  void tick();
}, 120_000);

afterAll(async () => {
  stopped = true;
  clearTimeout(kubeletTimer);
  for (const p of pods.values()) await p.proc.kill('SIGTERM');
  fh?.destroy();
  k?.destroy();
  await rt?.close();
  await op?.stop();
  await store?.close();
  await Promise.all([cp?.stop(), nats?.stop(), s3?.stop()]);
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

const apiDeployments = async (kind: string) =>
  (await cp.client.list<any>(Deployments, opNs)).items.filter((d) => d.metadata.labels?.['shardline.dev/api-definition'] === kind);

/** Zero operator writes over several 1 s resyncs (and the store watch's passes). */
async function expectConverged(): Promise<void> {
  const before = op.client.writes.total;
  await new Promise((r) => setTimeout(r, 3500));
  expect(op.client.writes.total - before).toBe(0);
}

test('a delivery stream created through the Firehose API gets a worker Deployment whose process delivers to S3; deleting it removes the Deployment', async () => {
  await s3.createBucket('api-lake');
  await fh.send(new CreateDeliveryStreamCommand({
    DeliveryStreamName: 'Clicks.API',
    ExtendedS3DestinationConfiguration: {
      RoleARN: 'arn:aws:iam::000000000000:role/x', BucketARN: 'arn:aws:s3:::api-lake', BufferingHints: { SizeInMBs: 1, IntervalInSeconds: 0 },
      ProcessingConfiguration: { Enabled: true, Processors: [{ Type: 'AppendDelimiterToRecord' }] },
    },
  }));
  await until('ACTIVE', async () => (await fh.send(new DescribeDeliveryStreamCommand({ DeliveryStreamName: 'Clicks.API' }))).DeliveryStreamDescription!.DeliveryStreamStatus === 'ACTIVE', 20_000);
  const [dep] = await until('a worker Deployment', async () => { const d = await apiDeployments('delivery'); return d.length === 1 && d; }, 20_000);
  // Named from the definition (DNS-1123), no owner, labelled with the definition's uid.
  expect(dep.metadata.name).toMatch(/^api-delivery-clicks-api-[0-9a-f]{10}$/);
  expect(dep.metadata.ownerReferences).toBeUndefined();
  expect(dep.metadata.labels['app.kubernetes.io/managed-by']).toBe('shardline-operator');
  expect(dep.metadata.labels['shardline.dev/definition-uid']).toMatch(/^[0-9a-f]+$/);
  expect(dep.spec.replicas).toBe(1);
  expect(dep.spec.template.spec.containers[0].args).toEqual(['delivery', '--config', '/etc/shardline/config/config.json']);
  const cm = await cp.client.get<any>(ConfigMaps, opNs, dep.metadata.name);
  expect(JSON.parse(cm.data['config.json'])).toEqual({ deliveryStreamName: 'Clicks.API', s3: { endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true } });

  // The pod's real process (exact command line, env from the Secret) delivers a PutRecordBatch.
  await until('the worker process', async () => [...pods.values()].some((p) => p.component === 'delivery'), 20_000);
  const worker = [...pods.values()].find((p) => p.component === 'delivery')!;
  expect(worker.args).toEqual(['delivery', '--config', '/etc/shardline/config/config.json']);
  expect(worker.env.AWS_ACCESS_KEY_ID).toBe('S3RVER');
  const put = await fh.send(new PutRecordBatchCommand({ DeliveryStreamName: 'Clicks.API', Records: ['one', 'two', 'three'].map((s) => ({ Data: Buffer.from(s) })) }));
  expect(put.FailedPutCount).toBe(0);
  const lines = await until('records in S3', async () => {
    const keys = await s3.list('api-lake');
    const all: string[] = [];
    for (const key of keys) all.push(...(await s3.get('api-lake', key)).toString().split('\n').filter(Boolean));
    return all.length >= 3 && { all, keys };
  }, 30_000).catch((e) => { throw new Error(`${(e as Error).message}; worker stderr: ${worker.proc.stderr()}`); });
  expect(lines.all.sort()).toEqual(['one', 'three', 'two']);
  // Firehose's default key layout: YYYY/MM/dd/HH/<name>-<version>-<timestamp>-<uuid>.
  expect(lines.keys[0]).toMatch(/^\d{4}\/\d{2}\/\d{2}\/\d{2}\/Clicks\.API-1-\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}-[0-9a-f-]{36}$/);

  await expectConverged();

  await fh.send(new DeleteDeliveryStreamCommand({ DeliveryStreamName: 'Clicks.API' }));
  await until('Deployment and ConfigMap deleted', async () =>
    (await apiDeployments('delivery')).length === 0 && !(await cp.client.get(ConfigMaps, opNs, dep.metadata.name)), 20_000);
  await until('worker process ended', async () => ![...pods.values()].some((p) => p.component === 'delivery'), 20_000);
}, 120_000);

test('an application created through the Kinesis Analytics API is run by its Deployment\'s process: StartApplication → RUNNING, rows flow; DeleteApplication removes it', async () => {
  const ka = analyticsClient(rt.endpoint);
  try {
    const inArn = await createStream(k, 'kda-in', 1);
    const outArn = await createStream(k, 'kda-out', 1);
    await ka.send(new CreateApplicationCommand({
      ApplicationName: 'upper_app',
      ApplicationCode: `CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (MSG VARCHAR(32));
CREATE OR REPLACE PUMP "P" AS INSERT INTO "DESTINATION_SQL_STREAM" SELECT STREAM UPPER(MSG) FROM "SOURCE_SQL_STREAM_001";`,
      Inputs: [{ NamePrefix: 'SOURCE_SQL_STREAM', KinesisStreamsInput: { ResourceARN: inArn, RoleARN: 'r' }, InputSchema: { RecordFormat: { RecordFormatType: 'JSON', MappingParameters: { JSONMappingParameters: { RecordRowPath: '$' } } }, RecordColumns: [{ Name: 'MSG', SqlType: 'VARCHAR(32)', Mapping: '$.msg' }] } }],
      Outputs: [{ Name: 'DESTINATION_SQL_STREAM', KinesisStreamsOutput: { ResourceARN: outArn, RoleARN: 'r' }, DestinationSchema: { RecordFormatType: 'JSON' } }],
    }));
    const [dep] = await until('an analytics Deployment', async () => { const d = await apiDeployments('analytics'); return d.length === 1 && d; }, 20_000);
    expect(dep.metadata.name).toMatch(/^api-analytics-upper-app-[0-9a-f]{10}$/);
    expect(dep.spec.replicas).toBe(1);
    expect(dep.spec.template.spec.containers[0].args).toEqual(['analytics', '--config', '/etc/shardline/config/config.json']);
    const cm = await cp.client.get<any>(ConfigMaps, opNs, dep.metadata.name);
    // Store mode: the worker reads the application from the store by name (no inline definition).
    expect(JSON.parse(cm.data['config.json'])).toEqual({ applicationName: 'upper_app', s3Endpoint: s3.endpoint });
    await until('the worker process', async () => [...pods.values()].some((p) => p.component === 'analytics'), 20_000);
    const worker = [...pods.values()].find((p) => p.component === 'analytics')!;

    await ka.send(new StartApplicationCommand({ ApplicationName: 'upper_app', InputConfigurations: [{ Id: '1.1', InputStartingPositionConfiguration: { InputStartingPosition: 'NOW' } }] }));
    const status = async () => (await ka.send(new DescribeApplicationCommand({ ApplicationName: 'upper_app' }))).ApplicationDetail!;
    await until('RUNNING', async () => (await status()).ApplicationStatus === 'RUNNING', 30_000)
      .catch((e) => { throw new Error(`${(e as Error).message}; worker stderr: ${worker.proc.stderr()}`); });
    await putJson(k, 'kda-in', [{ msg: 'hello' }, { msg: 'world' }]);
    const rows = await until('rows', async () => { const r = await readAll(k, 'kda-out'); return r.length >= 2 && r; }, 30_000);
    expect(rows.map((r) => r.data).sort()).toEqual(['{"MSG":"HELLO"}', '{"MSG":"WORLD"}']);

    await expectConverged();

    await ka.send(new DeleteApplicationCommand({ ApplicationName: 'upper_app', CreateTimestamp: (await status()).CreateTimestamp }));
    await until('Deployment and ConfigMap deleted', async () =>
      (await apiDeployments('analytics')).length === 0 && !(await cp.client.get(ConfigMaps, opNs, dep.metadata.name)), 20_000);
    await until('worker process ended', async () => ![...pods.values()].some((p) => p.component === 'analytics'), 20_000);
  } finally {
    ka.destroy();
  }
}, 120_000);

test('without install-level S3 settings an API-created delivery stream gets no worker and one log line says why', async () => {
  // A second operator on the same store would fight the first: this reads the pure pass instead.
  const { reconcileApiWorkers } = await import('../../operator/reconcile/apiWorkers.js');
  await fh.send(new CreateDeliveryStreamCommand({
    DeliveryStreamName: 'nos3',
    ExtendedS3DestinationConfiguration: { RoleARN: 'arn:aws:iam::000000000000:role/x', BucketARN: 'arn:aws:s3:::api-lake', BufferingHints: { SizeInMBs: 1, IntervalInSeconds: 0 } },
  }));
  await until('ACTIVE', async () => (await fh.send(new DescribeDeliveryStreamCommand({ DeliveryStreamName: 'nos3' }))).DeliveryStreamDescription!.DeliveryStreamStatus === 'ACTIVE', 20_000);
  const said: string[] = [];
  // The operator's own context minus the S3 settings, for a namespace with no children.
  const ctx = { client: op.client, caches: op.caches, store: async () => store, settings: { image: 'x', natsUrl: nats.url, pdbApiVersion: 'policy/v1', sharedEndpoint: 'http://x' }, log: (m: string) => said.push(m), recheckMs: 500, apiWorkers: { namespace: `${opNs}-none` } } as any;
  await reconcileApiWorkers(ctx, 'delivery');
  await reconcileApiWorkers(ctx, 'delivery');
  expect(said.filter((m) => m.includes('nos3'))).toHaveLength(1);
  expect(said[0]).toMatch(/--api-delivery-s3-endpoint/);
  await fh.send(new DeleteDeliveryStreamCommand({ DeliveryStreamName: 'nos3' }));
  await until('nos3 deleted', async () => fh.send(new DescribeDeliveryStreamCommand({ DeliveryStreamName: 'nos3' })).then(() => false, (e) => e.name === 'ResourceNotFoundException'), 20_000);
}, 60_000);
