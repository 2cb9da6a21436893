// DataStream against a real apiserver + controller-manager and a real JetStream.
import { startControlPlane, CRD_FILES, markPodsReady, until, type ControlPlane } from '../harness/kube.js';
import { startNats, type NatsServers } from '../harness/nats.js';
import { startOperator, type OperatorHandle } from '../../operator/manager.js';
import { connectStreamStore, type StreamStore } from '../../operator/store/streamStore.js';
import { ConfigMaps, DataStreams, Deployments, Secrets, Services } from '../../operator/kube/resources.js';
import { ApiError } from '../../operator/kube/client.js';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { argoHealth } from '../harness/lua.js';
import { kstatus } from '../harness/kstatus.js';

let cp: ControlPlane;
let nats: NatsServers;
let op: OperatorHandle;
let store: StreamStore;
let kubelet: NodeJS.Timeout;
let stopped = false;
/** Resharding is switched on per test: off, the operator sees a runtime without it. */
let reshardEnabled = false;
const t0 = Date.now();
const SHARED = 'http://shardline.shardline-system.svc:4567';

beforeAll(async () => {
  [cp, nats] = await Promise.all([startControlPlane({ crdFiles: CRD_FILES, operatorRbac: true }), startNats()]);
  store = await connectStreamStore(nats.url);
  const real = await connectStreamStore(nats.url);
  const wrapped: StreamStore = {
    ...real,
    get updateShardCount() { return reshardEnabled ? real.updateShardCount : undefined; },
    get finishReshard() { return reshardEnabled ? real.finishReshard : undefined; },
  };
  op = await startOperator({ kubeConfig: cp.operatorKc!, natsUrl: nats.url, image: 'shardline:test', sharedEndpoint: SHARED, resyncMs: 1000, recheckMs: 500, store: wrapped, log: () => {} });
  await op.synced;
  // Play kubelet: pods of our Deployments become Ready.
  const tick = async () => {
    try { for (const ns of nsList) await markPodsReady(cp.client, ns); } catch { /* namespace going away */ }
    if (!stopped) kubelet = setTimeout(tick, 200);
  };
  void tick();
  console.log('setup ms', Date.now() - t0, cp.timings);
}, 120_000);

afterAll(async () => {
  stopped = true;
  clearTimeout(kubelet);
  await op?.stop();
  await store?.close();
  await Promise.all([cp?.stop(), nats?.stop()]);
});

const nsList: string[] = [];
async function ns() { const n = await cp.namespace('ds'); nsList.push(n); return n; }

const dataStream = (namespace: string, name: string, spec: Record<string, unknown> = {}) => ({
  apiVersion: 'shardline.dev/v1alpha1', kind: 'DataStream',
  metadata: { name, namespace },
  spec: { shards: 2, replicas: 1, runtime: { dedicated: true }, ...spec },
});

const b64 = (text: string) => Buffer.from(text).toString('base64');
/** What `openssl rand -base64 32` prints. */
const randomKey = () => randomBytes(32).toString('base64');
const secret = (namespace: string, name: string, stringData: Record<string, string>) =>
  cp.client.create(Secrets, { apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace }, stringData });
const runtimePod = async (namespace: string, name: string) => (await cp.client.get<any>(Deployments, namespace, `${name}-stream`))?.spec.template.spec;

const get = (namespace: string, name: string) => cp.client.get<any>(DataStreams, namespace, name);
const cond = (o: any, type = 'Ready') => o?.status?.conditions?.find((c: any) => c.type === type);
async function waitReady(namespace: string, name: string, timeout = 20_000) {
  return until(`${name} Ready`, async () => { const o = await get(namespace, name); return cond(o)?.status === 'True' && o.status.observedGeneration === o.metadata.generation && o; }, timeout);
}
async function waitReason(namespace: string, name: string, reason: string, timeout = 20_000) {
  return until(`${name} reason ${reason}`, async () => { const o = await get(namespace, name); return cond(o)?.reason === reason && o; }, timeout);
}

