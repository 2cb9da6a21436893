// Example cdk8s app: the Shardline install with MinIO (chart shardline-install)
// and a clickstream pipeline (chart clickstream, namespace shop): a DataStream,
// a DeliveryStream archiving it to MinIO, and an AnalyticsApp counting page
// views per minute into a second DataStream.
//   npm run build && node dist/examples/cdk8s/main.js     (writes examples/cdk8s/dist/*.k8s.yaml)
//   or (cdk8s-cli is a devDependency): npm run build && cd examples/cdk8s && npx cdk8s synth
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ApiObject, App, Chart, JsonPatch } from 'cdk8s';
import { AnalyticsApp, DataStream, DeliveryStream, S3Destination, ShardlineInstall } from '../../cdk8s/index.js';

export interface ExampleOptions { namespace?: string; outdir?: string }

/** The clickstream chart alone (what test/cdk8s/apply.int.test.ts applies). */
export function clickstream(app: App, opts: { namespace?: string; minioEndpoint?: string } = {}): Chart {
  const ns = opts.namespace ?? 'shop';
  const chart = new Chart(app, 'clickstream', { namespace: ns });
  // Cluster-scoped: no metadata.namespace (the chart's would otherwise be set).
  new ApiObject(chart, 'namespace', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } }).addJsonPatch(JsonPatch.remove('/metadata/namespace'));
  // The quick start's MinIO credentials, for the delivery worker in this namespace.
  new ApiObject(chart, 'minio-credentials', {
    apiVersion: 'v1', kind: 'Secret', metadata: { name: 'minio-credentials' },
    stringData: { AWS_ACCESS_KEY_ID: 'shardline', AWS_SECRET_ACCESS_KEY: 'shardline-quickstart' },
  });
  const clicks = new DataStream(chart, 'clicks', { metadata: { name: 'clicks' }, shards: 2, retentionHours: 48 });
  const lake = { bucketName: 'lake', endpoint: opts.minioEndpoint ?? 'http://minio.shardline-system.svc:9000', credentialsSecretName: 'minio-credentials' };
  new DeliveryStream(chart, 'archive', {
    metadata: { name: 'clicks-archive' },
    source: clicks,
    destination: S3Destination.bucket(lake, { prefix: 'clicks/!{timestamp:yyyy/MM/dd}/', format: 'JSON_LINES' }),
    buffering: { intervalSeconds: 60 },
  });
  const counts = new DataStream(chart, 'page-counts', { metadata: { name: 'page-counts' } });
  new AnalyticsApp(chart, 'per-minute', {
    metadata: { name: 'page-views-per-minute' },
    sql: [
      'CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (page VARCHAR(256), views INTEGER);',
      'CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"',
      '  SELECT STREAM page, COUNT(*) FROM "SOURCE_SQL_STREAM_001"',
      '  GROUP BY page, STEP("SOURCE_SQL_STREAM_001".ROWTIME BY INTERVAL \'60\' SECOND);',
    ].join('\n'),
    inputs: [{ stream: clicks, columns: [{ name: 'page', sqlType: 'VARCHAR(256)', mapping: '$.page' }] }],
    outputs: [{ to: counts }],
  });
  return chart;
}

export function buildApp(opts: ExampleOptions = {}): App {
  const app = new App({ outdir: opts.outdir ?? path.join(path.dirname(fileURLToPath(import.meta.url)), 'dist') });
  const install = new Chart(app, 'shardline-install');
  new ShardlineInstall(install, 'shardline', { minio: true });
  clickstream(app, { namespace: opts.namespace });
  return app;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  // Run from dist/: write next to the sources, examples/cdk8s/dist/.
  const here = path.dirname(fileURLToPath(import.meta.url));
  // `cdk8s synth` names its output directory in CDK8S_OUTDIR (--output; default dist/ here).
  const outdir = process.env.CDK8S_OUTDIR
    ? path.resolve(process.env.CDK8S_OUTDIR)
    : here.includes(`${path.sep}dist${path.sep}`) ? path.resolve(here, '../../../examples/cdk8s/dist') : path.join(here, 'dist');
  buildApp({ outdir }).synth();
  console.log(`wrote ${outdir}/shardline-install.k8s.yaml and clickstream.k8s.yaml`);
}
