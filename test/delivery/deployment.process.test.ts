// The worker Deployment's own command line, run for real: the operator's
// model (deliveryChildren) gives the args, env and config file; the operator's
// definition step (deliveryDefinitionOf + ensureDeliveryDefinition, what the
// reconcile calls) writes the definition; the process then delivers a
// DataStream into s3rver with nothing but the environment the pod would get.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { CreateStreamCommand, PutRecordsCommand, StartStreamEncryptionCommand, type KinesisClient } from '@aws-sdk/client-kinesis';
import { randomBytes } from 'node:crypto';
import { encryptionKeyId } from '../../operator/model/datastream.js';
import { startNats, type NatsServers } from '../harness/nats.js';
import { startInProcess, sdkClient } from '../harness/runtime.js';
import { startS3, type S3Server } from '../harness/s3.js';
import { startDeliveryProcess, type DeliveryProcess } from '../harness/delivery.js';
import type { RunningRuntime } from '../../runtime/server.js';
import { DeliveryStreamSpec, type DeliveryStream } from '../../crds/schema/deliverystream.js';
import { deliveryChildren } from '../../operator/model/workers.js';
import { deliveryDefinitionOf } from '../../operator/model/deliveryDefinition.js';
import { KMS_KEYS_DIR, WORKER_CONFIG_DIR, WORKER_CONFIG_KEY } from '../../contract/mounts.js';
import { ensureDeliveryDefinition, openDeliveryStore, readDeliveryStats } from '../../stream/deliveryStreams.js';

let nats: NatsServers;
let rt: RunningRuntime & { endpoint: string };
let s3: S3Server;
let kinesis: KinesisClient;
let worker: DeliveryProcess | undefined;
let dir: string;

