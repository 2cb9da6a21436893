// DeliveryStream and AnalyticsApp against a real apiserver + controller-manager.
import { randomBytes } from 'node:crypto';
import { startControlPlane, CRD_FILES, markPodsReady, until, type ControlPlane } from '../harness/kube.js';
import { startNats, type NatsServers } from '../harness/nats.js';
import { startOperator, type OperatorHandle } from '../../operator/manager.js';
import { AnalyticsApps, ConfigMaps, DataStreams, DeliveryStreams, Deployments, Secrets } from '../../operator/kube/resources.js';
import { ApiError } from '../../operator/kube/client.js';
import { connectStore } from '../../stream/connect.js';
import { getStream } from '../../stream/streams.js';
import { getDeliveryStream, openDeliveryStore, publishWorkerStats } from '../../stream/deliveryStreams.js';

let cp: ControlPlane;
let nats: NatsServers;
let op: OperatorHandle;
let kubelet: NodeJS.Timeout;
let stopped = false;
const namespaces: string[] = [];

beforeAll(async () => {
  [cp, nats] = await Promise.all([startControlPlane({ crdFiles: CRD_FILES, operatorRbac: true }), startNats()]);
  op = await startOperator({ kubeConfig: cp.operatorKc!, natsUrl: nats.url, image: 'shardline:test', resyncMs: 1000, recheckMs: 300, log: () => {} });
  await op.synced;
  const tick = async () => {
    try { for (const n of namespaces) await markPodsReady(cp.client, n); } catch { /* ignore */ }
    if (!stopped) kubelet = setTimeout(tick, 200);
  };
  void tick();
}, 120_000);

afterAll(async () => {
  stopped = true;
  clearTimeout(kubelet);
  await op?.stop();
  await Promise.all([cp?.stop(), nats?.stop()]);
});

async function ns() { const n = await cp.namespace('wk'); namespaces.push(n); return n; }
const cond = (o: any, type = 'Ready') => o?.status?.conditions?.find((c: any) => c.type === type);
const waitFor = (t: any, n: string, name: string, pred: (o: any) => boolean, what: string) =>
  until(`${name} ${what}`, async () => { const o = await cp.client.get<any>(t, n, name); return o && pred(o) && o; }, 20_000);

const delivery = (n: string, name: string, spec: Record<string, unknown>) => ({
  apiVersion: 'shardline.dev/v1alpha1', kind: 'DeliveryStream', metadata: { name, namespace: n },
  spec: { source: { dataStreamRef: { name: 'events' } }, s3: { bucket: 'lake', endpoint: 'http://minio:9000' }, ...spec },
});

