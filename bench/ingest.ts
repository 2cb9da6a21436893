// `npm run bench -- ingest`: write throughput and put→get visibility latency
// of Shardline, beside raw JetStream (the ceiling) and kinesalite (the peer),
// all in one run on this machine. Everything listens on 127.0.0.1 and stops
// by itself; each scenario runs for a fixed time.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { startNats, NATS_SERVER, type NatsServers } from '../test/harness/nats.js';
import { KinesisHttp, createStreamAndWait, deleteStream } from './lib/kinesis.js';
import { closedLoop, visibilityLatency, type ThroughputResult, type VisibilityResult } from './lib/load.js';
import { rawJetStreamCeiling, type RawResult } from './lib/rawJetStream.js';
import { startKinesaliteChild, startRuntimeChild, type Child } from './lib/procs.js';
import { machineInfo, writeResults } from './lib/results.js';
import { renderTable, fmt } from './lib/table.js';
import { round } from './lib/stats.js';

const USAGE = `usage: npm run bench -- ingest [flags]
  --duration S        measured seconds per scenario (default 10)
  --warmup S          unmeasured seconds before each (default 2)
  --targets LIST      raw,shardline,kinesalite (default all three)
  --scenarios LIST    putrecords,putrecord,latency (default all)
  --sizes LIST        PutRecords record sizes in bytes (default 100,1024,10240)
  --shards N          shards per stream (default 4)
  --concurrency N     concurrent PutRecords requests (default 8)
  --put-concurrency N concurrent PutRecord requests (default 32)
  --rate N            records/s for the visibility latency scenario (default 1000)
  --raw-window N      messages in flight for raw JetStream (default 4096, as the runtime)
  --profile DIR       write V8 CPU profiles of the runtime and kinesalite children to DIR`;

interface Options {
  durationMs: number;
  warmupMs: number;
  targets: Set<string>;
  scenarios: Set<string>;
  sizes: number[];
  shards: number;
  concurrency: number;
  putConcurrency: number;
  rate: number;
  rawWindow: number;
  /** `shardline runtime --workers N`. */
  workers: number;
  profileDir?: string;
}

function options(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      duration: { type: 'string' },
      warmup: { type: 'string' },
      targets: { type: 'string' },
      scenarios: { type: 'string' },
      sizes: { type: 'string' },
      shards: { type: 'string' },
      concurrency: { type: 'string' },
      'put-concurrency': { type: 'string' },
      rate: { type: 'string' },
      'raw-window': { type: 'string' },
      workers: { type: 'string' },
      profile: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const list = (v: string | undefined, d: string) => new Set((v ?? d).split(',').map((s) => s.trim()).filter(Boolean));
  return {
    durationMs: Number(values.duration ?? 10) * 1000,
    warmupMs: Number(values.warmup ?? 2) * 1000,
    targets: list(values.targets, 'raw,shardline,kinesalite'),
    scenarios: list(values.scenarios, 'putrecords,putrecord,latency'),
    sizes: (values.sizes ?? '100,1024,10240').split(',').map(Number),
    shards: Number(values.shards ?? 4),
    concurrency: Number(values.concurrency ?? 8),
    putConcurrency: Number(values['put-concurrency'] ?? 32),
    rate: Number(values.rate ?? 1000),
    rawWindow: Number(values['raw-window'] ?? 4096),
    workers: Number(values.workers ?? 1),
    profileDir: values.profile ? path.resolve(values.profile) : undefined,
  };
}

const RECORDS_PER_PUT = 500;
const BODY_VARIANTS = 4;

/** PutRecords bodies: 500 records of random data, each with its own partition key. */
function putRecordsBodies(stream: string, size: number): Buffer[] {
  return Array.from({ length: BODY_VARIANTS }, (_, b) => {
    const records = Array.from({ length: RECORDS_PER_PUT }, (_, i) => ({
      Data: randomBytes(size).toString('base64'),
      PartitionKey: `pk-${b}-${i}-${randomBytes(4).toString('hex')}`,
    }));
    return Buffer.from(JSON.stringify({ StreamName: stream, Records: records }));
  });
}

