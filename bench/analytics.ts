// `npm run bench -- analytics`: Nexmark-style queries in two ways.
// - engine: the analytics engine (record mapping + the streaming layer +
//   DuckDB) on bids, in process: events/s per core (process CPU time) and
//   window-close latency (evaluation time of the watermark advance that
//   closes windows; a worker adds its watermark lag).
// - e2e, latency: persons, auctions and bids in a DataStream, each query run
//   by a real `shardline analytics` process into an output DataStream,
//   checked against an oracle (analyticsE2e.ts).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { NATS_SERVER } from '../test/harness/nats.js';
import { runE2e, type Ceiling, type E2eRow, type LatencyResult } from './analyticsE2e.js';
import { int, rounded } from './lib/runs.js';
import { fmt } from './lib/table.js';
import { Engine } from '../analytics/engine/engine.js';
import { RecordMapper } from '../analytics/mapping.js';
import { parseSqlType, type Value } from '../analytics/engine/types.js';
import { ColumnBatch, type NumberColumn } from '../analytics/engine/columnBatch.js';
import { ColumnDecoder } from '../analytics/columnDecoder.js';
import { decompose } from '../analytics/sql/decompose.js';
import { preAggregation } from '../analytics/worker/preAggregation.js';
import { Nexmark } from './lib/nexmark.js';
import { machineInfo, writeResults } from './lib/results.js';
import { renderTable } from './lib/table.js';

const USAGE = `usage: npm run bench -- analytics [flags]
  --events N     e2e: Nexmark events (all three kinds) per input (default 10000000)
  --engine-events N  engine: bid events per query (default 1000000)
  --rate N       simulated events per second of event time (default 100000)
  --batch N      records per engine batch (default 10000)
  --queries L    q0,q1,q2,q5,q7,tumble-1k,tumble-100k (default all)
  --phases L     engine,e2e,latency (default all three)
  --latency-rate N       events/s written during the latency run (default 20000)
  --latency-duration S   seconds of the latency run (default 15)
  --latency-warmup S     windows starting in the first S seconds are not counted (default 3)
  --tumble-seconds S     window of tumble-1k and tumble-100k, ROWTIME seconds (default 1; the latency run keeps 1)
  --profile DIR  write V8 CPU profiles of the e2e worker processes into DIR
  --compare DIR  e2e: each query's worker also runs from the built checkout DIR (its dist/), alternating
                 with this one's over the same written input (the figures move with how fast an input was written)
  --rounds N     e2e: workers per query and build (default 1)`;

const BID_COLUMNS = [
  { name: 'AUCTION', sqlType: 'BIGINT', mapping: '$.auction' },
  { name: 'BIDDER', sqlType: 'BIGINT', mapping: '$.bidder' },
  { name: 'PRICE', sqlType: 'DOUBLE', mapping: '$.price' },
  { name: 'CHANNEL', sqlType: 'VARCHAR(16)', mapping: '$.channel' },
  { name: 'URL', sqlType: 'VARCHAR(128)', mapping: '$.url' },
  { name: 'DATETIME', sqlType: 'TIMESTAMP', mapping: '$.dateTime' },
  { name: 'EXTRA', sqlType: 'VARCHAR(64)', mapping: '$.extra' },
];

const OUT = (cols: string) => `CREATE OR REPLACE STREAM "OUT" (${cols});\n`;
const tumbleSql = (seconds: number) => OUT('WS TIMESTAMP, BIDDER BIGINT, N BIGINT, TOTAL DOUBLE') +
  `CREATE OR REPLACE PUMP "P" AS INSERT INTO "OUT" SELECT STREAM STEP("BID".ROWTIME BY INTERVAL '${seconds}' SECOND), BIDDER, COUNT(*), SUM(PRICE) FROM "BID" GROUP BY BIDDER, STEP("BID".ROWTIME BY INTERVAL '${seconds}' SECOND);`;
