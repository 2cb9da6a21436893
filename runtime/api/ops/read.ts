// The read path: iterators name a storage position; GetRecords reads from it.
import { decodeSequence, encodeSequence } from '../../../stream/kinesis/sequence.js';
import type { IteratorState } from '../../../stream/kinesis/iterator.js';
import { jsStreamName, jsSubject, shardIndexOf } from '../../../stream/names.js';
import { readShard, seqAtTimestamp, shardTip } from '../../../stream/shardRead.js';
import { hourMs } from '../../../stream/streams.js';
import type { ShardRecord, StreamRecord } from '../../../stream/streamRecord.js';
import { expiredIterator, invalidArgument, resourceNotFound, throughputExceeded } from '../errors.js';
import { streamArn, streamNameOf, type ApiContext, type Operation } from '../context.js';
import { keysOf, kmsFailure } from './encryption.js';
import { resolveShardId } from '../shardIds.js';

const GET_RECORDS_MAX_BYTES = 10 * 1024 * 1024;

function shardMissing(ctx: ApiContext, stream: string, shardId: string) {
  return resourceNotFound(`Shard ${shardId} in stream ${stream} under account ${ctx.config.accountId} does not exist`);
}

function findShard(ctx: ApiContext, rec: StreamRecord | undefined, stream: string, shardId: string): ShardRecord {
  const idx = shardIndexOf(shardId);
  const shard = idx === undefined ? undefined : rec?.shards.find((s) => s.index === idx);
  if (!rec || !shard) throw shardMissing(ctx, stream, shardId);
  return shard;
}

const MUST_EITHER =
  'Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and StartingSequenceNumber or ' +
  '(2) TRIM_HORIZON or LATEST and no StartingSequenceNumber. ';

export const getShardIterator: Operation = async (ctx, p) => {
  const name = streamNameOf(ctx, p);
  const shardId = resolveShardId(p.ShardId);
  if (shardId === undefined) throw resourceNotFound(`Could not find shard ${p.ShardId} in stream ${name} under account ${ctx.config.accountId}.`);
  const s = await ctx.cache.lookup(name);
  const shard = findShard(ctx, s?.record, name, shardId);
  const rec = s!.record;
  const type = p.ShardIteratorType as string;
  const seqStr = p.StartingSequenceNumber as string | undefined;
  const js = jsStreamName(rec.uid, shard.index);
  let pos: { jsSeq: number; index: number };
  if (type === 'AT_SEQUENCE_NUMBER' || type === 'AFTER_SEQUENCE_NUMBER') {
    if (seqStr === undefined) throw invalidArgument(`${MUST_EITHER}Request specified ${type} and no StartingSequenceNumber.`);
    const d = decodeSequence(seqStr);
    if (!d) {
      throw invalidArgument(`StartingSequenceNumber ${seqStr} used in GetShardIterator on shard ${shard.shardId} in stream ${name} under account ${ctx.config.accountId} is invalid.`);
    }
    if (d.shardIndex !== shard.index) {
      throw invalidArgument(`Invalid StartingSequenceNumber. It encodes shardId-${String(d.shardIndex).padStart(12, '0')}, while it was used in a call to a shard with ${shard.shardId}`);
    }
    pos = type === 'AT_SEQUENCE_NUMBER' ? { jsSeq: d.jsSeq, index: d.index } : { jsSeq: d.jsSeq, index: d.index + 1 };
  } else if (seqStr !== undefined) {
    throw invalidArgument(`${MUST_EITHER}Request specified ${type} and also a StartingSequenceNumber.`);
  } else if (type === 'TRIM_HORIZON') {
    pos = { jsSeq: 0, index: 0 };
  } else if (type === 'LATEST') {
    // A closed shard has no new records: LATEST is its end.
    const tip = await shardTip(ctx.store, js);
    pos = { jsSeq: tip.lastSeq + 1, index: 0 };
  } else {
    // AT_TIMESTAMP
    const ts = p.Timestamp as Date | undefined;
    if (!ts) throw invalidArgument('Must specify timestampInMillis parameter for iterator of type AT_TIMESTAMP. Current request has no timestamp parameter.');
    if (ts.getTime() > Date.now()) {
      throw invalidArgument(`The timestampInMillis parameter cannot be greater than the currentTimestampInMillis. timestampInMillis: ${ts.getTime()}, currentTimestampInMillis: ${Date.now()}`);
    }
    pos = { jsSeq: await seqAtTimestamp(ctx.store, js, jsSubject(rec.uid, shard.index), ts.getTime()), index: 0 };
  }
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
  if (!s || s.record.uid !== it.uid) throw shardMissing(ctx, it.streamName, shardId);
  const rec = s.record;
  const shard = findShard(ctx, rec, it.streamName, shardId);
  if (ctx.usage && !ctx.usage.admitRead(rec, shard)) {
    throw throughputExceeded(`Rate exceeded for Shard - ${ctx.config.accountId}/${it.streamName}/${shardId}`);
  }
  const now = Date.now();
  const read = await readShard(ctx.store, jsStreamName(rec.uid, shard.index), it, {
    limit: (p.Limit as number | undefined) ?? 10000,
    maxBytes: GET_RECORDS_MAX_BYTES,
    minArrivalMs: now - rec.retentionHours * hourMs(),
    keys: keysOf(ctx),
  }).catch(kmsFailure);
  const last = read.records[read.records.length - 1];
  const behind = read.atEnd || !last ? 0 : Math.max(0, read.tip.lastMs - last.arrivalMs);
  if (ctx.usage) {
    let bytes = 0;
    for (const r of read.records) bytes += r.data.length + Buffer.byteLength(r.partitionKey, 'utf8');
    ctx.usage.readDone(rec, shard, read.records.length, bytes, last ? Math.max(0, Date.now() - last.arrivalMs) : 0);
  }
  const closedAndDrained = shard.endingSequenceNumber !== undefined && read.atEnd;
  return {
    Records: read.records.map((r) => ({
      SequenceNumber: encodeSequence({ shardIndex: shard.index, jsSeq: r.jsSeq, index: r.index }),
      ApproximateArrivalTimestamp: new Date(r.arrivalMs),
      Data: r.data,
      PartitionKey: r.partitionKey,
      EncryptionType: r.encrypted ? 'KMS' : undefined,
    })),
    NextShardIterator: closedAndDrained ? undefined : ctx.iterators.encode({ ...it, ...read.next, issuedAtMs: now }),
    MillisBehindLatest: behind,
    ChildShards: closedAndDrained ? childShardsOf(rec, shard) : undefined,
  };
};

export function childShardsOf(rec: StreamRecord, shard: ShardRecord) {
  return rec.shards
    .filter((c) => c.parentShardId === shard.shardId || c.adjacentParentShardId === shard.shardId)
    .map((c) => ({
      ShardId: c.shardId,
      ParentShards: [c.parentShardId, c.adjacentParentShardId].filter((x): x is string => !!x),
      HashKeyRange: { StartingHashKey: c.hashKeyRange.startingHashKey, EndingHashKey: c.hashKeyRange.endingHashKey },
    }));
}
