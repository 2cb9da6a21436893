// A simple-form partial pump whose results fold batch by batch (Engine's
// preAggregate, worker/preAggregation.ts) gives each window's rows as if the
// window's input rows had been evaluated at once: checked against a plain
// JavaScript oracle, against the engine without folding (late rows included),
// across a checkpoint taken mid-window and restored with other batch sizes,
// and from a checkpoint written before folding (windows holding input rows).
import { Engine, type EngineState } from '../../analytics/engine/engine.js';
import type { Value } from '../../analytics/engine/types.js';
import { decompose, type PartialPump } from '../../analytics/sql/decompose.js';
import { preAggregation } from '../../analytics/worker/preAggregation.js';

const SRC = 'SOURCE_SQL_STREAM_001';
const W = `STEP("${SRC}".ROWTIME BY INTERVAL '10' SECOND)`;
const code = `CREATE OR REPLACE STREAM "OUT" (K VARCHAR(8), N INTEGER, S INTEGER, LO INTEGER, HI INTEGER, A DOUBLE, W TIMESTAMP);
CREATE OR REPLACE PUMP "P" AS INSERT INTO "OUT" SELECT STREAM K, COUNT(*), SUM(V), MIN(V), MAX(V), AVG(V), ${W} FROM "${SRC}" WHERE V IS NULL OR V <> 3 GROUP BY K, ${W};`;
const inputs = [{ name: SRC, columns: [{ name: 'K', sqlType: 'VARCHAR(8)' }, { name: 'V', sqlType: 'INTEGER' }] }];

const d = decompose(code, [SRC], ['OUT']);
if (!d.decomposable) throw new Error(d.reason);
const partial: PartialPump = d.pumps[0]!;
const pre = preAggregation(partial)!;

type In = { t: number; v: Value[] };

/** Deterministic rows: keys k0..k9 (k9 rare), V with NULLs and filtered 3s, times mostly increasing with jitter inside a window. */
function rows(n: number, lateEvery = 0): In[] {
  let s = 7;
  const rnd = () => ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32);
  return Array.from({ length: n }, (_, i) => {
    const base = 1_000_000 + i * 37;
    const late = lateEvery > 0 && i > 500 && i % lateEvery === 0;
    const t = late ? base - 40_000 : base + Math.floor(rnd() * 3000);
    return { t, v: [rnd() < 0.02 ? 'k9' : `k${Math.floor(rnd() * 9)}`, i % 11 === 0 ? null : Math.floor(rnd() * 20) - 5] };
  });
}

/** Pushes `rs` in batches of the given sizes (cycled), advancing ROWTIME to 5 s behind the newest row after each batch. */
async function feed(e: Engine, rs: In[], sizes: number[]): Promise<void> {
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0, k = 0; i < rs.length; k++) {
    const b = rs.slice(i, i + sizes[k % sizes.length]!);
    i += b.length;
    await e.push(SRC, b.map((r) => ({ t: r.t, v: [...r.v] })));
    for (const r of b) max = Math.max(max, r.t);
    await e.advance(max - 5_000);
  }
}

const compile = (fold: boolean) => Engine.compile({ code: d.partialCode, inputs, ...(fold ? { preAggregate: { P: pre } } : {}) });
const drained = (e: Engine) => {
  const m = e.drain();
  return { partials: (m.get(partial.partialStream) ?? []).map((r) => JSON.stringify([r.t, ...r.v])), errors: (m.get('error_stream') ?? []).map((r) => JSON.stringify(r.v.slice(1))) };
};
const sorted = (a: string[]) => [...a].sort();

test('folded windows equal a JavaScript oracle, row for row, in key order', async () => {
  const input = rows(4000);
  const e = await compile(true);
  try {
    await feed(e, input, [1, 250, 999, 64]);
    await e.advance(Number.MAX_SAFE_INTEGER);
    const got = drained(e);
    // Oracle: group by (10 s window, K) over rows with V NULL or not 3.
    const groups = new Map<string, { end: number; k: string; vs: (number | null)[] }>();
    for (const r of input) {
      const v = r.v[1] as number | null;
      if (v === 3) continue;
      const start = Math.floor(r.t / 10_000) * 10_000;
      const id = `${start}|${r.v[0]}`;
      const g = groups.get(id) ?? { end: start + 10_000, k: r.v[0] as string, vs: [] };
      g.vs.push(v);
      groups.set(id, g);
    }
    const expected = [...groups.values()].sort((a, b) => a.end - b.end || (a.k < b.k ? -1 : 1)).map((g) => {
      const nn = g.vs.filter((x): x is number => x !== null);
      const sum = nn.length ? nn.reduce((a, b) => a + b, 0) : null;
      // Row time (the window's end), then the partial columns: K, COUNT(*), SUM, MIN, MAX, AVG as SUM and COUNT, the window's start.
      return JSON.stringify([g.end, g.k, g.vs.length, sum, nn.length ? Math.min(...nn) : null, nn.length ? Math.max(...nn) : null, sum, nn.length, g.end - 10_000]);
    });
    expect(got.partials).toEqual(expected);
    expect(got.errors).toEqual([]);
  } finally {
    e.close();
  }
});