test('DeliveryStream: missing DataStream -> Ready=False DataStreamNotFound, then Ready once it exists', async () => {
  const n = await ns();
  await cp.client.create(DeliveryStreams, delivery(n, 'to-lake', {}));
  const waiting = await waitFor(DeliveryStreams, n, 'to-lake', (o) => cond(o)?.reason === 'DataStreamNotFound', 'DataStreamNotFound');
  expect(cond(waiting).status).toBe('False');
  expect(cond(waiting).message).toMatch(/events/);
  await cp.client.create(DataStreams, { apiVersion: 'shardline.dev/v1alpha1', kind: 'DataStream', metadata: { name: 'events', namespace: n }, spec: { replicas: 1, runtime: { dedicated: true } } });
  const ready = await waitFor(DeliveryStreams, n, 'to-lake', (o) => cond(o)?.status === 'True', 'Ready');
  expect(ready.status.observedGeneration).toBe(ready.metadata.generation);
  const dep = await cp.client.get<any>(Deployments, n, 'to-lake-delivery');
  expect(dep.metadata.ownerReferences[0]).toMatchObject({ kind: 'DeliveryStream', name: 'to-lake', uid: ready.metadata.uid });
  expect(dep.spec.template.spec.containers[0].args).toEqual(['delivery', '--config', '/etc/shardline/config/config.json']);
  const cm = await cp.client.get<any>(ConfigMaps, n, 'to-lake-delivery');
  const config = JSON.parse(cm.data['config.json']);
  expect(config.source.stream).toEqual({ name: 'events', streamName: 'events', endpoint: `http://events-stream.${n}.svc:4567` });
  expect(config.s3.bucket).toBe('lake');
  // The definition is in the store, in the model the Firehose API and the worker use.
  const store = await connectStore({ natsUrl: nats.url });
  try {
    const def = await getDeliveryStream(await openDeliveryStore(store), 'to-lake');
    expect(def).toMatchObject({
      status: 'ACTIVE', type: 'KinesisStreamAsSource', sourceStream: 'events', versionId: 1,
      owner: { kind: 'resource', namespace: n, name: 'to-lake' }, s3: { BucketARN: 'arn:aws:s3:::lake', BufferingHints: { SizeInMBs: 5, IntervalInSeconds: 300 } },
    });
    // A worker's report (as `shardline delivery` publishes it) reaches status.delivery, with the destination's failure reason.
    const now = Date.now();
    await publishWorkerStats(await openDeliveryStore(store), def!.uid, 'w-1', {
      deliveredRecords: 1234, lastDeliveryMs: now - 1000, oldestPendingMs: now - 7000, failures: { NoSuchBucket: 3 },
      destinationError: { kind: 'NoSuchBucket', message: 's3://lake: The specified bucket does not exist', atMs: now }, updatedMs: now,
    });
    const reported = await waitFor(DeliveryStreams, n, 'to-lake', (o) => o.status?.delivery?.deliveredRecords === 1234, 'status.delivery');
    expect(reported.status.delivery).toMatchObject({ deliveredRecords: 1234, failures: { NoSuchBucket: 3 }, destinationError: 'NoSuchBucket: s3://lake: The specified bucket does not exist' });
    expect(reported.status.delivery.dataFreshnessSeconds).toBeGreaterThanOrEqual(7);
    expect(Date.parse(reported.status.delivery.lastDeliveryTime)).toBe(now - 1000);
    expect(cond(reported).message).toContain('Destination failing: NoSuchBucket');
    // The worker recovers: nothing pending, no error (and the status settles for the zero-writes test below).
    await publishWorkerStats(await openDeliveryStore(store), def!.uid, 'w-1', { deliveredRecords: 1300, lastDeliveryMs: now, failures: { NoSuchBucket: 3 }, updatedMs: Date.now() });
    const recovered = await waitFor(DeliveryStreams, n, 'to-lake', (o) => o.status?.delivery?.deliveredRecords === 1300, 'recovered');
    expect(recovered.status.delivery.destinationError).toBeUndefined();
    expect(recovered.status.delivery.dataFreshnessSeconds).toBe(0);
  } finally {
    await store.close();
  }
});

test('DeliveryStream: missing credentials Secret, then it appears; invalid spec is InvalidSpec', async () => {
  const n = await ns();
  // Stream names are unique per store: the same name in a second namespace needs spec.streamName.
  await cp.client.create(DataStreams, { apiVersion: 'shardline.dev/v1alpha1', kind: 'DataStream', metadata: { name: 'events', namespace: n }, spec: { replicas: 1, streamName: `events-${n}` } });
  await cp.client.create(DeliveryStreams, delivery(n, 'secure', { s3: { bucket: 'lake', credentialsSecretRef: 's3-creds' } }));
  await waitFor(DeliveryStreams, n, 'secure', (o) => cond(o)?.reason === 'SecretNotFound', 'SecretNotFound');
  await cp.client.create(Secrets, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 's3-creds', namespace: n }, stringData: { AWS_ACCESS_KEY_ID: 'a', AWS_SECRET_ACCESS_KEY: 'b' } });
  await waitFor(DeliveryStreams, n, 'secure', (o) => cond(o)?.status === 'True', 'Ready');
  const dep = await cp.client.get<any>(Deployments, n, 'secure-delivery');
  expect(dep.spec.template.spec.containers[0].env).toEqual(expect.arrayContaining([
    { name: 'AWS_ACCESS_KEY_ID', valueFrom: { secretKeyRef: { name: 's3-creds', key: 'AWS_ACCESS_KEY_ID' } } },
  ]));
  // No destination: a CEL rule on >= 1.25, the operator's check here.
  await cp.client.create(DeliveryStreams, { apiVersion: 'shardline.dev/v1alpha1', kind: 'DeliveryStream', metadata: { name: 'nowhere', namespace: n }, spec: { source: { dataStreamRef: { name: 'events' } } } });
  const bad = await waitFor(DeliveryStreams, n, 'nowhere', (o) => cond(o)?.reason === 'InvalidSpec', 'InvalidSpec');
  expect(cond(bad, 'Stalled').status).toBe('True');
  // Enum violations are rejected at admission.
  const err = await cp.client.create(DeliveryStreams, delivery(n, 'zipped', { s3: { bucket: 'lake', compression: 'RAR' } })).catch((e) => e);
  expect((err as ApiError).statusCode).toBe(422);
});

