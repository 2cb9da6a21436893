// The end-to-end phases of `npm run bench -- analytics`: Nexmark events as
// JSON records in a DataStream, each query run by a real `shardline analytics`
// process started with the Deployment's command line, its output read from a
// DataStream and checked against an oracle computed here from the generated
// events (bench/lib/nexmarkOracle.ts).
//
// - Drain: N events (persons, auctions, bids 1 : 3 : 46) are written first
//   through the runtime's PutRecords (4 shards, autoscaler in dry-run so it
//   stays 4); then one worker per query reads them from TRIM_HORIZON.
//   events/s = events / (last output record's arrival − worker spawned), so
//   start-up (process, modules, NATS, leases, DuckDB) is included and shown;
//   events/s per core = events / the worker's CPU seconds from /proc (also
//   without its start-up: the CPU up to its "reading inputs" line, logged
//   before it reads a record).
// - Latency: a fresh stream written at a steady rate while a worker runs the
//   ROWTIME tumbling query; per 1 s window, the arrival of its output rows
//   − the window's end, p50/p99 over windows.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AnalyticsAppSpec } from '../crds/schema/analyticsapp.js';
import { analyticsChildren } from '../operator/model/workers.js';
import { connectStore, type Store } from '../stream/connect.js';
import { getStream } from '../stream/streams.js';
import { readBatch, type Position } from '../stream/shardReader.js';
import { setAutoscaling } from '../stream/autoscaling.js';
import { KinesisHttp, createStreamAndWait } from './lib/kinesis.js';
import { Nexmark, nexmarkRecord, EVENT_TYPE, type Bid } from './lib/nexmark.js';
import { filtered, hotItems, highestBid, parseTs, passThrough, toOracleBid, tumblingByBidder, type Expectation, type OracleBid } from './lib/nexmarkOracle.js';
import { cpuSeconds, threadCpuSeconds } from './lib/procs.js';
import { REPO_ROOT } from './lib/results.js';
import { Samples } from './lib/stats.js';
import { sleep, startCluster, watchdog, type Cluster } from './lib/runs.js';

const log = (m: string) => process.stderr.write(`${m}\n`);
const SHARDS = 4;
const INPUT = 'SOURCE_SQL_STREAM_001';
const START_MS = Date.UTC(2026, 0, 1);

/** The input as an AnalyticsApp declares it: Nexmark's source row, bids' fields under `bid`. */
export const COLUMNS = [
  { name: 'EVENT_TYPE', sqlType: 'INTEGER', mapping: '$.event_type' },
  { name: 'DATETIME', sqlType: 'TIMESTAMP', mapping: '$.dateTime' },
  { name: 'AUCTION', sqlType: 'BIGINT', mapping: '$.bid.auction' },
  { name: 'BIDDER', sqlType: 'BIGINT', mapping: '$.bid.bidder' },
  { name: 'PRICE', sqlType: 'DOUBLE', mapping: '$.bid.price' },
  { name: 'CHANNEL', sqlType: 'VARCHAR(16)', mapping: '$.bid.channel' },
  { name: 'URL', sqlType: 'VARCHAR(128)', mapping: '$.bid.url' },
  { name: 'EXTRA', sqlType: 'VARCHAR(64)', mapping: '$.bid.extra' },
];

const BIDS = `FROM "${INPUT}" WHERE EVENT_TYPE = ${EVENT_TYPE.bid}`;
const OUT = (cols: string) => `CREATE OR REPLACE STREAM "OUT" (${cols});\n`;
/** The tumbling COUNT/SUM by bidder over ROWTIME windows of `seconds`. */
const tumbleSql = (seconds: number) => OUT('WS TIMESTAMP, BIDDER BIGINT, N BIGINT, TOTAL DOUBLE') +
  `CREATE OR REPLACE PUMP "P" AS INSERT INTO "OUT" SELECT STREAM STEP("${INPUT}".ROWTIME BY INTERVAL '${seconds}' SECOND), BIDDER, COUNT(*), SUM(PRICE) ${BIDS} GROUP BY BIDDER, STEP("${INPUT}".ROWTIME BY INTERVAL '${seconds}' SECOND);`;
