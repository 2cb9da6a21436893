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
  const { configMap, deployment } = apiDeliveryChildren({ name: 'Clicks', uid: 'f00d' }, 'shardline-system', { endpoint: 'http://minio:9000', region: 'eu-west-1', secret: 'creds' }, settings);
  for (const o of [configMap, deployment]) {
    expect(o.metadata.namespace).toBe('shardline-system');
    expect(o.metadata.ownerReferences).toBeUndefined();
    expect(o.metadata.labels).toMatchObject({ 'app.kubernetes.io/managed-by': 'shardline-operator', 'shardline.dev/api-definition': 'delivery', 'shardline.dev/definition-uid': 'f00d' });
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
});

test('analytics children: one replica, the application read from the store by name', () => {
  const { configMap, deployment } = apiAnalyticsChildren({ name: 'my_app', uid: '1700000000000' }, 'ns', settings);
  expect(JSON.parse((configMap as any).data['config.json'])).toEqual({ applicationName: 'my_app' });
  expect((deployment as any).spec.replicas).toBe(1);
  expect((deployment as any).spec.template.spec.containers[0].args).toEqual(['analytics', '--config', '/etc/shardline/config/config.json']);
  expect((deployment as any).spec.template.spec.containers[0].env.map((e: any) => e.name)).not.toContain('AWS_ACCESS_KEY_ID');
});
