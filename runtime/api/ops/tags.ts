// Stream tags, addressed by stream (…TagsForStream) or by ARN (…Resource).
import { updateStream, StreamNotFoundError } from '../../../stream/streams.js';
import { invalidArgument, streamNotFound, resourceNotFound } from '../errors.js';
import { streamNameOf, type ApiContext, NO_OUTPUT, type Operation, type Params } from '../context.js';

const MAX_TAGS = 50;
const BAD_CHARS = /[^\u00C0-\u1FFF\u2C00-\uD7FF\w./\-=+_ @%:]/;
const ILLEGAL =
  " because some tags contained illegal characters. The allowed characters are Unicode letters, white-spaces, '_',',','/','=','+','-','@',':'.";

function checkChars(ctx: ApiContext, name: string, strings: string[], verb: 'add tags to' | 'remove tags from') {
  if (strings.some((k) => BAD_CHARS.test(k))) {
    throw invalidArgument('Some tags contain invalid characters. Valid characters: Unicode letters, digits, white space, _ . / = + - % @ :.');
  }
  if (strings.some((k) => k.includes('%'))) {
    throw invalidArgument(`Failed to ${verb} stream ${name} under account ${ctx.config.accountId}${ILLEGAL}`);
  }
}

/** Kinesis answers ResourceNotFoundException for a missing stream before it looks at the tags. */
async function mustExist(ctx: ApiContext, name: string): Promise<void> {
  if (!(await ctx.cache.fresh(name))) throw streamNotFound(name, ctx.config.accountId);
}

async function addTags(ctx: ApiContext, name: string, tags: Record<string, string>) {
  await mustExist(ctx, name);
  checkChars(ctx, name, [...Object.keys(tags), ...Object.values(tags)], 'add tags to');
  try {
    await updateStream(ctx.store, name, (r) => {
      const next = { ...r.tags, ...tags };
      if (Object.keys(next).length > MAX_TAGS) {
        throw invalidArgument(`Failed to add tags to stream ${name} under account ${ctx.config.accountId} because a given stream cannot have more than ${MAX_TAGS} tags associated with it.`);
      }
      return { ...r, tags: next };
    });
  } catch (e) {
    if (e instanceof StreamNotFoundError) throw streamNotFound(name, ctx.config.accountId);
    throw e;
  }
  await ctx.cache.fresh(name);
}

async function removeTags(ctx: ApiContext, name: string, keys: string[]) {
  await mustExist(ctx, name);
  checkChars(ctx, name, keys, 'remove tags from');
  try {
    await updateStream(ctx.store, name, (r) => {
      const next = { ...r.tags };
      for (const k of keys) delete next[k];
      return { ...r, tags: next };
    });
  } catch (e) {
    if (e instanceof StreamNotFoundError) throw streamNotFound(name, ctx.config.accountId);
    throw e;
  }
  await ctx.cache.fresh(name);
}

async function tagsOf(ctx: ApiContext, name: string): Promise<Record<string, string>> {
  const s = await ctx.cache.fresh(name);
  if (!s) throw streamNotFound(name, ctx.config.accountId);
  return s.record.tags;
}

function streamOfResource(ctx: ApiContext, p: Params): string {
  const arn = p.ResourceARN as string;
  if (!/:stream\/[^/]+$/.test(arn)) throw resourceNotFound(`Resource ${arn} not found.`);
  return streamNameOf(ctx, { StreamARN: arn });
}

export const addTagsToStream: Operation = async (ctx, p) => {
  await addTags(ctx, streamNameOf(ctx, p), p.Tags);
  return NO_OUTPUT;
};

export const removeTagsFromStream: Operation = async (ctx, p) => {
  await removeTags(ctx, streamNameOf(ctx, p), p.TagKeys);
  return NO_OUTPUT;
};

export const listTagsForStream: Operation = async (ctx, p) => {
  const tags = await tagsOf(ctx, streamNameOf(ctx, p));
  const start = p.ExclusiveStartTagKey as string | undefined;
  const limit = (p.Limit as number | undefined) ?? 50;
  const keys = Object.keys(tags).sort().filter((k) => start === undefined || k > start);
  return {
    Tags: keys.slice(0, limit).map((Key) => ({ Key, Value: tags[Key] })),
    HasMoreTags: keys.length > limit,
  };
};

export const tagResource: Operation = async (ctx, p) => {
  await addTags(ctx, streamOfResource(ctx, p), p.Tags);
  return NO_OUTPUT;
};

export const untagResource: Operation = async (ctx, p) => {
  await removeTags(ctx, streamOfResource(ctx, p), p.TagKeys);
  return NO_OUTPUT;
};

export const listTagsForResource: Operation = async (ctx, p) => {
  const tags = await tagsOf(ctx, streamOfResource(ctx, p));
  return { Tags: Object.keys(tags).sort().map((Key) => ({ Key, Value: tags[Key] })) };
};
