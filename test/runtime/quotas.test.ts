// Per-shard throughput limits across two runtime processes on one NATS server
// (docs/quotas-and-metrics.md): producers split across both runtimes offer ~1.5× a
// shard's write limit. The runtimes' own admission decisions (observed, on
// their clock) are checked against the token bucket's bounds, not a wall-clock
// window that a stalled client or a slow machine would skew: no interval
// admits more than burst + limit·T + the measured gossip slack, and while the
// shard is saturated (refused again and again) it admits its limit, give or
// take one record and that slack.
// ON_DEMAND and enforcement-off streams take the same load unthrottled.
// GetRecords beyond 5 calls/s or 2 MiB/s is throttled.
import {
  CreateStreamCommand, GetRecordsCommand, GetShardIteratorCommand, KinesisClient, ListShardsCommand,
  PutRecordCommand, PutRecordsCommand, ProvisionedThroughputExceededException, type PutRecordsRequestEntry,
} from '@aws-sdk/client-kinesis';
import type { NatsServers } from '../harness/nats.js';
import { startStack, type Stack } from '../harness/runtime.js';
import type { RunningRuntime } from '../../runtime/server.js';
import { setQuotaEnforcement } from '../../stream/quotaSettings.js';
import { GOSSIP_SUBJECT } from '../../runtime/usage/shardUsage.js';
import { updateStream } from '../../stream/streams.js';

const MiB = 1024 * 1024;
/** Long enough for 1.5× the limit to use up the one second of burst a shard starts with. */
const WARMUP_MS = 2500;
const MEASURE_MS = 3000;
const TICK_MS = 100;
/**
 * Gossip lag allowed when a throttle in one runtime is explained by the other's
 * admissions: those were admitted up to this long before the throttle (100 ms
 * publish interval plus NATS and event-loop latency).
 */
const GOSSIP_LAG_MS = 250;

let nats: NatsServers;
let a: RunningRuntime & { endpoint: string };
let b: RunningRuntime & { endpoint: string };
let ca: KinesisClient;
let cb: KinesisClient;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const log = (m: string) => process.stderr.write(`[quotas.test] ${m}\n`);

let stack: Stack;

/** One record's admission decision in a runtime, as the runtime made it (its clock). */
interface Admission {
  stream: string;
  shardIndex: number;
  runtime: number;
  at: number;
  bytes: number;
  ok: boolean;
}
const admissions: Admission[] = [];
/** Gossip messages received from the other runtime: when, and how long after it was published. */
const gossipLags: { at: number; lagMs: number }[] = [];

/**
 * Spies (they change nothing): every write admission of both runtimes, and the
 * lag of every quota gossip message from one runtime to the other.
 */
function observe(runtimes: RunningRuntime[]): void {
  const published: number[][] = runtimes.map(() => []);
  const cursor: number[][] = runtimes.map(() => runtimes.map(() => 0));
  const byProc = new Map(runtimes.map((rt, i) => [rt.ctx.usage!.procId, i]));
  runtimes.forEach((rt, ri) => {
    const usage = rt.ctx.usage!;
    const admit = usage.admitWrite.bind(usage);
    usage.admitWrite = (rec, shard, bytes) => {
      const ok = admit(rec, shard, bytes);
      admissions.push({ stream: rec.name, shardIndex: shard.index, runtime: ri, at: Date.now(), bytes, ok });
      return ok;
    };
    const nc = rt.ctx.store.nc;
    const publish = nc.publish.bind(nc);
    nc.publish = (subject, ...rest) => {
      if (subject === GOSSIP_SUBJECT) published[ri]!.push(Date.now());
      return publish(subject, ...rest);
    };
    const inner = usage as unknown as { applyGossip(m: { p: string }): void };
    const apply = inner.applyGossip.bind(usage);
    inner.applyGossip = (m) => {
      const from = byProc.get(m.p);
      // Core NATS keeps one publisher's order to one subscriber: the n-th message from a runtime is its n-th publish.
      if (from !== undefined && from !== ri) {
        const at = Date.now();
        gossipLags.push({ at, lagMs: at - published[from]![cursor[ri]![from]!++]! });
      }
      apply(m);
    };
  });
}

