// The pure model of API-created definitions' workers: names any Firehose or
// Kinesis Analytics name maps to are DNS-1123 labels, distinct per definition
// (name and uid), and the children carry the labels the orphan sweep lists by.
import { apiAnalyticsChildren, apiDeliveryChildren, apiWorkerName } from '../../operator/model/apiWorkers.js';

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const settings = { image: 'shardline:test', natsUrl: 'nats://nats:4222', pdbApiVersion: 'policy/v1', sharedEndpoint: 'http://shardline.x.svc:4567' };

test.each([
  'orders', 'Clicks.API', 'a_b.c-d', '___', '9lives', 'X'.repeat(64), 'app_'.repeat(32),
])('name %s maps to a DNS-1123 label of at most 63 characters', (name) => {
  for (const kind of ['delivery', 'analytics'] as const) {
    const n = apiWorkerName(kind, { name, uid: 'abc123' });
    expect(n.length).toBeLessThanOrEqual(63);
    expect(n).toMatch(DNS1123_LABEL);
    expect(n.startsWith(`api-${kind}-`)).toBe(true);
  }
});

test('names that sanitize alike, or a re-created definition (new uid), get different children', () => {
  const a = apiWorkerName('delivery', { name: 'a.b', uid: 'u1' });
  expect(apiWorkerName('delivery', { name: 'a_b', uid: 'u1' })).not.toBe(a);
  expect(apiWorkerName('delivery', { name: 'a.b', uid: 'u2' })).not.toBe(a);
  expect(apiWorkerName('delivery', { name: 'a.b', uid: 'u1' })).toBe(a);
});

test('delivery children: no owner, labelled, S3 credentials by secretKeyRef, store-mode config', () => {
  const { configMap, deployment } = apiDeliveryChildren({ name: 'Clicks', uid: 'f00d' }, { namespace: 'shardline-system', operatorNamespace: 'shardline-system', keyRefs: [] }, { endpoint: 'http://minio:9000', region: 'eu-west-1', secret: 'creds' }, settings);
  for (const o of [configMap, deployment]) {
    expect(o.metadata.namespace).toBe('shardline-system');
    expect(o.metadata.ownerReferences).toBeUndefined();
    expect(o.metadata.labels).toMatchObject({ 'app.kubernetes.io/managed-by': 'shardline-operator', 'shardline.dev/api-definition': 'delivery', 'shardline.dev/definition-uid': 'f00d', 'shardline.dev/operator-namespace': 'shardline-system' });
  }
  expect(JSON.parse((configMap as any).data['config.json'])).toEqual({ deliveryStreamName: 'Clicks', s3: { endpoint: 'http://minio:9000', region: 'eu-west-1', forcePathStyle: true } });
  const c = (deployment as any).spec.template.spec.containers[0];
  expect(c.args).toEqual(['delivery', '--config', '/etc/shardline/config/config.json']);
  expect(c.env).toEqual(expect.arrayContaining([
    { name: 'AWS_ACCESS_KEY_ID', valueFrom: { secretKeyRef: { name: 'creds', key: 'AWS_ACCESS_KEY_ID' } } },
    { name: 'AWS_SECRET_ACCESS_KEY', valueFrom: { secretKeyRef: { name: 'creds', key: 'AWS_SECRET_ACCESS_KEY' } } },
  ]));
  expect((deployment as any).spec.replicas).toBe(1);
  expect((deployment as any).spec.selector.matchLabels['app.kubernetes.io/instance']).toBe(deployment.metadata.name);
  expect((deployment as any).spec.template.spec.volumes.map((v: any) => v.name)).not.toContain('kms-keys');
});

test('delivery children reading an encrypted stream: in its namespace, its key items as the key ring, the stream annotated; mapped Lambda ARNs in the config', () => {
  const place = {
    namespace: 'orders', operatorNamespace: 'shardline-system', sourceStream: 'orders-stream',
    keyRefs: [{ name: 'key-b', key: 'key' }, { name: 'key-a', key: 'key', optional: true }],
    functions: { 'arn:aws:lambda:us-east-1:000000000000:function:up': 'http://up.fn.svc:8080/' },
  };
  const { configMap, deployment } = apiDeliveryChildren({ name: 'Clicks', uid: 'f00d' }, place, { endpoint: 'http://minio:9000', region: 'eu-west-1', secret: 'creds' }, settings);
  expect(configMap.metadata.namespace).toBe('orders');
  expect(deployment.metadata.namespace).toBe('orders');
  expect(deployment.metadata.annotations).toEqual({ 'shardline.dev/source-stream': 'orders-stream' });
  // The operator that keeps them, for its sweep of children no definition wants.
  expect(deployment.metadata.labels!['shardline.dev/operator-namespace']).toBe('shardline-system');
  expect(JSON.parse((configMap as any).data['config.json']).functions).toEqual(place.functions);
  const spec = (deployment as any).spec.template.spec;
  // The same projection as a DeliveryStream resource's worker: one file per key item, named by its key id.
  expect(spec.volumes.find((v: any) => v.name === 'kms-keys')).toEqual({ name: 'kms-keys', projected: { sources: [
    { secret: { name: 'key-b', items: [{ key: 'key', path: 'key-b_key' }] } },
    { secret: { name: 'key-a', items: [{ key: 'key', path: 'key-a_key' }], optional: true } },
  ] } });
  expect(spec.containers[0].env).toContainEqual({ name: 'SHARDLINE_KMS_KEYS_FILE', value: '/etc/shardline/kms-keys' });
  expect(spec.containers[0].volumeMounts).toContainEqual({ name: 'kms-keys', mountPath: '/etc/shardline/kms-keys', readOnly: true });
});

