// The L2/L3 constructs synthesized with Testing.synth: inline assertions on the
// manifests (no snapshot files), wiring by object, stable names, and
// validation at synth time naming the construct path.
import { Chart, Testing } from 'cdk8s';
import { AnalyticsApp, DataStream, DeliveryStream, HttpDestination, Pipeline, S3Destination } from '../../cdk8s/index.js';
import { DataStreamSpec, DeliveryStreamSpec, AnalyticsAppSpec } from '../../crds/index.js';

const chart = () => new Chart(Testing.app(), 'shop', { namespace: 'shop' });

test('DataStream: flat props become the spec; defaults are left to the CRD', () => {
  const c = chart();
  const orders = new DataStream(c, 'orders', { shards: 4, retentionHours: 48, consumers: [{ name: 'audit' }] });
  const [o] = Testing.synth(c);
  expect(o).toEqual({
    apiVersion: 'shardline.dev/v1alpha1', kind: 'DataStream',
    metadata: { name: orders.name, namespace: 'shop' },
    spec: { shards: 4, retentionHours: 48, consumers: [{ name: 'audit' }] },
  });
  expect(orders.streamName).toBe(orders.name);
  // What the operator will read: the spec parses with the CRD's schema.
  expect(DataStreamSpec.parse(o.spec).shards).toBe(4);
});

test('names are stable: the same construct path gives the same name in every synth; metadata.name overrides', () => {
  const names = [0, 1].map(() => { const c = chart(); return new DataStream(c, 'orders').name; });
  expect(names[0]).toBe(names[1]);
  expect(names[0]).toMatch(/^shop-orders-[0-9a-f]{8}$/);
  const c = chart();
  expect(new DataStream(c, 'x', { metadata: { name: 'clicks' } }).name).toBe('clicks');
});

test('DeliveryStream wired by object to its source and an S3 bucket', () => {
  const c = chart();
  const clicks = new DataStream(c, 'clicks', { metadata: { name: 'clicks' } });
  const lake = { bucketName: 'lake', endpoint: 'http://minio.shardline-system.svc:9000', credentialsSecretName: 'minio-credentials' };
  new DeliveryStream(c, 'archive', {
    metadata: { name: 'archive' }, source: clicks,
    destination: S3Destination.bucket(lake, { prefix: 'clicks/!{timestamp:yyyy/MM/dd}/', format: 'JSON_LINES' }),
    buffering: { intervalSeconds: 60 },
  });
  const d = Testing.synth(c).find((x) => x.kind === 'DeliveryStream');
  expect(d.spec).toEqual({
    source: { type: 'DataStream', dataStreamRef: { name: 'clicks' } },
    s3: { bucket: 'lake', endpoint: 'http://minio.shardline-system.svc:9000', credentialsSecretRef: 'minio-credentials', prefix: 'clicks/!{timestamp:yyyy/MM/dd}/', format: 'JSON_LINES' },
    buffering: { intervalSeconds: 60 },
  });
  expect(DeliveryStreamSpec.parse(d.spec).s3!.region).toBe('us-east-1');
});

test('AnalyticsApp: inputs and outputs by object; default in-application stream names', () => {
  const c = chart();
  const trades = new DataStream(c, 'trades', { metadata: { name: 'trades' } });
  const vwap = new DataStream(c, 'vwap', { metadata: { name: 'vwap' } });
  new AnalyticsApp(c, 'app', {
    metadata: { name: 'vwap-app' },
    sql: 'CREATE STREAM "DESTINATION_SQL_STREAM" (sym VARCHAR(8), v DOUBLE);',
    inputs: [{ stream: trades, columns: [{ name: 'sym', sqlType: 'VARCHAR(8)' }, { name: 'px', sqlType: 'DOUBLE' }] }],
    outputs: [
      { to: vwap }, { name: 'ALERTS', to: { url: 'http://hooks.example/alerts' } },
      { name: 'AUDIT', format: 'CSV', to: { functionUrl: 'http://audit.shop.svc:8080/', functionArn: 'arn:aws:lambda:us-east-1:123456789012:function:audit' } },
      { name: 'TAIL', to: { functionUrl: 'http://tail.shop.svc/' } },
    ],
  });
  const a = Testing.synth(c).find((x) => x.kind === 'AnalyticsApp');
  expect(a.spec.inputs[0]).toMatchObject({ name: 'SOURCE_SQL_STREAM_001', dataStreamRef: { name: 'trades' }, format: 'JSON', startingPosition: 'LATEST' });
  // Atomic-list items carry what the CRD defaults: the stored spec equals the applied one.
  expect(AnalyticsAppSpec.parse(a.spec).inputs).toEqual(a.spec.inputs);
  expect(AnalyticsAppSpec.parse(a.spec).outputs).toEqual(a.spec.outputs);
  expect(a.spec.outputs).toEqual([
    { name: 'DESTINATION_SQL_STREAM', format: 'JSON', dataStreamRef: { name: 'vwap' } },
    { name: 'ALERTS', format: 'JSON', http: { url: 'http://hooks.example/alerts' } },
    { name: 'AUDIT', format: 'CSV', lambda: { functionUrl: 'http://audit.shop.svc:8080/', functionArn: 'arn:aws:lambda:us-east-1:123456789012:function:audit' } },
    { name: 'TAIL', format: 'JSON', lambda: { functionUrl: 'http://tail.shop.svc/' } },
  ]);
  expect(() => AnalyticsAppSpec.parse(a.spec)).not.toThrow();
});