beforeAll(async () => {
  stack = await startStack(2);
  ({ nats, runtimes: [a, b], clients: [ca, cb] } = stack);
  observe([a, b]);
});
afterAll(() => stack?.stop());

async function createStream(name: string, shards: number, mode: 'PROVISIONED' | 'ON_DEMAND' = 'PROVISIONED'): Promise<string[]> {
  await ca.send(
    new CreateStreamCommand(mode === 'ON_DEMAND' ? { StreamName: name, StreamModeDetails: { StreamMode: 'ON_DEMAND' } } : { StreamName: name, ShardCount: shards }),
  );
  // Both runtimes route with the record before the load starts.
  for (const rt of [a, b]) await rt.ctx.cache.fresh(name);
  const l = await ca.send(new ListShardsCommand({ StreamName: name }));
  return l.Shards!.map((s) => s.HashKeyRange!.StartingHashKey!);
}

async function waitForCaches(pred: (rt: RunningRuntime) => boolean): Promise<void> {
  for (let i = 0; i < 100 && ![a, b].every(pred); i++) await sleep(20);
  expect([a, b].every(pred)).toBe(true);
}

interface LoadResult {
  /** Client side, requests sent in the measured interval. */
  offered: number[];
  accepted: number[];
  throttled: number[];
  acceptedBytes: number[];
  other: number;
  /** Server side: records and bytes stored per second, by arrival time, over the measured interval (for the log). */
  storedPerSec: number[];
  storedBytesPerSec: number[];
  /** Every record each shard stored during the run: arrival time (the runtimes' clock, admission time) and size. */
  stored: { at: number; bytes: number }[][];
  /** Per target shard, every admission decision of the run in both runtimes, in time order. */
  admissions: Admission[][];
  /** The longest gossip lag between the runtimes during the run. */
  gossipLagMs: number;
  startMs: number;
}

/** Arrival time (ms) and size (data + key) of the records stored in a shard, up to the first that arrived at or after `untilMs`. */
async function storedRecords(stream: string, shardId: string, untilMs: number): Promise<{ at: number; bytes: number }[]> {
  const out: { at: number; bytes: number }[] = [];
  let it = (await ca.send(new GetShardIteratorCommand({ StreamName: stream, ShardId: shardId, ShardIteratorType: 'TRIM_HORIZON' }))).ShardIterator;
  for (;;) {
    const got = await ca.send(new GetRecordsCommand({ ShardIterator: it })).catch(async (e: unknown) => {
      if (!(e instanceof ProvisionedThroughputExceededException)) throw e;
      await sleep(500);
      return undefined;
    });
    if (!got) continue;
    for (const x of got.Records!) out.push({ at: x.ApproximateArrivalTimestamp!.getTime(), bytes: x.Data!.length + Buffer.byteLength(x.PartitionKey!) });
    if (got.Records!.length === 0 || out[out.length - 1]!.at >= untilMs) return out;
    // A shard the autoscaler closed (ON_DEMAND) ends here: later records went to its children.
    if (!got.NextShardIterator) return out;
    it = got.NextShardIterator;
  }
}

/**
 * Every TICK_MS each client sends one PutRecords with its share of
 * `perShardPerSec` records of `dataBytes` for every target shard (by
 * ExplicitHashKey), for WARMUP_MS + MEASURE_MS and a little after. The
 * accepted rate is what the shards stored with an arrival time (set when the
 * runtime batches admitted records, in the event-loop turn that admitted
 * them) inside the measured interval, so that client-side delays on a busy
 * machine do not skew it; the clients' view is kept for the log.
 */
