import { retentionHorizonMs } from '../../../stream/retention.js';
import { expiredNextToken, invalidArgument, streamNotFound } from '../errors.js';
import { isKinesisName } from '../../../stream/names.js';
import { streamNameOf, type Operation } from '../context.js';
import { shardShape, visibleShards } from './describe.js';
import { shardFilter, type ShardFilterSpec } from './shardFilter.js';

const TOKEN_TTL_MS = 300_000;

interface ListShardsToken {
  stream: string;
  after: string;
  limit: number;
  filter?: ShardFilterSpec;
  issuedAtMs: number;
}

const FILTER_TYPES = new Set(['AFTER_SHARD_ID', 'AT_TRIM_HORIZON', 'FROM_TRIM_HORIZON', 'AT_LATEST', 'AT_TIMESTAMP', 'FROM_TIMESTAMP']);

/** A filter carried in a token: the shape the request validation would have let through. */
function validFilter(f: unknown): boolean {
  if (f === undefined) return true;
  if (f === null || typeof f !== 'object') return false;
  const x = f as Record<string, unknown>;
  return (
    typeof x.Type === 'string' && FILTER_TYPES.has(x.Type) &&
    (x.ShardId === undefined || typeof x.ShardId === 'string') &&
    (x.Timestamp === undefined || (typeof x.Timestamp === 'number' && Number.isFinite(x.Timestamp)))
  );
}

// The token is the client's to send back, so it is checked like any input:
// its stream name must be a name, its filter a filter.
function readToken(t: string): ListShardsToken {
  try {
    const v = JSON.parse(Buffer.from(t, 'base64').toString('utf8')) as ListShardsToken;
    if (
      v && typeof v.stream === 'string' && isKinesisName(v.stream) && typeof v.after === 'string' &&
      typeof v.issuedAtMs === 'number' && validFilter(v.filter)
    ) return v;
  } catch {
    // fall through
  }
  throw invalidArgument(`NextToken ${t} is invalid.`);
}

export const listShards: Operation = async (ctx, p) => {
  let name: string;
  let after = p.ExclusiveStartShardId as string | undefined;
  let filter: ShardFilterSpec | undefined = p.ShardFilter
    ? { ...p.ShardFilter, Timestamp: (p.ShardFilter.Timestamp as Date | undefined)?.getTime() }
    : undefined;
  if (p.NextToken !== undefined) {
    if (filter !== undefined) throw invalidArgument('NextToken and ShardFilter cannot be provided together.');
    if (p.StreamName !== undefined || p.StreamARN !== undefined) {
      throw invalidArgument('NextToken and StreamName cannot be provided together.');
    }
    const t = readToken(p.NextToken);
    if (Date.now() - t.issuedAtMs > TOKEN_TTL_MS) throw expiredNextToken(`The timestamp in NextToken has expired.`);
    name = t.stream;
    after = t.after;
    filter = t.filter;
  } else {
    name = streamNameOf(ctx, p);
  }
  const s = await ctx.cache.lookup(name); // the watched cache, not a KV read of the whole record
  if (!s) throw streamNotFound(name, ctx.config.accountId);
  const limit = (p.MaxResults as number | undefined) ?? 1000;
  const now = Date.now();
  // A young stream's trim horizon is its creation: nothing older exists.
  const horizon = Math.max(retentionHorizonMs(s.record, now), s.record.createdAtMs);
  const keep = filter ? shardFilter(filter, now, horizon) : () => true;
  const all = visibleShards(s.record, now)
    .sort((a, b) => a.index - b.index)
    .filter((x) => (after === undefined || x.shardId > after) && keep(x));
  const page = all.slice(0, limit);
  const more = all.length > limit;
  const next: ListShardsToken | undefined = more
    ? { stream: name, after: page[page.length - 1]!.shardId, limit, filter, issuedAtMs: now }
    : undefined;
  return {
    Shards: page.map(shardShape),
    NextToken: next ? Buffer.from(JSON.stringify(next)).toString('base64') : undefined,
  };
};
