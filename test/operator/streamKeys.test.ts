// The key switch gate for worker Deployments (reconcile/streamKeys.ts) over
// in-memory caches: which worker Deployments of a DataStream must still roll
// before its record may name a new key, built with the operator's own models.
import { workersWithoutKey, usableByWorkers, KEY_SWAP_WAITING } from '../../operator/reconcile/streamKeys.js';
import { streamKeyRefs } from '../../operator/model/datastream.js';
import { analyticsChildren, deliveryChildren } from '../../operator/model/workers.js';
import { apiDeliveryChildren } from '../../operator/model/apiWorkers.js';
import { DataStreamSpec, DeliveryStreamSpec, AnalyticsAppSpec, type DataStream } from '../../crds/index.js';
import type { Context } from '../../operator/reconcile/context.js';

const settings = { image: 'shardline:1', natsUrl: 'nats://nats:4222', pdbApiVersion: 'policy/v1', sharedEndpoint: 'http://x' };
const ds = (name: string, secret: string): DataStream => ({
  apiVersion: 'shardline.dev/v1alpha1', kind: 'DataStream', metadata: { name, namespace: 'shop', uid: `u-${name}` },
  spec: DataStreamSpec.parse({ encryption: { keySecretRef: { name: secret, key: 'key' } } }),
});
const stalledStatus = { conditions: [{ type: 'Stalled', status: 'True', reason: 'SecretNotFound' }] };

/** A cache over objects by namespace/name, as the informers give them. */
function cache(objs: any[]) {
  return {
    getByName: (ns: string, name: string) => objs.find((o) => o.metadata.namespace === ns && o.metadata.name === name),
    list: (ns?: string) => objs.filter((o) => !ns || o.metadata.namespace === ns),
  };
}
/** A Deployment as stored: generation 2, rolled out (`rolled`) or mid-roll. */
const stored = (dep: any, rolled: boolean) => ({
  ...dep,
  metadata: { ...dep.metadata, generation: 2 },
  status: rolled ? { observedGeneration: 2, replicas: 1, updatedReplicas: 1, readyReplicas: 1 } : { observedGeneration: 2, replicas: 2, updatedReplicas: 1, readyReplicas: 1 },
});

test('the record waits for every non-Stalled worker Deployment of the stream to run a template holding the new key', () => {
  const orders = ds('orders', 'key-b');
  const swap = streamKeyRefs(orders.spec, { name: 'key-a', key: 'key' });
  const owner = (kind: string, name: string, status?: unknown) => ({ apiVersion: 'shardline.dev/v1alpha1', kind, metadata: { name, namespace: 'shop', uid: `u-${name}` }, status });
  const dspec = (stream: string) => DeliveryStreamSpec.parse({ source: { dataStreamRef: { name: stream } }, s3: { bucket: 'lake' } });
  const aspec = AnalyticsAppSpec.parse({ inputs: [{ name: 'S', dataStreamRef: { name: 'clicks' }, columns: [{ name: 'a', sqlType: 'INTEGER' }] }], outputs: [{ name: 'O', dataStreamRef: { name: 'orders' }, format: 'JSON' }], sql: 'x' });
  const res = { name: 'orders', streamName: 'orders', endpoint: 'http://x' };

  const deliveries = [
    { ...owner('DeliveryStream', 'rolled'), spec: dspec('orders') },
    { ...owner('DeliveryStream', 'rolling'), spec: dspec('orders') },
    { ...owner('DeliveryStream', 'old-template'), spec: dspec('orders') },
    { ...owner('DeliveryStream', 'stalled', stalledStatus), spec: dspec('orders') },
    { ...owner('DeliveryStream', 'no-deployment'), spec: dspec('orders') },
    { ...owner('DeliveryStream', 'other-stream'), spec: dspec('clicks') },
  ];
  const apps = [{ ...owner('AnalyticsApp', 'writer'), spec: aspec }];
  const deployments = [
    stored(deliveryChildren(deliveries[0] as any, dspec('orders'), res, settings, swap).deployment, true),
    stored(deliveryChildren(deliveries[1] as any, dspec('orders'), res, settings, swap).deployment, false),
    stored(deliveryChildren(deliveries[2] as any, dspec('orders'), res, settings, streamKeyRefs(ds('orders', 'key-a').spec)).deployment, true),
    stored(deliveryChildren(deliveries[3] as any, dspec('orders'), res, settings, streamKeyRefs(ds('orders', 'key-a').spec)).deployment, true),
    stored(deliveryChildren(deliveries[5] as any, dspec('clicks'), res, settings, []).deployment, false),
    // The analytics worker writes into `orders`: it holds both streams' keys, `orders` in its old template.
    stored(analyticsChildren(apps[0] as any, aspec, new Map(), settings, [...streamKeyRefs(ds('clicks', 'key-c').spec), ...streamKeyRefs(ds('orders', 'key-a').spec)]).deployment, true),
  ];
  const ctx = { caches: { deliveryStreams: cache(deliveries), analyticsApps: cache(apps), deployments: cache(deployments) } } as unknown as Context;

  expect(workersWithoutKey(ctx, orders, 'key-b_key').sort()).toEqual(['old-template-delivery', 'rolling-delivery', 'writer-analytics']);
  // The old key: every pod still holds it, the rolling one too.
  expect(workersWithoutKey(ctx, orders, 'key-a_key')).toEqual(['rolling-delivery']);
  // Workers of other streams never hold a stream's switch.
  expect(workersWithoutKey(ctx, ds('clicks', 'key-d'), 'key-d_key')).toEqual(['other-stream-delivery', 'writer-analytics']);
});

test('a DataStream waiting for its workers\' roll stays usable by them (they are what it waits for); other not-Ready reasons do not', () => {
  const cond = (status: string, reason: string) => ({ ...ds('orders', 'k'), status: { conditions: [{ type: 'Ready', status, reason, message: '', lastTransitionTime: '' }] } } as any);
  expect(usableByWorkers(cond('True', 'StreamActive'))).toBe(true);
  expect(usableByWorkers(cond('False', KEY_SWAP_WAITING))).toBe(true);
  expect(usableByWorkers(cond('False', 'RuntimeNotAvailable'))).toBe(false);
  expect(usableByWorkers(ds('orders', 'k'))).toBe(false);
});

test('API-created delivery streams\' workers beside the stream hold its switch too, by their source-stream annotation', () => {
  const orders = ds('orders', 'key-b');
  const swap = streamKeyRefs(orders.spec, { name: 'key-a', key: 'key' });
  const old = streamKeyRefs(ds('orders', 'key-a').spec);
  const api = (name: string, source: string, keyRefs: any[], rolled: boolean, namespace = 'shop') =>
    stored(apiDeliveryChildren({ name, uid: 'u' }, { namespace, operatorNamespace: 'shardline-system', keyRefs, sourceStream: source }, { endpoint: 'http://minio:9000', region: 'us-east-1' }, settings).deployment, rolled);
  const deployments = [
    api('rolled', 'orders', swap, true),
    api('old-template', 'orders', old, true),
    api('reads-clicks', 'clicks', [], false),
    // Same stream name, other namespace: not this DataStream's (its workers run beside it).
    api('elsewhere', 'orders', [], false, 'shardline-system'),
  ];
  const ctx = { caches: { deliveryStreams: cache([]), analyticsApps: cache([]), deployments: cache(deployments) } } as unknown as Context;
  expect(workersWithoutKey(ctx, orders, 'key-b_key')).toEqual([deployments[1].metadata.name]);
  expect(workersWithoutKey(ctx, orders, 'key-a_key')).toEqual([]);
});