const TUMBLE_SQL = tumbleSql(1);

export interface E2eQuery {
  sql: string;
  /** Bidder keys of the input (0: Nexmark's own bidders). */
  keys: number;
  /** Windows on the event-time column: the input declares its watermark (DATETIME, 1 s lateness). */
  eventTime?: boolean;
  /** Keep the output rows (parsed) for the oracle; otherwise only counted. */
  keepRows: boolean;
  oracle(bids: OracleBid[]): Expectation;
}

/** The engine phase's queries over the whole Nexmark stream: bids picked by event_type, as Nexmark's bid view does. */
export const E2E_QUERIES: Record<string, E2eQuery> = {
  q0: { keys: 0, keepRows: false, oracle: passThrough, sql: OUT('AUCTION BIGINT, BIDDER BIGINT, PRICE DOUBLE, CHANNEL VARCHAR(16), URL VARCHAR(128), DATETIME TIMESTAMP, EXTRA VARCHAR(64)') +
    `CREATE OR REPLACE PUMP "P" AS INSERT INTO "OUT" SELECT STREAM AUCTION, BIDDER, PRICE, CHANNEL, URL, DATETIME, EXTRA ${BIDS};` },
  q1: { keys: 0, keepRows: false, oracle: passThrough, sql: OUT('AUCTION BIGINT, BIDDER BIGINT, PRICE DOUBLE, DATETIME TIMESTAMP') +
    `CREATE OR REPLACE PUMP "P" AS INSERT INTO "OUT" SELECT STREAM AUCTION, BIDDER, 0.908 * PRICE, DATETIME ${BIDS};` },
  q2: { keys: 0, keepRows: false, oracle: filtered, sql: OUT('AUCTION BIGINT, PRICE DOUBLE') +
    `CREATE OR REPLACE PUMP "P" AS INSERT INTO "OUT" SELECT STREAM AUCTION, PRICE ${BIDS} AND AUCTION % 123 = 0;` },
  q5: { keys: 0, eventTime: true, keepRows: true, oracle: (b) => hotItems(b), sql: OUT('WS TIMESTAMP, WE TIMESTAMP, AUCTION BIGINT, NUM BIGINT') +
    `CREATE OR REPLACE PUMP "P" AS INSERT INTO "OUT"
  SELECT window_start, window_end, AUCTION, COUNT(*) AS NUM
  FROM TABLE(HOP(TABLE "${INPUT}", DESCRIPTOR(DATETIME), INTERVAL '2' SECOND, INTERVAL '10' SECOND))
  WHERE EVENT_TYPE = ${EVENT_TYPE.bid}
  GROUP BY window_start, window_end, AUCTION
  QUALIFY NUM = max(NUM) OVER (PARTITION BY window_start, window_end);` },
  q7: { keys: 0, eventTime: true, keepRows: true, oracle: (b) => highestBid(b), sql: OUT('WS TIMESTAMP, WE TIMESTAMP, AUCTION BIGINT, PRICE DOUBLE, BIDDER BIGINT') +
    `CREATE OR REPLACE PUMP "P" AS INSERT INTO "OUT"
  SELECT window_start, window_end, AUCTION, PRICE, BIDDER
  FROM TABLE(TUMBLE(TABLE "${INPUT}", DESCRIPTOR(DATETIME), INTERVAL '10' SECOND))
  WHERE EVENT_TYPE = ${EVENT_TYPE.bid}
  QUALIFY PRICE = max(PRICE) OVER (PARTITION BY window_start, window_end);` },
  'tumble-1k': { keys: 1000, keepRows: true, oracle: tumblingByBidder, sql: TUMBLE_SQL },
  'tumble-100k': { keys: 100_000, keepRows: true, oracle: tumblingByBidder, sql: TUMBLE_SQL },
};

