// Pure builders and helpers: spec in, objects out. No I/O.
import { credentialsSecretProblem, dataStreamChildren, desiredEncryption, desiredShardCount, encryptionKeyId, encryptionSecretProblem, endpointOf, isDedicated, mountedKeyRefs, streamKeyRefs, streamNameOf } from '../../operator/model/datastream.js';
import { parseKeyEntries } from '../../stream/keyring.js';
import { analyticsChildren, deliveryChildren, workerDataStreamRefs } from '../../operator/model/workers.js';
import { childName } from '../../operator/model/common.js';
import { validateDataStream, validateDeliveryStream, validateAnalyticsApp } from '../../operator/model/validate.js';
import { conditionsFor } from '../../operator/status/conditions.js';
import { isSubset, needsApply, withHash } from '../../operator/kube/apply.js';
import { DataStreamSpec, DeliveryStreamSpec, AnalyticsAppSpec, type DataStream } from '../../crds/index.js';

const settings = { image: 'shardline:1', natsUrl: 'nats://nats:4222', pdbApiVersion: 'policy/v1', sharedEndpoint: 'http://shardline.shardline-system.svc:4567' };
const ds = (spec: Record<string, unknown> = {}, status?: any): DataStream => ({
  apiVersion: 'shardline.dev/v1alpha1', kind: 'DataStream',
  metadata: { name: 'orders', namespace: 'shop', uid: 'u-1', generation: 1 },
  spec: DataStreamSpec.parse(spec), status,
});

