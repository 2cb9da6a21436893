// The producer against a real nats-server and Shardline runtime, through the AWS SDK v3 client:
// where put() says a record went is where GetRecords finds it; request bounds; buffered time;
// flush/close; per-shard rate limiting on a PROVISIONED stream (no ProvisionedThroughputExceeded)
// versus an unlimited producer (throttled, retried, nothing lost); connection failures retried;
// TTL; aggregation read back through our de-aggregation and aws-kinesis-agg's.
import { CreateStreamCommand, GetRecordsCommand, GetShardIteratorCommand, ListShardsCommand, type KinesisClient, type _Record } from '@aws-sdk/client-kinesis';
import { randomBytes } from 'node:crypto';
import { Producer, ProducerError, deaggregate, type PutResult } from '../../producer/index.js';
import { startStack, sdkClient, type Stack } from '../harness/runtime.js';
import { startFaultProxy } from '../harness/faultProxy.js';
import { aggDeaggregate } from '../harness/kplAgg.js';
import { sleep } from '../runtime/records.helpers.js';
import { hashKeyHexOf } from '../../stream/kinesis/hashKeys.js';

let stack: Stack;
let client: KinesisClient;

beforeAll(async () => {
  stack = await startStack(1);
  client = stack.clients[0]!;
});
afterAll(() => stack?.stop());

async function createStream(name: string, shards: number, mode: 'PROVISIONED' | 'ON_DEMAND' = 'PROVISIONED'): Promise<void> {
  await client.send(
    new CreateStreamCommand(
      mode === 'ON_DEMAND' ? { StreamName: name, StreamModeDetails: { StreamMode: 'ON_DEMAND' } } : { StreamName: name, ShardCount: shards },
    ),
  );
  await stack.runtimes[0]!.ctx.cache.fresh(name);
}

/**
 * Every stored record keyed "shardId/sequenceNumber", through GetRecords; a throttled call (PROVISIONED
 * streams allow 5 calls and 2 MiB a second per shard) is repeated after a pause, not the whole read.
 */
async function stored(name: string): Promise<Map<string, _Record & { shardId: string }>> {
  const out = new Map<string, _Record & { shardId: string }>();
  const listed = await client.send(new ListShardsCommand({ StreamName: name }));
  for (const shardId of listed.Shards!.map((s) => s.ShardId!)) {
    let iter = (await client.send(new GetShardIteratorCommand({ StreamName: name, ShardId: shardId, ShardIteratorType: 'TRIM_HORIZON' }))).ShardIterator;
    for (let calls = 0; iter; calls++) {
      if (calls > 500) throw new Error(`${shardId} not drained`);
      let page;
      try {
        page = await client.send(new GetRecordsCommand({ ShardIterator: iter, Limit: 2000 }));
      } catch (e) {
        if ((e as Error).name !== 'ProvisionedThroughputExceededException') throw e;
        await sleep(500);
        continue;
      }
      for (const r of page.Records ?? []) out.set(`${shardId}/${r.SequenceNumber}`, { ...r, shardId });
      if ((page.Records ?? []).length === 0 && page.MillisBehindLatest === 0) break;
      iter = page.NextShardIterator;
    }
  }
  return out;
}

/** The runtime's own count of records it refused with ProvisionedThroughputExceeded on a stream (GET /metrics). */
async function serverThrottles(stream: string): Promise<number> {
  const text = await (await fetch(`${stack.runtimes[0]!.endpoint}/metrics`)).text();
  let n = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('shardline_shard_write_provisioned_throughput_exceeded_total{') && line.includes(`stream="${stream}"`)) n += Number(line.split(' ').at(-1));
  }
  return n;
}

/** Observes the PutRecords calls a client makes (the real calls: an SDK middleware, not a mock). */
function observePutRecords(c: KinesisClient) {
  const calls: { records: number; bytes: number }[] = [];
  let concurrent = 0;
  let maxConcurrent = 0;
  c.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName !== 'PutRecordsCommand') return next(args);
      const input = args.input as { Records: { Data: Uint8Array; PartitionKey: string }[] };
      calls.push({
        records: input.Records.length,
        bytes: input.Records.reduce((n, r) => n + r.Data.length + Buffer.byteLength(r.PartitionKey), 0),
      });
      maxConcurrent = Math.max(maxConcurrent, ++concurrent);
      try {
        return await next(args);
      } finally {
        concurrent--;
      }
    },
    { step: 'initialize', name: 'observePutRecords' },
  );
  return { calls, maxConcurrent: () => maxConcurrent };
}

