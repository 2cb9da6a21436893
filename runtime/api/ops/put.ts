// The write path: route each record by hash key, append per shard, answer
// with per-record sequence numbers made from the message's storage position.
import { hashKeyOf, MAX_HASH_KEY } from '../../kinesis/hashKeys.js';
import { encodeSequence } from '../../kinesis/sequence.js';
import { jsSubject } from '../../store/names.js';
import { routeOf, type CachedStream } from '../../store/streamCache.js';
import type { ShardRecord } from '../../store/streamRecord.js';
import type { AppendRecord } from '../../store/shardAppender.js';
import { PublishError } from '../../store/publisher.js';
import { KinesisError, invalidArgument, resourceNotFound, serviceUnavailable, validationError } from '../errors.js';
import { streamNameOf, type ApiContext, type Operation, type Params } from '../context.js';

const PUT_RECORDS_MAX_BYTES = 10 * 1024 * 1024;

interface Routed {
  shard: ShardRecord;
  rec: AppendRecord;
}

async function writableStream(ctx: ApiContext, name: string): Promise<CachedStream> {
  const s = await ctx.cache.lookup(name);
  if (!s || s.record.status === 'CREATING' || s.record.status === 'DELETING') {
    throw resourceNotFound(`Stream ${name} under account ${ctx.config.accountId} not found.`);
  }
  return s;
}

function route(ctx: ApiContext, s: CachedStream, entry: Params, path: string): Routed {
  const data = entry.Data as Buffer;
  const pk = entry.PartitionKey as string;
  const max = s.record.maxRecordSizeKiB * 1024;
  if (data.length > max) {
    throw validationError([
      `Value 'java.nio.HeapByteBuffer[pos=0 lim=${data.length} cap=${data.length}]' at '${path}data' failed to satisfy constraint: Member must have length less than or equal to ${max}`,
    ]);
  }
  let key: bigint;
  if (entry.ExplicitHashKey !== undefined) {
    key = BigInt(entry.ExplicitHashKey);
    if (key > MAX_HASH_KEY) {
      throw invalidArgument(`Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. Specified value was ${entry.ExplicitHashKey}`);
    }
  } else {
    key = hashKeyOf(pk);
  }
  const shard = routeOf(s, key);
  // A stream's open shards always cover the key space; a gap means the map is mid-change.
  if (!shard) throw serviceUnavailable('The stream is being resharded; retry the request.');
  return { shard, rec: { partitionKey: pk, partitionKeyBytes: Buffer.byteLength(pk, 'utf8'), data } };
}

function appendOne(ctx: ApiContext, s: CachedStream, shard: ShardRecord, recs: AppendRecord[]) {
  return ctx.appender.append(jsSubject(s.record.uid, shard.index), recs);
}

function failureOf(e: unknown): KinesisError {
  if (e instanceof KinesisError) return e;
  if (e instanceof PublishError) return serviceUnavailable(`Write to storage failed: ${e.message}`);
  return new KinesisError('InternalFailure', 'Internal service failure.', 500);
}

export const putRecord: Operation = async (ctx, p) => {
  const s = await writableStream(ctx, streamNameOf(ctx, p));
  const { shard, rec } = route(ctx, s, p, '');
  try {
    const r = await appendOne(ctx, s, shard, [rec]);
    return {
      ShardId: shard.shardId,
      SequenceNumber: encodeSequence({ shardIndex: shard.index, jsSeq: r.jsSeq, index: r.firstIndex }),
      EncryptionType: s.record.encryption.type === 'KMS' ? 'KMS' : undefined,
    };
  } catch (e) {
    throw failureOf(e);
  }
};

export const putRecords: Operation = async (ctx, p) => {
  const s = await writableStream(ctx, streamNameOf(ctx, p));
  const entries = p.Records as Params[];
  let total = 0;
  for (const e of entries) total += (e.Data as Buffer).length + Buffer.byteLength(e.PartitionKey as string, 'utf8');
  if (total > PUT_RECORDS_MAX_BYTES) throw invalidArgument('Records size exceeds 10 MB limit');
  const routed = entries.map((e, i) => route(ctx, s, e, `records.${i + 1}.member.`));
  // Group by shard, keeping each record's place in the request.
  const groups = new Map<number, { shard: ShardRecord; recs: AppendRecord[]; at: number[] }>();
  routed.forEach((r, i) => {
    let g = groups.get(r.shard.index);
    if (!g) groups.set(r.shard.index, (g = { shard: r.shard, recs: [], at: [] }));
    g.recs.push(r.rec);
    g.at.push(i);
  });
  const results: Record<string, unknown>[] = new Array(entries.length);
  let failed = 0;
  const encryption = s.record.encryption.type === 'KMS' ? 'KMS' : undefined;
  await Promise.all(
    [...groups.values()].map(async (g) => {
      try {
        const r = await appendOne(ctx, s, g.shard, g.recs);
        g.at.forEach((at, k) => {
          results[at] = {
            SequenceNumber: encodeSequence({ shardIndex: g.shard.index, jsSeq: r.jsSeq, index: r.firstIndex + k }),
            ShardId: g.shard.shardId,
          };
        });
      } catch (e) {
        const err = failureOf(e);
        failed += g.at.length;
        const code = err.type === 'ProvisionedThroughputExceededException' ? err.type : 'InternalFailure';
        for (const at of g.at) results[at] = { ErrorCode: code, ErrorMessage: code === 'InternalFailure' ? 'Internal service failure.' : err.message };
      }
    }),
  );
  return { FailedRecordCount: failed, Records: results, EncryptionType: encryption };
};
