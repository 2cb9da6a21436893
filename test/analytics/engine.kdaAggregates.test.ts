// KDA's FIRST_VALUE, LAST_VALUE, EXP_AVG, MONOTONIC and COUNT_DISTINCT_ITEMS_TUMBLING
// through the engine, with the SQL of AWS's reference where it has an example. The
// oracle is the reference's definition computed here in JS from the same rows:
// a window's rows are in ROWTIME order, then arrival order.
import { Engine, type Row } from '../../analytics/engine/engine.js';
import { decompose } from '../../analytics/sql/decompose.js';

const SRC = 'SOURCE_SQL_STREAM_001';
/** The KDA sample stock stream (Getting Started), as the SQL reference's examples use it. */
const STOCK = { name: SRC, columns: [
  { name: 'TICKER_SYMBOL', sqlType: 'VARCHAR(4)' }, { name: 'SECTOR', sqlType: 'VARCHAR(16)' },
  { name: 'CHANGE', sqlType: 'REAL' }, { name: 'PRICE', sqlType: 'DOUBLE' },
] };
type In = { t: number; v: (string | number | null)[] };

function rng(seed: number) {
  let s = seed >>> 0;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
}

/** Pushes `rows` in batches of `batch` (arrival order = array order), the watermark following; then advances to `until`. */
async function run(code: string, rows: In[], until: number, batch = 37) {
  const e = await Engine.compile({ code, inputs: [STOCK] });
  try {
    // The watermark never passes a row still to come (rows do not arrive late here).
    const rest: number[] = [];
    for (let i = rows.length - 1, m = Infinity; i >= 0; i--) rest[i] = m = Math.min(m, rows[i]!.t);
    for (let i = 0; i < rows.length; i += batch) {
      const b = rows.slice(i, i + batch).map((r) => ({ t: r.t, v: [...r.v] }));
      await e.push(SRC, b);
      if (i + batch < rows.length) await e.advance(rest[i + batch]! - 1);
    }
    await e.advance(until);
    return e.drain();
  } finally {
    e.close();
  }
}

const compile = (code: string) => Engine.compile({ code, inputs: [STOCK] }).then((e) => e.close());
const sortRows = (rows: unknown[][]) => rows.map((r) => JSON.stringify(r)).sort();

const t0 = 1_700_000_000_000 - (1_700_000_000_000 % 60_000);
const tickers = ['AMZN', 'MSFT', 'AAPL'];
/**
 * Three minutes of rows: several share a ROWTIME (peers, told apart only by arrival), some arrive
 * after a later-stamped row (ROWTIME order differs from arrival order), a fifth have a NULL price.
 */
function stockRows(seed: number, n = 300): In[] {
  const r = rng(seed);
  return Array.from({ length: n }, (_, i) => {
    const t = t0 + Math.floor(i / 3) * 1700 + (i % 5 === 4 ? -900 : 0);
    return { t, v: [tickers[Math.floor(r() * 3)]!, 'TECH', 0, i % 5 === 1 ? null : Math.round(r() * 10_000) / 100] };
  });
}

/** Rows with their arrival index, in window order (ROWTIME, then arrival). */
const ordered = (rows: In[]) => rows.map((r, i) => ({ ...r, i })).sort((a, b) => a.t - b.t || a.i - b.i);
/**
 * x is at or before r in that order. A RANGE frame ends at the current row: KDA evaluates a row's window
 * as the row arrives, so rows of its ROWTIME that arrive after it are not in it (SQL's peers would be).
 */
const upTo = (x: { t: number; i: number }, r: { t: number; i: number }) => x.t < r.t || (x.t === r.t && x.i <= r.i);

