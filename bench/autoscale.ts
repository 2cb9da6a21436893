// `npm run bench -- autoscale`: the shard autoscaler against load steps. One
// nats-server and one runtime process (the autoscaler lives in it). For each
// step factor F (default 2, 4, 10): an ON_DEMAND stream at 1 shard gets F× one
// shard's records/s (100-byte records, 10,000 keys) through PutRecords; the
// bench reports the time until the stream has F shards (each then at or under
// capacity), the records refused meanwhile, the reshard operations taken, and,
// once the load stops, the time until it is back at 1 shard. Then a noisy load
// that should never scale (≈ 50% of capacity with ±30% noise and 1-second
// spikes to 140%) runs for a while and the reshards are counted. AWS's anchors
// are printed beside the figures. Loopback only; stops by itself.
import { parseArgs } from 'node:util';
import { CreateStreamCommand, DescribeStreamSummaryCommand, KinesisClient, PutRecordsCommand, UpdateStreamModeCommand } from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { NATS_SERVER } from '../test/harness/nats.js';
import { ENV } from '../contract/env.js';
import { connectStore } from '../stream/connect.js';
import { autoscaleBucket, readScaling } from '../stream/autoscaling.js';
import { getStream } from '../stream/streams.js';
import { machineInfo, writeResults } from './lib/results.js';
import { renderTable } from './lib/table.js';
import { loadAverage, rounded, sleep, startCluster, watchdog } from './lib/runs.js';

const USAGE = `usage: npm run bench -- autoscale [flags]
  --factors LIST       load steps as multiples of one shard's capacity (default 2,4,10)
  --stabilization-s N  scale-down stabilization window in seconds (default 60; the product default is 300)
  --up-window-s N      scale-up window in seconds (default 10, the product default)
  --noisy-s N          seconds of noisy load that should not scale (default 120)`;

const ANCHORS = [
  'AWS on-demand Kinesis: up to 2× the previous peak at once; above that, throttled for up to 15 minutes; never isolates a hot key',
  'Managed Flink autoscaling: at least 15 minutes before scaling up, 6 hours before scaling down',
  'Kinesis Scaling Utility: 10 minutes or more',
];

export async function runAutoscale(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: {
    factors: { type: 'string', default: '2,4,10' },
    'stabilization-s': { type: 'string', default: '60' },
    'up-window-s': { type: 'string', default: '10' },
    'noisy-s': { type: 'string', default: '120' },
    help: { type: 'boolean' },
  } });
  if (values.help) return void console.log(USAGE);
  const factors = values.factors!.split(',').map(Number);
  const stabilizationS = Number(values['stabilization-s']);
  const noisyS = Number(values['noisy-s']);
  // The runtime child reads these (contract/env.ts).
  process.env[ENV.onDemandMinShards] = '1';
  process.env[ENV.onDemandMaxShards] = '64';
  process.env[ENV.scaleDownStabilizationMs] = String(stabilizationS * 1000);
  process.env[ENV.scaleUpWindowMs] = String(Number(values['up-window-s']) * 1000);
  const cluster = await startCluster(1);
  watchdog(cluster, (factors.length * (stabilizationS * 6 + 240) + noisyS + 300) * 1000);
  const store = await connectStore({ natsUrl: cluster.nats.url });
  const kv = await autoscaleBucket(store);
  const client = new KinesisClient({ endpoint: cluster.runtimes[0]!.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' }, requestHandler: new NodeHttpHandler({ httpAgent: { maxSockets: 64 } as never }), maxAttempts: 1 });
  const load0 = loadAverage();
  const rows: Record<string, unknown>[] = [];
  try {
    for (const f of factors) {
      const name = `step-${f}x`;
      await onDemandStream(client, name);
      const t0 = Date.now();
      const gen = load(client, name, () => f * 1000);
      const enoughMs = await waitUntil(async () => (await shardCount(client, name)) >= f, 180_000);
      await sleep(15_000);
      const upStats = gen.stats();
      await gen.stop();
      const stopped = Date.now();
      const downMs = await waitUntil(async () => (await shardCount(client, name)) === 1, stabilizationS * 6000 + 60_000);
      const rec = await getStream(store, name);
      const decisions = (await readScaling(kv, rec!.uid))?.decisions.filter((d) => d.outcome === 'applied') ?? [];
      rows.push({
        step: `${f}×`,
        enoughShardsS: enoughMs === undefined ? undefined : (enoughMs - t0) / 1000,
        peakShards: Math.max(...decisions.map((d) => d.toShards)),
        recordsOffered: upStats.offered,
        recordsThrottled: upStats.throttled,
        recordsFailed: upStats.failed,
        scaleDownS: downMs === undefined ? undefined : (downMs - stopped) / 1000,
        reshardOps: decisions.length,
        upOps: decisions.filter((d) => d.toShards > d.fromShards).length,
        downOps: decisions.filter((d) => d.toShards < d.fromShards).length,
      });
      console.log(`step ${f}×: ${JSON.stringify(rounded(rows.at(-1)))}`);
    }
    // Noise around half of two shards' capacity, 1-second spikes to 140% every 20 s.
    const name = 'noisy';
    await onDemandStream(client, name, 2);
    let t = 0;
    const gen = load(client, name, () => {
      t++;
      const spike = t % 20 === 10;
      return Math.round(2 * 1000 * (spike ? 1.4 : 0.5 + (Math.random() - 0.5) * 0.6));
    });
    await sleep(noisyS * 1000);
    await gen.stop();
    const rec = await getStream(store, name);
    const noisyOps = ((await readScaling(kv, rec!.uid))?.decisions ?? []).filter((d) => d.outcome === 'applied').length;
    rows.push({ step: `noisy ${noisyS} s`, reshardOps: noisyOps, recordsOffered: gen.stats().offered, peakShards: await shardCount(client, name) });
  } finally {
    client.destroy();
    await store.close();
    await cluster.stop();
  }
  const table = renderTable(
    ['load', 'enough shards (s)', 'peak shards', 'offered', 'throttled', 'failed', 'back to 1 shard (s)', 'reshards (up/down)'],
    rows.map((r) => [String(r.step), num(r.enoughShardsS), num(r.peakShards), num(r.recordsOffered), num(r.recordsThrottled), num(r.recordsFailed), num(r.scaleDownS), r.upOps === undefined ? String(r.reshardOps) : `${r.reshardOps} (${r.upOps}/${r.downOps})`]),
  );
  console.log(`\nautoscale: up window ${values['up-window-s']} s, stabilization ${stabilizationS} s; load average ${load0.toFixed(1)} → ${loadAverage().toFixed(1)}\n`);
  console.log(table);
  console.log(`\nAnchors:\n${ANCHORS.map((a) => `- ${a}`).join('\n')}`);
  const file = writeResults('autoscale', { machine: machineInfo(NATS_SERVER), settings: { factors, stabilizationS, upWindowS: Number(values['up-window-s']), noisyS }, rows: rounded(rows), anchors: ANCHORS });
  console.log(`\nwrote ${file}`);
}

const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? String(Math.round(v * 10) / 10) : '-');

