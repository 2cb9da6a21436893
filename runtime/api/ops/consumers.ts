// Enhanced fan-out consumers: Register, Deregister, Describe, ListStreamConsumers.
// ARNs as AWS forms them: <stream ARN>/consumer/<name>:<creation epoch seconds>.
import {
  ConsumerError, deregisterConsumer, liveConsumers, registerConsumer, MAX_CONSUMERS_PER_STREAM, type ConsumerView,
} from '../../../stream/consumers.js';
import { StreamNotFoundError } from '../../../stream/streams.js';
import type { StreamRecord } from '../../../stream/streamRecord.js';
import { invalidArgument, KinesisError, limitExceeded, resourceInUse, resourceNotFound, streamNotFound } from '../errors.js';
import { streamArn, streamNameOf, type ApiContext, NO_OUTPUT, type Operation, type Params } from '../context.js';

const CONSUMER_ARN_RE = /^arn:aws[a-z-]*:kinesis:([a-z0-9-]+):(\d{12}):stream\/([a-zA-Z0-9_.-]{1,128})\/consumer\/([a-zA-Z0-9_.-]{1,128}):(\d{1,12})$/;

export const creationSeconds = (createdAtMs: number) => Math.floor(createdAtMs / 1000);

export const consumerArn = (ctx: ApiContext, stream: string, c: { name: string; createdAtMs: number }) =>
  `${streamArn(ctx, stream)}/consumer/${c.name}:${creationSeconds(c.createdAtMs)}`;

export interface ParsedConsumerArn {
  stream: string;
  consumer: string;
  createdSec: number;
}

export function parseConsumerArn(ctx: ApiContext, arn: string): ParsedConsumerArn {
  const m = CONSUMER_ARN_RE.exec(arn);
  if (!m) throw invalidArgument(`ConsumerARN ${arn} is invalid.`);
  if (m[1] !== ctx.config.region || m[2] !== ctx.config.accountId) throw consumerNotFound(ctx, m[3]!, m[4]!);
  return { stream: m[3]!, consumer: m[4]!, createdSec: Number(m[5]) };
}

export const consumerNotFound = (ctx: ApiContext, stream: string, consumer: string) =>
  resourceNotFound(`Consumer ${consumer} under stream ${stream} and account ${ctx.config.accountId} not found.`);

export const consumerNotActive = (ctx: ApiContext, stream: string, c: { name: string; createdAtMs: number }) =>
  resourceInUse(
    `Consumer ${c.name} with creation timestamp ${creationSeconds(c.createdAtMs)} under stream ${stream} and account ${ctx.config.accountId} is not in ACTIVE status.`,
  );

export interface ResolvedConsumer {
  stream: StreamRecord;
  consumer: ConsumerView;
}

/**
 * The consumer a request names: ConsumerARN, or StreamARN and ConsumerName.
 * `fresh` reads the stream record from KV; otherwise the cache is used and KV
 * only when the cache does not know the consumer yet.
 */
export async function resolveConsumer(ctx: ApiContext, p: Params, fresh: boolean): Promise<ResolvedConsumer> {
  let streamName: string;
  let consumerName: string;
  let createdSec: number | undefined;
  if (p.ConsumerARN !== undefined) {
    const parsed = parseConsumerArn(ctx, p.ConsumerARN as string);
    streamName = parsed.stream;
    consumerName = parsed.consumer;
    createdSec = parsed.createdSec;
  } else if (p.StreamARN !== undefined && p.ConsumerName !== undefined) {
    streamName = streamNameOf(ctx, { StreamARN: p.StreamARN });
    consumerName = p.ConsumerName as string;
  } else {
    throw invalidArgument('ConsumerARN or both ConsumerName and StreamARN are required for this request.');
  }
  const find = (rec: StreamRecord | undefined) =>
    rec &&
    liveConsumers(rec, Date.now(), ctx.config.consumerTransitionMs).find(
      (c) => c.name === consumerName && (createdSec === undefined || creationSeconds(c.createdAtMs) === createdSec),
    );
  let s = fresh ? await ctx.cache.fresh(streamName) : await ctx.cache.lookup(streamName);
  let consumer = find(s?.record);
  if (!consumer && !fresh) {
    s = await ctx.cache.fresh(streamName);
    consumer = find(s?.record);
  }
  if (!s) throw p.ConsumerARN !== undefined ? consumerNotFound(ctx, streamName, consumerName) : streamNotFound(streamName, ctx.config.accountId);
  if (!consumer) throw consumerNotFound(ctx, streamName, consumerName);
  return { stream: s.record, consumer };
}

