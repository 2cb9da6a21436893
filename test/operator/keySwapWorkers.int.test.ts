// A DataStream's key Secret swapped while a DeliveryStream reads it: the
// operator on a real apiserver + controller-manager rolls the runtime and the
// delivery worker Deployments, and for every pod this tiny kubelet runs the
// real process: a runtime holding exactly its pod's key files, or
// `shardline delivery` started with its container's command line, resolved
// environment, ConfigMap and key files. Records sealed under the old key and
// under the new one must all reach s3rver, delivered by the workers of every
// generation, and a delivery stream created after the swap (its pods hold
// only the new key) must deliver the old-key records still in retention. An
// analytics worker reading a swapped stream gets the same key set and loses no row.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { GetRecordsCommand, GetShardIteratorCommand, ListShardsCommand, PutRecordCommand, type KinesisClient } from '@aws-sdk/client-kinesis';
import { startControlPlane, CRD_FILES, until, type ControlPlane } from '../harness/kube.js';
import { startNats, type NatsServers } from '../harness/nats.js';
import { sdkClient, startInProcess } from '../harness/runtime.js';
import { startS3, type S3Server } from '../harness/s3.js';
import { startDeliveryProcess, type DeliveryProcess } from '../harness/delivery.js';
import { markPodReady, podEnv, podKeyFiles } from '../harness/pods.js';
import { startOperator, type OperatorHandle } from '../../operator/manager.js';
import { connectStreamStore, type StreamStore } from '../../operator/store/streamStore.js';
import { AnalyticsApps, ConfigMaps, DataStreams, DeliveryStreams, Deployments, Pods, Secrets } from '../../operator/kube/resources.js';
import { KMS_KEYS_DIR, WORKER_CONFIG_DIR } from '../../contract/mounts.js';
import { ENV } from '../../contract/env.js';
import type { RunningRuntime } from '../../runtime/server.js';

let cp: ControlPlane;
let nats: NatsServers;
let s3: S3Server;
let op: OperatorHandle;
let store: StreamStore;
let tmp: string;
type Pod =
  | { kind: 'runtime'; owner: string; rt: RunningRuntime & { endpoint: string }; c: KinesisClient; keys: string[] }
  | { kind: 'delivery' | 'analytics'; owner: string; proc: DeliveryProcess; keys: string[]; secrets: string[] };
const pods = new Map<string, Pod>();

beforeAll(async () => {
  [cp, nats, s3] = await Promise.all([startControlPlane({ crdFiles: CRD_FILES, operatorRbac: true }), startNats(), startS3()]);
  store = await connectStreamStore(nats.url);
  op = await startOperator({ kubeConfig: cp.operatorKc!, natsUrl: nats.url, image: 'shardline:test', sharedEndpoint: 'http://shardline.shardline-system.svc:4567', resyncMs: 1000, recheckMs: 500, store, log: () => {} });
  await op.synced;
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shardline-keyswap-workers-'));
}, 120_000);