test('CRDs install: established, short names and kubectl explain work', async () => {
  const crd = await cp.client.get<any>({ apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', plural: 'customresourcedefinitions', namespaced: false }, undefined, 'datastreams.shardline.dev');
  expect(crd.status.acceptedNames.shortNames).toEqual(['kds', 'dstream']);
  let kubectl = true;
  try { execFileSync('kubectl', ['version', '--client'], { stdio: 'ignore' }); } catch { kubectl = false; }
  if (!kubectl) return; // kubectl is optional on developer machines
  const out = await until('explain', async () => {
    try { return execFileSync('kubectl', ['--kubeconfig', cp.kubeconfigPath, 'explain', 'kds.spec.shards'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }); } catch { return undefined; }
  }, 20_000, 500);
  expect(out).toMatch(/PROVISIONED: the number of open shards/);
});

test('apply -> Ready within seconds, JetStream stream and every child owned', async () => {
  const n = await ns();
  const start = Date.now();
  await cp.client.create(DataStreams, dataStream(n, 'orders'));
  const ds = await waitReady(n, 'orders');
  console.log('ready after ms', Date.now() - start);
  expect(cond(ds, 'Reconciling').status).toBe('False');
  expect(cond(ds, 'Stalled').status).toBe('False');
  expect(ds.status.shardCount).toBe(2);
  expect(ds.status.shards).toHaveLength(2);
  expect(ds.status.endpoint).toBe(`http://orders-stream.${n}.svc:4567`);
  expect(ds.metadata.finalizers).toContain('shardline.dev/jetstream');
  const rec = await store.get('orders');
  expect(rec?.status).toBe('ACTIVE');
  expect(rec?.shards).toHaveLength(2);
  for (const t of [Deployments, Services]) {
    const child = await cp.client.get<any>(t, n, 'orders-stream');
    expect(child?.metadata.ownerReferences).toEqual([expect.objectContaining({ kind: 'DataStream', name: 'orders', uid: ds.metadata.uid, controller: true })]);
  }
  // The runtime reads its settings from the store and env: no ConfigMap.
  expect(await cp.client.get(ConfigMaps, n, 'orders-stream')).toBeUndefined();
  expect(rec?.encryption).toEqual({ type: 'NONE' });
  const events = await until('events', async () => {
    const list = await cp.client.list<any>({ apiVersion: 'v1', kind: 'Event', plural: 'events', namespaced: true }, n);
    const reasons = list.items.filter((e: any) => e.involvedObject.name === 'orders').map((e: any) => e.reason);
    return reasons.includes('StreamCreated') && reasons.includes('StreamActive') && reasons;
  });
  expect(events).toEqual(expect.arrayContaining(['StreamCreated', 'StreamActive']));
  const pdb = await cp.client.get<any>({ apiVersion: 'policy/v1beta1', kind: 'PodDisruptionBudget', plural: 'poddisruptionbudgets', namespaced: true }, n, 'orders-stream');
  expect(pdb?.metadata.ownerReferences?.[0]?.uid).toBe(ds.metadata.uid);
});

test('default: served by the shared endpoint, no runtime of its own; dedicated on and off creates and deletes it', async () => {
  const n = await ns();
  await cp.client.create(DataStreams, dataStream(n, 'common', { runtime: {} }));
  let ds = await waitReady(n, 'common');
  expect(ds.status.endpoint).toBe(SHARED);
  expect(ds.status.readyReplicas).toBeUndefined();
  expect(cond(ds).message).toContain(SHARED);
  for (const t of [Deployments, Services]) expect(await cp.client.get(t, n, 'common-stream')).toBeUndefined();
  expect((await store.get('common'))?.status).toBe('ACTIVE');

  await cp.client.patch(DataStreams, n, 'common', { spec: { runtime: { dedicated: true } } });
  ds = await until('dedicated', async () => { const o = await waitReady(n, 'common'); return o.status.endpoint === `http://common-stream.${n}.svc:4567` && o; });
  expect(await cp.client.get(Deployments, n, 'common-stream')).toBeDefined();
  expect(await cp.client.get(Services, n, 'common-stream')).toBeDefined();

  await cp.client.patch(DataStreams, n, 'common', { spec: { runtime: { dedicated: false } } });
  await until('dedicated runtime deleted', async () => !(await cp.client.get(Deployments, n, 'common-stream')) && !(await cp.client.get(Services, n, 'common-stream')));
  ds = await waitReady(n, 'common');
  expect(ds.status.endpoint).toBe(SHARED);
  expect(ds.status.readyReplicas).toBeUndefined();
  // The stream and its data are untouched by the move.
  expect((await store.get('common'))?.status).toBe('ACTIVE');
});

test('a JetStream refusal (R3 on a single server) shows as Ready=False / Stalled with the server\'s message', async () => {
  const n = await ns();
  await cp.client.create(DataStreams, dataStream(n, 'triple', { replicas: 3 }));
  const ds = await waitReason(n, 'triple', 'JetStreamError');
  expect(cond(ds).status).toBe('False');
  expect(cond(ds).message).toContain('replicas > 1 not supported in non-clustered mode');
  expect(cond(ds, 'Stalled')).toMatchObject({ status: 'True', reason: 'JetStreamError' });
  expect(cond(ds, 'Reconciling').status).toBe('False');
  expect(ds.status.observedGeneration).toBe(ds.metadata.generation);
  // Argo CD (config/argocd/health.lua) shows it Degraded, Flux (kstatus) Failed.
  expect(argoHealth('config/argocd/health.lua', ds).status).toBe('Degraded');
  expect(kstatus(ds)).toBe('Failed');
  const events = await until('warning event', async () => {
    const list = await cp.client.list<any>({ apiVersion: 'v1', kind: 'Event', plural: 'events', namespaced: true }, n);
    return list.items.find((e: any) => e.involvedObject.name === 'triple' && e.reason === 'JetStreamError');
  });
  expect(events.type).toBe('Warning');
});

test('spec change updates children; drift (deleted or edited child) is corrected', async () => {
  const n = await ns();
  await cp.client.create(DataStreams, dataStream(n, 'clicks'));
  await waitReady(n, 'clicks');
  await cp.client.patch(DataStreams, n, 'clicks', { spec: { runtime: { replicas: 3 }, retentionHours: 48 } });
  await until('deployment scaled', async () => (await cp.client.get<any>(Deployments, n, 'clicks-stream'))?.spec.replicas === 3);
  await waitReady(n, 'clicks');
  expect((await store.get('clicks'))?.retentionHours).toBe(48);

  // Hand edit: the operator takes its fields back.
  await cp.client.patch(Deployments, n, 'clicks-stream', { spec: { replicas: 7 } });
  await until('replicas restored', async () => (await cp.client.get<any>(Deployments, n, 'clicks-stream'))?.spec.replicas === 3);
  // Deleted child: recreated.
  const oldUid = (await cp.client.get<any>(Services, n, 'clicks-stream')).metadata.uid;
  await cp.client.delete(Services, n, 'clicks-stream');
  await until('service recreated', async () => { const s = await cp.client.get<any>(Services, n, 'clicks-stream'); return s && s.metadata.uid !== oldUid; });
});

test('EFO consumers and quota enforcement follow the spec', async () => {
  const n = await ns();
  await cp.client.create(DataStreams, dataStream(n, 'fanout', { consumers: [{ name: 'app-a' }, { name: 'app-b' }], enforceQuotas: false }));
  await waitReady(n, 'fanout');
  let rec = await store.get('fanout');
  expect(rec!.consumers!.map((c) => c.name).sort()).toEqual(['app-a', 'app-b']);
  expect(rec!.quotaEnforcement).toBe(false);
  await new Promise((r) => setTimeout(r, 600)); // CREATING -> ACTIVE
  await cp.client.patch(DataStreams, n, 'fanout', { spec: { consumers: [{ name: 'app-a' }], enforceQuotas: true } });
  await until('app-b deregistered', async () => {
    rec = await store.get('fanout');
    return rec!.quotaEnforcement !== false && (rec!.consumers ?? []).every((c) => c.name === 'app-a' || c.status === 'DELETING');
  });
});

test('mode and tags follow the spec (UpdateStreamMode, AddTagsToStream)', async () => {
  const n = await ns();
  await cp.client.create(DataStreams, dataStream(n, 'modal', { tags: { team: 'a' } }));
  await waitReady(n, 'modal');
  expect((await store.get('modal'))!.tags).toMatchObject({ team: 'a', 'shardline.dev/owner': `${n}/modal` });
  await cp.client.patch(DataStreams, n, 'modal', { spec: { mode: 'ON_DEMAND', onDemand: { minShards: 1, maxShards: 8 }, tags: { team: 'b', env: 'prod' } } });
  const ds = await until('ON_DEMAND', async () => { const o = await get(n, 'modal'); return o.status.mode === 'ON_DEMAND' && cond(o)?.status === 'True' && o; });
  expect(ds.status.shardCount).toBe(2); // within bounds: ON_DEMAND keeps the current count
  expect((await store.get('modal'))!.tags).toMatchObject({ team: 'b', env: 'prod' });
});

test('deletion removes the JetStream stream; Retain keeps it', async () => {
  const n = await ns();
  await cp.client.create(DataStreams, dataStream(n, 'gone'));
  await cp.client.create(DataStreams, dataStream(n, 'kept', { deletionPolicy: 'Retain' }));
  await waitReady(n, 'gone');
  await waitReady(n, 'kept');
  await cp.client.delete(DataStreams, n, 'gone');
  await cp.client.delete(DataStreams, n, 'kept');
  await until('both deleted', async () => !(await get(n, 'gone')) && !(await get(n, 'kept')));
  expect(await store.get('gone')).toBeUndefined();
  expect((await store.get('kept'))?.status).toBe('ACTIVE');
  // Owned children are garbage-collected.
  await until('children collected', async () => !(await cp.client.get(Deployments, n, 'gone-stream')), 30_000);
  await store.delete('kept');
});

test('invalid specs are rejected by the apiserver', async () => {
  const n = await ns();
  const bad = [
    { shards: 0 },
    { replicas: 2 },
    { mode: 'FAST' },
    { retentionHours: 1 },
    { deletionPolicy: 'Maybe' },
    { consumers: [{ name: 'bad name!' }] },
  ];
  for (const spec of bad) {
    const err = await cp.client.create(DataStreams, dataStream(n, 'bad', spec)).then(() => undefined, (e) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).statusCode).toBe(422);
  }
});

test('what admission cannot check becomes Ready=False with a reason, never a crash', async () => {
  const n = await ns();
  // JetStream replicas are fixed at creation (CEL transition rule on >= 1.25).
  await cp.client.create(DataStreams, dataStream(n, 'fixed'));
  await waitReady(n, 'fixed');
  await cp.client.patch(DataStreams, n, 'fixed', { spec: { replicas: 3 } });
  await waitReason(n, 'fixed', 'ImmutableFieldChanged');
  await cp.client.patch(DataStreams, n, 'fixed', { spec: { replicas: 1 } });
  await waitReady(n, 'fixed');
  // minShards > maxShards: a CEL rule on >= 1.25; re-checked by the operator here.
  await cp.client.create(DataStreams, dataStream(n, 'odd', { mode: 'ON_DEMAND', shards: 5, onDemand: { minShards: 8, maxShards: 4 } }));
  const ds = await waitReason(n, 'odd', 'InvalidSpec');
  expect(cond(ds).status).toBe('False');
  expect(cond(ds, 'Stalled').status).toBe('True');
  // Missing encryption key Secret, then it appears.
  await cp.client.create(DataStreams, dataStream(n, 'secret', { encryption: { keySecretRef: { name: 'ds-key' } } }));
  await waitReason(n, 'secret', 'SecretNotFound');
  // Raw key bytes instead of their base64: the runtime's key ring could not load it.
  await cp.client.create(Secrets, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'ds-key', namespace: n }, data: { key: Buffer.alloc(32).toString('base64') } });
  const bad = await waitReason(n, 'secret', 'SecretKeyInvalid');
  expect(cond(bad, 'Stalled').status).toBe('True');
  await cp.client.patch(Secrets, n, 'ds-key', { data: { key: b64(randomKey()) } });
  await waitReady(n, 'secret');
});

