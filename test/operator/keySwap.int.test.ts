// A DataStream's key Secret swapped to another Secret while clients write: the
// operator's pod roll on a real apiserver + controller-manager (a real rolling
// Deployment), and for every pod it creates a real runtime holding exactly the
// key files the pod's kms-keys volume would hold (a tiny kubelet). Writes go
// through every live pod during the whole swap: none may fail, and every
// acknowledged record is readable afterwards by a pod of the final generation.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { GetRecordsCommand, GetShardIteratorCommand, ListShardsCommand, PutRecordCommand, type KinesisClient } from '@aws-sdk/client-kinesis';
import { startControlPlane, CRD_FILES, until, type ControlPlane } from '../harness/kube.js';
import { startNats, type NatsServers } from '../harness/nats.js';
import { sdkClient, startInProcess } from '../harness/runtime.js';
import { markPodReady, podKeyFiles } from '../harness/pods.js';
import { startOperator, type OperatorHandle } from '../../operator/manager.js';
import { connectStreamStore, type StreamStore } from '../../operator/store/streamStore.js';
import { DataStreams, Deployments, Pods, Secrets } from '../../operator/kube/resources.js';
import type { RunningRuntime } from '../../runtime/server.js';

let cp: ControlPlane;
let nats: NatsServers;
let op: OperatorHandle;
let store: StreamStore;
let tmp: string;
type Pod = { rt: RunningRuntime & { endpoint: string }; c: KinesisClient; keys: string[] };
const pods = new Map<string, Pod>();

beforeAll(async () => {
  [cp, nats] = await Promise.all([startControlPlane({ crdFiles: CRD_FILES, operatorRbac: true }), startNats()]);
  store = await connectStreamStore(nats.url);
  op = await startOperator({ kubeConfig: cp.operatorKc!, natsUrl: nats.url, image: 'shardline:test', sharedEndpoint: 'http://shardline.shardline-system.svc:4567', resyncMs: 1000, recheckMs: 500, store, log: () => {} });
  await op.synced;
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shardline-keyswap-'));
}, 120_000);

