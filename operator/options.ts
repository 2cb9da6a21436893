// `shardline operator` flags (common/options.ts table: flag, env, parser,
// default). Kept apart from main.ts so `shardline --help` does not load the
// Kubernetes client.
import { NATS_AUTH_OPTIONS } from '../common/natsAuth.js';
import { ENV } from '../contract/env.js';
import { OPERATOR_HEALTH_PORT } from '../contract/ports.js';
import { InvalidArgumentError } from 'commander';
import { boolean, integer, port, text, type OptionSpec } from '../common/options.js';
import { WorkerAutoscaling } from '../crds/schema/workerAutoscaling.js';

const positive = integer(1, 1_000_000);

/**
 * `{"arn:aws:lambda:<region>:<account>:function:<name>[:<qualifier>]": "http(s)://…"}`:
 * what a Firehose Lambda processor's LambdaArn names, and the URL that
 * speaks the Lambda invocation contract for it (runtime/delivery/lambda.ts).
 */
/** A DeliveryStream's spec.autoscaling, the same schema and defaults (`{}` turns it on with the defaults). */
export function workerAutoscaling(raw: string): WorkerAutoscaling {
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch (e) {
    throw new InvalidArgumentError(`must be a JSON object like a DeliveryStream's spec.autoscaling: ${(e as Error).message}`);
  }
  const r = WorkerAutoscaling.strict().safeParse(v);
  if (!r.success) throw new InvalidArgumentError(r.error.issues.map((i) => `${i.path.join('.') || 'value'}: ${i.message}`).join('; '));
  if (r.data.minReplicas > r.data.maxReplicas) throw new InvalidArgumentError('minReplicas must not exceed maxReplicas');
  return r.data;
}

export function lambdaFunctionMap(raw: string): Record<string, string> {
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch (e) {
    throw new InvalidArgumentError(`must be a JSON object of Lambda ARN → URL: ${(e as Error).message}`);
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new InvalidArgumentError('must be a JSON object of Lambda ARN → URL');
  for (const [arn, url] of Object.entries(v)) {
    if (!/^arn:[a-z-]+:lambda:[a-z0-9-]*:\d*:function:[A-Za-z0-9_-]+(:[A-Za-z0-9$_-]+)?$/.test(arn)) throw new InvalidArgumentError(`${JSON.stringify(arn)} is not a Lambda function ARN`);
    if (typeof url !== 'string' || !/^https?:\/\/[^\s]+$/.test(url)) throw new InvalidArgumentError(`the URL of ${arn} must be an http(s) URL, got ${JSON.stringify(url)}`);
  }
  return v as Record<string, string>;
}

export const OPERATOR_OPTIONS: OptionSpec[] = [
  { flag: '--kubeconfig <path>', env: ENV.kubeconfig, description: 'kubeconfig file (else ~/.kube/config or in-cluster)', parse: text },
  { flag: '--nats <urls>', env: ENV.natsUrl, description: 'NATS server URL(s) (default nats://nats.<operator namespace>.svc:4222)', parse: text },
  ...NATS_AUTH_OPTIONS,
  { flag: '--nats-auth-secret <name>', env: ENV.natsAuthSecret, description: 'Secret (in each resource\'s namespace) mounted into runtime and worker pods for NATS credentials', parse: text },
  { flag: '--image <image>', env: ENV.image, description: 'image of runtime and worker pods (default: this pod\'s own image; out of cluster shardline:0.1.0)', parse: text },
  { flag: '--shared-endpoint <url>', env: ENV.sharedEndpoint, description: 'the install\'s shared Kinesis endpoint (default http://shardline.<operator namespace>.svc:4567)', parse: text },
  { flag: '--image-pull-policy <policy>', env: ENV.imagePullPolicy, description: 'imagePullPolicy of those pods', parse: text },
  { flag: '--leader-elect <bool>', env: ENV.leaderElect, description: 'elect a leader through a Lease', parse: boolean, default: true },
  { flag: '--lease-namespace <ns>', description: 'the operator\'s namespace, for the Lease (default POD_NAMESPACE, else the kubeconfig context\'s)', parse: text },
  { flag: '--pod-namespace <ns>', env: ENV.podNamespace, description: 'set by the downward API', parse: text },
  { flag: '--pod-name <name>', env: ENV.podName, description: 'set by the downward API (reads this pod\'s image)', parse: text },
  { flag: '--lease-name <name>', description: 'name of the Lease', parse: text },
  { flag: '--lease-duration-seconds <n>', description: 'Lease duration', parse: positive },
  { flag: '--renew-deadline-ms <ms>', description: 'leader renew deadline', parse: positive },
  { flag: '--retry-period-ms <ms>', description: 'leader election retry period', parse: positive },
  { flag: '--identity <id>', env: ENV.podName, description: 'this replica\'s identity in the Lease (default POD_NAME)', parse: text },
  { flag: '--resync-seconds <n>', description: 're-enqueue every key this often', parse: positive },
  { flag: '--workers <n>', description: 'concurrent reconciles', parse: integer(1, 256) },
  { flag: '--health-port <n>', env: ENV.healthPort, description: '/healthz, /readyz, /metrics port (0: any free port)', parse: port, default: OPERATOR_HEALTH_PORT },
  { flag: '--api-delivery-s3-endpoint <url>', description: 'S3 endpoint for delivery streams created through the Firehose API (without it they get no worker)', parse: text },
  { flag: '--api-delivery-s3-region <region>', description: 'region of that S3 endpoint', parse: text, default: 'us-east-1' },
  { flag: '--api-delivery-s3-secret <name>', description: 'Secret in the operator\'s namespace with AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY for that endpoint', parse: text },
  { flag: '--api-lambda-functions <json>', env: ENV.apiLambdaFunctions, description: 'JSON object mapping Lambda ARNs to http(s) function URLs, for the transforms of delivery streams created through the Firehose API and the LambdaOutputs of API-created analytics applications', parse: lambdaFunctionMap },
  { flag: '--api-delivery-autoscaling <json>', env: ENV.apiDeliveryAutoscaling, description: 'lag-driven worker replicas for delivery streams created through the Firehose API: JSON with a DeliveryStream\'s spec.autoscaling fields (minReplicas, maxReplicas, targetLagSeconds, scaleUpStabilizationSeconds, scaleDownStabilizationSeconds); unset: one replica', parse: workerAutoscaling },
  { flag: '--api-analytics-autoscaling <json>', env: ENV.apiAnalyticsAutoscaling, description: 'lag-driven worker replicas for analytics applications created through the Kinesis Analytics API whose plan splits the shards (two-phase aggregation or pass-through): JSON with an AnalyticsApp\'s spec.autoscaling fields; unset, or a plan that does not split shards: one replica', parse: workerAutoscaling },
  { flag: '--store-replicas <n>', env: ENV.replicas, description: 'JetStream replicas of the metadata buckets', parse: integer(1, 5) },
];