test('spec.encryption: key Secret mounted as the key ring, stream record KMS with the derived key id; removed: NONE', async () => {
  const n = await ns();
  await secret(n, 'sealed-key', { k1: randomKey() });
  await cp.client.create(DataStreams, dataStream(n, 'sealed', { encryption: { keySecretRef: { name: 'sealed-key', key: 'k1' } } }));
  await waitReady(n, 'sealed');
  let pod = await runtimePod(n, 'sealed');
  expect(pod.volumes).toEqual([{ name: 'kms-keys', secret: expect.objectContaining({ secretName: 'sealed-key', items: [{ key: 'k1', path: 'sealed-key_k1' }] }) }]);
  expect(pod.containers[0].env).toContainEqual({ name: 'SHARDLINE_KMS_KEYS_FILE', value: '/etc/shardline/kms-keys' });
  expect(pod.containers[0].volumeMounts).toEqual([expect.objectContaining({ name: 'kms-keys', mountPath: '/etc/shardline/kms-keys', readOnly: true })]);
  // Through the runtime's own store code, as StartStreamEncryption writes it.
  await until('KMS', async () => (await store.get('sealed'))?.encryption.type === 'KMS');
  expect((await store.get('sealed'))!.encryption).toEqual({ type: 'KMS', keyId: 'sealed-key_k1' });

  // Another key: once the pods mount it, the stream encrypts with it.
  await secret(n, 'sealed-key-2', { key: randomKey() });
  await cp.client.patch(DataStreams, n, 'sealed', { spec: { encryption: { keySecretRef: { name: 'sealed-key-2', key: 'key' } } } });
  await until('re-keyed', async () => (await store.get('sealed'))?.encryption.keyId === 'sealed-key-2_key');
  await waitReady(n, 'sealed');

  // Removed from the spec: StopStreamEncryption, and the key is no longer mounted.
  await cp.client.patch(DataStreams, n, 'sealed', { spec: { encryption: null } });
  await until('NONE', async () => (await store.get('sealed'))?.encryption.type === 'NONE');
  expect((await store.get('sealed'))!.encryption).toEqual({ type: 'NONE' });
  await until('unmounted', async () => (await runtimePod(n, 'sealed'))?.volumes === undefined);
  pod = await runtimePod(n, 'sealed');
  expect(pod.containers[0].env.map((e: any) => e.name)).not.toContain('SHARDLINE_KMS_KEYS_FILE');
  await waitReady(n, 'sealed');
  const events = await cp.client.list<any>({ apiVersion: 'v1', kind: 'Event', plural: 'events', namespaced: true }, n);
  expect(events.items.filter((e: any) => e.involvedObject.name === 'sealed').map((e: any) => e.reason)).toEqual(expect.arrayContaining(['EncryptionStarted', 'EncryptionStopped']));
});

