// Runtime settings, from flags or SHARDLINE_* environment variables. One table
// (RUNTIME_OPTIONS) drives the CLI's flags and help, env lookup and checks;
// env names come from contract/env.ts (the contract with the operator), and
// the settings that are env-only are checked by its runtimeEnv schema.
import { Command } from 'commander';
import { ENV, runtimeEnv } from '../contract/env.js';
import { RUNTIME_PORT } from '../contract/ports.js';
import { NATS_AUTH_OPTIONS, natsAuthFromValues, type NatsAuth } from '../common/natsAuth.js';
import { addOptions, boolean, integer, OptionValueError, port, resolveOptions, text, type OptionSpec } from '../common/options.js';
import { DEFAULT_LIMITS, type ListenLimits } from './http/server.js';
import { DIRECT_PUT_QUOTA_DEFAULT, directPutLimitsOf, directPutQuotaSpec, type DirectPutLimits } from './usage/directPutQuota.js';

export interface RuntimeConfig {
  natsUrl: string;
  /** NATS credentials and TLS (common/natsAuth.ts). */
  natsAuth: NatsAuth;
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
  /** Firehose Direct PUT quota per delivery stream (PutRecord + PutRecordBatch); undefined: not enforced. */
  firehosePutQuota?: DirectPutLimits;
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
  /** Connection and header limits before authentication (runtime/http/server.ts). */
  limits: ListenLimits;
  /** A request body must arrive completely within this. */
  bodyTimeoutMs: number;
  /** Request body bytes the process holds at once; beyond it requests are throttled (LimitExceededException). */
  bodyBudgetBytes: number;
  /** One JSON line per request (request id, operation, stream, status, error, latency, caller). */
  accessLog: boolean;
  /** HTTPS: certificate and key files (PEM), re-read when they change. */
  tlsCertFile?: string;
  tlsKeyFile?: string;
  /** How long /readyz waits for JetStream to answer. */
  readyTimeoutMs: number;
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

const ms = integer(1, 86_400_000, 'milliseconds');
const count = integer(1, 1_000_000);
const bytes = integer(1, 2 ** 40, 'a byte count');

/** Flag → env → default, in the order `shardline runtime --help` lists them. */
export const RUNTIME_OPTIONS: OptionSpec[] = [
  { flag: '--nats <urls>', env: ENV.natsUrl, description: 'NATS server URL(s), comma-separated', parse: text, default: 'nats://127.0.0.1:4222' },
  ...NATS_AUTH_OPTIONS,
  { flag: '--port <n>', env: ENV.port, description: 'Kinesis API port (0: any free port)', parse: port, default: RUNTIME_PORT },
  { flag: '--host <address>', env: ENV.host, description: 'address to listen on', parse: text, default: '0.0.0.0' },
  { flag: '--workers <n>', env: ENV.workers, description: 'runtime processes sharing the port', parse: integer(1, 256), default: 1 },
  { flag: '--region <region>', env: ENV.region, description: 'region in ARNs', parse: text, default: 'us-east-1' },
  { flag: '--account <id>', env: ENV.accountId, description: '12-digit account id in ARNs', parse: text, default: '000000000000' },
  { flag: '--replicas <n>', env: ENV.replicas, description: 'JetStream replicas of the metadata buckets (1 or 3)', parse: integer(1, 5), default: 1 },
  { flag: '--credentials-file <path>', env: ENV.credentialsFile, description: 'SigV4 access keys (file or Secret directory); turns auth on', parse: text },
  { flag: '--kms-keys-file <path>', env: ENV.kmsKeysFile, description: 'encryption keys (file or Secret directory)', parse: text },
  { flag: '--tls-cert <file>', env: ENV.tlsCertFile, description: 'serve HTTPS (h2 and HTTP/1.1 by ALPN) with this PEM certificate chain', parse: text },
  { flag: '--tls-key <file>', env: ENV.tlsKeyFile, description: 'PEM private key of --tls-cert', parse: text },
  { flag: '--access-log <bool>', env: ENV.accessLog, description: 'one JSON log line per request', parse: boolean, default: true },
  { flag: '--iterator-ttl-ms <ms>', env: ENV.iteratorTtlMs, description: 'shard iterator lifetime', parse: ms, default: 300_000 },
  { flag: '--shard-limit <n>', env: ENV.shardLimit, description: 'open shards allowed in the account', parse: count, default: 500 },
  {
    flag: '--firehose-put-quota <spec>',
    env: ENV.firehosePutQuota,
    description: "Firehose Direct PUT quota per delivery stream, over PutRecord and PutRecordBatch: records/s,requests/s,bytes/s (AWS's us-east-1 default), or off",
    parse: directPutQuotaSpec,
    default: DIRECT_PUT_QUOTA_DEFAULT,
  },
  { flag: '--max-body-bytes <n>', env: ENV.maxBodyBytes, description: 'largest request body (413 above)', parse: bytes, default: 20 * 1024 * 1024 },
  { flag: '--body-budget-bytes <n>', env: ENV.bodyBudgetBytes, description: 'request body bytes held at once by the process; beyond it requests get LimitExceededException', parse: bytes, default: 256 * 1024 * 1024 },
  { flag: '--body-timeout-ms <ms>', env: ENV.bodyTimeoutMs, description: 'deadline for a whole request body', parse: ms, default: 30_000 },
  { flag: '--headers-timeout-ms <ms>', env: ENV.headersTimeoutMs, description: 'deadline for request headers (HTTP/1.1)', parse: ms, default: DEFAULT_LIMITS.headersTimeoutMs },
  { flag: '--idle-timeout-ms <ms>', env: ENV.idleTimeoutMs, description: 'keep-alive connection / h2 session idle timeout', parse: ms, default: DEFAULT_LIMITS.idleTimeoutMs },
  { flag: '--sniff-timeout-ms <ms>', env: ENV.sniffTimeoutMs, description: 'deadline for a new connection\'s first bytes or TLS handshake', parse: ms, default: DEFAULT_LIMITS.sniffTimeoutMs },
  { flag: '--max-connections <n>', env: ENV.maxConnections, description: 'open connections per process (default: from the open-file limit)', parse: count, default: DEFAULT_LIMITS.maxConnections },
  { flag: '--h2-max-streams <n>', env: ENV.h2MaxStreams, description: 'concurrent streams per h2 connection', parse: count, default: DEFAULT_LIMITS.h2MaxConcurrentStreams },
  { flag: '--ready-timeout-ms <ms>', env: ENV.readyTimeoutMs, description: 'how long /readyz waits for JetStream', parse: ms, default: 2000 },
];

/** Settings from parsed flag values (commander's, keyed by attribute name) plus the env-only settings. */
export function configFromValues(v: Record<string, any>): RuntimeConfig {
  const parsed = runtimeEnv.safeParse(process.env);
  if (!parsed.success) throw new OptionValueError(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
  const env = parsed.data;
  return {
    natsUrl: v.nats,
    natsAuth: natsAuthFromValues(v),
    port: v.port,
    host: v.host,
    region: v.region,
    accountId: v.account,
    replicas: v.replicas,
    credentialsFile: v.credentialsFile,
    credentials: env[ENV.credentials],
    iteratorTtlMs: v.iteratorTtlMs,
    shardLimit: v.shardLimit,
    onDemandStreamCountLimit: env[ENV.onDemandStreamLimit] ?? 50,
    firehosePutQuota: directPutLimitsOf(v.firehosePutQuota),
    maxBodyBytes: v.maxBodyBytes,
    kmsKeysFile: v.kmsKeysFile || undefined,
    kmsKeys: env[ENV.kmsKeys],
    subscriptionMs: env[ENV.subscriptionMs] ?? 300_000,
    consumerTransitionMs: env[ENV.consumerTransitionMs] ?? 500,
    inlineShards: env[ENV.inlineShards] ?? 64,
    workers: v.workers,
    limits: {
      ...DEFAULT_LIMITS,
      headersTimeoutMs: v.headersTimeoutMs,
      idleTimeoutMs: v.idleTimeoutMs,
      sniffTimeoutMs: v.sniffTimeoutMs,
      maxConnections: v.maxConnections,
      h2MaxConcurrentStreams: v.h2MaxStreams,
      // The HTTP/1.1 whole-request backstop: headers, then the body.
      requestTimeoutMs: v.headersTimeoutMs + v.bodyTimeoutMs,
    },
    bodyTimeoutMs: v.bodyTimeoutMs,
    bodyBudgetBytes: v.bodyBudgetBytes,
    accessLog: v.accessLog,
    tlsCertFile: v.tlsCert,
    tlsKeyFile: v.tlsKey,
    readyTimeoutMs: v.readyTimeoutMs,
    autoscale: {
      enabled: env[ENV.autoscale] !== 'off',
      defaultMinShards: env[ENV.onDemandMinShards] ?? 4,
      defaultMaxShards: env[ENV.onDemandMaxShards] ?? 64,
      scaleDownStabilizationMs: env[ENV.scaleDownStabilizationMs] ?? 300_000,
      scaleUpWindowMs: env[ENV.scaleUpWindowMs] ?? 10_000,
    },
  };
}

/** The commander command `shardline runtime` (flags from RUNTIME_OPTIONS). */
export function runtimeCommand(name = 'runtime'): Command {
  return addOptions(new Command(name), RUNTIME_OPTIONS);
}

/** Parses runtime flags (as `shardline runtime` does) for tests and `dev`; throws on bad input. */
export function runtimeConfig(args: string[] = []): RuntimeConfig {
  const cmd = runtimeCommand().exitOverride().configureOutput({ writeErr: () => undefined });
  cmd.parse(args, { from: 'user' });
  return configFromValues(resolveOptions(RUNTIME_OPTIONS, cmd.opts(), cmd));
}
