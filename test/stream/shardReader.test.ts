// The one shard reader (stream/shardReader.ts) against a real nats-server.
// Records are written through the Kinesis API with the AWS SDK, so the oracle
// (sequence numbers PutRecord returned, data sent) is independent of the reader.
import { randomBytes } from 'node:crypto';
import { getEventListeners } from 'node:events';
import {
  CreateStreamCommand, DeleteStreamCommand, PutRecordCommand, PutRecordsCommand, SplitShardCommand, StartStreamEncryptionCommand, type KinesisClient,
} from '@aws-sdk/client-kinesis';
import { startNats, type NatsServers } from '../harness/nats.js';
import { sdkClient, startInProcess } from '../harness/runtime.js';
import type { RunningRuntime } from '../../runtime/server.js';
import { follow, readBatch, readableShards, resolveStart, retentionHorizonMs, type ShardBatchOut } from '../../stream/shardReader.js';
import { InvalidPositionError, KeyUnavailableError, ShardNotFoundError } from '../../stream/errors.js';
import { getStream } from '../../stream/streams.js';
import { KeyRing } from '../../stream/keyring.js';
import type { StreamRecord } from '../../stream/streamRecord.js';

const KEY_ID = 'reader-test-key';
const KEYS = `${KEY_ID}:${randomBytes(32).toString('base64')}`;

let nats: NatsServers;
let rt: RunningRuntime & { endpoint: string };
let client: KinesisClient;
const S0 = 'shardId-000000000000';

beforeAll(async () => {
  nats = await startNats();
  rt = await startInProcess(nats.url, { kmsKeys: KEYS });
  client = sdkClient(rt.endpoint, { http1: true });
});
afterAll(async () => {
  client?.destroy();
  await rt?.close();
  await nats?.stop();
});

async function stream(name: string): Promise<StreamRecord> {
  const r = await getStream(rt.ctx.store, name);
  if (!r) throw new Error(`no stream ${name}`);
  return r;
}

async function create(name: string, shards = 1): Promise<void> {
  await client.send(new CreateStreamCommand({ StreamName: name, ShardCount: shards }));
}

/** Puts records one call each; returns the sequence numbers Kinesis answered. */
async function putEach(name: string, values: string[], key = 'k'): Promise<string[]> {
  const seqs: string[] = [];
  for (const v of values) seqs.push((await client.send(new PutRecordCommand({ StreamName: name, PartitionKey: key, Data: Buffer.from(v) }))).SequenceNumber!);
  return seqs;
}

const values = (b: ShardBatchOut) => b.records.map((r) => r.data.toString());