test('DeliveryStream of an encrypted DataStream: its workers get the key Secret item as the key ring reads it', async () => {
  const n = await ns();
  await cp.client.create(Secrets, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'orders-key', namespace: n }, stringData: { key: randomBytes(32).toString('base64') } });
  await cp.client.create(DataStreams, {
    apiVersion: 'shardline.dev/v1alpha1', kind: 'DataStream', metadata: { name: 'events', namespace: n },
    spec: { replicas: 1, streamName: `enc-${n}`, encryption: { keySecretRef: { name: 'orders-key', key: 'key' } } },
  });
  await cp.client.create(DeliveryStreams, delivery(n, 'sealed', {}));
  await waitFor(DeliveryStreams, n, 'sealed', (o) => cond(o)?.status === 'True', 'Ready');
  const pod = (await cp.client.get<any>(Deployments, n, 'sealed-delivery')).spec.template.spec;
  expect(pod.containers[0].env).toContainEqual({ name: 'SHARDLINE_KMS_KEYS_FILE', value: '/etc/shardline/kms-keys' });
  expect(pod.containers[0].volumeMounts).toContainEqual(expect.objectContaining({ name: 'kms-keys', mountPath: '/etc/shardline/kms-keys' }));
  // The file name is the key id the stream record carries (DescribeStream's KeyId).
  expect(pod.volumes.find((v: any) => v.name === 'kms-keys').projected.sources).toEqual([{ secret: { name: 'orders-key', items: [{ key: 'key', path: 'orders-key_key' }] } }]);
});

test('AnalyticsApp: worker Deployment owned, scale subresource, spec change rolls out', async () => {
  const n = await ns();
  await cp.client.create(DataStreams, { apiVersion: 'shardline.dev/v1alpha1', kind: 'DataStream', metadata: { name: 'trades', namespace: n }, spec: { replicas: 1 } });
  await cp.client.create(AnalyticsApps, {
    apiVersion: 'shardline.dev/v1alpha1', kind: 'AnalyticsApp', metadata: { name: 'vwap', namespace: n },
    spec: {
      inputs: [{ name: 'SOURCE_SQL_STREAM_001', dataStreamRef: { name: 'trades' }, columns: [{ name: 'price', sqlType: 'DOUBLE' }] }],
      sql: SQL('price'),
      outputs: [{ name: 'DESTINATION_SQL_STREAM', dataStreamRef: { name: 'trades' } }],
    },
  });
  const app = await waitFor(AnalyticsApps, n, 'vwap', (o) => cond(o)?.status === 'True', 'Ready');
  expect(app.status.selector).toContain('app.kubernetes.io/component=analytics');
  const dep = await cp.client.get<any>(Deployments, n, 'vwap-analytics');
  expect(dep.metadata.ownerReferences[0]).toMatchObject({ kind: 'AnalyticsApp', uid: app.metadata.uid });
  // kubectl scale goes through the scale subresource.
  await cp.client.patch(AnalyticsApps, n, 'vwap', { spec: { replicas: 2 } }, 'scale');
  await waitFor(Deployments, n, 'vwap-analytics', (o) => o.spec.replicas === 2, 'scaled');
  const scaled = await waitFor(AnalyticsApps, n, 'vwap', (o) => o.status.replicas === 2 && cond(o)?.status === 'True', 'replicas 2');
  expect(scaled.status.observedGeneration).toBe(scaled.metadata.generation);
  // SQL change: new config, pods roll (config hash on the template).
  const before = (await cp.client.get<any>(Deployments, n, 'vwap-analytics')).spec.template.metadata.annotations['shardline.dev/config-hash'];
  await cp.client.patch(AnalyticsApps, n, 'vwap', { spec: { sql: SQL('price * 2') } });
  await waitFor(Deployments, n, 'vwap-analytics', (o) => o.spec.template.metadata.annotations['shardline.dev/config-hash'] !== before, 'rolled');
  // SQL that does not bind: Ready=False, reason InvalidSQL, DuckDB's reason and the position; the Deployment keeps the last good config.
  const rolled = (await cp.client.get<any>(Deployments, n, 'vwap-analytics')).spec.template.metadata.annotations['shardline.dev/config-hash'];
  await cp.client.patch(AnalyticsApps, n, 'vwap', { spec: { sql: SQL('pricee') } });
  const bad = await waitFor(AnalyticsApps, n, 'vwap', (o) => cond(o)?.reason === 'InvalidSQL', 'InvalidSQL');
  expect(cond(bad)!.status).toBe('False');
  expect(cond(bad)!.message).toMatch(/^Binder Error: Referenced column "pricee" not found in FROM clause!.*\(line 1, column \d+\)$/s);
  expect((await cp.client.get<any>(Deployments, n, 'vwap-analytics')).spec.template.metadata.annotations['shardline.dev/config-hash']).toBe(rolled);
  // Fixed SQL: Ready again.
  await cp.client.patch(AnalyticsApps, n, 'vwap', { spec: { sql: SQL('price + 1') } });
  await waitFor(AnalyticsApps, n, 'vwap', (o) => cond(o)?.status === 'True' && o.status.observedGeneration === o.metadata.generation, 'Ready again');
});

