// Shard iterators at record granularity. A PutRecords of many records to one
// shard is one JetStream message (the shard appender batches a tick's records
// per shard), so positions inside a message and across messages both matter.
import {
  CreateStreamCommand, DeleteStreamCommand, ExpiredIteratorException, GetRecordsCommand, GetShardIteratorCommand,
  InvalidArgumentException, PutRecordCommand, PutRecordsCommand, ResourceNotFoundException,
  type GetShardIteratorCommandInput, type KinesisClient, type _Record,
} from '@aws-sdk/client-kinesis';
import { startNats, type NatsServers } from '../harness/nats.js';
import { sdkClient, startInProcess } from '../harness/runtime.js';
import type { RunningRuntime } from '../../runtime/server.js';
import { drain, sleep, text, until, withoutQuotas } from './records.helpers.js';

const SHARD = 'shardId-000000000000';
const TTL_MS = 300;

let nats: NatsServers;
let rt: RunningRuntime & { endpoint: string };
let other: RunningRuntime & { endpoint: string };
let shortTtl: RunningRuntime & { endpoint: string };
let client: KinesisClient;
let otherClient: KinesisClient;
let shortClient: KinesisClient;

beforeAll(async () => {
  nats = await startNats();
  [rt, other, shortTtl] = await Promise.all([
    startInProcess(nats.url),
    startInProcess(nats.url),
    startInProcess(nats.url, { iteratorTtlMs: TTL_MS }),
  ]);
  client = sdkClient(rt.endpoint, { http1: true });
  otherClient = sdkClient(other.endpoint, { http1: true });
  shortClient = sdkClient(shortTtl.endpoint, { http1: true });
});
afterAll(async () => {
  for (const c of [client, otherClient, shortClient]) c?.destroy();
  for (const r of [rt, other, shortTtl]) await r?.close();
  await nats?.stop();
});

/** A stream with per-shard limits off: these tests read far faster than 5 calls/s a shard. */
async function create(StreamName: string, ShardCount: number) {
  await client.send(new CreateStreamCommand({ StreamName, ShardCount }));
  await withoutQuotas(rt.ctx.store, StreamName, [client, otherClient, shortClient]);
}

async function iterator(input: Omit<GetShardIteratorCommandInput, 'ShardId'> & { ShardId?: string }, c = client): Promise<string> {
  const r = await c.send(new GetShardIteratorCommand({ ShardId: SHARD, ...input }));
  expect(typeof r.ShardIterator).toBe('string');
  return r.ShardIterator!;
}

async function get(it: string, limit?: number, c = client) {
  return c.send(new GetRecordsCommand({ ShardIterator: it, Limit: limit }));
}

const datas = (rs: _Record[] | undefined) => (rs ?? []).map(text);

/**
 * One single-shard stream with three JetStream messages:
 *   m1 = PutRecords a0..a9, m2 = PutRecord b0, m3 = PutRecords c0..c4,
 * with gaps between them so arrival timestamps differ.
 */