describe('DataStream model', () => {
  test('children: runtime Deployment, Service, PDB; all owned by the DataStream', () => {
    const d = ds({ shards: 4, runtime: { dedicated: true, replicas: 3 } });
    const kids = dataStreamChildren(d, d.spec, settings);
    for (const k of Object.values(kids)) {
      expect(k.metadata.name).toBe('orders-stream');
      expect(k.metadata.namespace).toBe('shop');
      expect(k.metadata.ownerReferences).toEqual([{ apiVersion: 'shardline.dev/v1alpha1', kind: 'DataStream', name: 'orders', uid: 'u-1', controller: true, blockOwnerDeletion: true }]);
      expect(k.metadata.labels!['app.kubernetes.io/managed-by']).toBe('shardline-operator');
    }
    const dep = kids.deployment as any;
    expect(dep.spec.replicas).toBe(3);
    const c = dep.spec.template.spec.containers[0];
    expect(c.image).toBe('shardline:1');
    expect(c.args).toEqual(['runtime']);
    // Only what the runtime reads (runtime/config.ts); the stream's settings live in the store.
    expect(c.env).toEqual([
      { name: 'SHARDLINE_NATS_URL', value: 'nats://nats:4222' },
      { name: 'SHARDLINE_PORT', value: '4567' },
      { name: 'SHARDLINE_REPLICAS', value: '1' },
    ]);
    // No ConfigMap, no volumes without Secrets (empty lists are left out: the apiserver drops them).
    expect(Object.keys(kids).sort()).toEqual(['deployment', 'pdb', 'service']);
    expect(dep.spec.template.spec.volumes).toBeUndefined();
    expect(c.volumeMounts).toBeUndefined();
    expect(dep.spec.selector.matchLabels).toEqual((kids.service as any).spec.selector);
    expect((kids.pdb as any).apiVersion).toBe('policy/v1');
    expect(endpointOf(d, d.spec, settings)).toBe('http://orders-stream.shop.svc:4567');
    // Probes: ready while JetStream answers (/readyz is a round trip), alive while the process answers.
    expect(c.readinessProbe).toEqual({ httpGet: { path: '/readyz', port: 'http', scheme: 'HTTP' }, periodSeconds: 5, timeoutSeconds: 3 });
    expect(c.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'http', scheme: 'HTTP' });
    // HTTP comes up only once NATS answers: the startup probe allows a nats-server restoring a large store (~1 min per 10,000 shards) 10 min.
    expect(c.startupProbe.httpGet).toEqual({ path: '/healthz', port: 'http', scheme: 'HTTP' });
    expect(c.startupProbe.periodSeconds * c.startupProbe.failureThreshold).toBeGreaterThanOrEqual(600);
  });

  test('shared runtime by default; dedicated when asked, or when the stream mounts Secrets', () => {
    expect(isDedicated(ds().spec)).toBe(false);
    expect(endpointOf(ds(), ds().spec, settings)).toBe('http://shardline.shardline-system.svc:4567');
    expect(isDedicated(ds({ runtime: { dedicated: true } }).spec)).toBe(true);
    expect(isDedicated(ds({ encryption: { keySecretRef: { name: 'k' } } }).spec)).toBe(true);
    expect(isDedicated(ds({ auth: { credentialsSecretRef: 'creds' } }).spec)).toBe(true);
  });

  test('the config hash follows what the pods are configured with (env, Secret refs), not settings read from the store', () => {
    const hash = (spec: Record<string, unknown>) => {
      const d = ds(spec);
      return (dataStreamChildren(d, d.spec, settings).deployment as any).spec.template.metadata.annotations['shardline.dev/config-hash'];
    };
    expect(hash({ retentionHours: 48, shards: 3 })).toBe(hash({}));
    expect(hash({ encryption: { keySecretRef: { name: 'k' } } })).not.toBe(hash({}));
    expect(hash({ encryption: { keySecretRef: { name: 'k2' } } })).not.toBe(hash({ encryption: { keySecretRef: { name: 'k' } } }));
    expect(hash({ auth: { credentialsSecretRef: 'creds' } })).not.toBe(hash({}));
  });

  test('encryption: the key Secret item is mounted as a key ring directory file named by the derived key id', () => {
    const d = ds({ encryption: { keySecretRef: { name: 'orders-key', key: 'k1' } } });
    const pod = (dataStreamChildren(d, d.spec, settings).deployment as any).spec.template.spec;
    const c = pod.containers[0];
    expect(pod.volumes).toEqual([{ name: 'kms-keys', secret: { secretName: 'orders-key', items: [{ key: 'k1', path: 'orders-key_k1' }] } }]);
    // Mounted whole (no subPath): Secret updates reach the pod and the key ring reloads.
    expect(c.volumeMounts).toEqual([{ name: 'kms-keys', mountPath: '/etc/shardline/kms-keys', readOnly: true }]);
    expect(c.env).toContainEqual({ name: 'SHARDLINE_KMS_KEYS_FILE', value: '/etc/shardline/kms-keys' });
    expect(c.env.map((e: any) => e.name)).not.toContain('SHARDLINE_CREDENTIALS_FILE');
    expect(desiredEncryption(d.spec)).toEqual({ type: 'KMS', keyId: 'orders-key_k1' });
    expect(desiredEncryption(ds().spec)).toEqual({ type: 'NONE' });
  });

  test('encryption during a key swap: the previous key Secret item rides along (optional) in one key ring directory, read back by mountedKeyRefs', () => {
    const d = ds({ encryption: { keySecretRef: { name: 'key-b', key: 'key' } } });
    const dep = dataStreamChildren(d, d.spec, settings, { name: 'key-a', key: 'k1' }).deployment as any;
    const pod = dep.spec.template.spec;
    expect(pod.volumes).toEqual([{ name: 'kms-keys-swap', projected: { sources: [
      { secret: { name: 'key-b', items: [{ key: 'key', path: 'key-b_key' }] } },
      { secret: { name: 'key-a', items: [{ key: 'k1', path: 'key-a_k1' }], optional: true } },
    ] } }]);
    expect(pod.containers[0].volumeMounts).toEqual([{ name: 'kms-keys-swap', mountPath: '/etc/shardline/kms-keys', readOnly: true }]);
    expect(mountedKeyRefs(dep)).toEqual([{ name: 'key-b', key: 'key', id: 'key-b_key' }, { name: 'key-a', key: 'k1', id: 'key-a_k1' }]);
    // The pods roll into the two-key generation, and again out of it.
    const hash = (x: any) => x.spec.template.metadata.annotations['shardline.dev/config-hash'];
    const single = dataStreamChildren(d, d.spec, settings).deployment as any;
    expect(hash(dep)).not.toBe(hash(single));
    expect(mountedKeyRefs(single)).toEqual([{ name: 'key-b', key: 'key', id: 'key-b_key' }]);
    // The same key as previous (no swap): one Secret volume.
    expect(dataStreamChildren(d, d.spec, settings, { name: 'key-b', key: 'key' }).deployment).toEqual(single);
  });

  test('encryption key id: <Secret name>_<key>, unambiguous, hashed down to the key ring limit', () => {
    expect(encryptionKeyId({ name: 'orders-key', key: 'key' })).toBe('orders-key_key');
    // A '.' may be in both names; '_' never in a Secret name, so these differ.
    expect(encryptionKeyId({ name: 'a.b', key: 'c' })).not.toBe(encryptionKeyId({ name: 'a', key: 'b.c' }));
    const long = { name: 'n'.repeat(200), key: 'key' };
    const id = encryptionKeyId(long);
    expect(id).toHaveLength(128);
    expect(id).toBe(encryptionKeyId(long));
    expect(id).not.toBe(encryptionKeyId({ ...long, key: 'key2' }));
    // Every derived id is one the runtime's key ring accepts.
    const key = Buffer.alloc(32, 7).toString('base64');
    for (const ref of [long, { name: 'x', key: '_a.b-C' }, { name: 'orders-key', key: 'key' }]) {
      expect(parseKeyEntries(`${encryptionKeyId(ref)}:${key}`, 't').keys.has(encryptionKeyId(ref))).toBe(true);
    }
  });

  test('encryption key Secret: present, and the base64 of 32 bytes; never echoed', () => {
    const ref = { name: 'k', key: 'key' };
    const data = (text: string) => ({ key: Buffer.from(text).toString('base64') });
    const good = Buffer.alloc(32, 1).toString('base64');
    expect(encryptionSecretProblem(data(good), ref)).toBeUndefined();
    expect(encryptionSecretProblem(data(good + '\n'), ref)).toBeUndefined();
    expect(encryptionSecretProblem({}, ref)).toMatchObject({ reason: 'SecretKeyNotFound' });
    expect(encryptionSecretProblem(undefined, ref)).toMatchObject({ reason: 'SecretKeyNotFound' });
    // Raw bytes in the Secret (not their base64), a short key, key entries: the key ring could not load them.
    for (const bad of [{ key: Buffer.alloc(32).toString('base64') }, data(Buffer.alloc(16, 1).toString('base64')), data(`other:${good}`)]) {
      const p = encryptionSecretProblem(bad, ref);
      expect(p).toMatchObject({ reason: 'SecretKeyInvalid' });
      expect(p!.message).not.toContain(good);
    }
  });

  test('auth: the credentials Secret is mounted whole as the runtime\'s credentials directory', () => {
    const d = ds({ auth: { credentialsSecretRef: 'api-keys' }, encryption: { keySecretRef: { name: 'k' } } });
    const pod = (dataStreamChildren(d, d.spec, settings).deployment as any).spec.template.spec;
    const c = pod.containers[0];
    expect(pod.volumes).toContainEqual({ name: 'credentials', secret: { secretName: 'api-keys' } });
    expect(c.volumeMounts).toContainEqual({ name: 'credentials', mountPath: '/etc/shardline/credentials', readOnly: true });
    expect(c.env).toContainEqual({ name: 'SHARDLINE_CREDENTIALS_FILE', value: '/etc/shardline/credentials' });
    expect(c.env).toContainEqual({ name: 'SHARDLINE_KMS_KEYS_FILE', value: '/etc/shardline/kms-keys' });
    expect(c.volumeMounts.every((m: any) => m.subPath === undefined)).toBe(true);
    const b64 = (t: string) => Buffer.from(t).toString('base64');
    expect(credentialsSecretProblem({ AKID1: b64('s3cret\n'), AKID2: b64('x') }, 'api-keys')).toBeUndefined();
    expect(credentialsSecretProblem({}, 'api-keys')).toBeUndefined();
    expect(credentialsSecretProblem({ AKID1: b64('two words') }, 'api-keys')).toMatchObject({ reason: 'SecretKeyInvalid' });
    expect(credentialsSecretProblem({ AKID1: b64('  ') }, 'api-keys')?.message).toContain('AKID1');
    expect(() => DataStreamSpec.parse({ auth: {} })).toThrow();
    expect(() => DataStreamSpec.parse({ auth: { credentialsSecretRef: 'Bad_Name' } })).toThrow();
  });

  test('stream name: pinned in status, else spec.streamName, else metadata.name', () => {
    expect(streamNameOf(ds())).toBe('orders');
    expect(streamNameOf(ds({ streamName: 'Orders.v2' }))).toBe('Orders.v2');
    expect(streamNameOf(ds({ streamName: 'x' }, { streamName: 'pinned' }))).toBe('pinned');
  });

  test('desired shard count: PROVISIONED exact, ON_DEMAND only clamped', () => {
    expect(desiredShardCount(DataStreamSpec.parse({ shards: 3 }))).toBe(3);
    const od = DataStreamSpec.parse({ mode: 'ON_DEMAND', shards: 2, onDemand: { minShards: 2, maxShards: 8 } });
    expect(desiredShardCount(od, 5)).toBe(5);
    expect(desiredShardCount(od, 1)).toBe(2);
    expect(desiredShardCount(od, 20)).toBe(8);
  });

  test('validation the apiserver may not do: cross-field rules, immutable stream name', () => {
    expect(validateDataStream(ds()).ok).toBe(true);
    const bad = { ...ds(), spec: { ...ds().spec, onDemand: { ...ds().spec.onDemand, minShards: 9, maxShards: 2 } } };
    expect(validateDataStream(bad)).toMatchObject({ ok: false, reason: 'InvalidSpec' });
    expect(validateDataStream(ds({ streamName: 'other' }, { streamName: 'orders' }))).toMatchObject({ ok: false, reason: 'ImmutableFieldChanged' });
    expect(validateDataStream({ ...ds(), spec: { shards: -1 } as any })).toMatchObject({ ok: false, reason: 'InvalidSpec' });
  });
});