describe('FIRST_VALUE / LAST_VALUE as aggregates of a tumbling window', () => {
  const code = (group: string) => `CREATE OR REPLACE STREAM "DEST" (TICKER VARCHAR(4), FIRST_PRICE DOUBLE, LAST_PRICE DOUBLE, FIRST_NN DOUBLE, LAST_NN DOUBLE, RESPECTED DOUBLE);
CREATE OR REPLACE PUMP "P" AS INSERT INTO "DEST"
  SELECT STREAM TICKER_SYMBOL, FIRST_VALUE(PRICE), LAST_VALUE(PRICE), FIRST_VALUE(PRICE) IGNORE NULLS,
         LAST_VALUE(PRICE) IGNORE NULLS, LAST_VALUE(PRICE) RESPECT NULLS
  FROM "${SRC}" GROUP BY TICKER_SYMBOL, ${group};`;

  function expected(rows: In[], sizeMs: number) {
    const groups = new Map<string, ReturnType<typeof ordered>>();
    for (const r of ordered(rows)) {
      const key = `${Math.floor(r.t / sizeMs) * sizeMs + sizeMs}|${r.v[0]}`;
      groups.set(key, [...(groups.get(key) ?? []), r]);
    }
    return [...groups].map(([key, g]) => {
      const nn = g.filter((x) => x.v[3] !== null);
      return [Number(key.split('|')[0]), key.split('|')[1], g[0]!.v[3], g[g.length - 1]!.v[3], nn[0]?.v[3] ?? null, nn[nn.length - 1]?.v[3] ?? null, g[g.length - 1]!.v[3]];
    });
  }

  it.each([
    ['STEP', `STEP("${SRC}".ROWTIME BY INTERVAL '10' SECOND)`, 10_000],
    ['FLOOR', `FLOOR("${SRC}".ROWTIME TO MINUTE)`, 60_000],
  ])('%s: the first and last row of each group in ROWTIME then arrival order, nulls respected unless IGNORE NULLS', async (_n, group, size) => {
    const rows = stockRows(7);
    // Peers and late-stamped arrivals decide some firsts and lasts (else the test proves nothing).
    expect(rows.some((r, i) => i > 0 && r.t < rows[i - 1]!.t)).toBe(true);
    for (const batch of [37, 1, 300]) {
      const out = (await run(code(group), rows, t0 + 10 * 60_000, batch)).get('DEST')!;
      expect(sortRows(out.map((r) => [r.t, ...r.v]))).toEqual(sortRows(expected(rows, size)));
    }
  });

  it('a group whose values are all NULL gives NULL, with and without IGNORE NULLS', async () => {
    const rows: In[] = [0, 1, 2].map((k) => ({ t: t0 + k, v: ['AMZN', 'TECH', 0, null] }));
    const out = (await run(code(`STEP("${SRC}".ROWTIME BY INTERVAL '10' SECOND)`), rows, t0 + 60_000)).get('DEST')!;
    expect(out.map((r) => r.v)).toEqual([['AMZN', null, null, null, null, null]]);
  });

  it('keeps the value type: VARCHAR and TIMESTAMP values pass through as they are', async () => {
    const c = `CREATE OR REPLACE STREAM "DEST" (F VARCHAR(4), L VARCHAR(4), FT TIMESTAMP, N BIGINT);
CREATE OR REPLACE PUMP "P" AS INSERT INTO "DEST"
  SELECT STREAM FIRST_VALUE(TICKER_SYMBOL), LAST_VALUE(TICKER_SYMBOL), FIRST_VALUE(ROWTIME), COUNT(*)
  FROM "${SRC}" GROUP BY FLOOR("${SRC}".ROWTIME TO MINUTE);`;
    const rows: In[] = [{ t: t0 + 500, v: ['BBB', 'X', 0, 1] }, { t: t0 + 100, v: ['AAA', 'X', 0, 1] }, { t: t0 + 500, v: ['CCC', 'X', 0, 1] }];
    const out = (await run(c, rows, t0 + 120_000)).get('DEST')!;
    expect(out.map((r) => [r.t, ...r.v])).toEqual([[t0 + 60_000, 'AAA', 'CCC', t0 + 100, 3]]);
  });
});