function putRecordBodies(stream: string, size: number, count = 256): Buffer[] {
  return Array.from({ length: count }, (_, i) =>
    Buffer.from(JSON.stringify({ StreamName: stream, PartitionKey: `pk-${i}-${randomBytes(4).toString('hex')}`, Data: randomBytes(size).toString('base64') })),
  );
}

interface ThroughputRow {
  target: string;
  scenario: string;
  recordBytes: number;
  recordsPerRequest: number;
  concurrency: number;
  result: ThroughputResult;
}

interface VisibilityRow {
  target: string;
  result: VisibilityResult;
}

interface TargetRun {
  throughput: ThroughputRow[];
  visibility: VisibilityRow[];
  errors: string[];
}

const sizeLabel = (n: number) => (n >= 1024 ? `${n / 1024} KB` : `${n} B`);

/** Kinesalite has no stream modes (and no limits); Shardline's ON_DEMAND streams have no per-shard limits and start with 4 shards. */
const streamMode = (target: string, o: Options) => (target === 'shardline' && o.shards === ON_DEMAND_SHARDS ? 'ON_DEMAND' : 'PROVISIONED');
const ON_DEMAND_SHARDS = 4;

async function runTarget(name: string, server: Child, pids: Record<string, number | undefined>, o: Options): Promise<TargetRun> {
  const out: TargetRun = { throughput: [], visibility: [], errors: [] };
  const mode = streamMode(name, o);
  if (mode === 'PROVISIONED' && name === 'shardline') process.stderr.write(`[${name}] --shards ${o.shards}: PROVISIONED streams, per-shard limits apply\n`);
  const admin = new KinesisHttp(server.endpoint, { connections: 1 });
  const log = (m: string) => process.stderr.write(`[${name}] ${m}\n`);
  try {
    if (o.scenarios.has('putrecords')) {
      for (const size of o.sizes) {
        const stream = `bench-putrecords-${size}`;
        await createStreamAndWait(admin, stream, o.shards, mode);
        const client = new KinesisHttp(server.endpoint, { connections: o.concurrency });
        log(`PutRecords 500 × ${sizeLabel(size)}, ${o.concurrency} concurrent`);
        try {
          const result = await closedLoop({
            client, op: 'PutRecords', bodies: putRecordsBodies(stream, size), recordsPerRequest: RECORDS_PER_PUT,
            recordBytes: size, concurrency: o.concurrency, warmupMs: o.warmupMs, durationMs: o.durationMs, pids,
          });
          out.throughput.push({ target: name, scenario: `PutRecords 500×${sizeLabel(size)}`, recordBytes: size, recordsPerRequest: RECORDS_PER_PUT, concurrency: o.concurrency, result });
          log(`  ${fmt(result.recPerSec)} rec/s, ${fmt(result.mbPerSec)} MB/s, p50 ${fmt(result.latencyMs.p50)} ms${result.firstError ? `, error: ${result.firstError}` : ''}`);
        } finally {
          await client.close();
          await deleteStream(admin, stream);
        }
      }
    }
    if (o.scenarios.has('putrecord')) {
      const size = 1024;
      const stream = 'bench-putrecord';
      await createStreamAndWait(admin, stream, o.shards, mode);
      const client = new KinesisHttp(server.endpoint, { connections: o.putConcurrency });
      log(`PutRecord ${sizeLabel(size)}, ${o.putConcurrency} concurrent`);
      try {
        const result = await closedLoop({
          client, op: 'PutRecord', bodies: putRecordBodies(stream, size), recordsPerRequest: 1,
          recordBytes: size, concurrency: o.putConcurrency, warmupMs: o.warmupMs, durationMs: o.durationMs, pids,
        });
        out.throughput.push({ target: name, scenario: `PutRecord 1×${sizeLabel(size)}`, recordBytes: size, recordsPerRequest: 1, concurrency: o.putConcurrency, result });
        log(`  ${fmt(result.recPerSec)} rec/s, p50 ${fmt(result.latencyMs.p50)} ms${result.firstError ? `, error: ${result.firstError}` : ''}`);
      } finally {
        await client.close();
        await deleteStream(admin, stream);
      }
    }
    if (o.scenarios.has('latency')) {
      const stream = 'bench-visibility';
      const shardIds = await createStreamAndWait(admin, stream, o.shards, mode);
      // Enough connections that the open-loop producer never queues in the client.
      const producer = new KinesisHttp(server.endpoint, { connections: 64 });
      const consumers = shardIds.map(() => new KinesisHttp(server.endpoint, { connections: 1 }));
      log(`put→GetRecords visibility at ${o.rate} rec/s, ${shardIds.length} shards polled without pause`);
      try {
        const result = await visibilityLatency({
          producer, consumers, stream, shardIds, rate: o.rate, recordBytes: 1024,
          warmupMs: o.warmupMs, durationMs: o.durationMs, drainMs: 3000, pids,
        });
        out.visibility.push({ target: name, result });
        log(`  p50 ${fmt(result.visibilityMs.p50)} ms, p99 ${fmt(result.visibilityMs.p99)} ms, missing ${result.missing}${result.firstError ? `, error: ${result.firstError}` : ''}`);
      } finally {
        await producer.close();
        await Promise.all(consumers.map((c) => c.close()));
        await deleteStream(admin, stream);
      }
    }
  } catch (e) {
    out.errors.push(String((e as Error)?.stack ?? e));
    log(`failed: ${(e as Error)?.message ?? e}`);
  } finally {
    await admin.close();
  }
  return out;
}

