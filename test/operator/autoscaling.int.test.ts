// ON_DEMAND DataStreams scale themselves: the store's autoscaler (in a real
// runtime on the same nats-server) decides, the operator reflects the
// decisions into status.autoscaling and Events and never touches the spec.
// Real kube-apiserver + controller-manager, real nats-server, AWS SDK load.
import { CreateStreamCommand, PutRecordsCommand, type KinesisClient } from '@aws-sdk/client-kinesis';
import { startControlPlane, CRD_FILES, markPodsReady, until, type ControlPlane } from '../harness/kube.js';
import { startNats, type NatsServers } from '../harness/nats.js';
import { sdkClient, startInProcess } from '../harness/runtime.js';
import { startOperator, type OperatorHandle } from '../../operator/manager.js';
import { DataStreams, resourcePath } from '../../operator/kube/resources.js';
import type { RunningRuntime } from '../../runtime/server.js';

let cp: ControlPlane;
let nats: NatsServers;
let op: OperatorHandle;
let rt: RunningRuntime & { endpoint: string };
let client: KinesisClient;
let kubelet: NodeJS.Timeout;
let stopped = false;
const nsList: string[] = [];

beforeAll(async () => {
  [cp, nats] = await Promise.all([startControlPlane({ crdFiles: CRD_FILES, operatorRbac: true }), startNats()]);
  rt = await startInProcess(nats.url, { autoscale: { enabled: true, defaultMinShards: 4, defaultMaxShards: 64, scaleDownStabilizationMs: 300_000, scaleUpWindowMs: 3000 } });
  client = sdkClient(rt.endpoint, { http1: true });
  op = await startOperator({ kubeConfig: cp.operatorKc!, natsUrl: nats.url, image: 'shardline:test', resyncMs: 60_000, recheckMs: 500, log: () => {} });
  await op.synced;
  const tick = async () => {
    try { for (const ns of nsList) await markPodsReady(cp.client, ns); } catch { /* namespace going away */ }
    if (!stopped) kubelet = setTimeout(tick, 200);
  };
  void tick();
}, 120_000);

afterAll(async () => {
  stopped = true;
  clearTimeout(kubelet);
  client?.destroy();
  await op?.stop();
  await rt?.close();
  await Promise.all([cp?.stop(), nats?.stop()]);
});

const get = (namespace: string, name: string) => cp.client.get<any>(DataStreams, namespace, name);

/** `perSecond` 100-byte records a second through the runtime until stopped. */
function load(stream: string, perSecond: number) {
  let stop = false;
  let n = 0;
  const done = (async () => {
    while (!stop) {
      const t = Date.now();
      const calls: Promise<unknown>[] = [];
      for (let sent = 0; sent < perSecond; sent += 500) {
        const Records = Array.from({ length: Math.min(500, perSecond - sent) }, () => ({ PartitionKey: `k${n++ % 1000}`, Data: Buffer.alloc(100, 1) }));
        calls.push(client.send(new PutRecordsCommand({ StreamName: stream, Records })).catch(() => undefined));
      }
      await Promise.all(calls);
      await new Promise((r) => setTimeout(r, Math.max(0, 1000 - (Date.now() - t))));
    }
  })();
  return async () => { stop = true; await done; };
}

async function onDemand(namespace: string, name: string, onDemandSpec: Record<string, unknown>) {
  await cp.client.create(DataStreams, {
    apiVersion: 'shardline.dev/v1alpha1', kind: 'DataStream', metadata: { name, namespace },
    spec: { mode: 'ON_DEMAND', shards: 1, replicas: 1, onDemand: { minShards: 1, maxShards: 4, ...onDemandSpec } },
  });
  return until(`${name} Ready`, async () => {
    const o = await get(namespace, name);
    return o?.status?.conditions?.find((c: any) => c.type === 'Ready')?.status === 'True' && o;
  }, 30_000);
}

test('load above capacity: the stream scales up, status.autoscaling and an Event say why, the spec is left alone; scale subresource selector set', async () => {
  const n = await cp.namespace('as');
  nsList.push(n);
  const before = await onDemand(n, 'busy', {});
  expect(before.status.selector).toMatch(/app\.kubernetes\.io\/instance=busy/);
  const stop = load('busy', 2500);
  const ds = await until('scaled up in status', async () => {
    const o = await get(n, 'busy');
    return o?.status?.shardCount >= 2 && o.status.autoscaling?.lastDecision?.outcome === 'applied' && o;
  }, 60_000);
  await stop();
  const d = ds.status.autoscaling.lastDecision;
  expect(d.toShards).toBeGreaterThan(d.fromShards);
  expect(d.reason).toMatch(/split|scale to/);
  expect(JSON.parse(d.values)).toMatchObject({ openShards: d.fromShards });
  // GitOps-safe: the decision is in status only.
  expect(ds.spec.shards).toBe(1);
  expect(ds.metadata.generation).toBe(before.metadata.generation);
  const events = await until('Autoscaled event', async () => {
    const list = await cp.client.list<any>({ apiVersion: 'v1', kind: 'Event', plural: 'events', namespaced: true }, n);
    const e = list.items.filter((x: any) => x.involvedObject.name === 'busy' && x.reason === 'Autoscaled');
    return e.length > 0 && e;
  }, 20_000);
  expect(events[0].message).toMatch(/→/);
  // The scale subresource reports the shard count and the selector HPA/KEDA need.
  const scale = await cp.client.request<any>({ method: 'GET', path: resourcePath(DataStreams, n, 'busy', 'scale') });
  expect(scale.status.replicas).toBe(ds.status.shardCount);
  expect(scale.status.selector).toBe(ds.status.selector);
}, 180_000);

test('dryRun: the decision is recorded in status and as a Warning Event, nothing is resharded', async () => {
  const n = await cp.namespace('as');
  nsList.push(n);
  await onDemand(n, 'dry', { dryRun: true });
  const stop = load('dry', 2500);
  const ds = await until('dry-run decision in status', async () => {
    const o = await get(n, 'dry');
    return o?.status?.autoscaling?.lastDecision?.outcome === 'dry-run' && o;
  }, 60_000);
  await stop();
  expect(ds.status.shardCount).toBe(1);
  expect(ds.status.autoscaling.lastDecision.toShards).toBe(1);
}, 180_000);

test('an ON_DEMAND stream created through the Kinesis API scales too, within the store-wide bounds', async () => {
  await client.send(new CreateStreamCommand({ StreamName: 'api-made', StreamModeDetails: { StreamMode: 'ON_DEMAND' } }));
  const stop = load('api-made', 4000 * 1); // 4 initial shards at 1,000 records/s each: full
  await until('api-made scaled above 4 shards', async () => {
    const rec = rt.ctx.cache.get('api-made')?.record;
    return rec && rec.shards.filter((s) => s.endingSequenceNumber === undefined).length > 4;
  }, 60_000).finally(stop);
}, 120_000);