describe('positions', () => {
  const stream = 'iter-positions';
  const all = [...Array.from({ length: 10 }, (_, i) => `a${i}`), 'b0', ...Array.from({ length: 5 }, (_, i) => `c${i}`)];
  const seq = new Map<string, string>();
  const arrival = new Map<string, Date>();
  let betweenB: Date; // after m1 and before m2
  let latestBeforeC: string; // a LATEST iterator taken after m2

  beforeAll(async () => {
    await create(stream, 1);
    const a = await client.send(new PutRecordsCommand({
      StreamName: stream, Records: all.slice(0, 10).map((d) => ({ PartitionKey: 'pk', Data: Buffer.from(d) })),
    }));
    a.Records!.forEach((r, i) => seq.set(all[i]!, r.SequenceNumber!));
    await sleep(30);
    betweenB = new Date();
    await sleep(30);
    const b = await client.send(new PutRecordCommand({ StreamName: stream, PartitionKey: 'pk', Data: Buffer.from('b0') }));
    seq.set('b0', b.SequenceNumber!);
    latestBeforeC = await iterator({ StreamName: stream, ShardIteratorType: 'LATEST' });
    await sleep(30);
    const c = await client.send(new PutRecordsCommand({
      StreamName: stream, Records: all.slice(11).map((d) => ({ PartitionKey: 'pk', Data: Buffer.from(d) })),
    }));
    c.Records!.forEach((r, i) => seq.set(all[11 + i]!, r.SequenceNumber!));
    for (const r of await drain(client, await iterator({ StreamName: stream, ShardIteratorType: 'TRIM_HORIZON' }))) {
      arrival.set(text(r), r.ApproximateArrivalTimestamp!);
    }
  });

  test('setup: a PutRecords to one shard is one message (shared message part, consecutive indexes)', () => {
    const msgPart = (s: string) => s.slice(0, 28); // "49" + shard(6) + jsSeq(20)
    const a = all.slice(0, 10).map((d) => seq.get(d)!);
    expect(new Set(a.map(msgPart)).size).toBe(1);
    expect(a.map((s) => Number(s.slice(28)))).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(msgPart(seq.get('b0')!)).not.toBe(msgPart(a[0]!));
    // Strictly increasing, as strings and as numbers.
    const ordered = all.map((d) => seq.get(d)!);
    for (let i = 1; i < ordered.length; i++) {
      expect(ordered[i]! > ordered[i - 1]!).toBe(true);
      expect(BigInt(ordered[i]!) > BigInt(ordered[i - 1]!)).toBe(true);
    }
  });

  test('TRIM_HORIZON returns everything in order with its sequence numbers', async () => {
    const got = await drain(client, await iterator({ StreamName: stream, ShardIteratorType: 'TRIM_HORIZON' }));
    expect(datas(got)).toEqual(all);
    expect(got.map((r) => r.SequenceNumber)).toEqual(all.map((d) => seq.get(d)));
    expect(got.every((r) => r.PartitionKey === 'pk')).toBe(true);
  });

  test.each(all.map((d, i) => [d, i] as const))('AT_SEQUENCE_NUMBER of %s starts exactly there', async (d, i) => {
    const got = await get(await iterator({ StreamName: stream, ShardIteratorType: 'AT_SEQUENCE_NUMBER', StartingSequenceNumber: seq.get(d) }));
    expect(datas(got.Records)).toEqual(all.slice(i));
  });

  test.each(all.map((d, i) => [d, i] as const))('AFTER_SEQUENCE_NUMBER of %s starts right after it', async (d, i) => {
    const got = await get(await iterator({ StreamName: stream, ShardIteratorType: 'AFTER_SEQUENCE_NUMBER', StartingSequenceNumber: seq.get(d) }));
    expect(datas(got.Records)).toEqual(all.slice(i + 1));
    if (i === all.length - 1) expect(got.MillisBehindLatest).toBe(0);
  });

  test('AFTER_SEQUENCE_NUMBER of the last record then sees the next write', async () => {
    const s = 'iter-after-last';
    await create(s, 1);
    const first = await client.send(new PutRecordCommand({ StreamName: s, PartitionKey: 'k', Data: Buffer.from('one') }));
    const it = await iterator({ StreamName: s, ShardIteratorType: 'AFTER_SEQUENCE_NUMBER', StartingSequenceNumber: first.SequenceNumber });
    const empty = await get(it);
    expect(empty.Records).toEqual([]);
    await client.send(new PutRecordsCommand({ StreamName: s, Records: [{ PartitionKey: 'k', Data: Buffer.from('two') }, { PartitionKey: 'k', Data: Buffer.from('three') }] }));
    expect(datas((await get(empty.NextShardIterator!)).Records)).toEqual(['two', 'three']);
  });

  test('LATEST starts after the tip: only records written later', async () => {
    const got = await get(latestBeforeC);
    expect(datas(got.Records)).toEqual(all.slice(11));
    const now = await get(await iterator({ StreamName: stream, ShardIteratorType: 'LATEST' }));
    expect(now.Records).toEqual([]);
    expect(now.MillisBehindLatest).toBe(0);
  });

  test('AT_TIMESTAMP between messages starts at the first later message', async () => {
    const got = await get(await iterator({ StreamName: stream, ShardIteratorType: 'AT_TIMESTAMP', Timestamp: betweenB }));
    expect(datas(got.Records)).toEqual(all.slice(10));
  });

  test('AT_TIMESTAMP equal to an arrival timestamp includes that message; before all is the horizon; now is the tip', async () => {
    const atB = await get(await iterator({ StreamName: stream, ShardIteratorType: 'AT_TIMESTAMP', Timestamp: arrival.get('b0') }));
    expect(datas(atB.Records)).toEqual(all.slice(10));
    const atC = await get(await iterator({ StreamName: stream, ShardIteratorType: 'AT_TIMESTAMP', Timestamp: arrival.get('c0') }));
    expect(datas(atC.Records)).toEqual(all.slice(11));
    // Every record of a message shares its arrival timestamp.
    expect(new Set(all.slice(0, 10).map((d) => arrival.get(d)!.getTime())).size).toBe(1);
    const early = await get(await iterator({ StreamName: stream, ShardIteratorType: 'AT_TIMESTAMP', Timestamp: new Date(Date.now() - 3_600_000) }));
    expect(datas(early.Records)).toEqual(all);
    const late = await get(await iterator({ StreamName: stream, ShardIteratorType: 'AT_TIMESTAMP', Timestamp: new Date() }));
    expect(late.Records).toEqual([]);
  });

  test('Limit cuts inside a message and the next iterator resumes at the next record', async () => {
    let it = await iterator({ StreamName: stream, ShardIteratorType: 'TRIM_HORIZON' });
    const pages: string[][] = [];
    for (let i = 0; i < 20; i++) {
      const r = await get(it, 3);
      if (r.Records!.length === 0) {
        expect(r.MillisBehindLatest).toBe(0);
        break;
      }
      expect(r.Records!.length).toBeLessThanOrEqual(3);
      pages.push(datas(r.Records));
      it = r.NextShardIterator!;
    }
    // 3-record pages: a0-a2, a3-a5, a6-a8, then a9 + b0 + c0 (across messages), c1-c3, c4.
    expect(pages).toEqual([
      ['a0', 'a1', 'a2'], ['a3', 'a4', 'a5'], ['a6', 'a7', 'a8'], ['a9', 'b0', 'c0'], ['c1', 'c2', 'c3'], ['c4'],
    ]);
  });

  test('Limit 1 from AT_SEQUENCE_NUMBER in the middle of a message', async () => {
    let it = await iterator({ StreamName: stream, ShardIteratorType: 'AT_SEQUENCE_NUMBER', StartingSequenceNumber: seq.get('a7') });
    const got: string[] = [];
    for (let i = 0; i < 10; i++) {
      const r = await get(it, 1);
      got.push(...datas(r.Records));
      it = r.NextShardIterator!;
    }
    expect(got).toEqual(all.slice(7, 17));
  });

  test('MillisBehindLatest > 0 while limited behind newer messages, 0 at the tip', async () => {
    const first = await get(await iterator({ StreamName: stream, ShardIteratorType: 'TRIM_HORIZON' }), 2);
    expect(datas(first.Records)).toEqual(['a0', 'a1']);
    // The newest message arrived at least ~60 ms after a0's.
    expect(first.MillisBehindLatest).toBeGreaterThan(0);
    expect(first.MillisBehindLatest).toBeGreaterThanOrEqual(arrival.get('c0')!.getTime() - arrival.get('a0')!.getTime() - 5);
    const tip = await get(await iterator({ StreamName: stream, ShardIteratorType: 'AT_SEQUENCE_NUMBER', StartingSequenceNumber: seq.get('c2') }));
    expect(datas(tip.Records)).toEqual(['c2', 'c3', 'c4']);
    expect(tip.MillisBehindLatest).toBe(0);
  });
});

