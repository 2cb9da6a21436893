// `npm run bench -- producer`: throughput of the producer library (shardline/producer) for small
// records, without and with KPL aggregation, in the same run against one runtime child process.
// Two settings: "limited" (a PROVISIONED stream, the producer keeping to Kinesis' per-shard limits:
// where aggregation pays off on AWS too, since an aggregated record counts as one record) and
// "unlimited" (an ON_DEMAND stream without per-shard limits and the producer's rate limiter off:
// the producer and server's own speed). Loopback only; stops by itself.
import os from 'node:os';
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { KinesisClient } from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { NATS_SERVER } from '../test/harness/nats.js';
import { Producer } from '../producer/index.js';
import { KinesisHttp, createStreamAndWait } from './lib/kinesis.js';
import { machineInfo, writeResults } from './lib/results.js';
import { renderTable, fmt } from './lib/table.js';
import { Samples, type LatencySummary } from './lib/stats.js';
import { CpuSpan, cpuLine, loadAverage, rounded, sleep, startCluster, watchdog } from './lib/runs.js';

const USAGE = `usage: npm run bench -- producer [flags]
  --duration S       measured seconds per run (default 10)
  --warmup S         unmeasured seconds before each (default 2)
  --record-bytes N   data bytes per record (default 100)
  --shards N         shards of the PROVISIONED stream (default 4; ON_DEMAND streams have 4)
  --keys N           distinct partition keys (default 1000)
  --window N         records put() and not yet settled, at most (default 20000)
  --in-flight N      producer maxInFlightRequests (default 8)
  --agg-bytes N      aggregated record size limit (default 51200, the KPL's)
  --settings LIST    limited,unlimited (default both)`;

interface Options {
  durationMs: number;
  warmupMs: number;
  recordBytes: number;
  shards: number;
  keys: number;
  window: number;
  inFlight: number;
  aggBytes: number;
  settings: string[];
}

function options(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      duration: { type: 'string' },
      warmup: { type: 'string' },
      'record-bytes': { type: 'string' },
      shards: { type: 'string' },
      keys: { type: 'string' },
      window: { type: 'string' },
      'in-flight': { type: 'string' },
      'agg-bytes': { type: 'string' },
      settings: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  return {
    durationMs: Number(values.duration ?? 10) * 1000,
    warmupMs: Number(values.warmup ?? 2) * 1000,
    recordBytes: Number(values['record-bytes'] ?? 100),
    shards: Number(values.shards ?? 4),
    keys: Number(values.keys ?? 1000),
    window: Number(values.window ?? 20_000),
    inFlight: Number(values['in-flight'] ?? 8),
    aggBytes: Number(values['agg-bytes'] ?? 51_200),
    settings: (values.settings ?? 'limited,unlimited').split(',').map((s) => s.trim()).filter(Boolean),
  };
}

interface Row {
  setting: string;
  aggregation: boolean;
  recordsPerSec: number;
  mibPerSec: number;
  requestsPerSec: number;
  entriesPerSec: number;
  recordsPerEntry: number;
  throttled: number;
  retries: number;
  failed: number;
  latencyMs: LatencySummary;
  /** PutRecords call durations. */
  callMs: LatencySummary;
  errors: Record<string, number>;
  cpu: Record<string, number>;
}

