// SplitShard, MergeShards, UpdateShardCount, UpdateStreamMode.
import { beginReshard, finishReshard, planMerge, planShardCount, planSplit, ReshardError, type ShardPlan } from '../../../stream/reshard.js';
import { inlineAllowed, inlineWork, tryInline } from '../lifecycle.js';
import { updateStream, StreamNotFoundError } from '../../../stream/streams.js';
import { openShards, type StreamRecord } from '../../../stream/streamRecord.js';
import { KinesisError, invalidArgument, limitExceeded, resourceInUse, resourceNotFound, streamNotFound } from '../errors.js';
import { streamArn, streamNameOf, type ApiContext, NO_OUTPUT, type Operation } from '../context.js';
import { resolveShardId } from '../shardIds.js';

function accountShards(ctx: ApiContext): number {
  let n = 0;
  for (const name of ctx.cache.names()) n += openShards(ctx.cache.get(name)!.record).length;
  return n;
}

function checkLimit(ctx: ApiContext, extra: number) {
  const cur = accountShards(ctx);
  if (cur + extra > ctx.config.shardLimit) {
    throw limitExceeded(
      `This request would exceed the shard limit for the account ${ctx.config.accountId} in ${ctx.config.region}. ` +
        `Current shard count for the account: ${cur}. Limit: ${ctx.config.shardLimit}. Number of additional shards that would have resulted from this request: ${extra}.`,
    );
  }
}

async function run(ctx: ApiContext, name: string, f: () => Promise<StreamRecord>): Promise<StreamRecord> {
  try {
    const r = await f();
    await ctx.cache.fresh(name);
    return r;
  } catch (e) {
    if (e instanceof ReshardError) {
      if (e.kind === 'ResourceNotFound') {
        throw e.missing === 'shard' ? resourceNotFound(e.message) : streamNotFound(name, ctx.config.accountId);
      }
      if (e.kind === 'ResourceInUse') {
        const s = await ctx.cache.fresh(name);
        throw resourceInUse(`Stream ${name} under account ${ctx.config.accountId} not ACTIVE, instead in state ${s?.record.status}`);
      }
      throw new KinesisError(`${e.kind}Exception`, e.message);
    }
    if (e instanceof StreamNotFoundError) throw streamNotFound(name, ctx.config.accountId);
    throw e;
  }
}

/** Begins the reshard (record UPDATING) and finishes it here when small, else in the background. */
async function reshardOp(ctx: ApiContext, name: string, plan: (r: StreamRecord) => ShardPlan): Promise<StreamRecord> {
  const begun = await beginReshard(ctx.store, name, plan);
  const children = begun.pendingShards?.length ?? 0;
  if (inlineAllowed(ctx, children, true)) await tryInline(ctx, `reshard of ${name}`, () => finishReshard(ctx.store, begun, inlineWork()));
  else ctx.lifecycle?.nudge();
  return begun;
}

/** A shard id argument in canonical form; "Could not find shard …" when it names no shard index. */
function shardArg(ctx: ApiContext, name: string, input: string): string {
  const id = resolveShardId(input);
  if (id === undefined) throw resourceNotFound(`Could not find shard ${input} in stream ${name} under account ${ctx.config.accountId}.`);
  return id;
}

export const splitShard: Operation = async (ctx, p) => {
  const name = streamNameOf(ctx, p);
  const shard = shardArg(ctx, name, p.ShardToSplit);
  checkLimit(ctx, 1);
  const account = ctx.config.accountId;
  await run(ctx, name, () => reshardOp(ctx, name, (r) => planSplit(r, shard, BigInt(p.NewStartingHashKey), account)));
  return NO_OUTPUT;
};

export const mergeShards: Operation = async (ctx, p) => {
  const name = streamNameOf(ctx, p);
  const a = shardArg(ctx, name, p.ShardToMerge);
  const b = shardArg(ctx, name, p.AdjacentShardToMerge);
  const account = ctx.config.accountId;
  await run(ctx, name, () => reshardOp(ctx, name, (r) => planMerge(r, a, b, account)));
  return NO_OUTPUT;
};

export const updateShardCount: Operation = async (ctx, p) => {
  const name = streamNameOf(ctx, p);
  const before = await ctx.cache.fresh(name);
  if (!before) throw streamNotFound(name, ctx.config.accountId);
  const current = openShards(before.record).length;
  const target = p.TargetShardCount as number;
  if (target > current) checkLimit(ctx, target - current);
  await run(ctx, name, () => reshardOp(ctx, name, planShardCount(name, target)));
  return { StreamName: name, StreamARN: streamArn(ctx, name), CurrentShardCount: current, TargetShardCount: target };
};

export const updateStreamMode: Operation = async (ctx, p) => {
  const name = streamNameOf(ctx, { StreamARN: p.StreamARN });
  const mode = p.StreamModeDetails?.StreamMode as 'PROVISIONED' | 'ON_DEMAND';
  if (mode === undefined) throw invalidArgument('StreamModeDetails.StreamMode must be specified.');
  await run(ctx, name, () =>
    updateStream(ctx.store, name, (r) => {
      if (r.status !== 'ACTIVE') throw new ReshardError('ResourceInUse', '');
      if (r.mode === mode) throw new ReshardError('InvalidArgument', `Stream ${name} is already in ${mode} mode.`);
      return { ...r, mode };
    }),
  );
  return NO_OUTPUT;
};
