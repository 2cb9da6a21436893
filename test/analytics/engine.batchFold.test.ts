// Pre-aggregated tumbling pumps of the plain shape, their batches grouped in
// JavaScript (batchFold.ts), against DuckDB: a twin engine fed the same rows
// through pushInput, whose batches DuckDB evaluates. Both must emit the same
// partial rows (values, ROWTIMEs and numbering), the same error rows and the
// same checkpoint. Values cover NULLs, -0, negative numbers, a lone
// surrogate and non-ASCII text in keys, integer sums near 2^53 and a NaN
// (batches DuckDB must see), late rows, and batches across window ends. Which
// shapes are taken is checked too, and that a taken pump's batches never
// reach DuckDB unless a value needs it.
import { ColumnBatch } from '../../analytics/engine/columnBatch.js';
import { Engine, type EngineInput } from '../../analytics/engine/engine.js';
import { parseSqlType, type Value } from '../../analytics/engine/types.js';
import { decompose } from '../../analytics/sql/decompose.js';
import { preAggregation } from '../../analytics/worker/preAggregation.js';

const SRC = 'SOURCE_SQL_STREAM_001';
type In = { t: number; v: Value[] };

function rnd(seed: number): () => number {
  let s = seed;
  return () => ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32);
}

const INPUT: EngineInput = { name: SRC, columns: [
  { name: 'K', sqlType: 'VARCHAR(8)' }, { name: 'I', sqlType: 'INTEGER' }, { name: 'V', sqlType: 'DOUBLE' }, { name: 'B', sqlType: 'BIGINT' },
  { name: 'D', sqlType: 'DOUBLE' }, { name: 'KIND', sqlType: 'VARCHAR(8)' }, { name: 'PAD', sqlType: 'VARCHAR(16)' },
] };
const W = `STEP("${SRC}".ROWTIME BY INTERVAL '10' SECOND)`;

type Pump = { batchFold?: unknown };
const pumpOf = (e: Engine) => (e as unknown as { pumps: Pump[] }).pumps[0]!;

/** The partial engines of `code`: `a` evaluates batches in DuckDB (its fold taken away), `b` folds them here when it can. */
async function twins(code: string): Promise<[Engine, Engine]> {
  const d = decompose(code, [SRC], ['OUT']);
  if (!d.decomposable) throw new Error(d.reason);
  const pre = Object.fromEntries(d.pumps.flatMap((p) => {
    const x = preAggregation(p);
    return x ? [[p.name, x]] : [];
  }));
  const make = () => Engine.compile({ code: d.partialCode, inputs: [INPUT], preAggregate: pre });
  const [a, b] = [await make(), await make()];
  pumpOf(a).batchFold = undefined;
  return [a, b];
}

/** Counts the batches `e` hands DuckDB. */
function duckBatches(e: Engine): { n: number } {
  const count = { n: 0 };
  const duck = (e as unknown as { duck: { fillColumns: (...a: unknown[]) => Promise<void> } }).duck;
  const fill = duck.fillColumns.bind(duck);
  duck.fillColumns = (...a: unknown[]) => { count.n++; return fill(...a); };
  return count;
}

/** The same batches into both: rows into `a` (pushInput), columns into `b` (pushColumns); ROWTIME advanced after each. */
async function feed(a: Engine, b: Engine, rs: In[], sizes: number[]): Promise<void> {
  const types = INPUT.columns.map((c) => parseSqlType(c.sqlType));
  const batch = new ColumnBatch(types, b.inputColumnsRead(SRC), 4);
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0, k = 0; i < rs.length; k++) {
    const part = rs.slice(i, i + sizes[k % sizes.length]!);
    i += part.length;
    await a.pushInput(SRC, part.map((r) => ({ t: r.t, v: [...r.v] })));
    batch.clear();
    for (const r of part) batch.pushRow(r.t, r.v);
    await b.pushColumns(SRC, batch, (r) => [...part[r]!.v]);
    for (const r of part) max = Math.max(max, r.t);
    await a.advance(max - 5_000);
    await b.advance(max - 5_000);
  }
  await a.advance(Number.MAX_SAFE_INTEGER);
  await b.advance(Number.MAX_SAFE_INTEGER);
}

