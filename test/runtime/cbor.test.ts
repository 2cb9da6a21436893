// CBOR 1.1 over raw HTTP, as the AWS Java SDK and the KPL speak it: requests
// encoded with cbor-x (blobs as byte strings, timestamps as tag 1 in epoch
// milliseconds), responses checked with a small independent CBOR reader so
// the exact major types and tags on the wire are asserted, not a decoder's view.
import http from 'node:http';
import { Encoder, Tag, decode as cborxDecode } from 'cbor-x';
import { startNats, type NatsServers } from '../harness/nats.js';
import { startInProcess } from '../harness/runtime.js';
import type { RunningRuntime } from '../../runtime/server.js';
import { sleep } from './records.helpers.js';

const CBOR = 'application/x-amz-cbor-1.1';

let nats: NatsServers;
let rt: RunningRuntime & { endpoint: string };

beforeAll(async () => {
  nats = await startNats();
  rt = await startInProcess(nats.url);
});
afterAll(async () => {
  await rt?.close();
  await nats?.stop();
});

// ---- a minimal CBOR reader (RFC 8949), enough for Kinesis responses ----

class RawTag {
  constructor(readonly tag: number, readonly value: unknown) {}
}

function readCbor(buf: Buffer): unknown {
  let at = 0;
  const arg = (ai: number): number | bigint => {
    if (ai < 24) return ai;
    if (ai === 24) return buf.readUInt8(at++);
    if (ai === 25) return (at += 2), buf.readUInt16BE(at - 2);
    if (ai === 26) return (at += 4), buf.readUInt32BE(at - 4);
    if (ai === 27) {
      const v = buf.readBigUInt64BE(at);
      at += 8;
      return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
    }
    throw new Error(`unsupported additional info ${ai} at ${at}`);
  };
  const item = (): unknown => {
    const ib = buf.readUInt8(at++);
    const major = ib >> 5;
    const ai = ib & 0x1f;
    switch (major) {
      case 0: return arg(ai);
      case 1: { const n = arg(ai); return typeof n === 'bigint' ? -1n - n : -1 - n; }
      case 2: { const n = Number(arg(ai)); at += n; return Buffer.from(buf.subarray(at - n, at)); }
      case 3: { const n = Number(arg(ai)); at += n; return buf.toString('utf8', at - n, at); }
      case 4: { const n = Number(arg(ai)); return Array.from({ length: n }, item); }
      case 5: {
        const n = Number(arg(ai));
        const o: Record<string, unknown> = {};
        for (let i = 0; i < n; i++) {
          const k = item();
          if (typeof k !== 'string') throw new Error('non-string map key');
          o[k] = item();
        }
        return o;
      }
      case 6: { const tag = Number(arg(ai)); return new RawTag(tag, item()); }
      default:
        if (ai === 20) return false;
        if (ai === 21) return true;
        if (ai === 22) return null;
        if (ai === 23) return undefined;
        if (ai === 25) return (at += 2), halfFloat(buf.readUInt16BE(at - 2));
        if (ai === 26) return (at += 4), buf.readFloatBE(at - 4);
        if (ai === 27) return (at += 8), buf.readDoubleBE(at - 8);
        throw new Error(`unsupported simple value ${ai}`);
    }
  };
  const v = item();
  if (at !== buf.length) throw new Error(`trailing bytes: ${buf.length - at}`);
  return v;
}

function halfFloat(h: number): number {
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  const s = h & 0x8000 ? -1 : 1;
  if (e === 0) return s * 2 ** -14 * (f / 1024);
  if (e === 31) return f ? NaN : s * Infinity;
  return s * 2 ** (e - 15) * (1 + f / 1024);
}

test('the reader itself decodes tags and byte strings', () => {
  const enc = new Encoder({ useRecords: false, tagUint8Array: false });
  const v = readCbor(Buffer.from(enc.encode({ a: new Tag(1700000000123, 1), b: Buffer.from([0, 255]), c: 'x', d: [1, -2, 1.5] }))) as any;
  expect(v.a).toEqual(new RawTag(1, 1700000000123));
  expect(v.b).toEqual(Buffer.from([0, 255]));
  expect(v).toMatchObject({ c: 'x', d: [1, -2, 1.5] });
});

// ---- raw HTTP ----

const encoder = new Encoder({ useRecords: false, tagUint8Array: false });

interface Reply { status: number; headers: http.IncomingHttpHeaders; body: Buffer; value: any }