describe('worker models', () => {
  const owner = (kind: string) => ({ apiVersion: 'shardline.dev/v1alpha1', kind, metadata: { name: 'w', namespace: 'shop', uid: 'u-2' } });
  test('delivery Deployment runs `shardline delivery --config`, credentials from the Secret', () => {
    const spec = DeliveryStreamSpec.parse({ source: { dataStreamRef: { name: 'orders' } }, s3: { bucket: 'lake', credentialsSecretRef: 'creds' } });
    const kids = deliveryChildren(owner('DeliveryStream') as any, spec, { name: 'orders', streamName: 'orders', endpoint: 'http://x' }, settings);
    const c = (kids.deployment as any).spec.template.spec.containers[0];
    expect(kids.deployment.metadata.name).toBe('w-delivery');
    expect(c.args).toEqual(['delivery', '--config', '/etc/shardline/config/config.json']);
    expect(c.env).toContainEqual({ name: 'AWS_SECRET_ACCESS_KEY', valueFrom: { secretKeyRef: { name: 'creds', key: 'AWS_SECRET_ACCESS_KEY' } } });
    expect(JSON.parse((kids.configMap as any).data['config.json']).source.stream.streamName).toBe('orders');
  });
  test('analytics Deployment and validation of outputs', () => {
    const spec = AnalyticsAppSpec.parse({ inputs: [{ name: 'S', dataStreamRef: { name: 'orders' }, columns: [{ name: 'a', sqlType: 'INTEGER' }] }], sql: 'x', replicas: 2 });
    const kids = analyticsChildren(owner('AnalyticsApp') as any, spec, new Map(), settings);
    expect((kids.deployment as any).spec.replicas).toBe(2);
    expect(validateAnalyticsApp({ ...spec, outputs: [{ name: 'O', format: 'JSON' }] })).toMatchObject({ ok: false, reason: 'InvalidSpec' });
    expect(validateDeliveryStream({ source: { dataStreamRef: { name: 'o' } } })).toMatchObject({ ok: false, reason: 'InvalidSpec' });
  });
  test('analytics input watermark (event time): into the worker\'s definition; the column must be a TIMESTAMP of the input', () => {
    const input = (watermark: unknown) => ({ name: 'SOURCE_SQL_STREAM_001', dataStreamRef: { name: 'orders' }, columns: [{ name: 'A', sqlType: 'INTEGER' }, { name: 'AT', sqlType: 'TIMESTAMP' }], watermark });
    const spec = AnalyticsAppSpec.parse({ inputs: [input({ column: 'AT', delaySeconds: 2 })], sql: 'x', outputs: [{ name: 'S', dataStreamRef: { name: 'orders' } }] });
    expect(validateAnalyticsApp(spec)).toMatchObject({ ok: true });
    const config = JSON.parse((analyticsChildren(owner('AnalyticsApp') as any, spec, new Map(), settings).configMap as any).data['config.json']);
    expect(config.application.inputs[0].watermark).toEqual({ column: 'AT', delaySeconds: 2 });
    expect(validateAnalyticsApp({ ...spec, inputs: [input({ column: 'NOPE' })] })).toMatchObject({ ok: false, message: expect.stringContaining('NOPE is not a column of the input') });
    expect(validateAnalyticsApp({ ...spec, inputs: [input({ column: 'A' })] })).toMatchObject({ ok: false, message: expect.stringContaining('A is INTEGER, not TIMESTAMP') });
    expect(AnalyticsAppSpec.safeParse({ ...spec, inputs: [input({ column: 'AT', delaySeconds: -1 })] }).success).toBe(false);
  });
  test('worker key mounts during a key swap: the runtime\'s key set (new + previous, optional), one directory; a worker of two streams holds exactly both sets', () => {
    const orders = ds({ encryption: { keySecretRef: { name: 'key-b', key: 'key' } } }).spec;
    const previous = { name: 'key-a', key: 'k1' };
    // One builder: the runtime Deployment and the worker mount the same items.
    const swap = streamKeyRefs(orders, previous);
    expect(swap).toEqual([{ name: 'key-b', key: 'key' }, { name: 'key-a', key: 'k1', optional: true }]);
    expect(streamKeyRefs(orders)).toEqual([{ name: 'key-b', key: 'key' }]);
    expect(streamKeyRefs(orders, { name: 'key-b', key: 'key' })).toEqual([{ name: 'key-b', key: 'key' }]);
    expect(streamKeyRefs(ds().spec, previous)).toEqual([]);
    const rt = dataStreamChildren(ds(orders), orders, settings, previous).deployment as any;
    const spec = DeliveryStreamSpec.parse({ source: { dataStreamRef: { name: 'orders' } }, s3: { bucket: 'lake' } });
    const dep = deliveryChildren(owner('DeliveryStream') as any, spec, { name: 'orders', streamName: 'orders', endpoint: 'http://x' }, settings, swap).deployment as any;
    const pod = dep.spec.template.spec;
    expect(pod.volumes).toContainEqual({ name: 'kms-keys', projected: { sources: [
      { secret: { name: 'key-b', items: [{ key: 'key', path: 'key-b_key' }] } },
      { secret: { name: 'key-a', items: [{ key: 'k1', path: 'key-a_k1' }], optional: true } },
    ] } });
    expect(pod.containers[0].volumeMounts).toContainEqual({ name: 'kms-keys', mountPath: '/etc/shardline/kms-keys', readOnly: true });
    expect(pod.containers[0].env).toContainEqual({ name: 'SHARDLINE_KMS_KEYS_FILE', value: '/etc/shardline/kms-keys' });
    // The gate reads both back the same way (mountedKeyRefs): the same key items as the runtime.
    expect(mountedKeyRefs(dep)).toEqual(mountedKeyRefs(rt));
    // After the switch: the new key only, and the pods roll again (the template changed).
    const after = deliveryChildren(owner('DeliveryStream') as any, spec, { name: 'orders', streamName: 'orders', endpoint: 'http://x' }, settings, streamKeyRefs(orders)).deployment as any;
    expect(mountedKeyRefs(after)).toEqual([{ name: 'key-b', key: 'key', id: 'key-b_key' }]);
    expect(after.spec.template).not.toEqual(dep.spec.template);
    // An analytics worker reading one encrypted stream mid-swap and writing another: both sets, each item once;
    // an item required by one stream and optional for the other is required.
    const other = ds({ encryption: { keySecretRef: { name: 'key-a', key: 'k1' } } }).spec;
    const aspec = AnalyticsAppSpec.parse({ inputs: [{ name: 'S', dataStreamRef: { name: 'orders' }, columns: [{ name: 'a', sqlType: 'INTEGER' }] }], outputs: [{ name: 'O', dataStreamRef: { name: 'out' }, format: 'JSON' }], sql: 'x' });
    const a = analyticsChildren(owner('AnalyticsApp') as any, aspec, new Map(), settings, [...swap, ...streamKeyRefs(other), ...swap]).deployment as any;
    expect(a.spec.template.spec.volumes.find((v: any) => v.name === 'kms-keys')).toEqual({ name: 'kms-keys', projected: { sources: [
      { secret: { name: 'key-b', items: [{ key: 'key', path: 'key-b_key' }] } },
      { secret: { name: 'key-a', items: [{ key: 'k1', path: 'key-a_k1' }] } },
    ] } });
    // A worker of an unencrypted stream mounts no key at all.
    const plain = (deliveryChildren(owner('DeliveryStream') as any, spec, { name: 'orders', streamName: 'orders', endpoint: 'http://x' }, settings, []).deployment as any).spec.template.spec;
    expect(JSON.stringify(plain)).not.toContain('kms-keys');
    expect(plain.containers[0].env.map((e: any) => e.name)).not.toContain('SHARDLINE_KMS_KEYS_FILE');
  });
  test('workerDataStreamRefs: the DataStreams a worker resource reads or writes, from its unvalidated spec', () => {
    expect(workerDataStreamRefs('DeliveryStream', { source: { dataStreamRef: { name: 'orders' } } })).toEqual(['orders']);
    expect(workerDataStreamRefs('DeliveryStream', { source: { type: 'DirectPut' } })).toEqual([]);
    expect(workerDataStreamRefs('AnalyticsApp', { inputs: [{ dataStreamRef: { name: 'a' } }, { dataStreamRef: { name: 'b' } }], outputs: [{ dataStreamRef: { name: 'a' } }, { deliveryStreamRef: { name: 'd' } }] })).toEqual(['a', 'b']);
    expect(workerDataStreamRefs('AnalyticsApp', undefined)).toEqual([]);
    // An input reading a DeliveryStream depends on (and holds the keys of) that DeliveryStream's source DataStream.
    const deliveries: Record<string, unknown> = { archive: { source: { dataStreamRef: { name: 'clicks' } } }, direct: { source: { type: 'DirectPut' } } };
    const app = { inputs: [{ deliveryStreamRef: { name: 'archive' } }, { deliveryStreamRef: { name: 'direct' } }, { deliveryStreamRef: { name: 'missing' } }], outputs: [{ dataStreamRef: { name: 'out' } }] };
    expect(workerDataStreamRefs('AnalyticsApp', app, (n) => deliveries[n])).toEqual(['out', 'clicks']);
    expect(workerDataStreamRefs('AnalyticsApp', app)).toEqual(['out']);
  });
  test('analytics input from a DeliveryStream: KinesisFirehoseInput in the definition, exactly one source per input', () => {
    const columns = [{ name: 'a', sqlType: 'INTEGER' }];
    const spec = AnalyticsAppSpec.parse({ inputs: [{ name: 'SOURCE_SQL_STREAM_001', deliveryStreamRef: { name: 'clicks' }, columns }], sql: 'x' });
    expect(validateAnalyticsApp(spec)).toMatchObject({ ok: true });
    const config = JSON.parse((analyticsChildren(owner('AnalyticsApp') as any, spec, new Map(), settings).configMap as any).data['config.json']);
    expect(config.application.inputs[0].source).toEqual({ kind: 'firehose', name: 'clicks' });
    for (const bad of [{ name: 'S', columns }, { name: 'S', dataStreamRef: { name: 'a' }, deliveryStreamRef: { name: 'b' }, columns }]) {
      const v = validateAnalyticsApp({ sql: 'x', inputs: [bad] });
      expect(v).toMatchObject({ ok: false, reason: 'InvalidSpec' });
      expect((v as { message: string }).message).toContain('exactly one of dataStreamRef or deliveryStreamRef');
    }
  });
  test('analytics lambda output: definition LambdaOutput, ARN → URL in the worker config, validation', () => {
    const arn = 'arn:aws:lambda:us-east-1:123456789012:function:sink';
    const spec = AnalyticsAppSpec.parse({
      inputs: [{ name: 'SOURCE_SQL_STREAM_001', dataStreamRef: { name: 'orders' }, columns: [{ name: 'a', sqlType: 'INTEGER' }] }], sql: 'x',
      outputs: [
        { name: 'BY_ARN', lambda: { functionUrl: 'http://fn.shop.svc:8080/invoke', functionArn: arn }, format: 'CSV' },
        { name: 'BY_URL', lambda: { functionUrl: 'https://fn.example.com/' } },
        { name: 'S', dataStreamRef: { name: 'orders' } },
      ],
    });
    expect(validateAnalyticsApp(spec)).toMatchObject({ ok: true });
    const kids = analyticsChildren(owner('AnalyticsApp') as any, spec, new Map(), settings);
    const config = JSON.parse((kids.configMap as any).data['config.json']);
    expect(config.application.outputs).toEqual([
      { id: '1.1', name: 'BY_ARN', destination: { kind: 'lambda', arn }, format: 'CSV' },
      { id: '2.1', name: 'BY_URL', destination: { kind: 'lambda', arn: 'https://fn.example.com/' }, format: 'JSON' },
      { id: '3.1', name: 'S', destination: { kind: 'stream', name: 'orders' }, format: 'JSON' },
    ]);
    // Only the ARN needs a map entry: the worker calls an http(s) "ARN" as is.
    expect(config.functions).toEqual({ [arn]: 'http://fn.shop.svc:8080/invoke' });
    // No functions map without an ARN.
    const plain = AnalyticsAppSpec.parse({ ...spec, outputs: [{ name: 'O', lambda: { functionUrl: 'http://f/' } }] });
    expect(JSON.parse((analyticsChildren(owner('AnalyticsApp') as any, plain, new Map(), settings).configMap as any).data['config.json']).functions).toBeUndefined();
    // Exactly one destination; a bad ARN; one ARN with two URLs.
    expect(validateAnalyticsApp({ ...spec, outputs: [{ name: 'O', http: { url: 'http://x/' }, lambda: { functionUrl: 'http://f/' } }] })).toMatchObject({ ok: false, reason: 'InvalidSpec' });
    expect(validateAnalyticsApp({ ...spec, outputs: [{ name: 'O', lambda: { functionUrl: 'http://f/', functionArn: 'arn:aws:s3:::bucket' } }] })).toMatchObject({ ok: false, reason: 'InvalidSpec' });
    expect(validateAnalyticsApp({ ...spec, outputs: [{ name: 'O', lambda: { functionUrl: 'ftp://f/' } }] })).toMatchObject({ ok: false, reason: 'InvalidSpec' });
    const twice = validateAnalyticsApp({ ...spec, outputs: [
      { name: 'A', lambda: { functionUrl: 'http://one/', functionArn: arn } }, { name: 'B', lambda: { functionUrl: 'http://two/', functionArn: arn } },
    ] });
    expect(twice).toMatchObject({ ok: false, reason: 'InvalidSpec' });
    expect((twice as { message: string }).message).toContain('two URLs');
  });
  test('child names are DNS-1035 labels, hashed when too long', () => {
    expect(childName('a.b', 'stream')).toBe('a-b-stream');
    const long = childName('x'.repeat(200), 'delivery');
    expect(long.length).toBeLessThanOrEqual(63);
    expect(long).toMatch(/^[a-z]([-a-z0-9]*[a-z0-9])?$/);
    expect(childName('x'.repeat(200), 'delivery')).toBe(long);
  });
});