test('AnalyticsApp reading a DeliveryStream (KinesisFirehoseInput): inputs[].deliveryStreamRef', () => {
  const c = chart();
  const lake = { bucketName: 'lake', endpoint: 'http://minio:9000' };
  const direct = new DeliveryStream(c, 'direct', { metadata: { name: 'direct' }, destination: S3Destination.bucket(lake) });
  new AnalyticsApp(c, 'app', {
    metadata: { name: 'clicks-app' },
    sql: 'CREATE STREAM "DESTINATION_SQL_STREAM" (page VARCHAR(8));',
    inputs: [{ stream: direct, columns: [{ name: 'page', sqlType: 'VARCHAR(8)' }] }],
  });
  const a = Testing.synth(c).find((x) => x.kind === 'AnalyticsApp');
  expect(a.spec.inputs[0]).toMatchObject({ name: 'SOURCE_SQL_STREAM_001', deliveryStreamRef: { name: 'direct' } });
  expect(a.spec.inputs[0].dataStreamRef).toBeUndefined();
  expect(AnalyticsAppSpec.parse(a.spec).inputs).toEqual(a.spec.inputs);
});

test('Pipeline (L3): stream -> delivery -> analytics -> results, all referring to each other', () => {
  const c = chart();
  const p = new Pipeline(c, 'clickstream', {
    stream: { shards: 2 },
    delivery: { destination: HttpDestination.url('https://collector.example/firehose') },
    analytics: { sql: 'CREATE STREAM "DESTINATION_SQL_STREAM" (page VARCHAR(64), n INTEGER);', columns: [{ name: 'page', sqlType: 'VARCHAR(64)' }] },
  });
  const out = Testing.synth(c);
  expect(out.map((o) => o.kind)).toEqual(['DataStream', 'DeliveryStream', 'DataStream', 'AnalyticsApp']);
  const byKind = (k: string) => out.filter((o) => o.kind === k);
  expect(byKind('DeliveryStream')[0].spec.source.dataStreamRef.name).toBe(p.stream.name);
  expect(byKind('AnalyticsApp')[0].spec.inputs[0].dataStreamRef.name).toBe(p.stream.name);
  expect(byKind('AnalyticsApp')[0].spec.outputs[0].dataStreamRef.name).toBe(p.results!.name);
  expect(new Set(out.map((o) => o.metadata.name)).size).toBe(4);
});

test('synth-time validation with the CRD schemas names the construct path', () => {
  const c = chart();
  new DataStream(c, 'bad', { shards: 0, retentionHours: 12 });
  expect(() => Testing.synth(c)).toThrow(/\[shop\/bad\] spec\.shards: .*\n.*\[shop\/bad\] spec\.retentionHours/);
  const c2 = chart();
  const s = new DataStream(c2, 'src');
  new DeliveryStream(c2, 'nowhere', { source: s, destination: [] });
  expect(() => Testing.synth(c2)).toThrow('[shop/nowhere] destination: at least one (S3Destination or HttpDestination) is required');
  const c3 = chart();
  new DeliveryStream(c3, 'bucket', { destination: S3Destination.bucket('Not_A_Bucket') });
  expect(() => Testing.synth(c3)).toThrow(/\[shop\/bucket\] spec\.s3\.bucket/);
});

test('DeliveryStream Parquet against a Glue catalog table: catalogTable reaches the spec; with inline columns too it is refused at synth', () => {
  const c = new Chart(Testing.app(), 'shop', { namespace: 'shop' });
  const d = new DeliveryStream(c, 'orders', { destination: S3Destination.bucket('lake', { format: 'PARQUET', parquet: { catalogTable: { databaseName: 'shop', tableName: 'orders' } } }) });
  const spec = (Testing.synth(c).find((o) => o.kind === 'DeliveryStream') as any).spec;
  expect(spec.s3.parquet).toEqual({ catalogTable: { databaseName: 'shop', tableName: 'orders' } });
  expect(() => DeliveryStreamSpec.parse(spec)).not.toThrow();
  expect(d.name).toBeTruthy();
  const c2 = new Chart(Testing.app(), 'shop', { namespace: 'shop' });
  new DeliveryStream(c2, 'both', { destination: S3Destination.bucket('lake', { format: 'PARQUET', parquet: { catalogTable: { databaseName: 'shop', tableName: 'orders' }, schema: { columns: [{ name: 'id', type: 'int' }] } } }) });
  expect(() => Testing.synth(c2)).toThrow('[shop/both] destination: S3 parquet needs exactly one of schema (inline columns) and catalogTable (a Glue catalog table)');
});