/** Server CPU microseconds per record: robust to other load on the machine, unlike rec/s. */
const usPerRecord = (cores: number | undefined, recPerSec: number) => (cores === undefined || !recPerSec ? NaN : (cores * 1e6) / recPerSec);

function throughputTable(rows: ThroughputRow[], raw?: RawResult, rawOpts?: { window: number; streams: number }): string {
  const body: (string | number)[][] = [];
  if (raw) {
    body.push([
      'raw JetStream', `publish 1 msg = 1×1 KB (window ${rawOpts!.window}, ${rawOpts!.streams} streams)`,
      raw.msgsPerSec, raw.mbPerSec, raw.msgsPerSec, raw.ackLatencyMs.p50, raw.ackLatencyMs.p99,
      `nats ${fmt(raw.cpu.nats ?? NaN)} / gen ${fmt(raw.cpu.loadgen ?? NaN)}`, usPerRecord(raw.cpu.loadgen, raw.msgsPerSec), raw.errors,
    ]);
  }
  for (const r of rows) {
    const x = r.result;
    const serverCpu = x.cpu.shardline ?? x.cpu.kinesalite;
    const cpu = `srv ${fmt(serverCpu ?? NaN)}${x.cpu.nats !== undefined ? ` / nats ${fmt(x.cpu.nats)}` : ''} / gen ${fmt(x.cpu.loadgen ?? NaN)}`;
    body.push([r.target, `${r.scenario} (c=${r.concurrency})`, x.recPerSec, x.mbPerSec, x.reqPerSec, x.latencyMs.p50, x.latencyMs.p99, cpu, usPerRecord(serverCpu, x.recPerSec), x.errors + x.failedRecords]);
  }
  return renderTable(['target', 'scenario', 'rec/s', 'MB/s', 'req/s', 'p50 ms', 'p99 ms', 'CPU cores', 'µs/rec', 'errors'], body);
}