describe('FIRST_VALUE / LAST_VALUE over a sliding window', () => {
  function expected(rows: In[], frame: (r: ReturnType<typeof ordered>[number], all: ReturnType<typeof ordered>) => ReturnType<typeof ordered>) {
    const all = ordered(rows);
    return all.map((r) => {
      const f = frame(r, all);
      const nn = f.filter((x) => x.v[3] !== null);
      return [r.t, r.v[0], r.v[3], f[0]!.v[3], f[f.length - 1]!.v[3], nn[0]?.v[3] ?? null];
    });
  }
  const code = (spec: string) => `CREATE OR REPLACE STREAM "DEST" (TICKER VARCHAR(4), PRICE DOUBLE, FIRST_PRICE DOUBLE, LAST_PRICE DOUBLE, FIRST_NN DOUBLE);
CREATE OR REPLACE PUMP "P" AS INSERT INTO "DEST"
  SELECT STREAM TICKER_SYMBOL, PRICE, FIRST_VALUE(PRICE) OVER W, LAST_VALUE(PRICE) OVER W, FIRST_VALUE(PRICE) IGNORE NULLS OVER W
  FROM "${SRC}" WINDOW W AS (PARTITION BY TICKER_SYMBOL ${spec});`;

  it("RANGE INTERVAL '1' MINUTE PRECEDING: the frame's first and last row (of the current ROWTIME, only those that arrived up to this one)", async () => {
    const rows = stockRows(11);
    const want = expected(rows, (r, all) => all.filter((x) => x.v[0] === r.v[0] && x.t >= r.t - 60_000 && upTo(x, r)));
    for (const batch of [37, 300]) {
      const out = (await run(code("RANGE INTERVAL '1' MINUTE PRECEDING"), rows, t0 + 10 * 60_000, batch)).get('DEST')!;
      expect(sortRows(out.map((r) => [r.t, ...r.v]))).toEqual(sortRows(want));
    }
  });

  it('ROWS 2 PRECEDING: the row two before the current one in ROWTIME then arrival order; LAST_VALUE is the row itself', async () => {
    const rows = stockRows(13);
    const want = expected(rows, (r, all) => {
      const mine = all.filter((x) => x.v[0] === r.v[0]);
      const at = mine.indexOf(r);
      return mine.slice(Math.max(0, at - 2), at + 1);
    });
    const out = (await run(code('ROWS 2 PRECEDING'), rows, t0 + 10 * 60_000, 37)).get('DEST')!;
    expect(sortRows(out.map((r) => [r.t, ...r.v]))).toEqual(sortRows(want));
  });

  it('rejects a call with no argument or two', async () => {
    const c = (call: string) => `CREATE OR REPLACE STREAM "DEST" (P DOUBLE);
CREATE OR REPLACE PUMP "P" AS INSERT INTO "DEST" SELECT STREAM ${call} OVER W FROM "${SRC}" WINDOW W AS (ROWS 2 PRECEDING);`;
    await expect(compile(c('FIRST_VALUE()'))).rejects.toMatchObject({ line: 2, message: expect.stringMatching(/FIRST_VALUE needs an argument/) });
    await expect(compile(c('LAST_VALUE(PRICE, CHANGE)'))).rejects.toThrow(/LAST_VALUE takes one value expression/);
  });
});

