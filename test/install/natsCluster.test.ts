// The NATS StatefulSet as rendered by `kubectl kustomize config/default`: its
// routes name pods through the headless Service, and three real nats-servers
// started from that exact configuration form one JetStream cluster that takes
// an R3 stream. Only what cannot exist off-cluster is adapted, in this test:
// each route's pod DNS name becomes 127.0.0.1 and a port of that pod's own.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { connect, type NatsConnection } from 'nats';
import { find, renderKustomize, REPO, type Doc } from '../harness/kustomize.js';
import { freePort, waitForPort } from '../harness/ports.js';
import { NATS_SERVER } from '../harness/nats.js';

let docs: Doc[];
const procs: ChildProcess[] = [];
let root: string;
let nc: NatsConnection | undefined;

beforeAll(() => {
  docs = renderKustomize(path.join(REPO, 'config/default'));
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'shardline-natscfg-'));
});

afterAll(async () => {
  await nc?.close();
  await Promise.all(procs.map((p) => new Promise((r) => { if (p.exitCode !== null) return r(undefined); p.once('exit', r); p.kill('SIGTERM'); })));
  fs.rmSync(root, { recursive: true, force: true });
});

function routesOf(conf: string): string[] {
  const m = /routes\s*:\s*\[([^\]]*)\]/.exec(conf);
  if (!m) throw new Error('no cluster routes in nats.conf');
  return m[1]!.split('\n').map((l) => l.replace(/#.*/, '').trim()).filter(Boolean);
}

test('routes name the StatefulSet pods through the headless Service, with nothing left for nats-server to expand', () => {
  const sts = find(docs, 'StatefulSet', 'nats');
  const headless = find(docs, 'Service', sts.spec.serviceName);
  const conf: string = find(docs, 'ConfigMap', 'nats-config').data['nats.conf'];
  expect(headless.spec.clusterIP).toBe('None');
  const clusterPort = sts.spec.template.spec.containers[0].ports.find((p: any) => p.name === 'cluster').containerPort;
  expect(headless.spec.ports.find((p: any) => p.name === 'cluster')?.port).toBe(clusterPort);
  const routes = routesOf(conf);
  expect(routes).toHaveLength(sts.spec.replicas);
  for (const [i, r] of routes.entries()) {
    expect(r).not.toContain('$');
    const u = new URL(r);
    // <pod>.<service> resolves in the pod's namespace through its DNS search path.
    expect(u.hostname).toBe(`${sts.metadata.name}-${i}.${sts.spec.serviceName}`);
    expect(Number(u.port)).toBe(clusterPort);
  }
  // Every environment variable the configuration refers to is given to the container.
  const env = new Set(sts.spec.template.spec.containers[0].env.map((e: any) => e.name));
  for (const [, name] of conf.replace(/#.*$/gm, '').matchAll(/\$([A-Z_][A-Z0-9_]*)/g)) expect(env).toContain(name);
});

test('three nats-servers started from the rendered configuration form a JetStream cluster and take an R3 stream', async () => {
  const sts = find(docs, 'StatefulSet', 'nats');
  const conf: string = find(docs, 'ConfigMap', 'nats-config').data['nats.conf'];
  const n = sts.spec.replicas as number;
  const taken = new Set<number>();
  const port = async () => { for (;;) { const p = await freePort(); if (!taken.has(p)) return taken.add(p), p; } };
  const nodes = [];
  for (let i = 0; i < n; i++) nodes.push({ pod: `${sts.metadata.name}-${i}`, client: await port(), cluster: await port(), monitor: await port(), dir: path.join(root, `d${i}`) });
  const byHost = new Map(nodes.map((x) => [`${x.pod}.${sts.spec.serviceName}`, x]));
  for (const [i, node] of nodes.entries()) {
    // Loopback stand-ins for what Kubernetes provides: pod DNS names, the volume, distinct ports.
    let text = conf
      .replace(/^listen:\s*0\.0\.0\.0:4222$/m, `listen: 127.0.0.1:${node.client}`)
      .replace(/^http:\s*0\.0\.0\.0:8222$/m, `http: 127.0.0.1:${node.monitor}`)
      .replace(/^(\s+)listen:\s*0\.0\.0\.0:6222$/m, `$1listen: 127.0.0.1:${node.cluster}`)
      .replace(/store_dir:\s*\/data\/jetstream/, `store_dir: "${node.dir}"`)
      .replace(/nats:\/\/([a-z0-9.-]+):6222/g, (_, host: string) => {
        const peer = byHost.get(host);
        if (!peer) throw new Error(`route host ${host} is not a pod of the StatefulSet`);
        return `nats://127.0.0.1:${peer.cluster}`;
      });
    for (const p of [node.client, node.cluster, node.monitor]) expect(text).toContain(`127.0.0.1:${p}`);
    const file = path.join(root, `nats-${i}.conf`);
    fs.writeFileSync(file, text);
    const proc = spawn(NATS_SERVER, [...sts.spec.template.spec.containers[0].args.map((a: string) => (a === '/etc/nats/nats.conf' ? file : a))], {
      env: { ...process.env, POD_NAME: node.pod },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    proc.stderr!.on('data', (d) => { err = (err + d).slice(-4000); });
    proc.once('exit', (code, sig) => { if (code && sig !== 'SIGTERM' && code !== 1) console.error(`nats-${i} exited ${code}: ${err}`); });
    procs.push(proc);
  }
  await Promise.all(nodes.map((x) => waitForPort(x.client)));

  // The StatefulSet's readiness probe: JetStream enabled and current, on every server.
  const probe = sts.spec.template.spec.containers[0].readinessProbe.httpGet.path as string;
  const deadline = Date.now() + 30_000;
  for (;;) {
    const codes = await Promise.all(nodes.map((x) => fetch(`http://127.0.0.1:${x.monitor}${probe}`).then((r) => r.status, () => 0)));
    const metas = await Promise.all(nodes.map((x) => fetch(`http://127.0.0.1:${x.monitor}/jsz`).then((r) => r.json() as any, () => undefined)));
    const leader = metas[0]?.meta_cluster?.leader;
    if (codes.every((c) => c === 200) && leader && metas.every((m) => m?.meta_cluster?.leader === leader && m.meta_cluster.cluster_size === n)) break;
    if (Date.now() > deadline) throw new Error(`no cluster after 30 s: probes ${codes}, ${JSON.stringify(metas.map((m) => m?.meta_cluster))}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  const varz = await Promise.all(nodes.map((x) => fetch(`http://127.0.0.1:${x.monitor}/varz`).then((r) => r.json() as any)));
  expect(varz.map((v) => v.server_name)).toEqual(nodes.map((x) => x.pod)); // server_name: $POD_NAME expanded
  const routez = await Promise.all(nodes.map((x) => fetch(`http://127.0.0.1:${x.monitor}/routez`).then((r) => r.json() as any)));
  for (const r of routez) expect(r.num_routes).toBe(n - 1);

  nc = await connect({ servers: nodes.map((x) => `nats://127.0.0.1:${x.client}`) });
  const jsm = await nc.jetstreamManager();
  const info = await jsm.streams.add({ name: 'R3CHECK', subjects: ['r3.check'], num_replicas: 3 });
  expect(info.config.num_replicas).toBe(3);
  const ack = await nc.jetstream().publish('r3.check', new TextEncoder().encode('hello'));
  expect(ack.seq).toBe(1);
  const cluster = (await jsm.streams.info('R3CHECK')).cluster!;
  expect([cluster.leader, ...(cluster.replicas ?? []).map((r) => r.name)].sort()).toEqual(nodes.map((x) => x.pod).sort());
}, 60_000);
