// The shard autoscaler end to end: real nats-server, two runtimes (only the
// lease holder decides), load driven through the Kinesis API with the AWS
// SDK, a lineage-aware reader alongside. Windows are shortened for the test
// (up 3 s, stabilization 8 s); the decision rules are the production ones.
import { CreateStreamCommand, DescribeStreamSummaryCommand, ListShardsCommand, PutRecordsCommand, UpdateStreamModeCommand, type KinesisClient } from '@aws-sdk/client-kinesis';
import { createHash } from 'node:crypto';
import { startNats, type NatsServers } from '../harness/nats.js';
import { sdkClient, startInProcess } from '../harness/runtime.js';
import type { RunningRuntime } from '../../runtime/server.js';
import { LineageReader } from '../../stream/lineageReader.js';
import { autoscaleBucket, readScaling, setAutoscaling } from '../../stream/autoscaling.js';
import { getStream } from '../../stream/streams.js';
import { openShards } from '../../stream/streamRecord.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const ACCOUNT = '000000000000';

let nats: NatsServers;
let runtimes: (RunningRuntime & { endpoint: string })[] = [];
let clients: KinesisClient[] = [];

beforeAll(async () => {
  nats = await startNats();
  const autoscale = { enabled: true, defaultMinShards: 1, defaultMaxShards: 8, scaleDownStabilizationMs: 8000, scaleUpWindowMs: 3000 };
  for (let i = 0; i < 2; i++) runtimes.push(await startInProcess(nats.url, { autoscale }));
  clients = runtimes.map((r) => sdkClient(r.endpoint, { http1: true }));
}, 60_000);

afterAll(async () => {
  for (const c of clients) c.destroy();
  for (const r of runtimes) await r.close();
  await nats?.stop();
});

const store = () => runtimes[0]!.ctx.store;

async function onDemandStream(name: string, shards: number): Promise<void> {
  await clients[0]!.send(new CreateStreamCommand({ StreamName: name, ShardCount: shards }));
  await waitFor(async () => (await clients[0]!.send(new DescribeStreamSummaryCommand({ StreamName: name }))).StreamDescriptionSummary?.StreamStatus === 'ACTIVE', 20_000, 'ACTIVE');
  const arn = `arn:aws:kinesis:us-east-1:${ACCOUNT}:stream/${name}`;
  await clients[0]!.send(new UpdateStreamModeCommand({ StreamARN: arn, StreamModeDetails: { StreamMode: 'ON_DEMAND' } }));
}