async function load(stream: string, targets: string[], perShardPerSec: number, dataBytes: number): Promise<LoadResult> {
  const clients = [ca, cb];
  const perTick = Math.round((perShardPerSec * TICK_MS) / 1000 / clients.length);
  const data = Buffer.alloc(dataBytes, 7);
  const zeros = () => targets.map(() => 0);
  const start = Date.now();
  const r: LoadResult = {
    offered: zeros(), accepted: zeros(), throttled: zeros(), acceptedBytes: zeros(), other: 0, storedPerSec: zeros(), storedBytesPerSec: zeros(),
    stored: [], admissions: [], gossipLagMs: 0, startMs: start,
  };
  const shardIds = targets.map((_, i) => `shardId-${String(i).padStart(12, '0')}`);
  const inflight: Promise<void>[] = [];
  for (let tick = 0; tick * TICK_MS < WARMUP_MS + MEASURE_MS + 500; tick++) {
    const at = start + tick * TICK_MS;
    if (at > Date.now()) await sleep(at - Date.now());
    const measured = tick * TICK_MS >= WARMUP_MS && tick * TICK_MS < WARMUP_MS + MEASURE_MS;
    for (const c of clients) {
      const entries: PutRecordsRequestEntry[] = [];
      // Interleaved, so neither shard's records come first in a request.
      for (let k = 0; k < perTick; k++) for (const h of targets) entries.push({ PartitionKey: 'k', ExplicitHashKey: h, Data: data });
      inflight.push(
        c.send(new PutRecordsCommand({ StreamName: stream, Records: entries })).then(
          (res) => {
            if (!measured) return;
            res.Records!.forEach((x, i) => {
              const si = i % targets.length;
              r.offered[si]!++;
              if (!x.ErrorCode) {
                r.accepted[si]!++;
                r.acceptedBytes[si]! += dataBytes + 1;
              } else if (x.ErrorCode === 'ProvisionedThroughputExceededException') r.throttled[si]!++;
              else r.other++;
            });
          },
          () => {
            if (measured) r.other++;
          },
        ),
      );
    }
  }
  await Promise.all(inflight);
  const [from, to] = [start + WARMUP_MS, start + WARMUP_MS + MEASURE_MS];
  r.gossipLagMs = gossipLags.filter((g) => g.at >= start).reduce((m, g) => Math.max(m, g.lagMs), 0);
  for (let i = 0; i < shardIds.length; i++) {
    r.admissions[i] = admissions.filter((x) => x.stream === stream && x.shardIndex === i && x.at >= start).sort((x, y) => x.at - y.at);
    r.stored[i] = await storedRecords(stream, shardIds[i]!, Infinity);
    const inWindow = r.stored[i]!.filter((x) => x.at >= from && x.at < to);
    r.storedPerSec[i] = inWindow.length / (MEASURE_MS / 1000);
    r.storedBytesPerSec[i] = inWindow.reduce((n, x) => n + x.bytes, 0) / (MEASURE_MS / 1000);
  }
  return r;
}

const perSec = (n: number) => n / (MEASURE_MS / 1000);

interface Limit {
  /** Tokens per second and the bucket's capacity (one second of them). */
  rate: number;
  burst: number;
  /** Tokens one record of `bytes` takes. */
  cost: (bytes: number) => number;
  /** Tokens of the load's records one runtime admits for the shard in one request. */
  request: number;
}

/**
 * What one runtime admits before the other has charged it, per direction
 * (docs/quotas-and-metrics.md, Accuracy): its unpublished usage (an eager
 * publish at 5% of the limit, plus the request being admitted) and what it
 * admits while a publish is in flight (the measured gossip lag × the rate).
 */
const unseen = (limit: Limit, lagMs: number) => 0.05 * limit.burst + limit.request + (limit.rate * lagMs) / 1000;

/**
 * The largest amount any interval [t1, t2] of admission times admitted beyond
 * rate·(t2 − t1), over intervals starting at or after `fromMs`. The token
 * bucket bounds it by what one runtime's bucket held at t1 (≤ the burst), plus
 * what the other admitted that this one had not charged yet, plus this one's
 * debt at t2 from such charges.
 */
