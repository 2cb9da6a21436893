// Workers of a delivery stream created through the Firehose API follow their
// lag as a DeliveryStream resource's do under spec.autoscaling, from the
// operator's --api-delivery-autoscaling: the same decider over the same
// consumer-group lag. With no resource status, the decisions are in the
// Deployment's `shardline.dev/autoscaling` annotation, as Events on the
// Deployment and as log lines. Real kube-apiserver + controller-manager, real
// nats-server, records written through the Kinesis API of a real runtime. As
// in workerScaling.int.test.ts, the test plays the kubelet: for every Pod of
// the Deployment one worker of the consumer group the delivery worker forms
// (consumer library, JetStream KV leases, applicationName firehose-<uid>),
// carrying 100 records/s per pod instead of writing S3, so lag is easy to
// produce on a shared machine; the lag the operator reads is what the
// consumer library itself writes into those leases.
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { CreateDeliveryStreamCommand, DeleteDeliveryStreamCommand, DescribeDeliveryStreamCommand, FirehoseClient } from '@aws-sdk/client-firehose';
import { PutRecordsCommand, type KinesisClient } from '@aws-sdk/client-kinesis';
import { startControlPlane, CRD_FILES, markPodsReady, until, type ControlPlane } from '../harness/kube.js';
import { startNats, type NatsServers } from '../harness/nats.js';
import { runLagPods } from '../harness/lagPods.js';
import { sdkClient, startInProcess, TEST_CREDENTIALS } from '../harness/runtime.js';
import { createStream } from '../analytics/helpers.js';
import { startOperator, type OperatorHandle } from '../../operator/manager.js';
import { Deployments } from '../../operator/kube/resources.js';
import { connectStore, type Store } from '../../stream/connect.js';
import { getDeliveryStream, openDeliveryStore } from '../../stream/deliveryStreams.js';
import { kvLeaseStore } from '../../consumer/index.js';
import type { RunningRuntime } from '../../runtime/server.js';

let cp: ControlPlane;
let nats: NatsServers;
let op: OperatorHandle;
let rt: RunningRuntime & { endpoint: string };
let kinesis: KinesisClient;
let fh: FirehoseClient;
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
  fh = new FirehoseClient({ endpoint: rt.endpoint, region: 'us-east-1', credentials: TEST_CREDENTIALS, maxAttempts: 1, requestHandler: new NodeHttpHandler() });
  store = await connectStore({ natsUrl: nats.url, name: 'test-api-workers' });
  op = await startOperator({
    kubeConfig: cp.operatorKc!, natsUrl: nats.url, image: 'shardline:test', resyncMs: 1000, recheckMs: 300, workerLagSampleMs: 300,
    apiWorkers: {
      namespace: opNs, deliveryS3: { endpoint: 'http://minio:9000', region: 'us-east-1' },
      deliveryAutoscaling: { minReplicas: 1, maxReplicas: 10, targetLagSeconds: 1, scaleUpStabilizationSeconds: 2, scaleDownStabilizationSeconds: 4 },
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
  fh?.destroy();
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
      const Records = Array.from({ length: perSecond / 4 }, () => ({ PartitionKey: `k${n++}`, Data: Buffer.from(`r${n}`) }));
      await kinesis.send(new PutRecordsCommand({ StreamName: stream, Records })).catch(() => undefined);
      await sleep(Math.max(0, 250 - (Date.now() - t)));
    }
  })();
  return async () => { stop = true; await done; };
}

const scaling = (dep: any) => (dep?.metadata.annotations?.['shardline.dev/autoscaling'] ? JSON.parse(dep.metadata.annotations['shardline.dev/autoscaling']) : undefined);

