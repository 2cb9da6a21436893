// EnableEnhancedMonitoring / DisableEnhancedMonitoring: the stream's set of
// shard-level metrics (ALL expands to the seven). The set is what the metrics
// exporter publishes per shard (enabledShardMetrics in stream/enhancedMonitoring.ts).
import { expandMetrics } from '../../../stream/enhancedMonitoring.js';
import { updateStream, StreamNotFoundError } from '../../../stream/streams.js';
import { resourceInUse, streamNotFound } from '../errors.js';
import { streamArn, streamNameOf, type ApiContext, type Operation, type Params } from '../context.js';

async function change(ctx: ApiContext, p: Params, enable: boolean): Promise<Record<string, unknown>> {
  const name = streamNameOf(ctx, p);
  const asked = expandMetrics(p.ShardLevelMetrics as string[]);
  let current: string[] = [];
  let desired: string[] = [];
  try {
    await updateStream(ctx.store, name, (r) => {
      if (r.status !== 'ACTIVE') {
        throw resourceInUse(`Stream ${name} under account ${ctx.config.accountId} not ACTIVE, instead in state ${r.status}`);
      }
      current = expandMetrics(r.enhancedMonitoring ?? []);
      desired = enable
        ? expandMetrics([...current, ...asked])
        : current.filter((m) => !asked.includes(m as (typeof asked)[number]));
      if (desired.length === current.length && desired.every((m, i) => m === current[i])) return undefined;
      return { ...r, enhancedMonitoring: desired };
    });
  } catch (e) {
    if (e instanceof StreamNotFoundError) throw streamNotFound(name, ctx.config.accountId);
    throw e;
  }
  await ctx.cache.fresh(name);
  return {
    StreamName: name,
    StreamARN: streamArn(ctx, name),
    CurrentShardLevelMetrics: current,
    DesiredShardLevelMetrics: desired,
  };
}

export const enableEnhancedMonitoring: Operation = (ctx, p) => change(ctx, p, true);
export const disableEnhancedMonitoring: Operation = (ctx, p) => change(ctx, p, false);