export interface E2eOptions {
  events: number;
  rate: number;
  queries: string[];
  latency: boolean;
  latencyRate: number;
  latencyDurationS: number;
  latencyWarmupS: number;
  /** Window of the tumbling queries (tumble-1k, tumble-100k; the latency run keeps 1 s). */
  tumbleSeconds: number;
  profile?: string;
  /**
   * Another built checkout (its dist/): each query's worker also runs from it, alternating with this
   * build's, over the same written input. A 1 s ROWTIME window holds what arrived in 1 s of the input's
   * writing, so inputs written at other speeds give other figures: builds are compared on one input.
   */
  compare?: string;
  /** Workers per query and build (default 1). */
  rounds?: number;
}

export interface E2eRow {
  query: string;
  /** The checkout whose worker ran ('' this one; else --compare's directory). */
  build: string;
  events: number;
  bids: number;
  rowsOut: number;
  oracle: string;
  startupS: number;
  seconds: number;
  eventsPerSec: number;
  workerCpuS: number;
  startupCpuS: number;
  eventsPerCore: number;
  eventsPerCoreAfterStartup: number;
  loadAtStart: number;
  loadAtEnd: number;
  complete: boolean;
  /** Rows the worker wrote to error_stream (none expected). */
  errorRows: number;
  /** The worker's CPU seconds by thread name at the end (main, V8 helpers, libuv pool, …). */
  threadCpuS: Record<string, number>;
}

export interface LatencyResult {
  rate: number;
  sentPerSec: number;
  durationS: number;
  events: number;
  bids: number;
  windows: number;
  sumN: number;
  arrival: { p50: number; p99: number; max: number };
  seen: { p50: number; p99: number; max: number };
  workerCores: number;
  loadAtStart: number;
  loadAtEnd: number;
  /** From the last write until every bid was counted in an emitted window (or 60 s). */
  lastWindowS: number;
  /** Bids in error_stream as LATE_ROW (arrived after their window closed), and error rows by name. */
  lateBids: number;
  errors: Record<string, number>;
}

/** A generated input: the stream holding it and the bids the oracle reads. */
interface Input { stream: string; events: number; bids: OracleBid[]; ceiling?: Ceiling }

/**
 * What any worker must do per event, measured in this process: read the input with the one shard reader, then also
 * JSON.parse each record; and the partial workers' own input path: packed reads, then also ColumnDecoder into the
 * columns the tumbling queries read.
 */
export interface Ceiling { stream: string; events: number; readPerCore: number; readParsePerCore: number; packedPerCore: number; packedDecodePerCore: number }

/**
 * The ceiling for a worker's events/s per core over `stream`, measured in a
 * process of its own (bench/ceilingChild.ts), as a worker runs in its own:
 * measured in this process it paid for marking the oracle's bids (millions
 * of objects) at every major GC, and read slower than the worker it bounds.
 */
