// The example cdk8s app's clickstream chart, synthesized and applied the way
// Argo CD applies (server-side apply, field manager argocd-controller) to the
// real apiserver of the operator tests, with a 3-server NATS so the default
// R3 streams work: every resource becomes Ready. Applying the same manifests
// again changes nothing (no drift between Git and what the operator writes),
// and the operator owns no spec field.
import { App, Testing } from 'cdk8s';
import { startControlPlane, CRD_FILES, markPodsReady, until, type ControlPlane } from '../harness/kube.js';
import { startNats, type NatsServers } from '../harness/nats.js';
import { startOperator, type OperatorHandle } from '../../operator/manager.js';
import { resourcePath, type ResourceType } from '../../operator/kube/resources.js';
import { clickstream } from '../../examples/cdk8s/main.js';
import { argoHealth } from '../harness/lua.js';
import { kstatus } from '../harness/kstatus.js';

let cp: ControlPlane;
let nats: NatsServers;
let op: OperatorHandle;
let kubelet: NodeJS.Timeout | undefined;
let stopped = false;
const NS = `shop-${Date.now().toString(36)}`;

beforeAll(async () => {
  [cp, nats] = await Promise.all([startControlPlane({ crdFiles: CRD_FILES, operatorRbac: true }), startNats({ servers: 3 })]);
  op = await startOperator({ kubeConfig: cp.operatorKc!, natsUrl: nats.url, storeReplicas: 3, image: 'shardline:test', resyncMs: 1000, recheckMs: 500, log: () => {} });
  await op.synced;
  const tick = async () => {
    try { await markPodsReady(cp.client, NS); } catch { /* namespace not there yet */ }
    if (!stopped) kubelet = setTimeout(tick, 200);
  };
  void tick();
}, 120_000);

afterAll(async () => {
  stopped = true;
  clearTimeout(kubelet);
  await op?.stop();
  await Promise.all([cp?.stop(), nats?.stop()]);
});

const typeOf = (o: any): ResourceType => ({
  apiVersion: o.apiVersion, kind: o.kind, plural: o.kind.toLowerCase() + 's', namespaced: o.kind !== 'Namespace',
});

/** kubectl apply --server-side --field-manager=argocd-controller, as Argo CD does. */
const ssa = (o: any) => cp.client.request<any>({
  method: 'PATCH', path: resourcePath(typeOf(o), o.metadata.namespace, o.metadata.name),
  query: { fieldManager: 'argocd-controller', force: 'true' }, body: o, contentType: 'application/apply-patch+yaml',
});

const ready = (o: any) => o?.status?.observedGeneration === o?.metadata?.generation && o?.status?.conditions?.find((c: any) => c.type === 'Ready')?.status === 'True';

test('synthesized manifests applied with server-side apply become Ready; re-applying them changes nothing', async () => {
  const manifests = Testing.synth(clickstream(new App(), { namespace: NS }));
  expect(manifests.map((m) => m.kind)).toEqual(['Namespace', 'Secret', 'DataStream', 'DeliveryStream', 'DataStream', 'AnalyticsApp']);
  for (const m of manifests) await ssa(m);
  const crs = manifests.filter((m) => m.apiVersion === 'shardline.dev/v1alpha1');
  const live = await until('every shardline resource Ready', async () => {
    const got = await Promise.all(crs.map((m) => cp.client.get<any>(typeOf(m), NS, m.metadata.name)));
    return got.every(ready) && got;
  }, 60_000);
  expect(live.find((o: any) => o.metadata.name === 'clicks').status.shardCount).toBe(2);
  // What Argo CD (config/argocd/health.lua) and Flux (kstatus) make of the live objects.
  for (const o of live) expect(`${o.kind}/${o.metadata.name}: ${argoHealth('config/argocd/health.lua', o).status} ${kstatus(o)}`).toBe(`${o.kind}/${o.metadata.name}: Healthy Current`);

  // Converged: let a few resyncs pass, then apply the same manifests again.
  await new Promise((r) => setTimeout(r, 2500));
  const before = await Promise.all(crs.map((m) => cp.client.get<any>(typeOf(m), NS, m.metadata.name)));
  const writes = op.client.writes.total;
  const byKey = new Map(op.client.writes.byKey);
  for (const m of manifests) await ssa(m);
  await new Promise((r) => setTimeout(r, 2500));
  const after = await Promise.all(crs.map((m) => cp.client.get<any>(typeOf(m), NS, m.metadata.name)));
  const changed = [...op.client.writes.byKey].filter(([k, v]) => byKey.get(k) !== v).map(([k]) => k);
  if (changed.length) console.log('operator writes after re-apply:', changed, JSON.stringify(before.map((o) => o.status)), JSON.stringify(after.map((o) => o.status)));
  expect(after.map((o) => `${o.metadata.name}@${o.metadata.resourceVersion}/${o.metadata.generation}`))
    .toEqual(before.map((o) => `${o.metadata.name}@${o.metadata.resourceVersion}/${o.metadata.generation}`));
  expect(op.client.writes.total).toBe(writes);

  // Field ownership: Git (argocd-controller) owns the spec; the operator only status and its finalizer.
  for (const [i, o] of after.entries()) {
    const owners = (o.metadata.managedFields ?? []) as any[];
    if (Object.keys(crs[i].spec ?? {}).length) expect({ [o.metadata.name]: owners.filter((f) => f.manager === 'argocd-controller').map((f) => Object.keys(f.fieldsV1 ?? {})) }).toEqual({ [o.metadata.name]: [expect.arrayContaining(['f:spec'])] });
    // before-first-apply: the apiserver's name for fields present before an object's first apply (1.20 records it on create-by-apply).
    for (const f of owners.filter((x) => x.manager !== 'argocd-controller' && x.manager !== 'before-first-apply')) expect(`${f.manager}: ${Object.keys(f.fieldsV1 ?? {})}`).not.toContain('f:spec');
  }
}, 120_000);
