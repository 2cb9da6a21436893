// `npm run bench -- consumer`: the consumer library (shardline/consumer).
// 1. Drain: a backlog of 1 KB records on 4 shards read by a consumer group of
//    2 worker processes through the direct source (JetStream, no API server),
//    then the same backlog by 2 workers polling GetRecords through the API,
//    in the same run. Rate = records / (last record processed − first).
// 2. Latency: PutRecord at a steady rate (open loop, send time in the data);
//    a worker in this process (direct source, live follow) notes
//    processRecords time − send time per record.
import { spawn, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Registry } from 'prom-client';
import { NATS_SERVER } from '../test/harness/nats.js';
import { connectStore } from '../stream/connect.js';
import { setAutoscaling } from '../stream/autoscaling.js';
import { Consumer, directSource, kvLeaseStore } from '../consumer/index.js';
import { KinesisHttp, createStreamAndWait, deleteStream } from './lib/kinesis.js';
import { machineInfo, REPO_ROOT, writeResults } from './lib/results.js';
import { Samples } from './lib/stats.js';
import { renderTable, fmt } from './lib/table.js';
import { CpuSpan, cpuLine, loadAverage, rounded, sleep, startCluster, watchdog, int, type Cluster } from './lib/runs.js';

const USAGE = `usage: npm run bench -- consumer [flags]
  --records N       backlog records to drain (default 1000000; validate with e.g. 20000)
  --record-bytes N  Data bytes per record (default 1024)
  --workers N       consumer worker processes per drain (default 2)
  --rate N          records/s for the latency run (default 1000)
  --duration S      measured seconds of the latency run (default 10)
  --warmup S        unmeasured seconds before it (default 5)
  --phases LIST     drain-direct,drain-polling,latency (default all)`;

interface Options {
  records: number;
  recordBytes: number;
  workers: number;
  rate: number;
  durationMs: number;
  warmupMs: number;
  phases: Set<string>;
}

function options(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      records: { type: 'string' },
      'record-bytes': { type: 'string' },
      workers: { type: 'string' },
      rate: { type: 'string' },
      duration: { type: 'string' },
      warmup: { type: 'string' },
      phases: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  return {
    records: Number(values.records ?? 1_000_000),
    recordBytes: Math.max(16, Number(values['record-bytes'] ?? 1024)),
    workers: Number(values.workers ?? 2),
    rate: Number(values.rate ?? 1000),
    durationMs: Number(values.duration ?? 10) * 1000,
    warmupMs: Number(values.warmup ?? 5) * 1000,
    phases: new Set((values.phases ?? 'drain-direct,drain-polling,latency').split(',')),
  };
}

const STREAM = 'bench-consumer';
const TARGET_DIRECT = 150_000;
const nowMs = () => performance.timeOrigin + performance.now();
const log = (m: string) => process.stderr.write(`${m}\n`);

/** Fills the stream with `n` records (PutRecords of 500, 8 in flight), random partition keys. */
async function fill(k: KinesisHttp, n: number, bytes: number): Promise<void> {
  const data = Buffer.alloc(bytes, 0x61).toString('base64');
  let next = 0;
  const one = async () => {
    while (next < n) {
      const from = next;
      next = Math.min(n, next + 500);
      const body = JSON.stringify({ StreamName: STREAM, Records: Array.from({ length: next - from }, (_, i) => ({ PartitionKey: `pk-${from + i}`, Data: data })) });
      for (;;) {
        const r = await k.call('PutRecords', body);
        if (r.status === 200 && JSON.parse(r.text).FailedRecordCount === 0) break;
        // Partial failures are rare here (ON_DEMAND); the whole call is repeated, so the count may overshoot by a few.
        await sleep(50);
      }
    }
  };
  await Promise.all(Array.from({ length: 8 }, one));
}

interface DrainResult {
  mode: string;
  records: number;
  seconds: number;
  recPerSec: number;
  mbPerSec: number;
  wallSeconds: number;
  cpu: Record<string, number>;
}

