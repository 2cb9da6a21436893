// The shared runtime Deployment of config/runtime, as rendered by kustomize,
// started for real with the exact command line and environment of its
// container (the NATS Service name and the port adapted to loopback here
// only): its probes answer, and a Kinesis client creates, writes and reads a
// stream through it. Service and autoscaler point at it.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { CreateStreamCommand, GetRecordsCommand, GetShardIteratorCommand, KinesisClient, PutRecordCommand, waitUntilStreamExists } from '@aws-sdk/client-kinesis';
import { find, renderKustomize, REPO, type Doc } from '../harness/kustomize.js';
import { startNats, type NatsServers } from '../harness/nats.js';
import { freePort, waitForPort } from '../harness/ports.js';

let docs: Doc[];
let nats: NatsServers;
let proc: ChildProcess | undefined;

beforeAll(async () => {
  docs = renderKustomize(path.join(REPO, 'config/default'));
  nats = await startNats();
});

afterAll(async () => {
  if (proc && proc.exitCode === null) await new Promise((r) => { proc!.once('exit', r); proc!.kill('SIGTERM'); });
  await nats?.stop();
});

test('Service shardline and the autoscaler target the shared runtime Deployment', () => {
  const dep = find(docs, 'Deployment', 'shardline-runtime');
  const svc = find(docs, 'Service', 'shardline');
  for (const [k, v] of Object.entries(svc.spec.selector)) expect(dep.spec.template.metadata.labels[k]).toBe(v);
  const port = dep.spec.template.spec.containers[0].ports.find((p: any) => p.name === svc.spec.ports[0].targetPort);
  expect(svc.spec.ports[0].port).toBe(4567);
  expect(port.containerPort).toBe(4567);
  const hpa = find(docs, 'HorizontalPodAutoscaler', 'shardline-runtime');
  expect(hpa.spec.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: 'shardline-runtime' });
  expect(hpa.spec.minReplicas).toBeGreaterThanOrEqual(2);
  // The autoscaler owns the replica count: a re-apply (kubectl, GitOps) must not reset it.
  expect(dep.spec.replicas).toBeUndefined();
  // The autoscaler's CPU target needs a CPU request to compute utilisation.
  expect(dep.spec.template.spec.containers[0].resources.requests.cpu).toBeDefined();
});

test('the container\'s command line runs a runtime that passes its probes and serves Kinesis', async () => {
  const dep = find(docs, 'Deployment', 'shardline-runtime');
  const c = dep.spec.template.spec.containers[0];
  const env: Record<string, string> = {};
  for (const e of c.env) {
    if (e.valueFrom?.fieldRef?.fieldPath === 'metadata.namespace') env[e.name] = dep.metadata.namespace!;
    else env[e.name] = String(e.value).replace(/\$\((\w+)\)/g, (_: string, v: string) => env[v]!);
  }
  expect(env.SHARDLINE_NATS_URL).toBe('nats://nats.shardline-system.svc:4222');
  expect(Number(env.SHARDLINE_PORT)).toBe(c.ports[0].containerPort);
  const port = await freePort();
  // Loopback stand-ins: the NATS Service's DNS name, a free port instead of 4567, one NATS server (R1 metadata).
  Object.assign(env, { SHARDLINE_NATS_URL: nats.url, SHARDLINE_PORT: String(port), SHARDLINE_REPLICAS: '1' });
  proc = spawn(process.execPath, [path.join(REPO, 'dist/runtime/cli.js'), ...c.args], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr!.on('data', (d) => { stderr = (stderr + d).slice(-4000); });
  await Promise.race([waitForPort(port), new Promise((_, rej) => proc!.once('exit', (code) => rej(new Error(`runtime exited ${code}: ${stderr}`))))]);
  for (const probe of [c.readinessProbe, c.livenessProbe, c.startupProbe]) {
    const res = await fetch(`http://127.0.0.1:${port}${probe.httpGet.path}`);
    expect(`${probe.httpGet.path} ${res.status}`).toBe(`${probe.httpGet.path} 200`);
  }
  const kinesis = new KinesisClient({ endpoint: `http://127.0.0.1:${port}`, region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'y' } });
  await kinesis.send(new CreateStreamCommand({ StreamName: 'via-shared', ShardCount: 1 }));
  await waitUntilStreamExists({ client: kinesis, maxWaitTime: 20, minDelay: 1 }, { StreamName: 'via-shared' });
  const put = await kinesis.send(new PutRecordCommand({ StreamName: 'via-shared', PartitionKey: 'k', Data: Buffer.from('hello') }));
  const it = await kinesis.send(new GetShardIteratorCommand({ StreamName: 'via-shared', ShardId: put.ShardId!, ShardIteratorType: 'TRIM_HORIZON' }));
  const got = await kinesis.send(new GetRecordsCommand({ ShardIterator: it.ShardIterator! }));
  expect(got.Records?.map((r) => Buffer.from(r.Data!).toString())).toEqual(['hello']);
  kinesis.destroy();
}, 60_000);
