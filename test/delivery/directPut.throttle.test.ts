// Firehose's per-delivery-stream Direct PUT quota and ThrottledRecords
// (runtime/usage/directPutQuota.ts): a runtime started with a small
// `--firehose-put-quota` on a real nats-server, driven by the real
// @aws-sdk/client-firehose, with a real `shardline delivery` process writing to
// s3rver. Oracles: the SDK responses the test received (accepted and refused
// records, counted here), the objects in S3, and the runtime's own admission
// decisions checked against the token bucket's bounds (not wall-clock windows,
// which a stalled client or a loaded machine would skew).
import {
  CreateDeliveryStreamCommand, FirehoseClient, PutRecordBatchCommand, PutRecordCommand, type PutRecordBatchCommandOutput,
} from '@aws-sdk/client-firehose';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { ROLE, startDeliveryStack, waitFor, type DeliveryStack } from '../harness/delivery.js';
import { startInProcess, TEST_CREDENTIALS } from '../harness/runtime.js';
import type { DirectPutQuota } from '../../runtime/usage/directPutQuota.js';
import { runtimeConfig } from '../../runtime/config.js';
import { DIRECT_PUT_LIMITS, directPutLimitsOf } from '../../runtime/usage/directPutQuota.js';
import { THROTTLED_RECORDS_METRIC } from '../../runtime/usage/metrics.js';
import { deliveryStore } from '../../runtime/api/firehose/ops.js';
import { updateDeliveryStream } from '../../stream/deliveryStreams.js';

const BUCKET = 'metered';
/** records/s, requests/s, bytes/s: small enough for a test to run over each. */
const QUOTA = '40,4,2000';
const RECORDS_PER_SEC = 40;
const REQUESTS_PER_SEC = 4;
const BYTES_PER_SEC = 2000;

let stack: DeliveryStack;

/** One admission decision of the runtime, between `before` and `after` on its clock: per record, admitted or not. */
interface Admission {
  stream: string;
  before: number;
  after: number;
  sizes: number[];
  fits: boolean[];
}
const admissions: Admission[] = [];

/** ThrottledRecords as the test counted them from SDK responses, per delivery stream. */
const refused = new Map<string, number>();
const countRefused = (name: string, n: number) => refused.set(name, (refused.get(name) ?? 0) + n);

/** A spy (it changes nothing): every admission decision of a runtime, into `into`. */
function observe(quota: DirectPutQuota, into: Admission[]): void {
  const admit = quota.admit.bind(quota);
  quota.admit = (stream, sizes) => {
    const before = Date.now();
    const fits = admit(stream, sizes);
    into.push({ stream, before, after: Date.now(), sizes, fits });
    return fits;
  };
}

beforeAll(async () => {
  stack = await startDeliveryStack({ buckets: [BUCKET], runtime: { firehosePutQuota: runtimeConfig(['--firehose-put-quota', QUOTA]).firehosePutQuota } });
  observe(stack.rt.ctx.directPut!, admissions);
});
afterAll(() => stack?.stop());

async function createDirect(name: string): Promise<void> {
  await stack.fh.send(new CreateDeliveryStreamCommand({
    DeliveryStreamName: name, DeliveryStreamType: 'DirectPut',
    ExtendedS3DestinationConfiguration: { RoleARN: ROLE, BucketARN: `arn:aws:s3:::${BUCKET}`, Prefix: `${name}/`, BufferingHints: { SizeInMBs: 1, IntervalInSeconds: 0 } },
  }));
  await stack.waitActive(name);
}

/** PutRecordBatch, counting its refused entries; every refused entry must be Firehose's throttle answer. */
async function putBatch(name: string, datas: string[]): Promise<PutRecordBatchCommandOutput> {
  const out = await stack.fh.send(new PutRecordBatchCommand({ DeliveryStreamName: name, Records: datas.map((d) => ({ Data: Buffer.from(d) })) }));
  const failed = out.RequestResponses!.filter((r) => r.ErrorCode !== undefined);
  expect(out.FailedPutCount).toBe(failed.length);
  for (const r of failed) expect(r).toEqual({ ErrorCode: 'ServiceUnavailableException', ErrorMessage: 'Slow down.' });
  for (const r of out.RequestResponses!) if (r.ErrorCode === undefined) expect(r.RecordId).toMatch(/^\d+$/);
  countRefused(name, failed.length);
  return out;
}