async function ceilingOf(natsUrl: string, stream: string): Promise<Ceiling> {
  const child = spawn(process.execPath, [path.join(REPO_ROOT, 'dist/bench/ceilingChild.js'), natsUrl, stream], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  if (code !== 0) throw new Error(`ceiling over ${stream}: exit ${code}: ${err.slice(-2000)}`);
  return JSON.parse(out) as Ceiling;
}

/** One PutRecords of pre-serialised records, retried until every entry is stored. */
async function putAll(k: KinesisHttp, stream: string, recs: { partitionKey: string; json: string; hashKey?: string }[]): Promise<void> {
  let pending = recs;
  for (let attempt = 0; pending.length; attempt++) {
    const body = JSON.stringify({ StreamName: stream, Records: pending.map((r) => ({ PartitionKey: r.partitionKey, Data: Buffer.from(r.json).toString('base64'), ...(r.hashKey ? { ExplicitHashKey: r.hashKey } : {}) })) });
    const r = await k.call('PutRecords', body);
    if (r.status === 200) {
      const out = JSON.parse(r.text) as { Records: { ErrorCode?: string }[] };
      pending = pending.filter((_, i) => out.Records[i]!.ErrorCode);
    }
    if (pending.length) {
      if (attempt > 50) throw new Error(`PutRecords to ${stream}: ${r.status} ${r.text.slice(0, 300)}`);
      await sleep(50);
    }
  }
}

/** A 4-shard stream that stays 4 shards: ON_DEMAND (no per-shard limits), autoscaler in dry-run. */
async function fourShards(k: KinesisHttp, store: Store, name: string): Promise<void> {
  await createStreamAndWait(k, name, SHARDS, 'ON_DEMAND');
  await setAutoscaling(store, name, { dryRun: true });
}

/** One record at `t` on every shard (ExplicitHashKey in each quarter): a person event that moves every shard's event time on. */
function closers(t: number): { partitionKey: string; json: string; hashKey: string }[] {
  return Array.from({ length: SHARDS }, (_, i) => ({
    partitionKey: `closer-${i}`,
    hashKey: ((2n ** 128n / BigInt(SHARDS)) * BigInt(i) + 1n).toString(),
    json: JSON.stringify({ event_type: EVENT_TYPE.person, dateTime: new Date(t).toISOString(), person: { id: 1, name: 'closer', emailAddress: '', creditCard: '', city: '', state: '', dateTime: new Date(t).toISOString(), extra: '' } }),
  }));
}

/**
 * Generates `events` Nexmark events and writes them (PutRecords of 500, 8 in
 * flight), then one closing event per shard 30 s of event time later, so
 * event-time windows of the real events all close (it is not a bid: no query
 * counts it).
 */
async function writeInput(k: KinesisHttp, store: Store, name: string, events: number, rate: number, keys: number): Promise<Input> {
  await fourShards(k, store, name);
  const gen = new Nexmark(42, START_MS, rate, keys);
  const bids: OracleBid[] = [];
  let made = 0;
  const next = () => {
    const batch: { partitionKey: string; json: string }[] = [];
    while (batch.length < 500 && made < events) {
      const e = gen.next();
      made++;
      if (e.type === 'bid') bids.push(toOracleBid(e.bid as Bid));
      batch.push(nexmarkRecord(e));
    }
    return batch;
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: 8 }, async () => {
    for (let b = next(); b.length; b = next()) await putAll(k, name, b);
  }));
  await putAll(k, name, closers(gen.timeMs + 30_000));
  log(`input ${name}: ${events.toLocaleString('en-US')} events (${bids.length.toLocaleString('en-US')} bids, keys ${keys || 'Nexmark'}) written in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return { stream: name, events, bids };
}

/** The Deployment an AnalyticsApp gives (operator model): its command line, environment and config file. */
function deploymentOf(app: string, q: E2eQuery, input: string, output: string, errors: string, natsUrl: string, dir: string): { args: string[]; env: Record<string, string>; configFile: string } {
  const spec = AnalyticsAppSpec.parse({
    inputs: [{ name: INPUT, dataStreamRef: { name: input }, startingPosition: 'TRIM_HORIZON', columns: COLUMNS }],
    sql: q.sql,
    outputs: [{ name: 'OUT', dataStreamRef: { name: output }, format: 'JSON' }, { name: 'error_stream', dataStreamRef: { name: errors }, format: 'JSON' }],
    replicas: 1,
  });
  const resource = { apiVersion: 'shardline.dev/v1alpha1', kind: 'AnalyticsApp', metadata: { name: app, namespace: 'bench', uid: app, generation: 1 }, spec } as const;
  const streams = new Map([input, output, errors].map((s) => [s, { name: s, streamName: s, endpoint: '' }]));
  const kids = analyticsChildren(resource as never, spec, streams, { image: 'shardline:bench', natsUrl, pdbApiVersion: 'policy/v1', sharedEndpoint: '' } as never);
  const container = (kids.deployment as any).spec.template.spec.containers[0];
  const mount: string = container.volumeMounts.find((m: { name: string }) => m.name === 'config').mountPath;
  const config = JSON.parse((kids.configMap as any).data['config.json']);
  // The resource has no event-time field yet; the worker's config (contract/analytics.ts InputDef.watermark) has, as the event-time tests use it.
  if (q.eventTime) config.application.inputs[0].watermark = { column: 'DATETIME', delaySeconds: 1 };
  const configFile = path.join(dir, 'config.json');
  fs.writeFileSync(configFile, JSON.stringify(config));
  const args = (container.args as string[]).map((a) => a.replace(mount, dir));
  const env = Object.fromEntries((container.env as { name: string; value?: string }[]).filter((e) => e.value !== undefined).map((e) => [e.name, e.value!]));
  return { args, env, configFile };
}

interface Worker { proc: ChildProcess; spawnedMs: number; readingMs?: number; readingCpu?: number; logs(): string }

function startWorker(d: ReturnType<typeof deploymentOf>, profile: string | undefined, name: string, root = REPO_ROOT): Worker {
  const prof = profile ? ['--cpu-prof', '--cpu-prof-dir', profile, '--cpu-prof-name', `analytics-${name}-${Date.now()}.cpuprofile`] : [];
  const spawnedMs = Date.now();
  const proc = spawn(process.execPath, [...prof, path.join(root, 'dist/runtime/cli.js'), ...d.args], { env: { ...process.env, ...d.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const w: Worker = { proc, spawnedMs, logs: () => out };
  const onData = (b: Buffer) => {
    out = (out + b).slice(-20_000);
    // Start-up ends where the worker starts reading (main.ts logs it before any consumer starts; the
    // "running" line comes after the partial workers have begun, and took their first batches' CPU with it).
    if (w.readingMs === undefined && /"reading inputs: /.test(out)) {
      w.readingMs = Date.now();
      w.readingCpu = cpuSeconds(proc.pid);
    }
  };
  proc.stdout!.on('data', onData);
  proc.stderr!.on('data', onData);
  return w;
}

const stopWorker = (w: Worker) => new Promise<void>((resolve) => {
  if (w.proc.exitCode !== null || w.proc.signalCode !== null) return resolve();
  const t = setTimeout(() => w.proc.kill('SIGKILL'), 15_000);
  w.proc.once('exit', () => { clearTimeout(t); resolve(); });
  w.proc.kill('SIGTERM');
});

/** Reads an output stream (one shard) from where the last call stopped. */
class OutputReader {
  rows: Record<string, unknown>[] = [];
  count = 0;
  lastArrivalMs = 0;
  private pos: Position = { jsSeq: 0, index: 0 };
  constructor(private readonly store: Store, private readonly stream: string, private readonly keep: boolean, private readonly onRow?: (row: Record<string, unknown>, arrivalMs: number, seenMs: number) => void) {}

  async poll(): Promise<number> {
    const rec = (await getStream(this.store, this.stream))!;
    let n = 0;
    for (;;) {
      const b = await readBatch(this.store, rec, rec.shards[0]!.shardId, this.pos, { limit: 10_000, maxBytes: 16 * 1024 * 1024 });
      this.pos = b.next;
      if (!b.records.length) return n;
      const seen = Date.now();
      for (const r of b.records) {
        if (r.arrivalMs > this.lastArrivalMs) this.lastArrivalMs = r.arrivalMs;
        if (this.keep || this.onRow) {
          const row = JSON.parse(r.data.toString('utf8')) as Record<string, unknown>;
          if (this.keep) this.rows.push(row);
          this.onRow?.(row, r.arrivalMs, seen);
        }
      }
      this.count += b.records.length;
      n += b.records.length;
    }
  }
}

/** error_stream rows by ERROR_NAME, and the bids among LATE_ROW ones (DATA_ROW is the row's values; EVENT_TYPE first). */
function errorSummary(rows: Record<string, unknown>[]): { byName: Record<string, number>; lateBids: number; text: string } {
  const byName: Record<string, number> = {};
  let lateBids = 0;
  for (const r of rows) {
    const n = String(r.ERROR_NAME);
    byName[n] = (byName[n] ?? 0) + 1;
    if (n === 'LATE_ROW' && (JSON.parse(String(r.DATA_ROW)) as unknown[])[0] === EVENT_TYPE.bid) lateBids++;
  }
  const text = rows.length ? `error_stream: ${Object.entries(byName).map(([k, v]) => `${v} ${k}`).join(', ')} (${lateBids} late bids)` : '';
  return { byName, lateBids, text };
}

/**
 * Runs one query over its input until the output is complete by the oracle (or `timeoutMs`), then stops the
 * worker. `run`: the worker's checkout (`root`, `build` its label) and a tag making its streams its own.
 */
async function drainQuery(k: KinesisHttp, store: Store, cluster: Cluster, name: string, q: E2eQuery, input: Input, profile: string | undefined, timeoutMs: number, run = { root: REPO_ROOT, build: '', tag: '' }): Promise<E2eRow> {
  const id = `${name}${run.tag}`;
  const output = `out-${id}`;
  await createStreamAndWait(k, output, 1, 'PROVISIONED');
  await createStreamAndWait(k, `err-${id}`, 1, 'PROVISIONED');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-analytics-'));
  const d = deploymentOf(`nexmark-${id}`, q, input.stream, output, `err-${id}`, cluster.nats.url, dir);
  const expect = q.oracle(input.bids);
  const reader = new OutputReader(store, output, q.keepRows);
  const errorRows = new OutputReader(store, `err-${id}`, true);
  const loadAtStart = os.loadavg()[0]!;
  const w = startWorker(d, profile, id, run.root);
  let complete = false;
  let cpuAtEnd = NaN;
  let threadCpuS: Record<string, number> = {};
  try {
    const until = Date.now() + timeoutMs;
    let lastLog = Date.now();
    while (Date.now() < until) {
      if (w.proc.exitCode !== null) throw new Error(`worker exited (${w.proc.exitCode}): ${w.logs().slice(-3000)}`);
      await sleep(250);
      await reader.poll();
      if (expect.complete(q.keepRows ? reader.rows : reader.count)) {
        complete = true;
        break;
      }
      if (Date.now() - lastLog > 5000) {
        lastLog = Date.now();
        log(`  ${name}: ${reader.count.toLocaleString('en-US')} output rows${expect.rows !== undefined ? ` of ${expect.rows.toLocaleString('en-US')}` : ''}`);
      }
    }
    cpuAtEnd = cpuSeconds(w.proc.pid);
    threadCpuS = threadCpuSeconds(w.proc.pid);
    if (!complete) log(`  ${name}: incomplete; the worker's last log lines:\n${w.logs().slice(-4000)}`);
    // Anything the worker emits after the oracle's count (duplicates) shows in the check.
    await sleep(500);
    await reader.poll();
    await errorRows.poll();
  } finally {
    await stopWorker(w);
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const got = q.keepRows ? reader.rows : reader.count;
  const errs = errorSummary(errorRows.rows);
  const problems = [complete ? expect.check(got) : `incomplete after ${timeoutMs / 1000} s: ${reader.count} rows; ${expect.check(got)}`, errs.text].filter(Boolean).join('; ');
  const seconds = (reader.lastArrivalMs - w.spawnedMs) / 1000;
  const startupCpuS = w.readingCpu ?? NaN;
  const startupS = w.readingMs !== undefined ? (w.readingMs - w.spawnedMs) / 1000 : NaN;
  return {
    query: name, build: run.build, events: input.events, bids: input.bids.length, rowsOut: reader.count, oracle: problems || 'ok', complete, errorRows: errorRows.count,
    startupS, seconds, eventsPerSec: input.events / seconds, workerCpuS: cpuAtEnd, startupCpuS,
    eventsPerCore: input.events / cpuAtEnd, eventsPerCoreAfterStartup: input.events / (cpuAtEnd - startupCpuS),
    loadAtStart, loadAtEnd: os.loadavg()[0]!, threadCpuS,
  };
}