async function drain(cluster: Cluster, mode: 'direct' | 'polling', o: Options, total: number): Promise<DrainResult> {
  const entry = path.join(REPO_ROOT, 'dist/bench/consumerWorker.js');
  const rt = cluster.runtimes[0]!;
  const app = `bench-${mode}-${Date.now()}`;
  const state = new Map<string, { count: number; bytes: number; firstAt: number; lastAt: number }>();
  const procs: ChildProcess[] = [];
  const t0 = Date.now();
  for (let i = 0; i < o.workers; i++) {
    const id = `${mode}-${i}`;
    const p = spawn(process.execPath, [entry, cluster.nats.url, mode, rt.endpoint, app, STREAM, id], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    readline.createInterface({ input: p.stdout! }).on('line', (l) => {
      const m = JSON.parse(l);
      state.set(m.id, m);
    });
    procs.push(p);
  }
  const pids: Record<string, number | undefined> = { ...cluster.pids };
  procs.forEach((p, i) => (pids[`worker ${i}`] = p.pid));
  const cpu = new CpuSpan(pids);
  const sum = () => [...state.values()].reduce((s, x) => s + x.count, 0);
  const deadline = Date.now() + 30 * 60_000;
  let lastLog = 0;
  while (sum() < total && Date.now() < deadline) {
    await sleep(50);
    if (Date.now() - lastLog > 5000) {
      lastLog = Date.now();
      log(`  ${mode}: ${int(sum())} / ${int(total)}`);
    }
  }
  const cpuUse = cpu.stop();
  await Promise.all(procs.map((p) => new Promise((r) => { p.once('exit', r); p.kill('SIGTERM'); })));
  const all = [...state.values()];
  const first = Math.min(...all.filter((x) => x.firstAt).map((x) => x.firstAt));
  const last = Math.max(...all.map((x) => x.lastAt));
  const records = sum();
  const bytes = all.reduce((s, x) => s + x.bytes, 0);
  const seconds = Math.max(0.001, (last - first) / 1000);
  return { mode, records, seconds, recPerSec: records / seconds, mbPerSec: bytes / seconds / 1e6, wallSeconds: (Date.now() - t0) / 1000, cpu: cpuUse };
}

async function latency(cluster: Cluster, o: Options, producer: KinesisHttp) {
  const store = await connectStore({ natsUrl: cluster.nats.url, name: 'bench-latency' });
  const lat = new Samples();
  const total = Math.round((o.rate * (o.warmupMs + o.durationMs)) / 1000);
  let received = 0;
  let t0 = Infinity;
  const consumer = new Consumer({
    applicationName: `bench-latency-${Date.now()}`,
    streamName: STREAM,
    source: directSource(store),
    leaseStore: kvLeaseStore(store),
    initialPosition: { type: 'LATEST' },
    metricsRegistry: new Registry(),
    processorFactory: () => ({
      async processRecords(batch) {
        const at = nowMs();
        for (const r of batch.records) {
          if (r.data.length < 8) continue;
          const sent = r.data.readDoubleLE(0);
          // Leases, shard follows and connections settle during the warm-up.
          if (sent >= t0 + o.warmupMs) lat.add(at - sent);
          received++;
        }
      },
      async shardEnded(cp) {
        await cp.checkpoint();
      },
    }),
  });
  await consumer.start();
  await sleep(500);
  const template = Buffer.alloc(o.recordBytes, 0x61);
  const pending = new Set<Promise<unknown>>();
  let errors = 0;
  t0 = nowMs();
  let sent = 0;
  await new Promise<void>((resolve) => {
    const tick = () => {
      const due = Math.min(total, Math.floor(((nowMs() - t0) * o.rate) / 1000) + 1);
      while (sent < due) {
        const data = Buffer.from(template);
        data.writeDoubleLE(nowMs(), 0);
        const p = producer.call('PutRecord', JSON.stringify({ StreamName: STREAM, PartitionKey: `pk-${sent}`, Data: data.toString('base64') })).then(
          (r) => void (r.status !== 200 && errors++),
          () => void errors++,
        );
        pending.add(p);
        void p.finally(() => pending.delete(p));
        sent++;
      }
      if (sent < total) setTimeout(tick, 1);
      else resolve();
    };
    tick();
  });
  await Promise.all(pending);
  const until = Date.now() + 3000;
  while (received < sent - errors && Date.now() < until) await sleep(10);
  await consumer.stop();
  await store.close();
  return { sent, received, errors, latencyMs: lat.summary() };
}

export async function runConsumer(argv: string[]): Promise<void> {
  const o = options(argv);
  const startedAt = new Date();
  const loadBefore = os.loadavg();
  log(`consumer benchmark: ${int(o.records)} × ${o.recordBytes} B backlog, ${o.workers} workers; latency at ${o.rate}/s for ${o.durationMs / 1000} s; ${os.cpus().length} cores, load average ${loadAverage().toFixed(2)}`);
  const cluster = await startCluster(1);
  const dog = watchdog(cluster, 60 * 60_000);
  const admin = new KinesisHttp(cluster.runtimes[0]!.endpoint, { connections: 8 });
  const producer = new KinesisHttp(cluster.runtimes[0]!.endpoint, { connections: 64 });
  const errors: string[] = [];
  let result: Record<string, unknown> | undefined;
  try {
    // ON_DEMAND: 4 shards, no per-shard limits (the consumer is measured, not AWS's 2 MB/s per shard); the
    // autoscaler in dry-run, so the backlog stays on the 4 shards the drain names.
    await createStreamAndWait(admin, STREAM, 4, 'ON_DEMAND');
    const pin = await connectStore({ natsUrl: cluster.nats.url, name: 'bench-pin' });
    await setAutoscaling(pin, STREAM, { dryRun: true });
    await pin.close();
    const drains: DrainResult[] = [];
    let shardsAfterFill = 4;
    if (o.phases.has('drain-direct') || o.phases.has('drain-polling')) {
      const f0 = Date.now();
      await fill(admin, o.records, o.recordBytes);
      // Checked, not assumed: a split while filling would make the drain read parents, then children (lineage order).
      shardsAfterFill = ((await admin.json('ListShards', { StreamName: STREAM })).Shards as unknown[]).length;
      log(`backlog: ${int(o.records)} records in ${((Date.now() - f0) / 1000).toFixed(1)} s; ${shardsAfterFill} shards after the fill`);
      for (const mode of ['direct', 'polling'] as const) {
        if (!o.phases.has(`drain-${mode}`)) continue;
        log(`drain (${mode})…`);
        drains.push(await drain(cluster, mode, o, o.records));
      }
    }
    const lat = o.phases.has('latency') ? await latency(cluster, o, producer) : undefined;
    const loadAfter = os.loadavg();
    const direct = drains.find((d) => d.mode === 'direct');
    const tables = [
      `Machine: ${os.cpus().length} cores; load average ${loadBefore[0]!.toFixed(2)} before, ${loadAfter[0]!.toFixed(2)} after`,
      `Drain: ${int(o.records)} records of ${o.recordBytes} B on ${shardsAfterFill} shards (ON_DEMAND, autoscaler in dry-run), ${o.workers} worker processes (consumer group, KV leases, checkpoint per batch)`,
      renderTable(
        ['source', 'records', 'seconds', 'rec/s', 'MB/s', 'wall s (with lease start)', 'CPU cores'],
        drains.map((d) => [d.mode === 'direct' ? 'direct (JetStream)' : 'GetRecords polling (API)', int(d.records), d.seconds, int(d.recPerSec), d.mbPerSec, d.wallSeconds, cpuLine(d.cpu)]),
      ),
      '',
      lat
        ? `Latency: PutRecord at ${o.rate}/s (${o.recordBytes} B), ${o.durationMs / 1000} s measured after ${o.warmupMs / 1000} s → processRecords (direct source, live follow): p50 ${fmt(lat.latencyMs.p50)} ms, p90 ${fmt(lat.latencyMs.p90)} ms, p99 ${fmt(lat.latencyMs.p99)} ms, max ${fmt(lat.latencyMs.max)} ms; sent ${int(lat.sent)}, received ${int(lat.received)}, put errors ${lat.errors}`
        : '',
      '',
      direct ? renderTable(['target', 'measured', 'met'], [[`direct drain ≥ ${int(TARGET_DIRECT)} rec/s`, int(direct.recPerSec), direct.recPerSec >= TARGET_DIRECT ? 'yes' : 'NO']]) : '',
    ].join('\n');
    console.log(tables);
    result = {
      benchmark: 'consumer',
      startedAt: startedAt.toISOString(),
      finishedAt: new Date().toISOString(),
      machine: { ...machineInfo(NATS_SERVER), loadAverageBefore: loadBefore, loadAverageAfter: loadAfter },
      setup: { ...o, phases: [...o.phases], runtime: 'one child process on one nats-server', workers: 'node dist/bench/consumerWorker.js per worker' },
      drains,
      shardsAfterFill,
      latency: lat,
      errors,
      table: tables,
    };
    await deleteStream(admin, STREAM);
  } catch (e) {
    errors.push(String((e as Error)?.stack ?? e));
  } finally {
    await producer.close().catch(() => undefined);
    await admin.close().catch(() => undefined);
    await cluster.stop();
    clearTimeout(dog);
  }
  const file = writeResults('consumer', rounded(result ?? { benchmark: 'consumer', startedAt: startedAt.toISOString(), errors }));
  console.log(`\nresults: ${path.relative(process.cwd(), file)}`);
  if (errors.length) {
    console.error(`\n${errors.length} error(s):\n${errors.join('\n')}`);
    process.exitCode = 1;
  }
}