test('late rows and several windows per batch: the same partial rows and errors as without folding', async () => {
  const input = rows(5000, 97);
  const plain = await compile(false);
  const folded = await compile(true);
  try {
    await feed(plain, input, [500]);
    await feed(folded, input, [500]);
    await plain.advance(Number.MAX_SAFE_INTEGER);
    await folded.advance(Number.MAX_SAFE_INTEGER);
    const a = drained(plain);
    const b = drained(folded);
    expect(a.errors.length).toBeGreaterThan(0);
    expect(b.errors).toEqual(a.errors);
    expect(sorted(b.partials)).toEqual(sorted(a.partials));
  } finally {
    plain.close();
    folded.close();
  }
});

const INPUT = rows(6000);
const HALF = 3100;

/** The partial rows of the whole input through one engine (the oracle's side), sorted. */
async function wholeRun(folds: boolean): Promise<unknown[]> {
  const whole = await compile(folds);
  await feed(whole, INPUT, [700]);
  await whole.advance(Number.MAX_SAFE_INTEGER);
  const expected = sorted(drained(whole).partials);
  whole.close();
  return expected;
}

/** The input's first rows through one engine, its checkpoint (as JSON gives it back) changed by `edit`, and the rest through a folding engine restored from it: every partial row of both. */
async function resumed(firstFolds: boolean, edit: (s: EngineState) => void = () => undefined): Promise<unknown[]> {
  const first = await compile(firstFolds);
  await feed(first, INPUT.slice(0, HALF), [333]);
  const before = drained(first).partials;
  const state = JSON.parse(JSON.stringify(first.snapshot())) as EngineState;
  first.close();
  edit(state);
  const second = await compile(true);
  try {
    second.restore(state);
    await feed(second, INPUT.slice(HALF), [1, 2048, 17]);
    await second.advance(Number.MAX_SAFE_INTEGER);
    return sorted([...before, ...drained(second).partials]);
  } finally {
    second.close();
  }
}

test('a checkpoint mid-window, restored with other batch sizes; and one written before folding', async () => {
  const expected = await wholeRun(false);
  for (const firstFolds of [true, false]) expect(await resumed(firstFolds)).toEqual(expected);
});

test('the checkpoint of a folded pump holds a window\'s groups as columns, one value per key, not the input rows', async () => {
  const e = await compile(true);
  try {
    await feed(e, rows(3000).map((r) => ({ t: 2_000_000 + (r.t % 9_000), v: r.v })), [400]);
    const st = e.snapshot().pumps.P as { windows: { rows: unknown[]; cols: unknown[][] }[] };
    expect(st.windows.length).toBe(1);
    expect(st.windows[0]!.rows).toEqual([]);
    const lengths = new Set(st.windows[0]!.cols.map((c) => c.length));
    expect(lengths.size).toBe(1);
    const groups = [...lengths][0]!;
    expect(groups).toBeGreaterThan(1);
    expect(groups).toBeLessThanOrEqual(10);
  } finally {
    e.close();
  }
});

test('a checkpoint whose folded windows hold their groups as rows (what earlier workers wrote) restores as the columns do', async () => {
  const expected = await wholeRun(true);
  let asRows = 0;
  // The earlier form: each group a row {t: window end, seq: 0, v}, no columns.
  const got = await resumed(true, (state) => {
    for (const w of (state.pumps.P as unknown as { windows: { end: number; rows: unknown[]; cols?: unknown[][] }[] }).windows) {
      if (!w.cols) continue;
      const cols = w.cols;
      w.rows = cols[0]!.map((_, r) => ({ t: w.end, seq: 0, v: cols.map((c) => c[r]) }));
      asRows += w.rows.length;
      delete w.cols;
    }
  });
  expect(asRows).toBeGreaterThan(0);
  expect(got).toEqual(expected);
});