describe('EXP_AVG', () => {
  // The SQL reference's example: a 30 s window, half-life 10 s.
  const code = `CREATE OR REPLACE STREAM "DEST" (TICKER VARCHAR(4), PRICE DOUBLE, AVG_PRICE DOUBLE);
CREATE OR REPLACE PUMP "P" AS INSERT INTO "DEST"
select stream t.rowtime, ticker_symbol, price,
exp_avg(price, INTERVAL '10' SECOND) over w as avgPrice
from "${SRC}" AS t
window w as (partition by ticker_symbol range interval '30' second preceding);`.replace('t.rowtime, ', '');

  it("the reference's example: prices 10 s older weigh half, 20 s older a quarter", async () => {
    // One ticker, one price per 10 s subwindow; the newest row's average is (4·c + 2·b + a) / 7.
    const rows: In[] = [[0, 10], [10_000, 20], [20_000, 40], [20_000, null]].map(([dt, p]) => ({ t: t0 + dt!, v: ['AMZN', 'TECH', 0, p ?? null] }));
    rows.push({ t: t0 + 5_000, v: ['MSFT', 'TECH', 0, 99] });
    const out = (await run(code, rows, t0 + 60_000)).get('DEST')!;
    const amzn = out.filter((r) => r.v[0] === 'AMZN').map((r) => [r.t - t0, r.v[1], r.v[2]]);
    expect(amzn).toEqual([
      [0, 10, 10],
      [10_000, 20, (2 * 20 + 10) / 3],
      [20_000, 40, (4 * 40 + 2 * 20 + 10) / 7],
      [20_000, null, (4 * 40 + 2 * 20 + 10) / 7], // a NULL value is left out, as AVG leaves it out
    ].map(([a, b, c]) => [a, b, expect.closeTo(c as number, 9)]));
    // Partitioned: MSFT's average is its own price only.
    expect(out.filter((r) => r.v[0] === 'MSFT').map((r) => r.v[2])).toEqual([expect.closeTo(99, 9)]);
  });

  /** Each row's EXP_AVG by the definition: the frame's non-NULL values, weights relative to the newest. */
  function oracle(rows: In[], frame: (r: ReturnType<typeof ordered>[number], all: ReturnType<typeof ordered>) => ReturnType<typeof ordered>, h: number) {
    const all = ordered(rows);
    return all.map((r) => {
      const f = frame(r, all).filter((x) => x.v[3] !== null);
      const newest = Math.max(...f.map((x) => x.t));
      const w = f.map((x) => 2 ** ((x.t - newest) / h));
      return [r.t, r.v[0], r.v[3], f.length ? f.reduce((s, x, k) => s + (x.v[3] as number) * w[k]!, 0) / w.reduce((s, x) => s + x, 0) : null];
    });
  }
  const sliding = (call: string, over: string) => `CREATE OR REPLACE STREAM "DEST" (TICKER VARCHAR(4), PRICE DOUBLE, AVG_PRICE DOUBLE);
CREATE OR REPLACE PUMP "P" AS INSERT INTO "DEST" SELECT STREAM ticker_symbol, price, ${call} ${over} FROM "${SRC}" ${over === 'OVER w' ? "WINDOW w AS (PARTITION BY ticker_symbol RANGE INTERVAL '30' SECOND PRECEDING)" : ''};`;
  const range30 = (r: ReturnType<typeof ordered>[number], all: ReturnType<typeof ordered>) => all.filter((x) => x.v[0] === r.v[0] && x.t >= r.t - 30_000 && upTo(x, r));
  // Rows in pairs on both sides of multiples of 5 s (the 10 ms half-life's chunk boundaries), sparse
  // ones between, NULLs, peers, and a last row alone after a gap whose frame has only a NULL.
  const edgeRows: In[] = [];
  for (let b = 1; b <= 12; b++) for (const d of [-7, -2, 3, 8]) edgeRows.push({ t: t0 + b * 5000 + d, v: [b % 2 ? 'AMZN' : 'MSFT', 'T', 0, (b * 37 + d) % 19] });
  for (let i = 0; i < 40; i++) edgeRows.push({ t: t0 + i * 1700, v: [i % 3 ? 'AMZN' : 'MSFT', 'T', 0, i % 5 === 1 ? null : i] });
  edgeRows.sort((a, b) => a.t - b.t);
  edgeRows.push({ t: t0 + 10 * 60_000, v: ['AMZN', 'TECH', 0, null] });
  const round = (x: unknown[]) => x.map((v, k) => (k > 1 && typeof v === 'number' ? Math.round(v * 1e9) / 1e9 : v));

  it.each([
    ["named RANGE, 10 s half-life (2 chunks' sums)", "EXP_AVG(PRICE, INTERVAL '10' SECOND)", 'OVER w', 10_000, range30],
    ["named RANGE, 10 ms half-life (8 chunks' sums, rows across their edges)", "EXP_AVG(PRICE, INTERVAL '10' MILLISECOND)", 'OVER w', 10, range30],
    ['named RANGE, 1 ms half-life (too many chunks: the frame as a list)', "EXP_AVG(PRICE, INTERVAL '1' MILLISECOND)", 'OVER w', 1, range30],
    ['inline RANGE (the frame as a list)', "EXP_AVG(PRICE, INTERVAL '2' SECOND)", "OVER (PARTITION BY ticker_symbol RANGE INTERVAL '30' SECOND PRECEDING)", 2000, range30],
    ['ROWS 3 PRECEDING (the frame as a list)', "EXP_AVG(PRICE, INTERVAL '2' SECOND)", 'OVER (PARTITION BY ticker_symbol ROWS 3 PRECEDING)', 2000,
      (r: ReturnType<typeof ordered>[number], all: ReturnType<typeof ordered>) => { const mine = all.filter((x) => x.v[0] === r.v[0]); const at = mine.indexOf(r); return mine.slice(Math.max(0, at - 3), at + 1); }],
  ])('%s: weights 2^((t - newest) / half-life); rows past the frame drop out; no value gives NULL', async (_n, call, over, h, frame) => {
    for (const rows of [edgeRows, stockRows(17, 120)]) {
      const want = oracle(rows, frame, h);
      const out = (await run(sliding(call, over), rows, t0 + 11 * 60_000)).get('DEST')!;
      // Peers come out in any order: compare as sorted lists, values to 9 digits.
      expect(sortRows(out.map((r) => round([r.t, ...r.v])))).toEqual(sortRows(want.map(round)));
    }
    // The last row's time frame holds only its NULL (so the NULL result is compared above).
    if (frame === range30) expect(oracle(edgeRows, frame, h).at(-1)![3]).toBeNull();
  });

  it('rejects a call without OVER, without a literal half-life, or with a zero one', async () => {
    const c = (call: string, tail = 'OVER W') => `CREATE OR REPLACE STREAM "DEST" (P DOUBLE);
CREATE OR REPLACE PUMP "P" AS INSERT INTO "DEST" SELECT STREAM ${call} ${tail} FROM "${SRC}" WINDOW W AS (RANGE INTERVAL '1' MINUTE PRECEDING);`;
    await expect(compile(c("EXP_AVG(PRICE, INTERVAL '10' SECOND)", ''))).rejects.toMatchObject({ line: 2, message: expect.stringMatching(/EXP_AVG needs OVER <window>/) });
    await expect(compile(c('EXP_AVG(PRICE)'))).rejects.toThrow(/EXP_AVG takes \(expression, <time interval>\)/);
    await expect(compile(c('EXP_AVG(PRICE, 10)'))).rejects.toThrow(/half-life, a literal INTERVAL/);
    await expect(compile(c("EXP_AVG(PRICE, INTERVAL '0' SECOND)"))).rejects.toThrow(/interval length must be a positive number/);
  });
});