function maxExcess(admitted: Admission[], limit: Limit, fromMs: number): number {
  let sum = 0;
  let minBefore = Infinity; // over window starts i: tokens admitted before i − rate·t_i
  let max = 0;
  for (const x of admitted) {
    if (x.at >= fromMs) minBefore = Math.min(minBefore, sum - (limit.rate * x.at) / 1000);
    sum += limit.cost(x.bytes);
    if (minBefore !== Infinity) max = Math.max(max, sum - (limit.rate * x.at) / 1000 - minBefore);
  }
  return max;
}

interface Saturated {
  runtime: number;
  spanMs: number;
  /** Tokens admitted by both runtimes from a gossip lag before the span's first refusal to its last. */
  admitted: number;
  /** Tokens admitted by both runtimes from the span's first refusal to its last. */
  inside: number;
}

/**
 * Spans over which one runtime refused the shard's records again and again,
 * each refusal less than 0.9 s after its previous one. A refusal means that
 * runtime's bucket held less than the record's cost; two refusals less than
 * the bucket's fill time apart lose no token to the capacity, so everything it
 * refilled in between was admitted, by it or (charged to it through gossip)
 * by the other runtime at most a gossip lag earlier:
 * admitted ≥ rate·span − cost − the other runtime's unseen admissions.
 * And since the bucket held less than a record's cost at the first refusal,
 * inside the span: admitted ≤ rate·span + cost + unseen admissions + debt.
 * Spans start after the first 1.5 s: both runtimes begin with a full bucket,
 * so the first second leaves each in debt by the other's burst.
 */
function saturatedSpans(r: LoadResult, shard: number, limit: Limit): Saturated[] {
  const out: Saturated[] = [];
  const ok = r.admissions[shard]!.filter((x) => x.ok);
  const maxGapMs = (0.9 * limit.burst * 1000) / limit.rate;
  for (const runtime of [0, 1]) {
    const refused = r.admissions[shard]!.filter((x) => !x.ok && x.runtime === runtime && x.at >= r.startMs + 1500);
    let first = 0;
    for (let k = 1; k <= refused.length; k++) {
      if (k < refused.length && refused[k]!.at - refused[k - 1]!.at < maxGapMs) continue;
      const [a, b] = [refused[first]!.at, refused[k - 1]!.at];
      first = k;
      if (b <= a) continue;
      const tokens = (from: number) => ok.filter((x) => x.at >= from && x.at <= b).reduce((n, x) => n + limit.cost(x.bytes), 0);
      out.push({ runtime, spanMs: b - a, admitted: tokens(a - r.gossipLagMs), inside: tokens(a) });
    }
  }
  return out;
}

/** The token bucket's bounds on what a shard admitted under 1.5× its limit (see maxExcess and saturatedSpans). */
function expectTokenBucket(r: LoadResult, shard: number, limit: Limit): void {
  const admitted = r.admissions[shard]!.filter((x) => x.ok);
  // The spies saw every admission: exactly the admitted records were stored.
  expect(admitted.length).toBe(r.stored[shard]!.length);
  const u = unseen(limit, r.gossipLagMs);
  const anyTime = maxExcess(admitted, limit, -Infinity);
  const later = maxExcess(admitted, limit, r.startMs + 1500);
  const spans = saturatedSpans(r, shard, limit);
  const covered = Math.max(...[0, 1].map((rt) => spans.filter((x) => x.runtime === rt).reduce((n, x) => n + x.spanMs, 0)));
  const s = (tokens: number) => (tokens / limit.rate).toFixed(3);
  log(
    `shard ${shard}: gossip lag up to ${r.gossipLagMs} ms; admitted beyond the limit over any interval ${s(anyTime)} s of it (bound ${s(2 * limit.burst + 2 * u)}), ` +
      `over intervals after the first 1.5 s ${s(later)} s (bound ${s(limit.burst + 2 * u)}); saturated: ` +
      spans.map((x) => `${x.spanMs} ms at ${((x.inside * 1000) / x.spanMs / limit.rate).toFixed(3)}× the limit`).join(', '),
  );
  expect(anyTime).toBeLessThanOrEqual(2 * limit.burst + 2 * u);
  expect(later).toBeLessThanOrEqual(limit.burst + 2 * u);
  // The load kept the shard saturated long enough for the span bounds to say something.
  expect(covered).toBeGreaterThanOrEqual(2000);
  for (const x of spans) {
    expect(x.admitted).toBeGreaterThanOrEqual((limit.rate * x.spanMs) / 1000 - limit.cost(10_001) - u);
    expect(x.inside).toBeLessThanOrEqual((limit.rate * x.spanMs) / 1000 + limit.cost(10_001) + 2 * u);
  }
}

