// Delivery worker replicas follow their lag. Real kube-apiserver +
// controller-manager, real nats-server, records written through the Kinesis
// API of a real runtime. The test plays the kubelet: for every Pod of the
// delivery Deployment it runs one worker of the consumer group the delivery
// worker forms (consumer library, JetStream KV leases, applicationName
// firehose-<uid>, as runtime/delivery/worker.ts runs it), whose processor
// carries 100 records/s per pod instead of writing S3, so lag is easy to
// produce on a shared machine. The lag the operator reads is what the
// consumer library itself writes into those leases.
import fs from 'node:fs';
import { PutRecordsCommand, type KinesisClient } from '@aws-sdk/client-kinesis';
import { startControlPlane, CRD_FILES, markPodsReady, until, type ControlPlane } from '../harness/kube.js';
import { startNats, type NatsServers } from '../harness/nats.js';
import { runLagPods } from '../harness/lagPods.js';
import { sdkClient, startInProcess } from '../harness/runtime.js';
import { startOperator, type OperatorHandle } from '../../operator/manager.js';
import { AnalyticsApps, DataStreams, DeliveryStreams, Deployments } from '../../operator/kube/resources.js';
import { connectStore, type Store } from '../../stream/connect.js';
import { getDeliveryStream, openDeliveryStore } from '../../stream/deliveryStreams.js';
import { kvLeaseStore } from '../../consumer/index.js';
import { keys as leaseKeys } from '../../consumer/leaseRecords.js';
import type { RunningRuntime } from '../../runtime/server.js';

let cp: ControlPlane;
let nats: NatsServers;
let op: OperatorHandle;
let rt: RunningRuntime & { endpoint: string };
let kinesis: KinesisClient;
let store: Store;
let stopped = false;
let kubelet: NodeJS.Timeout | undefined;
const namespaces: string[] = [];

beforeAll(async () => {
  [cp, nats] = await Promise.all([startControlPlane({ crdFiles: CRD_FILES, operatorRbac: true }), startNats()]);
  rt = await startInProcess(nats.url);
  kinesis = sdkClient(rt.endpoint, { http1: true });
  store = await connectStore({ natsUrl: nats.url, name: 'test-workers' });
  op = await startOperator({ kubeConfig: cp.operatorKc!, natsUrl: nats.url, image: 'shardline:test', resyncMs: 1000, recheckMs: 300, workerLagSampleMs: 300, log: process.env.WSCALE_LOG ? (m) => fs.appendFileSync(process.env.WSCALE_LOG!, m + '\n') : () => {} });
  await op.synced;
  const tick = async () => {
    try { for (const n of namespaces) await markPodsReady(cp.client, n); } catch { /* namespace going away */ }
    if (!stopped) kubelet = setTimeout(tick, 200);
  };
  void tick();
}, 120_000);

