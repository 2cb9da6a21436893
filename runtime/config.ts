// Runtime settings, from flags or SHARDLINE_* environment variables (names and
// types in contract/env.ts, the contract with the operator that sets them).
import { parseArgs } from 'node:util';
import { ENV, runtimeEnv } from '../contract/env.js';
import { RUNTIME_PORT } from '../contract/ports.js';

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
  /** Shard streams an API call makes or removes itself; above this the lifecycle worker does it in the background. */
  inlineShards: number;
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
  const parsed = runtimeEnv.safeParse(process.env);
  if (!parsed.success) throw new Error(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
  const env = parsed.data;
  const num = (flag: string | undefined) => (flag === undefined ? undefined : Number(flag));
  return {
    natsUrl: values.nats ?? env[ENV.natsUrl] ?? 'nats://127.0.0.1:4222',
    port: num(values.port) ?? env[ENV.port] ?? RUNTIME_PORT,
    host: values.host ?? env[ENV.host] ?? '0.0.0.0',
    region: values.region ?? env[ENV.region] ?? 'us-east-1',
    accountId: values.account ?? env[ENV.accountId] ?? '000000000000',
    replicas: num(values.replicas) ?? env[ENV.replicas] ?? 1,
    credentialsFile: values['credentials-file'] ?? env[ENV.credentialsFile],
    credentials: env[ENV.credentials],
    iteratorTtlMs: num(values['iterator-ttl-ms']) ?? env[ENV.iteratorTtlMs] ?? 300_000,
    shardLimit: num(values['shard-limit']) ?? env[ENV.shardLimit] ?? 500,
    onDemandStreamCountLimit: env[ENV.onDemandStreamLimit] ?? 50,
    maxBodyBytes: env[ENV.maxBodyBytes] ?? 20 * 1024 * 1024,
    kmsKeysFile: values['kms-keys-file'] ?? env[ENV.kmsKeysFile],
    kmsKeys: env[ENV.kmsKeys],
    subscriptionMs: env[ENV.subscriptionMs] ?? 300_000,
    consumerTransitionMs: env[ENV.consumerTransitionMs] ?? 500,
    inlineShards: env[ENV.inlineShards] ?? 64,
    workers: Math.max(1, num(values.workers) ?? env[ENV.workers] ?? 1),
    autoscale: {
      enabled: env[ENV.autoscale] !== 'off',
      defaultMinShards: env[ENV.onDemandMinShards] ?? 4,
      defaultMaxShards: env[ENV.onDemandMaxShards] ?? 64,
      scaleDownStabilizationMs: env[ENV.scaleDownStabilizationMs] ?? 300_000,
      scaleUpWindowMs: env[ENV.scaleUpWindowMs] ?? 10_000,
    },
  };
}