const TUMBLE_SQL = tumbleSql(1);
const QUERIES: Record<string, { sql: string; keys?: number; anchor?: number }> = {
  q0: { anchor: 155_000, sql: OUT('AUCTION BIGINT, BIDDER BIGINT, PRICE DOUBLE, CHANNEL VARCHAR(16), URL VARCHAR(128), DATETIME TIMESTAMP, EXTRA VARCHAR(64)') +
    'CREATE OR REPLACE PUMP "P" AS INSERT INTO "OUT" SELECT STREAM * FROM "BID";' },
  q1: { anchor: 158_000, sql: OUT('AUCTION BIGINT, BIDDER BIGINT, PRICE DOUBLE, DATETIME TIMESTAMP') +
    'CREATE OR REPLACE PUMP "P" AS INSERT INTO "OUT" SELECT STREAM AUCTION, BIDDER, 0.908 * PRICE, DATETIME FROM "BID";' },
  q2: { anchor: 175_000, sql: OUT('AUCTION BIGINT, PRICE DOUBLE') +
    'CREATE OR REPLACE PUMP "P" AS INSERT INTO "OUT" SELECT STREAM AUCTION, PRICE FROM "BID" WHERE AUCTION % 123 = 0;' },
  q5: { anchor: 22_000, sql: OUT('WS TIMESTAMP, WE TIMESTAMP, AUCTION BIGINT, NUM BIGINT') +
    `CREATE OR REPLACE PUMP "P" AS INSERT INTO "OUT"
  SELECT window_start, window_end, AUCTION, COUNT(*) AS NUM
  FROM TABLE(HOP(TABLE "BID", DESCRIPTOR(DATETIME), INTERVAL '2' SECOND, INTERVAL '10' SECOND))
  GROUP BY window_start, window_end, AUCTION
  QUALIFY NUM = max(NUM) OVER (PARTITION BY window_start, window_end);` },
  q7: { anchor: 12_300, sql: OUT('WS TIMESTAMP, WE TIMESTAMP, AUCTION BIGINT, PRICE DOUBLE, BIDDER BIGINT') +
    `CREATE OR REPLACE PUMP "P" AS INSERT INTO "OUT"
  SELECT window_start, window_end, AUCTION, PRICE, BIDDER
  FROM TABLE(TUMBLE(TABLE "BID", DESCRIPTOR(DATETIME), INTERVAL '10' SECOND))
  QUALIFY PRICE = max(PRICE) OVER (PARTITION BY window_start, window_end);` },
  // As the e2e phase runs them: the window selected too, so the pump is in two-phase aggregation's simple form.
  'tumble-1k': { keys: 1000, sql: TUMBLE_SQL },
  'tumble-100k': { keys: 100_000, sql: TUMBLE_SQL },
};