test('DeliveryStream spec.http and spec.processing reach the worker config and the store; the access key Secret is checked item by item', async () => {
  const n = await ns();
  await cp.client.create(DataStreams, { apiVersion: 'shardline.dev/v1alpha1', kind: 'DataStream', metadata: { name: 'events', namespace: n }, spec: { replicas: 1, streamName: `hook-src-${n}` } });
  // HTTP endpoint with its access key from a Secret that does not exist yet.
  const http = { url: 'https://collector.example.com/in', name: 'collector', accessKeySecretRef: { name: 'collector', key: 'token' }, commonAttributes: { team: 'data' }, s3BackupMode: 'AllData' };
  await cp.client.create(DeliveryStreams, delivery(n, 'hooked', { s3: { bucket: 'backup', endpoint: 'http://minio:9000' }, http }));
  const missing = await waitFor(DeliveryStreams, n, 'hooked', (o) => cond(o)?.reason === 'SecretNotFound', 'SecretNotFound');
  expect(cond(missing).status).toBe('False');
  expect(cond(missing).message).toContain('spec.http.accessKeySecretRef');
  // The Secret without the named key: the pod could not start, so the resource says so.
  await cp.client.create(Secrets, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'collector', namespace: n }, stringData: { other: 'x' } });
  const noKey = await waitFor(DeliveryStreams, n, 'hooked', (o) => cond(o)?.reason === 'SecretKeyNotFound', 'SecretKeyNotFound');
  expect(cond(noKey).message).toBe('Secret collector (spec.http.accessKeySecretRef) has no key token.');
  expect(await cp.client.get(Deployments, n, 'hooked-delivery')).toBeUndefined();
  await cp.client.patch(Secrets, n, 'collector', { stringData: { token: 'the-access-key' } });
  await waitFor(DeliveryStreams, n, 'hooked', (o) => cond(o)?.status === 'True', 'Ready');
  const dep = await cp.client.get<any>(Deployments, n, 'hooked-delivery');
  const env = dep.spec.template.spec.containers[0].env;
  expect(env.filter((e: any) => e.valueFrom?.secretKeyRef)).toEqual([{ name: 'SHARDLINE_HTTP_ACCESS_KEY', valueFrom: { secretKeyRef: { name: 'collector', key: 'token' } } }]);
  const cm = await cp.client.get<any>(ConfigMaps, n, 'hooked-delivery');
  expect(cm.data['config.json']).not.toContain('the-access-key');
  expect(JSON.parse(cm.data['config.json']).http).toEqual({ ...http, contentEncoding: 'NONE', retrySeconds: 300 });

  // Processing: the chain in the worker config and, as Firehose processors, in the store.
  await cp.client.create(DeliveryStreams, delivery(n, 'clickparts', {
    buffering: { sizeMiB: 64, intervalSeconds: 60 },
    s3: { bucket: 'lake', endpoint: 'http://minio:9000', prefix: 'c/!{partitionKeyFromQuery:site}/', errorOutputPrefix: 'e/!{firehose:error-output-type}/' },
    processing: { deAggregation: { subRecordType: 'DELIMITED', delimiter: '|' }, transform: { functionUrl: 'http://fn.svc/x' }, dynamicPartitioning: { partitionKeys: { site: '.site' } }, appendDelimiter: true },
  }));
  await waitFor(DeliveryStreams, n, 'clickparts', (o) => cond(o)?.status === 'True', 'Ready');
  const pcm = JSON.parse((await cp.client.get<any>(ConfigMaps, n, 'clickparts-delivery')).data['config.json']);
  expect(pcm.processing.transform).toEqual({ functionUrl: 'http://fn.svc/x', timeoutSeconds: 60, numberOfRetries: 3, bufferSizeMiB: 1, bufferIntervalSeconds: 60 });
  const store = await connectStore({ natsUrl: nats.url });
  try {
    const ds = await openDeliveryStore(store);
    const hooked = await getDeliveryStream(ds, 'hooked');
    expect(hooked!.http).toEqual({ Url: http.url, Name: 'collector', ContentEncoding: 'NONE', CommonAttributes: [{ AttributeName: 'team', AttributeValue: 'data' }], RetryDurationInSeconds: 300, S3BackupMode: 'AllData' });
    expect(JSON.stringify(hooked)).not.toContain('the-access-key');
    expect(hooked!.s3.BucketARN).toBe('arn:aws:s3:::backup');
    const parts = await getDeliveryStream(ds, 'clickparts');
    expect(parts!.s3.ProcessingConfiguration).toEqual({
      Enabled: true,
      Processors: [
        { Type: 'RecordDeAggregation', Parameters: [{ ParameterName: 'SubRecordType', ParameterValue: 'DELIMITED' }, { ParameterName: 'Delimiter', ParameterValue: Buffer.from('|').toString('base64') }] },
        { Type: 'Lambda', Parameters: [{ ParameterName: 'LambdaArn', ParameterValue: 'http://fn.svc/x' }, { ParameterName: 'NumberOfRetries', ParameterValue: '3' }, { ParameterName: 'BufferSizeInMBs', ParameterValue: '1' }, { ParameterName: 'BufferIntervalInSeconds', ParameterValue: '60' }] },
        { Type: 'MetadataExtraction', Parameters: [{ ParameterName: 'MetadataExtractionQuery', ParameterValue: '{"site": (.site)}' }, { ParameterName: 'JsonParsingEngine', ParameterValue: 'JQ-1.6' }] },
        { Type: 'AppendDelimiterToRecord' },
      ],
    });
    expect(parts!.s3.DynamicPartitioningConfiguration).toEqual({ Enabled: true, RetryOptions: { DurationInSeconds: 300 } });
    // An endpoint change is a new version of the definition, as UpdateDestination makes.
    await cp.client.patch(DeliveryStreams, n, 'hooked', { spec: { http: { url: 'https://collector.example.com/v2' } } });
    await until('new endpoint in the store', async () => (await getDeliveryStream(ds, 'hooked'))?.http?.Url === 'https://collector.example.com/v2', 20_000);
    expect((await getDeliveryStream(ds, 'hooked'))!.versionId).toBe(hooked!.versionId + 1);
  } finally {
    await store.close();
  }

  // What the definition cannot express is Ready=False with a reason, not a crash.
  await cp.client.create(DeliveryStreams, delivery(n, 'no-backup', { s3: undefined, http: { url: 'https://x.example.com/' } }));
  const nb = await waitFor(DeliveryStreams, n, 'no-backup', (o) => cond(o)?.reason === 'BackupBucketRequired', 'BackupBucketRequired');
  expect(cond(nb).status).toBe('False');
  await cp.client.create(DeliveryStreams, delivery(n, 'small-parts', {
    s3: { bucket: 'lake', prefix: 'c/!{partitionKeyFromQuery:site}/', errorOutputPrefix: 'e/!{firehose:error-output-type}/' },
    processing: { dynamicPartitioning: { partitionKeys: { site: '.site' } } },
  }));
  const sp = await waitFor(DeliveryStreams, n, 'small-parts', (o) => cond(o)?.reason === 'InvalidBuffering', 'InvalidBuffering');
  expect(cond(sp).message).toContain('at least 64');
  await cp.client.create(DeliveryStreams, delivery(n, 'undeclared', {
    buffering: { sizeMiB: 64 },
    s3: { bucket: 'lake', prefix: 'c/!{partitionKeyFromQuery:region}/', errorOutputPrefix: 'e/!{firehose:error-output-type}/' },
    processing: { dynamicPartitioning: { partitionKeys: { site: '.site' } } },
  }));
  const ud = await waitFor(DeliveryStreams, n, 'undeclared', (o) => cond(o)?.reason === 'InvalidProcessing', 'InvalidProcessing');
  expect(cond(ud).message).toContain('partitionKeyFromQuery:region');
  // (Removed again: the zero-writes test below waits for every DeliveryStream to be Ready.)
  for (const name of ['no-backup', 'small-parts', 'undeclared']) await cp.client.delete(DeliveryStreams, n, name);
}, 90_000);

