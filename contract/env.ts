// Environment variables: the names the operator sets on the pods it creates
// and the processes read, spelled only here. Imports nothing but zod, so the
// stream library may use it too (its key ring and retention clock read env).
import { z } from 'zod';

export const ENV = {
  // Every Shardline process.
  natsUrl: 'SHARDLINE_NATS_URL',
  region: 'SHARDLINE_REGION',
  accountId: 'SHARDLINE_ACCOUNT_ID',
  /** JetStream replicas of the metadata KV buckets (1, or 3 on a NATS cluster). */
  replicas: 'SHARDLINE_REPLICAS',
  /** Key ring for server-side encryption: a file or a mounted Secret directory (stream/keyring.ts). */
  kmsKeysFile: 'SHARDLINE_KMS_KEYS_FILE',
  /** The same, inline `keyId:base64key` entries (newline- or comma-separated). */
  kmsKeys: 'SHARDLINE_KMS_KEYS',
  /** Wall-clock ms in one retention hour (tests shrink it). */
  hourMs: 'SHARDLINE_HOUR_MS',
  /**
   * Shard-stream creations allowed per window, store-wide per process (stream/creationPacer.ts): nats-server keeps
   * about two files open for a minute or two after creating a stream, so this bounds its descriptor use.
   */
  shardCreateBudget: 'SHARDLINE_SHARD_CREATE_BUDGET',
  shardCreateWindowMs: 'SHARDLINE_SHARD_CREATE_WINDOW_MS',
  /** pino level (common/log.ts). */
  logLevel: 'SHARDLINE_LOG_LEVEL',
  // NATS credentials of every process (common/natsAuth.ts).
  natsAuthDir: 'SHARDLINE_NATS_AUTH_DIR',
  natsUser: 'SHARDLINE_NATS_USER',
  natsPassword: 'SHARDLINE_NATS_PASSWORD',
  natsPasswordFile: 'SHARDLINE_NATS_PASSWORD_FILE',
  natsToken: 'SHARDLINE_NATS_TOKEN',
  natsTokenFile: 'SHARDLINE_NATS_TOKEN_FILE',
  natsNkeySeedFile: 'SHARDLINE_NATS_NKEY_SEED_FILE',
  natsCredsFile: 'SHARDLINE_NATS_CREDS_FILE',
  natsTlsCa: 'SHARDLINE_NATS_TLS_CA',
  natsTlsCert: 'SHARDLINE_NATS_TLS_CERT',
  natsTlsKey: 'SHARDLINE_NATS_TLS_KEY',
  // `shardline runtime`.
  /** Streams with at most this many shards to make or remove are done within the API call; larger ones in the background. */
  inlineShards: 'SHARDLINE_INLINE_SHARDS',
  port: 'SHARDLINE_PORT',
  host: 'SHARDLINE_HOST',
  credentialsFile: 'SHARDLINE_CREDENTIALS_FILE',
  credentials: 'SHARDLINE_CREDENTIALS',
  iteratorTtlMs: 'SHARDLINE_ITERATOR_TTL_MS',
  shardLimit: 'SHARDLINE_SHARD_LIMIT',
  onDemandStreamLimit: 'SHARDLINE_ON_DEMAND_STREAM_LIMIT',
  maxBodyBytes: 'SHARDLINE_MAX_BODY_BYTES',
  subscriptionMs: 'SHARDLINE_SUBSCRIPTION_MS',
  consumerTransitionMs: 'SHARDLINE_CONSUMER_TRANSITION_MS',
  workers: 'SHARDLINE_WORKERS',
  /** HTTPS certificate chain and key (PEM files, re-read when they change). */
  tlsCertFile: 'SHARDLINE_TLS_CERT_FILE',
  tlsKeyFile: 'SHARDLINE_TLS_KEY_FILE',
  accessLog: 'SHARDLINE_ACCESS_LOG',
  // Limits before authentication (runtime/http/).
  bodyBudgetBytes: 'SHARDLINE_BODY_BUDGET_BYTES',
  bodyTimeoutMs: 'SHARDLINE_BODY_TIMEOUT_MS',
  headersTimeoutMs: 'SHARDLINE_HEADERS_TIMEOUT_MS',
  idleTimeoutMs: 'SHARDLINE_IDLE_TIMEOUT_MS',
  sniffTimeoutMs: 'SHARDLINE_SNIFF_TIMEOUT_MS',
  maxConnections: 'SHARDLINE_MAX_CONNECTIONS',
  h2MaxStreams: 'SHARDLINE_H2_MAX_STREAMS',
  readyTimeoutMs: 'SHARDLINE_READY_TIMEOUT_MS',
  quotaGossipMs: 'SHARDLINE_QUOTA_GOSSIP_MS',
  /** Firehose Direct PUT quota per delivery stream: `records/s,requests/s,bytes/s` or `off` (runtime/usage/directPutQuota.ts). */
  firehosePutQuota: 'SHARDLINE_FIREHOSE_PUT_QUOTA',
  metricsPublishMs: 'SHARDLINE_METRICS_PUBLISH_MS',
  /** The store's shard autoscaler (runtime/autoscale/): `off` disables it in this runtime. */
  autoscale: 'SHARDLINE_AUTOSCALE',
  /** Bounds for ON_DEMAND streams whose owner set none (API-created streams). */
  onDemandMinShards: 'SHARDLINE_ON_DEMAND_MIN_SHARDS',
  onDemandMaxShards: 'SHARDLINE_ON_DEMAND_MAX_SHARDS',
  scaleDownStabilizationMs: 'SHARDLINE_SCALE_DOWN_STABILIZATION_MS',
  scaleUpWindowMs: 'SHARDLINE_SCALE_UP_WINDOW_MS',
  // `shardline dev`.
  dataDir: 'SHARDLINE_DATA_DIR',
  natsPort: 'SHARDLINE_NATS_PORT',
  // `shardline operator`.
  image: 'SHARDLINE_IMAGE',
  /** URL of the install's shared Kinesis endpoint (status.endpoint of non-dedicated streams). */
  sharedEndpoint: 'SHARDLINE_SHARED_ENDPOINT',
  imagePullPolicy: 'SHARDLINE_IMAGE_PULL_POLICY',
  leaderElect: 'SHARDLINE_LEADER_ELECT',
  healthPort: 'SHARDLINE_HEALTH_PORT',
  /** Secret with NATS credential files the operator mounts into runtime and worker pods. */
  natsAuthSecret: 'SHARDLINE_NATS_AUTH_SECRET',
  /** Lambda ARN → URL map (JSON) for the transforms of API-created delivery streams (operator/options.ts). */
  apiLambdaFunctions: 'SHARDLINE_API_LAMBDA_FUNCTIONS',
  /** Worker autoscaling (JSON, a DeliveryStream's spec.autoscaling) for API-created delivery streams. */
  apiDeliveryAutoscaling: 'SHARDLINE_API_DELIVERY_AUTOSCALING',
  /** Worker autoscaling (JSON, an AnalyticsApp's spec.autoscaling) for API-created analytics applications whose replicas split shards. */
  apiAnalyticsAutoscaling: 'SHARDLINE_API_ANALYTICS_AUTOSCALING',
  kubeconfig: 'KUBECONFIG',
  failpoints: 'SHARDLINE_FAILPOINTS',
  /** From the downward API (config/manager/operator.yaml): Lease holder identity and namespace. */
  podName: 'POD_NAME',
  podNamespace: 'POD_NAMESPACE',
  // Delivery workers: from the Secrets the DeliveryStream names.
  httpAccessKey: 'SHARDLINE_HTTP_ACCESS_KEY',
  awsAccessKeyId: 'AWS_ACCESS_KEY_ID',
  awsSecretAccessKey: 'AWS_SECRET_ACCESS_KEY',
  /** S3 endpoint when the config names none (local runs; `make dev` starts s3rver there). */
  s3Endpoint: 'SHARDLINE_S3_ENDPOINT',
  /** Shard lease time of delivery workers (ms): a dead worker's shards are taken over after it. */
  deliveryLeaseMs: 'SHARDLINE_DELIVERY_LEASE_MS',
  /** `shardline dev`: port of the local S3 server delivery streams write to (default 4569). */
  devS3Port: 'SHARDLINE_DEV_S3_PORT',
  /** Delivery workers: the HTTP endpoint retry backoff unit (ms; Firehose's is 1 s·2ⁿ), shortened by tests. */
  httpBackoffUnitMs: 'SHARDLINE_HTTP_BACKOFF_UNIT_MS',
  /** Port of a delivery worker's /metrics, /status and /healthz. */
  metricsPort: 'SHARDLINE_METRICS_PORT',
} as const;

