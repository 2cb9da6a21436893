// Pumps that only copy columns, maybe with a WHERE (projection.ts: the
// streaming layer copies the values instead of a DuckDB round trip, DuckDB
// evaluating only the WHERE) against the same pump run through DuckDB as any
// other (its twin engine with the copy taken away): twin engines fed the same
// rows must emit the same rows, value for value, and leave the same state.
// Values cover
// each copied type's edges (empty and non-ASCII text, a NUL, a lone
// surrogate, -0, the safe-integer bounds, negative timestamps, NULLs) and a
// batch with a value DuckDB must see (a fractional timestamp).
import { Engine, type EngineInput } from '../../analytics/engine/engine.js';
import type { Value } from '../../analytics/engine/types.js';

const SRC = 'SOURCE_SQL_STREAM_001';
const COLS: [string, string][] = [['S', 'VARCHAR(8)'], ['B', 'BOOLEAN'], ['TI', 'TINYINT'], ['SI', 'SMALLINT'], ['I', 'INTEGER'], ['BI', 'BIGINT'], ['D', 'DOUBLE'], ['TS', 'TIMESTAMP']];
const input = (cols: [string, string][]): EngineInput => ({ name: SRC, columns: cols.map(([name, sqlType]) => ({ name, sqlType, mapping: `$.${name}` })) });
const outDecl = (cols: [string, string][]) => `CREATE OR REPLACE STREAM "OUT" (${cols.map(([n, t]) => `"${n}" ${t}`).join(', ')});\n`;

function rnd(seed: number): () => number {
  let s = seed;
  return () => ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32);
}

const EDGES: Record<string, Value[]> = {
  S: ['', 'abc', 'é€😀', 'a\u0000b', '\ud800x', 'x\udc00', '"\\\n\t', null],
  B: [true, false, null],
  TI: [-128, 127, 0, null],
  SI: [-32768, 32767, 1, null],
  I: [-2147483648, 2147483647, -1, null],
  BI: [Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER, 0, null],
  D: [-0, 0, 1e-300, -1.5e300, 0.1 + 0.2, Number.MAX_VALUE, Number.MIN_VALUE, null],
  TS: [0, -86_400_001, 1_767_225_600_123, 253_402_300_799_999, null],
};

function rows(n: number, seed: number): { t: number; v: Value[] }[] {
  const r = rnd(seed);
  return Array.from({ length: n }, (_, i) => ({ t: 1_767_225_600_000 + Math.floor(i / 3) * 10, v: COLS.map(([name]) => EDGES[name]![Math.floor(r() * EDGES[name]!.length)]!) }));
}

const pumpOf = (e: Engine) => (e as unknown as { pumps: { projection?: unknown }[] }).pumps[0]!;
const copying = (e: Engine) => pumpOf(e).projection !== undefined;

/** The pump, and its twin run through DuckDB (the copy taken away). */
async function twins(select: string, cols = COLS, target = cols, where = ''): Promise<[Engine, Engine]> {
  const code = `${outDecl(target)}CREATE OR REPLACE PUMP "P" AS INSERT INTO "OUT" ${select} FROM "${SRC}"${where};`;
  const [a, b] = [await Engine.compile({ code, inputs: [input(cols)] }), await Engine.compile({ code, inputs: [input(cols)] })];
  pumpOf(b).projection = undefined;
  return [a, b];
}

/** `e` with its DuckDB evaluation of row-by-row pumps refused: every batch must be copied. */
function copyOnly(e: Engine): Engine {
  (e as unknown as { run: () => never }).run = () => { throw new Error('a batch went through DuckDB'); };
  return e;
}

/** Rows emitted into each stream by the last same(). */
const emitted = new Map<string, number>();

async function same(a: Engine, b: Engine, batches: { t: number; v: Value[] }[][]): Promise<number> {
  let n = 0;
  emitted.clear();
  for (const batch of batches) {
    await a.pushInput(SRC, batch.map((r) => ({ ...r, v: [...r.v] })));
    await b.pushInput(SRC, batch.map((r) => ({ ...r, v: [...r.v] })));
    const x = a.drain();
    const y = b.drain();
    expect([...x.keys()]).toEqual([...y.keys()]);
    for (const [s, list] of x) {
      const other = y.get(s)!;
      expect(list.length).toBe(other.length);
      list.forEach((row, i) => {
        expect(row.t).toBe(other[i]!.t);
        expect(row.seq).toBe(other[i]!.seq);
        // Object.is: -0 stays -0 on both paths, or on neither. An error_stream row's first column is when it was made.
        row.v.forEach((v, c) => expect([c, Object.is(v, other[i]!.v[c]) || (s === 'error_stream' && c === 0) ? 'same' : v]).toEqual([c, 'same']));
      });
      n += list.length;
      emitted.set(s, (emitted.get(s) ?? 0) + list.length);
    }
  }
  expect(a.snapshot()).toEqual(b.snapshot());
  return n;
}

