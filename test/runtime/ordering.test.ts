// Ordering per shard under concurrent producers on two runtime processes.
// Each producer owns a few partition keys and waits for every ack before its
// next request (as Kinesis ordering requires); producers on both processes
// write to the same shards at the same time. Then every shard is read back.
import { CreateStreamCommand, PutRecordCommand, PutRecordsCommand, type KinesisClient } from '@aws-sdk/client-kinesis';
import { startNats, type NatsServers } from '../harness/nats.js';
import { sdkClient, startChild, type ChildRuntime } from '../harness/runtime.js';
import { connectStore, type Store } from '../../stream/connect.js';
import { readStream, text, withoutQuotas } from './records.helpers.js';

const STREAM = 'ordering';
const SHARDS = 4;
const PRODUCERS_PER_PROCESS = 4;
const KEYS_PER_PRODUCER = 3;
const RECORDS_PER_KEY = 100;
const BATCH_PER_KEY = 4; // PutRecords producers: 4 records of each key per request

let nats: NatsServers;
let procs: ChildRuntime[] = [];
let clients: KinesisClient[] = [];
let store: Store;

beforeAll(async () => {
  nats = await startNats();
  procs = await Promise.all([startChild(nats.url), startChild(nats.url)]);
  clients = procs.map((p) => sdkClient(p.endpoint, { http1: true }));
  store = await connectStore({ natsUrl: nats.url, name: 'ordering-test' });
  await clients[0]!.send(new CreateStreamCommand({ StreamName: STREAM, ShardCount: SHARDS }));
  // ~2,400 records in a couple of seconds over 4 shards: above a shard's 1,000 records/s.
  await withoutQuotas(store, STREAM, clients);
});
afterAll(async () => {
  for (const c of clients) c.destroy();
  await store?.close();
  for (const p of procs) await p.kill('SIGTERM');
  await nats?.stop();
});

interface Ack { pk: string; n: number; seq: string; shardId: string }

const pkOf = (p: number, k: number) => `producer-${p}-key-${k}`;
const body = (pk: string, n: number) => `${pk}#${n}`;

/** Even producers send PutRecords (several records per key, in order); odd ones PutRecord, one at a time. */
async function produce(p: number, client: KinesisClient): Promise<Ack[]> {
  const acks: Ack[] = [];
  const keys = Array.from({ length: KEYS_PER_PRODUCER }, (_, k) => pkOf(p, k));
  if (p % 2 === 0) {
    for (let n0 = 0; n0 < RECORDS_PER_KEY; n0 += BATCH_PER_KEY) {
      // Interleave keys inside the request: k0#n, k1#n, k2#n, k0#n+1, ...
      const entries: { pk: string; n: number }[] = [];
      for (let n = n0; n < Math.min(n0 + BATCH_PER_KEY, RECORDS_PER_KEY); n++) for (const pk of keys) entries.push({ pk, n });
      const r = await client.send(new PutRecordsCommand({
        StreamName: STREAM,
        Records: entries.map((e) => ({ PartitionKey: e.pk, Data: Buffer.from(body(e.pk, e.n)) })),
      }));
      if (r.FailedRecordCount) throw new Error(`producer ${p}: ${r.FailedRecordCount} failed: ${JSON.stringify(r.Records!.find((x) => x.ErrorCode))}`);
      r.Records!.forEach((x, i) => acks.push({ ...entries[i]!, seq: x.SequenceNumber!, shardId: x.ShardId! }));
    }
  } else {
    for (let n = 0; n < RECORDS_PER_KEY; n++) {
      for (const pk of keys) {
        const r = await client.send(new PutRecordCommand({ StreamName: STREAM, PartitionKey: pk, Data: Buffer.from(body(pk, n)) }));
        acks.push({ pk, n, seq: r.SequenceNumber!, shardId: r.ShardId! });
      }
    }
  }
  return acks;
}

test('per-key order, per-shard sequence order, nothing lost or duplicated', async () => {
  const producers = Array.from({ length: PRODUCERS_PER_PROCESS * procs.length }, (_, p) =>
    produce(p, clients[Math.floor(p / PRODUCERS_PER_PROCESS)]!));
  const acks = (await Promise.all(producers)).flat();
  const total = PRODUCERS_PER_PROCESS * procs.length * KEYS_PER_PRODUCER * RECORDS_PER_KEY;
  expect(acks).toHaveLength(total);

  // Acknowledged sequence numbers: unique, and increasing per key in producer order.
  expect(new Set(acks.map((a) => a.seq)).size).toBe(total);
  const ackedByKey = new Map<string, Ack[]>();
  for (const a of acks) ackedByKey.set(a.pk, [...(ackedByKey.get(a.pk) ?? []), a]);
  for (const list of ackedByKey.values()) {
    list.sort((x, y) => x.n - y.n);
    for (let i = 1; i < list.length; i++) expect(BigInt(list[i]!.seq) > BigInt(list[i - 1]!.seq)).toBe(true);
    expect(new Set(list.map((a) => a.shardId)).size).toBe(1);
  }

  // Read every shard back from TRIM_HORIZON, through both processes.
  const viaA = await readStream(clients[0]!, STREAM);
  const viaB = await readStream(clients[1]!, STREAM);
  expect([...viaB.entries()].map(([id, rs]) => [id, rs.map((r) => r.SequenceNumber)]))
    .toEqual([...viaA.entries()].map(([id, rs]) => [id, rs.map((r) => r.SequenceNumber)]));
  expect(viaA.size).toBe(SHARDS);

  const ackBySeq = new Map(acks.map((a) => [a.seq, a]));
  const seenBodies = new Set<string>();
  let read = 0;
  let shardsUsed = 0;
  let sharedShards = 0;
  for (const [shardId, records] of viaA) {
    if (records.length > 0) shardsUsed++;
    // Written to through both processes (producers 0-3 on one, 4-7 on the other)?
    const writers = new Set(records.map((r) => Math.floor(Number(/^producer-(\d+)/.exec(r.PartitionKey!)![1]) / PRODUCERS_PER_PROCESS)));
    if (writers.size === procs.length) sharedShards++;
    // Sequence numbers strictly increasing within the shard.
    for (let i = 1; i < records.length; i++) {
      expect(BigInt(records[i]!.SequenceNumber!) > BigInt(records[i - 1]!.SequenceNumber!)).toBe(true);
    }
    // Per partition key: exactly 0..N-1, in producer order.
    const nByKey = new Map<string, number[]>();
    for (const r of records) {
      const d = text(r);
      const [pk, n] = d.split('#') as [string, string];
      expect(r.PartitionKey).toBe(pk);
      nByKey.set(pk, [...(nByKey.get(pk) ?? []), Number(n)]);
      // Nothing duplicated; each record is the one acknowledged with this sequence number, in this shard.
      expect(seenBodies.has(d)).toBe(false);
      seenBodies.add(d);
      const ack = ackBySeq.get(r.SequenceNumber!);
      expect(ack && body(ack.pk, ack.n)).toBe(d);
      expect(ack!.shardId).toBe(shardId);
      read++;
    }
    for (const [pk, ns] of nByKey) {
      expect({ pk, ns }).toEqual({ pk, ns: Array.from({ length: RECORDS_PER_KEY }, (_, i) => i) });
    }
  }
  // Nothing lost.
  expect(read).toBe(total);
  // The keys spread over several shards, and shards really were shared by both processes.
  expect(shardsUsed).toBeGreaterThan(1);
  expect(sharedShards).toBeGreaterThan(0);
});