async function throttledMetric(): Promise<Map<string, number>> {
  const text = await (await fetch(`${stack.rt.endpoint}/metrics`)).text();
  const out = new Map<string, number>();
  const re = new RegExp(`^${THROTTLED_RECORDS_METRIC}\\{delivery_stream="([^"]+)"\\} (\\S+)$`, 'gm');
  for (const m of text.matchAll(re)) out.set(m[1]!, Number(m[2]));
  return out;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('the setting: records/s,requests/s,bytes/s or off; AWS us-east-1 values by default', () => {
  expect(runtimeConfig([]).firehosePutQuota).toEqual({ recordsPerSec: 500_000, requestsPerSec: 2_000, bytesPerSec: 5 * 1024 * 1024 });
  expect(DIRECT_PUT_LIMITS).toEqual(runtimeConfig([]).firehosePutQuota);
  expect(runtimeConfig(['--firehose-put-quota', 'off']).firehosePutQuota).toBeUndefined();
  expect(runtimeConfig(['--firehose-put-quota', '100000,1000,1048576']).firehosePutQuota).toEqual({ recordsPerSec: 100_000, requestsPerSec: 1000, bytesPerSec: 1048576 });
  expect(() => runtimeConfig(['--firehose-put-quota', '10,0,5'])).toThrow(/records\/s,requests\/s,bytes\/s/);
  expect(() => directPutLimitsOf('10,20')).toThrow(/three positive integers/);
  const before = process.env.SHARDLINE_FIREHOSE_PUT_QUOTA;
  process.env.SHARDLINE_FIREHOSE_PUT_QUOTA = 'off';
  try {
    expect(runtimeConfig([]).firehosePutQuota).toBeUndefined();
  } finally {
    if (before === undefined) delete process.env.SHARDLINE_FIREHOSE_PUT_QUOTA;
    else process.env.SHARDLINE_FIREHOSE_PUT_QUOTA = before;
  }
});

test('PutRecordBatch beyond the records quota: per-entry ServiceUnavailableException and FailedPutCount; the rest delivered exactly once', async () => {
  const name = 'batches';
  await createDirect(name);
  const w = stack.worker(name);
  // A fresh delivery stream has one second of quota: 40 records. One request of 100 takes them and is refused 60.
  const first = Array.from({ length: 100 }, (_, i) => `first-${i}\n`);
  const out = await putBatch(name, first);
  expect(out.FailedPutCount).toBe(60);
  expect(out.RequestResponses!.slice(0, 40).every((r) => r.RecordId !== undefined)).toBe(true);
  const accepted = first.filter((_, i) => out.RequestResponses![i]!.RecordId !== undefined);

  // Then ~2.5× the quota for 3 s, in requests under the requests quota (some may still be refused whole, per entry).
  let n = 0;
  const until = Date.now() + 3000;
  while (Date.now() < until) {
    const datas = Array.from({ length: 30 }, () => `load-${n++}\n`);
    const r = await putBatch(name, datas);
    datas.forEach((d, i) => r.RequestResponses![i]!.RecordId !== undefined && accepted.push(d));
    await sleep(300);
  }
  expect(refused.get(name)!).toBeGreaterThan(60);

  // Every accepted record is in S3 once, and no refused one.
  let seen: string[] = [];
  await waitFor('accepted records in S3', async () => {
    seen = [];
    for (const k of await stack.s3.list(BUCKET, `${name}/`)) seen.push(...(await stack.s3.get(BUCKET, k)).toString().split(/(?<=\n)/));
    return seen.length >= accepted.length;
  }, 30_000);
  expect(seen.sort()).toEqual([...accepted].sort());
  await w.kill();
});

test('PutRecord over the quota: ServiceUnavailableException "Slow down." with HTTP 503', async () => {
  const name = 'single';
  await createDirect(name);
  // A record above the bytes capacity needs a full bucket and leaves it 4 s in debt, as on AWS a large record holds later ones back.
  const big = await putBatch(name, ['x'.repeat(5 * BYTES_PER_SEC)]);
  expect(big.FailedPutCount).toBe(0);
  const err = await stack.fh.send(new PutRecordCommand({ DeliveryStreamName: name, Record: { Data: Buffer.from('after\n') } })).then(
    () => undefined,
    (e: any) => e,
  );
  expect(err).toBeDefined();
  expect(err.name).toBe('ServiceUnavailableException');
  expect(err.message).toBe('Slow down.');
  expect(err.$metadata.httpStatusCode).toBe(503);
  countRefused(name, 1);
});

test('PutRecordBatch entries refused because the backing stream is not visible are answered per entry and counted', async () => {
  const name = 'orphan';
  await createDirect(name);
  // Fault injection: the definition names a backing stream that does not exist.
  await updateDeliveryStream(await deliveryStore(stack.rt.ctx), name, (r) => ({ ...r, sourceStream: 'firehose/no-such-backing-stream' }));
  const out = await putBatch(name, ['a\n', 'b\n', 'c\n']);
  expect(out.FailedPutCount).toBe(3);
});

test('/metrics: ThrottledRecords per delivery stream equals the records the SDK saw refused', async () => {
  const metric = await throttledMetric();
  expect(refused.size).toBe(3);
  for (const [name, n] of refused) expect(`${name} ${metric.get(name)}`).toBe(`${name} ${n}`);
  expect(metric.has('single') && metric.has('orphan')).toBe(true);
});

test("the runtime's admissions stay within the token buckets' bounds, and the quota refills", () => {
  const runs = admissions.filter((a) => a.stream === 'batches');
  expect(runs.length).toBeGreaterThan(5);
  // Upper bound: between any two decisions, at most one second of burst plus the refill in between.
  for (let i = 0; i < runs.length; i++) {
    let records = 0;
    let requests = 0;
    let bytes = 0;
    for (let j = i; j < runs.length; j++) {
      const a = runs[j]!;
      const taken = a.fits.filter(Boolean).length;
      records += taken;
      bytes += a.sizes.filter((_, k) => a.fits[k]).reduce((s, x) => s + x, 0);
      // Requests that admitted a record were charged one request token (one refused whole was not; one whose
      // records all found no token was, and is not counted here: a lower count, still held to the bound).
      if (taken > 0) requests++;
      const secs = (a.after - runs[i]!.before) / 1000;
      expect(records).toBeLessThanOrEqual(RECORDS_PER_SEC + RECORDS_PER_SEC * secs + 1e-6);
      expect(requests).toBeLessThanOrEqual(REQUESTS_PER_SEC + REQUESTS_PER_SEC * secs + 1e-6);
      expect(bytes).toBeLessThanOrEqual(BYTES_PER_SEC + BYTES_PER_SEC * secs + 1e-6);
    }
  }
  // Lower bound (refill): between two requests that were each admitted but refused records for want of record tokens,
  // the records admitted after the first are at least the refill in between, less one record.
  const saturated = runs.map((a, i) => ({ a, i })).filter(({ a }) => a.fits.some(Boolean) && a.fits.some((f) => !f));
  expect(saturated.length).toBeGreaterThan(2);
  for (let s = 1; s < saturated.length; s++) {
    const from = saturated[s - 1]!;
    const to = saturated[s]!;
    let records = 0;
    for (let j = from.i + 1; j <= to.i; j++) records += runs[j]!.fits.filter(Boolean).length;
    expect(records).toBeGreaterThanOrEqual(Math.floor(RECORDS_PER_SEC * ((to.a.before - from.a.after) / 1000)) - 1);
  }
});

test('two runtimes share a delivery stream\'s quota (gossip): together they admit about one quota, not two', async () => {
  const name = 'shared';
  await createDirect(name);
  const other = await startInProcess(stack.nats.url, { firehosePutQuota: runtimeConfig(['--firehose-put-quota', QUOTA]).firehosePutQuota });
  const fh2 = new FirehoseClient({ endpoint: other.endpoint, region: 'us-east-1', credentials: TEST_CREDENTIALS, maxAttempts: 1, requestHandler: new NodeHttpHandler() });
  const both: Admission[] = [];
  observe(stack.rt.ctx.directPut!, both);
  observe(other.ctx.directPut!, both);
  try {
    let accepted = 0;
    let n = 0;
    const start = Date.now();
    // Each runtime is offered ~2.5× the quota, 15 records every 150 ms, for 3 s.
    while (Date.now() - start < 3000) {
      const outs = await Promise.all([stack.fh, fh2].map((c) => c.send(new PutRecordBatchCommand({
        DeliveryStreamName: name, Records: Array.from({ length: 15 }, () => ({ Data: Buffer.from(`s-${n++}\n`) })),
      }))));
      for (const o of outs) accepted += o.RequestResponses!.length - o.FailedPutCount!;
      await sleep(150);
    }
    const runs = both.filter((a) => a.stream === name);
    const admitted = runs.reduce((k, a) => k + a.fits.filter(Boolean).length, 0);
    expect(admitted).toBe(accepted);
    const secs = (Math.max(...runs.map((a) => a.after)) - Math.min(...runs.map((a) => a.before))) / 1000;
    // One quota over the run is burst + rate·T; each runtime alone would admit that much, two without gossip twice it.
    // Allowed above one quota: one more burst (what both may spend before either hears of the other's usage).
    const one = RECORDS_PER_SEC + RECORDS_PER_SEC * secs;
    process.stderr.write(`[directPut.throttle] shared: ${admitted} admitted of ${n} offered in ${secs.toFixed(2)} s; one quota ${one.toFixed(0)}\n`);
    expect(admitted).toBeLessThanOrEqual(one + RECORDS_PER_SEC);
    // Refill: the quota keeps admitting while saturated (at least the rate over the run after the first burst, less a second).
    expect(admitted).toBeGreaterThanOrEqual(RECORDS_PER_SEC * (secs - 1));
  } finally {
    fh2.destroy();
    await other.close();
  }
});