test('spec.auth: credentials Secret missing is SecretNotFound; present, it is mounted as the runtime\'s credentials directory', async () => {
  const n = await ns();
  await cp.client.create(DataStreams, dataStream(n, 'guarded', { auth: { credentialsSecretRef: 'api-keys' } }));
  const ds = await waitReason(n, 'guarded', 'SecretNotFound');
  expect(cond(ds).message).toContain('api-keys');
  expect(cond(ds, 'Stalled').status).toBe('True');
  // A secret the runtime's reader refuses (whitespace) is reported, not mounted into a crash loop.
  await secret(n, 'api-keys', { AKIDGUARDED: 'two words' });
  await waitReason(n, 'guarded', 'SecretKeyInvalid');
  await cp.client.patch(Secrets, n, 'api-keys', { data: { AKIDGUARDED: b64('s3cret') } });
  await waitReady(n, 'guarded');
  const pod = await runtimePod(n, 'guarded');
  expect(pod.volumes).toEqual([{ name: 'credentials', secret: expect.objectContaining({ secretName: 'api-keys' }) }]);
  expect(pod.containers[0].volumeMounts).toEqual([expect.objectContaining({ name: 'credentials', mountPath: '/etc/shardline/credentials', readOnly: true })]);
  expect(pod.containers[0].env).toContainEqual({ name: 'SHARDLINE_CREDENTIALS_FILE', value: '/etc/shardline/credentials' });
  expect((await store.get('guarded'))!.encryption).toEqual({ type: 'NONE' });
});