/** Flag --`name`'s whole number, 1 or more (`dflt` when not given). */
function wholeFlag(name: string, raw: string | undefined, dflt: number): number {
  const n = Number(raw ?? dflt);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name}: a whole number, 1 or more (got ${raw})`);
  return n;
}

export async function runAnalyticsBench(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: {
    events: { type: 'string' }, 'engine-events': { type: 'string' }, rate: { type: 'string' }, batch: { type: 'string' }, queries: { type: 'string' }, phases: { type: 'string' },
    'latency-rate': { type: 'string' }, 'latency-duration': { type: 'string' }, 'latency-warmup': { type: 'string' }, 'tumble-seconds': { type: 'string' }, profile: { type: 'string' },
    compare: { type: 'string' }, rounds: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  } });
  if (values.help) { console.log(USAGE); return; }
  // A worker's first million events carry V8's warm-up (at 100k keys about a third of its CPU compiles
  // code), which a throughput per core is not about: Nexmark's own suite runs 100M events a query.
  const events = wholeFlag('events', values.events, 10_000_000);
  const engineEvents = wholeFlag('engine-events', values['engine-events'], 1_000_000);
  const rate = Number(values.rate ?? 100_000);
  const tumbleSeconds = wholeFlag('tumble-seconds', values['tumble-seconds'], 1);
  const rounds = wholeFlag('rounds', values.rounds, 1);
  const compare = values.compare ? path.resolve(values.compare) : undefined;
  if (compare && !fs.existsSync(path.join(compare, 'dist/runtime/cli.js'))) throw new Error(`--compare ${compare}: no dist/runtime/cli.js there (build that checkout first)`);
  const batch = Number(values.batch ?? 10_000);
  const names = (values.queries ?? Object.keys(QUERIES).join(',')).split(',');
  const phases = new Set((values.phases ?? 'engine,e2e,latency').split(','));
  const startedAt = new Date().toISOString();
  const load0 = os.loadavg()[0]!;
  const rows: Record<string, unknown>[] = [];
  for (const name of phases.has('engine') ? names : []) {
    const named = QUERIES[name];
    if (!named) throw new Error(`unknown query ${name}`);
    const q = named.sql === TUMBLE_SQL ? { ...named, sql: tumbleSql(tumbleSeconds) } : named;
    const mapper = new RecordMapper({ type: 'JSON', rowPath: '$' }, BID_COLUMNS);
    const gen = new Nexmark(42, Date.UTC(2026, 0, 1), rate, q.keys ?? 0);
    // The records are generated before the clock starts: the figure is mapping + engine, not the generator.
    const batches: { recs: Buffer[]; lastT: number }[] = [];
    for (let bids = 0; bids < engineEvents;) {
      const recs: Buffer[] = [];
      let lastT = 0;
      while (recs.length < batch && bids < engineEvents) {
        const e = gen.next();
        if (e.type !== 'bid') continue; // persons and auctions are not read by these queries
        recs.push(Buffer.from(JSON.stringify(e.bid)));
        lastT = gen.timeMs;
        bids++;
      }
      batches.push({ recs, lastT });
    }
    const inputs = [{ name: 'BID', columns: BID_COLUMNS, watermark: { column: 'DATETIME', delayMs: 0 } }];
    rows.push(await measureEngine(name, await Engine.compile({ code: q.sql, inputs }), ['OUT'], mapper, batches, name, q.anchor));
    // The tumbling queries as a shard worker runs them (two-phase aggregation): the partial pump,
    // its results folded batch by batch (preAggregate), one row per window and key out.
    const d = q.keys ? decompose(q.sql, ['BID'], ['OUT']) : undefined;
    if (d?.decomposable) {
      const preAggregate = Object.fromEntries(d.pumps.flatMap((p) => { const pre = preAggregation(p); return pre ? [[p.name, pre]] : []; }));
      rows.push(await measureShardEngine(`${name} (shard engine)`, await Engine.compile({ code: d.partialCode, inputs, preAggregate }), d.pumps.map((p) => p.partialStream), batches));
    }
  }
  const out: string[] = [];
  if (rows.length) {
    const headers = Object.keys(rows[0]!);
    out.push(`Engine, in process (${int(engineEvents)} bids a query; load average ${load0.toFixed(2)} at start, ${os.loadavg()[0]!.toFixed(2)} at end):`);
    out.push(renderTable(headers, rows.map((r) => headers.map((h) => r[h] as string | number))));
  }
  let e2e: { rows: E2eRow[]; ceilings: Ceiling[]; latency?: LatencyResult; errors: string[] } = { rows: [], ceilings: [], errors: [] };
  if (phases.has('e2e') || phases.has('latency')) {
    e2e = await runE2e({
      events, rate, queries: phases.has('e2e') ? names : [], latency: phases.has('latency'),
      latencyRate: Number(values['latency-rate'] ?? 20_000), latencyDurationS: Number(values['latency-duration'] ?? 15), latencyWarmupS: Number(values['latency-warmup'] ?? 3), tumbleSeconds,
      profile: values.profile ? path.resolve(values.profile) : undefined,
      compare, rounds,
    });
    out.push(...e2eTables(e2e.rows, e2e.ceilings, e2e.latency, rows));
    if (names.some((n) => n.startsWith('tumble-'))) out.push(`tumble-1k and tumble-100k: COUNT(*), SUM(PRICE) by BIDDER per ${tumbleSeconds} s ROWTIME window (STEP), so a window holds the bids that arrived in ${tumbleSeconds} s of the input's writing`);
  }
  out.push(`Machine: ${os.cpus().length} cores, shared; load average ${load0.toFixed(2)} at start, ${os.loadavg()[0]!.toFixed(2)} at end`);
  const table = out.join('\n\n');
  console.log(table);
  const file = writeResults('analytics', rounded({ benchmark: 'analytics', startedAt, finishedAt: new Date().toISOString(), machine: machineInfo(NATS_SERVER), events, engineEvents, rate, batch, tumbleSeconds, phases: [...phases], engine: rows, e2e: e2e.rows, ceilings: e2e.ceilings, latency: e2e.latency, errors: e2e.errors, table }));
  console.log(`results: ${path.relative(process.cwd(), file)}`);
  if (e2e.errors.length) {
    console.error(`\n${e2e.errors.length} error(s):\n${e2e.errors.join('\n')}`);
    process.exitCode = 1;
  }
}

