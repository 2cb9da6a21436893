// `npm run bench -- scale`: a store growing from 0 to 10,000 shards (issue 13).
// One nats-server and one runtime process. At each step the store is filled
// up to the step's shard count with streams of --stream-shards shards through
// CreateStream, then, idle, the bench reports: memory per idle shard in
// nats-server and in the runtime (RSS growth over the empty store / shards),
// disk, the CreateStream call time and the creation rate (shards made ACTIVE
// per second, paced by the runtime's descriptor budget), API latency p50/p99
// (DescribeStreamSummary, DescribeStream, ListShards, ListStreams, PutRecord),
// idle CPU, and restart times: nats-server alone (SIGTERM, start, listening —
// its own restore, the floor) and the runtime (start to a serving endpoint).
// Loopback only. Final figures need a quiet machine and the 10,000 step;
// validate the script with small steps (e.g. --steps 0,100,300 --stream-shards 100).
import fs from 'node:fs';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { execFileSync } from 'node:child_process';
import { NATS_SERVER } from '../test/harness/nats.js';
import { waitForPort } from '../test/harness/ports.js';
import { ENV } from '../contract/env.js';
import { KinesisHttp } from './lib/kinesis.js';
import { startRuntimeChild, type Child } from './lib/procs.js';
import { machineInfo, writeResults } from './lib/results.js';
import { Samples } from './lib/stats.js';
import { renderTable } from './lib/table.js';
import { CpuSpan, loadAverage, sleep, startCluster, watchdog } from './lib/runs.js';

const USAGE = `usage: npm run bench -- scale [flags]
  --steps LIST          total shards in the store at each step (default 0,1000,2000,5000,10000)
  --stream-shards N     shards per stream created to fill a step (default 1000)
  --samples N           calls per API measured at each step (default 200)
  --idle-s N            seconds of idle CPU measured at each step (default 10)
  --no-restart          skip the restart measurements`;

const TARGETS = [
  'memory: ≤ 100 KB per idle shard (nats-server + runtime)',
  'API latency: flat as shards grow',
  'a 1,000-shard CreateStream returns in < 200 ms (status CREATING, ACTIVE later)',
  'a 10,000-shard store restarts to a serving endpoint with no manual step',
];

const rssKiB = (pid: number | undefined): number => {
  if (pid === undefined) return NaN;
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
};
const duMiB = (dir: string) => Number(execFileSync('du', ['-sk', dir]).toString().split('\t')[0]) / 1024;