beforeAll(async () => {
  nats = await startNats();
  rt = await startInProcess(nats.url);
  s3 = await startS3();
  await s3.createBucket('lake');
  kinesis = sdkClient(rt.endpoint, { http1: true });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shardline-pod-'));
});
afterAll(async () => {
  await worker?.kill();
  kinesis?.destroy();
  await rt?.close();
  await s3?.stop();
  await nats?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('the delivery Deployment command line delivers a DataStream to S3 with only the pod environment and the Secrets it names', async () => {
  await kinesis.send(new CreateStreamCommand({ StreamName: 'events', ShardCount: 2 }));
  await new Promise((r) => setTimeout(r, 500));
  const spec = DeliveryStreamSpec.parse({
    source: { dataStreamRef: { name: 'events' }, startingPosition: 'TRIM_HORIZON' },
    buffering: { sizeMiB: 1, intervalSeconds: 0 },
    s3: { bucket: 'lake', endpoint: s3.endpoint, compression: 'GZIP', format: 'JSON_LINES', prefix: 'events/', credentialsSecretRef: 's3-creds' },
  });
  const d: DeliveryStream = { apiVersion: 'shardline.dev/v1alpha1', kind: 'DeliveryStream', metadata: { name: 'to-lake', namespace: 'prod', uid: 'u-1', generation: 1 }, spec };

  const defn = deliveryDefinitionOf(d, spec, 'events', 'us-east-1', '000000000000');
  if (!defn.ok) throw new Error(defn.message);
  const def = await ensureDeliveryDefinition(await openDeliveryStore(rt.ctx.store), defn.def);
  expect(def.status).toBe('ACTIVE');

  const kids = deliveryChildren(d, spec, { name: 'events', streamName: 'events', endpoint: rt.endpoint }, { image: 'shardline:test', natsUrl: nats.url, pdbApiVersion: 'policy/v1', sharedEndpoint: rt.endpoint });
  const pod = (kids.deployment as any).spec.template.spec;
  const container = pod.containers[0];
  // The ConfigMap is mounted at WORKER_CONFIG_DIR; here it is a directory of ours.
  const mount = container.volumeMounts.find((m: any) => m.name === 'config');
  expect(mount.mountPath).toBe(WORKER_CONFIG_DIR);
  fs.writeFileSync(path.join(dir, WORKER_CONFIG_KEY), (kids.configMap as any).data[WORKER_CONFIG_KEY]);
  const args = (container.args as string[]).map((a) => a.replace(WORKER_CONFIG_DIR, dir));
  expect(container.args[0]).toBe('delivery');

  // Exactly the Secrets the worker needs (S3 credentials), resolved as the kubelet would.
  const secrets: Record<string, Record<string, string>> = { 's3-creds': { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' } };
  const env: Record<string, string> = {};
  const named = new Set<string>();
  for (const e of container.env as any[]) {
    if (e.value !== undefined) env[e.name] = e.value;
    else {
      const ref = e.valueFrom.secretKeyRef;
      named.add(ref.name);
      env[e.name] = secrets[ref.name]![ref.key]!;
    }
  }
  expect([...named]).toEqual(['s3-creds']);
  expect(env.SHARDLINE_NATS_URL).toBe(nats.url);

  worker = startDeliveryProcess(args, { ...env, PATH: process.env.PATH ?? '', HOME: dir }, { cleanEnv: true });
  const recs = Array.from({ length: 400 }, (_, i) => JSON.stringify({ id: i }));
  const out = await kinesis.send(new PutRecordsCommand({ StreamName: 'events', Records: recs.map((r, i) => ({ Data: Buffer.from(r), PartitionKey: `k${i}` })) }));
  expect(out.FailedRecordCount).toBe(0);
  const until = Date.now() + 30_000;
  let got: string[] = [];
  while (Date.now() < until) {
    got = [];
    for (const k of await s3.list('lake', 'events/')) got.push(...zlib.gunzipSync(await s3.get('lake', k)).toString().split('\n').filter(Boolean));
    if (got.length >= recs.length) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  expect(got.sort()).toEqual([...recs].sort());
  for (const k of await s3.list('lake', 'events/')) expect(k).toMatch(/^events\/\d{4}\/\d{2}\/\d{2}\/\d{2}\/to-lake-1-[\d-]{19}-[0-9a-f-]{36}\.gz$/);
  expect(worker.proc.exitCode).toBeNull();

  // What the operator puts in status.delivery: the workers' reports in the state bucket.
  const ds = await openDeliveryStore(rt.ctx.store);
  const stats = await waitUntil(async () => {
    const st = await readDeliveryStats(ds, 'to-lake');
    return st && st.deliveredRecords >= recs.length ? st : undefined;
  });
  expect(stats).toMatchObject({ deliveredRecords: recs.length, dataFreshnessSeconds: 0, liveWorkers: 1 });
  expect(stats.destinationError).toBeUndefined();
  expect(Date.now() - stats.lastDeliveryMs!).toBeLessThan(60_000);
}, 90_000);

test('an unreachable destination (missing bucket) shows as destinationError and a failure count; nothing is lost once it exists', async () => {
  const ds = await openDeliveryStore(rt.ctx.store);
  const spec = DeliveryStreamSpec.parse({
    source: { type: 'DirectPut' }, buffering: { sizeMiB: 1, intervalSeconds: 0 },
    s3: { bucket: 'not-yet', endpoint: s3.endpoint, format: 'JSON_LINES' },
  });
  const d: DeliveryStream = { apiVersion: 'shardline.dev/v1alpha1', kind: 'DeliveryStream', metadata: { name: 'late-bucket', namespace: 'prod', uid: 'u-2', generation: 1 }, spec };
  const defn = deliveryDefinitionOf(d, spec, undefined, 'us-east-1', '000000000000');
  if (!defn.ok) throw new Error(defn.message);
  expect((await ensureDeliveryDefinition(ds, defn.def)).status).toBe('ACTIVE');
  const config = path.join(dir, 'late.json');
  fs.writeFileSync(config, JSON.stringify({ deliveryStreamName: 'late-bucket', s3: { endpoint: s3.endpoint } }));
  const w = startDeliveryProcess(['delivery', '--config', config], { SHARDLINE_NATS_URL: nats.url });
  try {
    const res = await fetch(rt.endpoint, {
      method: 'POST', headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'Firehose_20150804.PutRecordBatch' },
      body: JSON.stringify({ DeliveryStreamName: 'late-bucket', Records: [{ Data: Buffer.from('{"a":1}').toString('base64') }, { Data: Buffer.from('{"a":2}').toString('base64') }] }),
    });
    expect(res.status).toBe(200);
    const failing = await waitUntil(async () => {
      const st = await readDeliveryStats(ds, 'late-bucket');
      return st?.destinationError ? st : undefined;
    });
    expect(failing.destinationError).toMatch(/NoSuchBucket/);
    expect(failing.failures.NoSuchBucket).toBeGreaterThan(0);
    expect(failing.dataFreshnessSeconds).toBeGreaterThanOrEqual(0);
    await s3.createBucket('not-yet');
    const ok = await waitUntil(async () => {
      const st = await readDeliveryStats(ds, 'late-bucket');
      return st && st.deliveredRecords === 2 && !st.destinationError ? st : undefined;
    }, 60_000);
    expect(ok.dataFreshnessSeconds).toBe(0);
    const keys = await s3.list('not-yet');
    expect(keys).toHaveLength(1);
    expect((await s3.get('not-yet', keys[0]!)).toString()).toBe('{"a":1}\n{"a":2}\n');
  } finally {
    await w.kill('SIGTERM');
  }
}, 90_000);

test('an encrypted source DataStream: the worker pod gets exactly that stream key, mounted as its key ring, and delivers plaintext', async () => {
  const ref = { name: 'orders-key', key: 'k1' };
  const keyId = encryptionKeyId(ref);
  const key = randomBytes(32).toString('base64');
  const sealed = await startInProcess(nats.url, { kmsKeys: `${keyId}:${key}` });
  const client = sdkClient(sealed.endpoint, { http1: true });
  const w: { p?: DeliveryProcess } = {};
  try {
    await client.send(new CreateStreamCommand({ StreamName: 'orders', ShardCount: 1 }));
    await new Promise((r) => setTimeout(r, 500));
    await client.send(new StartStreamEncryptionCommand({ StreamName: 'orders', EncryptionType: 'KMS', KeyId: keyId }));
    await new Promise((r) => setTimeout(r, 300));
    const spec = DeliveryStreamSpec.parse({
      source: { dataStreamRef: { name: 'orders' }, startingPosition: 'TRIM_HORIZON' }, buffering: { sizeMiB: 1, intervalSeconds: 0 },
      s3: { bucket: 'lake', endpoint: s3.endpoint, format: 'JSON_LINES', prefix: 'orders/' },
    });
    const d: DeliveryStream = { apiVersion: 'shardline.dev/v1alpha1', kind: 'DeliveryStream', metadata: { name: 'orders-to-lake', namespace: 'prod', uid: 'u-3', generation: 1 }, spec };
    const defn = deliveryDefinitionOf(d, spec, 'orders', 'us-east-1', '000000000000');
    if (!defn.ok) throw new Error(defn.message);
    await ensureDeliveryDefinition(await openDeliveryStore(rt.ctx.store), defn.def);
    const kids = deliveryChildren(d, spec, { name: 'orders', streamName: 'orders', endpoint: sealed.endpoint }, { image: 'shardline:test', natsUrl: nats.url, pdbApiVersion: 'policy/v1', sharedEndpoint: rt.endpoint }, [ref]);
    const pod = (kids.deployment as any).spec.template.spec;
    const container = pod.containers[0];
    // The one Secret volume: the stream key, one item named by the key id, at KMS_KEYS_DIR.
    const secretVolumes = pod.volumes.filter((v: any) => v.secret || v.projected);
    expect(secretVolumes).toEqual([{ name: 'kms-keys', projected: { sources: [{ secret: { name: 'orders-key', items: [{ key: 'k1', path: keyId }] } }] } }]);
    expect(container.volumeMounts).toContainEqual({ name: 'kms-keys', mountPath: KMS_KEYS_DIR, readOnly: true });
    // The kubelet's part: the Secret's item as a file, the ConfigMap as a file.
    const root = fs.mkdtempSync(path.join(dir, 'pod-'));
    fs.mkdirSync(path.join(root, 'kms-keys'));
    fs.writeFileSync(path.join(root, 'kms-keys', keyId), key);
    fs.writeFileSync(path.join(root, WORKER_CONFIG_KEY), (kids.configMap as any).data[WORKER_CONFIG_KEY]);
    const env: Record<string, string> = { PATH: process.env.PATH ?? '', HOME: root };
    for (const e of container.env as any[]) env[e.name] = String(e.value).replace(KMS_KEYS_DIR, path.join(root, 'kms-keys'));
    w.p = startDeliveryProcess((container.args as string[]).map((a) => a.replace(WORKER_CONFIG_DIR, root)), env, { cleanEnv: true });
    const recs = Array.from({ length: 50 }, (_, i) => JSON.stringify({ order: i }));
    await client.send(new PutRecordsCommand({ StreamName: 'orders', Records: recs.map((r, i) => ({ Data: Buffer.from(r), PartitionKey: `o${i}` })) }));
    const got = await waitUntil(async () => {
      const lines: string[] = [];
      for (const k of await s3.list('lake', 'orders/')) lines.push(...(await s3.get('lake', k)).toString().split('\n').filter(Boolean));
      return lines.length >= recs.length ? lines : undefined;
    });
    expect(got.sort()).toEqual([...recs].sort());
  } finally {
    await w.p?.kill();
    client.destroy();
    await sealed.close();
  }
}, 90_000);

async function waitUntil<T>(f: () => Promise<T | undefined>, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 250));
  }
}