/** Object.is value for value: -0 is -0 on both or on neither. */
const exact = (x: unknown): unknown => (Object.is(x, -0) ? '-0' : Array.isArray(x) ? x.map(exact) : x);
const out = (e: Engine) => [...e.drain()].map(([s, rows]) => [s, rows.map((r) => exact([r.t, r.seq, s === 'error_stream' ? r.v.slice(1) : r.v]))]);

async function same(a: Engine, b: Engine): Promise<[string, unknown[]][]> {
  const x = out(a) as [string, unknown[]][];
  expect(out(b)).toEqual(x);
  expect(exact(JSON.parse(JSON.stringify(b.snapshot())))).toEqual(exact(JSON.parse(JSON.stringify(a.snapshot()))));
  return x;
}

const KEYS = ['k0', 'k1', 'é€', '\ud800x', '', null];

function rows(n: number, seed: number, value: (i: number, r: () => number) => Partial<Record<'I' | 'V' | 'B' | 'D', Value>> = () => ({})): In[] {
  const r = rnd(seed);
  return Array.from({ length: n }, (_, i) => {
    const base = {
      I: i % 13 === 0 ? null : Math.floor(r() * 40) - 20,
      V: i % 17 === 0 ? null : i % 29 === 0 ? -0 : Math.round(r() * 1e6) / 100 - 2000,
      B: i % 11 === 0 ? null : Math.floor(r() * 1000),
      D: [0, -0, 1.5, -2.25, null][i % 5]!,
    };
    const v = { ...base, ...value(i, r) };
    return {
      // Mostly increasing, jitter across window ends, and some rows far behind (entering at the watermark).
      t: 1_000_000 + i * 37 + Math.floor(r() * 3000) - (i % 160 === 0 ? 60_000 : 0),
      v: [KEYS[Math.floor(r() * KEYS.length)]!, v.I, v.V, v.B, v.D, r() < 0.8 ? 'bid' : 'ask', `pad${i}`],
    };
  });
}

const SHAPE = `CREATE OR REPLACE STREAM "OUT" (W TIMESTAMP, K VARCHAR(8), N BIGINT, NI BIGINT, SV DOUBLE, SI BIGINT, LO INTEGER, HI DOUBLE, A DOUBLE, SB BIGINT);
CREATE OR REPLACE PUMP "P" AS INSERT INTO "OUT" SELECT STREAM ${W}, K, COUNT(*), COUNT(I), SUM(V), SUM(I), MIN(I), MAX(V), AVG(V), SUM(B)
FROM "${SRC}" WHERE KIND = 'bid' AND I <> 7 AND B >= 3 AND B < 990 AND I > -15 AND I <= 12 AND I <> 8.5 AND V <> 0.1 GROUP BY K, ${W};`;

test('a text key with every aggregate and a WHERE of each comparison: the rows, errors and checkpoint DuckDB gives', async () => {
  const [a, b] = await twins(SHAPE);
  const duck = duckBatches(b);
  try {
    expect(pumpOf(b).batchFold).toBeDefined();
    await feed(a, b, rows(6000, 5), [1, 700, 2048, 33]);
    const x = await same(a, b);
    expect(x.find(([s]) => s.startsWith('__PARTIAL'))![1].length).toBeGreaterThan(100);
    expect(duck.n).toBe(0);
  } finally {
    a.close();
    b.close();
  }
});

test('numeric keys (BIGINT, and DOUBLE with -0 and 0), two key columns, no WHERE', async () => {
  for (const keys of ['B', 'D', 'K, B']) {
    const cols = keys.split(', ');
    const code = `CREATE OR REPLACE STREAM "OUT" (${cols.map((c) => `${c}X ${c === 'K' ? 'VARCHAR(8)' : c === 'B' ? 'BIGINT' : 'DOUBLE'}`).join(', ')}, N BIGINT, SV DOUBLE, W TIMESTAMP);
CREATE OR REPLACE PUMP "P" AS INSERT INTO "OUT" SELECT STREAM ${keys}, COUNT(*), SUM(V), ${W} FROM "${SRC}" GROUP BY ${keys}, ${W};`;
    const [a, b] = await twins(code);
    const duck = duckBatches(b);
    try {
      expect(pumpOf(b).batchFold).toBeDefined();
      await feed(a, b, rows(4000, 9), [500, 3, 1500]);
      await same(a, b);
      expect(duck.n).toBe(0);
    } finally {
      a.close();
      b.close();
    }
  }
});

