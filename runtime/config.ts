// Runtime settings, from flags or SHARDLINE_* environment variables.
import { parseArgs } from 'node:util';

export interface RuntimeConfig {
  natsUrl: string;
  port: number;
  host: string;
  region: string;
  accountId: string;
  /** JetStream replicas for metadata buckets. */
  replicas: number;
  credentialsFile?: string;
  credentials?: string;
  /** How long a shard iterator stays valid (AWS: 5 minutes). */
  iteratorTtlMs: number;
  /** Open shards allowed across the account (AWS default 500 in most regions). */
  shardLimit: number;
  onDemandStreamCountLimit: number;
  maxBodyBytes: number;
  /** Encryption keys for StartStreamEncryption: file or Secret directory (stream/keyring.ts). */
  kmsKeysFile?: string;
  /** The same inline: `keyId:base64key` entries (newline- or comma-separated). */
  kmsKeys?: string;
  /** How long one SubscribeToShard stream lasts (AWS: 5 minutes). */
  subscriptionMs: number;
  /** How long a consumer stays CREATING (then ACTIVE) or DELETING (then gone). */
  consumerTransitionMs: number;
  /** Runtime processes sharing the port (node:cluster); 1 runs in this process. */
  workers: number;
  /** The store's shard autoscaler for ON_DEMAND streams (runtime/autoscale/); one runtime holds it at a time. */
  autoscale: {
    enabled: boolean;
    /** Bounds for streams whose owner set none (API-created streams): AWS's on-demand baseline is 4 shards. */
    defaultMinShards: number;
    defaultMaxShards: number;
    scaleDownStabilizationMs: number;
    scaleUpWindowMs: number;
  };
}

const env = process.env;

export function runtimeConfig(args: string[] = []): RuntimeConfig {
  const { values } = parseArgs({
    args,
    allowPositionals: false,
    options: {
      nats: { type: 'string' },
      port: { type: 'string' },
      host: { type: 'string' },
      region: { type: 'string' },
      account: { type: 'string' },
      replicas: { type: 'string' },
      'credentials-file': { type: 'string' },
      'iterator-ttl-ms': { type: 'string' },
      'shard-limit': { type: 'string' },
      'kms-keys-file': { type: 'string' },
      workers: { type: 'string' },
    },
  });
  return {
    natsUrl: values.nats ?? env.SHARDLINE_NATS_URL ?? 'nats://127.0.0.1:4222',
    port: Number(values.port ?? env.SHARDLINE_PORT ?? 4567),
    host: values.host ?? env.SHARDLINE_HOST ?? '0.0.0.0',
    region: values.region ?? env.SHARDLINE_REGION ?? 'us-east-1',
    accountId: values.account ?? env.SHARDLINE_ACCOUNT_ID ?? '000000000000',
    replicas: Number(values.replicas ?? env.SHARDLINE_REPLICAS ?? 1),
    credentialsFile: values['credentials-file'] ?? env.SHARDLINE_CREDENTIALS_FILE,
    credentials: env.SHARDLINE_CREDENTIALS,
    iteratorTtlMs: Number(values['iterator-ttl-ms'] ?? env.SHARDLINE_ITERATOR_TTL_MS ?? 300_000),
    shardLimit: Number(values['shard-limit'] ?? env.SHARDLINE_SHARD_LIMIT ?? 500),
    onDemandStreamCountLimit: Number(env.SHARDLINE_ON_DEMAND_STREAM_LIMIT ?? 50),
    maxBodyBytes: Number(env.SHARDLINE_MAX_BODY_BYTES ?? 20 * 1024 * 1024),
    kmsKeysFile: values['kms-keys-file'] ?? (env.SHARDLINE_KMS_KEYS_FILE || undefined),
    kmsKeys: env.SHARDLINE_KMS_KEYS || undefined,
    subscriptionMs: Number(env.SHARDLINE_SUBSCRIPTION_MS ?? 300_000),
    consumerTransitionMs: Number(env.SHARDLINE_CONSUMER_TRANSITION_MS ?? 500),
    workers: Math.max(1, Number(values.workers ?? env.SHARDLINE_WORKERS ?? 1)),
    autoscale: {
      enabled: (env.SHARDLINE_AUTOSCALE ?? 'on') !== 'off',
      defaultMinShards: Number(env.SHARDLINE_ON_DEMAND_MIN_SHARDS ?? 4),
      defaultMaxShards: Number(env.SHARDLINE_ON_DEMAND_MAX_SHARDS ?? 64),
      scaleDownStabilizationMs: Number(env.SHARDLINE_SCALE_DOWN_STABILIZATION_MS ?? 300_000),
      scaleUpWindowMs: Number(env.SHARDLINE_SCALE_UP_WINDOW_MS ?? 10_000),
    },
  };
}
