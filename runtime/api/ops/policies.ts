// PutResourcePolicy / GetResourcePolicy / DeleteResourcePolicy for a stream or
// a registered consumer. Policies live in the stream record; their Deny
// statements are enforced by api/resourcePolicy.ts, Allow statements are stored only.
import { updateStream, StreamNotFoundError } from '../../../stream/streams.js';
import type { StreamRecord } from '../../../stream/streamRecord.js';
import { invalidArgument, resourceInUse, resourceNotFound, streamNotFound } from '../errors.js';
import { NO_OUTPUT, type ApiContext, type Operation, type Params } from '../context.js';
import { parseResourceArn, validatePolicy, type ResourceRef } from '../resourcePolicy.js';

interface ConsumerLike {
  name: string;
  createdAtMs: number;
}

function resourceOf(ctx: ApiContext, p: Params): ResourceRef {
  const arn = p.ResourceARN as string;
  const r = parseResourceArn(arn);
  if (!r) throw invalidArgument(`ResourceARN ${arn} is invalid.`);
  if (r.account !== ctx.config.accountId || r.region !== ctx.config.region) throw streamNotFound(r.stream, r.account);
  return r;
}

/** The consumer `<name>:<creation seconds>` must be registered on the stream. */
function checkConsumer(ctx: ApiContext, rec: StreamRecord, ref: ResourceRef): void {
  if (ref.consumer === undefined) return;
  const colon = ref.consumer.lastIndexOf(':');
  const name = ref.consumer.slice(0, colon);
  const sec = Number(ref.consumer.slice(colon + 1));
  const consumers = (rec as { consumers?: ConsumerLike[] }).consumers ?? [];
  if (!consumers.some((c) => c.name === name && Math.floor(c.createdAtMs / 1000) === sec)) {
    throw resourceNotFound(`Consumer ${name} under stream ${ref.stream} and account ${ctx.config.accountId} not found.`);
  }
}

async function setPolicy(ctx: ApiContext, ref: ResourceRef, policy: string | undefined): Promise<void> {
  try {
    await updateStream(ctx.store, ref.stream, (r) => {
      if (r.status === 'CREATING' || r.status === 'DELETING') {
        throw resourceInUse(`Stream ${ref.stream} under account ${ctx.config.accountId} not ACTIVE, instead in state ${r.status}`);
      }
      checkConsumer(ctx, r, ref);
      const next = { ...r };
      if (ref.consumer === undefined) {
        if (policy === undefined) delete next.resourcePolicy;
        else next.resourcePolicy = policy;
        if (r.resourcePolicy === next.resourcePolicy) return undefined;
      } else {
        const all = { ...(r.consumerPolicies ?? {}) };
        if (policy === undefined) delete all[ref.consumer];
        else all[ref.consumer] = policy;
        if (r.consumerPolicies?.[ref.consumer] === all[ref.consumer]) return undefined;
        if (Object.keys(all).length === 0) delete next.consumerPolicies;
        else next.consumerPolicies = all;
      }
      return next;
    });
  } catch (e) {
    if (e instanceof StreamNotFoundError) throw streamNotFound(ref.stream, ctx.config.accountId);
    throw e;
  }
  await ctx.cache.fresh(ref.stream);
}

export const putResourcePolicy: Operation = async (ctx, p) => {
  const ref = resourceOf(ctx, p);
  const policy = p.Policy as string;
  validatePolicy(policy);
  await setPolicy(ctx, ref, policy);
  return NO_OUTPUT;
};

export const deleteResourcePolicy: Operation = async (ctx, p) => {
  await setPolicy(ctx, resourceOf(ctx, p), undefined);
  return NO_OUTPUT;
};

export const getResourcePolicy: Operation = async (ctx, p) => {
  const ref = resourceOf(ctx, p);
  const s = await ctx.cache.fresh(ref.stream);
  if (!s) throw streamNotFound(ref.stream, ctx.config.accountId);
  checkConsumer(ctx, s.record, ref);
  const policy = ref.consumer === undefined ? s.record.resourcePolicy : s.record.consumerPolicies?.[ref.consumer];
  // No policy attached: an empty document, as Kinesis answers.
  return { Policy: policy ?? '{}' };
};
