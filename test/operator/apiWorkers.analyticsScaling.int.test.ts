// Workers of an application created through the Kinesis Analytics API follow
// their lag under the operator's --api-analytics-autoscaling when the
// application's plan splits shards (two-phase aggregation here): the decider
// of AnalyticsApp spec.autoscaling over the lag of the consumer group of the
// application's current run (a new one per fresh StartApplication), decisions
// in the Deployment's `shardline.dev/autoscaling` annotation, as Events on the
// Deployment and as log lines. An application whose plan does not split
// shards keeps one replica and no annotation. Real kube-apiserver +
// controller-manager, nats-server, a runtime's Kinesis and Kinesis Analytics
// APIs. As in apiWorkers.scaling.int.test.ts, the test plays the kubelet: for
// every Pod of the Deployment one worker of the run's consumer group
// (consumer library, JetStream KV leases), carrying 100 records/s per pod, so
// lag is easy to produce on a shared machine; the lag the operator reads is
// what the consumer library itself writes into those leases. The real worker
// processes of such a Deployment are run in test/analytics/kda.scaleout.test.ts.
import { PutRecordsCommand, type KinesisClient } from '@aws-sdk/client-kinesis';
import {
  CreateApplicationCommand, DeleteApplicationCommand, DescribeApplicationCommand, StartApplicationCommand, type KinesisAnalyticsClient,
} from '@aws-sdk/client-kinesis-analytics';
import { startControlPlane, CRD_FILES, markPodsReady, until, type ControlPlane } from '../harness/kube.js';
import { startNats, type NatsServers } from '../harness/nats.js';
import { runLagPods } from '../harness/lagPods.js';
import { sdkClient, startInProcess } from '../harness/runtime.js';
import { analyticsClient, createStream } from '../analytics/helpers.js';
import { startOperator, type OperatorHandle } from '../../operator/manager.js';
import { Deployments } from '../../operator/kube/resources.js';
import { connectStore, type Store } from '../../stream/connect.js';
import { applicationsKv, readApplication } from '../../stream/applications.js';
import { analyticsConsumerGroup } from '../../contract/analytics.js';
import type { RunningRuntime } from '../../runtime/server.js';

let cp: ControlPlane;
let nats: NatsServers;
let op: OperatorHandle;
let rt: RunningRuntime & { endpoint: string };
let kinesis: KinesisClient;
let ka: KinesisAnalyticsClient;
let store: Store;
let opNs: string;
let stopped = false;
let kubelet: NodeJS.Timeout | undefined;
const logs: string[] = [];

beforeAll(async () => {
  [cp, nats] = await Promise.all([startControlPlane({ crdFiles: CRD_FILES, operatorRbac: true }), startNats()]);
  opNs = await cp.namespace('op');
  rt = await startInProcess(nats.url);
  kinesis = sdkClient(rt.endpoint, { http1: true });
  ka = analyticsClient(rt.endpoint);
  store = await connectStore({ natsUrl: nats.url, name: 'test-api-analytics-scaling' });
  op = await startOperator({
    kubeConfig: cp.operatorKc!, natsUrl: nats.url, image: 'shardline:test', resyncMs: 1000, recheckMs: 300, workerLagSampleMs: 300,
    apiWorkers: {
      namespace: opNs,
      analyticsAutoscaling: { minReplicas: 1, maxReplicas: 10, targetLagSeconds: 1, scaleUpStabilizationSeconds: 2, scaleDownStabilizationSeconds: 4 },
    },
    log: (m) => logs.push(m),
  });
  await op.synced;
  const tick = async () => {
    try { await markPodsReady(cp.client, opNs); } catch { /* the next pass retries */ }
    if (!stopped) kubelet = setTimeout(tick, 200);
  };
  void tick();
}, 120_000);

