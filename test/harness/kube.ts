// A real Kubernetes control plane for tests: etcd + kube-apiserver +
// kube-controller-manager (deployment, replicaset, garbage collector, namespace)
// on free loopback ports, with a generated kubeconfig (static admin token).
// No kubelet: pods stay Pending unless a test marks them Ready (markPodsReady).
//
// Binaries: $KUBEBUILDER_ASSETS (as envtest), else scripts/kube-binaries.sh
// (cached build of v1.20.2). USE_EXISTING_CLUSTER=true + KUBECONFIG runs the
// tests against your own cluster instead.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { parse } from 'yaml';
import { KubeClient, type KubeObject } from '../../operator/kube/client.js';
import { CustomResourceDefinitions, Namespaces, Pods } from '../../operator/kube/resources.js';
import { freePort, waitForPort } from './ports.js';

export interface ControlPlane {
  kubeconfigPath: string;
  kc: KubeConfig;
  /** Kubeconfig of user `shardline-operator`, bound only to config/rbac (with operatorRbac). */
  operatorKubeconfigPath?: string;
  operatorKc?: KubeConfig;
  client: KubeClient;
  /** Start timings in ms, for keeping the suites fast. */
  timings: Record<string, number>;
  /** Kills kube-apiserver and starts it again on the same port and etcd (local control plane only). */
  restartApiserver?(): Promise<void>;
  /** Fresh namespace for one test. */
  namespace(prefix?: string): Promise<string>;
  stop(): Promise<void>;
}

const REPO = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');