test('a stream name already used by another DataStream is StreamNameConflict', async () => {
  const a = await ns();
  const b = await ns();
  await cp.client.create(DataStreams, dataStream(a, 'shared'));
  await waitReady(a, 'shared');
  await cp.client.create(DataStreams, dataStream(b, 'shared'));
  const ds = await waitReason(b, 'shared', 'StreamNameConflict');
  expect(cond(ds).message).toContain(`${a}/shared`);
  // Deleting the loser must not delete the winner's stream.
  await cp.client.delete(DataStreams, b, 'shared');
  await until('loser gone', async () => !(await get(b, 'shared')));
  expect((await store.get('shared'))?.status).toBe('ACTIVE');
});

test('a shard-count change without runtime resharding is ReshardingUnavailable, data kept', async () => {
  const n = await ns();
  await cp.client.create(DataStreams, dataStream(n, 'resize'));
  await waitReady(n, 'resize');
  await cp.client.patch(DataStreams, n, 'resize', { spec: { shards: 4 } });
  const ds = await waitReason(n, 'resize', 'ReshardingUnavailable');
  expect(cond(ds, 'Stalled').status).toBe('True');
  expect(ds.status.shardCount).toBe(2);
  expect((await store.get('resize'))?.shards).toHaveLength(2);
  // Back to the real count: Ready again.
  await cp.client.patch(DataStreams, n, 'resize', { spec: { shards: 2 } });
  await waitReady(n, 'resize');
});