/** Closed loop: keeps `window` records outstanding; counts those acknowledged inside the measured window. */
async function runOne(
  client: KinesisClient,
  stream: string,
  setting: string,
  aggregation: boolean,
  o: Options,
  pids: Record<string, number | undefined>,
): Promise<Row> {
  const producer = new Producer({
    client,
    streamName: stream,
    aggregation: aggregation ? { maxBytes: o.aggBytes } : false,
    rateLimit: setting === 'limited' ? undefined : false,
    maxInFlightRequests: o.inFlight,
  });
  await producer.shards();
  const keys = Array.from({ length: o.keys }, (_, i) => `key-${i}`);
  const payload = randomBytes(o.recordBytes * 64);
  let outstanding = 0;
  let acked = 0;
  let failed = 0;
  let wake: (() => void) | undefined;
  const latency = new Samples();
  const start = performance.now();
  const measureFrom = start + o.warmupMs;
  const end = measureFrom + o.durationMs;
  const calls = new Samples();
  const mw = `time-${setting}-${aggregation}`;
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName !== 'PutRecordsCommand') return next(args);
      const t = performance.now();
      try {
        return await next(args);
      } finally {
        if (t >= measureFrom) calls.add(performance.now() - t);
      }
    },
    { step: 'initialize', name: mw },
  );
  let ackedAtStart = 0;
  let statsAtStart = producer.stats();
  let cpu: CpuSpan | undefined;
  let i = 0;
  const settle = (t0: number, ok: boolean) => {
    outstanding--;
    const now = performance.now();
    if (ok) {
      acked++;
      if (now >= measureFrom && now < end && (acked & 15) === 0) latency.add(now - t0);
    } else failed++;
    if (wake && outstanding < o.window / 2) {
      const w = wake;
      wake = undefined;
      w();
    }
  };
  for (;;) {
    const now = performance.now();
    if (!cpu && now >= measureFrom) {
      cpu = new CpuSpan(pids);
      ackedAtStart = acked;
      statsAtStart = producer.stats();
    }
    if (now >= end) break;
    // Refill in slices, yielding between them: the producer's timers (buffer time, rate limiter) run
    // on this event loop too, and a long synchronous refill would delay them.
    for (let n = 0; outstanding < o.window && n < 1000; n++) {
      const off = (i * 61) % (payload.length - o.recordBytes);
      const t0 = performance.now();
      outstanding++;
      producer.put({ partitionKey: keys[i++ % keys.length]!, data: payload.subarray(off, off + o.recordBytes) }).then(
        () => settle(t0, true),
        () => settle(t0, false),
      );
    }
    if (outstanding < o.window) {
      await new Promise<void>((r) => setImmediate(r));
      continue;
    }
    await new Promise<void>((r) => {
      wake = r;
      setTimeout(r, Math.max(1, end - performance.now())).unref();
    });
  }
  const secs = (performance.now() - measureFrom) / 1000;
  const cpuUse = cpu!.stop();
  const s = producer.stats();
  const count = acked - ackedAtStart;
  await producer.close();
  client.middlewareStack.remove(mw);
  const entries = s.entries - statsAtStart.entries;
  return {
    setting,
    aggregation,
    recordsPerSec: count / secs,
    mibPerSec: (count * o.recordBytes) / secs / 2 ** 20,
    requestsPerSec: (s.requests - statsAtStart.requests) / secs,
    entriesPerSec: entries / secs,
    recordsPerEntry: count / Math.max(1, entries),
    throttled: s.throttled - statsAtStart.throttled,
    retries: s.retries - statsAtStart.retries,
    failed,
    latencyMs: latency.summary(),
    callMs: calls.summary(),
    errors: s.errors,
    cpu: cpuUse,
  };
}

