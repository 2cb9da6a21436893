// Processors that take packed batches (processPackedRecords: records left in
// their stored messages, no object per record) over the direct source on a
// real nats-server: a backlog arrives packed, KPL aggregates (de-aggregated)
// and live records (once followed) the ordinary way; together every record once, in
// order, with the sequence numbers a plain processor sees (the oracle), and a
// checkpoint after a packed batch resumes after its last record. A processor
// done with a batch's bytes at return has its message buffers reused.
import { randomBytes } from 'node:crypto';
import { CreateStreamCommand, PutRecordCommand, PutRecordsCommand, StartStreamEncryptionCommand, type KinesisClient } from '@aws-sdk/client-kinesis';
import { Registry } from 'prom-client';
import { startNats, type NatsServers } from '../harness/nats.js';
import { sdkClient, startInProcess } from '../harness/runtime.js';
import { aggAggregate } from '../harness/kplAgg.js';
import type { RunningRuntime } from '../../runtime/server.js';
import { Consumer, directSource, memoryLeaseStore, type LeaseStore, type RecordProcessor, type ShardSource } from '../../consumer/index.js';
import { KeyRing } from '../../stream/keyring.js';
import { pooledMessageBytes } from '../../stream/natsSplitMessages.js';
import { putRange, recordingFactory, waitFor, type Seen } from './helpers.js';

let nats: NatsServers;
let rt: RunningRuntime & { endpoint: string };
let client: KinesisClient;
const KEY_ID = '1234abcd-12ab-34cd-56ef-1234567890ab';
const KEY = `${KEY_ID}:${randomBytes(32).toString('base64')}`;

beforeAll(async () => {
  nats = await startNats();
  rt = await startInProcess(nats.url, { kmsKeys: KEY });
  client = sdkClient(rt.endpoint, { http1: true });
});
afterAll(async () => {
  client?.destroy();
  await rt?.close();
  await nats?.stop();
});

interface Got extends Seen { packed: boolean; sub?: number }

function packedFactory(got: Got[]) {
  return (shardId: string): RecordProcessor => ({
    async processPackedRecords(batch, cp) {
      batch.packed.forEach((m, i, c) => got.push({
        value: Number(m.payload.toString('utf8', c.dataStart, c.dataEnd)), key: m.payload.toString('utf8', c.keyStart, c.keyEnd),
        shardId, sequenceNumber: batch.packed.sequenceNumber(m, i), worker: 'p', packed: true,
      }));
      await cp.checkpoint();
    },
    async processRecords(batch, cp) {
      for (const r of batch.records) got.push({ value: Number(r.data.toString()), key: r.partitionKey, shardId, sequenceNumber: r.sequenceNumber, worker: 'p', packed: false, sub: r.subSequenceNumber });
      await cp.checkpoint();
    },
    async shardEnded(cp) { await cp.checkpoint(); },
    async shutdownRequested(cp) { await cp.checkpoint(); },
  });
}

function consumer(app: string, leases: LeaseStore, factory: (shardId: string) => RecordProcessor): Consumer {
  return new Consumer({
    applicationName: app, streamName: 'packed', source: directSource(rt.ctx.store), leaseStore: leases,
    processorFactory: factory, failoverTimeMs: 1_500, idleTimeBetweenReadsMs: 100, shardSyncIntervalMs: 500,
    maxRecords: 250, metricsRegistry: new Registry(),
  });
}