/**
 * One engine over the batches (mapping + engine, by this process's CPU time), counting the rows it
 * emits into `outStreams`; close latency is the evaluation time of a watermark advance that emitted
 * rows (windowed queries only).
 */
async function measureEngine(label: string, engine: Engine, outStreams: string[], mapper: RecordMapper, batches: { recs: Buffer[]; lastT: number }[], name: string, anchor?: number): Promise<Record<string, unknown>> {
  let bids = 0;
  let out = 0;
  const closes: number[] = [];
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (const { recs, lastT } of batches) {
    const pushed: { t: number; v: Value[] }[] = [];
    for (const r of recs) for (const v of mapper.map(r).rows) pushed.push({ t: v[5] as number, v });
    bids += recs.length;
    const a = performance.now();
    await engine.push('BID', pushed);
    await engine.advance(lastT);
    const dt = performance.now() - a;
    let emitted = 0;
    const drained = engine.drain();
    for (const s of outStreams) emitted += drained.get(s)?.length ?? 0;
    if (emitted && !['q0', 'q1', 'q2'].includes(name)) closes.push(dt);
    out += emitted;
  }
  const wall = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const cpuS = (cpu.user + cpu.system) / 1e6;
  engine.close();
  closes.sort((x, y) => x - y);
  const pct = (p: number) => (closes.length ? closes[Math.min(closes.length - 1, Math.floor(p * closes.length))]!.toFixed(1) : '-');
  return { query: label, events: bids, rows_out: int(out), 'events/s': Math.round(bids / wall), 'events/s/core': Math.round(bids / cpuS), 'close p50 ms': pct(0.5), 'close p99 ms': pct(0.99), 'Flink 1.13 /core': anchor ?? '-' };
}

/**
 * measureEngine() as a shard's partial worker runs the pump: each record's
 * bytes decoded by ColumnDecoder into the columns the pump reads (RecordMapper
 * when it is not sure), the batch pushed as columns. ROWTIME is the bid's
 * DATETIME here, as in measureEngine.
 */
async function measureShardEngine(label: string, engine: Engine, outStreams: string[], batches: { recs: Buffer[]; lastT: number }[]): Promise<Record<string, unknown>> {
  const types = BID_COLUMNS.map((c) => parseSqlType(c.sqlType));
  const DATETIME = BID_COLUMNS.findIndex((c) => c.name === 'DATETIME');
  const read = engine.inputColumnsRead('BID').map((r, i) => r || i === DATETIME);
  const decoder = new ColumnDecoder({ type: 'JSON', rowPath: '$' }, BID_COLUMNS);
  const mapper = new RecordMapper({ type: 'JSON', rowPath: '$' }, BID_COLUMNS);
  const batch = new ColumnBatch(types, read, 10_000);
  const dt = batch.cols[DATETIME] as NumberColumn;
  let bids = 0;
  let out = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (const { recs, lastT } of batches) {
    batch.clear();
    for (const r of recs) {
      if (!decoder.decode(r, 0, r.length, batch, 0)) for (const v of mapper.map(r).rows) batch.pushRow(0, v);
    }
    for (let i = 0; i < batch.n; i++) batch.t[i] = dt.values[i]!;
    bids += recs.length;
    await engine.pushColumns('BID', batch);
    await engine.advance(lastT);
    // Closed windows as a partial worker takes them (columns), then any rows.
    const folded = engine.drainFolded();
    const drained = engine.drain();
    for (const s of outStreams) out += (folded.get(s) ?? []).reduce((n, w) => n + w.n, 0) + (drained.get(s)?.length ?? 0);
  }
  const wall = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  engine.close();
  return { query: label, events: bids, rows_out: int(out), 'events/s': Math.round(bids / wall), 'events/s/core': Math.round(bids / ((cpu.user + cpu.system) / 1e6)), 'close p50 ms': '-', 'close p99 ms': '-', 'Flink 1.13 /core': '-' };
}

