// `shardline delivery` as a real process against a real nats-server, a
// runtime and s3rver: Direct PUT and Kinesis sources, buffering by size and
// interval, Firehose's key layout, compression readable back, UpdateDestination.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { createRequire } from 'node:module';
import {
  FirehoseClient, CreateDeliveryStreamCommand, PutRecordBatchCommand, UpdateDestinationCommand,
} from '@aws-sdk/client-firehose';
import { CreateStreamCommand, PutRecordsCommand, type KinesisClient } from '@aws-sdk/client-kinesis';
import type { S3Server } from '../harness/s3.js';
import { ROLE, startDeliveryStack, type DeliveryProcess, type DeliveryStack } from '../harness/delivery.js';
import { freePort } from '../harness/ports.js';

const require = createRequire(import.meta.url);
const snappyjs = require('snappyjs') as { uncompress(b: Uint8Array): Uint8Array };

const BUCKET = 'deliveries';
const NEWLINE = [{ Type: 'AppendDelimiterToRecord' as const, Parameters: [] }];

let stack: DeliveryStack;
let s3: S3Server;
let fh: FirehoseClient;
let kinesis: KinesisClient;

beforeAll(async () => {
  stack = await startDeliveryStack({ buckets: [BUCKET] });
  ({ s3, fh, kinesis } = stack);
});
afterAll(() => stack?.stop());

const worker = (name: string, env: Record<string, string> = {}): DeliveryProcess => stack.worker(name, { env });

async function createDirect(name: string, dest: Record<string, unknown>) {
  await fh.send(new CreateDeliveryStreamCommand({
    DeliveryStreamName: name, DeliveryStreamType: 'DirectPut',
    ExtendedS3DestinationConfiguration: { RoleARN: ROLE, BucketARN: `arn:aws:s3:::${BUCKET}`, ...dest },
  }));
  await stack.waitActive(name);
}

async function putAll(name: string, records: string[]) {
  for (let i = 0; i < records.length; i += 500) {
    const out = await fh.send(new PutRecordBatchCommand({ DeliveryStreamName: name, Records: records.slice(i, i + 500).map((r) => ({ Data: Buffer.from(r) })) }));
    expect(out.FailedPutCount).toBe(0);
  }
}