test('PutRecord and PutRecords: AWS errors, throttled records are not written, limits hold across both runtimes', async () => {
  const [h0] = await createStream('q-single', 1);
  const message = 'Rate exceeded for shard shardId-000000000000 in stream q-single under account 000000000000.';
  let n = 0;
  const small = (count: number): PutRecordsRequestEntry[] =>
    Array.from({ length: count }, () => ({ PartitionKey: 'k', ExplicitHashKey: h0, Data: Buffer.from(String(n++).padStart(5, '0')) }));
  // Warm connections, so the timing below is the runtimes', not connection setup.
  await Promise.all([ca, cb].map((c) => c.send(new ListShardsCommand({ StreamName: 'q-single' }))));
  // 1500 records at once through runtime a: the shard's second of burst (1000) plus what refills meanwhile (1/ms).
  const t0 = Date.now();
  const first = await Promise.all([0, 1, 2].map(() => ca.send(new PutRecordsCommand({ StreamName: 'q-single', Records: small(500) }))));
  const accepted = new Set<string>();
  let failed = 0;
  for (const r of first) {
    expect(r.$metadata.httpStatusCode).toBe(200);
    failed += r.FailedRecordCount!;
    for (const x of r.Records!) {
      if (x.SequenceNumber) accepted.add(x.SequenceNumber);
      else expect(x).toEqual({ ErrorCode: 'ProvisionedThroughputExceededException', ErrorMessage: message });
    }
  }
  const elapsed = Date.now() - t0;
  log(`1500 records at once: ${accepted.size} accepted, ${failed} throttled, in ${elapsed} ms`);
  expect(accepted.size + failed).toBe(1500);
  expect(accepted.size).toBeGreaterThanOrEqual(1000);
  expect(accepted.size).toBeLessThanOrEqual(1000 + elapsed);
  // Right after, through runtime b: it knows what a admitted, so both together stay within the limit.
  const viaB = await cb.send(new PutRecordsCommand({ StreamName: 'q-single', Records: small(300) }));
  const elapsedAll = Date.now() - t0;
  for (const x of viaB.Records!) if (x.SequenceNumber) accepted.add(x.SequenceNumber);
  log(`then 300 through runtime b: ${300 - viaB.FailedRecordCount!} accepted; ${accepted.size} in ${elapsedAll} ms in all`);
  // The bucket holds 1000 and refills 1 per ms, whichever runtime admits.
  expect(accepted.size).toBeLessThanOrEqual(1000 + elapsedAll);
  // Exactly the accepted records were stored.
  const stored = new Set<string>();
  let it = (await ca.send(new GetShardIteratorCommand({ StreamName: 'q-single', ShardId: 'shardId-000000000000', ShardIteratorType: 'TRIM_HORIZON' }))).ShardIterator;
  for (;;) {
    const got = await ca.send(new GetRecordsCommand({ ShardIterator: it }));
    for (const x of got.Records!) stored.add(x.SequenceNumber!);
    if (got.Records!.length === 0) break;
    it = got.NextShardIterator;
  }
  expect([...stored].sort()).toEqual([...accepted].sort());

  // Bytes: once a second has refilled the shard, a record of exactly 1 MiB (data + key) takes all
  // of it; a 200 kB record right after, through the other runtime, is refused.
  await sleep(1100);
  const big = await ca.send(new PutRecordCommand({ StreamName: 'q-single', PartitionKey: 'p', ExplicitHashKey: h0, Data: Buffer.alloc(MiB - 1) }));
  expect(big.SequenceNumber).toBeDefined();
  const e = await cb
    .send(new PutRecordCommand({ StreamName: 'q-single', PartitionKey: 'p', ExplicitHashKey: h0, Data: Buffer.alloc(200_000) }))
    .catch((x: unknown) => x as ProvisionedThroughputExceededException);
  expect(e).toBeInstanceOf(ProvisionedThroughputExceededException);
  expect((e as ProvisionedThroughputExceededException).message).toBe(message);
  expect((e as ProvisionedThroughputExceededException).$metadata.httpStatusCode).toBe(400);
});

