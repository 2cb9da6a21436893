// What every operation is handed: the store, this process's caches, settings.
import type { Store } from '../../stream/connect.js';
import type { StreamCache, CachedStream } from '../../stream/streamCache.js';
import type { ShardAppender } from '../../stream/shardAppender.js';
import type { IteratorCodec } from '../../stream/kinesis/iterator.js';
import type { RuntimeConfig } from '../config.js';
import type { KeyRing } from '../../stream/keyring.js';
import type { StoreKeys } from '../../stream/storeKeys.js';
import type { ShardUsage } from '../usage/shardUsage.js';
import type { DirectPutQuota } from '../usage/directPutQuota.js';
import type { LifecycleWorker } from '../../stream/lifecycleWorker.js';
import { invalidArgument, streamNotFound } from './errors.js';

export interface ApiContext {
  store: Store;
  cache: StreamCache;
  appender: ShardAppender;
  iterators: IteratorCodec;
  config: RuntimeConfig;
  /** Encryption keys (stand-in for KMS); absent: the SHARDLINE_KMS_KEYS* environment's. */
  keys?: KeyRing;
  /** The default key and kept key materials in JetStream (stream/storeKeys.ts); absent: Secret keys only. */
  storeKeys?: StoreKeys;
  /** Per-shard limits and metrics (docs/quotas-and-metrics.md); absent: neither. */
  usage?: ShardUsage;
  /** Firehose Direct PUT quota per delivery stream (runtime/usage/directPutQuota.ts); absent: not enforced. */
  directPut?: DirectPutQuota;
  /** Counters of the process's /metrics that operations add to (RuntimeMetrics, runtime/usage/metrics.ts); absent: nothing is counted. */
  metrics?: { throttledRecords(deliveryStream: string, records: number): void };
  /** The background half of create/delete/reshard (stream/lifecycleWorker.ts); absent: only the inline half runs here. */
  lifecycle?: LifecycleWorker;
  /** The process log (one line a message); absent: nothing is logged. */
  log?: (msg: string) => void;
}

export type Params = Record<string, any>;
/**
 * An operation's output; NO_OUTPUT for the operations AWS documents without an
 * output shape, which answer with an empty body (CreateStream, DeleteStream, …).
 */
export type Operation = (ctx: ApiContext, params: Params) => Promise<Record<string, unknown> | typeof NO_OUTPUT>;
export const NO_OUTPUT = undefined;

export const streamArn = (ctx: ApiContext, name: string) =>
  `arn:aws:kinesis:${ctx.config.region}:${ctx.config.accountId}:stream/${name}`;

// The name part is held to the stream-name rule (1-128 of [a-zA-Z0-9_.-]): the
// model's StreamARN pattern (`stream/\S+`) lets through names no stream can
// have, which must be answered as a client error, never reach a KV key.
const ARN_RE = /^arn:aws[a-z-]*:kinesis:([a-z0-9-]+):(\d{12}):stream\/([a-zA-Z0-9_.-]{1,128})$/;

/** The stream a request names by StreamName or StreamARN (both: they must agree). */
export function streamNameOf(ctx: ApiContext, p: Params): string {
  const arn = p.StreamARN as string | undefined;
  const name = p.StreamName as string | undefined;
  if (arn !== undefined) {
    const m = ARN_RE.exec(arn);
    if (!m) throw invalidArgument(`StreamARN ${arn} is invalid.`);
    if (m[2] !== ctx.config.accountId || m[1] !== ctx.config.region) throw streamNotFound(m[3]!, m[2]!);
    if (name !== undefined && name !== m[3]) throw invalidArgument('StreamARN and StreamName do not refer to the same stream.');
    return m[3]!;
  }
  if (name === undefined) throw invalidArgument('Either StreamName or StreamARN should be provided.');
  return name;
}

/** The stream's cached record, or ResourceNotFoundException. */
export async function requireStream(ctx: ApiContext, name: string): Promise<CachedStream> {
  const s = await ctx.cache.lookup(name);
  if (!s) throw streamNotFound(name, ctx.config.accountId);
  return s;
}