export async function runProducer(argv: string[]): Promise<void> {
  const o = options(argv);
  const startedAt = new Date();
  const log = (m: string) => process.stderr.write(`${m}\n`);
  const loadBefore = os.loadavg();
  log(`producer benchmark: ${o.recordBytes} B records, ${o.warmupMs / 1000} + ${o.durationMs / 1000} s per run; ${os.cpus().length} cores, load average ${loadAverage().toFixed(2)}`);
  const cluster = await startCluster(1);
  const dog = watchdog(cluster, 4 * (o.warmupMs + o.durationMs) + 120_000);
  const endpoint = cluster.runtimes[0]!.endpoint;
  const admin = new KinesisHttp(endpoint, { connections: 1 });
  const client = new KinesisClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'AKIDBENCH', secretAccessKey: 'bench' },
    requestHandler: new NodeHttpHandler({ httpAgent: { keepAlive: true, maxSockets: o.inFlight } }),
    maxAttempts: 1,
  });
  const rows: Row[] = [];
  const errors: string[] = [];
  try {
    for (const setting of o.settings) {
      for (const aggregation of [false, true]) {
        // A fresh stream per run: the runs do not share shard buckets or backlog.
        const stream = `bench-producer-${setting}-${aggregation ? 'agg' : 'plain'}`;
        await createStreamAndWait(admin, stream, o.shards, setting === 'limited' ? 'PROVISIONED' : 'ON_DEMAND');
        log(`  ${setting}, aggregation ${aggregation ? 'on' : 'off'} …`);
        const r = await runOne(client, stream, setting, aggregation, o, cluster.pids);
        rows.push(r);
        log(`    ${fmt(r.recordsPerSec)} rec/s, ${fmt(r.entriesPerSec)} entries/s; CPU cores: ${cpuLine(r.cpu)}`);
        await sleep(500);
      }
    }
  } catch (e) {
    errors.push(String((e as Error)?.stack ?? e));
  } finally {
    client.destroy();
    await admin.close().catch(() => undefined);
    await cluster.stop();
    clearTimeout(dog);
  }
  const loadAfter = os.loadavg();
  const plainOf = (setting: string) => rows.find((r) => r.setting === setting && !r.aggregation);
  const table = renderTable(
    ['setting', 'aggregation', 'records/s', '× plain', 'MiB/s', 'PutRecords/s', 'entries/s', 'rec/entry', 'throttled', 'retries', 'put p50 ms', 'put p99 ms', 'call p50 ms', 'call p99 ms', 'runtime CPU', 'loadgen CPU'],
    rows.map((r) => [
      r.setting,
      r.aggregation ? 'on' : 'off',
      r.recordsPerSec,
      r.aggregation && plainOf(r.setting) ? `${(r.recordsPerSec / plainOf(r.setting)!.recordsPerSec).toFixed(1)}×` : '',
      r.mibPerSec,
      r.requestsPerSec,
      r.entriesPerSec,
      r.recordsPerEntry,
      r.throttled,
      r.retries,
      r.latencyMs.p50,
      r.latencyMs.p99,
      r.callMs.p50,
      r.callMs.p99,
      r.cpu['runtime A'] ?? NaN,
      r.cpu.loadgen ?? NaN,
    ]),
  );
  console.log(
    [
      `Machine: ${os.cpus().length} cores; load average ${loadBefore[0]!.toFixed(2)} before, ${loadAfter[0]!.toFixed(2)} after`,
      `Producer (shardline/producer over @aws-sdk/client-kinesis) → one runtime child process; ${o.recordBytes} B records, ${o.keys} partition keys, ${fmt(o.window)} outstanding;`,
      `limited = PROVISIONED stream of ${o.shards} shards with the producer's per-shard rate limiter (1000 rec/s, 1 MiB/s a shard); unlimited = ON_DEMAND (4 shards), limiter off.`,
      `Latency = put() → promise resolved (includes the 100 ms max buffered time and any wait for the rate limiter).`,
      table,
      ...rows.filter((r) => Object.keys(r.errors).length > 0).map((r) => `${r.setting}/${r.aggregation ? 'agg' : 'plain'} failed entries by code: ${JSON.stringify(r.errors)}`),
      ...errors.map((e) => `ERROR: ${e}`),
    ].join('\n'),
  );
  const file = writeResults(
    'producer',
    rounded({
      benchmark: 'producer',
      startedAt: startedAt.toISOString(),
      finishedAt: new Date().toISOString(),
      machine: { ...machineInfo(NATS_SERVER), loadAverageBefore: loadBefore, loadAverageAfter: loadAfter },
      setup: o,
      rows,
      errors,
    }),
  );
  console.log(`results: ${file}`);
  if (errors.length > 0) process.exitCode = 1;
}