function post(target: string, body: Buffer | Uint8Array, contentType = CBOR): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${rt.endpoint}/`, {
      method: 'POST',
      headers: { 'content-type': contentType, 'x-amz-target': `Kinesis_20131202.${target}`, 'content-length': body.length },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const b = Buffer.concat(chunks);
        let value: unknown;
        try {
          value = b.length ? readCbor(b) : undefined;
        } catch (e) {
          value = e;
        }
        resolve({ status: res.statusCode!, headers: res.headers, body: b, value });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

const call = (target: string, params: unknown) => post(target, Buffer.from(encoder.encode(params)));

async function ok(target: string, params: unknown): Promise<any> {
  const r = await call(target, params);
  if (r.status !== 200) throw new Error(`${target}: ${r.status} ${JSON.stringify(r.value)}`);
  expect(r.headers['content-type']).toBe(CBOR);
  expect(r.headers['x-amzn-requestid']).toBeTruthy();
  return r.value;
}

const STREAM = 'cbor-stream';
const SHARD = 'shardId-000000000000';
const binary = (n: number, salt: number) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 31 + salt) & 0xff));

async function readAll(params: Record<string, unknown>): Promise<any> {
  const it = await ok('GetShardIterator', { StreamName: STREAM, ShardId: SHARD, ...params });
  expect(typeof it.ShardIterator).toBe('string');
  return ok('GetRecords', { ShardIterator: it.ShardIterator });
}

describe('records over CBOR', () => {
  const single = binary(300, 7);
  const batch = Array.from({ length: 5 }, (_, i) => binary(10 + i * 50, i));
  let before = 0;
  let after = 0;
  let seqSingle: string;
  let seqBatch: string[];

  beforeAll(async () => {
    await ok('CreateStream', { StreamName: STREAM, ShardCount: 1 });
    before = Date.now();
    const put = await ok('PutRecord', { StreamName: STREAM, PartitionKey: 'pk', Data: single });
    seqSingle = put.SequenceNumber;
    const puts = await ok('PutRecords', {
      StreamName: STREAM, Records: batch.map((Data, i) => ({ Data, PartitionKey: `k${i}` })),
    });
    expect(puts.FailedRecordCount).toBe(0);
    seqBatch = puts.Records.map((r: any) => r.SequenceNumber);
    after = Date.now();
  });

  test('PutRecord/PutRecords answer in CBOR with shard and sequence numbers', () => {
    expect(seqSingle).toMatch(/^49\d{31}$/);
    expect(seqBatch).toHaveLength(5);
    for (const s of seqBatch) expect(s > seqSingle).toBe(true);
  });

  test('GetRecords returns Data as byte strings and ApproximateArrivalTimestamp as tag 1 epoch milliseconds', async () => {
    const got = await readAll({ ShardIteratorType: 'TRIM_HORIZON' });
    expect(got.Records).toHaveLength(6);
    expect(got.Records.map((r: any) => r.Data)).toEqual([single, ...batch]);
    for (const r of got.Records) {
      expect(Buffer.isBuffer(r.Data)).toBe(true); // major type 2, not base64 text
      const ts = r.ApproximateArrivalTimestamp;
      expect(ts).toBeInstanceOf(RawTag);
      expect(ts.tag).toBe(1);
      expect(Number.isInteger(ts.value)).toBe(true);
      // Milliseconds, not seconds: within the write window (the server clock is this one).
      expect(ts.value).toBeGreaterThanOrEqual(before);
      expect(ts.value).toBeLessThanOrEqual(after);
    }
    expect(got.Records.map((r: any) => r.SequenceNumber)).toEqual([seqSingle, ...seqBatch]);
    expect(got.Records.map((r: any) => r.PartitionKey)).toEqual(['pk', 'k0', 'k1', 'k2', 'k3', 'k4']);
    expect(got.MillisBehindLatest).toBe(0);
    expect(typeof got.NextShardIterator).toBe('string');
  });

  test('DescribeStream timestamps are tag 1 milliseconds too', async () => {
    const d = await ok('DescribeStream', { StreamName: STREAM });
    const ts = d.StreamDescription.StreamCreationTimestamp;
    expect(ts).toBeInstanceOf(RawTag);
    expect(ts.tag).toBe(1);
    expect(ts.value).toBeGreaterThan(before - 60_000);
    expect(ts.value).toBeLessThanOrEqual(after);
  });

  test('AT_TIMESTAMP with a tag 1 millisecond timestamp starts at the first later message', async () => {
    await sleep(20);
    const t = Date.now();
    await sleep(20);
    const later = binary(64, 99);
    await ok('PutRecord', { StreamName: STREAM, PartitionKey: 'late', Data: later });

    const tagged = await readAll({ ShardIteratorType: 'AT_TIMESTAMP', Timestamp: new Tag(t, 1) });
    expect(tagged.Records.map((r: any) => r.Data)).toEqual([later]);
    // An untagged integer is epoch milliseconds as well.
    const plain = await readAll({ ShardIteratorType: 'AT_TIMESTAMP', Timestamp: t });
    expect(plain.Records.map((r: any) => r.Data)).toEqual([later]);
    // A timestamp before the first write reads everything.
    const early = await readAll({ ShardIteratorType: 'AT_TIMESTAMP', Timestamp: new Tag(before - 1000, 1) });
    expect(early.Records).toHaveLength(7);
    // The exact arrival time of a message includes it.
    const exact = early.Records[6].ApproximateArrivalTimestamp.value;
    const at = await readAll({ ShardIteratorType: 'AT_TIMESTAMP', Timestamp: new Tag(exact, 1) });
    expect(at.Records.map((r: any) => r.Data)).toEqual([later]);
    // The runtime's millisecond reading of tag 1 does not leak into cbor-x for
    // other users in this process (standard tag 1 is epoch seconds).
    expect(cborxDecode(encoder.encode(new Tag(1.5, 1)))).toEqual(new Date(1500));
  });

  test('a future tag 1 timestamp is rejected with the millisecond value in the message', async () => {
    const future = Date.now() + 3_600_000;
    const r = await call('GetShardIterator', { StreamName: STREAM, ShardId: SHARD, ShardIteratorType: 'AT_TIMESTAMP', Timestamp: new Tag(future, 1) });
    expect(r.status).toBe(400);
    expect(r.value.__type).toBe('InvalidArgumentException');
    expect(r.value.message).toContain(`timestampInMillis: ${future},`);
  });
});

describe('errors over CBOR', () => {
  test('a missing stream: ResourceNotFoundException as a CBOR map with __type and message', async () => {
    const r = await call('DescribeStream', { StreamName: 'cbor-missing' });
    expect(r.status).toBe(400);
    expect(r.headers['content-type']).toBe(CBOR);
    expect(r.headers['x-amzn-requestid']).toBeTruthy();
    expect(r.value).toEqual({ __type: 'ResourceNotFoundException', message: 'Stream cbor-missing under account 000000000000 not found.' });
  });

  test('validation errors come back in CBOR', async () => {
    const r = await call('PutRecord', { StreamName: STREAM, PartitionKey: 'p'.repeat(257), Data: Buffer.from('x') });
    expect(r.status).toBe(400);
    expect(r.headers['content-type']).toBe(CBOR);
    expect(r.value.__type).toBe('ValidationException');
    expect(r.value.message).toBe(
      `1 validation error detected: Value '${'p'.repeat(257)}' at 'partitionKey' failed to satisfy constraint: Member must have length less than or equal to 256`,
    );
  });

  test('invalid base64 text where a blob belongs is a SerializationException', async () => {
    // Blobs are byte strings in CBOR; text is read as base64 (as in JSON), and this is not base64.
    const r = await call('PutRecord', { StreamName: STREAM, PartitionKey: 'p', Data: 'not base64!' });
    expect(r.status).toBe(400);
    expect(r.value.__type).toBe('SerializationException');
  });

  test.each([
    ['truncated map', Buffer.from([0xa2, 0x6a, 0x53, 0x74])],
    ['reserved additional info', Buffer.from([0x1c])],
    ['break outside indefinite item', Buffer.from([0xff])],
    ['a map cut inside a byte string', Buffer.from([0xa1, 0x64, 0x44, 0x61, 0x74, 0x61, 0x58, 0x20, 0x01])],
  ])('malformed CBOR (%s) is SerializationException in CBOR', async (_label, body) => {
    const r = await post('DescribeStream', body);
    expect(r.status).toBe(400);
    expect(r.headers['content-type']).toBe(CBOR);
    expect((r.value as any).__type).toBe('SerializationException');
  });

  test.each([
    ['an array', [1, 2]],
    ['an integer', 7],
    ['a string', 'StreamName'],
  ])('CBOR that is %s, not a map, is SerializationException', async (_label, v) => {
    const r = await call('ListStreams', v);
    expect(r.status).toBe(400);
    expect(r.value.__type).toBe('SerializationException');
  });

  test('the runtime still answers after all of that', async () => {
    const l = await ok('ListStreams', {});
    expect(l.StreamNames).toContain(STREAM);
  });
});