test('a batch DuckDB must see (a NaN summed, an integer sum past 2^53) goes to DuckDB, and the results stay its', async () => {
  const code = `CREATE OR REPLACE STREAM "OUT" (K VARCHAR(8), SB BIGINT, SD DOUBLE, W TIMESTAMP);
CREATE OR REPLACE PUMP "P" AS INSERT INTO "OUT" SELECT STREAM K, SUM(B), SUM(V), ${W} FROM "${SRC}" GROUP BY K, ${W};`;
  const [a, b] = await twins(code);
  const duck = duckBatches(b);
  try {
    const rs = rows(3000, 13, (i) => (i === 1000 ? { V: Number.NaN } : i >= 2000 && i < 2004 ? { B: 2 ** 52 + i } : {}));
    await feed(a, b, rs, [100]);
    await same(a, b);
    // The batch with the NaN, and those whose sums of B pass 2^53 (some of the batches holding rows 2000–2003).
    expect(duck.n).toBeGreaterThanOrEqual(2);
    expect(duck.n).toBeLessThanOrEqual(3);
  } finally {
    a.close();
    b.close();
  }
});

test('other shapes stay DuckDB\'s', async () => {
  const select = (items: string, where = '', group = 'K') =>
    `CREATE OR REPLACE STREAM "OUT" (K VARCHAR(8), X DOUBLE, W TIMESTAMP);
CREATE OR REPLACE PUMP "P" AS INSERT INTO "OUT" SELECT STREAM K, ${items}, ${W} FROM "${SRC}"${where} GROUP BY ${group}, ${W};`;
  const shapes = [
    select('SUM(V * 2)'),
    select('COUNT(DISTINCT I)'),
    select('MAX(KIND)'),
    select('SUM(V)', ' WHERE I = 1 OR I = 2'),
    select('SUM(V)', ' WHERE I IS NULL'),
    select('SUM(V)', " WHERE KIND > 'a'"),
    select('SUM(V)', " WHERE I = '3'"),
    select('SUM(V)', ' WHERE 3 < I'),
    select('SUM(V)', ' WHERE UPPER(KIND) = \'BID\''),
  ];
  for (const code of shapes) {
    const d = decompose(code, [SRC], ['OUT']);
    if (!d.decomposable) continue;
    const [, b] = await twins(code);
    try {
      expect([code, pumpOf(b).batchFold]).toEqual([code, undefined]);
    } finally {
      b.close();
    }
  }
});

test('a WHERE over a NaN goes to DuckDB (it orders NaN above every number); text is compared as DuckDB holds it (a lone surrogate as U+FFFD)', async () => {
  const code = `CREATE OR REPLACE STREAM "OUT" (K VARCHAR(8), N BIGINT, W TIMESTAMP);
CREATE OR REPLACE PUMP "P" AS INSERT INTO "OUT" SELECT STREAM K, COUNT(*), ${W} FROM "${SRC}" WHERE D > -1 AND K <> '\ufffdx' GROUP BY K, ${W};`;
  const [a, b] = await twins(code);
  const duck = duckBatches(b);
  try {
    expect(pumpOf(b).batchFold).toBeDefined();
    const rs = rows(2000, 17, (i) => (i === 700 ? { D: Number.NaN } : {}));
    await feed(a, b, rs, [100]);
    const x = await same(a, b);
    // The lone-surrogate key's rows are filtered out on both; every other key has rows.
    const keys = new Set((x.find(([s]) => s.startsWith('__PARTIAL'))![1] as unknown[][]).map((r) => JSON.stringify((r[2] as Value[])[0])));
    expect(keys.has(JSON.stringify('\ufffdx'))).toBe(false);
    expect(keys.has(JSON.stringify('k0'))).toBe(true);
    expect(duck.n).toBe(1);
  } finally {
    a.close();
    b.close();
  }
});
