// The read path: GetShardIterator names a storage position (the stream
// library's resolveStart) in a signed iterator; GetRecords reads a batch from
// it (readBatch). Both are thin: the reader lives in stream/shardReader.ts.
import type { IteratorState } from '../../../stream/kinesis/iterator.js';
import { recordBytes } from '../../../stream/shardRead.js';
import { childShards, readBatch, resolveStart, shardOf, type StartPosition } from '../../../stream/shardReader.js';
import type { ShardRecord, StreamRecord } from '../../../stream/streamRecord.js';
import { expiredIterator, invalidArgument, resourceNotFound, throughputExceeded } from '../errors.js';
import { asKinesis, shardNotFound, toKinesisError } from '../libraryErrors.js';
import { streamArn, streamNameOf, type ApiContext, type Operation, type Params } from '../context.js';
import { keysOf } from './encryption.js';
import { resolveShardId } from '../shardIds.js';

const GET_RECORDS_MAX_BYTES = 10 * 1024 * 1024;

/** The shard, or ResourceNotFoundException. */
function findShard(ctx: ApiContext, rec: StreamRecord, shardId: string): ShardRecord {
  try {
    return shardOf(rec, shardId);
  } catch (e) {
    throw toKinesisError(ctx, e, 'GetShardIterator');
  }
}

const MUST_EITHER =
  'Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and StartingSequenceNumber or ' +
  '(2) TRIM_HORIZON or LATEST and no StartingSequenceNumber. ';

export const AT_TIMESTAMP_MISSING =
  'Must specify timestampInMillis parameter for iterator of type AT_TIMESTAMP. Current request has no timestamp parameter.';

/** GetShardIterator's parameters as a start position; the combinations Kinesis refuses, refused. */
function startOf(p: Params): StartPosition {
  const type = p.ShardIteratorType as StartPosition['type'];
  const seq = p.StartingSequenceNumber as string | undefined;
  if (type === 'AT_SEQUENCE_NUMBER' || type === 'AFTER_SEQUENCE_NUMBER') {
    if (seq === undefined) throw invalidArgument(`${MUST_EITHER}Request specified ${type} and no StartingSequenceNumber.`);
    return { type, sequenceNumber: seq };
  }
  if (seq !== undefined) throw invalidArgument(`${MUST_EITHER}Request specified ${type} and also a StartingSequenceNumber.`);
  if (type === 'AT_TIMESTAMP') {
    const ts = p.Timestamp as Date | undefined;
    if (!ts) throw invalidArgument(AT_TIMESTAMP_MISSING);
    return { type, timestampMs: ts.getTime() };
  }
  return { type };
}

export const getShardIterator: Operation = async (ctx, p) => {
  const name = streamNameOf(ctx, p);
  const shardId = resolveShardId(p.ShardId);
  if (shardId === undefined) throw resourceNotFound(`Could not find shard ${p.ShardId} in stream ${name} under account ${ctx.config.accountId}.`);
  const s = await ctx.cache.lookup(name);
  if (!s) throw shardNotFound(ctx, name, shardId);
  const rec = s.record;
  const shard = findShard(ctx, rec, shardId);
  const pos = await resolveStart(ctx.store, rec, shard.shardId, startOf(p)).catch(asKinesis(ctx, 'GetShardIterator'));
  return { ShardIterator: ctx.iterators.encode({ streamName: name, uid: rec.uid, shardIndex: shard.index, ...pos, issuedAtMs: Date.now() }) };
};

// Thu Jan 22 01:22:02 UTC 2015, as AWS prints iterator times.
function amzUtc(ms: number): string {
  const m = /^(.+), (.+) (.+) (.+) (.+) GMT$/.exec(new Date(ms).toUTCString())!;
  return [m[1], m[3], m[2], m[5], 'UTC', m[4]].join(' ');
}

function openIterator(ctx: ApiContext, token: string): IteratorState {
  const it = ctx.iterators.decode(token);
  if (!it) throw invalidArgument('Invalid ShardIterator.');
  const now = Date.now();
  if (now - it.issuedAtMs > ctx.config.iteratorTtlMs) {
    throw expiredIterator(
      `Iterator expired. The iterator was created at time ${amzUtc(it.issuedAtMs)} while right now it is ${amzUtc(now)} ` +
        `which is further in the future than the tolerated delay of ${ctx.config.iteratorTtlMs} milliseconds.`,
    );
  }
  return it;
}

export const getRecords: Operation = async (ctx, p) => {
  const it = openIterator(ctx, p.ShardIterator);
  // A StreamARN must name the iterator's own stream (it is also what resource
  // policies are checked against): anything else is refused, never read past.
  if (p.StreamARN !== undefined && streamArn(ctx, it.streamName) !== p.StreamARN) {
    streamNameOf(ctx, { StreamARN: p.StreamARN }); // a malformed ARN gets its own answer
    throw invalidArgument(`StreamARN ${p.StreamARN} does not match the stream of the shard iterator.`);
  }
  const s = await ctx.cache.lookup(it.streamName);
  const shardId = `shardId-${String(it.shardIndex).padStart(12, '0')}`;
  if (!s || s.record.uid !== it.uid) throw shardNotFound(ctx, it.streamName, shardId);
  const rec = s.record;
  const shard = findShard(ctx, rec, shardId);
  if (ctx.usage && !ctx.usage.admitRead(rec, shard)) {
    throw throughputExceeded(`Rate exceeded for Shard - ${ctx.config.accountId}/${it.streamName}/${shardId}`);
  }
  const read = await readBatch(ctx.store, rec, shardId, it, {
    limit: (p.Limit as number | undefined) ?? 10000,
    maxBytes: GET_RECORDS_MAX_BYTES,
    keys: keysOf(ctx),
  }).catch(asKinesis(ctx, 'GetRecords'));
  const last = read.records[read.records.length - 1];
  if (ctx.usage) {
    let bytes = 0;
    for (const r of read.records) bytes += recordBytes(r);
    ctx.usage.readDone(rec, shard, read.records.length, bytes, last ? Math.max(0, Date.now() - last.arrivalMs) : 0);
  }
  return {
    Records: read.records.map((r) => ({
      SequenceNumber: r.sequenceNumber,
      ApproximateArrivalTimestamp: new Date(r.arrivalMs),
      Data: r.data,
      PartitionKey: r.partitionKey,
      EncryptionType: r.encrypted ? 'KMS' : undefined,
    })),
    NextShardIterator: read.shardEnded ? undefined : ctx.iterators.encode({ ...it, ...read.next, issuedAtMs: Date.now() }),
    MillisBehindLatest: read.millisBehindLatest,
    ChildShards: read.shardEnded ? childShardsOf(rec, shard) : undefined,
  };
};

export function childShardsOf(rec: StreamRecord, shard: ShardRecord) {
  return childShards(rec, shard.shardId).map((c) => ({
    ShardId: c.shardId,
    ParentShards: [c.parentShardId, c.adjacentParentShardId].filter((x): x is string => !!x),
    HashKeyRange: { StartingHashKey: c.hashKeyRange.startingHashKey, EndingHashKey: c.hashKeyRange.endingHashKey },
  }));
}
