// The write path: route each record by hash key, append per shard, answer
// with per-record sequence numbers made from the message's storage position.
// A write that races a reshard hits a sealed parent stream and waits for the
// map that shows the children (the parents are sealed before the record is
// switched, a window of up to a second or so under load), then goes there; it
// never lands in a closed shard and is never dropped silently.
import { hashKeyHexOf, MAX_HASH_KEY } from '../../../stream/kinesis/hashKeys.js';
import { encodeSequence } from '../../../stream/kinesis/sequence.js';
import { isIssuedSequence } from '../../../stream/issuedSequence.js';
import { jsSubject } from '../../../stream/names.js';
import { routeOf, routeOfHex, type CachedStream } from '../../../stream/streamCache.js';
import type { ShardRecord } from '../../../stream/streamRecord.js';
import type { AppendRecord, AppendResult } from '../../../stream/shardAppender.js';
import { PublishError } from '../../../stream/publisher.js';
import { KinesisError, invalidArgument, resourceNotFound, serviceUnavailable, throughputExceeded, validationError } from '../errors.js';
import { streamNameOf, type ApiContext, type Operation, type Params } from '../context.js';
import { sealingKey } from './encryption.js';

const PUT_RECORDS_MAX_BYTES = 10 * 1024 * 1024;
/**
 * How long a write turned away by a reshard waits for the new shard map before
 * the entry fails (retryably). A reshard normally lands within a second; this
 * only runs out when one is stuck (its process died between sealing and
 * switching the record, until the operator finishes it).
 */
const RESHARD_WAIT_MS = 10_000;
/** Between fresh reads of the record while waiting (the KV watch usually wakes us first). */
const REROUTE_POLL_MS = 250;

interface Prepared {
  /** ExplicitHashKey as a bigint, or the partition key's MD5 as 32 hex digits (no BigInt per record). */
  key: bigint | string;
  rec: AppendRecord;
}

/** `kms`: the record was stored encrypted. */
type Outcome = { shard: ShardRecord; seq: string; kms: boolean } | { error: KinesisError };

async function writableStream(ctx: ApiContext, name: string, fresh = false): Promise<CachedStream> {
  const s = fresh ? await ctx.cache.fresh(name) : await ctx.cache.lookup(name);
  if (!s || s.record.status === 'CREATING' || s.record.status === 'DELETING') {
    throw resourceNotFound(`Stream ${name} under account ${ctx.config.accountId} not found.`);
  }
  return s;
}

/** Checks one entry against the stream's limits; nothing is written if any fails. */
function prepare(s: CachedStream, entry: Params, path: string): Prepared {
  const data = entry.Data as Buffer;
  const pk = entry.PartitionKey as string;
  const max = s.record.maxRecordSizeKiB * 1024;
  if (data.length > max) {
    throw validationError([
      `Value 'java.nio.HeapByteBuffer[pos=0 lim=${data.length} cap=${data.length}]' at '${path}data' failed to satisfy constraint: Member must have length less than or equal to ${max}`,
    ]);
  }
  let key: bigint | string;
  if (entry.ExplicitHashKey !== undefined) {
    key = BigInt(entry.ExplicitHashKey);
    if (key > MAX_HASH_KEY) {
      throw invalidArgument(`Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. Specified value was ${entry.ExplicitHashKey}`);
    }
  } else {
    key = hashKeyHexOf(pk);
  }
  return { key, rec: { partitionKey: pk, partitionKeyBytes: Buffer.byteLength(pk, 'utf8'), data } };
}

/** What a record counts against the shard's write limit: data plus partition key, as AWS counts it. */
const recordBytes = (r: AppendRecord) => r.data.length + r.partitionKeyBytes;

const isSealed = (e: unknown) => e instanceof PublishError && /sealed|no JetStream stream/.test(e.message);

function failureOf(e: unknown): KinesisError {
  if (e instanceof KinesisError) return e;
  if (e instanceof PublishError) return serviceUnavailable(`Write to storage failed: ${e.message}`);
  return new KinesisError('InternalFailure', 'Internal service failure.', 500);
}

/**
 * One line per failed append, with its cause: the client only sees an
 * ErrorCode, so this is where an operator learns why. A storm of identical
 * failures (thousands a second under load) is summarised once a second.
 */
const lastLogged = new Map<string, { at: number; suppressed: number }>();
function logFailure(ctx: ApiContext, name: string, shardId: string, records: number, e: unknown): void {
  if (!ctx.log) return;
  const cause = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  const now = Date.now();
  const seen = lastLogged.get(cause);
  if (seen && now - seen.at < 1000) {
    seen.suppressed += records;
    return;
  }
  const more = seen?.suppressed ? ` (+${seen.suppressed} more records failed the same way in the last second)` : '';
  lastLogged.set(cause, { at: now, suppressed: 0 });
  if (lastLogged.size > 100) lastLogged.delete(lastLogged.keys().next().value!);
  const stack = e instanceof KinesisError || e instanceof PublishError || !(e instanceof Error) ? '' : ` at ${e.stack?.split('\n')[1]?.trim()}`;
  ctx.log(`put: ${records} records for ${name}/${shardId} failed: ${cause}${stack}${more}`);
}