describe('MONOTONIC', () => {
  it('returns its argument, of its type, in a select list and around a ROWTIME window key', async () => {
    const c = `CREATE OR REPLACE STREAM "DEST" (TICKER VARCHAR(4), N BIGINT, P DOUBLE);
CREATE OR REPLACE PUMP "P" AS INSERT INTO "DEST"
  SELECT STREAM MONOTONIC(TICKER_SYMBOL), COUNT(*), SUM(MONOTONIC(PRICE))
  FROM "${SRC}" GROUP BY MONOTONIC(TICKER_SYMBOL), MONOTONIC(STEP("${SRC}".ROWTIME BY INTERVAL '10' SECOND));`;
    const rows: In[] = [{ t: t0 + 1, v: ['AMZN', 'T', 0, 1.5] }, { t: t0 + 2, v: ['AMZN', 'T', 0, 2] }, { t: t0 + 10_001, v: ['AMZN', 'T', 0, 4] }];
    const out = (await run(c, rows, t0 + 60_000)).get('DEST')!;
    expect(out.map((r) => [r.t - t0, ...r.v])).toEqual([[10_000, 'AMZN', 2, 3.5], [20_000, 'AMZN', 1, 4]]);
  });

  it('GROUP BY MONOTONIC(x) with no ROWTIME window is rejected, naming the limit', async () => {
    const c = `CREATE OR REPLACE STREAM "DEST" (TICKER VARCHAR(4), N BIGINT);
CREATE OR REPLACE PUMP "P" AS INSERT INTO "DEST" SELECT STREAM TICKER_SYMBOL, COUNT(*) FROM "${SRC}" GROUP BY MONOTONIC(TICKER_SYMBOL);`;
    await expect(compile(c)).rejects.toMatchObject({ line: 2, message: expect.stringMatching(/GROUP BY MONOTONIC\(…\) is supported only together with a ROWTIME window/) });
  });
});