afterAll(async () => {
  stopped = true;
  clearTimeout(kubelet);
  kinesis?.destroy();
  ka?.destroy();
  await op?.stop();
  await rt?.close();
  await store?.close();
  await Promise.all([cp?.stop(), nats?.stop()]);
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `perSecond` records a second through the Kinesis API, spread over the shards, until stopped. */
function load(stream: string, perSecond: number) {
  let stop = false;
  let n = 0;
  const done = (async () => {
    while (!stop) {
      const t = Date.now();
      const Records = Array.from({ length: perSecond / 4 }, () => ({ PartitionKey: `k${n++}`, Data: Buffer.from(JSON.stringify({ page: `p${n % 5}` })) }));
      await kinesis.send(new PutRecordsCommand({ StreamName: stream, Records })).catch(() => undefined);
      await sleep(Math.max(0, 250 - (Date.now() - t)));
    }
  })();
  return async () => { stop = true; await done; };
}

const scaling = (dep: any) => (dep?.metadata.annotations?.['shardline.dev/autoscaling'] ? JSON.parse(dep.metadata.annotations['shardline.dev/autoscaling']) : undefined);
const W = `STEP("SOURCE_SQL_STREAM_001".ROWTIME BY INTERVAL '1' SECOND)`;

async function createApp(name: string, inArn: string, outArn: string, select: string): Promise<string> {
  await ka.send(new CreateApplicationCommand({
    ApplicationName: name,
    ApplicationCode: `CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (PAGE VARCHAR(8), N INTEGER, W TIMESTAMP);
CREATE OR REPLACE PUMP "P" AS INSERT INTO "DESTINATION_SQL_STREAM" ${select};`,
    Inputs: [{
      NamePrefix: 'SOURCE_SQL_STREAM', KinesisStreamsInput: { ResourceARN: inArn, RoleARN: 'arn:aws:iam::000000000000:role/x' },
      InputSchema: { RecordFormat: { RecordFormatType: 'JSON', MappingParameters: { JSONMappingParameters: { RecordRowPath: '$' } } }, RecordColumns: [{ Name: 'PAGE', SqlType: 'VARCHAR(8)', Mapping: '$.page' }] },
    }],
    Outputs: [{ Name: 'DESTINATION_SQL_STREAM', KinesisStreamsOutput: { ResourceARN: outArn, RoleARN: 'arn:aws:iam::000000000000:role/x' }, DestinationSchema: { RecordFormatType: 'JSON' } }],
  }));
  const inputId = (await ka.send(new DescribeApplicationCommand({ ApplicationName: name }))).ApplicationDetail!.InputDescriptions![0]!.InputId!;
  await ka.send(new StartApplicationCommand({ ApplicationName: name, InputConfigurations: [{ Id: inputId, InputStartingPositionConfiguration: { InputStartingPosition: 'TRIM_HORIZON' } }] }));
  return inputId;
}

const deploymentOf = async (app: string) => (await cp.client.list<any>(Deployments, opNs)).items
  .find((x) => x.metadata.labels?.['shardline.dev/api-definition'] === 'analytics' && x.metadata.name.startsWith(`api-analytics-${app}-`));

test('an API application whose replicas split shards scales with its run\'s lag up to the shard count and back; one that does not split stays at one; decisions in the annotation, Events and log; zero writes once converged', async () => {
  const inArn = await createStream(kinesis, 'views', 4);
  const outArn = await createStream(kinesis, 'view-counts', 1);
  const inputId = await createApp('views-by-page', inArn, outArn, `SELECT STREAM PAGE, COUNT(*), ${W} FROM "SOURCE_SQL_STREAM_001" GROUP BY PAGE, ${W}`);
  // A sliding window neither decomposes nor is stateless: one active replica, more would only stand by.
  await createApp('busy-pages', inArn, outArn, `SELECT STREAM PAGE, COUNT(*) OVER (PARTITION BY PAGE RANGE INTERVAL '10' SECOND PRECEDING), ROWTIME FROM "SOURCE_SQL_STREAM_001"`);

  const first = await until('worker Deployment with its autoscaling state', async () => { const d = await deploymentOf('views-by-page'); return scaling(d) && d; }, 30_000);
  const name = first.metadata.name;
  expect(first.spec.replicas).toBe(1);
  expect(scaling(first)).toEqual({ desiredReplicas: 1, specReplicas: 1 });
  const single = await until('the other application\'s Deployment', () => deploymentOf('busy-pages'), 30_000);
  expect(single.spec.replicas).toBe(1);
  expect(scaling(single)).toBeUndefined();

  // The lag read is the current run's consumer group's (the record's runId, set by StartApplication).
  const runId = (await readApplication<any>(await applicationsKv(store), 'views-by-page'))!.record.runId as string;
  expect(runId).toBeTruthy();
  const pods = runLagPods({ client: cp.client, store, namespace: opNs, deployment: name, application: analyticsConsumerGroup('views-by-page', inputId, runId), stream: 'views', initialPosition: { type: 'TRIM_HORIZON' } });
  const seen: number[] = [];
  const watchReplicas = setInterval(() => void cp.client.get<any>(Deployments, opNs, name).then((d) => d && seen.push(d.spec.replicas)), 100);
  try {
    await until('one worker holds the 4 shards', async () => [...pods.workers.values()].some((c) => c.heldShards().length === 4), 30_000);
    // 240 records/s over 4 shards; a pod carries 100/s: one or two pods fall behind, four keep up.
    const stopLoad = load('views', 240);
    let up: any;
    try {
      up = await until('scaled up to the shard count', async () => {
        const d = await cp.client.get<any>(Deployments, opNs, name);
        return scaling(d)?.recentDecisions?.some((x: any) => x.toReplicas === 4) && d.spec.replicas === 4 && scaling(d);
      }, 120_000, 250);
    } finally {
      await stopLoad();
    }
    const ups = up.recentDecisions.filter((d: any) => d.action === 'scaleUp');
    expect(ups.length).toBeGreaterThanOrEqual(1);
    for (const d of ups) {
      expect(d.toReplicas).toBeLessThanOrEqual(d.fromReplicas * 2);
      expect(d.reason).toMatch(/above target/);
      expect(JSON.parse(d.values).lagMs).toBeGreaterThan(1000);
      expect(JSON.parse(d.values).openShards).toBe(4);
    }
    // Load gone: after the stabilization windows, back to one.
    const down = await until('back to 1 replica', async () => {
      const d = await cp.client.get<any>(Deployments, opNs, name);
      return scaling(d).desiredReplicas === 1 && d.spec.replicas === 1 && scaling(d);
    }, 90_000, 250);
    const decisions = down.recentDecisions;
    expect(decisions.at(-1)).toMatchObject({ action: 'scaleDown', toReplicas: 1 });
    expect(Math.max(...seen)).toBe(4);
    // One Event on the Deployment and one log line per decision.
    const events = (await cp.client.list<any>({ apiVersion: 'v1', kind: 'Event', plural: 'events', namespaced: true }, opNs)).items
      .filter((e: any) => e.involvedObject.kind === 'Deployment' && e.involvedObject.name === name && e.reason === 'WorkersScaled');
    const lines = decisions.map((d: any) => `${d.fromReplicas} → ${d.toReplicas} replicas (${d.action}): ${d.reason}`);
    expect(events.map((e: any) => e.message).sort()).toEqual([...lines].sort());
    expect(logs.filter((m) => m.includes(`application views-by-page (created through the Kinesis Analytics API): worker Deployment ${opNs}/${name} `))
      .map((m) => m.slice(m.indexOf(`${opNs}/${name} `) + `${opNs}/${name} `.length)).sort()).toEqual([...lines].sort());

    // The application that does not split shards was never scaled.
    const still = await deploymentOf('busy-pages');
    expect(still.spec.replicas).toBe(1);
    expect(scaling(still)).toBeUndefined();

    // Converged: the operator keeps looking but writes nothing.
    await sleep(2000);
    const before = op.client.writes.total;
    await sleep(4000);
    expect(op.client.writes.total - before).toBe(0);
  } finally {
    clearInterval(watchReplicas);
    await pods.stop();
  }
  const created = (await ka.send(new DescribeApplicationCommand({ ApplicationName: 'views-by-page' }))).ApplicationDetail!.CreateTimestamp;
  await ka.send(new DeleteApplicationCommand({ ApplicationName: 'views-by-page', CreateTimestamp: created }));
  await until('Deployment deleted', async () => !(await cp.client.get(Deployments, opNs, name)), 30_000);
}, 300_000);