function records(n: number, size: number, prefix = 'r') {
  return Array.from({ length: n }, (_, i) => ({ partitionKey: `${prefix}-${i % 37}`, data: Buffer.concat([Buffer.from(`${prefix}${i}:`), randomBytes(size)]) }));
}

describe('Producer on Shardline', () => {
  test('put() resolves with the shard and sequence number where GetRecords finds the record; per-key order kept', async () => {
    await createStream('p-basic', 4, 'ON_DEMAND');
    const producer = new Producer({ client, streamName: 'p-basic' });
    const recs = records(600, 50);
    const results = await Promise.all(recs.map((r) => producer.put(r)));
    await producer.close();
    const shards = await producer.shards();
    expect(shards.length).toBe(4);
    const all = await stored('p-basic');
    expect(all.size).toBe(recs.length);
    results.forEach((res, i) => {
      const got = all.get(`${res.shardId}/${res.sequenceNumber}`);
      expect(got).toBeDefined();
      expect(got!.PartitionKey).toBe(recs[i]!.partitionKey);
      expect(Buffer.from(got!.Data!).equals(recs[i]!.data)).toBe(true);
      expect(res.subSequenceNumber).toBeUndefined();
      // The shard is the one whose range holds MD5(partition key), as Kinesis routes.
      const h = BigInt('0x' + hashKeyHexOf(recs[i]!.partitionKey));
      const owner = shards.find((s) => s.start <= h && h <= s.end)!;
      expect(res.shardId).toBe(owner.shardId);
    });
    // Records of one key were put in order and no retry happened: sequence numbers increase.
    const byKey = new Map<string, bigint[]>();
    results.forEach((r, i) => byKey.set(recs[i]!.partitionKey, [...(byKey.get(recs[i]!.partitionKey) ?? []), BigInt(r.sequenceNumber)]));
    for (const seqs of byKey.values()) expect([...seqs].sort((a, b) => (a < b ? -1 : 1))).toEqual(seqs);
    expect(producer.stats()).toMatchObject({ outstanding: 0, buffered: 0, succeeded: 600, failed: 0, retries: 0 });
  });

  test('PutRecords calls stay within 500 records and 5 MiB; in-flight calls within the limit', async () => {
    await createStream('p-bounds', 2, 'ON_DEMAND');
    const c = sdkClient(stack.runtimes[0]!.endpoint, { http1: true });
    const seen = observePutRecords(c);
    const producer = new Producer({ client: c, streamName: 'p-bounds', rateLimit: false, maxInFlightRequests: 2 });
    const small = records(2600, 20, 's');
    const big = records(14, 900 * 1024, 'b'); // 12.6 MiB: at least three calls by bytes
    await Promise.all([...small, ...big].map((r) => producer.put(r)));
    await producer.close();
    c.destroy();
    const total = seen.calls.reduce((n, x) => n + x.records, 0);
    expect(total).toBe(small.length + big.length);
    for (const call of seen.calls) {
      expect(call.records).toBeLessThanOrEqual(500);
      expect(call.bytes).toBeLessThanOrEqual(5 * 1024 * 1024);
    }
    const bytes = seen.calls.reduce((n, x) => n + x.bytes, 0);
    expect(seen.calls.length).toBeGreaterThanOrEqual(Math.max(Math.ceil(total / 500), Math.ceil(bytes / (5 * 1024 * 1024))));
    expect(seen.maxConcurrent()).toBeLessThanOrEqual(2);
    expect((await stored('p-bounds')).size).toBe(small.length + big.length);
  });

  test('records wait up to maxBufferedTimeMs to be batched; flush() sends at once; close() settles and refuses', async () => {
    await createStream('p-flush', 1);
    const c = sdkClient(stack.runtimes[0]!.endpoint, { http1: true });
    const seen = observePutRecords(c);
    const producer = new Producer({ client: c, streamName: 'p-flush', maxBufferedTimeMs: 1000 });
    await producer.shards(); // map loaded: the timing below is the buffer's alone
    const t0 = Date.now();
    const a = producer.put({ partitionKey: 'k', data: 'first' });
    await sleep(150);
    const b = producer.put({ partitionKey: 'k', data: 'second' });
    const [ra] = await Promise.all([a, b]);
    const waited = Date.now() - t0;
    expect(waited).toBeGreaterThanOrEqual(1000);
    expect(waited).toBeLessThan(4000);
    expect(seen.calls).toHaveLength(1); // both went in one call
    expect(seen.calls[0]!.records).toBe(2);
    expect(ra.shardId).toBe('shardId-000000000000');

    const slow = new Producer({ client: c, streamName: 'p-flush', maxBufferedTimeMs: 60_000 });
    await slow.shards();
    const pending = slow.put({ partitionKey: 'k', data: 'third' });
    const state = await Promise.race([pending.then(() => 'sent'), sleep(300).then(() => 'buffered')]);
    expect(state).toBe('buffered');
    const t1 = Date.now();
    await slow.flush();
    expect(Date.now() - t1).toBeLessThan(3000);
    await expect(pending).resolves.toMatchObject({ shardId: 'shardId-000000000000' });

    const more = Array.from({ length: 50 }, (_, i) => slow.put({ partitionKey: `c${i}`, data: `close-${i}` }));
    await slow.close();
    // close() returned: every record put before it has settled, and all were stored.
    const outcomes = await Promise.allSettled(more);
    expect(outcomes.every((o) => o.status === 'fulfilled')).toBe(true);
    await expect(slow.put({ partitionKey: 'k', data: 'late' })).rejects.toMatchObject({ code: 'ProducerClosed' });
    await producer.close();
    c.destroy();
    const texts = [...(await stored('p-flush')).values()].map((r) => Buffer.from(r.Data!).toString());
    expect(texts.sort()).toEqual(['first', 'second', 'third', ...Array.from({ length: 50 }, (_, i) => `close-${i}`)].sort());
  });

  test('on a PROVISIONED stream the rate limiter avoids ProvisionedThroughputExceeded; without it the server throttles and retries recover every record', async () => {
    await createStream('p-prov', 2);
    const n = 4000; // 2 s of two shards' record limit
    const limited = new Producer({ client, streamName: 'p-prov' });
    const t0 = Date.now();
    await Promise.all(records(n, 80, 'lim').map((r) => limited.put(r)));
    const took = Date.now() - t0;
    await limited.close();
    const ls = limited.stats();
    expect(ls.throttled).toBe(0);
    expect(await serverThrottles('p-prov')).toBe(0);
    expect(ls.retries).toBe(0);
    expect(ls.succeeded).toBe(n);
    // 2 shards × 1000 records/s after half a second of burst each: it really did pace itself.
    expect(took).toBeGreaterThanOrEqual(1400);

    await sleep(1100); // the shards' buckets refill
    const unlimited = new Producer({ client, streamName: 'p-prov', rateLimit: false, retry: { baseMs: 50, maxMs: 500 } });
    const res = await Promise.all(records(n, 80, 'unl').map((r) => unlimited.put(r)));
    await unlimited.close();
    const us = unlimited.stats();
    expect(us.throttled).toBeGreaterThan(0);
    expect(await serverThrottles('p-prov')).toBe(us.throttled);
    expect(us.retries).toBeGreaterThan(0);
    expect(us.succeeded).toBe(n);
    expect(Math.max(...res.map((r) => r.attempts))).toBeGreaterThan(1);
    // Throttled entries were not stored; retried ones were stored once.
    expect((await stored('p-prov')).size).toBe(2 * n);
  });

  test('connection failures are retried with backoff; a record that outlives its TTL is rejected with RecordExpired', async () => {
    await createStream('p-faults', 2, 'ON_DEMAND');
    const proxy = await startFaultProxy(stack.runtimes[0]!.port);
    const c = sdkClient(proxy.endpoint, { http1: true });
    try {
      const producer = new Producer({ client: c, streamName: 'p-faults', retry: { baseMs: 50, maxMs: 200 } });
      await producer.shards();
      proxy.broken = true;
      const puts = records(50, 30, 'f').map((r) => producer.put(r));
      await sleep(600);
      proxy.broken = false;
      const res = await Promise.all(puts);
      expect(proxy.resets).toBeGreaterThan(0);
      expect(Math.min(...res.map((r) => r.attempts))).toBeGreaterThan(1);
      await producer.close();
      expect((await stored('p-faults')).size).toBe(50);

      const shortLived = new Producer({ client: c, streamName: 'p-faults', recordTtlMs: 500, retry: { baseMs: 50, maxMs: 100 } });
      await shortLived.shards();
      proxy.broken = true;
      const t0 = Date.now();
      const err = await shortLived.put({ partitionKey: 'ttl', data: 'never' }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ProducerError);
      expect((err as ProducerError).code).toBe('RecordExpired');
      expect((err as ProducerError).attempts).toBeGreaterThanOrEqual(1);
      expect((err as ProducerError).failures.length).toBe((err as ProducerError).attempts);
      expect(Date.now() - t0).toBeGreaterThanOrEqual(400);
      expect(Date.now() - t0).toBeLessThan(3000);
      proxy.broken = false;
      await shortLived.close();
      expect(shortLived.stats().expired).toBe(1);
    } finally {
      c.destroy();
      await proxy.close();
    }
  });

  test('errors that retrying cannot fix reject at once with their own code', async () => {
    const missing = new Producer({ client, streamName: 'p-no-such-stream' });
    await expect(missing.put({ partitionKey: 'k', data: 'x' })).rejects.toMatchObject({ code: 'ResourceNotFoundException', attempts: 0 });
    await createStream('p-valid', 1);
    const p = new Producer({ client, streamName: 'p-valid' });
    await expect(p.put({ partitionKey: '', data: 'x' })).rejects.toMatchObject({ code: 'ValidationError' });
    await expect(p.put({ partitionKey: 'k'.repeat(257), data: 'x' })).rejects.toMatchObject({ code: 'ValidationError' });
    await expect(p.put({ partitionKey: 'k', data: 'x', explicitHashKey: (1n << 128n).toString() })).rejects.toMatchObject({ code: 'ValidationError' });
    await expect(p.put({ partitionKey: 'k', data: Buffer.alloc(1024 * 1024) })).rejects.toMatchObject({ code: 'ValidationError' });
    await expect(p.put({ partitionKey: 'k', data: 'ok' })).resolves.toMatchObject({ shardId: 'shardId-000000000000' });
    await p.close();
    // The stream named by ARN alone (ListShards and PutRecords both take StreamARN).
    const { DescribeStreamSummaryCommand } = await import('@aws-sdk/client-kinesis');
    const arn = (await client.send(new DescribeStreamSummaryCommand({ StreamName: 'p-valid' }))).StreamDescriptionSummary!.StreamARN!;
    const byArn = new Producer({ client, streamARN: arn });
    await expect(byArn.put({ partitionKey: 'k', data: 'by arn' })).resolves.toMatchObject({ shardId: 'shardId-000000000000' });
    await byArn.close();
  });

  test('aggregated records: sequence + sub-sequence numbers, read back de-aggregated by us and by aws-kinesis-agg', async () => {
    await createStream('p-agg', 3);
    const producer = new Producer({ client, streamName: 'p-agg', aggregation: { maxBytes: 20_000 } });
    const recs = [
      ...records(3000, 100, 'a'),
      { partitionKey: 'ehk', explicitHashKey: '1', data: Buffer.from('pinned to the first shard') },
      { partitionKey: 'alone', data: randomBytes(30_000) }, // larger than an aggregate: goes plain
    ];
    const results: PutResult[] = await Promise.all(recs.map((r) => producer.put(r)));
    await producer.close();
    const st = producer.stats();
    expect(st.throttled).toBe(0);
    expect(await serverThrottles('p-agg')).toBe(0);
    expect(st.entries).toBeLessThan(recs.length / 10); // ~190 user records per aggregate

    const all = await stored('p-agg');
    expect(all.size).toBe(st.entries);
    const shards = await producer.shards();
    // Our de-aggregation: every user record at (shard, sequence, sub-sequence) put() reported.
    const users = new Map<string, { partitionKey: string; explicitHashKey?: string; data: Buffer }>();
    for (const [key, r] of all) {
      const inner = deaggregate(r.Data!);
      if (!inner) {
        users.set(key, { partitionKey: r.PartitionKey!, data: Buffer.from(r.Data!) });
        continue;
      }
      const range = shards.find((s) => s.shardId === r.shardId)!;
      inner.forEach((u, k) => {
        users.set(`${key}/${k}`, u);
        // The whole aggregate belongs to the shard it is stored in.
        const h = u.explicitHashKey !== undefined ? BigInt(u.explicitHashKey) : BigInt('0x' + hashKeyHexOf(u.partitionKey));
        expect(h >= range.start && h <= range.end).toBe(true);
      });
      // aws-kinesis-agg reads the same user records from the same bytes.
      const theirs = aggDeaggregate(Buffer.from(r.Data!), r.PartitionKey!, r.SequenceNumber!);
      expect(theirs.map((t) => [t.partitionKey, t.subSequenceNumber, Buffer.from(t.data, 'base64').toString('hex')])).toEqual(
        inner.map((u, k) => [u.partitionKey, k, u.data.toString('hex')]),
      );
    }
    expect(users.size).toBe(recs.length);
    results.forEach((res, i) => {
      const key = res.subSequenceNumber === undefined ? `${res.shardId}/${res.sequenceNumber}` : `${res.shardId}/${res.sequenceNumber}/${res.subSequenceNumber}`;
      const u = users.get(key);
      expect(u?.partitionKey).toBe(recs[i]!.partitionKey);
      expect(u?.data.equals(recs[i]!.data)).toBe(true);
    });
    expect(results.at(-1)!.subSequenceNumber).toBeUndefined();
    expect(results.at(-2)!.shardId).toBe('shardId-000000000000');
  });

  test('ordered: with aggregation, a throttled and retried shard still stores records exactly in put() order', async () => {
    await createStream('p-ordered', 1);
    // No client-side limiter and 1 MiB aggregates: a shard admitting 1 MiB/s takes one, then needs a
    // full second before the next, so each following call is throttled however fast calls return.
    const producer = new Producer({
      client, streamName: 'p-ordered', ordered: true, aggregation: { maxBytes: 1024 * 1024 }, rateLimit: false, retry: { baseMs: 50, maxMs: 400 },
    });
    const recs = records(3000, 1000, 'o');
    const results = await Promise.all(recs.map((r) => producer.put(r)));
    await producer.close();
    expect(producer.stats().throttled).toBeGreaterThan(0);
    expect(Math.max(...results.map((r) => r.attempts))).toBeGreaterThan(1);
    const inShard = [...(await stored('p-ordered')).values()].sort((a, b) => (BigInt(a.SequenceNumber!) < BigInt(b.SequenceNumber!) ? -1 : 1));
    const users = inShard.flatMap((r) => deaggregate(r.Data!) ?? [{ partitionKey: r.PartitionKey!, data: Buffer.from(r.Data!) }]);
    expect(users.length).toBe(recs.length);
    const firstMismatch = users.findIndex((u, i) => !u.data.equals(recs[i]!.data));
    expect(firstMismatch).toBe(-1);
  });

  test('a split and a merge while producing: the producer notices the new shards and keeps routing by them', async () => {
    const { SplitShardCommand } = await import('@aws-sdk/client-kinesis');
    await createStream('p-split', 1);
    const producer = new Producer({ client, streamName: 'p-split' });
    await Promise.all(records(200, 20, 'pre').map((r) => producer.put(r)));
    await client.send(new SplitShardCommand({ StreamName: 'p-split', ShardToSplit: 'shardId-000000000000', NewStartingHashKey: (1n << 127n).toString() }));
    for (let i = 0; i < 100; i++) {
      const l = await client.send(new ListShardsCommand({ StreamName: 'p-split' }));
      if (l.Shards!.length === 3) break;
      await sleep(50);
    }
    const after = await Promise.all(records(400, 20, 'post').map((r) => producer.put(r)));
    await producer.close();
    expect(producer.stats().shardMapLoads).toBeGreaterThanOrEqual(2);
    expect(new Set(after.map((r) => r.shardId))).toEqual(new Set(['shardId-000000000001', 'shardId-000000000002']));
    expect((await producer.shards()).map((s) => s.shardId)).toEqual(['shardId-000000000001', 'shardId-000000000002']);

    // And back: a merge of the two children, noticed the same way by a producer that knew them.
    const producer2 = new Producer({ client, streamName: 'p-split' });
    expect((await producer2.shards()).length).toBe(2);
    const { MergeShardsCommand } = await import('@aws-sdk/client-kinesis');
    await client.send(new MergeShardsCommand({ StreamName: 'p-split', ShardToMerge: 'shardId-000000000001', AdjacentShardToMerge: 'shardId-000000000002' }));
    for (let i = 0; i < 100; i++) {
      const l = await client.send(new ListShardsCommand({ StreamName: 'p-split' }));
      if (l.Shards!.length === 4) break;
      await sleep(50);
    }
    const merged = await Promise.all(records(400, 20, 'merged').map((r) => producer2.put(r)));
    await producer2.close();
    expect(new Set(merged.map((r) => r.shardId))).toEqual(new Set(['shardId-000000000003']));
    expect((await producer2.shards()).map((s) => s.shardId)).toEqual(['shardId-000000000003']);
    expect((await stored('p-split')).size).toBe(1000);
  });
});
