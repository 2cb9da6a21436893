// readShard against a real nats-server over messages of 1 to 500 records,
// some larger than a socket read (64 KiB), with expired messages and a
// deleted one in between. The reader asks for as many messages per round trip
// as its limits can still take; whatever the window, every read must hand out
// exactly what fits (records, then bytes, at least one record), the next read
// must continue without a gap or a repeat, and the records must be those
// written (oracle: the list built here while writing, not the reader).
import { randomBytes } from 'node:crypto';
import { startNats, type NatsServers } from '../harness/nats.js';
import { connectStore, type Store } from '../../stream/connect.js';
import { ensureStream } from '../../stream/streams.js';
import { jsStreamName, jsSubject } from '../../stream/names.js';
import { encodeBatch } from '../../stream/recordBatch.js';
import { readShard, readShardPacked, type ReadRecord, type ReadShardOptions } from '../../stream/shardRead.js';
import { PackedRecords } from '../../stream/packedRecords.js';
import { encodeSequence } from '../../stream/kinesis/sequence.js';

interface Written { jsSeq: number; index: number; partitionKey: string; data: Buffer }

let nats: NatsServers;
let store: Store;
let jsStream: string;
/** Every record a read may hand out, in shard order. */
const oracle: Written[] = [];
const MIN_ARRIVAL = 10_000;

beforeAll(async () => {
  nats = await startNats();
  store = await connectStore({ natsUrl: nats.url, name: 'shardRead-windows-test' });
  const rec = await ensureStream(store, { name: 'windows', shardCount: 1, mode: 'PROVISIONED', retentionHours: 24, replicas: 1 });
  jsStream = jsStreamName(rec.uid, 0);
  const subject = jsSubject(rec.uid, 0);
  // [records in the message, Data bytes per record, arrived before the horizon]
  const layout: [number, number, boolean][] = [
    [3, 10, true], [5, 10, true],
    ...Array.from({ length: 12 }, (): [number, number, boolean] => [1, 40, false]),
    ...Array.from({ length: 6 }, (): [number, number, boolean] => [10, 200, false]),
    [125, 250, false], [284, 246, false], [7, 20, true], [500, 250, false], [125, 250, false],
    [50, 3000, false], // 150 KB: spans several socket reads
    [2, 300_000, false], // two records larger than a socket read each
    [284, 246, false], [500, 250, false], [1, 0, false], [284, 246, false],
  ];
  let n = 0;
  for (const [count, size, expired] of layout) {
    const recs = Array.from({ length: count }, () => {
      // Keys of 1-3 UTF-8 bytes per character: the byte limit counts UTF-8 bytes.
      const partitionKey = `${['k', 'é', '€'][n % 3]}${n}`;
      const prefix = Buffer.from(`r${n++}:`);
      const data = Buffer.concat([prefix, randomBytes(Math.max(0, size - prefix.length))]);
      return { partitionKey, partitionKeyBytes: Buffer.byteLength(partitionKey), data };
    });
    const ack = await store.js.publish(subject, encodeBatch(expired ? 1_000 : 20_000, recs));
    if (!expired) recs.forEach((r, index) => oracle.push({ jsSeq: ack.seq, index, partitionKey: r.partitionKey, data: r.data }));
  }
  // One message deleted in the middle: a gap of sequences the reader skips.
  const gone = oracle.find((w) => w.data.length === 200)!.jsSeq;
  await store.jsm.streams.deleteMessage(jsStream, gone);
  oracle.splice(0, oracle.length, ...oracle.filter((w) => w.jsSeq !== gone));
}, 60_000);

afterAll(async () => {
  await store?.close();
  await nats?.stop();
});

const size = (r: { partitionKey: string; data: Uint8Array }) => r.data.length + Buffer.byteLength(r.partitionKey, 'utf8');

/** Reads the whole shard with these limits, checking each read; returns each read's record count. */
async function readAll(limits: Omit<ReadShardOptions, 'minArrivalMs'>): Promise<number[]> {
  const got: ReadRecord[] = [];
  const counts: number[] = [];
  let pos = { jsSeq: 0, index: 0 };
  for (let reads = 0; ; reads++) {
    if (reads > oracle.length + 5) throw new Error('reads do not advance');
    const r = await readShard(store, jsStream, pos, { ...limits, minArrivalMs: MIN_ARRIVAL });
    const bytes = r.records.reduce((a, x) => a + size(x), 0);
    expect(r.records.length).toBeLessThanOrEqual(limits.limit);
    if (r.records.length > 1) expect(bytes).toBeLessThanOrEqual(limits.maxBytes);
    const following = oracle[got.length + r.records.length];
    if (r.atEnd) expect(following).toBeUndefined();
    else {
      // Not at the end: the read stopped because the next record does not fit.
      expect(following).toBeDefined();
      expect(r.records.length === limits.limit || bytes + size(following!) > limits.maxBytes).toBe(true);
      expect(r.records.length).toBeGreaterThan(0);
    }
    got.push(...r.records);
    counts.push(r.records.length);
    pos = r.next;
    if (r.atEnd) break;
  }
  expect(got.length).toBe(oracle.length);
  got.forEach((r, i) => {
    const w = oracle[i]!;
    // Compared field by field: a mismatch names the record instead of dumping thousands.
    if (r.jsSeq !== w.jsSeq || r.index !== w.index || r.partitionKey !== w.partitionKey || !r.data.equals(w.data)) {
      throw new Error(`record ${i}: got ${r.jsSeq}/${r.index} ${r.partitionKey}, written ${w.jsSeq}/${w.index} ${w.partitionKey}`);
    }
  });
  return counts;
}