describe('TLS and NATS credentials in pods', () => {
  test('spec.tls: the certificate Secret is mounted whole, the runtime serves HTTPS and probes use it', () => {
    const d = ds({ tls: { certificateSecretRef: 'orders-cert' } });
    const dep = dataStreamChildren(d, d.spec, settings).deployment as any;
    const pod = dep.spec.template.spec;
    const c = pod.containers[0];
    expect(pod.volumes).toContainEqual({ name: 'tls', secret: { secretName: 'orders-cert' } });
    expect(c.volumeMounts).toContainEqual({ name: 'tls', mountPath: '/etc/shardline/tls', readOnly: true });
    expect(c.env).toEqual(expect.arrayContaining([
      { name: 'SHARDLINE_TLS_CERT_FILE', value: '/etc/shardline/tls/tls.crt' },
      { name: 'SHARDLINE_TLS_KEY_FILE', value: '/etc/shardline/tls/tls.key' },
    ]));
    expect(c.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'http', scheme: 'HTTPS' });
    expect(c.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'http', scheme: 'HTTPS' });
    expect(endpointOf(d, d.spec, settings)).toBe('https://orders-stream.shop.svc:4567');
    const plain = dataStreamChildren(ds(), ds().spec, settings).deployment as any;
    expect(plain.spec.template.spec.containers[0].readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'http', scheme: 'HTTP' });
  });
  test('natsAuthSecret: mounted into runtime and worker pods, named by SHARDLINE_NATS_AUTH_DIR', () => {
    const s = { ...settings, natsAuthSecret: 'nats-client' };
    const volume = { name: 'nats-auth', secret: { secretName: 'nats-client' } };
    const mount = { name: 'nats-auth', mountPath: '/etc/shardline-nats', readOnly: true };
    const envVar = { name: 'SHARDLINE_NATS_AUTH_DIR', value: '/etc/shardline-nats' };
    const rt = (dataStreamChildren(ds(), ds().spec, s).deployment as any).spec.template.spec;
    expect(rt.volumes).toContainEqual(volume);
    expect(rt.containers[0].volumeMounts).toContainEqual(mount);
    expect(rt.containers[0].env).toContainEqual(envVar);
    const spec = DeliveryStreamSpec.parse({ source: { dataStreamRef: { name: 'orders' } }, s3: { bucket: 'lake' } });
    const owner = { apiVersion: 'shardline.dev/v1alpha1', kind: 'DeliveryStream', metadata: { name: 'w', namespace: 'shop', uid: 'u-2' } };
    const w = (deliveryChildren(owner as any, spec, { name: 'orders', streamName: 'orders', endpoint: 'http://x' }, s).deployment as any).spec.template.spec;
    expect(w.volumes).toContainEqual(volume);
    expect(w.containers[0].volumeMounts).toContainEqual(mount);
    expect(w.containers[0].env).toContainEqual(envVar);
    // Without the setting, nothing is added.
    expect(JSON.stringify(dataStreamChildren(ds(), ds().spec, settings))).not.toContain('nats-auth');
  });
});