test('a record above 1 MiB (MaxRecordSizeInKiB raised) takes a full second of bytes and leaves the shard in debt', async () => {
  const [h0] = await createStream('q-large', 1);
  await updateStream(a.ctx.store, 'q-large', (r) => ({ ...r, maxRecordSizeKiB: 5120 }));
  await waitForCaches((rt) => rt.ctx.cache.get('q-large')?.record.maxRecordSizeKiB === 5120);
  const put = (c: KinesisClient, bytes: number) =>
    c.send(new PutRecordCommand({ StreamName: 'q-large', PartitionKey: 'p', ExplicitHashKey: h0, Data: Buffer.alloc(bytes) })).then(
      () => 'ok',
      (e: unknown) => (e instanceof ProvisionedThroughputExceededException ? 'throttled' : String(e)),
    );
  const sent = Date.now();
  expect(await put(ca, 3 * MiB - 1)).toBe('ok');
  const answered = Date.now();
  // 3 MiB against 1 MiB of burst: 2 MiB owed at 1 MiB/s, so writes wait 2 s from the big one, on either runtime.
  const small = await put(cb, 10);
  if (Date.now() - sent < 2000) expect(small).toBe('throttled');
  await sleep(Math.max(0, answered + 2100 - Date.now()));
  expect(await put(cb, 10)).toBe('ok');
});

test('records/s: 1.5× the limit split across two runtimes is throttled to ~1000 records/s per shard', async () => {
  const targets = await createStream('q-records', 2);
  const r = await load('q-records', targets, 1500, 100);
  targets.forEach((_, i) => {
    log(
      `records/s shard ${i}: offered ${perSec(r.offered[i]!).toFixed(0)}/s; stored by the runtimes ${r.storedPerSec[i]!.toFixed(1)}/s (limit 1000); ` +
        `clients saw ${perSec(r.accepted[i]!).toFixed(1)}/s accepted, ${perSec(r.throttled[i]!).toFixed(0)}/s throttled`,
    );
  });
  expect(r.other).toBe(0);
  // Per request and shard: 75 records from each client.
  const limit: Limit = { rate: 1000, burst: 1000, cost: () => 1, request: 75 };
  for (let i = 0; i < targets.length; i++) {
    expect(perSec(r.offered[i]!)).toBeGreaterThan(1400);
    expectTokenBucket(r, i, limit);
  }
});

