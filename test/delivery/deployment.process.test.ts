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
import type { NatsServers } from '../harness/nats.js';
import { startInProcess, sdkClient } from '../harness/runtime.js';
import type { S3Server } from '../harness/s3.js';
import { jsonServer, startDeliveryProcess, waitFor, startDeliveryStack, type DeliveryProcess, type DeliveryStack } from '../harness/delivery.js';
import type { RunningRuntime } from '../../runtime/server.js';
import { DeliveryStreamSpec, type DeliveryStream } from '../../crds/schema/deliverystream.js';
import { deliveryChildren } from '../../operator/model/workers.js';
import { deliveryDefinitionOf } from '../../operator/model/deliveryDefinition.js';
import { KMS_KEYS_DIR, WORKER_CONFIG_DIR, WORKER_CONFIG_KEY } from '../../contract/mounts.js';
import { ensureDeliveryDefinition, openDeliveryStore, readDeliveryStats } from '../../stream/deliveryStreams.js';

let stack: DeliveryStack;
let nats: NatsServers;
let rt: RunningRuntime & { endpoint: string };
let s3: S3Server;
let kinesis: KinesisClient;
let dir: string;

beforeAll(async () => {
  stack = await startDeliveryStack({ buckets: ['lake'] });
  ({ nats, rt, s3, kinesis } = stack);
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shardline-pod-'));
});
afterAll(async () => {
  await stack?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
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

  const worker = stack.track(startDeliveryProcess(args, { ...env, PATH: process.env.PATH ?? '', HOME: dir }, { cleanEnv: true }));
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
  const w = stack.track(startDeliveryProcess(['delivery', '--config', config], { SHARDLINE_NATS_URL: nats.url }));
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
    w.p = stack.track(startDeliveryProcess((container.args as string[]).map((a) => a.replace(WORKER_CONFIG_DIR, root)), env, { cleanEnv: true }));
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

/** Resolves a container's env as the kubelet would: values as given, secretKeyRefs from `secrets` (the Secret names it used are returned). */
function podEnv(container: any, secrets: Record<string, Record<string, string>>): { env: Record<string, string>; named: string[] } {
  const env: Record<string, string> = {};
  const named = new Set<string>();
  for (const e of container.env as any[]) {
    if (e.value !== undefined) env[e.name] = e.value;
    else {
      const ref = e.valueFrom.secretKeyRef;
      named.add(ref.name);
      const v = secrets[ref.name]?.[ref.key];
      if (v === undefined) throw new Error(`the pod could not start: Secret ${ref.name} has no key ${ref.key}`);
      env[e.name] = v;
    }
  }
  return { env, named: [...named] };
}

/** The operator's definition step, its ConfigMap as a file and its Deployment's command line and env (Secrets as the kubelet resolves them), started for real. */
async function runAsPod(d: DeliveryStream, spec: DeliveryStreamSpec, source: string | undefined, secrets: Record<string, Record<string, string>>) {
  const defn = deliveryDefinitionOf(d, spec, source, 'us-east-1', '000000000000');
  if (!defn.ok) throw new Error(defn.message);
  const def = await ensureDeliveryDefinition(await openDeliveryStore(rt.ctx.store), defn.def);
  expect(def.status).toBe('ACTIVE');
  const kids = deliveryChildren(d, spec, source ? { name: source, streamName: source, endpoint: rt.endpoint } : undefined, { image: 'shardline:test', natsUrl: nats.url, pdbApiVersion: 'policy/v1', sharedEndpoint: rt.endpoint });
  const container = (kids.deployment as any).spec.template.spec.containers[0];
  const root = fs.mkdtempSync(path.join(dir, 'pod-'));
  const configText = (kids.configMap as any).data[WORKER_CONFIG_KEY] as string;
  fs.writeFileSync(path.join(root, WORKER_CONFIG_KEY), configText);
  const { env, named } = podEnv(container, secrets);
  const proc = stack.track(startDeliveryProcess((container.args as string[]).map((a) => a.replace(WORKER_CONFIG_DIR, root)), { ...env, PATH: process.env.PATH ?? '', HOME: root }, { cleanEnv: true }));
  return { proc, def, container, named, configText };
}

test('spec.http: the worker pod gets the access key from its Secret only (not in the ConfigMap or the store) and delivers to the endpoint', async () => {
  const received: { headers: Record<string, string | string[] | undefined>; body: any }[] = [];
  const endpoint = await jsonServer((body, req) => {
    received.push({ headers: req.headers, body });
    return [200, { requestId: body.requestId, timestamp: Date.now() }];
  });
  const spec = DeliveryStreamSpec.parse({
    source: { type: 'DirectPut' }, buffering: { sizeMiB: 1, intervalSeconds: 0 },
    s3: { bucket: 'lake', endpoint: s3.endpoint, prefix: 'http-backup/' },
    http: { url: `${endpoint.url}/ingest`, name: 'collector', accessKeySecretRef: { name: 'collector-key', key: 'token' }, contentEncoding: 'GZIP', commonAttributes: { env: 'prod' }, retrySeconds: 60 },
  });
  const d: DeliveryStream = { apiVersion: 'shardline.dev/v1alpha1', kind: 'DeliveryStream', metadata: { name: 'to-collector', namespace: 'prod', uid: 'u-4', generation: 1 }, spec };
  const SECRET = 'k-' + randomBytes(8).toString('hex');
  const pod = await runAsPod(d, spec, undefined, { 'collector-key': { token: SECRET } });
  try {
    expect(pod.named).toEqual(['collector-key']);
    expect(pod.container.env).toContainEqual({ name: 'SHARDLINE_HTTP_ACCESS_KEY', valueFrom: { secretKeyRef: { name: 'collector-key', key: 'token' } } });
    // The key is in neither the ConfigMap nor the definition every NATS client can read.
    expect(pod.configText).not.toContain(SECRET);
    expect(JSON.stringify(pod.def)).not.toContain(SECRET);
    expect(pod.def.http).toEqual({ Url: `${endpoint.url}/ingest`, Name: 'collector', ContentEncoding: 'GZIP', CommonAttributes: [{ AttributeName: 'env', AttributeValue: 'prod' }], RetryDurationInSeconds: 60, S3BackupMode: 'FailedDataOnly' });
    const recs = Array.from({ length: 20 }, (_, i) => JSON.stringify({ n: i }));
    const res = await fetch(rt.endpoint, {
      method: 'POST', headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'Firehose_20150804.PutRecordBatch' },
      body: JSON.stringify({ DeliveryStreamName: 'to-collector', Records: recs.map((r) => ({ Data: Buffer.from(r).toString('base64') })) }),
    });
    expect(res.status).toBe(200);
    const got = await waitUntil(async () => {
      const all = received.flatMap((r) => r.body.records.map((x: { data: string }) => Buffer.from(x.data, 'base64').toString()));
      return all.length >= recs.length ? all : undefined;
    });
    expect(got.sort()).toEqual([...recs].sort());
    for (const r of received) {
      expect(r.headers['x-amz-firehose-access-key']).toBe(SECRET);
      expect(r.headers['x-amz-firehose-protocol-version']).toBe('1.0');
      expect(r.headers['content-encoding']).toBe('gzip');
      expect(JSON.parse(String(r.headers['x-amz-firehose-common-attributes']))).toEqual({ commonAttributes: { env: 'prod' } });
    }
    // FailedDataOnly and nothing failed: no backup object.
    expect(await s3.list('lake', 'http-backup/')).toEqual([]);
    expect(pod.proc.proc.exitCode).toBeNull();
  } finally {
    await pod.proc.kill();
    await endpoint.close();
  }
}, 90_000);

test('spec.http with a Secret item the pod environment lacks: the worker refuses to start unauthenticated', async () => {
  const spec = DeliveryStreamSpec.parse({
    source: { type: 'DirectPut' }, buffering: { sizeMiB: 1, intervalSeconds: 0 },
    s3: { bucket: 'lake', endpoint: s3.endpoint }, http: { url: 'http://127.0.0.1:9/x', accessKeySecretRef: { name: 'k' } },
  });
  const d: DeliveryStream = { apiVersion: 'shardline.dev/v1alpha1', kind: 'DeliveryStream', metadata: { name: 'no-key', namespace: 'prod', uid: 'u-5', generation: 1 }, spec };
  const kids = deliveryChildren(d, spec, undefined, { image: 'shardline:test', natsUrl: nats.url, pdbApiVersion: 'policy/v1', sharedEndpoint: rt.endpoint });
  const root = fs.mkdtempSync(path.join(dir, 'pod-'));
  fs.writeFileSync(path.join(root, WORKER_CONFIG_KEY), (kids.configMap as any).data[WORKER_CONFIG_KEY]);
  const args = ((kids.deployment as any).spec.template.spec.containers[0].args as string[]).map((a) => a.replace(WORKER_CONFIG_DIR, root));
  const p = stack.track(startDeliveryProcess(args, { SHARDLINE_NATS_URL: nats.url, PATH: process.env.PATH ?? '', HOME: root }, { cleanEnv: true }));
  const exit = await p.exited;
  expect(exit.code).not.toBe(0);
  expect(p.stderr()).toContain('SHARDLINE_HTTP_ACCESS_KEY is not set');
}, 30_000);

test('spec.processing: de-aggregation, transform, dynamic partitioning by jq and by the transform, delimiter, run by the worker command line', async () => {
  await kinesis.send(new CreateStreamCommand({ StreamName: 'clicks', ShardCount: 1 }));
  await new Promise((r) => setTimeout(r, 500));
  // A transform speaking the Lambda contract: upper-cases the page, drops "bot" records, fails "bad" ones, partitions by device.
  const calls: any[] = [];
  const fn = await jsonServer((body) => {
    calls.push(body);
    return [200, {
      records: body.records.map((r: { recordId: string; data: string }) => {
        const o = JSON.parse(Buffer.from(r.data, 'base64').toString());
        if (o.bot) return { recordId: r.recordId, result: 'Dropped', data: r.data };
        if (o.bad) return { recordId: r.recordId, result: 'ProcessingFailed', data: r.data };
        const out = { ...o, page: String(o.page).toUpperCase() };
        return { recordId: r.recordId, result: 'Ok', data: Buffer.from(JSON.stringify(out)).toString('base64'), metadata: { partitionKeys: { device: o.device } } };
      }),
    }];
  });
  try {
    const spec = DeliveryStreamSpec.parse({
      source: { dataStreamRef: { name: 'clicks' }, startingPosition: 'TRIM_HORIZON' },
      buffering: { sizeMiB: 64, intervalSeconds: 0 },
      s3: { bucket: 'lake', endpoint: s3.endpoint, prefix: 'clicks/site=!{partitionKeyFromQuery:site}/device=!{partitionKeyFromLambda:device}/', errorOutputPrefix: 'clicks-err/!{firehose:error-output-type}/' },
      processing: {
        deAggregation: { subRecordType: 'JSON' },
        transform: { functionUrl: `${fn.url}/fn`, timeoutSeconds: 10, numberOfRetries: 0 },
        dynamicPartitioning: { partitionKeys: { site: '.site' } },
        appendDelimiter: true,
      },
    });
    const d: DeliveryStream = { apiVersion: 'shardline.dev/v1alpha1', kind: 'DeliveryStream', metadata: { name: 'clicks-lake', namespace: 'prod', uid: 'u-6', generation: 1 }, spec };
    const pod = await runAsPod(d, spec, 'clicks', {});
    try {
      expect(pod.named).toEqual([]);
      expect(pod.def.s3.DynamicPartitioningConfiguration).toEqual({ Enabled: true, RetryOptions: { DurationInSeconds: 300 } });
      expect(pod.def.s3.ProcessingConfiguration!.Processors!.map((p) => p.Type)).toEqual(['RecordDeAggregation', 'Lambda', 'MetadataExtraction', 'AppendDelimiterToRecord']);
      // Each Kinesis record aggregates three JSON objects (no separator, as Firehose's JSON de-aggregation accepts).
      const objs = [
        { site: 'a', device: 'ios', page: 'home' }, { site: 'b', device: 'web', page: 'cart' }, { site: 'a', device: 'web', page: 'pay' },
        { site: 'a', device: 'ios', page: 'x', bot: true }, { site: 'b', device: 'ios', page: 'y', bad: true }, { site: 'b', device: 'web', page: 'z' },
      ];
      const records = [objs.slice(0, 3), objs.slice(3, 6)].map((g, i) => ({ Data: Buffer.from(g.map((o) => JSON.stringify(o)).join('')), PartitionKey: `p${i}` }));
      expect((await kinesis.send(new PutRecordsCommand({ StreamName: 'clicks', Records: records }))).FailedRecordCount).toBe(0);
      const byKey = await waitUntil(async () => {
        const out: Record<string, string> = {};
        for (const k of await s3.list('lake', 'clicks')) out[k] = (await s3.get('lake', k)).toString();
        const lines = Object.values(out).join('').split('\n').filter(Boolean);
        return lines.length >= 5 ? out : undefined;
      });
      const content = (prefix: string) => Object.entries(byKey).filter(([k]) => k.startsWith(prefix)).map(([, v]) => v).join('');
      const lines = (prefix: string) => content(prefix).split('\n').filter(Boolean).map((l) => JSON.parse(l)).sort((x, y) => x.page.localeCompare(y.page));
      expect(lines('clicks/site=a/device=ios/')).toEqual([{ site: 'a', device: 'ios', page: 'HOME' }]);
      expect(lines('clicks/site=a/device=web/')).toEqual([{ site: 'a', device: 'web', page: 'PAY' }]);
      expect(lines('clicks/site=b/device=web/')).toEqual([{ site: 'b', device: 'web', page: 'CART' }, { site: 'b', device: 'web', page: 'Z' }]);
      expect(Object.keys(byKey).filter((k) => k.startsWith('clicks/site=b/device=ios/'))).toEqual([]);
      // Every delivered record ends in the delimiter.
      for (const [k, v] of Object.entries(byKey)) if (k.startsWith('clicks/')) expect(v.endsWith('}\n')).toBe(true);
      const failed = content('clicks-err/processing-failed/').split('\n').filter(Boolean).map((l) => JSON.parse(l));
      expect(failed).toHaveLength(1);
      expect(JSON.parse(Buffer.from(failed[0].rawData, 'base64').toString())).toEqual({ site: 'b', device: 'ios', page: 'y', bad: true });
      // The transform saw the de-aggregated records, one each.
      expect(calls.flatMap((c) => c.records).length).toBe(6);
      expect(pod.proc.proc.exitCode).toBeNull();
    } finally {
      await pod.proc.kill();
    }
  } finally {
    await fn.close();
  }
}, 90_000);

/** Polls until `f` gives a value (the harness's waitFor). */
const waitUntil = <T>(f: () => Promise<T | undefined>, ms = 30_000) => waitFor('condition', f, ms, 250);

test('spec.processing with spec.http: the chain runs before the endpoint, the backup bucket (JSON_LINES, AllData) gets the source records', async () => {
  const received: any[] = [];
  const endpoint = await jsonServer((body) => {
    received.push(body);
    return [200, { requestId: body.requestId, timestamp: Date.now() }];
  });
  // The transform (Lambda contract): upper-cases `v`, drops `drop`, fails `bad`.
  const fn = await jsonServer((event) => [200, {
    records: event.records.map((r: { recordId: string; data: string }) => {
      const o = JSON.parse(Buffer.from(r.data, 'base64').toString());
      if (o.drop) return { recordId: r.recordId, result: 'Dropped', data: r.data };
      if (o.bad) return { recordId: r.recordId, result: 'ProcessingFailed', data: r.data };
      return { recordId: r.recordId, result: 'Ok', data: Buffer.from(JSON.stringify({ v: String(o.v).toUpperCase() })).toString('base64') };
    }),
  }]);
  try {
    const spec = DeliveryStreamSpec.parse({
      source: { type: 'DirectPut' }, buffering: { sizeMiB: 1, intervalSeconds: 0 },
      s3: { bucket: 'lake', endpoint: s3.endpoint, prefix: 'hp-backup/', errorOutputPrefix: 'hp-err/!{firehose:error-output-type}/', format: 'JSON_LINES' },
      http: { url: `${endpoint.url}/in`, s3BackupMode: 'AllData' },
      processing: { deAggregation: { subRecordType: 'JSON' }, transform: { functionUrl: `${fn.url}/fn`, numberOfRetries: 0 }, appendDelimiter: true },
    });
    const d: DeliveryStream = { apiVersion: 'shardline.dev/v1alpha1', kind: 'DeliveryStream', metadata: { name: 'hp', namespace: 'prod', uid: 'u-7', generation: 1 }, spec };
    const pod = await runAsPod(d, spec, undefined, {});
    try {
      expect(pod.def.http!.ProcessingConfiguration!.Processors!.map((p) => p.Type)).toEqual(['RecordDeAggregation', 'Lambda', 'AppendDelimiterToRecord']);
      // The backup bucket's own chain is its format's delimiter only.
      expect(pod.def.s3.ProcessingConfiguration).toEqual({ Enabled: true, Processors: [{ Type: 'AppendDelimiterToRecord' }] });
      const source = ['{"v":"a"}{"v":"b","drop":true}', '{"v":"c","bad":true}{"v":"d"}'];
      const res = await fetch(rt.endpoint, {
        method: 'POST', headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'Firehose_20150804.PutRecordBatch' },
        body: JSON.stringify({ DeliveryStreamName: 'hp', Records: source.map((r) => ({ Data: Buffer.from(r).toString('base64') })) }),
      });
      expect(res.status).toBe(200);
      const got = await waitUntil(async () => {
        const all = received.flatMap((b) => b.records.map((x: { data: string }) => Buffer.from(x.data, 'base64').toString()));
        return all.length >= 2 ? all : undefined;
      });
      expect(got).toEqual(['{"v":"A"}\n', '{"v":"D"}\n']);
      const backup = await waitUntil(async () => {
        const keys = await s3.list('lake', 'hp-backup/');
        return keys.length ? (await Promise.all(keys.map(async (k) => (await s3.get('lake', k)).toString()))).join('') : undefined;
      });
      expect(backup).toBe(source.map((r) => r + '\n').join(''));
      const failed = await waitUntil(async () => {
        const keys = await s3.list('lake', 'hp-err/processing-failed/');
        return keys.length ? (await s3.get('lake', keys[0]!)).toString() : undefined;
      });
      expect(failed.split('\n').filter(Boolean).map((l) => JSON.parse(Buffer.from(JSON.parse(l).rawData, 'base64').toString()))).toEqual([{ v: 'c', bad: true }]);
    } finally {
      await pod.proc.kill();
    }
  } finally {
    await fn.close();
    await endpoint.close();
  }
}, 90_000);

