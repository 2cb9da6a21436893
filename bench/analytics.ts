// `npm run bench -- analytics`: the analytics engine (record mapping + the
// streaming layer + DuckDB) on Nexmark-style bids, in process: events/s per
// core (process CPU time) and window-close latency (evaluation time of the
// watermark advance that closes windows; a worker adds its watermark lag).
// The DataStream read and write around it are measured by `bench ingest`.
import { parseArgs } from 'node:util';
import { Engine } from '../analytics/engine/engine.js';
import { RecordMapper } from '../analytics/mapping.js';
import { Nexmark } from './lib/nexmark.js';
import { machineInfo, writeResults } from './lib/results.js';
import { renderTable } from './lib/table.js';

const USAGE = `usage: npm run bench -- analytics [flags]
  --events N     bid events per query (default 1000000)
  --rate N       simulated events per second of event time (default 100000)
  --batch N      records per engine batch (default 10000)
  --queries L    q0,q1,q2,q5,q7,tumble-1k,tumble-100k (default all)`;

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
  'tumble-1k': { keys: 1000, sql: OUT('BIDDER BIGINT, N BIGINT, TOTAL DOUBLE') +
    `CREATE OR REPLACE PUMP "P" AS INSERT INTO "OUT" SELECT STREAM BIDDER, COUNT(*), SUM(PRICE) FROM "BID" GROUP BY BIDDER, STEP("BID".ROWTIME BY INTERVAL '1' SECOND);` },
  'tumble-100k': { keys: 100_000, sql: OUT('BIDDER BIGINT, N BIGINT, TOTAL DOUBLE') +
    `CREATE OR REPLACE PUMP "P" AS INSERT INTO "OUT" SELECT STREAM BIDDER, COUNT(*), SUM(PRICE) FROM "BID" GROUP BY BIDDER, STEP("BID".ROWTIME BY INTERVAL '1' SECOND);` },
};

export async function runAnalyticsBench(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { events: { type: 'string' }, rate: { type: 'string' }, batch: { type: 'string' }, queries: { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help) { console.log(USAGE); return; }
  const events = Number(values.events ?? 1_000_000);
  const rate = Number(values.rate ?? 100_000);
  const batch = Number(values.batch ?? 10_000);
  const names = (values.queries ?? Object.keys(QUERIES).join(',')).split(',');
  const rows: Record<string, unknown>[] = [];
  for (const name of names) {
    const q = QUERIES[name];
    if (!q) throw new Error(`unknown query ${name}`);
    const engine = await Engine.compile({ code: q.sql, inputs: [{ name: 'BID', columns: BID_COLUMNS, watermark: { column: 'DATETIME', delayMs: 0 } }] });
    const mapper = new RecordMapper({ type: 'JSON', rowPath: '$' }, BID_COLUMNS);
    const gen = new Nexmark(42, Date.UTC(2026, 0, 1), rate, q.keys ?? 0);
    // The records are generated before the clock starts: the figure is mapping + engine, not the generator.
    const batches: { recs: Buffer[]; lastT: number }[] = [];
    for (let bids = 0; bids < events;) {
      const recs: Buffer[] = [];
      let lastT = 0;
      while (recs.length < batch && bids < events) {
        const e = gen.next();
        if (e.type !== 'bid') continue; // persons and auctions are not read by these queries
        recs.push(Buffer.from(JSON.stringify(e.bid)));
        lastT = gen.timeMs;
        bids++;
      }
      batches.push({ recs, lastT });
    }
    const bids = events;
    let out = 0;
    const closes: number[] = [];
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    for (const { recs, lastT } of batches) {
      const pushed: { t: number; v: import('../analytics/engine/types.js').Value[] }[] = [];
      for (const r of recs) for (const v of mapper.map(r).rows) pushed.push({ t: v[5] as number, v });
      const a = performance.now();
      await engine.push('BID', pushed);
      await engine.advance(lastT);
      const dt = performance.now() - a;
      const emitted = engine.drain().get('OUT')?.length ?? 0;
      if (emitted && !['q0', 'q1', 'q2'].includes(name)) closes.push(dt);
      out += emitted;
    }
    const wall = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const cpuS = (cpu.user + cpu.system) / 1e6;
    engine.close();
    closes.sort((x, y) => x - y);
    const pct = (p: number) => (closes.length ? closes[Math.min(closes.length - 1, Math.floor(p * closes.length))]!.toFixed(1) : '-');
    rows.push({ query: name, events: bids, rows_out: out, 'events/s': Math.round(bids / wall), 'events/s/core': Math.round(bids / cpuS), 'close p50 ms': pct(0.5), 'close p99 ms': pct(0.99), 'Flink 1.13 /core': q.anchor ?? '-' });
  }
  const headers = Object.keys(rows[0] ?? {});
  console.log(renderTable(headers, rows.map((r) => headers.map((h) => r[h] as string | number))));
  const file = writeResults('analytics', { machine: machineInfo('(none: in-process engine)'), events, rate, batch, rows });
  console.log(`results: ${file}`);
}