/** Stores prepared records, re-routing those a reshard turned away. */
async function write(ctx: ApiContext, name: string, s: CachedStream, items: Prepared[]): Promise<Outcome[]> {
  const out: Outcome[] = new Array(items.length);
  let pending = items.map((_, i) => i);
  const deadline = Date.now() + RESHARD_WAIT_MS;
  for (let attempt = 0; pending.length > 0; attempt++) {
    if (attempt > 0) {
      // Turned away by a sealed parent (or a gap in the map): its children are
      // not in the record yet. Wait for the record to change, then re-route.
      const left = deadline - Date.now();
      if (left <= 0) break;
      await ctx.cache.changed(name, s.revision, Math.min(REROUTE_POLL_MS, left));
      s = await writableStream(ctx, name, true);
    }
    // Encrypted stream: its messages are sealed with the key (KMS* error when unusable).
    const key = sealingKey(ctx, s.record);
    // Its material is stored durably before the first message is sealed with it.
    if (key && ctx.storeKeys) await ctx.storeKeys.ensureKept(key);
    const appendTo = (subject: string, recs: AppendRecord[]) => ctx.appender.append(subject, recs, key);
    const groups = new Map<number, { shard: ShardRecord; at: number[] }>();
    const retry: number[] = [];
    for (const i of pending) {
      const key = items[i]!.key;
      const shard = typeof key === 'string' ? routeOfHex(s, key) : routeOf(s, key);
      if (!shard) {
        retry.push(i); // the map is mid-change: a gap in the open ranges
        continue;
      }
      // Per-shard limits (docs/quotas-and-metrics.md), charged once: a re-routed record was admitted already.
      if (attempt === 0 && ctx.usage && !ctx.usage.admitWrite(s.record, shard, recordBytes(items[i]!.rec))) {
        out[i] = { error: throughputExceeded(`Rate exceeded for shard ${shard.shardId} in stream ${name} under account ${ctx.config.accountId}.`) };
        continue;
      }
      let g = groups.get(shard.index);
      if (!g) groups.set(shard.index, (g = { shard, at: [] }));
      g.at.push(i);
    }
    await Promise.all(
      [...groups.values()].map(async (g) => {
        const recs = g.at.map((i) => items[i]!.rec);
        let r: AppendResult;
        try {
          r = await appendTo(jsSubject(s.record.uid, g.shard.index), recs);
        } catch (e) {
          if (isSealed(e)) retry.push(...g.at);
          else {
            logFailure(ctx, name, g.shard.shardId, g.at.length, e);
            for (const i of g.at) out[i] = { error: failureOf(e) };
          }
          return;
        }
        // Stored: from here on the records are acknowledged whatever happens to the bookkeeping.
        g.at.forEach((i, k) => {
          out[i] = { shard: g.shard, seq: encodeSequence({ shardIndex: g.shard.index, jsSeq: r.jsSeq, index: r.firstIndex + k }), kms: key !== undefined };
        });
        try {
          ctx.usage?.wrote(s.record, g.shard, recs.length, recs.reduce((n, x) => n + recordBytes(x), 0));
          ctx.usage?.sampleKeys(s.record, g.shard, recs.length, (k) => items[g.at[k]!]!.key, (k) => recordBytes(recs[k]!));
        } catch (e) {
          ctx.log?.(`put: usage accounting for ${name}/${g.shard.shardId} failed: ${(e as Error)?.stack ?? e}`);
        }
      }),
    );
    pending = retry;
  }
  if (pending.length > 0) {
    logFailure(ctx, name, '(reshard)', pending.length, new Error(`shard map still not switched after ${RESHARD_WAIT_MS} ms (a reshard stuck between sealing and switching?)`));
  }
  for (const i of pending) out[i] = { error: serviceUnavailable('The stream is being resharded; retry the request.') };
  return out;
}

/** SequenceNumberForOrdering must be a sequence number the stream has issued; anything else could not be honoured. */
async function checkOrdering(ctx: ApiContext, s: CachedStream, name: string, seq: string): Promise<void> {
  if (!(await isIssuedSequence(ctx.store, s.record, seq))) {
    throw invalidArgument(`ExclusiveMinimumSequenceNumber ${seq} used in PutRecord on stream ${name} under account ${ctx.config.accountId} is invalid.`);
  }
}

export const putRecord: Operation = async (ctx, p) => {
  const name = streamNameOf(ctx, p);
  const s = await writableStream(ctx, name);
  if (p.SequenceNumberForOrdering !== undefined) await checkOrdering(ctx, s, name, p.SequenceNumberForOrdering as string);
  const [r] = await write(ctx, name, s, [prepare(s, p, '')]);
  if ('error' in r!) throw r.error;
  return { ShardId: r!.shard.shardId, SequenceNumber: r!.seq, EncryptionType: r!.kms ? 'KMS' : undefined };
};

export const putRecords: Operation = async (ctx, p) => {
  const name = streamNameOf(ctx, p);
  const s = await writableStream(ctx, name);
  const entries = p.Records as Params[];
  let total = 0;
  for (const e of entries) total += (e.Data as Buffer).length + Buffer.byteLength(e.PartitionKey as string, 'utf8');
  if (total > PUT_RECORDS_MAX_BYTES) throw invalidArgument('Records size exceeds 10 MB limit');
  const prepared = entries.map((e, i) => prepare(s, e, `records.${i + 1}.member.`));
  const outcomes = await write(ctx, name, s, prepared);
  let failed = 0;
  const records = outcomes.map((o) => {
    if ('error' in o) {
      failed++;
      const code = o.error.type === 'ProvisionedThroughputExceededException' ? o.error.type : 'InternalFailure';
      return { ErrorCode: code, ErrorMessage: code === 'InternalFailure' ? 'Internal service failure.' : o.error.message };
    }
    return { SequenceNumber: o.seq, ShardId: o.shard.shardId };
  });
  return { FailedRecordCount: failed, Records: records, EncryptionType: outcomes.some((o) => 'kms' in o && o.kms) ? 'KMS' : undefined };
};