function visibilityTable(rows: VisibilityRow[]): string {
  return renderTable(
    ['target', 'put→GetRecords visibility', 'p50 ms', 'p99 ms', 'max ms', 'put p50', 'put p99', 'GetRecords/s', 'missing', 'CPU cores'],
    rows.map(({ target, result: x }) => {
      const serverCpu = x.cpu.shardline ?? x.cpu.kinesalite;
      return [
        target, `${fmt(x.achievedRate)} rec/s, 1 KB`, x.visibilityMs.p50, x.visibilityMs.p99, x.visibilityMs.max,
        x.putLatencyMs.p50, x.putLatencyMs.p99, x.getRecordsPerSec, x.missing + x.putErrors,
        `srv ${fmt(serverCpu ?? NaN)}${x.cpu.nats !== undefined ? ` / nats ${fmt(x.cpu.nats)}` : ''} / gen ${fmt(x.cpu.loadgen ?? NaN)}`,
      ];
    }),
  );
}

interface TargetCheck {
  target: string;
  value: string;
  met: boolean | undefined;
}

function checkTargets(rows: ThroughputRow[], vis: VisibilityRow[], raw?: RawResult): TargetCheck[] {
  const kb = (t: string) => rows.find((r) => r.target === t && r.scenario === 'PutRecords 500×1 KB')?.result.recPerSec;
  const ours = kb('shardline');
  const peer = kb('kinesalite');
  const v = vis.find((r) => r.target === 'shardline')?.result.visibilityMs;
  const ratio = (a?: number, b?: number) => (a !== undefined && b !== undefined && b > 0 ? a / b : undefined);
  const rawRatio = ratio(ours, raw?.msgsPerSec);
  const peerRatio = ratio(ours, peer);
  return [
    { target: '1 KB PutRecords ≥ 100,000 rec/s', value: ours === undefined ? 'not run' : `${fmt(ours)} rec/s`, met: ours === undefined ? undefined : ours >= 100_000 },
    { target: '… ≥ 1.2 × raw JetStream per-message ceiling', value: rawRatio === undefined ? 'not run' : `${rawRatio.toFixed(2)} ×`, met: rawRatio === undefined ? undefined : rawRatio >= 1.2 },
    { target: '… ≥ 8 × kinesalite', value: peerRatio === undefined ? 'not run' : `${peerRatio.toFixed(1)} ×`, met: peerRatio === undefined ? undefined : peerRatio >= 8 },
    { target: 'put→get visibility p50 < 3 ms', value: v ? `${fmt(v.p50)} ms` : 'not run', met: v ? v.p50 < 3 : undefined },
    { target: 'put→get visibility p99 < 25 ms', value: v ? `${fmt(v.p99)} ms` : 'not run', met: v ? v.p99 < 25 : undefined },
  ];
}

/** Rounds every float in the JSON to 3 decimals for readability. */
function rounded(v: unknown): unknown {
  if (typeof v === 'number') return Number.isInteger(v) ? v : round(v, 3);
  if (Array.isArray(v)) return v.map(rounded);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, rounded(x)]));
  return v;
}

