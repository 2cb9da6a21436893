// Delivery in `shardline dev`: an S3-protocol server (s3rver, common/localS3.ts) on
// 127.0.0.1:4569 with its data under the dev data directory, and a delivery
// worker for every ACTIVE delivery stream in the store (started and stopped
// as delivery streams come and go), so records put to a delivery stream show
// up in `aws --endpoint-url http://127.0.0.1:4569 s3 ls`.
import { assertPortFree } from '../dev/portFree.js';
import { localS3 } from '../../common/localS3.js';
import fs from 'node:fs';
import path from 'node:path';
import { Client } from 'minio';
import { ENV } from '../../contract/env.js';
import { connectStore } from '../../stream/connect.js';
import { listDeliveryStreams, openDeliveryStore } from '../../stream/deliveryStreams.js';
import { bucketOf } from '../api/firehose/destination.js';
import { startDeliveryWorker, type DeliveryWorker } from './worker.js';
import { registerDevWorker } from '../dev/workers.js';
import { DeliveryStreamSpec, type DeliveryStream } from '../../crds/schema/deliverystream.js';
import { deliveryDefinitionOf } from '../../operator/model/deliveryDefinition.js';
import { ensureDeliveryDefinition } from '../../stream/deliveryStreams.js';


export const DEV_S3_PORT = 4569;
const SUPERVISE_MS = 1000;

export interface DevDelivery {
  s3Endpoint: string;
  describe(): string;
  stop(): Promise<void>;
}

export async function startDevDelivery(o: { dataDir: string; natsUrl: string; log: (m: string) => void }): Promise<DevDelivery> {
  const port = Number(process.env[ENV.devS3Port] ?? DEV_S3_PORT);
  const dir = path.join(o.dataDir, 's3');
  fs.mkdirSync(dir, { recursive: true });
  // s3rver throws an unhandled 'error' on a busy port: check first, and say which setting moves it.
  await assertPortFree(port, 'local S3 server', ENV.devS3Port);
  const server = localS3({ port, directory: dir });
  await server.run();
  const s3Endpoint = `http://127.0.0.1:${port}`;
  // s3rver's built-in account; local only.
  const admin = new Client({ endPoint: '127.0.0.1', port, useSSL: false, accessKey: 'S3RVER', secretKey: 'S3RVER', pathStyle: true, region: 'us-east-1' });
  const store = await connectStore({ natsUrl: o.natsUrl, name: 'shardline-dev-delivery' });
  const ds = await openDeliveryStore(store);
  // A manifest's transform timeout (spec.processing.transform.timeoutSeconds) is the worker's function
  // setting, as the operator's worker config file carries it (contract/delivery.ts): not in the definition.
  const functionTimeoutMs = new Map<string, number>();
  // `shardline dev -f` DeliveryStream manifests: their definitions go to the store as the operator writes
  // them (source: the DataStream of that name); the supervisor below runs their workers against the local S3.
  registerDevWorker('DeliveryStream', async (m) => {
    const parsed = DeliveryStreamSpec.safeParse(m.spec);
    if (!parsed.success) throw new Error(`DeliveryStream ${m.name} (${m.source}): ${parsed.error.issues.map((i) => `spec.${i.path.join('.')}: ${i.message}`).join('; ')}`);
    const spec = parsed.data;
    // The key would reach a pod from its Secret; dev has no Secrets, and sending nothing instead would hide it.
    if (spec.http?.accessKeySecretRef) throw new Error(`DeliveryStream ${m.name} (${m.source}): spec.http.accessKeySecretRef names a Kubernetes Secret, which dev cannot read; create the delivery stream through the Firehose API (EndpointConfiguration.AccessKey) to run it locally.`);
    const d: DeliveryStream = { apiVersion: 'shardline.dev/v1alpha1', kind: 'DeliveryStream', metadata: { name: m.name, namespace: 'dev' }, spec };
    const defn = deliveryDefinitionOf(d, spec, spec.source.dataStreamRef?.name, process.env[ENV.region] ?? 'us-east-1', process.env[ENV.accountId] ?? '000000000000');
    if (!defn.ok) throw new Error(`DeliveryStream ${m.name}: ${defn.message}`);
    const rec = await ensureDeliveryDefinition(ds, defn.def);
    functionTimeoutMs.set(m.name, (spec.processing?.transform?.timeoutSeconds ?? 60) * 1000);
    return { describe: () => `DeliveryStream ${m.name} (v${rec.versionId}) → s3://${bucketOf(rec.s3.BucketARN)} on the local S3`, stop: async () => undefined };
  });
  const workers = new Map<string, { uid: string; worker: Promise<DeliveryWorker> }>();
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;

  const supervise = async () => {
    const defs = await listDeliveryStreams(ds);
    const active = new Map(defs.filter((d) => d.status === 'ACTIVE').map((d) => [d.name, d]));
    for (const [name, w] of workers) {
      if (active.get(name)?.uid !== w.uid) {
        workers.delete(name);
        await (await w.worker).stop();
      }
    }
    for (const [name, def] of active) {
      if (workers.has(name)) continue;
      // Locally the bucket a delivery stream names is made for it (in S3 it must exist).
      const bucket = bucketOf(def.s3.BucketARN);
      if (!(await admin.bucketExists(bucket))) await admin.makeBucket(bucket, 'us-east-1');
      o.log(`delivery: worker for ${name} → s3://${bucket}`);
      workers.set(name, { uid: def.uid, worker: startDeliveryWorker({ deliveryStreamName: name, natsUrl: o.natsUrl, s3: { endpoint: s3Endpoint, region: 'us-east-1', forcePathStyle: true }, functions: {}, functionTimeoutMs: functionTimeoutMs.get(name) ?? 60_000 }, { log: o.log }) });
    }
  };
  const loop = async () => {
    try {
      await supervise();
    } catch (e) {
      o.log(`delivery supervisor: ${(e as Error).message}`);
    }
    if (!stopped) timer = setTimeout(loop, SUPERVISE_MS);
  };
  await loop();
  return {
    s3Endpoint,
    describe: () => `S3 (delivery streams deliver here): ${s3Endpoint}, data in ${dir} — aws --endpoint-url ${s3Endpoint} s3 ls`,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      for (const w of workers.values()) await (await w.worker).stop().catch(() => undefined);
      await store.close();
      await server.close();
    },
  };
}