test.each([
  { limit: 2, maxBytes: 1 << 20 },
  { limit: 7, maxBytes: 10 << 20 },
  { limit: 300, maxBytes: 10 << 20 },
  { limit: 10_000, maxBytes: 10 << 20 },
  { limit: 10_000, maxBytes: 5_000 },
  { limit: 10_000, maxBytes: 200_000 },
  { limit: 499, maxBytes: 64 * 1024 },
])('limit $limit, maxBytes $maxBytes: every record once, in order, each read as full as the limits allow', async (limits) => {
  const adaptive = await readAll(limits);
  // The same reads as the reader before (a fixed window of 64 messages, each get an nc.request()).
  expect(adaptive).toEqual(await readAll({ ...limits, baseline: true }));
}, 60_000);

test('a read starting inside a message, at its last record, and past the tip', async () => {
  const big = oracle.filter((w) => w.index === 400)[0]!;
  const r = await readShard(store, jsStream, { jsSeq: big.jsSeq, index: 400 }, { limit: 150, maxBytes: 10 << 20, minArrivalMs: MIN_ARRIVAL });
  const at = oracle.indexOf(big);
  expect(r.records.map((x) => x.data.toString('latin1', 0, 12))).toEqual(oracle.slice(at, at + 150).map((w) => w.data.toString('latin1', 0, 12)));
  expect(r.next).toEqual({ jsSeq: oracle[at + 150]!.jsSeq, index: oracle[at + 150]!.index });
  // Limit 1 at a message's last record, then at the next message's first.
  const lastOfMsg = oracle[at + 99]!;
  expect(lastOfMsg.index).toBe(499);
  const one = await readShard(store, jsStream, { jsSeq: lastOfMsg.jsSeq, index: 499 }, { limit: 1, maxBytes: 10 << 20, minArrivalMs: MIN_ARRIVAL });
  expect(one.records.map((x) => [x.jsSeq, x.index])).toEqual([[lastOfMsg.jsSeq, 499]]);
  expect(one.next).toEqual({ jsSeq: lastOfMsg.jsSeq + 1, index: 0 });
  const two = await readShard(store, jsStream, one.next, { limit: 1, maxBytes: 10 << 20, minArrivalMs: MIN_ARRIVAL });
  expect(two.records.map((x) => x.data.equals(oracle[at + 100]!.data))).toEqual([true]);
  expect(two.next).toEqual({ jsSeq: oracle[at + 101]!.jsSeq, index: oracle[at + 101]!.index });
  const last = oracle[oracle.length - 1]!;
  const end = await readShard(store, jsStream, { jsSeq: last.jsSeq, index: last.index }, { limit: 10_000, maxBytes: 10 << 20, minArrivalMs: MIN_ARRIVAL });
  expect(end.records.map((x) => x.index)).toEqual([last.index]);
  expect(end.atEnd).toBe(true);
  const past = await readShard(store, jsStream, end.next, { limit: 10_000, maxBytes: 10 << 20, minArrivalMs: MIN_ARRIVAL });
  expect(past.records).toEqual([]);
  expect(past.atEnd).toBe(true);
  expect(past.next).toEqual(end.next);
});

test.each([
  { limit: 7, maxBytes: 10 << 20 },
  { limit: 10_000, maxBytes: 10 << 20 },
  { limit: 10_000, maxBytes: 5_000 },
  { limit: 499, maxBytes: 64 * 1024 },
])('packed reads (no object per record), limit $limit, maxBytes $maxBytes: the records, positions and ends of readShard, read after read', async (limits) => {
  let pos = { jsSeq: 0, index: 0 };
  let n = 0;
  for (let reads = 0; ; reads++) {
    if (reads > oracle.length + 5) throw new Error('reads do not advance');
    const o = { ...limits, minArrivalMs: MIN_ARRIVAL };
    const plain = await readShard(store, jsStream, pos, o);
    const packed = await readShardPacked(store, jsStream, pos, o);
    expect({ next: packed.next, atEnd: packed.atEnd }).toEqual({ next: plain.next, atEnd: plain.atEnd });
    const p = new PackedRecords(0, packed.messages);
    expect(p.count).toBe(plain.records.length);
    const got = p.toRecords();
    got.forEach((r, i) => {
      const w = oracle[n + i]!;
      if (r.partitionKey !== w.partitionKey || !r.data.equals(w.data) || r.sequenceNumber !== encodeSequence({ shardIndex: 0, jsSeq: w.jsSeq, index: w.index })) {
        throw new Error(`record ${n + i}: got ${r.partitionKey}, written ${w.jsSeq}/${w.index} ${w.partitionKey}`);
      }
    });
    expect(p.dataBytes()).toBe(plain.records.reduce((a, r) => a + r.data.length, 0));
    n += got.length;
    pos = plain.next;
    if (plain.atEnd) break;
  }
  expect(n).toBe(oracle.length);
}, 60_000);