async function onDemandStream(client: KinesisClient, name: string, shards = 1): Promise<void> {
  await client.send(new CreateStreamCommand({ StreamName: name, ShardCount: shards }));
  await waitUntil(async () => (await client.send(new DescribeStreamSummaryCommand({ StreamName: name }))).StreamDescriptionSummary?.StreamStatus === 'ACTIVE', 30_000);
  await client.send(new UpdateStreamModeCommand({ StreamARN: `arn:aws:kinesis:us-east-1:000000000000:stream/${name}`, StreamModeDetails: { StreamMode: 'ON_DEMAND' } }));
}

async function shardCount(client: KinesisClient, name: string): Promise<number> {
  return (await client.send(new DescribeStreamSummaryCommand({ StreamName: name }))).StreamDescriptionSummary?.OpenShardCount ?? 0;
}

async function waitUntil(ok: () => Promise<boolean>, timeoutMs: number): Promise<number | undefined> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await ok().catch(() => false)) return Date.now();
    await sleep(250);
  }
  return undefined;
}

/** Offers `perSecond()` 100-byte records each second (PutRecords of ≤ 500, sent together) until stopped. */
function load(client: KinesisClient, name: string, perSecond: () => number) {
  let stop = false;
  const s = { offered: 0, throttled: 0, failed: 0 };
  let n = 0;
  const done = (async () => {
    while (!stop) {
      const t = Date.now();
      const rate = perSecond();
      const calls: Promise<void>[] = [];
      for (let sent = 0; sent < rate; sent += 500) {
        const Records = Array.from({ length: Math.min(500, rate - sent) }, () => ({ PartitionKey: `k${n++ % 10_000}`, Data: Buffer.alloc(100, 7) }));
        s.offered += Records.length;
        calls.push(client.send(new PutRecordsCommand({ StreamName: name, Records })).then((r) => {
          for (const e of r.Records ?? []) {
            if (e.ErrorCode === 'ProvisionedThroughputExceededException') s.throttled++;
            else if (e.ErrorCode) s.failed++;
          }
        }, () => { s.failed += Records.length; }));
      }
      await Promise.all(calls);
      await sleep(Math.max(0, 1000 - (Date.now() - t)));
    }
  })();
  return { stats: () => ({ ...s }), async stop() { stop = true; await done; } };
}