test('bytes/s: 1.5× the limit split across two runtimes is throttled to ~1 MiB/s per shard', async () => {
  const targets = await createStream('q-bytes', 2);
  // 10 kB records, 160/s per shard: ~1.53 MiB/s, far below the records limit.
  const r = await load('q-bytes', targets, 160, 10_000);
  targets.forEach((_, i) => {
    log(
      `bytes/s shard ${i}: offered ${(perSec(r.offered[i]! * 10_001) / MiB).toFixed(3)} MiB/s; stored by the runtimes ${(r.storedBytesPerSec[i]! / MiB).toFixed(3)} MiB/s (limit 1); ` +
        `clients saw ${(perSec(r.acceptedBytes[i]!) / MiB).toFixed(3)} MiB/s accepted, ${perSec(r.throttled[i]!).toFixed(0)} records/s throttled`,
    );
  });
  expect(r.other).toBe(0);
  // Per request and shard: 8 records of 10,001 bytes from each client.
  const limit: Limit = { rate: MiB, burst: MiB, cost: (bytes) => bytes, request: 8 * 10_001 };
  for (let i = 0; i < targets.length; i++) {
    expect(perSec(r.offered[i]! * 10_001)).toBeGreaterThan(1.4 * MiB);
    expectTokenBucket(r, i, limit);
  }
});

test('ON_DEMAND streams are not throttled per shard at the same load', async () => {
  const targets = (await createStream('q-ondemand', 0, 'ON_DEMAND')).slice(0, 2);
  const r = await load('q-ondemand', targets, 1500, 100);
  log(`ON_DEMAND: accepted ${r.accepted.map((n) => perSec(n).toFixed(0)).join(', ')} records/s of ${r.offered.map((n) => perSec(n).toFixed(0)).join(', ')}`);
  expect(r.other).toBe(0);
  expect(r.throttled).toEqual([0, 0]);
  expect(r.accepted).toEqual(r.offered);
});

test('a PROVISIONED stream with enforcement switched off is not throttled; switched back on, it is', async () => {
  const targets = await createStream('q-off', 2);
  await setQuotaEnforcement(a.ctx.store, 'q-off', false);
  await waitForCaches((rt) => rt.ctx.cache.get('q-off')?.record.quotaEnforcement === false);
  const r = await load('q-off', targets, 1500, 100);
  log(`enforcement off: accepted ${r.accepted.map((n) => perSec(n).toFixed(0)).join(', ')} records/s of ${r.offered.map((n) => perSec(n).toFixed(0)).join(', ')}`);
  expect(r.other).toBe(0);
  expect(r.throttled).toEqual([0, 0]);
  expect(r.accepted).toEqual(r.offered);

  await setQuotaEnforcement(a.ctx.store, 'q-off', true);
  await waitForCaches((rt) => rt.ctx.cache.get('q-off')?.record.quotaEnforcement === true);
  const many = Array.from({ length: 500 }, () => ({ PartitionKey: 'k', ExplicitHashKey: targets[0], Data: Buffer.from('x') }));
  await sleep(1000); // the load above drained nothing: enforcement was off; start from a full second
  const t0 = Date.now();
  const res = await Promise.all([1, 2, 3].map(() => ca.send(new PutRecordsCommand({ StreamName: 'q-off', Records: many }))));
  const failed = res.reduce((n, x) => n + x.FailedRecordCount!, 0);
  expect(failed).toBeGreaterThan(0);
  expect(1500 - failed).toBeLessThanOrEqual(1000 + (Date.now() - t0));
});