afterAll(async () => {
  for (const p of pods.values()) { p.c.destroy(); await p.rt.close(); }
  await op?.stop();
  await store?.close();
  await Promise.all([cp?.stop(), nats?.stop()]);
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

/** One kubelet pass: runtimes for new pods (then Ready), gone or deleting pods' runtimes stopped. */
async function kubelet(ns: string): Promise<void> {
  const list = await cp.client.list<any>(Pods, ns);
  const live = new Set<string>();
  for (const pod of list.items) {
    if (pod.metadata.deletionTimestamp) continue;
    live.add(pod.metadata.name);
    if (pods.has(pod.metadata.name)) continue;
    const files = await podKeyFiles(cp.client, ns, pod);
    const dir = path.join(tmp, pod.metadata.name);
    fs.mkdirSync(dir, { recursive: true });
    for (const [f, v] of Object.entries(files)) fs.writeFileSync(path.join(dir, f), v);
    const rt = await startInProcess(nats.url, { kmsKeysFile: dir });
    pods.set(pod.metadata.name, { rt, c: sdkClient(rt.endpoint, { http1: true }), keys: Object.keys(files).sort() });
    await markPodReady(cp.client, ns, pod.metadata.name);
  }
  for (const [name, p] of pods) {
    if (live.has(name)) continue;
    pods.delete(name);
    p.c.destroy();
    await p.rt.close();
  }
}

async function readAll(c: KinesisClient, stream: string): Promise<string[]> {
  const out: string[] = [];
  for (const s of (await c.send(new ListShardsCommand({ StreamName: stream }))).Shards!) {
    let it = (await c.send(new GetShardIteratorCommand({ StreamName: stream, ShardId: s.ShardId, ShardIteratorType: 'TRIM_HORIZON' }))).ShardIterator;
    for (;;) {
      const r = await c.send(new GetRecordsCommand({ ShardIterator: it }));
      for (const x of r.Records!) out.push(Buffer.from(x.Data!).toString());
      if (r.Records!.length === 0 || !r.NextShardIterator) break;
      it = r.NextShardIterator;
    }
  }
  return out;
}

const keyIdsOfTemplate = async (ns: string) => {
  const vol = (await cp.client.get<any>(Deployments, ns, 'roll-stream'))?.spec.template.spec.volumes?.find((v: any) => v.name.startsWith('kms-keys'));
  if (!vol) return [];
  return (vol.secret ? [vol.secret] : vol.projected.sources.map((s: any) => s.secret)).flatMap((s: any) => s.items.map((i: any) => i.path)).sort();
};

test('writes through every pod never fail while the key Secret is swapped, and every record stays readable', async () => {
  const ns = await cp.namespace('keyswap');
  const key = () => randomBytes(32).toString('base64');
  await cp.client.create(Secrets, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'key-a', namespace: ns }, stringData: { key: key() } });
  await cp.client.create(Secrets, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'key-b', namespace: ns }, stringData: { key: key() } });
  await cp.client.create(DataStreams, {
    apiVersion: 'shardline.dev/v1alpha1', kind: 'DataStream', metadata: { name: 'roll', namespace: ns },
    spec: { shards: 1, replicas: 1, runtime: { dedicated: true, replicas: 2 }, encryption: { keySecretRef: { name: 'key-a', key: 'key' } } },
  });

  const acked: string[] = [];
  const failures: string[] = [];
  /** Which key ids the pods that took writes held, and which key the record named, as seen along the way. */
  const seen = new Set<string>();
  let n = 0;
  const step = async () => {
    await kubelet(ns);
    const rec = await store.get('roll');
    for (const [name, p] of pods) {
      const data = `r${n++}`;
      try {
        await p.c.send(new PutRecordCommand({ StreamName: 'roll', PartitionKey: data, Data: Buffer.from(data) }));
        acked.push(data);
        seen.add(`${p.keys.join('+')}@${rec?.encryption.keyId}`);
      } catch (e) {
        failures.push(`${name} [${p.keys.join(',')}] record names ${rec?.encryption.keyId}: ${(e as Error).name}: ${(e as Error).message}`);
      }
    }
  };
  let running = true;
  const loop = (async () => {
    while (running) {
      // A pod the controller deletes between list and patch: the next pass sees it gone.
      await step().catch((e) => { if (!/not found|404/i.test(String(e))) console.warn('kubelet pass', e); });
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  try {
    await until('encrypted with key-a', async () => (await store.get('roll'))?.encryption.keyId === 'key-a_key' && pods.size === 2, 30_000);
    await new Promise((r) => setTimeout(r, 500));
    await cp.client.patch(DataStreams, ns, 'roll', { spec: { encryption: { keySecretRef: { name: 'key-b', key: 'key' } } } });
    await until('record names key-b', async () => (await store.get('roll'))?.encryption.keyId === 'key-b_key', 60_000).catch(async (e) => {
      const d = await cp.client.get<any>(Deployments, ns, 'roll-stream');
      console.log('deployment when the record did not switch', JSON.stringify({ gen: d.metadata.generation, status: d.status, vols: d.spec.template.spec.volumes, pods: [...pods.keys()], ds: (await cp.client.get<any>(DataStreams, ns, 'roll')).status }, null, 1));
      throw e;
    });
    // The previous Secret leaves the pods once the record no longer needs it, and only the new key's pods remain.
    await until('old key dropped', async () => JSON.stringify(await keyIdsOfTemplate(ns)) === '["key-b_key"]', 30_000);
    await until('only new-key pods', async () => pods.size === 2 && [...pods.values()].every((p) => p.keys.join() === 'key-b_key'), 30_000);
    await new Promise((r) => setTimeout(r, 500));
  } finally {
    running = false;
    await loop;
  }
  expect(failures).toEqual([]);
  // The roll went through a generation holding both keys, each pod held the key the record named.
  expect([...seen]).toEqual(expect.arrayContaining(['key-a_key@key-a_key', 'key-a_key+key-b_key@key-a_key', 'key-a_key+key-b_key@key-b_key', 'key-b_key@key-b_key']));
  expect(acked.length).toBeGreaterThan(10);
  const reader = [...pods.values()][0]!;
  expect((await readAll(reader.c, 'roll')).sort()).toEqual([...acked].sort());
}, 180_000);