describe('paging a larger shard', () => {
  const stream = 'iter-paging';
  const expected: string[] = [];

  beforeAll(async () => {
    await create(stream, 1);
    // Twelve messages of varying sizes (PutRecords and PutRecord mixed).
    for (let m = 0; m < 12; m++) {
      const n = m % 3 === 0 ? 1 : 7 + m;
      const recs = Array.from({ length: n }, (_, i) => `m${m}-r${i}`);
      expected.push(...recs);
      if (n === 1) await client.send(new PutRecordCommand({ StreamName: stream, PartitionKey: 'k', Data: Buffer.from(recs[0]!) }));
      else await client.send(new PutRecordsCommand({ StreamName: stream, Records: recs.map((d) => ({ PartitionKey: 'k', Data: Buffer.from(d) })) }));
    }
  });

  test.each([1, 4, 13, 10000])('Limit %i: NextShardIterator pages until empty, nothing lost or repeated', async (limit) => {
    let it: string | undefined = await iterator({ StreamName: stream, ShardIteratorType: 'TRIM_HORIZON' });
    const got: string[] = [];
    let pages = 0;
    for (;;) {
      const r = await get(it!, limit);
      pages++;
      if (pages > expected.length + 5) throw new Error('did not reach an empty page');
      if (r.Records!.length === 0) {
        expect(r.MillisBehindLatest).toBe(0);
        expect(r.NextShardIterator).toBeDefined();
        break;
      }
      expect(r.Records!.length).toBeLessThanOrEqual(limit);
      got.push(...datas(r.Records));
      it = r.NextShardIterator;
    }
    expect(got).toEqual(expected);
    expect(pages).toBe(Math.ceil(expected.length / limit) + 1);
  });
});