test('a backlog comes packed, aggregates the ordinary way; every record once, in order, as a plain processor sees them', async () => {
  await client.send(new CreateStreamCommand({ StreamName: 'packed', ShardCount: 2 }));
  await putRange(client, 'packed', 0, 1000, 100);
  // A KPL aggregate in the backlog: the consumer de-aggregates it, so that batch comes as records.
  const users = Array.from({ length: 5 }, (_, i) => ({ partitionKey: `agg-${i}`, data: Buffer.from(String(5000 + i)) }));
  for (const e of await aggAggregate(users)) await client.send(new PutRecordCommand({ StreamName: 'packed', PartitionKey: e.partitionKey, Data: e.data }));
  await putRange(client, 'packed', 1000, 1500, 100);

  const leases = memoryLeaseStore();
  const got: Got[] = [];
  const a = consumer('packed-app', leases, packedFactory(got));
  await a.start();
  await waitFor(() => got.length >= 1505, 30_000, 'the backlog');
  // Live now: records written from here on.
  await putRange(client, 'packed', 1500, 1600, 100);
  await waitFor(() => got.length >= 1605, 30_000, 'live records');
  await a.stop();

  // The oracle: a processor without processPackedRecords over the same stream.
  const plain: Seen[] = [];
  const b = consumer('plain-app', memoryLeaseStore(), recordingFactory('plain', plain));
  await b.start();
  await waitFor(() => plain.length >= 1605, 30_000, 'the plain consumer');
  await b.stop();

  const view = (s: Seen) => `${s.shardId}|${s.sequenceNumber}|${s.key}|${s.value}`;
  const byShard = (xs: Seen[]) => xs.map(view).sort();
  expect(byShard(got)).toEqual(byShard(plain));
  // In shard order within each shard.
  for (const shard of new Set(got.map((g) => g.shardId))) {
    const seqs = got.filter((g) => g.shardId === shard).map((g) => BigInt(g.sequenceNumber) * 1000n + BigInt(g.sub ?? 0));
    expect(seqs).toEqual([...seqs].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0)));
  }
  expect(got.filter((g) => g.packed).length).toBeGreaterThan(1000);
  expect(got.filter((g) => g.value >= 5000).map((g) => [g.packed, g.sub])).toEqual([0, 1, 2, 3, 4].map((i) => [false, i]));

  // A later worker of the packed app resumes after the last checkpoint: only new records.
  await putRange(client, 'packed', 1600, 1700, 100);
  const again: Got[] = [];
  const c = consumer('packed-app', leases, packedFactory(again));
  await c.start();
  await waitFor(() => again.length >= 100, 30_000, 'the new records');
  await c.stop();
  expect(again.map((g) => g.value).sort((x, y) => x - y)).toEqual(Array.from({ length: 100 }, (_, i) => 1600 + i));
  expect(again.every((g) => g.packed)).toBe(true);
}, 120_000);

test('an encrypted stream: packed batches hold the opened messages', async () => {
  await client.send(new CreateStreamCommand({ StreamName: 'packed-enc', ShardCount: 1 }));
  await client.send(new StartStreamEncryptionCommand({ StreamName: 'packed-enc', EncryptionType: 'KMS', KeyId: KEY_ID }));
  await putRange(client, 'packed-enc', 0, 300, 100);
  const values: number[] = [];
  let sealed = 0;
  const c = new Consumer({
    applicationName: 'packed-enc-app', streamName: 'packed-enc', source: directSource(rt.ctx.store, { keys: new KeyRing({ inline: KEY }) }),
    leaseStore: memoryLeaseStore(), metricsRegistry: new Registry(),
    processorFactory: () => ({
      async processPackedRecords(batch, cp) {
        batch.packed.forEach((m, _i, cur) => { values.push(Number(m.payload.toString('utf8', cur.dataStart, cur.dataEnd))); if (m.encrypted) sealed++; });
        await cp.checkpoint();
      },
      async processRecords(batch, cp) { for (const r of batch.records) values.push(Number(r.data.toString())); await cp.checkpoint(); },
      async shardEnded(cp) { await cp.checkpoint(); },
    }),
  });
  await c.start();
  await waitFor(() => values.length >= 300, 20_000, '300 records');
  await c.stop();
  expect(values).toEqual(Array.from({ length: 300 }, (_, i) => i));
  expect(sealed).toBe(300);
}, 60_000);

test('a batch says when it was read: a caught-up batch whose processing comes late holds every record stored before its readAtMs', async () => {
  // What a watermark that follows the clock relies on (analytics workers): the time of the read, not of the
  // processing, which a process paused past its lease (SIGSTOP) or a long GC can push far out. The pause is
  // put between a read and its processing by a source whose reader holds one caught-up empty batch 1.5 s.
  await client.send(new CreateStreamCommand({ StreamName: 'read-at', ShardCount: 1 }));
  await putRange(client, 'read-at', 0, 50, 50);
  const batches: { readAtMs?: number; processedAtMs: number; arrivals: number[]; behind: number }[] = [];
  const direct = directSource(rt.ctx.store);
  let heldAt: number | undefined;
  const source: ShardSource = {
    listShards: (s) => direct.listShards(s),
    openShard: async (...a) => {
      const r = await direct.openShard(...a);
      return {
        next: async (o) => {
          const b = await r.next(o);
          if (heldAt === undefined && b.millisBehindLatest === 0 && b.records.length === 0 && !b.packed?.count) {
            heldAt = Date.now();
            await new Promise((res) => setTimeout(res, 1500));
          }
          return b;
        },
        close: () => r.close(),
      };
    },
  };
  const record = (readAtMs: number | undefined, behind: number, arrivals: number[]) => batches.push({ readAtMs, processedAtMs: Date.now(), arrivals, behind });
  const c = new Consumer({
    applicationName: 'read-at-app', streamName: 'read-at', source, leaseStore: memoryLeaseStore(), metricsRegistry: new Registry(),
    failoverTimeMs: 10_000, idleTimeBetweenReadsMs: 50, shardSyncIntervalMs: 500, maxRecords: 1000, callProcessRecordsEvenForEmptyRecordList: true,
    processorFactory: () => ({
      async processRecords(batch, cp) {
        record(batch.readAtMs, batch.millisBehindLatest, batch.records.map((r) => r.approximateArrivalTimestamp.getTime()));
        await cp.checkpoint();
      },
      async processPackedRecords(batch, cp) {
        const arrivals: number[] = [];
        batch.packed.forEach((m) => arrivals.push(m.arrivalMs));
        record(batch.readAtMs, batch.millisBehindLatest, arrivals);
        await cp.checkpoint();
      },
      async shardEnded(cp) { await cp.checkpoint(); },
    }),
  });
  await c.start();
  await waitFor(() => heldAt !== undefined, 30_000, 'a caught-up read');
  // Written while that read's batch waits for its processing.
  await putRange(client, 'read-at', 50, 60, 10);
  await waitFor(() => batches.reduce((n, b) => n + b.arrivals.length, 0) >= 60, 30_000, 'every record');
  await c.stop();

  const held = batches.find((b) => b.behind === 0 && b.arrivals.length === 0 && b.processedAtMs >= heldAt! + 1400)!;
  expect(held).toBeDefined();
  const during = batches.flatMap((b) => b.arrivals).slice(50);
  // Processed after the records written during the pause arrived, but stamped with the time of its read:
  // a watermark from readAtMs does not pass them (one from the processing time would).
  expect(Math.min(...during)).toBeLessThan(held.processedAtMs);
  expect(held.readAtMs!).toBeLessThanOrEqual(heldAt!);
  expect(held.readAtMs!).toBeLessThan(Math.min(...during));
  for (const b of batches) expect(b.readAtMs).toBeLessThanOrEqual(b.processedAtMs);
}, 60_000);