test('GetRecords: more than 5 calls/s per shard across both runtimes are throttled', async () => {
  await createStream('q-reads', 1);
  await ca.send(new PutRecordCommand({ StreamName: 'q-reads', PartitionKey: 'p', Data: Buffer.from('r') }));
  let it = (await ca.send(new GetShardIteratorCommand({ StreamName: 'q-reads', ShardId: 'shardId-000000000000', ShardIteratorType: 'TRIM_HORIZON' }))).ShardIterator!;
  // Calls back to back, alternating runtimes: the first second spends the burst
  // (5) plus a second's refill (5); after that, 5 per second.
  const okAt: number[] = [];
  const attemptsAt: number[] = [];
  let throttled = 0;
  let message = '';
  const start = Date.now();
  for (let i = 0; Date.now() - start < 3000; i++) {
    try {
      attemptsAt.push(Date.now() - start);
      const r = await [ca, cb][i % 2]!.send(new GetRecordsCommand({ ShardIterator: it }));
      it = r.NextShardIterator!;
      okAt.push(Date.now() - start);
    } catch (e) {
      if (!(e instanceof ProvisionedThroughputExceededException)) throw e;
      message = e.message;
      throttled++;
    }
    await sleep(5);
  }
  const end = Date.now() - start;
  const steady = okAt.filter((t) => t >= 1000).length;
  const steadyAttempts = attemptsAt.filter((t) => t >= 1000).length;
  log(
    `GetRecords for ${end} ms back to back, alternating runtimes: ${okAt.length} admitted, ${steady} of them after the first second ` +
      `(${((steady * 1000) / (end - 1000)).toFixed(2)}/s, limit 5/s) of ${steadyAttempts} attempts; ${throttled} throttled`,
  );
  expect(message).toBe('Rate exceeded for Shard - 000000000000/q-reads/shardId-000000000000');
  expect(throttled).toBeGreaterThan(0);
  // Token bucket: 5 to start with, 5 per second after; one call of slack for the gossip delay.
  expect(okAt.length).toBeLessThanOrEqual(5 + Math.floor((5 * end) / 1000) + 1);
  // Once the burst is spent, the shard still serves its 5 calls per second to a caller that keeps asking.
  if (steadyAttempts >= 40) expect(steady).toBeGreaterThanOrEqual(Math.floor((5 * (end - 1000)) / 1000) - 1);
});

test('GetRecords: a read past 2 MiB/s holds the shard\'s reads until the bytes are paid off', async () => {
  await createStream('q-readbytes', 1);
  // Write 6 MiB unthrottled, then enforce again for the reads.
  await setQuotaEnforcement(a.ctx.store, 'q-readbytes', false);
  await waitForCaches((rt) => rt.ctx.cache.get('q-readbytes')?.record.quotaEnforcement === false);
  for (let i = 0; i < 6; i++) await ca.send(new PutRecordCommand({ StreamName: 'q-readbytes', PartitionKey: 'p', Data: Buffer.alloc(MiB - 1, i) }));
  await setQuotaEnforcement(a.ctx.store, 'q-readbytes', true);
  await waitForCaches((rt) => rt.ctx.cache.get('q-readbytes')?.record.quotaEnforcement === true);
  const it = (await ca.send(new GetShardIteratorCommand({ StreamName: 'q-readbytes', ShardId: 'shardId-000000000000', ShardIteratorType: 'TRIM_HORIZON' }))).ShardIterator!;
  const sent = Date.now();
  const first = await ca.send(new GetRecordsCommand({ ShardIterator: it }));
  const answered = Date.now();
  expect(first.Records).toHaveLength(6);
  // 6 MiB read against 2 MiB of burst: 4 MiB owed at 2 MiB/s, so the shard's reads
  // wait 2 s from the read, on either runtime. A call answered within those 2 s was refused
  // whenever it reached the runtime; one sent 2 s after the answer is admitted.
  const call = async (c: KinesisClient) => {
    const t = Date.now();
    const outcome = await c.send(new GetRecordsCommand({ ShardIterator: first.NextShardIterator })).then(
      () => 'ok',
      (e: unknown) => (e instanceof ProvisionedThroughputExceededException ? 'throttled' : String(e)),
    );
    return { outcome, sentAfter: t - answered, answeredWithin: Date.now() - sent };
  };
  const checks = [await call(cb)];
  await sleep(Math.max(0, sent + 1200 - Date.now()));
  checks.push(await call(ca));
  log(`after a 6 MiB read: ${JSON.stringify(checks)}`);
  for (const c of checks) if (c.answeredWithin < 2000) expect(c.outcome).toBe('throttled');
  expect(checks.some((c) => c.answeredWithin < 2000)).toBe(true);
  await sleep(Math.max(0, answered + 2200 - Date.now()));
  const after = await cb.send(new GetRecordsCommand({ ShardIterator: first.NextShardIterator }));
  expect(after.Records).toEqual([]);
});