const engineCore = (engine: Record<string, unknown>[], query: string) => {
  const v = engine.find((e) => e.query === query)?.['events/s/core'];
  return typeof v === 'number' ? int(v) : '-';
};

/** The e2e table beside the engine's per-core figure and Flink's, and the latency run's. */
function e2eTables(rows: E2eRow[], ceilings: Ceiling[], latency: LatencyResult | undefined, engine: Record<string, unknown>[]): string[] {
  const out: string[] = [];
  if (rows.length) {
    out.push(`End to end: ${int(rows[0]!.events)} Nexmark events (persons, auctions, bids 1 : 3 : 46) as JSON in a 4-shard DataStream, written first; one \`shardline analytics\` process per query (the AnalyticsApp Deployment's command line) from TRIM_HORIZON into a 1-shard DataStream; seconds = last output record's arrival − worker spawned (start-up included); per core = events / worker CPU seconds (after start-up: less the CPU up to its "reading inputs" line, logged before it reads a record)`);
    out.push(renderTable(
      ['query', 'oracle', 'events', 'rows out', 'start-up s', 'seconds', 'events/s', 'worker CPU s', 'events/s/core', 'after start-up /core', 'engine alone /core', 'Flink 1.13 /core', 'load'],
      rows.map((r) => [
        r.build ? `${r.query} [${r.build}]` : r.query, r.oracle.length > 40 ? `${r.oracle.slice(0, 40)}…` : r.oracle, int(r.events), int(r.rowsOut), fmt(r.startupS), fmt(r.seconds), int(r.eventsPerSec), fmt(r.workerCpuS),
        int(r.eventsPerCore), int(r.eventsPerCoreAfterStartup), r.build ? '-' : engineCore(engine, r.query),
        QUERIES[r.query]?.anchor ? int(QUERIES[r.query]!.anchor!) : '-', `${r.loadAtStart.toFixed(1)}→${r.loadAtEnd.toFixed(1)}`,
      ]),
    ));
  }
  if (ceilings.length) {
    out.push('Ceiling for any worker over the same input, measured in a process of its own (bench/ceilingChild.ts, CPU time): the one shard reader over the 4 shards, and the reader plus JSON.parse of every record; then the partial workers\' own input path: packed reads (no object per record, message buffers reused as the partial workers reuse theirs), and packed reads plus ColumnDecoder of every record into the 3 columns the tumbling queries read (all 8 validated)');
    out.push(renderTable(['input stream', 'events', 'read /core', 'read + JSON.parse /core', 'packed read /core', 'packed read + decode /core'], ceilings.map((c) => [c.stream, int(c.events), int(c.readPerCore), int(c.readParsePerCore), int(c.packedPerCore), int(c.packedDecodePerCore)])));
  }
  if (latency) {
    const l = latency;
    out.push(`Window-close latency (ROWTIME, tumbling 1 s COUNT/SUM by 1k bidders): ${int(l.events)} events written at ${int(l.rate)}/s (${int(l.sentPerSec)}/s sent) for ${l.durationS} s while one worker runs; per window, its output rows' latest arrival − window end; worker ${fmt(l.workerCores)} cores; every bid counted ${fmt(l.lastWindowS)} s after the last write; load ${l.loadAtStart.toFixed(1)}→${l.loadAtEnd.toFixed(1)}`);
    out.push(renderTable(['measure', 'windows', 'p50 ms', 'p99 ms', 'max ms', 'note'], [
      ['output record arrival − window end', int(l.windows), fmt(l.arrival.p50), fmt(l.arrival.p99), fmt(l.arrival.max), `ApproximateArrivalTimestamp of the output record; sum of N ${int(l.sumN)} of ${int(l.bids)} bids${l.lateBids ? `, ${int(l.lateBids)} late (error_stream LATE_ROW)` : ''}`],
      ['read by a consumer − window end', int(l.windows), fmt(l.seen.p50), fmt(l.seen.p99), fmt(l.seen.max), 'this process polling the output every 50 ms'],
    ]));
  }
  return out;
}
