// MD5 routing as Kinesis does it: a record's hash key is the MD5 of its
// partition key (UTF-8) read as a 128-bit big-endian integer, or its
// ExplicitHashKey; it lands in the open shard whose hash key range holds it.
// The expected shard is computed here, independently of stream/kinesis.
import { createHash } from 'node:crypto';
import {
  CreateStreamCommand, DescribeStreamCommand, InvalidArgumentException, PutRecordCommand, PutRecordsCommand,
  type KinesisClient,
} from '@aws-sdk/client-kinesis';
import { startNats, type NatsServers } from '../harness/nats.js';
import { sdkClient, startInProcess } from '../harness/runtime.js';
import type { RunningRuntime } from '../../runtime/server.js';
import { readStream, text } from './records.helpers.js';

const TOP = 2n ** 128n - 1n;

let nats: NatsServers;
let rt: RunningRuntime & { endpoint: string };
let client: KinesisClient;

beforeAll(async () => {
  nats = await startNats();
  rt = await startInProcess(nats.url);
  client = sdkClient(rt.endpoint, { http1: true });
});
afterAll(async () => {
  client?.destroy();
  await rt?.close();
  await nats?.stop();
});

function md5Key(pk: string): bigint {
  return BigInt('0x' + createHash('md5').update(Buffer.from(pk, 'utf8')).digest('hex'));
}

interface Range { shardId: string; start: bigint; end: bigint }

async function ranges(stream: string): Promise<Range[]> {
  const d = await client.send(new DescribeStreamCommand({ StreamName: stream }));
  return d.StreamDescription!.Shards!.map((s) => ({
    shardId: s.ShardId!,
    start: BigInt(s.HashKeyRange!.StartingHashKey!),
    end: BigInt(s.HashKeyRange!.EndingHashKey!),
  }));
}

function shardFor(rs: Range[], key: bigint): string {
  const hit = rs.filter((r) => r.start <= key && key <= r.end);
  expect(hit).toHaveLength(1);
  return hit[0]!.shardId;
}

// Partition keys with a spread of lengths and scripts (multi-byte UTF-8 included).
const KEYS = [
  ...Array.from({ length: 60 }, (_, i) => `key-${i}`),
  'a', 'Z', '0', ' ', 'ü', '日本語のキー', '🙂-emoji', 'x'.repeat(256), 'user:42/orders', 'tab\tkey',
];

describe.each([1, 3, 7])('%i shard(s)', (count) => {
  const stream = `routing-${count}`;
  let rs: Range[];

  beforeAll(async () => {
    await client.send(new CreateStreamCommand({ StreamName: stream, ShardCount: count }));
    rs = await ranges(stream);
  });

  test('DescribeStream shows an even split of the whole key space', () => {
    expect(rs).toHaveLength(count);
    const size = (TOP + 1n) / BigInt(count);
    rs.forEach((r, i) => {
      expect(r.shardId).toBe(`shardId-${String(i).padStart(12, '0')}`);
      expect(r.start).toBe(size * BigInt(i));
      expect(r.end).toBe(i === count - 1 ? TOP : size * BigInt(i + 1) - 1n);
    });
    // Contiguous, no gaps or overlaps, from 0 to 2^128-1.
    expect(rs[0]!.start).toBe(0n);
    expect(rs[count - 1]!.end).toBe(TOP);
    for (let i = 1; i < count; i++) expect(rs[i]!.start).toBe(rs[i - 1]!.end + 1n);
  });

  test('PutRecord routes each partition key by its MD5', async () => {
    for (const pk of KEYS.slice(0, 25)) {
      const r = await client.send(new PutRecordCommand({ StreamName: stream, PartitionKey: pk, Data: Buffer.from(`single:${pk}`) }));
      expect(r.ShardId).toBe(shardFor(rs, md5Key(pk)));
    }
  });

  test('PutRecords routes each entry by its MD5, and the record is stored in that shard', async () => {
    const put = await client.send(new PutRecordsCommand({
      StreamName: stream,
      Records: KEYS.map((pk) => ({ PartitionKey: pk, Data: Buffer.from(`batch:${pk}`) })),
    }));
    expect(put.FailedRecordCount).toBe(0);
    put.Records!.forEach((r, i) => expect(r.ShardId).toBe(shardFor(rs, md5Key(KEYS[i]!))));

    // Read back: every record sits in the shard its partition key hashes to.
    const all = await readStream(client, stream);
    let seen = 0;
    for (const [shardId, recs] of all) {
      for (const r of recs) {
        if (!text(r).startsWith('batch:')) continue;
        seen++;
        expect(text(r)).toBe(`batch:${r.PartitionKey}`);
        expect(shardId).toBe(shardFor(rs, md5Key(r.PartitionKey!)));
      }
    }
    expect(seen).toBe(KEYS.length);
  });

  test('ExplicitHashKey overrides the partition key: 0 → first shard, 2^128-1 → last, range edges exact', async () => {
    const put = (ExplicitHashKey: bigint, pk = 'ignored') =>
      client.send(new PutRecordCommand({ StreamName: stream, PartitionKey: pk, ExplicitHashKey: ExplicitHashKey.toString(), Data: Buffer.from('e') }));
    expect((await put(0n)).ShardId).toBe(rs[0]!.shardId);
    expect((await put(TOP)).ShardId).toBe(rs[count - 1]!.shardId);
    for (const r of rs) {
      expect((await put(r.start)).ShardId).toBe(r.shardId);
      expect((await put(r.end)).ShardId).toBe(r.shardId);
    }
    // A partition key whose MD5 lies in another shard still follows the explicit key.
    if (count > 1) {
      const pk = KEYS.find((k) => shardFor(rs, md5Key(k)) !== rs[0]!.shardId)!;
      expect((await put(0n, pk)).ShardId).toBe(rs[0]!.shardId);
    }
    const batch = await client.send(new PutRecordsCommand({
      StreamName: stream,
      Records: rs.map((r) => ({ PartitionKey: 'p', ExplicitHashKey: r.end.toString(), Data: Buffer.from('e') })),
    }));
    expect(batch.Records!.map((r) => r.ShardId)).toEqual(rs.map((r) => r.shardId));
  });

  test('ExplicitHashKey 2^128 is InvalidArgumentException', async () => {
    const over = (TOP + 1n).toString();
    const e1 = await client.send(new PutRecordCommand({ StreamName: stream, PartitionKey: 'p', ExplicitHashKey: over, Data: Buffer.from('x') })).catch((e) => e);
    expect(e1).toBeInstanceOf(InvalidArgumentException);
    expect(e1.message).toBe(`Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. Specified value was ${over}`);
    expect(e1.$metadata.httpStatusCode).toBe(400);
    const e2 = await client.send(new PutRecordsCommand({
      StreamName: stream,
      Records: [{ PartitionKey: 'p', Data: Buffer.from('ok') }, { PartitionKey: 'p', ExplicitHashKey: over, Data: Buffer.from('x') }],
    })).catch((e) => e);
    expect(e2).toBeInstanceOf(InvalidArgumentException);
  });
});