export async function runScale(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: {
    steps: { type: 'string', default: '0,1000,2000,5000,10000' },
    'stream-shards': { type: 'string', default: '1000' },
    samples: { type: 'string', default: '200' },
    'idle-s': { type: 'string', default: '10' },
    'no-restart': { type: 'boolean' },
    help: { type: 'boolean' },
  } });
  if (values.help) return void console.log(USAGE);
  const steps = values.steps!.split(',').map(Number);
  const perStream = Number(values['stream-shards']);
  const samples = Number(values.samples);
  const idleS = Number(values['idle-s']);
  // The runtime child reads these (contract/env.ts): room for the largest step.
  process.env[ENV.shardLimit] = String(Math.max(...steps) + perStream);
  process.env[ENV.autoscale] = 'off';
  const cluster = await startCluster(1);
  watchdog(cluster, (steps[steps.length - 1]! / 10 + 600 + steps.length * 300) * 1000);
  let rt: Child = cluster.runtimes[0]!;
  let k = new KinesisHttp(rt.endpoint, { connections: 4 });
  const node = cluster.nats.nodes[0]!;
  const base = { nats: rssKiB(node.proc?.pid), runtime: rssKiB(rt.proc.pid) };
  const rows: Record<string, number>[] = [];
  const streams: string[] = [];
  let total = 0;
  const load0 = loadAverage();
  try {
    for (const step of steps) {
      // Fill up to the step.
      const createMs = new Samples();
      const t0 = performance.now();
      let made = 0;
      while (total < step) {
        const n = Math.min(perStream, step - total);
        const name = `scale-${streams.length}`;
        const c0 = performance.now();
        await k.json('CreateStream', { StreamName: name, ShardCount: n });
        createMs.add(performance.now() - c0);
        streams.push(name);
        total += n;
        made += n;
      }
      for (const name of streams) {
        for (;;) {
          const d = await k.json('DescribeStreamSummary', { StreamName: name });
          if (d.StreamDescriptionSummary.StreamStatus === 'ACTIVE') break;
          await sleep(200);
        }
      }
      const fillS = (performance.now() - t0) / 1000;
      await sleep(2000);
      const cpu = new CpuSpan({ nats: node.proc?.pid, runtime: rt.proc.pid });
      await sleep(idleS * 1000);
      const idle = cpu.stop();
      const mem = { nats: rssKiB(node.proc?.pid), runtime: rssKiB(rt.proc.pid) };

      // API latency, sequential calls on the largest stream (or none).
      const lat: Record<string, Samples> = {};
      const time = async (op: string, body: unknown) => {
        const s = (lat[op] ??= new Samples());
        const c0 = performance.now();
        await k.json(op, body);
        s.add(performance.now() - c0);
      };
      for (let i = 0; i < samples; i++) {
        await time('ListStreams', { Limit: 100 });
        if (streams.length === 0) continue;
        const name = streams[i % streams.length]!;
        await time('DescribeStreamSummary', { StreamName: name });
        await time('DescribeStream', { StreamName: name, Limit: 100 });
        await time('ListShards', { StreamName: name, MaxResults: 1000 });
        await time('PutRecord', { StreamName: name, PartitionKey: `k${i}`, Data: Buffer.from('x').toString('base64') });
      }

      // Restarts: nats-server alone (its own restore is the floor), then the runtime to a serving endpoint.
      let natsRestartS = NaN;
      let runtimeRestartS = NaN;
      if (!values['no-restart']) {
        const p = node.proc!;
        const gone = new Promise((r) => p.once('exit', r));
        p.kill('SIGTERM');
        await gone;
        const r0 = performance.now();
        await cluster.nats.restart(0, { listenTimeoutMs: 600_000 });
        natsRestartS = (performance.now() - r0) / 1000;
        await rt.stop();
        await k.close();
        const r1 = performance.now();
        rt = await startRuntimeChild({ natsUrl: cluster.nats.url });
        cluster.runtimes[0] = rt;
        k = new KinesisHttp(rt.endpoint, { connections: 4 });
        await waitForPort(rt.port, 600_000);
        await k.json('ListStreams', {});
        runtimeRestartS = (performance.now() - r1) / 1000;
      }

      const perShard = (now: number, was: number) => (total > 0 ? (now - was) / total : NaN);
      const row: Record<string, number> = {
        shards: total,
        natsKiBPerShard: perShard(mem.nats, base.nats),
        runtimeKiBPerShard: perShard(mem.runtime, base.runtime),
        natsRssMiB: mem.nats / 1024,
        runtimeRssMiB: mem.runtime / 1024,
        diskMiB: duMiB(node.storeDir),
        createCallP50Ms: createMs.summary().p50,
        createCallMaxMs: createMs.summary().max,
        shardsPerS: made > 0 ? made / fillS : NaN,
        idleCpuNats: idle.nats!,
        idleCpuRuntime: idle.runtime!,
        natsRestartS,
        runtimeRestartS,
      };
      for (const [op, s] of Object.entries(lat)) {
        const sum = s.summary();
        row[`${op}P50Ms`] = sum.p50;
        row[`${op}P99Ms`] = sum.p99;
      }
      rows.push(row);
      console.error(`step ${total} shards: ${JSON.stringify(row)}`);
    }
  } finally {
    await k.close().catch(() => undefined);
    await cluster.stop();
  }

  const cols: [string, string][] = [
    ['shards', 'shards'], ['natsKiBPerShard', 'nats KiB/shard'], ['runtimeKiBPerShard', 'rt KiB/shard'], ['diskMiB', 'disk MiB'],
    ['createCallP50Ms', 'Create p50 ms'], ['createCallMaxMs', 'Create max ms'], ['shardsPerS', 'shards/s'],
    ['DescribeStreamSummaryP50Ms', 'DSS p50'], ['DescribeStreamSummaryP99Ms', 'DSS p99'], ['DescribeStreamP50Ms', 'DS p50'], ['DescribeStreamP99Ms', 'DS p99'],
    ['ListShardsP50Ms', 'LS p50'], ['ListShardsP99Ms', 'LS p99'], ['PutRecordP50Ms', 'Put p50'], ['PutRecordP99Ms', 'Put p99'],
    ['idleCpuNats', 'idle CPU nats'], ['idleCpuRuntime', 'idle CPU rt'], ['natsRestartS', 'nats restore s'], ['runtimeRestartS', 'rt restart s'],
  ];
  console.log(renderTable(cols.map((c) => c[1]), rows.map((r) => cols.map(([key]) => (key === 'shards' ? String(r[key]) : r[key] ?? NaN)))));
  console.log(`\nload average 1 min: ${load0.toFixed(2)} at start, ${loadAverage().toFixed(2)} at end (a busy machine inflates every figure)`);
  console.log('targets:\n' + TARGETS.map((t) => `  - ${t}`).join('\n'));
  const file = writeResults('scale', { machine: machineInfo(NATS_SERVER), steps, perStream, samples, idleS, rows, targets: TARGETS });
  console.log(`\nresults: ${file}`);
}