describe('resolveStart', () => {
  let seqs: string[];
  let t1: number;
  beforeAll(async () => {
    await create('rs');
    seqs = await putEach('rs', ['a', 'b']);
    await new Promise((r) => setTimeout(r, 30));
    t1 = Date.now();
    await new Promise((r) => setTimeout(r, 30));
    seqs.push(...(await putEach('rs', ['c', 'd'])));
  });
  const readFrom = async (start: Parameters<typeof resolveStart>[3]) => {
    const rec = await stream('rs');
    const pos = await resolveStart(rt.ctx.store, rec, S0, start);
    return values(await readBatch(rt.ctx.store, rec, S0, pos, { limit: 100, maxBytes: 1 << 20 }));
  };

  test('the five iterator types name the positions Kinesis defines', async () => {
    expect(await readFrom({ type: 'TRIM_HORIZON' })).toEqual(['a', 'b', 'c', 'd']);
    expect(await readFrom({ type: 'LATEST' })).toEqual([]);
    expect(await readFrom({ type: 'AT_SEQUENCE_NUMBER', sequenceNumber: seqs[1]! })).toEqual(['b', 'c', 'd']);
    expect(await readFrom({ type: 'AFTER_SEQUENCE_NUMBER', sequenceNumber: seqs[1]! })).toEqual(['c', 'd']);
    expect(await readFrom({ type: 'AT_TIMESTAMP', timestampMs: t1 })).toEqual(['c', 'd']);
    expect(await readFrom({ type: 'AT_TIMESTAMP', timestampMs: 0 })).toEqual(['a', 'b', 'c', 'd']);
  });

  test('LATEST then a put: the new record and nothing older', async () => {
    const rec = await stream('rs');
    const pos = await resolveStart(rt.ctx.store, rec, S0, { type: 'LATEST' });
    await putEach('rs', ['e']);
    expect(values(await readBatch(rt.ctx.store, rec, S0, pos, { limit: 100, maxBytes: 1 << 20 }))).toEqual(['e']);
  });

  test('bad positions are typed errors', async () => {
    const rec = await stream('rs');
    const err = (start: Parameters<typeof resolveStart>[3], shardId = S0) => resolveStart(rt.ctx.store, rec, shardId, start).then(() => undefined, (e) => e);
    const malformed = await err({ type: 'AT_SEQUENCE_NUMBER', sequenceNumber: '123' });
    expect(malformed).toBeInstanceOf(InvalidPositionError);
    expect(malformed.reason).toEqual({ kind: 'malformed', sequenceNumber: '123' });
    const other = seqs[0]!.slice(0, 2) + '000007' + seqs[0]!.slice(8);
    expect((await err({ type: 'AFTER_SEQUENCE_NUMBER', sequenceNumber: other })).reason).toEqual({ kind: 'other-shard', sequenceNumber: other, encodedShardId: 'shardId-000000000007' });
    const future = await err({ type: 'AT_TIMESTAMP', timestampMs: Date.now() + 60_000 });
    expect(future.reason.kind).toBe('future-timestamp');
    const missing = await err({ type: 'TRIM_HORIZON' }, 'shardId-000000000009');
    expect(missing).toBeInstanceOf(ShardNotFoundError);
    expect(missing.shardId).toBe('shardId-000000000009');
  });
});

