// Engine.pushColumns (rows held column by column, the shard workers' hot
// path) against pushInput (row objects) on twin engines fed the same records
// in the same batches: the same partial rows in the same order, the same
// error_stream rows and the same checkpoint, for ROWTIME and event-time
// tumbling partials (late rows, NULL event times, rows behind the watermark,
// a failing cast), a stream that is not columnar (rows then), and a window
// restored from a checkpoint written before folding.
import { ColumnBatch } from '../../analytics/engine/columnBatch.js';
import { Engine, type EngineInput, type EngineState } from '../../analytics/engine/engine.js';
import { parseSqlType, type Value } from '../../analytics/engine/types.js';
import { decompose } from '../../analytics/sql/decompose.js';
import { preAggregation } from '../../analytics/worker/preAggregation.js';

const SRC = 'SOURCE_SQL_STREAM_001';
type In = { t: number; v: Value[] };

function rnd(seed: number): () => number {
  let s = seed;
  return () => ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32);
}

/** Partial code and its engines: `fold` makes the simple-form pumps pre-aggregate, as the shard workers run them. */
async function engines(code: string, inputs: EngineInput[], fold = true): Promise<[Engine, Engine]> {
  const d = decompose(code, inputs.map((i) => i.name), ['OUT']);
  if (!d.decomposable) throw new Error(d.reason);
  const pre = Object.fromEntries(d.pumps.flatMap((p) => {
    const x = preAggregation(p);
    return x && fold ? [[p.name, x]] : [];
  }));
  const make = () => Engine.compile({ code: d.partialCode, inputs, preAggregate: pre });
  return [await make(), await make()];
}

/** The same batches into both engines: rows into `a`, columns (only those the engine asks for) into `b`; ROWTIME advanced after each. */
async function feedBoth(a: Engine, b: Engine, input: EngineInput, rs: In[], sizes: number[], lagMs = 5_000): Promise<void> {
  const types = input.columns.map((c) => parseSqlType(c.sqlType));
  const batch = new ColumnBatch(types, b.inputColumnsRead(input.name), 4);
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0, k = 0; i < rs.length; k++) {
    const part = rs.slice(i, i + sizes[k % sizes.length]!);
    i += part.length;
    await a.pushInput(input.name, part.map((r) => ({ t: r.t, v: [...r.v] })));
    batch.clear();
    for (const r of part) batch.pushRow(r.t, r.v);
    await b.pushColumns(input.name, batch, (r) => [...part[r]!.v]);
    for (const r of part) max = Math.max(max, r.t);
    await a.advance(max - lagMs);
    await b.advance(max - lagMs);
  }
}

const out = (e: Engine) => [...e.drain()].map(([s, rows]) => [s, rows.map((r) => JSON.stringify([r.t, r.seq, s === 'error_stream' ? r.v.slice(1) : r.v]))]);

async function same(a: Engine, b: Engine): Promise<unknown[]> {
  const x = out(a);
  expect(out(b)).toEqual(x);
  expect(b.snapshot()).toEqual(a.snapshot());
  return x;
}

const ROWTIME_CODE = (w: string) => `CREATE OR REPLACE STREAM "OUT" (K VARCHAR(8), N INTEGER, S DOUBLE, LO INTEGER, HI INTEGER, A DOUBLE, B BOOLEAN, W TIMESTAMP);
CREATE OR REPLACE PUMP "P" AS INSERT INTO "OUT" SELECT STREAM K, COUNT(*), SUM(V), MIN(I), MAX(I), AVG(V), MAX(F), ${w} FROM "${SRC}" WHERE I IS NULL OR I <> 3 GROUP BY K, ${w};`;
const W10 = `STEP("${SRC}".ROWTIME BY INTERVAL '10' SECOND)`;
const WIDE: EngineInput = { name: SRC, columns: [
  { name: 'K', sqlType: 'VARCHAR(8)' }, { name: 'I', sqlType: 'INTEGER' }, { name: 'V', sqlType: 'DOUBLE' }, { name: 'F', sqlType: 'BOOLEAN' },
  { name: 'UNUSED', sqlType: 'VARCHAR(64)' }, { name: 'BIG', sqlType: 'BIGINT' }, { name: 'TS', sqlType: 'TIMESTAMP' },
] };

function wideRows(n: number, seed: number): In[] {
  const r = rnd(seed);
  return Array.from({ length: n }, (_, i) => ({
    // Mostly increasing, with jitter across window ends and some rows far behind (entering at the watermark).
    t: 1_000_000 + i * 41 + Math.floor(r() * 4000) - (i % 150 === 0 ? 60_000 : 0),
    v: [r() < 0.03 ? null : `k${Math.floor(r() * 12)}`, i % 13 === 0 ? null : Math.floor(r() * 20) - 5, i % 17 === 0 ? null : Math.round(r() * 1e6) / 100,
      i % 7 === 0 ? null : r() < 0.5, `u${i}`, 2 ** 40 + i, 1_700_000_000_000 + i],
  }));
}

