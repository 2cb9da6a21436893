// Stream lifecycle: create, delete, describe, list, retention, limits.
import {
  beginStream, finishCreate, finishDelete, markDeleting, setRetention, StreamExistsError,
} from '../../../stream/streams.js';
import { inlineAllowed, inlineWork, tryInline } from '../lifecycle.js';
import { ON_DEMAND_INITIAL_SHARDS, openShards, DEFAULT_RETENTION_HOURS } from '../../../stream/streamRecord.js';
import { invalidArgument, limitExceeded, resourceInUse, streamNotFound } from '../errors.js';
import { requireStream, streamArn, streamNameOf, type ApiContext, NO_OUTPUT, type Operation, type Params } from '../context.js';
import { shardShape, streamSummaryShape, visibleShards } from './describe.js';
import { liveConsumers } from '../../../stream/consumers.js';

async function accountOpenShards(ctx: ApiContext): Promise<{ shards: number; onDemandStreams: number }> {
  let shards = 0;
  let onDemandStreams = 0;
  for (const name of ctx.cache.names()) {
    const s = ctx.cache.get(name);
    if (!s) continue;
    shards += openShards(s.record).length;
    if (s.record.mode === 'ON_DEMAND') onDemandStreams++;
  }
  return { shards, onDemandStreams };
}

export const createStream: Operation = async (ctx, p) => {
  const mode = (p.StreamModeDetails?.StreamMode as 'PROVISIONED' | 'ON_DEMAND' | undefined) ?? 'PROVISIONED';
  let shardCount = p.ShardCount as number | undefined;
  if (mode === 'PROVISIONED' && shardCount === undefined) {
    throw invalidArgument('ShardCount is required for a PROVISIONED stream.');
  }
  if (mode === 'ON_DEMAND') {
    if (shardCount !== undefined) throw invalidArgument('ShardCount must not be specified for an ON_DEMAND stream.');
    shardCount = ON_DEMAND_INITIAL_SHARDS;
  }
  const account = await accountOpenShards(ctx);
  if (account.shards + shardCount! > ctx.config.shardLimit) {
    throw limitExceeded(
      `This request would exceed the shard limit for the account ${ctx.config.accountId} in ${ctx.config.region}. ` +
        `Current shard count for the account: ${account.shards}. Limit: ${ctx.config.shardLimit}. ` +
        `Number of additional shards that would have resulted from this request: ${shardCount}. ` +
        `Refer to the AWS Service Limits page (http://docs.aws.amazon.com/general/latest/gr/aws_service_limits.html) for current limits and how to request higher limits.`,
    );
  }
  if (mode === 'ON_DEMAND' && account.onDemandStreams >= ctx.config.onDemandStreamCountLimit) {
    throw limitExceeded(`This request would exceed the on-demand stream count limit of ${ctx.config.onDemandStreamCountLimit} for the account ${ctx.config.accountId}.`);
  }
  const tags = (p.Tags as Record<string, string> | undefined) ?? {};
  try {
    // The record (CREATING) is the answer's promise; the shard streams follow here or in the background.
    const rec = await beginStream(
      ctx.store,
      { name: p.StreamName, shardCount: shardCount!, mode, retentionHours: DEFAULT_RETENTION_HOURS, replicas: ctx.store.replicas === 3 ? 3 : 1, tags, maxRecordSizeKiB: p.MaxRecordSizeInKiB },
      { mustBeNew: true },
    );
    if (inlineAllowed(ctx, shardCount!, true)) await tryInline(ctx, `CreateStream ${rec.name}`, () => finishCreate(ctx.store, rec, inlineWork()));
    else ctx.lifecycle?.nudge();
  } catch (e) {
    if (e instanceof StreamExistsError) {
      throw resourceInUse(`Stream ${p.StreamName} under account ${ctx.config.accountId} already exists.`);
    }
    throw e;
  }
  await ctx.cache.fresh(p.StreamName);
  return NO_OUTPUT;
};

export const deleteStreamOp: Operation = async (ctx, p) => {
  const name = streamNameOf(ctx, p);
  const s = await ctx.cache.fresh(name);
  if (!s) throw streamNotFound(name, ctx.config.accountId);
  if (s.record.status === 'CREATING' || s.record.status === 'UPDATING') {
    throw resourceInUse(`Stream ${name} under account ${ctx.config.accountId} not ACTIVE, instead in state ${s.record.status}`);
  }
  // A consumer already DELETING (DeregisterStreamConsumer) does not count: it is on its way out.
  const registered = liveConsumers(s.record, Date.now(), ctx.config.consumerTransitionMs).filter((c) => c.status !== 'DELETING');
  if (p.EnforceConsumerDeletion !== true && registered.length > 0) {
    throw resourceInUse(`Stream ${name} under account ${ctx.config.accountId} has registered consumers. Set EnforceConsumerDeletion to delete it with them.`);
  }
  const rec = await markDeleting(ctx.store, name);
  if (rec && inlineAllowed(ctx, rec.shards.length, false)) await tryInline(ctx, `DeleteStream ${name}`, () => finishDelete(ctx.store, rec));
  else ctx.lifecycle?.nudge();
  await ctx.cache.fresh(name);
  return NO_OUTPUT;
};

