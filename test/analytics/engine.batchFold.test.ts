// Pre-aggregated tumbling pumps of the plain shape, their batches grouped in
// JavaScript (batchFold.ts), against DuckDB: a twin engine fed the same rows
// through pushInput, whose batches DuckDB evaluates. Both must emit the same
// partial rows (values, ROWTIMEs and numbering), the same error rows and the
// same checkpoint. Values cover NULLs, -0, negative numbers, a lone
// surrogate and non-ASCII text in keys, integer sums near 2^53 and a NaN
// (batches DuckDB must see), late rows, and batches across window ends. Which
// shapes are taken is checked too, and that a taken pump's batches never
// reach DuckDB unless a value needs it. The same for the direct fold (rows
// folded straight into their windows' groups, no grouping of the batch of its
// own), against DuckDB where sums are exact whatever their order, and against
// a plain row-order sum where they are not.
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

type Pump = { batchFold?: unknown; directFold?: unknown };
const pumpOf = (e: Engine) => (e as unknown as { pumps: Pump[] }).pumps[0]!;

/**
 * The partial engines of `code`: `a` evaluates batches in DuckDB (its fold taken away), `b` folds them here
 * when it can: each batch's groups made first (the batch path), or with `direct` straight into the windows' groups.
 */
async function twins(code: string, direct = false): Promise<[Engine, Engine]> {
  const d = decompose(code, [SRC], ['OUT']);
  if (!d.decomposable) throw new Error(d.reason);
  const pre = Object.fromEntries(d.pumps.flatMap((p) => {
    const x = preAggregation(p);
    return x ? [[p.name, x]] : [];
  }));
  const make = () => Engine.compile({ code: d.partialCode, inputs: [INPUT], preAggregate: pre });
  const [a, b] = [await make(), await make()];
  pumpOf(a).batchFold = undefined;
  pumpOf(a).directFold = undefined;
  if (!direct) pumpOf(b).directFold = undefined;
  return [a, b];
}