test('AnalyticsApp reading a DeliveryStream: DeliveryStreamNotFound until it exists; then the definition reads it and the pods hold its source DataStream\'s keys', async () => {
  const n = await ns();
  const archive = `archive-${n}`;
  await cp.client.create(AnalyticsApps, {
    apiVersion: 'shardline.dev/v1alpha1', kind: 'AnalyticsApp', metadata: { name: 'views', namespace: n },
    spec: {
      inputs: [{ name: 'SOURCE_SQL_STREAM_001', deliveryStreamRef: { name: archive }, columns: [{ name: 'price', sqlType: 'DOUBLE' }] }],
      sql: SQL('price'),
    },
  });
  const missing = await waitFor(AnalyticsApps, n, 'views', (o) => cond(o)?.reason === 'DeliveryStreamNotFound', 'DeliveryStreamNotFound');
  expect(cond(missing).status).toBe('False');
  expect(cond(missing).message).toBe(`DeliveryStream ${archive} not found in namespace ${n}.`);
  // The DeliveryStream reads an encrypted DataStream: the app waits for that DataStream too, then holds its key.
  await cp.client.create(Secrets, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'views-key', namespace: n }, stringData: { key: randomBytes(32).toString('base64') } });
  await cp.client.create(DeliveryStreams, delivery(n, archive, {}));
  await cp.client.create(DataStreams, {
    apiVersion: 'shardline.dev/v1alpha1', kind: 'DataStream', metadata: { name: 'events', namespace: n },
    spec: { replicas: 1, streamName: `views-${n}`, encryption: { keySecretRef: { name: 'views-key', key: 'key' } } },
  });
  await waitFor(AnalyticsApps, n, 'views', (o) => cond(o)?.status === 'True', 'Ready');
  const config = JSON.parse((await cp.client.get<any>(ConfigMaps, n, 'views-analytics')).data['config.json']);
  expect(config.application.inputs[0].source).toEqual({ kind: 'firehose', name: archive });
  const pod = (await cp.client.get<any>(Deployments, n, 'views-analytics')).spec.template.spec;
  expect(pod.containers[0].env).toContainEqual({ name: 'SHARDLINE_KMS_KEYS_FILE', value: '/etc/shardline/kms-keys' });
  expect(pod.volumes.find((v: any) => v.name === 'kms-keys').projected.sources).toEqual([{ secret: { name: 'views-key', items: [{ key: 'key', path: 'views-key_key' }] } }]);
});