test('SELECT STREAM * copies every row as DuckDB gives it back', async () => {
  const [a, b] = await twins('SELECT STREAM *');
  expect(copying(a)).toBe(true);
  expect(copying(b)).toBe(false);
  expect(await same(copyOnly(a), b, [rows(500, 1), rows(1, 2), rows(300, 3)])).toBe(801);
});

test('a list of columns, qualified or not, in another order, into a narrower stream', async () => {
  const cols: [string, string][] = [['D', 'DOUBLE'], ['S', 'VARCHAR(8)'], ['TS', 'TIMESTAMP'], ['BI', 'BIGINT']];
  const [a, b] = await twins(`SELECT STREAM d, "${SRC}".s, ts, ${SRC}.BI`, COLS, cols);
  expect(copying(a)).toBe(true);
  expect(await same(copyOnly(a), b, [rows(400, 4), rows(200, 5)])).toBe(600);
});

test('columns under names of their own are copies too', async () => {
  const [a, b] = await twins('SELECT STREAM S AS X, B, TI, SI, I, BI AS "bi", D, TS AS T2');
  expect(copying(a)).toBe(true);
  expect(await same(copyOnly(a), b, [rows(100, 10)])).toBe(100);
});

test('a WHERE: DuckDB says which rows pass, over the columns it reads; the rows are copied', async () => {
  const wheres = [
    ' WHERE TI > 0',
    ' WHERE S LIKE \'%b%\' OR B',
    ' WHERE D IS NULL OR (BI % 3 = 0 AND TS > TIMESTAMP \'2000-01-01 00:00:00\')',
    ' WHERE ROWTIME >= TIMESTAMP \'2026-01-01 00:00:00.500\'',
  ];
  for (const w of wheres) {
    const [a, b] = await twins('SELECT STREAM *', COLS, COLS, w);
    expect([w, copying(a)]).toEqual([w, true]);
    const n = await same(copyOnly(a), b, [rows(300, 11), rows(200, 12)]);
    expect([w, n > 0 && n < 500]).toEqual([w, true]);
  }
});

test('a WHERE that fails at run time goes through DuckDB: the failing rows to error_stream, as before', async () => {
  const [a, b] = await twins('SELECT STREAM S, I', COLS, [['S', 'VARCHAR(8)'], ['I', 'INTEGER']], ' WHERE CAST(S AS INTEGER) > 0');
  expect(copying(a)).toBe(true);
  const batch = rows(40, 13).map((r, i) => ({ ...r, v: r.v.map((x, c) => (c === 0 ? (i % 5 === 0 ? 'x' : String(i)) : x)) }));
  await same(a, b, [batch]);
  // Rows 0, 5, … 35 hold 'x' and fail; every row is emitted or an error (past the splitting budget a
  // failing chunk's rows are errors whole, as run() does).
  const errors = emitted.get('error_stream') ?? 0;
  expect([(emitted.get('OUT') ?? 0) + errors, errors >= 8]).toEqual([40, true]);
});

test('a batch with a value DuckDB must see goes through DuckDB, rows and errors as before', async () => {
  const [a, b] = await twins('SELECT STREAM *');
  const batch = rows(50, 6);
  batch[17]!.v[7] = 1_767_225_600_000.5;
  await same(a, b, [rows(10, 7), batch, rows(10, 8)]);
});

test('queries that are not copies are left to DuckDB', async () => {
  const notCopies = [
    'SELECT STREAM S, B, TI, SI, I, BI, D + 0, TS',
    'SELECT STREAM S, B, TI, SI, I, BI, D AS D2, TS + INTERVAL \'1\' SECOND',
    'SELECT STREAM CASE WHEN B THEN S ELSE \'no\' END, B, TI, SI, I, BI, D, TS',
    'SELECT STREAM UPPER(S), B, TI, SI, I, BI, D, TS',
  ];
  for (const q of notCopies) {
    const [a, b] = await twins(q);
    expect([q, copying(a)]).toEqual([q, false]);
    await same(a, b, [rows(100, 9)]);
  }
  // A type DuckDB changes (REAL rounds to float): not copied.
  const [a, b] = await twins('SELECT STREAM *', [['R', 'REAL'], ['S', 'VARCHAR(8)']]);
  expect(copying(a)).toBe(false);
  await a.pushInput(SRC, [{ t: 1, v: [0.1, 'x'] }]);
  await b.pushInput(SRC, [{ t: 1, v: [0.1, 'x'] }]);
  expect(a.drain().get('OUT')![0]!.v).toEqual(b.drain().get('OUT')![0]!.v);
});