/** Counts `e`'s batches folded straight into window groups, and those it left to the batch path. */
function directBatches(e: Engine): { folded: number; refused: number } {
  const count = { folded: 0, refused: 0 };
  const x = e as unknown as { foldDirect: (...a: unknown[]) => number };
  const fold = x.foldDirect.bind(e);
  x.foldDirect = (...a: unknown[]) => {
    const groups = fold(...a);
    count[groups < 0 ? 'refused' : 'folded']++;
    return groups;
  };
  return count;
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

/** Keys the direct fold takes as they are (a lone surrogate sends its batch the batch path: DuckDB holds it as U+FFFD). */
const WELL_FORMED = KEYS.filter((k) => k === null || (k as unknown as { isWellFormed(): boolean }).isWellFormed());

/** `quarters`: V in quarters (exact sums whatever their order), else in cents. */
function rows(n: number, seed: number, value: (i: number, r: () => number) => Partial<Record<'I' | 'V' | 'B' | 'D', Value>> = () => ({}), quarters = false, keys = KEYS): In[] {
  const r = rnd(seed);
  return Array.from({ length: n }, (_, i) => {
    const base = {
      I: i % 13 === 0 ? null : Math.floor(r() * 40) - 20,
      V: i % 17 === 0 ? null : i % 29 === 0 ? -0 : quarters ? Math.round(r() * 16000) / 4 - 2000 : Math.round(r() * 1e6) / 100 - 2000,
      B: i % 11 === 0 ? null : Math.floor(r() * 1000),
      D: [0, -0, 1.5, -2.25, null][i % 5]!,
    };
    const v = { ...base, ...value(i, r) };
    return {
      // Mostly increasing, jitter across window ends, and some rows far behind (entering at the watermark).
      t: 1_000_000 + i * 37 + Math.floor(r() * 3000) - (i % 160 === 0 ? 60_000 : 0),
      v: [keys[Math.floor(r() * keys.length)]!, v.I, v.V, v.B, v.D, r() < 0.8 ? 'bid' : 'ask', `pad${i}`],
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

test('direct: every aggregate, text and numeric keys, a WHERE: the rows, errors, numbering and checkpoint DuckDB gives, no batch grouped', async () => {
  const numeric = (k: string) => `CREATE OR REPLACE STREAM "OUT" (${k}X ${k === 'B' ? 'BIGINT' : 'DOUBLE'}, N BIGINT, NI BIGINT, SV DOUBLE, SI BIGINT, LO INTEGER, HI DOUBLE, W TIMESTAMP);
CREATE OR REPLACE PUMP "P" AS INSERT INTO "OUT" SELECT STREAM ${k}, COUNT(*), COUNT(I), SUM(V), SUM(I), MIN(I), MAX(V), ${W} FROM "${SRC}" GROUP BY ${k}, ${W};`;
  for (const code of [SHAPE, numeric('B'), numeric('D')]) {
    const [a, b] = await twins(code, true);
    const duck = duckBatches(b);
    const direct = directBatches(b);
    try {
      expect(pumpOf(b).directFold).toBeDefined();
      await feed(a, b, rows(6000, 5, () => ({}), true, WELL_FORMED), [1, 700, 2048, 33]);
      const x = await same(a, b);
      expect(x.find(([s]) => s.startsWith('__PARTIAL'))![1].length).toBeGreaterThan(50);
      expect(duck.n).toBe(0);
      expect(direct.refused).toBe(0);
      // Every batch: 6000 rows in batches of 1, 700, 2048 and 33 in turn, the last of 435.
      expect(direct.folded).toBe(10);
    } finally {
      a.close();
      b.close();
    }
  }
});

test('direct: a batch it cannot take (a key longer than its column, a NaN, an integer sum past 2^53) goes the batch path or to DuckDB, with their results', async () => {
  const code = `CREATE OR REPLACE STREAM "OUT" (K VARCHAR(8), N BIGINT, SB BIGINT, SD DOUBLE, W TIMESTAMP);
CREATE OR REPLACE PUMP "P" AS INSERT INTO "OUT" SELECT STREAM K, COUNT(*), SUM(B), SUM(V), ${W} FROM "${SRC}" GROUP BY K, ${W};`;
  const [a, b] = await twins(code, true);
  const duck = duckBatches(b);
  const direct = directBatches(b);
  try {
    const rs = rows(3000, 13, (i) => (i === 1000 ? { V: Number.NaN } : i >= 2000 && i < 2004 ? { B: 2 ** 52 + i } : {}), true, WELL_FORMED);
    // A key of 9 characters: the batch path's TYPE_ERROR for its group, as DuckDB's.
    rs[500]!.v[0] = 'k-longer!';
    await feed(a, b, rs, [100]);
    const x = await same(a, b);
    expect(x.find(([s]) => s === 'error_stream')![1].length).toBeGreaterThan(0);
    expect(duck.n).toBeGreaterThanOrEqual(2);
    // The batches holding row 500, row 1000 and rows 2000–2003 (and those after whose sums of B pass 2^53).
    expect(direct.refused).toBeGreaterThanOrEqual(3);
    expect(direct.folded).toBeGreaterThan(20);
  } finally {
    a.close();
    b.close();
  }
});

test('direct: a DOUBLE sum adds the window\'s rows in row order from 0, whatever the batches (a plain sum over the rows as oracle)', async () => {
  const code = `CREATE OR REPLACE STREAM "OUT" (K VARCHAR(8), SV DOUBLE, N BIGINT, W TIMESTAMP);
CREATE OR REPLACE PUMP "P" AS INSERT INTO "OUT" SELECT STREAM K, SUM(V), COUNT(*), ${W} FROM "${SRC}" GROUP BY K, ${W};`;
  // No row behind the watermark (feed() holds it 5 s back): every row is in its window.
  const rs = rows(8000, 21, () => ({}), false, WELL_FORMED).map((x, i) => ({ ...x, t: 1_000_000 + i * 37 + (i * 7919) % 3000 }));
  const oracle = new Map<string, { sum: number | null; n: number }>();
  for (const x of rs) {
    const id = JSON.stringify([Math.floor(x.t / 10_000) * 10_000 + 10_000, x.v[0]]);
    const g = oracle.get(id) ?? { sum: null, n: 0 };
    if (x.v[2] !== null) g.sum = (g.sum ?? 0) + (x.v[2] as number);
    g.n++;
    oracle.set(id, g);
  }
  const outputs: unknown[] = [];
  for (const sizes of [[1, 700, 2048, 33], [5000], [64]]) {
    const [a, b] = await twins(code, true);
    const direct = directBatches(b);
    try {
      await feed(a, b, rs, sizes);
      const partial = [...b.drain()].find(([s]) => s.startsWith('__PARTIAL'))![1];
      const cols = b.columns(partial === undefined ? '' : [...(b as unknown as { streams: Map<string, unknown> }).streams.keys()].find((s) => s.startsWith('__PARTIAL'))!)!;
      const at = (re: RegExp) => cols.findIndex((c) => re.test(c.name));
      const [k, sv, n] = [at(/^K/), at(/^S/), at(/^C/)];
      const got = new Map(partial.map((r) => [JSON.stringify([r.t, r.v[k]]), { sum: r.v[sv], n: r.v[n] }]));
      expect(got).toEqual(oracle);
      expect(direct.refused).toBe(0);
      outputs.push(partial.map((r) => exact([r.t, r.v])));
    } finally {
      a.close();
      b.close();
    }
  }
  // The same partial rows, bit for bit, whatever the batches.
  expect(outputs[1]).toEqual(outputs[0]);
  expect(outputs[2]).toEqual(outputs[0]);
});

test('direct: two key columns keep the batch path', async () => {
  const code = `CREATE OR REPLACE STREAM "OUT" (K VARCHAR(8), B BIGINT, N BIGINT, W TIMESTAMP);
CREATE OR REPLACE PUMP "P" AS INSERT INTO "OUT" SELECT STREAM K, B, COUNT(*), ${W} FROM "${SRC}" GROUP BY K, B, ${W};`;
  const [, b] = await twins(code, true);
  try {
    expect(pumpOf(b).batchFold).toBeDefined();
    expect(pumpOf(b).directFold).toBeUndefined();
  } finally {
    b.close();
  }
});