afterAll(async () => {
  for (const p of pods.values()) await stopPod(p);
  await op?.stop();
  await store?.close();
  await Promise.all([cp?.stop(), nats?.stop(), s3?.stop()]);
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

// Each test's pods end with it.
afterEach(async () => {
  for (const p of pods.values()) await stopPod(p);
  pods.clear();
  ready.clear();
  hold = () => false;
});

async function stopPod(p: Pod): Promise<void> {
  if (p.kind === 'runtime') { p.c.destroy(); await p.rt.close(); } else await p.proc.kill('SIGTERM');
}

/** Starts a pod's process as the kubelet would run its container. */
async function startPod(ns: string, pod: any): Promise<Pod | undefined> {
  const labels = pod.metadata.labels ?? {};
  const component = labels['app.kubernetes.io/component'];
  const instance = labels['app.kubernetes.io/instance'];
  if (component === 'runtime' && instance === 'other') return undefined; // that stream's runtime is not run here
  const dir = path.join(tmp, pod.metadata.name);
  const keyDir = path.join(dir, 'kms-keys');
  fs.mkdirSync(keyDir, { recursive: true });
  const files = await podKeyFiles(cp.client, ns, pod);
  for (const [f, v] of Object.entries(files)) fs.writeFileSync(path.join(keyDir, f), v);
  const keys = Object.keys(files).sort();
  if (component === 'runtime') {
    const rt = await startInProcess(nats.url, { kmsKeysFile: keyDir });
    return { kind: 'runtime', owner: instance, rt, c: sdkClient(rt.endpoint, { http1: true }), keys };
  }
  if (component !== 'delivery' && component !== 'analytics') return undefined;
  // The container: its args and env, with the mounted paths (ConfigMap, key ring) in this pod's directory.
  const container = pod.spec.containers[0];
  const configVol = pod.spec.volumes.find((v: any) => v.name === 'config');
  const cm = await cp.client.get<any>(ConfigMaps, ns, configVol.configMap.name);
  for (const [f, v] of Object.entries(cm.data as Record<string, string>)) fs.writeFileSync(path.join(dir, f), v);
  const env = await podEnv(cp.client, ns, container);
  if (env[ENV.kmsKeysFile] !== undefined) {
    expect(env[ENV.kmsKeysFile]).toBe(KMS_KEYS_DIR);
    env[ENV.kmsKeysFile] = keyDir;
  }
  const args = (container.args as string[]).map((a) => a.replace(WORKER_CONFIG_DIR, dir));
  // `shardline delivery|analytics`: the harness's process starter runs any subcommand of the CLI.
  const proc = startDeliveryProcess(args, { ...env, PATH: process.env.PATH ?? '', HOME: dir }, { cleanEnv: true });
  const vol = pod.spec.volumes.find((v: any) => v.name.startsWith('kms-keys'));
  const secrets = (vol?.projected?.sources ?? []).map((s: any) => s.secret.name).sort();
  return { kind: component, owner: instance, proc, keys, secrets };
}

/** Pods whose process runs but which are not reported Ready while `hold` says so (a slow pod holding up a roll). */
let hold: (p: Pod) => boolean = () => false;
const ready = new Set<string>();

/** One kubelet pass: processes for new pods (then Ready), gone pods' processes stopped. */
async function kubelet(ns: string): Promise<void> {
  const list = await cp.client.list<any>(Pods, ns);
  const live = new Set<string>();
  for (const pod of list.items) {
    if (pod.metadata.deletionTimestamp) continue;
    live.add(pod.metadata.name);
    let p = pods.get(pod.metadata.name);
    if (!p) {
      p = await startPod(ns, pod);
      if (!p) continue;
      pods.set(pod.metadata.name, p);
    }
    if (ready.has(pod.metadata.name) || hold(p)) continue;
    await markPodReady(cp.client, ns, pod.metadata.name);
    ready.add(pod.metadata.name);
  }
  for (const [name, p] of pods) {
    if (live.has(name)) continue;
    pods.delete(name);
    ready.delete(name);
    await stopPod(p);
  }
}

/** Every JSON line delivered under `prefix`. */
async function delivered(prefix: string): Promise<string[]> {
  const out: string[] = [];
  for (const k of await s3.list('lake', prefix)) out.push(...(await s3.get('lake', k)).toString().split('\n').filter(Boolean));
  return out.sort();
}

const deliveryStream = (ns: string, name: string, prefix: string) => ({
  apiVersion: 'shardline.dev/v1alpha1', kind: 'DeliveryStream', metadata: { name, namespace: ns },
  spec: {
    source: { type: 'DataStream', dataStreamRef: { name: 'roll' }, startingPosition: 'TRIM_HORIZON' },
    buffering: { sizeMiB: 1, intervalSeconds: 0 },
    s3: { bucket: 'lake', endpoint: s3.endpoint, format: 'JSON_LINES', prefix, credentialsSecretRef: 's3-creds' },
  },
});

const deliveryKeyIds = async (ns: string, name: string) => {
  const vol = (await cp.client.get<any>(Deployments, ns, name))?.spec.template.spec.volumes?.find((v: any) => v.name === 'kms-keys');
  return (vol?.projected?.sources ?? []).flatMap((s: any) => s.secret.items.map((i: any) => i.path)).sort();
};

test('delivery workers hold the stream key set through a key swap and deliver every record, sealed under either key, to S3', async () => {
  const ns = await cp.namespace('keyswap-workers');
  const key = () => randomBytes(32).toString('base64');
  for (const name of ['key-a', 'key-b', 'key-c']) {
    await cp.client.create(Secrets, { apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: ns }, stringData: { key: key() } });
  }
  await cp.client.create(Secrets, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 's3-creds', namespace: ns }, stringData: { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' } });
  await s3.createBucket('lake');
  await cp.client.create(DataStreams, {
    apiVersion: 'shardline.dev/v1alpha1', kind: 'DataStream', metadata: { name: 'roll', namespace: ns },
    spec: { shards: 1, replicas: 1, retentionHours: 24, runtime: { dedicated: true, replicas: 1 }, encryption: { keySecretRef: { name: 'key-a', key: 'key' } } },
  });
  // Another encrypted stream in the namespace: its key must never reach the workers of `roll`.
  await cp.client.create(DataStreams, {
    apiVersion: 'shardline.dev/v1alpha1', kind: 'DataStream', metadata: { name: 'other', namespace: ns },
    spec: { shards: 1, replicas: 1, encryption: { keySecretRef: { name: 'key-c', key: 'key' } } },
  });
  await cp.client.create(DeliveryStreams, deliveryStream(ns, 'to-lake', 'swap/'));

  const acked: string[] = [];
  const failures: string[] = [];
  /** Under which key each acknowledged record was written (the key the record named just before). */
  const sealedUnder = new Map<string, number>();
  /** The key files of the delivery pods running, with the key the record named, as seen along the way. */
  const seen = new Set<string>();
  const everDelivery: { keys: string[]; secrets: string[] }[] = [];
  const started = new Set<Pod>();
  let n = 0;
  const step = async () => {
    // The record first, then the pods: a pod listed after the record switched was there after the switch.
    const rec = await store.get('roll');
    await kubelet(ns);
    for (const p of pods.values()) {
      if (p.kind !== 'delivery') continue;
      if (!started.has(p)) { started.add(p); everDelivery.push({ keys: p.keys, secrets: p.secrets }); }
      if (p.owner === 'to-lake') seen.add(`${p.keys.join('+')}@${rec?.encryption.keyId}`);
    }
    for (const [name, p] of pods) {
      if (p.kind !== 'runtime') continue;
      const data = JSON.stringify({ n: n++ });
      try {
        await p.c.send(new PutRecordCommand({ StreamName: 'roll', PartitionKey: data, Data: Buffer.from(data) }));
        acked.push(data);
        const k = rec?.encryption.keyId ?? 'none';
        sealedUnder.set(k, (sealedUnder.get(k) ?? 0) + 1);
      } catch (e) {
        failures.push(`${name} [${p.keys.join(',')}] record names ${rec?.encryption.keyId}: ${(e as Error).name}: ${(e as Error).message}`);
      }
    }
  };
  let running = true;
  const loop = (async () => {
    while (running) {
      await step().catch((e) => { if (!/not found|404/i.test(String(e))) console.warn('kubelet pass', e); });
      await new Promise((r) => setTimeout(r, 150));
    }
  })();
  const deliveryPods = (owner: string) => [...pods.values()].filter((p) => p.kind === 'delivery' && p.owner === owner);
  try {
    await until('encrypted with key-a, runtime and worker running', async () =>
      (await store.get('roll'))?.encryption.keyId === 'key-a_key' && [...pods.values()].some((p) => p.kind === 'runtime') && deliveryPods('to-lake').length === 1, 60_000);
    await until('old-key records delivered', async () => (await delivered('swap/')).length >= 5, 60_000);

    // The next worker generation's pod starts but is held unready: its Deployment has not rolled out,
    // so the record must keep naming the old key, and the DataStream says what it waits for.
    hold = (p) => p.kind === 'delivery' && p.keys.includes('key-b_key');
    await cp.client.patch(DataStreams, ns, 'roll', { spec: { encryption: { keySecretRef: { name: 'key-b', key: 'key' } } } });
    const waiting = await until('DataStream waits for the worker roll', async () => {
      const c = (await cp.client.get<any>(DataStreams, ns, 'roll')).status?.conditions?.find((x: any) => x.type === 'Ready');
      return c?.reason === 'KeySwapWaitingForWorkers' && deliveryPods('to-lake').some((p) => p.keys.includes('key-b_key')) ? c : undefined;
    }, 60_000);
    expect(waiting.message).toBe('Encryption with key key-b_key waits for the worker Deployments to-lake-delivery to roll out with it.');
    // The old-key worker stops: the new generation's worker alone must deliver the old-key records written meanwhile.
    const oldWorker = deliveryPods('to-lake').find((p) => !p.keys.includes('key-b_key'));
    if (oldWorker?.kind === 'delivery') await oldWorker.proc.kill('SIGTERM');
    const heldAcked = acked.length;
    await until('writes while held', async () => acked.length >= heldAcked + 10, 30_000);
    const writtenWhileHeld = [...acked];
    await until('the new worker generation delivered them', async () => {
      const got = new Set(await delivered('swap/'));
      return writtenWhileHeld.every((r) => got.has(r));
    }, 60_000);
    expect((await store.get('roll'))?.encryption.keyId).toBe('key-a_key');
    hold = () => false;
    await until('record names key-b', async () => (await store.get('roll'))?.encryption.keyId === 'key-b_key', 90_000).catch(async (e) => {
      const d = await cp.client.get<any>(Deployments, ns, 'to-lake-delivery');
      console.log('delivery Deployment when the record did not switch', JSON.stringify({ gen: d?.metadata.generation, status: d?.status, vols: d?.spec.template.spec.volumes, ds: (await cp.client.get<any>(DataStreams, ns, 'roll')).status }, null, 1));
      throw e;
    });
    // The previous key leaves the worker pods once the record no longer needs it.
    await until('worker template with the new key only', async () => JSON.stringify(await deliveryKeyIds(ns, 'to-lake-delivery')) === '["key-b_key"]', 60_000);
    await until('only new-key worker pods', async () => deliveryPods('to-lake').length === 1 && deliveryPods('to-lake').every((p) => p.keys.join() === 'key-b_key'), 60_000);
    // Let the new-key generation deliver some records of its own.
    const before = acked.length;
    await until('records written after the swap', async () => acked.length >= before + 5, 30_000);

    // A delivery stream created now: its pods get the new key only and read the whole retention.
    await cp.client.create(DeliveryStreams, deliveryStream(ns, 'late', 'late/'));
    await until('late worker running', async () => deliveryPods('late').length === 1, 60_000);
    expect(deliveryPods('late')[0]!.keys).toEqual(['key-b_key']);
  } finally {
    running = false;
    await loop;
  }
  expect(failures).toEqual([]);
  expect(sealedUnder.get('key-a_key')).toBeGreaterThan(5);
  expect(sealedUnder.get('key-b_key')).toBeGreaterThan(5);
  const want = [...acked].sort();
  await until('every record delivered by to-lake', async () => (await delivered('swap/')).length >= want.length, 60_000).catch(() => undefined);
  await until('every record delivered by late', async () => (await delivered('late/')).length >= want.length, 60_000).catch(() => undefined);
  expect(await delivered('swap/')).toEqual(want);
  expect(await delivered('late/')).toEqual(want);

  // The worker rolled through a generation holding both keys while the record named the old one; it never
  // ran with the new key alone before the switch, nor with the old key alone after it (the gate).
  expect([...seen]).toEqual(expect.arrayContaining(['key-a_key@key-a_key', 'key-a_key+key-b_key@key-a_key', 'key-b_key@key-b_key']));
  expect([...seen]).not.toContain('key-b_key@key-a_key');
  expect([...seen]).not.toContain('key-a_key@key-b_key');
  // Worker pods got the keys of the stream they read, and nothing else.
  for (const p of everDelivery) {
    expect(p.keys.every((k) => k === 'key-a_key' || k === 'key-b_key')).toBe(true);
    expect(p.secrets.every((s) => s === 'key-a' || s === 'key-b')).toBe(true);
  }
}, 300_000);

/** Every record of `stream` read through runtime pod `c` (from TRIM_HORIZON). */
async function readStream(c: KinesisClient, stream: string): Promise<string[]> {
  const out: string[] = [];
  for (const sh of (await c.send(new ListShardsCommand({ StreamName: stream }))).Shards!) {
    let it = (await c.send(new GetShardIteratorCommand({ StreamName: stream, ShardId: sh.ShardId, ShardIteratorType: 'TRIM_HORIZON' }))).ShardIterator;
    for (;;) {
      const r = await c.send(new GetRecordsCommand({ ShardIterator: it }));
      for (const x of r.Records!) out.push(Buffer.from(x.Data!).toString());
      if (r.Records!.length === 0 || !r.NextShardIterator) break;
      it = r.NextShardIterator;
    }
  }
  return out;
}

test('an analytics worker reading a stream whose key is swapped holds the stream\'s key set and loses no row', async () => {
  const ns = await cp.namespace('keyswap-analytics');
  const key = () => randomBytes(32).toString('base64');
  for (const name of ['key-a', 'key-b']) {
    await cp.client.create(Secrets, { apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: ns }, stringData: { key: key() } });
  }
  // The output is not encrypted (the analytics worker does not seal outputs yet); `in`'s runtime pod reads it.
  // No read quota: the test polls the output stream.
  const stream = (name: string, encryption?: unknown) => ({
    apiVersion: 'shardline.dev/v1alpha1', kind: 'DataStream', metadata: { name, namespace: ns },
    spec: { shards: 1, replicas: 1, enforceQuotas: false, runtime: { dedicated: true, replicas: 1 }, ...(encryption ? { encryption } : {}) },
  });
  await cp.client.create(DataStreams, stream('in', { keySecretRef: { name: 'key-a', key: 'key' } }));
  await cp.client.create(DataStreams, stream('out'));
  await cp.client.create(AnalyticsApps, {
    apiVersion: 'shardline.dev/v1alpha1', kind: 'AnalyticsApp', metadata: { name: 'copy', namespace: ns },
    spec: {
      inputs: [{ name: 'SOURCE_SQL_STREAM_001', dataStreamRef: { name: 'in' }, startingPosition: 'TRIM_HORIZON', columns: [{ name: 'N', sqlType: 'INTEGER', mapping: '$.n' }] }],
      sql: 'CREATE OR REPLACE STREAM "DEST" (N INTEGER);\nCREATE OR REPLACE PUMP "P" AS INSERT INTO "DEST" SELECT STREAM N FROM "SOURCE_SQL_STREAM_001";',
      outputs: [{ name: 'DEST', dataStreamRef: { name: 'out' }, format: 'JSON' }],
    },
  });

  const acked: number[] = [];
  const failures: string[] = [];
  const seen = new Set<string>();
  let n = 0;
  const runtime = (owner: string) => [...pods.values()].find((p) => p.kind === 'runtime' && p.owner === owner) as Extract<Pod, { kind: 'runtime' }> | undefined;
  const analyticsPods = () => [...pods.values()].filter((p) => p.kind === 'analytics');
  const step = async () => {
    const rec = await store.get('in');
    await kubelet(ns);
    for (const p of analyticsPods()) seen.add(`${p.keys.join('+')}@${rec?.encryption.keyId}`);
    const rt = runtime('in');
    if (!rt || rec?.encryption.type !== 'KMS') return;
    const v = n++;
    try {
      await rt.c.send(new PutRecordCommand({ StreamName: 'in', PartitionKey: String(v), Data: Buffer.from(JSON.stringify({ n: v })) }));
      acked.push(v);
    } catch (e) {
      failures.push(`record names ${rec?.encryption.keyId}: ${(e as Error).name}: ${(e as Error).message}`);
    }
  };
  let running = true;
  const loop = (async () => {
    while (running) {
      await step().catch((e) => { if (!/not found|404/i.test(String(e))) console.warn('kubelet pass', e); });
      await new Promise((r) => setTimeout(r, 150));
    }
  })();
  const rows = async () => {
    const rt = runtime('in');
    return rt ? (await readStream(rt.c, 'out')).map((r) => JSON.parse(r).N as number).sort((a, b) => a - b) : [];
  };
  try {
    await until('worker running on key-a', async () => (await store.get('in'))?.encryption.keyId === 'key-a_key' && analyticsPods().length === 1 && (await rows()).length >= 5, 90_000, 500).catch(async (e) => {
      for (const p of analyticsPods()) console.log('analytics pod', p.keys, p.kind !== 'runtime' ? p.proc.stderr() : '');
      throw e;
    });
    hold = (p) => p.kind === 'analytics' && p.keys.includes('key-b_key');
    await cp.client.patch(DataStreams, ns, 'in', { spec: { encryption: { keySecretRef: { name: 'key-b', key: 'key' } } } });
    await until('DataStream waits for the analytics roll', async () =>
      (await cp.client.get<any>(DataStreams, ns, 'in')).status?.conditions?.find((x: any) => x.type === 'Ready')?.reason === 'KeySwapWaitingForWorkers'
        && analyticsPods().some((p) => p.keys.includes('key-b_key')), 60_000);
    // The old generation stops: the new one (holding both keys of `in`) takes over.
    const old = analyticsPods().find((p) => !p.keys.includes('key-b_key'));
    if (old && old.kind !== 'runtime') await old.proc.kill('SIGTERM');
    const heldAcked = acked.length;
    await until('writes while held', async () => acked.length >= heldAcked + 10, 30_000);
    const writtenWhileHeld = [...acked];
    await until('the new generation copied them', async () => {
      const got = new Set(await rows());
      return writtenWhileHeld.every((v) => got.has(v));
    }, 90_000, 500);
    expect((await store.get('in'))?.encryption.keyId).toBe('key-a_key');
    hold = () => false;
    await until('record names key-b', async () => (await store.get('in'))?.encryption.keyId === 'key-b_key', 90_000);
    await until('only new-key analytics pods', async () => analyticsPods().length === 1 && analyticsPods().every((p) => p.keys.join() === 'key-b_key'), 60_000);
    const before = acked.length;
    await until('records written after the swap', async () => acked.length >= before + 5, 30_000);
  } finally {
    running = false;
    await loop;
  }
  expect(failures).toEqual([]);
  const want = [...acked].sort((a, b) => a - b);
  await until('every row copied', async () => (await rows()).length >= want.length, 90_000, 500).catch(() => undefined);
  expect(await rows()).toEqual(want);
  expect([...seen]).toEqual(expect.arrayContaining(['key-a_key@key-a_key', 'key-a_key+key-b_key@key-a_key', 'key-b_key@key-b_key']));
  expect([...seen]).not.toContain('key-b_key@key-a_key');
  expect([...seen]).not.toContain('key-a_key@key-b_key');
}, 300_000);
