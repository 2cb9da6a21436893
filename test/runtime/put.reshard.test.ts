// PutRecords under load while the stream is resharded again and again, through
// two runtimes: no entry may fail (a reshard is the service's business, not
// the client's), and every acknowledged record must be stored exactly once,
// at the shard and sequence number it was acknowledged with, in per-key order
// when the shards are read parents before children.
//
// This is the bench's "InternalFailure under heavy load" defect: parents are
// sealed some time before the record shows their children, and writers that
// hit a sealed parent used to give up after three immediate re-reads of the
// (unchanged) map.
import {
  CreateStreamCommand, DescribeStreamSummaryCommand, ListShardsCommand, PutRecordsCommand, UpdateShardCountCommand,
  type KinesisClient, type Shard,
} from '@aws-sdk/client-kinesis';
import { startStack, type Stack } from '../harness/runtime.js';
import { readShard, text, until, withoutQuotas } from './records.helpers.js';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack(2);
}, 60_000);
afterAll(() => stack?.stop());

const STREAM = 'put-reshard';
const WRITERS_PER_RUNTIME = 3;
const BATCH = 500;
const KEYS = 64;

interface Acked {
  shardId: string;
  seq: string;
}

/** Shards ordered so that every shard comes after its parents (the order a KCL reads them). */
function lineageOrder(shards: Shard[]): Shard[] {
  const out: Shard[] = [];
  const done = new Set<string>();
  const known = new Set(shards.map((s) => s.ShardId!));
  const ready = (s: Shard) => [s.ParentShardId, s.AdjacentParentShardId].every((p) => !p || !known.has(p) || done.has(p));
  while (out.length < shards.length) {
    const next = shards.find((s) => !done.has(s.ShardId!) && ready(s));
    if (!next) throw new Error('shard lineage has a cycle');
    out.push(next);
    done.add(next.ShardId!);
  }
  return out;
}

/** One producer: sequential PutRecords of BATCH small records until `stop`, entries named w<writer>.<n>. */
async function writer(client: KinesisClient, id: number, stop: { done: boolean }, acked: Map<string, Acked>, failures: Map<string, number>) {
  let n = 0;
  while (!stop.done) {
    const batch = Array.from({ length: BATCH }, () => {
      const i = n++;
      return { PartitionKey: `k${i % KEYS}`, Data: Buffer.from(`w${id}.${i}.${'x'.repeat(32)}`) };
    });
    const r = await client.send(new PutRecordsCommand({ StreamName: STREAM, Records: batch }));
    r.Records!.forEach((e, k) => {
      const data = Buffer.from(batch[k]!.Data).toString();
      if (e.ErrorCode) failures.set(`${e.ErrorCode}: ${e.ErrorMessage}`, (failures.get(`${e.ErrorCode}: ${e.ErrorMessage}`) ?? 0) + 1);
      else acked.set(data, { shardId: e.ShardId!, seq: e.SequenceNumber! });
    });
  }
}

test('PutRecords racing repeated reshards: no failed entry, every acknowledged record stored exactly once, in order', async () => {
  const [ca, cb] = stack.clients as [KinesisClient, KinesisClient];
  await ca.send(new CreateStreamCommand({ StreamName: STREAM, ShardCount: 2 }));
  const active = async () =>
    (await ca.send(new DescribeStreamSummaryCommand({ StreamName: STREAM }))).StreamDescriptionSummary!.StreamStatus === 'ACTIVE';
  await until('stream ACTIVE', active, 20_000);
  await withoutQuotas(stack.runtimes[0]!.ctx.store, STREAM, stack.clients);

  const acked = new Map<string, Acked>();
  const failures = new Map<string, number>();
  const stop = { done: false };
  const writers = Array.from({ length: 2 * WRITERS_PER_RUNTIME }, (_, w) => writer(w % 2 ? cb : ca, w, stop, acked, failures));
  try {
    // Each step closes every open shard (uniform scaling to a count that shares no range with the last),
    // so each one seals several parents while six writers keep every shard busy.
    for (const target of [4, 8, 16, 8, 4, 2]) {
      await new Promise((r) => setTimeout(r, 500));
      await ca.send(new UpdateShardCountCommand({ StreamName: STREAM, TargetShardCount: target, ScalingType: 'UNIFORM_SCALING' }));
      await until(`ACTIVE at ${target} shards`, active, 20_000);
    }
    await new Promise((r) => setTimeout(r, 500));
  } finally {
    stop.done = true;
  }
  // A whole-request error (an exception from send) ends its writer: none may.
  const ends = await Promise.allSettled(writers);
  expect(ends.flatMap((e) => (e.status === 'rejected' ? [String(e.reason)] : []))).toEqual([]);
  expect(Object.fromEntries(failures)).toEqual({});
  expect(acked.size).toBeGreaterThan(10_000);

  // Read back every shard, parents before children.
  const shards = (await ca.send(new ListShardsCommand({ StreamName: STREAM }))).Shards!;
  expect(shards.length).toBe(2 + 4 + 8 + 16 + 8 + 4 + 2);
  const seen = new Map<string, number>();
  const lastIndex = new Map<string, number>(); // writer + key → last record index read
  const misplaced: string[] = [];
  const outOfOrder: string[] = [];
  for (const s of lineageOrder(shards)) {
    for (const r of await readShard(ca, STREAM, s.ShardId!, { limit: 10_000, maxPages: 10_000 })) {
      const data = text(r);
      seen.set(data, (seen.get(data) ?? 0) + 1);
      const a = acked.get(data);
      if (a && (a.shardId !== s.ShardId || a.seq !== r.SequenceNumber)) misplaced.push(`${data.slice(0, 12)} acked ${a.shardId}/${a.seq}, read ${s.ShardId}/${r.SequenceNumber}`);
      const [w, i] = data.split('.') as [string, string];
      const wk = `${w}/${r.PartitionKey}`;
      if ((lastIndex.get(wk) ?? -1) >= Number(i)) outOfOrder.push(`${wk}: ${i} after ${lastIndex.get(wk)}`);
      lastIndex.set(wk, Number(i));
    }
  }
  const missing = [...acked.keys()].filter((d) => !seen.has(d));
  const duplicated = [...seen].filter(([, c]) => c > 1).map(([d]) => d);
  const unacked = [...seen.keys()].filter((d) => !acked.has(d));
  expect({ missing: missing.length, duplicated: duplicated.length, unacked: unacked.length }).toEqual({ missing: 0, duplicated: 0, unacked: 0 });
  expect(misplaced.slice(0, 5)).toEqual([]);
  expect(outOfOrder.slice(0, 5)).toEqual([]);
}, 240_000);