async function waitFor<T>(fn: () => Promise<T | undefined | false>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

const openCount = async (name: string) => openShards((await getStream(store(), name))!).length;

/**
 * Puts `perSecond` records of `bytes` bytes each second through both runtimes,
 * keys from `key(i)`, until stopped; remembers every acknowledged record. One
 * call at a time, so the put order of a key's records is the order of `i`.
 */
function load(name: string, perSecond: number, bytes: number, key: (i: number) => { PartitionKey: string; ExplicitHashKey?: string }) {
  const acked: { key: string; seq: string; payload: string }[] = [];
  let throttled = 0;
  let stop = false;
  let n = 0;
  const done = (async () => {
    while (!stop) {
      const started = Date.now();
      let call = 0;
      for (let sent = 0; sent < perSecond && !stop; sent += 500) {
        const batch = Array.from({ length: Math.min(500, perSecond - sent) }, () => {
          const i = n++;
          const k = key(i);
          const payload = `${i}`.padEnd(bytes, '.');
          return { ...k, Data: Buffer.from(payload), payload };
        });
        try {
          const r = await clients[call++ % 2]!.send(new PutRecordsCommand({ StreamName: name, Records: batch.map(({ payload: _p, ...e }) => e) }));
          r.Records!.forEach((e, j) => {
            if (e.SequenceNumber) acked.push({ key: batch[j]!.PartitionKey, seq: e.SequenceNumber, payload: batch[j]!.payload });
            else throttled++;
          });
        } catch {
          // a failed call: none of its records was acknowledged
        }
      }
      await sleep(Math.max(0, 1000 - (Date.now() - started)));
    }
  })();
  return { acked, throttled: () => throttled, async stop() { stop = true; await done; } };
}

test('a stream under load scales up within seconds, scales down after the stabilization window; a reader loses and reorders nothing', async () => {
  const name = 'auto-updown';
  await onDemandStream(name, 1);
  const reader = new LineageReader(store(), { stream: name, start: { type: 'TRIM_HORIZON' } });
  const read: { key: string; seq: string; payload: string }[] = [];
  let reading = true;
  const readLoop = (async () => {
    while (reading) {
      for (const b of await reader.poll()) {
        for (const r of b.records) read.push({ key: r.partitionKey, seq: r.sequenceNumber, payload: r.data.toString() });
        reader.commit(b);
      }
      await sleep(50);
    }
  })();

  // 2.5× one shard's records/s (100-byte records), keys spread.
  const t0 = Date.now();
  const l = load(name, 2500, 100, (i) => ({ PartitionKey: `k${i % 997}` }));
  const enough = await waitFor(async () => (await openCount(name)) >= 3 && Date.now(), 60_000, 'scale-up to ≥ 3 shards');
  console.log(`[autoscale] 2.5× load: ${await openCount(name)} shards after ${enough - t0} ms`);
  expect(enough - t0).toBeLessThan(60_000);
  await sleep(3000);
  await l.stop();
  const up = await openCount(name);

  // Load gone: nothing merges before the 8 s stabilization window, then it merges down to minShards (1).
  const stoppedAt = Date.now();
  await sleep(5000);
  expect(await openCount(name)).toBe(up);
  await waitFor(async () => (await openCount(name)) === 1, 90_000, 'scale-down to 1 shard');
  console.log(`[autoscale] back to 1 shard ${Date.now() - stoppedAt} ms after the load stopped (from ${up})`);

  const scaling = await readScaling(await autoscaleBucket(store()), (await getStream(store(), name))!.uid);
  const applied = scaling!.decisions.filter((d) => d.outcome === 'applied');
  expect(applied.some((d) => d.toShards > d.fromShards)).toBe(true);
  expect(applied.some((d) => d.action === 'merge')).toBe(true);
  for (const d of applied) {
    expect(d.toShards).toBeLessThanOrEqual(d.fromShards * 2);
    expect(d.toShards).toBeGreaterThanOrEqual(Math.ceil(d.fromShards / 2));
    expect(d.reason.length).toBeGreaterThan(10);
  }

  // Everything acknowledged is read exactly once, in order per key.
  await waitFor(async () => read.length >= l.acked.length, 30_000, 'reader to catch up');
  reading = false;
  await readLoop;
  const seen = new Map<string, number>();
  for (const r of read) seen.set(r.payload, (seen.get(r.payload) ?? 0) + 1);
  const lost = l.acked.filter((a) => !seen.has(a.payload));
  const dup = [...seen.values()].filter((c) => c > 1);
  expect(lost).toEqual([]);
  expect(dup).toEqual([]);
  // Per key: read in put order, and in sequence-number order (a child shard's numbers exceed its parent's).
  const lastByKey = new Map<string, { i: number; seq: string }>();
  let reordered = 0;
  for (const r of read) {
    const i = Number(r.payload.replace(/\.+$/, ''));
    const last = lastByKey.get(r.key);
    if (last && (last.i > i || last.seq >= r.seq)) reordered++;
    lastByKey.set(r.key, { i, seq: r.seq });
  }
  expect(reordered).toBe(0);
  console.log(`[autoscale] ${l.acked.length} acknowledged, ${read.length} read, lost 0, duplicated 0, reordered 0; ${applied.length} reshards`);
}, 240_000);

test('one hot shard among cold ones is split (not the whole stream); a single hot key is reported, not split forever', async () => {
  const name = 'auto-hot';
  await onDemandStream(name, 2);
  const half = 1n << 127n;
  const [s0, s1] = (await clients[0]!.send(new ListShardsCommand({ StreamName: name }))).Shards!;
  expect(BigInt(s1!.HashKeyRange!.StartingHashKey!)).toBe(half);
  // 1.6× capacity into shard 1 only (explicit hash keys spread over its range), a trickle into shard 0.
  let x = 12345n;
  const nextHash = () => (x = (x * 6364136223846793005n + 1442695040888963407n) % (1n << 64n));
  const hot = load(name, 1600, 100, (i) => ({ PartitionKey: `h${i}`, ExplicitHashKey: (half + (nextHash() << 63n) % half).toString() }));
  const cold = load(name, 100, 100, (i) => ({ PartitionKey: `c${i}`, ExplicitHashKey: ((nextHash() << 63n) % half).toString() }));
  await waitFor(async () => (await openCount(name)) === 3, 60_000, 'a split');
  await Promise.all([hot.stop(), cold.stop()]);
  const rec = (await getStream(store(), name))!;
  const open = openShards(rec).map((s) => s.shardId);
  expect(open).toContain(s0!.ShardId); // the cold shard was left alone
  expect(open).not.toContain(s1!.ShardId);
  const children = openShards(rec).filter((s) => s.parentShardId === s1!.ShardId);
  expect(children).toHaveLength(2);
  // Split near the middle of the traffic (uniform over the upper half): the boundary within the middle half of the range.
  const boundary = BigInt(children[1]!.hashKeyRange.startingHashKey);
  expect(boundary > half + half / 4n && boundary < half + (3n * half) / 4n).toBe(true);

  // One partition key at 1.5× one shard: named as a hot key (its MD5 as Kinesis routes it).
  const name2 = 'auto-hotkey';
  await onDemandStream(name2, 1);
  const hk = load(name2, 1500, 100, () => ({ PartitionKey: 'the-one-key' }));
  const hash = BigInt(`0x${createHash('md5').update('the-one-key').digest('hex')}`).toString();
  const uid = (await getStream(store(), name2))!.uid;
  const kv = await autoscaleBucket(store());
  const s = await waitFor(async () => {
    const sc = await readScaling(kv, uid);
    return sc?.hotKeys.some((h) => h.hashKey === hash) && sc;
  }, 60_000, 'the hot key in the scaling record');
  await sleep(4000);
  await hk.stop();
  expect(s.hotKeys[0]!.utilization).toBeGreaterThan(1);
  expect(await openCount(name2)).toBeLessThanOrEqual(2);
}, 240_000);

test('dry run records the decision without acting; exactly one runtime holds the autoscaler lease, and another takes over', async () => {
  const name = 'auto-dry';
  await onDemandStream(name, 1);
  await setAutoscaling(store(), name, { minShards: 1, maxShards: 4, dryRun: true });
  const l = load(name, 2500, 100, (i) => ({ PartitionKey: `d${i}` }));
  const uid = (await getStream(store(), name))!.uid;
  const kv = await autoscaleBucket(store());
  const s = await waitFor(async () => {
    const sc = await readScaling(kv, uid);
    return sc?.decisions.some((d) => d.outcome === 'dry-run') && sc;
  }, 60_000, 'a dry-run decision');
  await l.stop();
  expect(await openCount(name)).toBe(1);
  expect(s.decisions.at(-1)!.toShards).toBe(1);

  const holders = runtimes.filter((r) => r.autoscaler!.lease.held());
  expect(holders).toHaveLength(1);
  const holder = holders[0]!;
  const other = runtimes.find((r) => r !== holder)!;
  await holder.autoscaler!.stop(); // lets go of the lease
  await waitFor(async () => other.autoscaler!.lease.held(), 15_000, 'the other runtime to take the lease');
  holder.autoscaler!.start();
}, 120_000);
