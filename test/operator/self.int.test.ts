// Where the operator runs, as real processes against a real apiserver: the
// image it gives pods is its own container's (read from its Pod with the
// shipped RBAC), its Lease goes to the kubeconfig context's namespace out of
// cluster, and a Lease namespace that does not exist stops it at once.
import fs from 'node:fs';
import { startControlPlane, CRD_FILES, until, type ControlPlane } from '../harness/kube.js';
import { startNats, type NatsServers } from '../harness/nats.js';
import { buildOperatorJs, cleanOperatorJs, spawnOperator, type OperatorProcess } from '../harness/kube-operator.js';
import { DataStreams, Deployments, Leases, Pods } from '../../operator/kube/resources.js';

let cp: ControlPlane;
let nats: NatsServers;
const procs: OperatorProcess[] = [];

beforeAll(async () => {
  [cp, nats] = await Promise.all([startControlPlane({ crdFiles: CRD_FILES, operatorRbac: true }), startNats(), Promise.resolve(buildOperatorJs())]);
}, 120_000);

afterAll(async () => {
  await Promise.all(procs.map((p) => p.signal('SIGKILL')));
  await Promise.all([cp?.stop(), nats?.stop()]);
  cleanOperatorJs();
});

/** A copy of a kubeconfig whose context names another namespace. */
function kubeconfigIn(src: string, namespace: string): string {
  const file = `${src}-${namespace}`;
  fs.writeFileSync(file, fs.readFileSync(src, 'utf8').replace(/namespace: default/, `namespace: ${namespace}`));
  return file;
}

test('in cluster: the runtime pods get the image of the operator\'s own container', async () => {
  const image = 'registry.example.com/platform/shardline:9.8.7';
  const podName = 'shardline-operator-7d9f-x2k';
  await cp.client.create(Pods, {
    apiVersion: 'v1', kind: 'Pod', metadata: { name: podName, namespace: 'shardline-system' },
    spec: { containers: [{ name: 'operator', image, args: ['operator'] }] },
  });
  const p = spawnOperator(['--kubeconfig', cp.operatorKubeconfigPath!, '--nats', nats.url, '--resync-seconds', '2'],
    { POD_NAME: podName, POD_NAMESPACE: 'shardline-system', SHARDLINE_IMAGE: '' });
  procs.push(p);
  const n = await cp.namespace('self');
  await cp.client.create(DataStreams, {
    apiVersion: 'shardline.dev/v1alpha1', kind: 'DataStream', metadata: { name: 'img', namespace: n },
    spec: { shards: 1, replicas: 1, runtime: { dedicated: true } },
  });
  const dep = await until('runtime Deployment', () => cp.client.get<any>(Deployments, n, 'img-stream'), 30_000);
  expect(dep.spec.template.spec.containers[0].image).toBe(image);
  expect(p.logs()).toContain(`image ${image}`);
  await p.signal('SIGTERM');
}, 60_000);

test('out of cluster: the Lease goes to the kubeconfig context\'s namespace', async () => {
  const p = spawnOperator(['--kubeconfig', kubeconfigIn(cp.operatorKubeconfigPath!, 'shardline-system'), '--nats', nats.url, '--image', 'shardline:test', '--lease-name', 'ctx-ns'], { POD_NAMESPACE: '' });
  procs.push(p);
  const lease = await until('Lease in shardline-system', () => cp.client.get<any>(Leases, 'shardline-system', 'ctx-ns'), 20_000);
  expect(lease.spec.holderIdentity).toBe(p.identity);
  await p.signal('SIGTERM');
}, 40_000);

test('out of cluster: a Lease namespace that does not exist fails at once with a clear message', async () => {
  const t0 = Date.now();
  const p = spawnOperator(['--kubeconfig', kubeconfigIn(cp.kubeconfigPath, 'no-such-ns'), '--nats', nats.url, '--image', 'shardline:test'], { POD_NAMESPACE: '' });
  procs.push(p);
  const { code } = await p.exited;
  expect(code).not.toBe(0);
  expect(Date.now() - t0).toBeLessThan(15_000);
  expect(p.logs()).toContain('namespace "no-such-ns" does not exist');
  // No retry loop: the election's first round gave up instead of logging a 404 every retry period.
  expect(p.logs()).not.toMatch(/lease: .*404/);
}, 30_000);

test('out of cluster without RBAC in the context namespace: fails at once, naming the namespace', async () => {
  const p = spawnOperator(['--kubeconfig', cp.operatorKubeconfigPath!, '--nats', nats.url, '--image', 'shardline:test'], { POD_NAMESPACE: '' });
  procs.push(p);
  const { code } = await p.exited;
  expect(code).not.toBe(0);
  expect(p.logs()).toContain('leader election in namespace "default" is forbidden');
}, 30_000);
