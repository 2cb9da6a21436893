// Shared helpers for the runtime behaviour suites: reading whole shards with
// the real SDK, and small timing utilities with bounded waits.
import {
  DescribeStreamCommand, GetRecordsCommand, GetShardIteratorCommand, type GetRecordsCommandOutput, type KinesisClient, type _Record,
} from '@aws-sdk/client-kinesis';
import type { Store } from '../../stream/connect.js';
import { setQuotaEnforcement } from '../../stream/quotaSettings.js';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls `fn` until it returns a truthy value; throws after `timeoutMs`. */
export async function until<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 10_000, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${last}` : ''}`);
    await sleep(everyMs);
  }
}

export async function shardIds(client: KinesisClient, stream: string): Promise<string[]> {
  const d = await client.send(new DescribeStreamCommand({ StreamName: stream }));
  return d.StreamDescription!.Shards!.map((s) => s.ShardId!);
}

/**
 * Every record of a shard from TRIM_HORIZON, following NextShardIterator until
 * a page comes back empty at the tip (bounded: throws after `maxPages`).
 */
export async function readShard(
  client: KinesisClient,
  stream: string,
  shardId: string,
  opts: { limit?: number; maxPages?: number } = {},
): Promise<_Record[]> {
  const it = await client.send(new GetShardIteratorCommand({ StreamName: stream, ShardId: shardId, ShardIteratorType: 'TRIM_HORIZON' }));
  return drain(client, it.ShardIterator!, opts);
}

/** Follows an iterator until an empty page at the tip. */
export async function drain(client: KinesisClient, iterator: string, opts: { limit?: number; maxPages?: number } = {}): Promise<_Record[]> {
  const out: _Record[] = [];
  let iter: string | undefined = iterator;
  for (let page = 0; iter; page++) {
    if (page >= (opts.maxPages ?? 1000)) throw new Error(`shard not drained after ${page} pages`);
    const r: GetRecordsCommandOutput = await client.send(new GetRecordsCommand({ ShardIterator: iter, Limit: opts.limit }));
    out.push(...(r.Records ?? []));
    if ((r.Records ?? []).length === 0 && r.MillisBehindLatest === 0) break;
    iter = r.NextShardIterator;
  }
  return out;
}

/** All records of every shard of a stream, keyed by shard id. */
export async function readStream(client: KinesisClient, stream: string, opts: { limit?: number } = {}): Promise<Map<string, _Record[]>> {
  const out = new Map<string, _Record[]>();
  for (const id of await shardIds(client, stream)) out.set(id, await readShard(client, stream, id, opts));
  return out;
}

export const text = (r: _Record) => Buffer.from(r.Data!).toString('utf8');

/**
 * Turns per-shard throughput limits off for a stream (quotas.test.ts covers
 * them; these suites read and write faster than 5 reads/s or 1 MiB/s a shard
 * on purpose) and waits until every given runtime acts on it: a burst of six
 * GetRecords on the first shard, more than a bucket of five holds, succeeds.
 */
export async function withoutQuotas(store: Store, stream: string, clients: KinesisClient[]): Promise<void> {
  await setQuotaEnforcement(store, stream, false);
  const [shard] = await shardIds(clients[0]!, stream);
  for (const c of clients) {
    await until(`quotas off for ${stream}`, async () => {
      const it = await c.send(new GetShardIteratorCommand({ StreamName: stream, ShardId: shard, ShardIteratorType: 'LATEST' }));
      for (let i = 0; i < 6; i++) await c.send(new GetRecordsCommand({ ShardIterator: it.ShardIterator }));
      return true;
    }, 5000, 100);
  }
}