describe('readBatch', () => {
  test('bounded by limit and by bytes (data + UTF-8 partition key), resuming at next without gaps', async () => {
    await create('rb');
    const data = Array.from({ length: 30 }, (_, i) => `v${i}`.padEnd(100, '.'));
    await client.send(new PutRecordsCommand({ StreamName: 'rb', Records: data.map((d) => ({ PartitionKey: 'é', Data: Buffer.from(d) })) }));
    const rec = await stream('rb');
    const first = await readBatch(rt.ctx.store, rec, S0, { jsSeq: 0, index: 0 }, { limit: 7, maxBytes: 1 << 20 });
    expect(values(first)).toEqual(data.slice(0, 7));
    expect(first.shardEnded).toBe(false);
    // 102 bytes a record ("é" is 2 bytes): 5 fit in 510, not 6.
    const second = await readBatch(rt.ctx.store, rec, S0, first.next, { limit: 100, maxBytes: 510 });
    expect(values(second)).toEqual(data.slice(7, 12));
    // One record even when it alone is larger than maxBytes.
    const third = await readBatch(rt.ctx.store, rec, S0, second.next, { limit: 100, maxBytes: 1 });
    expect(values(third)).toEqual(data.slice(12, 13));
    const rest = await readBatch(rt.ctx.store, rec, S0, third.next, { limit: 100, maxBytes: 1 << 20 });
    expect(values(rest)).toEqual(data.slice(13));
    expect(rest.millisBehindLatest).toBe(0);
    expect(rest.records.every((r) => r.partitionKey === 'é' && !r.encrypted)).toBe(true);
  });

  test('sequence numbers are the ones PutRecord answered; arrival within the put', async () => {
    await create('rsq');
    const before = Date.now();
    const seqs = await putEach('rsq', ['x', 'y', 'z']);
    const rec = await stream('rsq');
    const b = await readBatch(rt.ctx.store, rec, S0, { jsSeq: 0, index: 0 }, { limit: 100, maxBytes: 1 << 20 });
    expect(b.records.map((r) => r.sequenceNumber)).toEqual(seqs);
    for (const r of b.records) expect(r.arrivalMs).toBeGreaterThanOrEqual(before - 5);
  });

  test('a closed shard read to its end reports shardEnded; readableShards then offers its children', async () => {
    await create('rsplit');
    await putEach('rsplit', ['p1', 'p2']);
    await client.send(new SplitShardCommand({ StreamName: 'rsplit', ShardToSplit: S0, NewStartingHashKey: (1n << 127n).toString() }));
    let rec = await stream('rsplit');
    for (let i = 0; i < 50 && rec.status !== 'ACTIVE'; i++) {
      await new Promise((r) => setTimeout(r, 100));
      rec = await stream('rsplit');
    }
    expect(readableShards(rec, () => false).map((s) => s.shardId)).toEqual([S0]);
    const b = await readBatch(rt.ctx.store, rec, S0, { jsSeq: 0, index: 0 }, { limit: 100, maxBytes: 1 << 20 });
    expect(values(b)).toEqual(['p1', 'p2']);
    expect(b.shardEnded).toBe(true);
    const partial = await readBatch(rt.ctx.store, rec, S0, { jsSeq: 0, index: 0 }, { limit: 1, maxBytes: 1 << 20 });
    expect(partial.shardEnded).toBe(false);
    expect(readableShards(rec, (id) => id === S0).map((s) => s.shardId)).toEqual(['shardId-000000000001', 'shardId-000000000002']);
    // A child reached through its parent: LATEST is its beginning (nothing written after the parent is skipped);
    // AT_TIMESTAMP is still the time.
    const C1 = 'shardId-000000000001';
    await client.send(new PutRecordCommand({ StreamName: 'rsplit', PartitionKey: 'k', Data: Buffer.from('c1'), ExplicitHashKey: '1' }));
    await new Promise((r) => setTimeout(r, 30));
    const t = Date.now();
    await new Promise((r) => setTimeout(r, 30));
    await client.send(new PutRecordCommand({ StreamName: 'rsplit', PartitionKey: 'k', Data: Buffer.from('c2'), ExplicitHashKey: '1' }));
    const read = async (start: Parameters<typeof resolveStart>[3], parentsRead: boolean) =>
      values(await readBatch(rt.ctx.store, rec, C1, await resolveStart(rt.ctx.store, rec, C1, start, { parentsRead }), { limit: 10, maxBytes: 1 << 20 }));
    expect(await read({ type: 'LATEST' }, true)).toEqual(['c1', 'c2']);
    expect(await read({ type: 'LATEST' }, false)).toEqual([]);
    expect(await read({ type: 'AT_TIMESTAMP', timestampMs: t }, true)).toEqual(['c2']);
    expect(await read({ type: 'TRIM_HORIZON' }, true)).toEqual(['c1', 'c2']);
  });

  test('encrypted records: decrypted with the key ring, KeyUnavailableError without the key', async () => {
    await create('renc');
    await client.send(new StartStreamEncryptionCommand({ StreamName: 'renc', EncryptionType: 'KMS', KeyId: KEY_ID }));
    await putEach('renc', ['secret']);
    const rec = await stream('renc');
    const ok = await readBatch(rt.ctx.store, rec, S0, { jsSeq: 0, index: 0 }, { limit: 10, maxBytes: 1 << 20, keys: new KeyRing({ inline: KEYS }) });
    expect(values(ok)).toEqual(['secret']);
    expect(ok.records[0]!.encrypted).toBe(true);
    const e = await readBatch(rt.ctx.store, rec, S0, { jsSeq: 0, index: 0 }, { limit: 10, maxBytes: 1 << 20, keys: new KeyRing({}) }).catch((x) => x);
    expect(e).toBeInstanceOf(KeyUnavailableError);
    expect(e.code).toBe('KMSNotFoundException');
  });
});

test('retentionHorizonMs: now minus the retention period', () => {
  const rec = { retentionHours: 24 } as StreamRecord;
  const hour = Number(process.env.SHARDLINE_HOUR_MS ?? 3_600_000);
  expect(retentionHorizonMs(rec, 1_000_000_000_000)).toBe(1_000_000_000_000 - 24 * hour);
});