function pageShards(all: ReturnType<typeof visibleShards>, exclusiveStart: string | undefined, limit: number) {
  const from = exclusiveStart === undefined ? 0 : all.findIndex((s) => s.shardId > exclusiveStart);
  const rest = from < 0 ? [] : all.slice(from);
  return { page: rest.slice(0, limit), more: rest.length > limit };
}

export const describeStream: Operation = async (ctx, p) => {
  const name = streamNameOf(ctx, p);
  // From the watched cache: a KV read of a 1,000-shard record is ~270 KB per call.
  const s = await ctx.cache.lookup(name);
  if (!s) throw streamNotFound(name, ctx.config.accountId);
  const r = s.record;
  const shards = visibleShards(r, Date.now()).sort((a, b) => a.index - b.index);
  const { page, more } = pageShards(shards, p.ExclusiveStartShardId, p.Limit ?? 100);
  const summary = streamSummaryShape(ctx, r);
  return {
    StreamDescription: {
      StreamName: r.name,
      StreamARN: summary.StreamARN,
      StreamStatus: r.status,
      StreamModeDetails: summary.StreamModeDetails,
      Shards: page.map(shardShape),
      HasMoreShards: more,
      RetentionPeriodHours: r.retentionHours,
      StreamCreationTimestamp: summary.StreamCreationTimestamp,
      EnhancedMonitoring: summary.EnhancedMonitoring,
      EncryptionType: r.encryption.type,
      KeyId: r.encryption.keyId,
    },
  };
};

export const describeStreamSummary: Operation = async (ctx, p) => {
  const s = await ctx.cache.lookup(streamNameOf(ctx, p));
  if (!s) throw streamNotFound(streamNameOf(ctx, p), ctx.config.accountId);
  return { StreamDescriptionSummary: streamSummaryShape(ctx, s.record) };
};

const encodeToken = (v: object) => Buffer.from(JSON.stringify(v)).toString('base64');
function decodeToken(t: string): Record<string, any> {
  try {
    const v = JSON.parse(Buffer.from(t, 'base64').toString('utf8'));
    if (v && typeof v === 'object') return v;
  } catch {
    // fall through
  }
  throw invalidArgument(`NextToken ${t} is invalid.`);
}

export const listStreams: Operation = async (ctx, p: Params) => {
  const limit = (p.Limit as number | undefined) ?? 100;
  let after = p.ExclusiveStartStreamName as string | undefined;
  if (p.NextToken !== undefined) after = decodeToken(p.NextToken).after;
  const names = ctx.cache.names().filter((n) => after === undefined || n > after);
  const page = names.slice(0, limit);
  const more = names.length > limit;
  const summaries = page.flatMap((n) => {
    const r = ctx.cache.get(n)?.record;
    return r
      ? [{ StreamName: r.name, StreamARN: streamArn(ctx, r.name), StreamStatus: r.status, StreamModeDetails: { StreamMode: r.mode }, StreamCreationTimestamp: new Date(r.createdAtMs) }]
      : [];
  });
  return {
    StreamNames: page,
    HasMoreStreams: more,
    NextToken: more ? encodeToken({ after: page[page.length - 1] }) : undefined,
    StreamSummaries: summaries,
  };
};

async function changeRetention(ctx: ApiContext, p: Params, direction: 'increase' | 'decrease') {
  const name = streamNameOf(ctx, p);
  const s = await ctx.cache.fresh(name);
  if (!s) throw streamNotFound(name, ctx.config.accountId);
  const hours = p.RetentionPeriodHours as number;
  const cur = s.record.retentionHours;
  if (s.record.status !== 'ACTIVE') {
    throw resourceInUse(`Stream ${name} under account ${ctx.config.accountId} not ACTIVE, instead in state ${s.record.status}`);
  }
  if (hours < 24 || hours > 8760) {
    throw invalidArgument(`Minimum allowed retention period is 24 hours. Maximum allowed retention period is 8760 hours.Requested retention period (${hours} hours) is ${hours < 24 ? 'too short' : 'too long'}.`);
  }
  if (direction === 'increase' && hours < cur) {
    throw invalidArgument(`Requested retention period (${hours} hours) for stream ${name} can not be shorter than existing retention period (${cur} hours). Use DecreaseRetentionPeriod API.`);
  }
  if (direction === 'decrease' && hours > cur) {
    throw invalidArgument(`Requested retention period (${hours} hours) for stream ${name} can not be longer than existing retention period (${cur} hours). Use IncreaseRetentionPeriod API.`);
  }
  await setRetention(ctx.store, name, hours);
  await ctx.cache.fresh(name);
  return NO_OUTPUT;
}

export const increaseRetention: Operation = (ctx, p) => changeRetention(ctx, p, 'increase');
export const decreaseRetention: Operation = (ctx, p) => changeRetention(ctx, p, 'decrease');

export const describeLimits: Operation = async (ctx) => {
  const a = await accountOpenShards(ctx);
  return {
    ShardLimit: ctx.config.shardLimit,
    OpenShardCount: a.shards,
    OnDemandStreamCount: a.onDemandStreams,
    OnDemandStreamCountLimit: ctx.config.onDemandStreamCountLimit,
  };
};