test('with runtime resharding, a shard-count change reshards (stepping by at most 2x)', async () => {
  reshardEnabled = true;
  try {
    const n = await ns();
    await cp.client.create(DataStreams, dataStream(n, 'grow'));
    await waitReady(n, 'grow');
    await cp.client.patch(DataStreams, n, 'grow', { spec: { shards: 6 } });
    const ds = await until('6 shards', async () => { const o = await get(n, 'grow'); return o.status.shardCount === 6 && cond(o)?.status === 'True' && o; });
    expect(ds.status.shards.map((s: any) => s.shardId)).toHaveLength(6);
    const rec = await store.get('grow');
    expect(rec!.shards.filter((s) => !s.endingSequenceNumber)).toHaveLength(6);
    expect(rec!.shards.length).toBeGreaterThan(6); // parents are kept (closed), never dropped
  } finally {
    reshardEnabled = false;
  }
});

test('a converged DataStream causes zero writes over several resyncs', async () => {
  const n = await ns();
  // With both Secrets: their volumes come back from the apiserver with defaults added.
  await secret(n, 'quiet-key', { key: randomKey() });
  await secret(n, 'quiet-keys', { AKIDQUIET: 's3cret' });
  await cp.client.create(DataStreams, dataStream(n, 'quiet', { encryption: { keySecretRef: { name: 'quiet-key' } }, auth: { credentialsSecretRef: 'quiet-keys' } }));
  const ready = await waitReady(n, 'quiet');
  await until('KMS', async () => (await store.get('quiet'))?.encryption.type === 'KMS');
  await new Promise((r) => setTimeout(r, 1500)); // let the rollout's last events settle
  const before = op.client.writes.total;
  const rv = (await get(n, 'quiet')).metadata.resourceVersion;
  await new Promise((r) => setTimeout(r, 3500)); // resync every 1 s: >= 3 resyncs
  const extra = [...op.client.writes.byKey.entries()].filter(([k]) => k.includes(`${n}/`));
  expect(op.client.writes.total - before).toBe(0);
  expect((await get(n, 'quiet')).metadata.resourceVersion).toBe(rv);
  expect(extra.length).toBeGreaterThan(0); // sanity: the counter does see this namespace's writes
  void ready;
});