describe('follow', () => {
  test('pushes records as they are written, from the start position, until aborted', async () => {
    await create('fl');
    const old = await putEach('fl', ['old1', 'old2']);
    const rec = await stream('fl');
    const ac = new AbortController();
    const f = follow(rt.ctx.store, rec, S0, await resolveStart(rt.ctx.store, rec, S0, { type: 'AFTER_SEQUENCE_NUMBER', sequenceNumber: old[0]! }), { signal: ac.signal });
    await f.ready();
    const got: string[] = [];
    const seqs: string[] = [];
    let writer: Promise<string[]> | undefined;
    const t0 = Date.now();
    for await (const b of f) {
      got.push(...values(b));
      seqs.push(...b.records.map((r) => r.sequenceNumber));
      expect(b.shardEnded).toBe(false);
      if (!writer) writer = putEach('fl', ['n1', 'n2', 'n3']);
      if (got.length >= 4) ac.abort();
    }
    expect(got).toEqual(['old2', 'n1', 'n2', 'n3']);
    expect(seqs).toEqual([old[1], ...(await writer!)]);
    expect(Date.now() - t0).toBeLessThan(10_000);
  });

  test('lingerMs: records written one by one within the linger come out as one batch, without it one batch each', async () => {
    /** The sizes of the batches that bring 5 records written one by one (PutRecord each: a message each). */
    const batchesOf = async (name: string, lingerMs?: number) => {
      await create(name);
      await putEach(name, ['first']);
      const rec = await stream(name);
      const ac = new AbortController();
      const sizes: number[] = [];
      let writer: Promise<string[]> | undefined;
      let seen = 0;
      for await (const b of follow(rt.ctx.store, rec, S0, { jsSeq: 0, index: 0 }, { signal: ac.signal, lingerMs })) {
        if (b.records.length === 0) continue;
        // The first batch is the record already there; the writes start after it.
        if (!writer) writer = putEach(name, ['r1', 'r2', 'r3', 'r4', 'r5']);
        else {
          sizes.push(b.records.length);
          seen += b.records.length;
        }
        if (seen >= 5) ac.abort();
      }
      await writer;
      return sizes;
    };
    const plain = await batchesOf('fl-plain');
    expect(plain.reduce((a, b) => a + b, 0)).toBe(5);
    expect(plain.length).toBeGreaterThan(1);
    expect(await batchesOf('fl-linger', 2_000)).toEqual([5]);
  });

  test('a shard closed by a split: the rest, then a last batch with shardEnded', async () => {
    await create('fsplit');
    await putEach('fsplit', ['a']);
    const rec = await stream('fsplit');
    const ac = new AbortController();
    const batches: ShardBatchOut[] = [];
    const done = (async () => {
      for await (const b of follow(rt.ctx.store, rec, S0, { jsSeq: 0, index: 0 }, { signal: ac.signal, recheckMs: 100 })) batches.push(b);
    })();
    await new Promise((r) => setTimeout(r, 200));
    await putEach('fsplit', ['b']);
    await client.send(new SplitShardCommand({ StreamName: 'fsplit', ShardToSplit: S0, NewStartingHashKey: (1n << 127n).toString() }));
    const timeout = setTimeout(() => ac.abort(), 15_000);
    await done;
    clearTimeout(timeout);
    expect(batches.flatMap(values)).toEqual(['a', 'b']);
    expect(batches[batches.length - 1]!.shardEnded).toBe(true);
    expect(batches.slice(0, -1).every((b) => !b.shardEnded)).toBe(true);
  });

  test('following a shard the stream does not have: ShardNotFoundError', async () => {
    const rec = await stream('fl');
    expect(() => follow(rt.ctx.store, rec, 'shardId-000000000042', { jsSeq: 0, index: 0 }, { signal: new AbortController().signal })).toThrow(ShardNotFoundError);
  });

  test('an encrypted message without its key: the records before it, then KeyUnavailableError', async () => {
    await create('fenc');
    await putEach('fenc', ['plain']);
    await client.send(new StartStreamEncryptionCommand({ StreamName: 'fenc', EncryptionType: 'KMS', KeyId: KEY_ID }));
    await putEach('fenc', ['sealed']);
    const rec = await stream('fenc');
    const got: string[] = [];
    const ac = new AbortController();
    const err = await (async () => {
      for await (const b of follow(rt.ctx.store, rec, S0, { jsSeq: 0, index: 0 }, { signal: ac.signal, keys: new KeyRing({}) })) got.push(...values(b));
    })().catch((e) => e);
    expect(got).toEqual(['plain']);
    expect(err).toBeInstanceOf(KeyUnavailableError);
  });

  test('a backlog already pushed to the client and read slowly: MillisBehindLatest is the gap to the newest record until caught up, then 0', async () => {
    await create('flag');
    const rec = await stream('flag');
    const ac = new AbortController();
    const f = follow(rt.ctx.store, rec, S0, await resolveStart(rt.ctx.store, rec, S0, { type: 'LATEST' }), { signal: ac.signal, limit: 5 });
    await f.ready();
    // One PutRecord (one stored message) at a time while the follow is live: the
    // consumer pushes each to the client as it is stored, where it waits for
    // the slow reader below. The put times bound each record's arrival.
    // 41 records in batches of 5: the next-to-last batch ends one record short of the tip.
    const n = 41;
    const before: number[] = [];
    const after: number[] = [];
    for (let i = 0; i < n; i++) {
      before.push(Date.now());
      await putEach('flag', [`r${i}`]);
      after.push(Date.now());
      await new Promise((r) => setTimeout(r, 10));
    }
    await new Promise((r) => setTimeout(r, 300));
    const it = f[Symbol.asyncIterator]();
    const got: string[] = [];
    const lags: number[] = [];
    while (got.length < n) {
      const b = (await it.next()).value as ShardBatchOut;
      got.push(...values(b));
      lags.push(b.millisBehindLatest);
      if (got.length < n) {
        // Kinesis: how far the returned records are behind the shard's newest one.
        const j = got.length - 1;
        expect(b.millisBehindLatest).toBeGreaterThan(0);
        expect(b.millisBehindLatest).toBeGreaterThanOrEqual(before[n - 1]! - after[j]! - 2);
        expect(b.millisBehindLatest).toBeLessThanOrEqual(after[n - 1]! - before[j]! + 2);
      }
      await new Promise((r) => setTimeout(r, 50)); // a slow processor
    }
    expect(got).toEqual(Array.from({ length: n }, (_, i) => `r${i}`));
    // Full batches from what the client holds, not one a message.
    expect(lags.length).toBe(Math.ceil(n / 5));
    expect(lags.at(-1)).toBe(0);
    // Caught up: a record written now is returned at once, 0 behind.
    await putEach('flag', ['live']);
    const live = (await it.next()).value as ShardBatchOut;
    expect(values(live)).toEqual(['live']);
    expect(live.millisBehindLatest).toBe(0);
    ac.abort();
    await it.return?.(undefined);
  });

  test('idle for many rechecks: nothing piles up on the abort signal; the stream deleted: ShardNotFoundError', async () => {
    await create('fdel');
    const rec = await stream('fdel');
    const ac = new AbortController();
    const f = follow(rt.ctx.store, rec, S0, { jsSeq: 0, index: 0 }, { signal: ac.signal, recheckMs: 10 });
    const it = f[Symbol.asyncIterator]();
    const first = it.next();
    await new Promise((r) => setTimeout(r, 400));
    // One listener for the consumer's clean-up, one for the current wait: not one per recheck (~40 by now).
    expect(getEventListeners(ac.signal, 'abort').length).toBeLessThanOrEqual(2);
    // Caught before the delete: the follow may see it before DeleteStream answers (an unhandled rejection otherwise).
    const failed = first.then(() => undefined, (e) => e);
    await client.send(new DeleteStreamCommand({ StreamName: 'fdel' }));
    expect(await failed).toBeInstanceOf(ShardNotFoundError);
    ac.abort();
  });
});