export type EnvName = (typeof ENV)[keyof typeof ENV];

/** An env value that must be a number when set (a typo fails at start, not as NaN later). */
const num = (what: string) =>
  z.string().optional().transform((v, ctx) => {
    if (v === undefined || v.trim() === '') return undefined;
    const n = Number(v);
    if (!Number.isFinite(n)) {
      ctx.addIssue({ code: 'custom', message: `${what} must be a number, got ${JSON.stringify(v)}` });
      return z.NEVER;
    }
    return n;
  });
const str = () => z.string().optional();
/** Unset and empty mean the same for paths and secrets. */
const nonEmpty = () => z.string().optional().transform((v) => (v ? v : undefined));

/** The runtime's environment (what the operator sets on runtime pods, see operator/model/datastream.ts). */
export const runtimeEnv = z.object({
  [ENV.natsUrl]: str(),
  [ENV.port]: num(ENV.port),
  [ENV.host]: str(),
  [ENV.region]: str(),
  [ENV.accountId]: str(),
  [ENV.replicas]: num(ENV.replicas),
  [ENV.credentialsFile]: nonEmpty(),
  [ENV.credentials]: nonEmpty(),
  [ENV.iteratorTtlMs]: num(ENV.iteratorTtlMs),
  [ENV.shardLimit]: num(ENV.shardLimit),
  [ENV.onDemandStreamLimit]: num(ENV.onDemandStreamLimit),
  [ENV.maxBodyBytes]: num(ENV.maxBodyBytes),
  [ENV.kmsKeysFile]: nonEmpty(),
  [ENV.kmsKeys]: nonEmpty(),
  [ENV.subscriptionMs]: num(ENV.subscriptionMs),
  [ENV.consumerTransitionMs]: num(ENV.consumerTransitionMs),
  [ENV.workers]: num(ENV.workers),
  [ENV.autoscale]: z.enum(['on', 'off']).optional(),
  [ENV.onDemandMinShards]: num(ENV.onDemandMinShards),
  [ENV.onDemandMaxShards]: num(ENV.onDemandMaxShards),
  [ENV.scaleDownStabilizationMs]: num(ENV.scaleDownStabilizationMs),
  [ENV.scaleUpWindowMs]: num(ENV.scaleUpWindowMs),
  [ENV.inlineShards]: num(ENV.inlineShards),
});
export type RuntimeEnv = z.infer<typeof runtimeEnv>;

/** Reads one numeric setting from an environment, with a default (for settings read outside a schema-parsed config). */
export function envNumber(env: NodeJS.ProcessEnv, name: EnvName, fallback: number): number {
  const v = env[name];
  if (v === undefined || v === '') return fallback;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new Error(`${name} must be a number, got ${JSON.stringify(v)}`);
  return n;
}