const SQL = (expr: string) => `CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (p DOUBLE); CREATE OR REPLACE PUMP "P" AS INSERT INTO "DESTINATION_SQL_STREAM" SELECT STREAM ${expr} FROM "SOURCE_SQL_STREAM_001";`;

test('converged DeliveryStreams and AnalyticsApps cause zero writes over several resyncs', async () => {
  // Everything from the tests above has converged by now; resync runs every second.
  await until('all Ready', async () => {
    const all = [...op.caches.deliveryStreams.list(), ...op.caches.analyticsApps.list()];
    return all.filter((o) => o.metadata.name !== 'nowhere').every((o) => cond(o)?.status === 'True');
  });
  await new Promise((r) => setTimeout(r, 1500));
  const before = op.client.writes.total;
  await new Promise((r) => setTimeout(r, 3500));
  expect([...op.client.writes.byKey.keys()].length).toBeGreaterThan(0);
  expect(op.client.writes.total - before).toBe(0);
});

test('informers survive an apiserver restart: the operator keeps reconciling', async () => {
  if (!cp.restartApiserver) return;
  const n = await ns();
  await cp.client.create(DataStreams, { apiVersion: 'shardline.dev/v1alpha1', kind: 'DataStream', metadata: { name: 'survivor', namespace: n }, spec: { replicas: 1, streamName: `survivor-${n}`, runtime: { dedicated: true } } });
  await waitFor(DataStreams, n, 'survivor', (o) => cond(o)?.status === 'True', 'Ready');
  const watchesBefore = op.caches.dataStreams.stats.watches;
  await cp.restartApiserver();
  // Changes made after the restart reach the operator through re-established watches.
  await cp.client.patch(DataStreams, n, 'survivor', { spec: { runtime: { replicas: 3 } } });
  await waitFor(Deployments, n, 'survivor-stream', (o) => o.spec.replicas === 3, 'scaled after restart');
  await cp.client.create(DeliveryStreams, delivery(n, 'after-restart', { source: { dataStreamRef: { name: 'survivor' } } }));
  await waitFor(DeliveryStreams, n, 'after-restart', (o) => cond(o)?.status === 'True', 'Ready');
  expect(op.caches.dataStreams.stats.watches).toBeGreaterThan(watchesBefore);
}, 120_000);