function mapConsumerError(e: unknown, ctx: ApiContext, stream: string): never {
  if (e instanceof StreamNotFoundError) throw streamNotFound(stream, ctx.config.accountId);
  if (e instanceof ConsumerError) {
    if (e.kind === 'LimitExceeded') throw limitExceeded(e.message);
    if (e.kind === 'ResourceInUse') throw resourceInUse(e.message);
    throw resourceNotFound(e.message);
  }
  throw e;
}

const consumerShape = (ctx: ApiContext, stream: string, c: ConsumerView) => ({
  ConsumerName: c.name,
  ConsumerARN: consumerArn(ctx, stream, c),
  ConsumerStatus: c.status,
  ConsumerCreationTimestamp: new Date(creationSeconds(c.createdAtMs) * 1000),
});

export const registerStreamConsumer: Operation = async (ctx, p) => {
  const stream = streamNameOf(ctx, { StreamARN: p.StreamARN });
  const name = p.ConsumerName as string;
  const account = ctx.config.accountId;
  try {
    const { consumer } = await registerConsumer(ctx.store, stream, name, {
      transitionMs: ctx.config.consumerTransitionMs,
      tags: p.Tags as Record<string, string> | undefined,
      messages: {
        exists: `Consumer ${name} under stream ${stream} already exists for account ${account}.`,
        limit: `This request would exceed the limit of ${MAX_CONSUMERS_PER_STREAM} consumers for stream ${stream} under account ${account}.`,
        streamNotActive: (status) => `Stream ${stream} under account ${account} not ACTIVE, instead in state ${status}`,
      },
    });
    await ctx.cache.fresh(stream);
    return { Consumer: consumerShape(ctx, stream, { name: consumer.name, createdAtMs: consumer.createdAtMs, status: 'CREATING' }) };
  } catch (e) {
    mapConsumerError(e, ctx, stream);
  }
};

export const deregisterStreamConsumer: Operation = async (ctx, p) => {
  const { stream, consumer } = await resolveConsumer(ctx, p, true);
  try {
    const done = await deregisterConsumer(
      ctx.store,
      stream.name,
      (c) => c.name === consumer.name && c.createdAtMs === consumer.createdAtMs,
      { transitionMs: ctx.config.consumerTransitionMs, notActive: (c) => consumerNotActive(ctx, stream.name, c).message },
    );
    if (!done) throw consumerNotFound(ctx, stream.name, consumer.name);
  } catch (e) {
    if (e instanceof KinesisError) throw e;
    mapConsumerError(e, ctx, stream.name);
  }
  await ctx.cache.fresh(stream.name);
  return NO_OUTPUT;
};

export const describeStreamConsumer: Operation = async (ctx, p) => {
  const { stream, consumer } = await resolveConsumer(ctx, p, true);
  return { ConsumerDescription: { ...consumerShape(ctx, stream.name, consumer), StreamARN: streamArn(ctx, stream.name) } };
};

const encodeToken = (v: object) => Buffer.from(JSON.stringify(v)).toString('base64');
function decodeToken(t: string): { uid: string; at: number; after: string } {
  try {
    const v = JSON.parse(Buffer.from(t, 'base64').toString('utf8'));
    if (v && typeof v.uid === 'string' && typeof v.at === 'number' && typeof v.after === 'string') return v;
  } catch {
    // fall through
  }
  throw invalidArgument(`NextToken ${t} is invalid.`);
}

const byCreation = (a: ConsumerView, b: ConsumerView) => a.createdAtMs - b.createdAtMs || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

export const listStreamConsumers: Operation = async (ctx, p) => {
  const name = streamNameOf(ctx, { StreamARN: p.StreamARN });
  const s = await ctx.cache.fresh(name);
  if (!s) throw streamNotFound(name, ctx.config.accountId);
  const rec = s.record;
  const created = p.StreamCreationTimestamp as Date | undefined;
  if (created && creationSeconds(created.getTime()) !== creationSeconds(rec.createdAtMs)) {
    throw streamNotFound(name, ctx.config.accountId);
  }
  let all = liveConsumers(rec, Date.now(), ctx.config.consumerTransitionMs).sort(byCreation);
  if (p.NextToken !== undefined) {
    const t = decodeToken(p.NextToken as string);
    if (t.uid !== rec.uid) throw invalidArgument(`NextToken ${p.NextToken} is invalid.`);
    all = all.filter((c) => c.createdAtMs > t.at || (c.createdAtMs === t.at && c.name > t.after));
  }
  const limit = (p.MaxResults as number | undefined) ?? 100;
  const page = all.slice(0, limit);
  return {
    Consumers: page.map((c) => consumerShape(ctx, name, c)),
    NextToken: all.length > limit ? encodeToken({ uid: rec.uid, at: page[page.length - 1]!.createdAtMs, after: page[page.length - 1]!.name }) : undefined,
  };
};