export async function runIngest(argv: string[]): Promise<void> {
  const o = options(argv);
  const startedAt = new Date();
  if (o.profileDir) fs.mkdirSync(o.profileDir, { recursive: true });
  const log = (m: string) => process.stderr.write(`${m}\n`);
  const loadBefore = os.loadavg();
  log(`ingest benchmark: ${o.durationMs / 1000} s per scenario after ${o.warmupMs / 1000} s warm-up; ${os.cpus().length} cores, load average ${loadBefore[0]!.toFixed(2)}`);

  let nats: NatsServers | undefined;
  let raw: RawResult | undefined;
  const runs: TargetRun[] = [];
  const errors: string[] = [];
  const rawOpts = { window: o.rawWindow, streams: o.shards };
  try {
    nats = await startNats();
    const natsPid = nats.nodes[0]!.proc?.pid;
    if (o.targets.has('raw')) {
      log(`[raw] JetStream windowed publish, 1 KB, window ${o.rawWindow}, ${o.shards} streams`);
      try {
        raw = await rawJetStreamCeiling({ natsUrl: nats.url, natsPid, streams: o.shards, msgBytes: 1024, window: o.rawWindow, warmupMs: o.warmupMs, durationMs: o.durationMs });
        log(`  ${fmt(raw.msgsPerSec)} msg/s, ack p50 ${fmt(raw.ackLatencyMs.p50)} ms${raw.firstError ? `, error: ${raw.firstError}` : ''}`);
      } catch (e) {
        errors.push(`raw: ${(e as Error)?.stack ?? e}`);
      }
    }
    if (o.targets.has('shardline')) {
      const rt = await startRuntimeChild({ natsUrl: nats.url, cpuProfDir: o.profileDir, workers: o.workers });
      try {
        runs.push(await runTarget('shardline', rt, { shardline: rt.proc.pid, nats: natsPid }, o));
      } finally {
        await rt.stop();
      }
    }
    if (o.targets.has('kinesalite')) {
      const k = await startKinesaliteChild({ cpuProfDir: o.profileDir });
      try {
        runs.push(await runTarget('kinesalite', k, { kinesalite: k.proc.pid }, o));
      } finally {
        await k.stop();
      }
    }
  } finally {
    await nats?.stop();
  }

  const throughput = runs.flatMap((r) => r.throughput);
  const visibility = runs.flatMap((r) => r.visibility);
  errors.push(...runs.flatMap((r) => r.errors));
  const checks = checkTargets(throughput, visibility, raw);
  const loadAfter = os.loadavg();
  const tables = [
    `Machine: ${os.cpus().length} cores; load average ${loadBefore[0]!.toFixed(2)} before, ${loadAfter[0]!.toFixed(2)} after (the bench itself adds ~2; more means other work shared the cores)`,
    'Throughput (records of random data; MB/s counts record Data bytes; p50/p99 per request (raw: per ack); CPU in cores busy over the window;',
    'µs/rec = CPU µs per record of the server (raw: of the publishing process), comparable across runs when other load varies)',
    throughputTable(throughput, raw, rawOpts),
    '',
    `Put→GetRecords visibility (open-loop PutRecord at ${o.rate}/s; every shard polled with GetRecords without pause)`,
    visibilityTable(visibility),
    '',
    'Targets (2-core machine)',
    renderTable(['target', 'measured', 'met'], checks.map((c) => [c.target, c.value, c.met === undefined ? '-' : c.met ? 'yes' : 'NO'])),
  ].join('\n');
  console.log(tables);
  const file = writeResults('ingest', rounded({
    benchmark: 'ingest',
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    machine: { ...machineInfo(NATS_SERVER), loadAverageBefore: loadBefore, loadAverageAfter: loadAfter },
    setup: {
      runtime: `child process (node dist/runtime/cli.js runtime${o.workers > 1 ? ` --workers ${o.workers}` : ''}), load generator in the parent`,
      kinesalite: 'kinesalite 3.3.3 in memory (memdown) in a child process, createStreamMs 0',
      nats: 'nats-server, one node, file store in a temp dir, max_payload 16MB',
      streams: 'shardline: ON_DEMAND (4 shards, no per-shard limits) unless --shards is not 4; kinesalite: PROVISIONED, --shards shards',
      loadGenerator: 'undici Pool, HTTP/1.1 keep-alive, pre-serialised JSON bodies',
      ...o,
      targets: [...o.targets],
      scenarios: [...o.scenarios],
    },
    raw: raw ? { ...rawOpts, msgBytes: 1024, ...raw } : undefined,
    throughput,
    visibility,
    targets: checks,
    errors,
    table: tables,
  }));
  console.log(`\nresults: ${path.relative(process.cwd(), file)}`);
  if (errors.length) {
    console.error(`\n${errors.length} error(s):\n${errors.join('\n')}`);
    process.exitCode = 1;
  }
}