test('a processor done with packed bytes at return has its batches\' buffers reused by later reads, never before a failed batch is retried', async () => {
  // Messages of 100 records of ~2 KB: ~200 KB each, longer than a socket read, so collected in pooled buffers.
  await client.send(new CreateStreamCommand({ StreamName: 'packed-recycle', ShardCount: 2 }));
  const dataOf = (i: number) => Buffer.from(`${i}:`.padEnd(2000, String.fromCharCode(97 + (i % 26))));
  const N = 3000;
  for (let at = 0; at < N; at += 100) {
    // Throttled records (a shard takes 1 MB/s) are sent again.
    let pending = Array.from({ length: 100 }, (_, k) => ({ PartitionKey: `k${(at + k) % 7}`, Data: dataOf(at + k) }));
    while (pending.length) {
      const res = await client.send(new PutRecordsCommand({ StreamName: 'packed-recycle', Records: pending }));
      pending = pending.filter((_, i) => res.Records?.[i]?.ErrorCode);
      if (pending.length) await new Promise((r) => setTimeout(r, 200));
    }
  }
  const seen = new Set<number>();
  let bad = 0;
  let failed = 0;
  let calls = 0;
  const pooledBefore = pooledMessageBytes();
  const c = new Consumer({
    applicationName: 'packed-recycle-app', streamName: 'packed-recycle', source: directSource(rt.ctx.store), leaseStore: memoryLeaseStore(),
    failoverTimeMs: 1_500, idleTimeBetweenReadsMs: 100, shardSyncIntervalMs: 500, maxRecords: 300, metricsRegistry: new Registry(),
    processorFactory: () => ({
      packedBytesDuringCallOnly: true,
      async processPackedRecords(batch, cp) {
        // Every record's bytes as written, on the first call and on the retry after a failure.
        const values: number[] = [];
        batch.packed.forEach((m, _i, cur) => {
          const data = m.payload.subarray(cur.dataStart, cur.dataEnd);
          const v = Number(data.toString('utf8', 0, data.indexOf(0x3a)));
          if (!data.equals(dataOf(v))) bad++;
          values.push(v);
        });
        // Every third batch fails once; the other shard reads on while it waits to be retried.
        if (++calls % 3 === 0) {
          failed++;
          throw new Error('failed once');
        }
        for (const v of values) seen.add(v);
        await cp.checkpoint();
      },
      async processRecords(batch, cp) {
        for (const r of batch.records) seen.add(Number(r.data.toString('utf8', 0, r.data.indexOf(0x3a))));
        await cp.checkpoint();
      },
      async shardEnded(cp) { await cp.checkpoint(); },
      async shutdownRequested(cp) { await cp.checkpoint(); },
    }),
  });
  await c.start();
  try {
    await waitFor(() => seen.size >= N || bad > 0, 60_000, 'every record');
  } finally {
    await c.stop();
  }
  expect(bad).toBe(0);
  expect(seen.size).toBe(N);
  expect(failed).toBeGreaterThan(2);
  // Buffers came back to the pool (later reads took some of them again).
  expect(pooledMessageBytes()).toBeGreaterThan(pooledBefore);
}, 120_000);