test('ROWTIME tumbling partials: columns give the rows, errors and checkpoint of rows, batch for batch', async () => {
  const [a, b] = await engines(ROWTIME_CODE(W10), [WIDE]);
  try {
    // Only the columns the work table takes are materialised.
    expect(b.inputColumnsRead(SRC)).toEqual([true, true, true, true, false, false, false]);
    await feedBoth(a, b, WIDE, wideRows(6000, 3), [1, 700, 2048, 33]);
    await a.advance(Number.MAX_SAFE_INTEGER);
    await b.advance(Number.MAX_SAFE_INTEGER);
    const x = (await same(a, b)) as [string, string[]][];
    // Every window's partial rows came out (6000 rows over ~25 windows of 13 keys).
    expect(x.find(([s]) => s.startsWith('__PARTIAL'))?.[1].length).toBeGreaterThan(300);
  } finally {
    a.close();
    b.close();
  }
});

test('event-time TUMBLE: late rows, NULL event times and a failing cast give the same error rows with whole DATA_ROWs', async () => {
  const input: EngineInput = { name: SRC, columns: [
    { name: 'K', sqlType: 'VARCHAR(8)' }, { name: 'X', sqlType: 'VARCHAR(8)' }, { name: 'ET', sqlType: 'TIMESTAMP' }, { name: 'PAD', sqlType: 'VARCHAR(16)' },
  ], watermark: { column: 'ET', delayMs: 2_000 } };
  const code = `CREATE OR REPLACE STREAM "OUT" (K VARCHAR(8), N INTEGER, S INTEGER, WS TIMESTAMP, WE TIMESTAMP);
CREATE OR REPLACE PUMP "P" AS INSERT INTO "OUT" SELECT K, COUNT(*), SUM(CAST(X AS INTEGER)), window_start, window_end
FROM TABLE(TUMBLE(TABLE "${SRC}", DESCRIPTOR(ET), INTERVAL '10' SECOND)) GROUP BY K, window_start, window_end;`;
  const [a, b] = await engines(code, [input]);
  const r = rnd(11);
  const rows: In[] = Array.from({ length: 3000 }, (_, i) => ({
    t: 5_000_000 + i * 10,
    v: [`k${i % 5}`, i === 1777 ? 'oops' : String(i % 9), i % 211 === 0 ? null : 2_000_000 + i * 20 - (i % 97 === 0 ? 30_000 : 0) + Math.floor(r() * 500), `pad${i}`],
  }));
  try {
    expect(b.inputColumnsRead(SRC)).toEqual([true, true, true, false]);
    await feedBoth(a, b, input, rows, [250, 9]);
    await a.closeEventTimeWindows();
    await b.closeEventTimeWindows();
    const x = JSON.stringify(await same(a, b));
    expect(x).toContain('LATE_ROW');
    expect(x).toContain('NULL_EVENT_TIME');
    expect(x).toContain('EVALUATION_ERROR');
    // DATA_ROW holds every column, the unread PAD too.
    expect(x).toMatch(/LATE_ROW[^\]]*pad\d+/);
  } finally {
    a.close();
    b.close();
  }
});

test('a stream whose pumps do not all fold takes the columns as rows', async () => {
  const code = `CREATE OR REPLACE STREAM "OUT" (K VARCHAR(8), N INTEGER);
CREATE OR REPLACE PUMP "P" AS INSERT INTO "OUT" SELECT STREAM K, COUNT(*) OVER (PARTITION BY K RANGE INTERVAL '5' SECOND PRECEDING) FROM "${SRC}";`;
  const input: EngineInput = { name: SRC, columns: [{ name: 'K', sqlType: 'VARCHAR(8)' }, { name: 'PAD', sqlType: 'VARCHAR(16)' }] };
  const a = await Engine.compile({ code, inputs: [input] });
  const b = await Engine.compile({ code, inputs: [input] });
  try {
    expect(b.inputColumnsRead(SRC)).toEqual([true, true]);
    await feedBoth(a, b, input, Array.from({ length: 500 }, (_, i) => ({ t: 1_000_000 + i * 100, v: [`k${i % 3}`, `p${i}`] })), [64], 0);
    await a.advance(Number.MAX_SAFE_INTEGER);
    await b.advance(Number.MAX_SAFE_INTEGER);
    const x = JSON.stringify(await same(a, b));
    expect(x).toContain('"OUT"');
  } finally {
    a.close();
    b.close();
  }
});

test('a window restored from a checkpoint written before folding takes input rows from columns too', async () => {
  const [u] = await engines(ROWTIME_CODE(W10), [WIDE], false);
  const rows = wideRows(3000, 5);
  const [a, b] = await engines(ROWTIME_CODE(W10), [WIDE]);
  try {
    // A mid-window checkpoint of an engine without folding: its open windows hold input rows.
    for (let i = 0; i < 1200; i += 400) {
      await u.pushInput(SRC, rows.slice(i, i + 400).map((r) => ({ t: r.t, v: [...r.v] })));
      await u.advance(Math.max(...rows.slice(0, i + 400).map((r) => r.t)) - 5_000);
    }
    const st = JSON.parse(JSON.stringify(u.snapshot())) as EngineState;
    expect((st.pumps.P as { windows: { folded?: boolean; rows: unknown[] }[] }).windows.some((w) => !w.folded && w.rows.length > 0)).toBe(true);
    a.restore(st);
    b.restore(st);
    await feedBoth(a, b, WIDE, rows.slice(1200), [500, 3]);
    await a.advance(Number.MAX_SAFE_INTEGER);
    await b.advance(Number.MAX_SAFE_INTEGER);
    await same(a, b);
  } finally {
    u.close();
    a.close();
    b.close();
  }
});