/**
 * Window-close latency over ROWTIME: the worker runs the tumbling 1k-key query
 * from a fresh stream; events are written at `rate` for `durationS`; each
 * output row's window end is its WS + 1 s; per window, the latest arrival
 * (ApproximateArrivalTimestamp) and the latest time this process read one of
 * its rows, each − the window end.
 */
async function latencyRun(k: KinesisHttp, store: Store, cluster: Cluster, o: E2eOptions): Promise<LatencyResult> {
  const q = E2E_QUERIES['tumble-1k']!;
  await fourShards(k, store, 'nexmark-live');
  await createStreamAndWait(k, 'out-latency', 1, 'PROVISIONED');
  await createStreamAndWait(k, 'err-latency', 1, 'PROVISIONED');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-analytics-'));
  const d = deploymentOf('nexmark-latency', q, 'nexmark-live', 'out-latency', 'err-latency', cluster.nats.url, dir);
  const errorRows = new OutputReader(store, 'err-latency', true);
  const windows = new Map<number, { arrival: number; seen: number; n: number }>();
  const reader = new OutputReader(store, 'out-latency', false, (row, arrivalMs, seenMs) => {
    const ws = parseTs(String(row.WS));
    const w = windows.get(ws) ?? { arrival: 0, seen: 0, n: 0 };
    w.arrival = Math.max(w.arrival, arrivalMs);
    w.seen = Math.max(w.seen, seenMs);
    w.n += Number(row.N);
    windows.set(ws, w);
  });
  const w = startWorker(d, o.profile, 'latency');
  try {
    for (let i = 0; i < 600 && w.readingMs === undefined; i++) {
      if (w.proc.exitCode !== null) throw new Error(`worker exited (${w.proc.exitCode}): ${w.logs().slice(-3000)}`);
      await sleep(100);
    }
    // Its shard leases are taken right after "reading inputs": a moment more, so the first writes are read live.
    await sleep(2000);
    const loadAtStart = os.loadavg()[0]!;
    const gen = new Nexmark(7, Date.now(), o.latencyRate, 1000);
    const total = Math.round(o.latencyRate * o.latencyDurationS);
    let bids = 0;
    let sent = 0;
    let polling = true;
    const poller = (async () => {
      while (polling) {
        await reader.poll();
        await errorRows.poll();
        await sleep(50);
      }
    })();
    const cpu0 = cpuSeconds(w.proc.pid);
    const t0 = Date.now();
    const inFlight: Promise<void>[] = [];
    while (sent < total) {
      const due = Math.min(total, Math.floor(((Date.now() - t0) * o.latencyRate) / 1000));
      while (sent < due) {
        const batch: { partitionKey: string; json: string }[] = [];
        while (batch.length < 500 && sent < due) {
          const e = gen.next();
          if (e.type === 'bid') bids++;
          batch.push(nexmarkRecord(e));
          sent++;
        }
        inFlight.push(putAll(k, 'nexmark-live', batch));
      }
      if (inFlight.length > 64) await Promise.all(inFlight.splice(0));
      await sleep(10);
    }
    await Promise.all(inFlight);
    const sendS = (Date.now() - t0) / 1000;
    // The last windows close once the idle watermark passes them (a worker's idleWatermarkLagMs after the clock).
    const sentAt = Date.now();
    const until = sentAt + 60_000;
    const sumN = () => [...windows.values()].reduce((a, x) => a + x.n, 0);
    // Late rows (error_stream LATE_ROW) are in no window: they count as done too.
    while (sumN() + errorSummary(errorRows.rows).lateBids < bids && Date.now() < until) await sleep(100);
    const lastWindowS = (Date.now() - sentAt) / 1000;
    polling = false;
    await poller;
    const errs = errorSummary(errorRows.rows);
    const cores = (cpuSeconds(w.proc.pid) - cpu0) / ((Date.now() - t0) / 1000);
    const arrival = new Samples();
    const seen = new Samples();
    const from = t0 + o.latencyWarmupS * 1000;
    for (const [ws, x] of windows) {
      if (ws < from) continue;
      arrival.add(x.arrival - (ws + 1000));
      seen.add(x.seen - (ws + 1000));
    }
    const a = arrival.summary();
    const s = seen.summary();
    return {
      rate: o.latencyRate, sentPerSec: sent / sendS, durationS: o.latencyDurationS, events: sent, bids, windows: a.count, sumN: sumN(),
      arrival: { p50: a.p50, p99: a.p99, max: a.max }, seen: { p50: s.p50, p99: s.p99, max: s.max }, workerCores: cores,
      loadAtStart, loadAtEnd: os.loadavg()[0]!, lastWindowS, lateBids: errs.lateBids, errors: errs.byName,
    };
  } finally {
    await stopWorker(w);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Both end-to-end phases on one nats-server and one runtime child. */
export async function runE2e(o: E2eOptions): Promise<{ rows: E2eRow[]; ceilings: Ceiling[]; latency?: LatencyResult; errors: string[] }> {
  const cluster = await startCluster(1);
  const dog = watchdog(cluster, 60 * 60_000);
  const store = await connectStore({ natsUrl: cluster.nats.url, name: 'bench-analytics' });
  const k = new KinesisHttp(cluster.runtimes[0]!.endpoint, { connections: 16 });
  if (o.profile) fs.mkdirSync(o.profile, { recursive: true });
  const rows: E2eRow[] = [];
  const ceilings: Ceiling[] = [];
  const errors: string[] = [];
  let latency: LatencyResult | undefined;
  try {
    const inputs = new Map<number, Input>();
    for (const [at, name] of o.queries.entries()) {
      const named = E2E_QUERIES[name];
      if (!named) throw new Error(`unknown query ${name}`);
      const q = named.sql === TUMBLE_SQL ? { ...named, sql: tumbleSql(o.tumbleSeconds) } : named;
      // An input's oracle bids (9.2M objects at the default size, in a heap of ~4 GB) go once no later query reads it, not at the end.
      const later = new Set(o.queries.slice(at).map((n) => E2E_QUERIES[n]?.keys));
      for (const keys of inputs.keys()) if (!later.has(keys)) inputs.delete(keys);
      let input = inputs.get(q.keys);
      if (!input) {
        inputs.set(q.keys, (input = await writeInput(k, store, `nexmark-${q.keys || 'bids'}`, o.events, o.rate, q.keys)));
        input.ceiling = { ...(await ceilingOf(cluster.nats.url, input.stream)), events: input.events };
        ceilings.push(input.ceiling);
        log(`  ceiling over ${input.stream}: read ${Math.round(input.ceiling.readPerCore).toLocaleString('en-US')} events/s per core, read + JSON.parse ${Math.round(input.ceiling.readParsePerCore).toLocaleString('en-US')}, packed read ${Math.round(input.ceiling.packedPerCore).toLocaleString('en-US')}, packed read + decode ${Math.round(input.ceiling.packedDecodePerCore).toLocaleString('en-US')}`);
      }
      log(`${name}: one \`shardline analytics\` worker over ${input.stream}`);
      // Each round runs this build's worker, then --compare's, over the same input.
      const builds = [{ root: REPO_ROOT, build: '' }, ...(o.compare ? [{ root: o.compare, build: o.compare }] : [])];
      const rounds = o.rounds ?? 1;
      for (let round = 0; round < rounds; round++) {
        for (const [b, build] of builds.entries()) {
          const run = { ...build, tag: rounds > 1 || builds.length > 1 ? `-${round}-${b}` : '' };
          const label = `${name}${build.build ? ` [${build.build}]` : ''}`;
          // A query that fails (its worker exits, say) is reported; the others still run.
          try {
            const row = await drainQuery(k, store, cluster, name, q, input, o.profile, Math.max(120_000, o.events / 5), run);
            if (row.oracle !== 'ok') errors.push(`${label}: ${row.oracle}`);
            log(`  ${label}: worker CPU by thread: ${Object.entries(row.threadCpuS).sort((a, b) => b[1] - a[1]).map(([t, s]) => `${t} ${s.toFixed(2)} s`).join(', ')}`);
            rows.push(row);
          } catch (e) {
            errors.push(`${label}: ${String((e as Error)?.message ?? e).slice(0, 4000)}`);
          }
        }
      }
    }
    if (o.latency) {
      latency = await latencyRun(k, store, cluster, o);
      if (latency.sumN + latency.lateBids !== latency.bids) errors.push(`latency run: the windows counted ${latency.sumN} bids and error_stream ${latency.lateBids} late ones, of ${latency.bids} written`);
    }
  } catch (e) {
    errors.push(String((e as Error)?.stack ?? e));
  } finally {
    await k.close().catch(() => undefined);
    await store.close().catch(() => undefined);
    await cluster.stop();
    clearTimeout(dog);
  }
  return { rows, ceilings, latency, errors };
}