afterAll(async () => {
  stopped = true;
  clearTimeout(kubelet);
  kinesis?.destroy();
  await op?.stop();
  await rt?.close();
  await store?.close();
  await Promise.all([cp?.stop(), nats?.stop()]);
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const cond = (o: any, type = 'Ready') => o?.status?.conditions?.find((c: any) => c.type === type);

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

test('a lagging delivery consumer group: replicas double up to the shard count (not maxReplicas), come down after the lag is gone; decisions in status and Events; spec untouched; zero writes once converged', async () => {
  const n = await cp.namespace('wscale');
  namespaces.push(n);
  await cp.client.create(DataStreams, { apiVersion: 'shardline.dev/v1alpha1', kind: 'DataStream', metadata: { name: 'clicks', namespace: n }, spec: { shards: 4, replicas: 1, streamName: `clicks-${n}`, runtime: { dedicated: true } } });
  await cp.client.create(DeliveryStreams, {
    apiVersion: 'shardline.dev/v1alpha1', kind: 'DeliveryStream', metadata: { name: 'to-lake', namespace: n },
    spec: {
      source: { dataStreamRef: { name: 'clicks' } }, s3: { bucket: 'lake', endpoint: 'http://minio:9000' },
      autoscaling: { minReplicas: 1, maxReplicas: 10, targetLagSeconds: 1, scaleUpStabilizationSeconds: 2, scaleDownStabilizationSeconds: 4 },
    },
  });
  const ready = await until('to-lake Ready', async () => {
    const o = await cp.client.get<any>(DeliveryStreams, n, 'to-lake');
    return cond(o)?.status === 'True' && o.status.autoscaling && o;
  }, 60_000);
  expect(ready.status.autoscaling).toMatchObject({ desiredReplicas: 1, specReplicas: 1 });
  const def = await getDeliveryStream(await openDeliveryStore(store), 'to-lake');
  const pods = runLagPods({ client: cp.client, store, namespace: n, deployment: 'to-lake-delivery', application: `firehose-${def!.uid}`, stream: `clicks-${n}` });
  const seen: number[] = [];
  const watchReplicas = setInterval(() => void cp.client.get<any>(Deployments, n, 'to-lake-delivery').then((d) => d && seen.push(d.spec.replicas)), 100);
  try {
    await until('one worker holds the 4 shards', async () => [...pods.workers.values()].some((c) => c.heldShards().length === 4), 30_000);
    // 240 records/s over 4 shards; a pod carries 100/s: one or two pods fall behind, four keep up.
    const stopLoad = load(`clicks-${n}`, 240);
    let up: any;
    try {
      up = await until('scaled up to the shard count', async () => {
        const o = await cp.client.get<any>(DeliveryStreams, n, 'to-lake');
        return o.status.autoscaling?.recentDecisions?.some((d: any) => d.toReplicas === 4) && o;
      }, 120_000, 250).catch(async (e) => {
        const o = await cp.client.get<any>(DeliveryStreams, n, 'to-lake');
        const leases = await kvLeaseStore(store).list(`firehose-${def!.uid}.`);
        // What the operator saw, for whoever reads a failure.
        console.log(JSON.stringify({ status: o.status, leases: [...leases.values()].map((l: any) => l.value), pods: [...pods.workers.entries()].map(([k, c]) => [k, c.heldShards()]) }, null, 1));
        throw e;
      });
      // Drained with enough pods: the lag reported in the leases falls back under the target.
      await until('lag drained', async () => {
        const leases = await kvLeaseStore(store).list(`firehose-${def!.uid}.`);
        const lags = [...leases.values()].filter((e: any) => e.value.shardId).map((e: any) => Math.max(e.value.millisBehindLatest ?? 0, e.value.iteratorAgeMs ?? 0));
        return lags.length === 4 && lags.every((l) => l < 1000);
      }, 60_000, 250);
    } finally {
      await stopLoad();
    }
    const ups = up.status.autoscaling.recentDecisions.filter((d: any) => d.action === 'scaleUp');
    expect(ups.length).toBeGreaterThanOrEqual(2);
    for (const d of ups) {
      expect(d.toReplicas).toBeLessThanOrEqual(d.fromReplicas * 2);
      expect(d.reason).toMatch(/above target/);
      expect(JSON.parse(d.values).lagMs).toBeGreaterThan(1000);
      expect(JSON.parse(d.values).openShards).toBe(4);
    }
    // Saturated pods carry 100 records/s each; measured lower while new pods are still taking over leases (the
    // safe side: scaling down then keeps more pods), never higher.
    expect(up.status.autoscaling.workerRecordsPerSecond).toBeGreaterThan(20);
    expect(up.status.autoscaling.workerRecordsPerSecond).toBeLessThan(130);

    // Load gone: after the 4-s stabilization windows, back to minReplicas, at most halving per step.
    const down = await until('back to 1 replica', async () => {
      const o = await cp.client.get<any>(DeliveryStreams, n, 'to-lake');
      const dep = await cp.client.get<any>(Deployments, n, 'to-lake-delivery');
      return o.status.autoscaling.desiredReplicas === 1 && dep.spec.replicas === 1 && o;
    }, 90_000, 250);
    const decisions = down.status.autoscaling.recentDecisions;
    for (const d of decisions.filter((x: any) => x.action === 'scaleDown')) expect(d.toReplicas).toBeGreaterThanOrEqual(Math.ceil(d.fromReplicas / 2));
    expect(decisions.at(-1)).toMatchObject({ action: 'scaleDown', toReplicas: 1 });
    // Never more pods than shards, though maxReplicas is 10.
    expect(Math.max(...seen)).toBe(4);
    // GitOps-safe: spec untouched, decisions only in status.
    expect(down.spec.replicas).toBe(1);
    expect(down.metadata.generation).toBe(ready.metadata.generation);
    // One Event per decision.
    const events = (await cp.client.list<any>({ apiVersion: 'v1', kind: 'Event', plural: 'events', namespaced: true }, n)).items
      .filter((e: any) => e.involvedObject.name === 'to-lake' && e.reason === 'WorkersScaled');
    expect(events.length).toBe(decisions.length);
    expect(events.map((e: any) => e.message).sort()).toEqual(decisions.map((d: any) => `${d.fromReplicas} → ${d.toReplicas} replicas (${d.action}): ${d.reason}`).sort());

    // Converged: the operator keeps looking (every 750 ms here) but writes nothing.
    await until('Ready with 1 pod', async () => cond(await cp.client.get<any>(DeliveryStreams, n, 'to-lake'))?.status === 'True', 30_000);
    await sleep(2000);
    const before = op.client.writes.total;
    await sleep(4000);
    expect(op.client.writes.total - before).toBe(0);
  } finally {
    clearInterval(watchReplicas);
    await pods.stop();
  }
}, 300_000);

test('a lagging AnalyticsApp whose aggregates decompose: replicas follow its input group\'s lag up to the shard count; one that does not decompose is not scaled by lag', async () => {
  const n = await cp.namespace('wscale');
  namespaces.push(n);
  await cp.client.create(DataStreams, { apiVersion: 'shardline.dev/v1alpha1', kind: 'DataStream', metadata: { name: 'ticks', namespace: n }, spec: { shards: 2, replicas: 1, streamName: `ticks-${n}`, runtime: { dedicated: true } } });
  const columns = [{ name: 'K', sqlType: 'VARCHAR(8)', mapping: '$.k' }];
  const app = (name: string, sql: string) => ({
    apiVersion: 'shardline.dev/v1alpha1', kind: 'AnalyticsApp', metadata: { name, namespace: n },
    spec: {
      inputs: [{ name: 'SOURCE_SQL_STREAM_001', dataStreamRef: { name: 'ticks' }, columns }],
      sql, outputs: [{ name: 'OUT', dataStreamRef: { name: 'ticks' } }],
      autoscaling: { minReplicas: 1, maxReplicas: 10, targetLagSeconds: 1, scaleUpStabilizationSeconds: 2, scaleDownStabilizationSeconds: 60 },
    },
  });
  // Counts per key and 1-s window decompose (two-phase); a MEDIAN does not (a DISTINCT count does since two-phase learned it).
  await cp.client.create(AnalyticsApps, app('counts', `CREATE OR REPLACE STREAM "OUT" (K VARCHAR(8), N INTEGER);
CREATE OR REPLACE PUMP "P" AS INSERT INTO "OUT" SELECT STREAM K, COUNT(*) FROM "SOURCE_SQL_STREAM_001" GROUP BY K, STEP("SOURCE_SQL_STREAM_001".ROWTIME BY INTERVAL '1' SECOND);`));
  await cp.client.create(AnalyticsApps, app('distinct', `CREATE OR REPLACE STREAM "OUT" (N INTEGER);
CREATE OR REPLACE PUMP "P" AS INSERT INTO "OUT" SELECT STREAM MEDIAN(CHAR_LENGTH(K)) FROM "SOURCE_SQL_STREAM_001" GROUP BY STEP("SOURCE_SQL_STREAM_001".ROWTIME BY INTERVAL '1' SECOND);`));
  for (const name of ['counts', 'distinct']) {
    await until(`${name} Ready`, async () => {
      const o = await cp.client.get<any>(AnalyticsApps, n, name);
      return cond(o)?.status === 'True' && o.status.autoscaling && o;
    }, 60_000);
  }
  expect(cond(await cp.client.get<any>(AnalyticsApps, n, 'counts')).message).toMatch(/replicas split the shards/);
  expect(cond(await cp.client.get<any>(AnalyticsApps, n, 'distinct')).message).toMatch(/one active replica/);
  // The group the analytics worker forms over its first input (analytics/worker/inputFeed.ts), read by both.
  const group = (name: string) => `analytics.k8s.${n}.${name}.1.1`;
  const counts = runLagPods({ client: cp.client, store, namespace: n, deployment: 'counts-analytics', application: group('counts'), stream: `ticks-${n}` });
  const distinct = runLagPods({ client: cp.client, store, namespace: n, deployment: 'distinct-analytics', application: group('distinct'), stream: `ticks-${n}` });
  try {
    await until('one worker each holds both shards', async () => [counts, distinct].every((p) => [...p.workers.values()].some((c) => c.heldShards().length === 2)), 30_000);
    // 160 records/s over 2 shards; a pod carries 100/s: one pod falls behind, two keep up.
    const stopLoad = load(`ticks-${n}`, 160);
    try {
      const up = await until('counts scaled up to the shard count', async () => {
        const o = await cp.client.get<any>(AnalyticsApps, n, 'counts');
        return o.status.autoscaling?.recentDecisions?.some((d: any) => d.action === 'scaleUp' && d.toReplicas === 2) && o;
      }, 120_000, 250);
      const d = up.status.autoscaling.recentDecisions.find((x: any) => x.action === 'scaleUp');
      expect(d.reason).toMatch(/above target/);
      expect(JSON.parse(d.values).openShards).toBe(2);
      expect((await cp.client.get<any>(Deployments, n, 'counts-analytics')).spec.replicas).toBe(2);
      // The same lag on the app that cannot split its work made no decision: more replicas would only stand by.
      await until('distinct lagging', async () => [...(await kvLeaseStore(store).list(leaseKeys(group('distinct'), `ticks-${n}`).all)).values()]
        .some((e: any) => Math.max(e.value.millisBehindLatest ?? 0, e.value.iteratorAgeMs ?? 0) > 1000), 60_000, 250);
      // Longer than the up window (2 s) and the sampling (300 ms): a lag-driven decision would have been made.
      await sleep(5000);
      const other = await cp.client.get<any>(AnalyticsApps, n, 'distinct');
      expect(other.status.autoscaling.recentDecisions ?? []).toEqual([]);
      expect(other.status.autoscaling.desiredReplicas).toBe(1);
    } finally {
      await stopLoad();
    }
  } finally {
    await counts.stop();
    await distinct.stop();
  }
}, 240_000);

test('spec.autoscaling with minReplicas above maxReplicas: Ready=False InvalidSpec (the apiserver may not enforce the CEL rule); removing autoscaling gives spec.replicas back', async () => {
  const n = await cp.namespace('wscale');
  namespaces.push(n);
  await cp.client.create(DataStreams, { apiVersion: 'shardline.dev/v1alpha1', kind: 'DataStream', metadata: { name: 'views', namespace: n }, spec: { shards: 4, replicas: 1, streamName: `views-${n}`, runtime: { dedicated: true } } });
  const spec = { source: { dataStreamRef: { name: 'views' } }, s3: { bucket: 'lake', endpoint: 'http://minio:9000' }, replicas: 3 };
  try {
    await cp.client.create(DeliveryStreams, { apiVersion: 'shardline.dev/v1alpha1', kind: 'DeliveryStream', metadata: { name: 'bad', namespace: n }, spec: { ...spec, autoscaling: { minReplicas: 5, maxReplicas: 2 } } });
  } catch (e) {
    // An apiserver with CEL refuses it at admission: that is the other half of the contract.
    expect(String((e as Error).message)).toMatch(/minReplicas must not exceed maxReplicas/);
    return;
  }
  const bad = await until('InvalidSpec', async () => {
    const o = await cp.client.get<any>(DeliveryStreams, n, 'bad');
    return cond(o)?.reason === 'InvalidSpec' && o;
  }, 30_000);
  expect(cond(bad).status).toBe('False');
  expect(cond(bad).message).toMatch(/minReplicas \(5\) must not exceed maxReplicas \(2\)/);
  // Fixed: the Deployment starts from spec.replicas within the bounds (3 → 2, the max).
  await cp.client.patch(DeliveryStreams, n, 'bad', { spec: { autoscaling: { minReplicas: 1, maxReplicas: 2 } } });
  await until('Deployment at maxReplicas', async () => (await cp.client.get<any>(Deployments, n, 'bad-delivery'))?.spec.replicas === 2, 30_000);
  // The status is written after the Deployment (same reconcile): wait for it rather than read once.
  const o = await until('status.autoscaling.lastDecision', async () => {
    const x = await cp.client.get<any>(DeliveryStreams, n, 'bad');
    return x?.status?.autoscaling?.lastDecision && x;
  }, 30_000);
  expect(o.status.autoscaling.lastDecision).toMatchObject({ action: 'spec', fromReplicas: 3, toReplicas: 2 });
  // Autoscaling off: spec.replicas is the replica count again, and status.autoscaling is gone.
  await cp.client.patch(DeliveryStreams, n, 'bad', [{ op: 'remove', path: '/spec/autoscaling' }]);
  await until('Deployment at spec.replicas', async () => (await cp.client.get<any>(Deployments, n, 'bad-delivery'))?.spec.replicas === 3, 30_000);
  await until('status.autoscaling removed', async () => !(await cp.client.get<any>(DeliveryStreams, n, 'bad')).status?.autoscaling, 30_000);
}, 120_000);
