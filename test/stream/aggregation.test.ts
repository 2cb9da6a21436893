// KPL aggregation format: exact bytes, size accounting, rejection of non-KPL blobs, and interop both
// ways with aws-kinesis-agg (protobufjs-based, published by AWS) as the independent implementation.
import { createHash, randomBytes } from 'node:crypto';
import { AggregateBuilder, aggregate, deaggregate, isAggregated, KPL_MAGIC } from '../../stream/kinesis/aggregation.js';
import { aggAggregate, aggDeaggregate, AggregatedRecordProto } from '../harness/kplAgg.js';

const md5 = (b: Uint8Array) => createHash('md5').update(b).digest();
const frame = (body: Uint8Array) => Buffer.concat([KPL_MAGIC, body, md5(body)]);

function sample(n: number) {
  return Array.from({ length: n }, (_, i) => ({
    partitionKey: i % 3 === 0 ? `key-${i % 7}` : `ключ-${i}-🔑`,
    ...(i % 4 === 0 ? { explicitHashKey: String(BigInt(i) * 12345678901234567890n) } : {}),
    data: i % 5 === 0 ? Buffer.alloc(0) : randomBytes((i * 37) % 300),
  }));
}

describe('KPL aggregation codec', () => {
  test('encodes the exact protobuf bytes for a small record (hand-assembled oracle)', () => {
    const out = aggregate([
      { partitionKey: 'a', data: Buffer.from([1, 2]) },
      { partitionKey: 'a', explicitHashKey: '7', data: Buffer.from([3]) },
    ]);
    const body = Buffer.from([
      0x0a, 0x01, 0x61, // partition_key_table: "a"
      0x12, 0x01, 0x37, // explicit_hash_key_table: "7"
      0x1a, 0x06, 0x08, 0x00, 0x1a, 0x02, 0x01, 0x02, // record { pk 0, data 01 02 }
      0x1a, 0x07, 0x08, 0x00, 0x10, 0x00, 0x1a, 0x01, 0x03, // record { pk 0, ehk 0, data 03 }
    ]);
    expect(out.equals(frame(body))).toBe(true);
    expect(isAggregated(out)).toBe(true);
  });

  test('round-trips order, keys, explicit hash keys, unicode and empty data', () => {
    const recs = sample(400); // > 128 distinct keys: multi-byte varint indexes
    const back = deaggregate(aggregate(recs))!;
    expect(back).toHaveLength(recs.length);
    back.forEach((r, i) => {
      expect(r.partitionKey).toBe(recs[i]!.partitionKey);
      expect(r.explicitHashKey).toBe(recs[i]!.explicitHashKey);
      expect(Buffer.compare(r.data, recs[i]!.data)).toBe(0);
    });
  });

  test('AggregateBuilder reports the exact size of what it builds, before and after each add', () => {
    const b = new AggregateBuilder();
    expect(b.build().length).toBe(b.sizeBytes);
    for (const r of [...sample(200), { partitionKey: 'big', data: randomBytes(70_000) }]) {
      const predicted = b.sizeWith(r);
      b.add(r);
      expect(b.sizeBytes).toBe(predicted);
    }
    expect(b.build().length).toBe(b.sizeBytes);
    expect(b.count).toBe(201);
  });

  test('blobs that are not KPL records are reported as such (undefined), never thrown', () => {
    const good = aggregate(sample(5));
    expect(deaggregate(Buffer.from('plain record'))).toBeUndefined();
    expect(deaggregate(KPL_MAGIC)).toBeUndefined(); // too short for a digest
    const badDigest = Buffer.from(good);
    badDigest[badDigest.length - 1]! ^= 1;
    expect(deaggregate(badDigest)).toBeUndefined();
    const flipped = Buffer.from(good);
    flipped[10]! ^= 0xff; // body changed, digest no longer matches
    expect(deaggregate(flipped)).toBeUndefined();
    // Valid digest but a body that does not parse: truncated length prefix.
    expect(deaggregate(frame(Buffer.from([0x0a, 0x05, 0x61])))).toBeUndefined();
    // Valid digest, index outside the partition key table.
    expect(deaggregate(frame(Buffer.from([0x0a, 0x01, 0x61, 0x1a, 0x05, 0x08, 0x01, 0x1a, 0x01, 0x00])))).toBeUndefined();
    // Valid digest, record without its required data.
    expect(deaggregate(frame(Buffer.from([0x0a, 0x01, 0x61, 0x1a, 0x02, 0x08, 0x00])))).toBeUndefined();
  });

  test('tags and unknown fields written by protobufjs are skipped', () => {
    const body = AggregatedRecordProto.encode({
      partition_key_table: ['p0', 'p1'],
      explicit_hash_key_table: ['42'],
      records: [
        { partition_key_index: 1, data: Buffer.from('x'), tags: [{ key: 'k', value: 'v' }, { key: 'only' }] },
        { partition_key_index: 0, explicit_hash_key_index: 0, data: Buffer.from('y'), tags: [] },
      ],
    }).finish();
    const back = deaggregate(frame(Buffer.concat([body, Buffer.from([0x28, 0x05])]))); // + unknown field 5 varint
    expect(back?.map((r) => [r.partitionKey, r.explicitHashKey, r.data.toString()])).toEqual([
      ['p1', undefined, 'x'],
      ['p0', '42', 'y'],
    ]);
  });

  test('aws-kinesis-agg de-aggregates what we aggregate (checksums verified)', () => {
    const recs = sample(300);
    const theirs = aggDeaggregate(aggregate(recs), 'outer', '4960');
    expect(theirs).toHaveLength(recs.length);
    theirs.forEach((r, i) => {
      expect(r.partitionKey).toBe(recs[i]!.partitionKey);
      // protobufjs reads an absent optional index as 0, so it reports table[0] where we wrote none;
      // only records that carry a key can be compared.
      if (recs[i]!.explicitHashKey !== undefined) expect(r.explicitPartitionKey).toBe(recs[i]!.explicitHashKey);
      expect(r.subSequenceNumber).toBe(i);
      expect(Buffer.from(r.data, 'base64').equals(recs[i]!.data)).toBe(true);
    });
  });

  test('we de-aggregate what aws-kinesis-agg aggregates, including its split at 1 MiB', async () => {
    const recs = sample(300).filter((r) => r.data.length > 0); // it rejects empty data
    const big = Array.from({ length: 30 }, (_, i) => ({ partitionKey: `big-${i}`, data: randomBytes(60_000) }));
    const all = [...recs, ...big];
    const encoded = await aggAggregate(all);
    expect(encoded.length).toBeGreaterThan(1); // ~2 MiB of input cannot fit in one record
    const back = encoded.flatMap((e) => {
      expect(e.data.length).toBeLessThanOrEqual(1024 * 1024);
      return deaggregate(e.data)!;
    });
    expect(back).toHaveLength(all.length);
    back.forEach((r, i) => {
      expect(r.partitionKey).toBe(all[i]!.partitionKey);
      expect(r.explicitHashKey).toBe((all[i] as { explicitHashKey?: string }).explicitHashKey);
      expect(r.data.equals(all[i]!.data)).toBe(true);
    });
  });
});