/** Polls S3 until `done(keys)` holds. */
async function waitForObjects(prefix: string, done: (keys: string[]) => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<string[]> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const keys = await s3.list(BUCKET, prefix);
    if (await done(keys)) return keys;
    if (Date.now() > until) throw new Error(`timed out; objects so far: ${keys.join(', ')}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** The worker's DeliveryToS3.DataFreshness gauge, scraped from its /metrics. */
async function freshness(port: number): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  const m = /^shardline_firehose_delivery_to_s3_data_freshness_seconds\{[^}]*\} (\S+)$/m.exec(await res.text());
  return m ? Number(m[1]) : 0;
}

async function until<T>(what: string, f: () => Promise<T | false>, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out waiting: ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const lines = (b: Buffer) => b.toString('utf8').split('\n').filter((l) => l.length > 0);
const p2 = (n: number) => String(n).padStart(2, '0');

describe('delivery worker', () => {
  test('Direct PUT, zero buffering interval, GZIP: every record once, keys as Firehose names them', async () => {
    const name = 'gz';
    await createDirect(name, { Prefix: 'gz/', CompressionFormat: 'GZIP', BufferingHints: { SizeInMBs: 1, IntervalInSeconds: 0 }, ProcessingConfiguration: { Enabled: true, Processors: NEWLINE } });
    const records = Array.from({ length: 1200 }, (_, i) => JSON.stringify({ i, pad: 'x'.repeat(100) }));
    const before = Date.now();
    await putAll(name, records);
    const w = worker(name);
    let seen: string[] = [];
    const keys = await waitForObjects('gz/', async (ks) => {
      seen = [];
      for (const k of ks) seen.push(...lines(zlib.gunzipSync(await s3.get(BUCKET, k))));
      return seen.length >= records.length;
    });
    expect(seen.sort()).toEqual([...records].sort());
    const d = new Date(before);
    const datePath = `${d.getUTCFullYear()}/${p2(d.getUTCMonth() + 1)}/${p2(d.getUTCDate())}/${p2(d.getUTCHours())}/`;
    for (const k of keys) {
      expect(k).toMatch(/^gz\/\d{4}\/\d{2}\/\d{2}\/\d{2}\/gz-1-\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\.gz$/);
      // The time "folders" and the name's time are the oldest record's arrival, in UTC.
      if (Date.now() - before < 30 * 60_000 && d.getUTCMinutes() < 59) expect(k.startsWith(`gz/${datePath}`)).toBe(true);
    }
    await w.kill('SIGTERM');
  }, 90_000);

  test('size flush: SizeInMBs 1 with a 900 s interval delivers full 1 MiB objects and keeps the rest buffered', async () => {
    const name = 'sized';
    await createDirect(name, { Prefix: 'sized/', BufferingHints: { SizeInMBs: 1, IntervalInSeconds: 900 } });
    const rec = (i: number) => `${String(i).padStart(6, '0')}:${'y'.repeat(100 * 1024 - 7)}`; // 100 KiB each
    const records = Array.from({ length: 25 }, (_, i) => rec(i)); // 2.44 MiB: two full objects, 0.44 MiB left
    await putAll(name, records);
    const w = worker(name);
    const keys = await waitForObjects('sized/', (ks) => ks.length >= 2);
    await new Promise((r) => setTimeout(r, 1500));
    expect(await s3.list(BUCKET, 'sized/')).toEqual(keys);
    const bodies = await Promise.all(keys.map((k) => s3.get(BUCKET, k)));
    for (const b of bodies) {
      expect(b.length).toBeGreaterThanOrEqual(1024 * 1024);
      expect(b.length).toBeLessThan(1024 * 1024 + 100 * 1024);
    }
    // Each object holds consecutive records in order; together they start at the first record with no
    // gaps, and are not all of them (the rest waits for size or interval). Key order is not record order.
    const perObject = bodies.map((b) => b.toString().match(/\d{6}:/g)!.map((s) => Number(s.slice(0, 6))));
    for (const ids of perObject) expect(ids).toEqual(Array.from({ length: ids.length }, (_, i) => ids[0]! + i));
    const ids = perObject.flat().sort((a, b) => a - b);
    expect(ids).toEqual(Array.from({ length: ids.length }, (_, i) => i));
    expect(ids.length).toBeLessThan(records.length);
    await w.kill('SIGTERM');
  }, 90_000);

  test('interval flush: IntervalInSeconds 2 delivers a small batch after the interval, not before', async () => {
    const name = 'timed';
    await createDirect(name, { Prefix: 'timed/', BufferingHints: { SizeInMBs: 5, IntervalInSeconds: 2 } });
    const w = worker(name);
    await new Promise((r) => setTimeout(r, 1000)); // the worker is up and polling
    const t0 = Date.now();
    await putAll(name, ['a', 'b', 'c']);
    await new Promise((r) => setTimeout(r, 800));
    expect(await s3.list(BUCKET, 'timed/')).toEqual([]);
    const keys = await waitForObjects('timed/', (ks) => ks.length > 0, 20_000);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(2000);
    expect((await s3.get(BUCKET, keys[0]!)).toString()).toBe('abc');
    await w.kill('SIGTERM');
  }, 60_000);

  test('interval flush counts from arrival: records that waited before the worker read them go out IntervalInSeconds after they arrived', async () => {
    const name = 'arrival';
    await createDirect(name, { Prefix: 'arrival/', BufferingHints: { SizeInMBs: 5, IntervalInSeconds: 12 } });
    const t0 = Date.now();
    await putAll(name, ['a', 'b', 'c']);
    const arrived = Date.now(); // they arrived between t0 and now
    // 6 s of their 12 s pass before a worker exists; no further records come.
    await new Promise((r) => setTimeout(r, 6000));
    const port = await freePort();
    const w = stack.worker(name, { args: ['--metrics-port', String(port)] });
    // DataFreshness (Firehose: age of the oldest record not yet delivered) while they wait in the buffer:
    // at least how long ago they were acknowledged, at most how long ago they were sent.
    const fresh = await until('the worker buffers the records', async () => {
      const v = await freshness(port).catch(() => 0);
      return v > 0 && { v, lo: (Date.now() - arrived) / 1000, hi: (Date.now() - t0) / 1000 };
    });
    expect(fresh.v).toBeGreaterThanOrEqual(fresh.lo - 0.5);
    expect(fresh.v).toBeLessThanOrEqual(fresh.hi + 0.5);
    const keys = await waitForObjects('arrival/', (ks) => ks.length > 0, 30_000);
    const seen = Date.now();
    expect(seen - t0).toBeGreaterThanOrEqual(12_000); // not before the interval
    // Counted from when the worker read them it would be 18 s and more (6 s + start-up + 12 s); 4 s of slack.
    expect(seen - arrived).toBeLessThan(12_000 + 4000);
    expect((await s3.get(BUCKET, keys[0]!)).toString()).toBe('abc');
    // Everything read is delivered: nothing is waiting, so the gauge is 0.
    await until('DataFreshness back to 0', async () => (await freshness(port)) === 0);
    await w.kill('SIGTERM');
  }, 60_000);

  test('Kinesis source with a custom prefix: ZIP, Snappy and HADOOP_SNAPPY objects read back; UpdateDestination bumps the version in names', async () => {
    await kinesis.send(new CreateStreamCommand({ StreamName: 'events', ShardCount: 2 }));
    await new Promise((r) => setTimeout(r, 500));
    await fh.send(new CreateDeliveryStreamCommand({
      DeliveryStreamName: 'from-events', DeliveryStreamType: 'KinesisStreamAsSource',
      KinesisStreamSourceConfiguration: { KinesisStreamARN: 'arn:aws:kinesis:us-east-1:000000000000:stream/events', RoleARN: ROLE },
      ExtendedS3DestinationConfiguration: {
        RoleARN: ROLE, BucketARN: `arn:aws:s3:::${BUCKET}`, CompressionFormat: 'ZIP',
        Prefix: "ev/!{timestamp:'year='yyyy}/", ErrorOutputPrefix: 'everr/!{firehose:error-output-type}/',
        BufferingHints: { SizeInMBs: 1, IntervalInSeconds: 0 }, ProcessingConfiguration: { Enabled: true, Processors: NEWLINE },
      },
    }));
    await stack.waitActive('from-events');
    const w = worker('from-events');
    await new Promise((r) => setTimeout(r, 1000));
    const put = async (prefix: string, n: number) => {
      const recs = Array.from({ length: n }, (_, i) => `${prefix}-${i}`);
      const out = await kinesis.send(new PutRecordsCommand({ StreamName: 'events', Records: recs.map((r, i) => ({ Data: Buffer.from(r), PartitionKey: `pk${i}` })) }));
      expect(out.FailedRecordCount).toBe(0);
      return recs;
    };
    const year = new Date().getUTCFullYear();
    const zipRecs = await put('zip', 200);
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'zip-'));
    let zipKeys: string[] = [];
    const readZip = async (ks: string[]) => {
      const got: string[] = [];
      for (const k of ks) {
        const f = path.join(tmp, 'o.zip');
        fs.writeFileSync(f, await s3.get(BUCKET, k));
        got.push(...lines(execFileSync('unzip', ['-p', f])));
      }
      return got;
    };
    zipKeys = await waitForObjects(`ev/year=${year}/`, async (ks) => (await readZip(ks)).length >= 200);
    expect((await readZip(zipKeys)).sort()).toEqual([...zipRecs].sort());
    for (const k of zipKeys) expect(k).toMatch(new RegExp(`^ev/year=${year}/from-events-1-\\d{4}-\\d{2}-\\d{2}-\\d{2}-\\d{2}-\\d{2}-[0-9a-f-]{36}\\.zip$`));

    // Snappy (framing format), then HADOOP_SNAPPY (Hadoop block stream); each change is a new version.
    const framed = (b: Buffer) => {
      expect(b.subarray(0, 10)).toEqual(Buffer.from([0xff, 6, 0, 0, 0x73, 0x4e, 0x61, 0x50, 0x70, 0x59]));
      const out: Buffer[] = [];
      for (let at = 10; at < b.length;) {
        const len = b.readUIntLE(at + 1, 3);
        const payload = b.subarray(at + 8, at + 4 + len);
        out.push(b[at] === 0 ? Buffer.from(snappyjs.uncompress(payload)) : payload);
        at += 4 + len;
      }
      return Buffer.concat(out);
    };
    const hadoop = (b: Buffer) => {
      const out: Buffer[] = [];
      for (let at = 0; at < b.length;) {
        const n = b.readUInt32BE(at + 4);
        out.push(Buffer.from(snappyjs.uncompress(b.subarray(at + 8, at + 8 + n))));
        at += 8 + n;
      }
      return Buffer.concat(out);
    };
    for (const [version, format, decode, ext] of [[2, 'Snappy', framed, 'snappy'], [3, 'HADOOP_SNAPPY', hadoop, 'hsnappy']] as const) {
      await fh.send(new UpdateDestinationCommand({
        DeliveryStreamName: 'from-events', CurrentDeliveryStreamVersionId: String(version - 1), DestinationId: 'destinationId-000000000001',
        ExtendedS3DestinationUpdate: { CompressionFormat: format },
      }));
      await new Promise((r) => setTimeout(r, 2500)); // the worker follows the definition
      const recs = await put(format, 100);
      const keys = await waitForObjects(`ev/year=${year}/from-events-${version}-`, async (ks) => {
        let n = 0;
        for (const k of ks) n += lines(decode(await s3.get(BUCKET, k))).length;
        return n >= 100;
      });
      const got: string[] = [];
      for (const k of keys) {
        expect(k.endsWith(`.${ext}`)).toBe(true);
        got.push(...lines(decode(await s3.get(BUCKET, k))));
      }
      expect(got.sort()).toEqual([...recs].sort());
    }
    fs.rmSync(tmp, { recursive: true, force: true });
    await w.kill('SIGTERM');
  }, 120_000);
});