test('spec.processing.transform.timeoutSeconds reaches the worker: a transform slower than it fails after the retries (Lambda.FunctionTimedOut)', async () => {
  // Never answers: only the worker's timeout ends a call. With the default 60 s the two attempts would take 2 minutes.
  let calls = 0;
  const fn = await jsonServer(() => {
    calls++;
    return undefined;
  });
  try {
    const spec = DeliveryStreamSpec.parse({
      source: { type: 'DirectPut' }, buffering: { sizeMiB: 1, intervalSeconds: 0 },
      s3: { bucket: 'lake', endpoint: s3.endpoint, prefix: 'slow/', errorOutputPrefix: 'slow-err/!{firehose:error-output-type}/' },
      processing: { transform: { functionUrl: `${fn.url}/fn`, timeoutSeconds: 1, numberOfRetries: 1 } },
    });
    const d: DeliveryStream = { apiVersion: 'shardline.dev/v1alpha1', kind: 'DeliveryStream', metadata: { name: 'slow-fn', namespace: 'prod', uid: 'u-8', generation: 1 }, spec };
    const pod = await runAsPod(d, spec, undefined, {});
    try {
      expect(JSON.parse(pod.configText).processing.transform.timeoutSeconds).toBe(1);
      const started = Date.now();
      const res = await fetch(rt.endpoint, {
        method: 'POST', headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'Firehose_20150804.PutRecordBatch' },
        body: JSON.stringify({ DeliveryStreamName: 'slow-fn', Records: [{ Data: Buffer.from('{"n":1}').toString('base64') }] }),
      });
      expect(res.status).toBe(200);
      const keys = await waitUntil(async () => {
        const k = await s3.list('lake', 'slow-err/processing-failed/');
        return k.length ? k : undefined;
      }, 40_000);
      const elapsed = Date.now() - started;
      const lines = (await s3.get('lake', keys[0]!)).toString().split('\n').filter(Boolean).map((l) => JSON.parse(l));
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatchObject({ errorCode: 'Lambda.FunctionTimedOut', attemptsMade: 2, lambdaArn: `${fn.url}/fn` });
      expect(Buffer.from(lines[0].rawData, 'base64').toString()).toBe('{"n":1}');
      expect(calls).toBe(2);
      // Two 1 s attempts, not two of the 60 s default.
      expect(elapsed).toBeLessThan(30_000);
      expect(await s3.list('lake', 'slow/')).toEqual([]);
    } finally {
      await pod.proc.kill();
    }
  } finally {
    await fn.close();
  }
}, 90_000);