test('an API-created delivery stream\'s workers scale up with lag to the shard count and back down; decisions in the Deployment\'s annotation, its Events and the log; zero writes once converged', async () => {
  const arn = await createStream(kinesis, 'clicks', 4);
  await fh.send(new CreateDeliveryStreamCommand({
    DeliveryStreamName: 'clicks-to-lake', DeliveryStreamType: 'KinesisStreamAsSource',
    KinesisStreamSourceConfiguration: { KinesisStreamARN: arn, RoleARN: 'arn:aws:iam::000000000000:role/x' },
    ExtendedS3DestinationConfiguration: { RoleARN: 'arn:aws:iam::000000000000:role/x', BucketARN: 'arn:aws:s3:::lake', BufferingHints: { SizeInMBs: 1, IntervalInSeconds: 60 } },
  }));
  await until('ACTIVE', async () => (await fh.send(new DescribeDeliveryStreamCommand({ DeliveryStreamName: 'clicks-to-lake' }))).DeliveryStreamDescription!.DeliveryStreamStatus === 'ACTIVE', 20_000);
  const first = await until('worker Deployment with its autoscaling state', async () => {
    const d = (await cp.client.list<any>(Deployments, opNs)).items.find((x) => x.metadata.labels?.['shardline.dev/api-definition'] === 'delivery');
    return scaling(d) && d;
  }, 30_000);
  const name = first.metadata.name;
  // Starts from one replica, as a DeliveryStream resource with spec.replicas 1.
  expect(first.spec.replicas).toBe(1);
  expect(scaling(first)).toEqual({ desiredReplicas: 1, specReplicas: 1 });
  const def = await getDeliveryStream(await openDeliveryStore(store), 'clicks-to-lake');
  const pods = runLagPods({ client: cp.client, store, namespace: opNs, deployment: name, application: `firehose-${def!.uid}`, stream: 'clicks' });
  const seen: number[] = [];
  const watchReplicas = setInterval(() => void cp.client.get<any>(Deployments, opNs, name).then((d) => d && seen.push(d.spec.replicas)), 100);
  try {
    await until('one worker holds the 4 shards', async () => [...pods.workers.values()].some((c) => c.heldShards().length === 4), 30_000);
    // 240 records/s over 4 shards; a pod carries 100/s: one or two pods fall behind, four keep up.
    const stopLoad = load('clicks', 240);
    let up: any;
    try {
      up = await until('scaled up to the shard count', async () => {
        const d = await cp.client.get<any>(Deployments, opNs, name);
        return scaling(d)?.recentDecisions?.some((x: any) => x.toReplicas === 4) && d.spec.replicas === 4 && scaling(d);
      }, 120_000, 250);
      await until('lag drained', async () => {
        const leases = await kvLeaseStore(store).list(`firehose-${def!.uid}.`);
        const lags = [...leases.values()].filter((e: any) => e.value.shardId).map((e: any) => Math.max(e.value.millisBehindLatest ?? 0, e.value.iteratorAgeMs ?? 0));
        return lags.length === 4 && lags.every((l) => l < 1000);
      }, 60_000, 250);
    } finally {
      await stopLoad();
    }
    const ups = up.recentDecisions.filter((d: any) => d.action === 'scaleUp');
    expect(ups.length).toBeGreaterThanOrEqual(2);
    for (const d of ups) {
      expect(d.toReplicas).toBeLessThanOrEqual(d.fromReplicas * 2);
      expect(d.reason).toMatch(/above target/);
      expect(JSON.parse(d.values).lagMs).toBeGreaterThan(1000);
      expect(JSON.parse(d.values).openShards).toBe(4);
    }

    // Load gone: after the 4-s stabilization windows, back to one, at most halving per step.
    const down = await until('back to 1 replica', async () => {
      const d = await cp.client.get<any>(Deployments, opNs, name);
      return scaling(d).desiredReplicas === 1 && d.spec.replicas === 1 && scaling(d);
    }, 90_000, 250);
    const decisions = down.recentDecisions;
    for (const d of decisions.filter((x: any) => x.action === 'scaleDown')) expect(d.toReplicas).toBeGreaterThanOrEqual(Math.ceil(d.fromReplicas / 2));
    expect(decisions.at(-1)).toMatchObject({ action: 'scaleDown', toReplicas: 1 });
    // Never more pods than shards, though maxReplicas is 10.
    expect(Math.max(...seen)).toBe(4);
    // One Event on the Deployment and one log line per decision.
    const events = (await cp.client.list<any>({ apiVersion: 'v1', kind: 'Event', plural: 'events', namespaced: true }, opNs)).items
      .filter((e: any) => e.involvedObject.kind === 'Deployment' && e.involvedObject.name === name && e.reason === 'WorkersScaled');
    const lines = decisions.map((d: any) => `${d.fromReplicas} → ${d.toReplicas} replicas (${d.action}): ${d.reason}`);
    expect(events.map((e: any) => e.message).sort()).toEqual([...lines].sort());
    expect(logs.filter((m) => m.includes(`worker Deployment ${opNs}/${name} `)).map((m) => m.slice(m.indexOf(`${opNs}/${name} `) + `${opNs}/${name} `.length)).sort()).toEqual([...lines].sort());

    // Converged: the operator keeps looking (every 750 ms here) but writes nothing.
    await sleep(2000);
    const before = op.client.writes.total;
    await sleep(4000);
    expect(op.client.writes.total - before).toBe(0);
  } finally {
    clearInterval(watchReplicas);
    await pods.stop();
  }
  await fh.send(new DeleteDeliveryStreamCommand({ DeliveryStreamName: 'clicks-to-lake' }));
  await until('Deployment deleted', async () => !(await cp.client.get(Deployments, opNs, name)), 30_000);
}, 300_000);
