// The operator as real processes: Lease hand-over between two of them, and an
// operator SIGKILLed in the middle of a reconcile converging after a restart.
import { startControlPlane, CRD_FILES, markPodsReady, until, type ControlPlane } from '../harness/kube.js';
import { startNats, type NatsServers } from '../harness/nats.js';
import { buildOperatorJs, cleanOperatorJs, spawnOperator, type OperatorProcess } from '../harness/kube-operator.js';
import { connectStreamStore, type StreamStore } from '../../operator/store/streamStore.js';
import { DataStreams, Deployments, Leases, Services } from '../../operator/kube/resources.js';
import { freePort } from '../harness/ports.js';

let cp: ControlPlane;
let nats: NatsServers;
let store: StreamStore;
let kubelet: NodeJS.Timeout;
let stopped = false;
const namespaces: string[] = [];
const procs: OperatorProcess[] = [];

beforeAll(async () => {
  const t0 = Date.now();
  [cp, nats] = await Promise.all([startControlPlane({ crdFiles: CRD_FILES, operatorRbac: true }), startNats(), Promise.resolve(buildOperatorJs())]);
  store = await connectStreamStore(nats.url);
  const tick = async () => {
    try { for (const n of namespaces) await markPodsReady(cp.client, n); } catch { /* ignore */ }
    if (!stopped) kubelet = setTimeout(tick, 200);
  };
  void tick();
  console.log('setup ms', Date.now() - t0);
}, 120_000);

afterAll(async () => {
  stopped = true;
  clearTimeout(kubelet);
  await Promise.all(procs.map((p) => p.signal('SIGKILL')));
  await store?.close();
  await Promise.all([cp?.stop(), nats?.stop()]);
  cleanOperatorJs();
});

async function operator(lease: string, env: Record<string, string> = {}, natsUrl = nats.url) {
  const health = await freePort();
  const p = spawnOperator([
    '--health-port', String(health),
    '--kubeconfig', cp.operatorKubeconfigPath!, '--nats', natsUrl, '--image', 'shardline:test',
    '--lease-namespace', 'shardline-system', '--lease-name', lease,
    '--lease-duration-seconds', '3', '--renew-deadline-ms', '2000', '--retry-period-ms', '300', '--resync-seconds', '2',
  ], env);
  procs.push(p);
  return Object.assign(p, { health });
}

async function ns() { const n = await cp.namespace('proc'); namespaces.push(n); return n; }
const cond = (o: any) => o?.status?.conditions?.find((c: any) => c.type === 'Ready');
const create = (n: string, name: string) => cp.client.create(DataStreams, {
  apiVersion: 'shardline.dev/v1alpha1', kind: 'DataStream', metadata: { name, namespace: n }, spec: { shards: 2, replicas: 1, runtime: { dedicated: true } },
});
const waitReady = (n: string, name: string, timeout = 30_000) =>
  until(`${name} Ready`, async () => { const o = await cp.client.get<any>(DataStreams, n, name); return cond(o)?.status === 'True' && o; }, timeout);
const holder = async (lease: string) => (await cp.client.get<any>(Leases, 'shardline-system', lease))?.spec?.holderIdentity as string | undefined;

test('leader hand-over between two operator processes', async () => {
  const a = await operator('handover');
  const b = await operator('handover');
  const first = await until('a leader', async () => { const h = await holder('handover'); return h && h; }, 30_000);
  const [leader, standby] = first === a.identity ? [a, b] : [b, a];
  const n = await ns();
  await create(n, 'h1');
  await waitReady(n, 'h1');
  // Probes and metrics: both replicas are ready (warm caches); only one leads.
  for (const p of [leader, standby]) {
    expect((await fetch(`http://127.0.0.1:${p.health}/readyz`)).status).toBe(200);
  }
  const metrics = await (await fetch(`http://127.0.0.1:${leader.health}/metrics`)).text();
  expect(metrics).toMatch(/shardline_operator_leader 1/);
  expect(metrics).toMatch(/shardline_operator_reconcile_total\{kind="DataStream",result="success"\} \d+/);
  expect(await (await fetch(`http://127.0.0.1:${standby.health}/metrics`)).text()).toMatch(/shardline_operator_leader 0/);

  // A graceful stop releases the Lease: the standby takes over at once.
  const t = Date.now();
  const exit = await leader.signal('SIGTERM');
  expect(exit.code).toBe(0);
  await until('standby leads', async () => (await holder('handover')) === standby.identity, 15_000);
  console.log('hand-over ms', Date.now() - t);
  await create(n, 'h2');
  await waitReady(n, 'h2');
  const lease = await cp.client.get<any>(Leases, 'shardline-system', 'handover');
  expect(lease.spec.leaseTransitions).toBeGreaterThanOrEqual(1);
  await standby.signal('SIGTERM');
}, 90_000);

test('an operator killed mid-reconcile converges after restart', async () => {
  const n = await ns();
  // Dies (SIGKILL, lease not released) right after creating the JetStream stream, before any child.
  const doomed = await operator('crash', { SHARDLINE_FAILPOINTS: `after-ensure-stream@${n}/crashy` });
  await until('doomed leads', async () => (await holder('crash')) === doomed.identity, 30_000);
  await create(n, 'crashy');
  const exit = await doomed.exited;
  expect(exit.signal).toBe('SIGKILL');
  expect((await store.get('crashy'))?.status).toBe('ACTIVE');
  expect(await cp.client.get(Deployments, n, 'crashy-stream')).toBeUndefined();

  // A fresh process waits out the dead leader's Lease, then finishes the job.
  const t = Date.now();
  const next = await operator('crash');
  const ds = await waitReady(n, 'crashy');
  console.log('converged after restart ms', Date.now() - t);
  expect(ds.status.shardCount).toBe(2);
  expect((await store.get('crashy'))!.shards).toHaveLength(2);
  expect(await cp.client.get(Services, n, 'crashy-stream')).toBeDefined();
  expect(await holder('crash')).toBe(next.identity);
  await next.signal('SIGTERM');
}, 90_000);

test('an operator whose nats-server is down (restoring a large store) waits with progress, then converges', async () => {
  const late = await startNats();
  try {
    await late.kill(0);
    const n = await ns();
    const op = await operator('late-nats', {}, late.url);
    await create(n, 'late');
    // Meanwhile the object says why it waits, and the operator keeps going (no exit, no crash loop).
    const waiting = await until('StoreUnavailable', async () => {
      const o = await cp.client.get<any>(DataStreams, n, 'late');
      return cond(o)?.reason === 'StoreUnavailable' && cond(o);
    }, 30_000);
    expect(waiting.status).toBe('False');
    expect(waiting.message).toMatch(/waiting for NATS at .* \(nats-server may be restoring its streams\)/);
    await new Promise((r) => setTimeout(r, 17_000));
    expect(op.proc.exitCode).toBeNull();
    const progress = op.logs().split('\n').filter((l) => /stream store: waiting for NATS/.test(l));
    expect(progress.length).toBeGreaterThanOrEqual(3);

    const t = Date.now();
    await late.restart(0);
    const ds = await waitReady(n, 'late', 60_000);
    console.log('ready after nats-server listened again ms', Date.now() - t);
    expect(ds.status.shardCount).toBe(2);
    expect(op.logs()).toMatch(/stream store: connected to NATS and JetStream after \d+(\.\d)? s/);
    const s = await connectStreamStore(late.url);
    try {
      expect((await s.get('late'))?.shards).toHaveLength(2);
    } finally {
      await s.close();
    }
    await op.signal('SIGTERM');
  } finally {
    await late.stop();
  }
}, 120_000);