test('a deleted DeliveryStream takes its definition (and, for Direct PUT, the backing stream) out of the store', async () => {
  const n = await ns();
  await cp.client.create(DeliveryStreams, delivery(n, 'short-lived', { source: { type: 'DirectPut' } }));
  await waitFor(DeliveryStreams, n, 'short-lived', (o) => cond(o)?.status === 'True', 'Ready');
  const store = await connectStore({ natsUrl: nats.url });
  try {
    const ds = await openDeliveryStore(store);
    const def = await getDeliveryStream(ds, 'short-lived');
    expect(def).toMatchObject({ type: 'DirectPut', status: 'ACTIVE', sourceStream: 'firehose/short-lived' });
    expect(await getStream(store, 'firehose/short-lived')).toBeDefined();
    await cp.client.delete(DeliveryStreams, n, 'short-lived');
    await until('definition removed', async () => (await getDeliveryStream(ds, 'short-lived')) === undefined, 20_000);
    await until('backing stream removed', async () => (await getStream(store, 'firehose/short-lived')) === undefined, 20_000);
  } finally {
    await store.close();
  }
}, 60_000);

test('a PARQUET DeliveryStream: its inline schema reaches the store; a bad column type is Ready=False InvalidSchema until fixed', async () => {
  const n = await ns();
  const parquet = (type: string) => ({ source: { type: 'DirectPut' }, s3: { bucket: 'lake', format: 'PARQUET', parquet: { schema: { columns: [{ name: 'id', type: 'bigint' }, { name: 'tags', type }] } } } });
  await cp.client.create(DeliveryStreams, delivery(n, 'columnar', parquet('array<strin>')));
  const bad = await waitFor(DeliveryStreams, n, 'columnar', (o) => cond(o)?.reason === 'InvalidSchema', 'InvalidSchema');
  expect(cond(bad).message).toMatch(/Column tags has an invalid type: unknown type strin/);
  await cp.client.patch(DeliveryStreams, n, 'columnar', { spec: parquet('array<string>') });
  await waitFor(DeliveryStreams, n, 'columnar', (o) => cond(o)?.status === 'True', 'Ready');
  const store = await connectStore({ natsUrl: nats.url });
  try {
    const def = await getDeliveryStream(await openDeliveryStore(store), 'columnar');
    expect(def!.s3.DataFormatConversionConfiguration).toMatchObject({
      Enabled: true,
      SchemaConfiguration: { DatabaseName: n, TableName: 'columnar', Columns: [{ Name: 'id', Type: 'bigint' }, { Name: 'tags', Type: 'array<string>' }] },
      OutputFormatConfiguration: { Serializer: { ParquetSerDe: { Compression: 'SNAPPY' } } },
    });
  } finally {
    await store.close();
  }
}, 60_000);