test('delivery children under autoscaling: the decided replicas, and the autoscaler state annotated on the Deployment', () => {
  const autoscaling = { desiredReplicas: 3, specReplicas: 1, lastDecision: { time: '2026-01-01T00:00:00Z', action: 'scaleUp', fromReplicas: 2, toReplicas: 3, reason: 'lag above target', values: '{}' } };
  const { deployment } = apiDeliveryChildren({ name: 'Clicks', uid: 'f00d' }, { namespace: 'ns', operatorNamespace: 'ns', keyRefs: [], replicas: 3, autoscaling }, { endpoint: 'http://minio:9000', region: 'us-east-1' }, settings);
  expect((deployment as any).spec.replicas).toBe(3);
  expect(JSON.parse(deployment.metadata.annotations!['shardline.dev/autoscaling'])).toEqual(autoscaling);
});

test('analytics children: one replica, the application read from the store by name', () => {
  const { configMap, deployment } = apiAnalyticsChildren({ name: 'my_app', uid: '1700000000000' }, 'ns', settings);
  expect(JSON.parse((configMap as any).data['config.json'])).toEqual({ applicationName: 'my_app' });
  expect((deployment as any).spec.replicas).toBe(1);
  expect((deployment as any).spec.template.spec.containers[0].args).toEqual(['analytics', '--config', '/etc/shardline/config/config.json']);
  expect((deployment as any).spec.template.spec.containers[0].env.map((e: any) => e.name)).not.toContain('AWS_ACCESS_KEY_ID');
});

test('analytics children under autoscaling: the decided replicas and the autoscaler state annotated; without, one replica and no annotation', () => {
  const autoscaling = { desiredReplicas: 4, specReplicas: 1, lastDecision: { time: '2026-01-01T00:00:00Z', action: 'scaleUp', fromReplicas: 2, toReplicas: 4, reason: 'lag above target', values: '{}' } };
  const { deployment } = apiAnalyticsChildren({ name: 'my_app', uid: '1' }, 'ns', settings, undefined, undefined, { replicas: 4, autoscaling });
  expect((deployment as any).spec.replicas).toBe(4);
  expect(JSON.parse(deployment.metadata.annotations!['shardline.dev/autoscaling'])).toEqual(autoscaling);
  const plain = apiAnalyticsChildren({ name: 'my_app', uid: '1' }, 'ns', settings).deployment;
  expect((plain as any).spec.replicas).toBe(1);
  expect(plain.metadata.annotations?.['shardline.dev/autoscaling']).toBeUndefined();
});

test('analytics children: the LambdaOutput ARNs mapped to URLs in the config', () => {
  const functions = { 'arn:aws:lambda:us-east-1:000000000000:function:sink': 'http://sink.fn.svc/' };
  const { configMap } = apiAnalyticsChildren({ name: 'my_app', uid: '1' }, 'ns', settings, undefined, functions);
  expect(JSON.parse((configMap as any).data['config.json'])).toEqual({ applicationName: 'my_app', functions });
});

test('the Lambda ARNs a definition names (a URL needs no map): delivery processors on S3 and HTTP chains, application LambdaOutputs', async () => {
  const { lambdaArnsOf, applicationLambdaArns } = await import('../../operator/store/streamStore.js');
  const lambda = (v: string) => ({ Type: 'Lambda', Parameters: [{ ParameterName: 'NumberOfRetries', ParameterValue: '2' }, { ParameterName: 'LambdaArn', ParameterValue: v }] });
  const a = 'arn:aws:lambda:us-east-1:000000000000:function:a';
  const b = 'arn:aws:lambda:us-east-1:000000000000:function:b:live';
  expect(lambdaArnsOf({
    s3: { ProcessingConfiguration: { Enabled: true, Processors: [lambda(b), { Type: 'AppendDelimiterToRecord' }] } },
    http: { ProcessingConfiguration: { Enabled: true, Processors: [lambda(a), lambda('https://fn.example.com/')] } },
  } as any)).toEqual([a, b]);
  expect(lambdaArnsOf({ s3: {} } as any)).toEqual([]);
  expect(applicationLambdaArns({ outputs: [
    { destination: { kind: 'lambda', arn: b } }, { destination: { kind: 'lambda', arn: 'http://x/' } }, { destination: { kind: 'stream', name: 's' } }, { destination: { kind: 'lambda', arn: b } },
  ] })).toEqual([b]);
  expect(applicationLambdaArns(undefined)).toEqual([]);
});