describe('conditions', () => {
  test('kstatus triple; lastTransitionTime only moves on a status change', () => {
    const t1 = new Date('2026-01-01T00:00:00Z');
    const a = conditionsFor({ state: 'Progressing', reason: 'RuntimeNotAvailable', message: 'm' }, 1, [], t1);
    expect(a.map((c) => [c.type, c.status])).toEqual([['Ready', 'False'], ['Reconciling', 'True'], ['Stalled', 'False']]);
    const b = conditionsFor({ state: 'Ready', reason: 'StreamActive', message: 'ok' }, 1, a, new Date('2026-01-01T00:01:00Z'));
    expect(b.find((c) => c.type === 'Ready')!.lastTransitionTime).toBe('2026-01-01T00:01:00Z');
    expect(b.find((c) => c.type === 'Stalled')!.lastTransitionTime).toBe('2026-01-01T00:00:00Z');
    const s = conditionsFor({ state: 'Stalled', reason: 'InvalidSpec', message: 'bad' }, 2, b);
    expect(s.find((c) => c.type === 'Stalled')).toMatchObject({ status: 'True', reason: 'InvalidSpec', observedGeneration: 2 });
  });
});

describe('apply only when needed', () => {
  const desired = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c', namespace: 'n', labels: { a: '1' } }, data: { k: 'v' } };
  test('subset comparison ignores server-added fields', () => {
    expect(isSubset({ a: [{ x: 1 }] }, { a: [{ x: 1, y: 2 }], b: 3 })).toBe(true);
    expect(isSubset({ a: [{ x: 1 }] }, { a: [{ x: 1 }, { x: 2 }] })).toBe(false);
    expect(isSubset({ port: 80 }, { port: '80' })).toBe(true);
  });
  test('converged object needs no apply; drift or a desired change does', () => {
    const stored = { ...withHash(desired), metadata: { ...withHash(desired).metadata, uid: 'x', resourceVersion: '5', managedFields: [] } };
    expect(needsApply(desired, stored)).toBe(false);
    expect(needsApply(desired, undefined)).toBe(true);
    expect(needsApply(desired, { ...stored, data: { k: 'hand-edited' } })).toBe(true);
    expect(needsApply({ ...desired, metadata: { ...desired.metadata, labels: {} } }, stored)).toBe(true); // removed label
  });
});