describe('iterator validity', () => {
  const stream = 'iter-validity';

  beforeAll(async () => {
    await create(stream, 2);
    await client.send(new PutRecordsCommand({
      StreamName: stream, Records: Array.from({ length: 20 }, (_, i) => ({ PartitionKey: `k${i}`, Data: Buffer.from(`v${i}`) })),
    }));
  });

  test('an iterator issued by one runtime process works on another, both ways', async () => {
    const fromA = await iterator({ StreamName: stream, ShardIteratorType: 'TRIM_HORIZON' });
    const onA = await get(fromA);
    const onB = await get(fromA, undefined, otherClient);
    expect(onB.Records!.length).toBeGreaterThan(0);
    expect(datas(onB.Records)).toEqual(datas(onA.Records));
    expect(onB.Records!.map((r) => r.SequenceNumber)).toEqual(onA.Records!.map((r) => r.SequenceNumber));
    // B's next iterator continues on A: written after, read on A.
    await otherClient.send(new PutRecordCommand({ StreamName: stream, PartitionKey: 'k0', ExplicitHashKey: '0', Data: Buffer.from('later') }));
    const next = await get(onB.NextShardIterator!);
    expect(datas(next.Records)).toEqual(['later']);
  });

  test('an expired iterator is ExpiredIteratorException with the AWS wording', async () => {
    const it = await iterator({ StreamName: stream, ShardIteratorType: 'TRIM_HORIZON' }, shortClient);
    // Fresh, it works on the short-TTL runtime.
    expect((await get(it, 1, shortClient)).Records).toHaveLength(1);
    await sleep(TTL_MS + 50);
    const e = await get(it, 1, shortClient).catch((x) => x);
    expect(e).toBeInstanceOf(ExpiredIteratorException);
    expect(e.$metadata.httpStatusCode).toBe(400);
    const date = '[A-Z][a-z]{2} [A-Z][a-z]{2} \\d{2} \\d{2}:\\d{2}:\\d{2} UTC \\d{4}';
    expect(e.message).toMatch(new RegExp(
      `^Iterator expired\\. The iterator was created at time ${date} while right now it is ${date} ` +
        `which is further in the future than the tolerated delay of ${TTL_MS} milliseconds\\.$`,
    ));
    // The TTL is the reading process's: the default runtime still accepts it.
    expect((await get(it, 1)).Records).toHaveLength(1);
  });

  test('a forged or garbled iterator is InvalidArgumentException "Invalid ShardIterator."', async () => {
    const good = await iterator({ StreamName: stream, ShardIteratorType: 'TRIM_HORIZON' });
    const raw = Buffer.from(good, 'base64');
    const flip = (at: number) => {
      const b = Buffer.from(raw);
      b[at] = b[at]! ^ 0x01;
      return b.toString('base64');
    };
    const forged = [
      flip(raw.length - 1), // MAC
      flip(raw.length - 20), // position / issue time
      flip(3), // stream name
      good.slice(0, -4), // truncated
      good + 'AAAA', // extended
      Buffer.from('not an iterator at all').toString('base64'),
      'garbage!!',
      'x',
    ];
    for (const it of forged) {
      const e = await get(it).catch((x) => x);
      expect(e).toBeInstanceOf(InvalidArgumentException);
      expect(e.message).toBe('Invalid ShardIterator.');
    }
    // The original still works: nothing above was accepted by accident.
    expect((await get(good)).Records!.length).toBeGreaterThan(0);
  });

  test('an iterator of a deleted stream, and of a deleted-and-recreated one, is ResourceNotFoundException', async () => {
    const s = 'iter-recreated';
    await create(s, 1);
    await client.send(new PutRecordCommand({ StreamName: s, PartitionKey: 'k', Data: Buffer.from('old') }));
    const oldIt = await iterator({ StreamName: s, ShardIteratorType: 'TRIM_HORIZON' });
    await client.send(new DeleteStreamCommand({ StreamName: s }));
    const gone = await get(oldIt).catch((x) => x);
    expect(gone).toBeInstanceOf(ResourceNotFoundException);

    await create(s, 1);
    await client.send(new PutRecordCommand({ StreamName: s, PartitionKey: 'k', Data: Buffer.from('new') }));
    for (const c of [client, otherClient]) {
      // The other process learns of the re-creation through its KV watch.
      const e = await until('recreated stream visible', async () => {
        const x = await get(oldIt, undefined, c).catch((err) => err);
        return x instanceof ResourceNotFoundException ? x : undefined;
      }, 5000);
      expect(e.message).toBe(`Shard ${SHARD} in stream ${s} under account 000000000000 does not exist`);
    }
    // A fresh iterator sees only the new stream's data.
    const fresh = await get(await iterator({ StreamName: s, ShardIteratorType: 'TRIM_HORIZON' }));
    expect(datas(fresh.Records)).toEqual(['new']);
  });
});