describe('COUNT_DISTINCT_ITEMS_TUMBLING', () => {
  // The SQL reference's Example 1, unchanged.
  const example = `CREATE OR REPLACE STREAM DESTINATION_SQL_STREAM (
    NUMBER_OF_DISTINCT_ITEMS BIGINT);

CREATE OR REPLACE PUMP "STREAM_PUMP" AS 
   INSERT INTO "DESTINATION_SQL_STREAM"
      SELECT STREAM * 
      FROM TABLE(COUNT_DISTINCT_ITEMS_TUMBLING(
          CURSOR(SELECT STREAM * FROM "SOURCE_SQL_STREAM_001"),  -- pointer to the data stream
            'TICKER_SYMBOL',                                     -- name of column in single quotes
            60                                                   -- tumbling window size in seconds
      )
);`;

  it("the reference's Example 1: distinct TICKER_SYMBOLs per 60 s window, the window's end as ROWTIME", async () => {
    const r = rng(5);
    const rows: In[] = Array.from({ length: 600 }, (_, i) => {
      const minute = Math.floor(i / 200);
      // Minute m draws from 10·(m+1) symbols (some unseen), a few NULLs that are not items.
      const sym = i % 50 === 7 ? null : `S${Math.floor(r() * 10 * (minute + 1))}`;
      return { t: t0 + minute * 60_000 + (i % 200) * 290, v: [sym, 'TECH', 0, 1] };
    });
    const want = new Map<number, Set<unknown>>();
    for (const x of rows) {
      const end = Math.floor(x.t / 60_000) * 60_000 + 60_000;
      const s = want.get(end) ?? new Set();
      if (x.v[0] !== null) s.add(x.v[0]);
      want.set(end, s);
    }
    const out = (await run(example, rows, t0 + 10 * 60_000)).get('DESTINATION_SQL_STREAM')!;
    expect(out.map((o: Row) => [o.t, ...o.v])).toEqual([...want].map(([end, s]) => [end, s.size]));
    expect(new Set(out.map((o) => o.v[0])).size).toBe(3); // the windows differ: each count is its own
  });

  it('takes a cursor with a WHERE and a column list, and the stream named with an alias', async () => {
    const c = `CREATE OR REPLACE STREAM "DEST" (N BIGINT);
CREATE OR REPLACE PUMP "P" AS INSERT INTO "DEST" SELECT STREAM NUMBER_OF_DISTINCT_ITEMS
  FROM TABLE(COUNT_DISTINCT_ITEMS_TUMBLING(CURSOR(SELECT STREAM s.SECTOR FROM "${SRC}" AS s WHERE s.PRICE > 10), 'SECTOR', 5));`;
    const rows: In[] = [['A', 20], ['B', 20], ['A', 30], ['C', 5], ['D', 50]].map(([sec, p], i) => ({ t: t0 + i * 1000, v: ['X', sec!, 0, p!] }));
    const out = (await run(c, rows, t0 + 60_000)).get('DEST')!;
    expect(out.map((o) => [o.t - t0, o.v[0]])).toEqual([[5000, 3]]);
  });

  it('rejects bad arguments with the reason', async () => {
    const bad = (args: string) => compile(`CREATE OR REPLACE STREAM "DEST" (N BIGINT);
CREATE OR REPLACE PUMP "P" AS INSERT INTO "DEST" SELECT STREAM * FROM TABLE(COUNT_DISTINCT_ITEMS_TUMBLING(${args}));`);
    const cur = `CURSOR(SELECT STREAM * FROM "${SRC}")`;
    await expect(bad(`${cur}, TICKER_SYMBOL, 60`)).rejects.toThrow(/COUNT_DISTINCT_ITEMS_TUMBLING's column name is a string in single quotes/);
    await expect(bad(`${cur}, 'TICKER_SYMBOL', 0`)).rejects.toMatchObject({ line: 2, message: expect.stringMatching(/window size is whole seconds from 1 to 3600/) });
    await expect(bad(`${cur}, 'TICKER_SYMBOL', 3601`)).rejects.toThrow(/1 to 3600/);
    await expect(bad(`${cur}, 'TICKER_SYMBOL', 5, 60`)).rejects.toThrow(/takes \(CURSOR\(…\), 'column', windowSize\)/);
    await expect(bad(`"${SRC}", 'TICKER_SYMBOL', 60`)).rejects.toThrow(/first argument is CURSOR/);
    await expect(bad(`${cur}, 'NO_SUCH', 60`)).rejects.toThrow(/NO_SUCH/);
  });
});

describe('two-phase aggregation', () => {
  const input = { name: SRC, columns: STOCK.columns };
  it('leaves FIRST_VALUE / LAST_VALUE pumps on one active replica, saying why', () => {
    const code = `CREATE OR REPLACE STREAM "DEST" (TICKER VARCHAR(4), F DOUBLE, N BIGINT);
CREATE OR REPLACE PUMP "P" AS INSERT INTO "DEST" SELECT STREAM TICKER_SYMBOL, FIRST_VALUE(PRICE), COUNT(*)
  FROM "${SRC}" GROUP BY TICKER_SYMBOL, STEP("${SRC}".ROWTIME BY INTERVAL '10' SECOND);`;
    expect(decompose(code, [input], ['DEST'])).toEqual({ decomposable: false, reason: expect.stringMatching(/pump P: FIRST_VALUE follows the rows' arrival order/) });
    expect(decompose(code.replace('FIRST_VALUE', 'LAST_VALUE'), [input], ['DEST'])).toMatchObject({ decomposable: false, reason: expect.stringMatching(/LAST_VALUE/) });
  });

  it('leaves EXP_AVG and COUNT_DISTINCT_ITEMS_TUMBLING pumps on one active replica', () => {
    const exp = `CREATE OR REPLACE STREAM "DEST" (A DOUBLE);
CREATE OR REPLACE PUMP "P" AS INSERT INTO "DEST" SELECT STREAM EXP_AVG(PRICE, INTERVAL '10' SECOND) OVER W FROM "${SRC}" WINDOW W AS (RANGE INTERVAL '30' SECOND PRECEDING);`;
    expect(decompose(exp, [input], ['DEST'])).toMatchObject({ decomposable: false, reason: expect.stringMatching(/sliding windows are not decomposable/) });
    const cd = `CREATE OR REPLACE STREAM "DEST" (N BIGINT);
CREATE OR REPLACE PUMP "P" AS INSERT INTO "DEST" SELECT STREAM * FROM TABLE(COUNT_DISTINCT_ITEMS_TUMBLING(CURSOR(SELECT STREAM * FROM "${SRC}"), 'TICKER_SYMBOL', 60));`;
    expect(decompose(cd, [input], ['DEST'])).toMatchObject({ decomposable: false });
  });
});
