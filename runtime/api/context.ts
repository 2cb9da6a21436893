// What every operation is handed: the store, this process's caches, settings.
import type { Store } from '../../stream/connect.js';
import type { StreamCache, CachedStream } from '../../stream/streamCache.js';
import type { ShardAppender } from '../../stream/shardAppender.js';
import type { IteratorCodec } from '../../stream/kinesis/iterator.js';
import type { RuntimeConfig } from '../config.js';
import type { KeyRing } from '../../stream/keyring.js';
import type { ShardUsage } from '../usage/shardUsage.js';
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
  /** Per-shard limits and metrics (ARCHITECTURE.md, "Per-shard limits and metrics"); absent: neither. */
  usage?: ShardUsage;
  /** The background half of create/delete/reshard (stream/lifecycleWorker.ts); absent: only the inline half runs here. */
  lifecycle?: LifecycleWorker;
}

export type Params = Record<string, any>;
export type Operation = (ctx: ApiContext, params: Params) => Promise<Record<string, unknown>>;

export const streamArn = (ctx: ApiContext, name: string) =>
  `arn:aws:kinesis:${ctx.config.region}:${ctx.config.accountId}:stream/${name}`;

const ARN_RE = /^arn:aws[a-z-]*:kinesis:([a-z0-9-]+):(\d{12}):stream\/(\S+)$/;

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