export function kubeBinaries(): string {
  const assets = process.env.KUBEBUILDER_ASSETS;
  if (assets && fs.existsSync(path.join(assets, 'kube-apiserver'))) return assets;
  return execFileSync('bash', [path.join(REPO, 'scripts/kube-binaries.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: 40 * 60_000 }).trim();
}

function bin(dir: string, name: string): string {
  const p = path.join(dir, name);
  if (fs.existsSync(p)) return p;
  if (name === 'etcd') return 'etcd'; // envtest-style asset dirs without etcd: use PATH
  throw new Error(`${name} not found in ${dir}`);
}

class Proc {
  private stderr = '';
  readonly exited: Promise<never>;
  constructor(readonly name: string, readonly proc: ChildProcess, logFile: string) {
    const log = fs.createWriteStream(logFile);
    proc.stdout?.pipe(log);
    proc.stderr?.on('data', (d) => { this.stderr = (this.stderr + d.toString()).slice(-3000); log.write(d); });
    this.exited = new Promise<never>((_, reject) => proc.once('exit', (code, sig) => reject(new Error(`${name} exited (${code ?? sig}): ${this.stderr}`))));
    this.exited.catch(() => undefined);
  }
  async stop(): Promise<void> {
    const p = this.proc;
    if (p.exitCode !== null || p.signalCode !== null) return;
    const gone = new Promise((r) => p.once('exit', r));
    p.kill('SIGTERM');
    const t = setTimeout(() => p.kill('SIGKILL'), 5000);
    await gone;
    clearTimeout(t);
  }
}

async function until<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 60_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) { last = e; }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${last}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export interface StartOptions {
  /** CRD manifests (YAML files) installed before the controller-manager starts, so its garbage collector knows the kinds. */
  crdFiles?: string[];
  /** Create user shardline-operator with exactly the RBAC of config/rbac (lease Role in shardline-system). */
  operatorRbac?: boolean;
}

export async function startControlPlane(opts: StartOptions = {}): Promise<ControlPlane> {
  if (process.env.USE_EXISTING_CLUSTER === 'true') return existingCluster(opts);
  const t0 = Date.now();
  const timings: Record<string, number> = {};
  const dir = kubeBinaries();
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'shardline-kube-'));
  const procs: Proc[] = [];
  const stop = async () => {
    for (const p of procs.reverse()) await p.stop();
    fs.rmSync(root, { recursive: true, force: true });
  };
  try {
    // etcd
    const etcdPort = await freePort();
    const peerPort = await freePort();
    procs.push(new Proc('etcd', spawn(bin(dir, 'etcd'), [
      '--name', 'default', '--data-dir', path.join(root, 'etcd'),
      '--listen-client-urls', `http://127.0.0.1:${etcdPort}`, '--advertise-client-urls', `http://127.0.0.1:${etcdPort}`,
      '--listen-peer-urls', `http://127.0.0.1:${peerPort}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${peerPort}`,
      '--initial-cluster', `default=http://127.0.0.1:${peerPort}`, '--log-level', 'warn', '--logger', 'zap',
    ], { stdio: ['ignore', 'pipe', 'pipe'] }), path.join(root, 'etcd.log')));
    await Promise.race([waitForPort(etcdPort), procs[0]!.exited]);
    timings.etcd = Date.now() - t0;

    // Credentials: a service-account signing key and a static admin token.
    const { privateKey, publicKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
    const saKey = path.join(root, 'sa.key');
    const saPub = path.join(root, 'sa.pub');
    fs.writeFileSync(saKey, privateKey.export({ type: 'pkcs1', format: 'pem' }));
    fs.writeFileSync(saPub, publicKey.export({ type: 'spki', format: 'pem' }));
    const token = crypto.randomBytes(24).toString('hex');
    const opToken = crypto.randomBytes(24).toString('hex');
    fs.writeFileSync(path.join(root, 'tokens.csv'), `${token},admin,admin,"system:masters"\n${opToken},shardline-operator,shardline-operator\n`);

    const apiPort = await freePort();
    const apiserverArgs = [
      `--etcd-servers=http://127.0.0.1:${etcdPort}`,
      `--secure-port=${apiPort}`, '--bind-address=127.0.0.1', '--advertise-address=127.0.0.1',
      '--insecure-port=0', `--cert-dir=${path.join(root, 'certs')}`,
      `--token-auth-file=${path.join(root, 'tokens.csv')}`, '--authorization-mode=RBAC',
      '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
      `--service-account-key-file=${saPub}`, `--service-account-signing-key-file=${saKey}`,
      '--service-cluster-ip-range=10.96.0.0/16', '--allow-privileged=true',
      // No token controller / kubelet here: pods need no service account token.
      '--disable-admission-plugins=ServiceAccount',
      '--v=0',
    ];
    const launchApiserver = () => new Proc('kube-apiserver', spawn(bin(dir, 'kube-apiserver'), apiserverArgs, { stdio: ['ignore', 'pipe', 'pipe'] }), path.join(root, `apiserver-${Date.now()}.log`));
    let apiserver = launchApiserver();
    procs.push(apiserver);

    const writeKubeconfig = (file: string, user: string, tok: string) => fs.writeFileSync(file, [
      'apiVersion: v1', 'kind: Config', 'current-context: test',
      'clusters:', '- name: test', '  cluster:', `    server: https://127.0.0.1:${apiPort}`, '    insecure-skip-tls-verify: true',
      'users:', `- name: ${user}`, '  user:', `    token: ${tok}`,
      'contexts:', '- name: test', '  context:', '    cluster: test', `    user: ${user}`, '    namespace: default',
    ].join('\n') + '\n');
    const kubeconfigPath = path.join(root, 'kubeconfig');
    writeKubeconfig(kubeconfigPath, 'admin', token);
    const operatorKubeconfigPath = path.join(root, 'kubeconfig-operator');
    writeKubeconfig(operatorKubeconfigPath, 'shardline-operator', opToken);
    const kc = new KubeConfig();
    kc.loadFromFile(kubeconfigPath);
    const client = new KubeClient(kc);
    await Promise.race([
      until('kube-apiserver /readyz', async () => { await client.request({ method: 'GET', path: '/readyz' }); return true; }, 60_000, 100)
        .then(() => until('default namespace', () => client.get(Namespaces, undefined, 'default'))),
      apiserver.exited,
    ]);
    timings.apiserver = Date.now() - t0;

    if (opts.crdFiles?.length) await installCrds(client, opts.crdFiles);
    if (opts.operatorRbac) await bindOperatorRbac(client);
    timings.crds = Date.now() - t0;
    let operatorKc: KubeConfig | undefined;
    if (opts.operatorRbac) { operatorKc = new KubeConfig(); operatorKc.loadFromFile(operatorKubeconfigPath); }

    const kcm = new Proc('kube-controller-manager', spawn(bin(dir, 'kube-controller-manager'), [
      `--kubeconfig=${kubeconfigPath}`,
      '--controllers=deployment,replicaset,garbagecollector,namespace,statefulset,disruption',
      `--service-account-private-key-file=${saKey}`,
      '--leader-elect=false', '--use-service-account-credentials=false',
      '--port=0', '--secure-port=0',
      '--concurrent-deployment-syncs=10', '--concurrent-replicaset-syncs=10', '--concurrent-gc-syncs=10',
      '--v=0',
    ], { stdio: ['ignore', 'pipe', 'pipe'] }), path.join(root, 'controller-manager.log'));
    procs.push(kcm);
    timings.total = Date.now() - t0;

    let n = 0;
    return {
      kubeconfigPath, kc, client, timings, stop,
      restartApiserver: async () => {
        // SIGKILL: clients see their watches and connections drop mid-stream.
        apiserver.proc.kill('SIGKILL');
        await new Promise((r) => apiserver.proc.once('exit', r));
        apiserver = launchApiserver();
        procs.splice(1, 1, apiserver);
        await Promise.race([
          // /readyz, not just any GET: requests fail with 503 until the post-start hooks finish.
          until('kube-apiserver back', async () => { await client.request({ method: 'GET', path: '/readyz' }); return true; }, 60_000, 100),
          apiserver.exited,
        ]);
      },
      ...(opts.operatorRbac ? { operatorKubeconfigPath, operatorKc } : {}),
      namespace: async (prefix = 'test') => {
        const name = `${prefix}-${++n}-${crypto.randomBytes(2).toString('hex')}`;
        await client.create(Namespaces, { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
        return name;
      },
    };
  } catch (e) {
    await stop();
    throw e;
  }
}

async function existingCluster(opts: StartOptions): Promise<ControlPlane> {
  const kc = new KubeConfig();
  kc.loadFromDefault();
  const client = new KubeClient(kc);
  if (opts.crdFiles?.length) await installCrds(client, opts.crdFiles);
  const created: string[] = [];
  let n = 0;
  return {
    kubeconfigPath: process.env.KUBECONFIG ?? path.join(os.homedir(), '.kube/config'), kc, client, timings: {},
    namespace: async (prefix = 'test') => {
      const name = `${prefix}-${++n}-${crypto.randomBytes(3).toString('hex')}`;
      await client.create(Namespaces, { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
      created.push(name);
      return name;
    },
    stop: async () => { for (const ns of created) await client.delete(Namespaces, undefined, ns); },
  };
}

/** Applies CRD YAML files and waits until every one is Established. */
export async function installCrds(client: KubeClient, files: string[]): Promise<void> {
  let crds = files.map((f) => parse(fs.readFileSync(f, 'utf8')) as KubeObject);
  // CEL rules (x-kubernetes-validations) exist from Kubernetes 1.25; an older
  // apiserver rejects the field under server-side apply. Strip them there: the
  // operator re-checks the same rules and reports InvalidSpec.
  const version = await client.request<{ major: string; minor: string }>({ method: 'GET', path: '/version' });
  if (Number(version.major) === 1 && parseInt(version.minor, 10) < 25) crds = crds.map((c) => stripCel(c) as KubeObject);
  for (const crd of crds) await client.apply(CustomResourceDefinitions, crd);
  for (const crd of crds) {
    await until(`CRD ${crd.metadata.name} Established`, async () => {
      const got = await client.get<any>(CustomResourceDefinitions, undefined, crd.metadata.name);
      return got?.status?.conditions?.some((c: any) => c.type === 'Established' && c.status === 'True');
    }, 30_000, 50);
  }
}

/**
 * Applies the operator's ClusterRole and leader-election Role from
 * config/rbac/role.yaml and binds them to user shardline-operator, so tests
 * prove the shipped RBAC is enough (least privilege: nothing else is granted).
 */
export async function bindOperatorRbac(client: KubeClient): Promise<void> {
  const { parseAllDocuments } = await import('yaml');
  const docs = parseAllDocuments(fs.readFileSync(path.join(REPO, 'config/rbac/role.yaml'), 'utf8')).map((d) => d.toJSON() as KubeObject);
  const rbac = (kind: string, plural: string, namespaced: boolean) => ({ apiVersion: 'rbac.authorization.k8s.io/v1', kind, plural, namespaced });
  await client.apply(Namespaces, { metadata: { name: 'shardline-system' } });
  const subject = [{ kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: 'shardline-operator' }];
  for (const doc of docs) {
    if (doc.kind === 'ClusterRole') {
      await client.apply(rbac('ClusterRole', 'clusterroles', false), doc);
      await client.apply(rbac('ClusterRoleBinding', 'clusterrolebindings', false), {
        metadata: { name: `test-${doc.metadata.name}` }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: doc.metadata.name }, subjects: subject,
      });
    } else if (doc.kind === 'Role') {
      const ns = 'shardline-system';
      await client.apply(rbac('Role', 'roles', true), { ...doc, metadata: { ...doc.metadata, namespace: ns } });
      await client.apply(rbac('RoleBinding', 'rolebindings', true), {
        metadata: { name: `test-${doc.metadata.name}`, namespace: ns }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: doc.metadata.name }, subjects: subject,
      });
    }
  }
}

function stripCel(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(stripCel);
  if (node && typeof node === 'object') {
    return Object.fromEntries(Object.entries(node).filter(([k]) => k !== 'x-kubernetes-validations').map(([k, v]) => [k, stripCel(v)]));
  }
  return node;
}

export const CRD_FILES = fs.readdirSync(path.join(REPO, 'crds')).filter((f) => f.endsWith('.yaml')).map((f) => path.join(REPO, 'crds', f));

/**
 * Plays kubelet for pods matching a label selector: marks them Running and
 * Ready so Deployments become available (Strimzi's mock controllers do the same).
 */
export async function markPodsReady(client: KubeClient, namespace: string, labelSelector?: string): Promise<number> {
  const pods = await client.list<any>(Pods, namespace, { labelSelector });
  let n = 0;
  for (const pod of pods.items) {
    if (pod.metadata.deletionTimestamp) continue;
    if (pod.status?.conditions?.some((c: any) => c.type === 'Ready' && c.status === 'True')) continue;
    const now = new Date().toISOString();
    await client.patch(Pods, namespace, pod.metadata.name, {
      status: {
        phase: 'Running',
        conditions: [
          { type: 'PodScheduled', status: 'True', lastTransitionTime: now },
          { type: 'Initialized', status: 'True', lastTransitionTime: now },
          { type: 'ContainersReady', status: 'True', lastTransitionTime: now },
          { type: 'Ready', status: 'True', lastTransitionTime: now },
        ],
      },
    }, 'status');
    n++;
  }
  return n;
}

export { until };
