// The SQL reference's Boolean (ANY, EVERY) and Streaming SQL functions (LAG, NTH_VALUE) through the
// engine, with the pages' own SQL where they give one; expected values are worked out here from the rows.
import { runApp, pumpOf, type Value } from './sqlref.js';

/** Stock rows: [ticker, price] one second apart (CHANGE 0, N the row's number). */
const stock = (rows: [string, number | null][]) => rows.map(([t, p], i) => ({ at: i * 1000, v: [t, 'TECH', 0, p, i, 0] as Value[] }));

describe('Boolean Functions', () => {
  it("ANY and EVERY as aggregates of a window (the pages' `ANY (price < 1)` / `EVERY (price < 1)`)", async () => {
    const out = await runApp(pumpOf('TICKER_SYMBOL VARCHAR(4), ANY_BELOW BOOLEAN, EVERY_BELOW BOOLEAN',
      'TICKER_SYMBOL, ANY (price < 1), EVERY (price < 1)',
      ' GROUP BY TICKER_SYMBOL, FLOOR("SOURCE_SQL_STREAM_001".ROWTIME TO MINUTE)'),
    stock([['A', 0.5], ['A', 2], ['B', 3], ['B', 4], ['C', 0.1], ['C', 0.2]]));
    expect((out.get('DESTINATION_SQL_STREAM') ?? []).map((r) => r.v).sort()).toEqual([['A', true, false], ['B', false, false], ['C', true, true]]);
  });

  it("the pages' snippets unchanged: SELECT STREAM ANY / EVERY (price < 1) FROM trades GROUP BY (FLOOR trades.rowtime to hour)", async () => {
    const code = (fn: string) => `CREATE OR REPLACE STREAM trades (ticker VARCHAR(4), price REAL);
CREATE OR REPLACE PUMP "FEED" AS INSERT INTO trades SELECT STREAM TICKER_SYMBOL, PRICE FROM "SOURCE_SQL_STREAM_001";
CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (RESULT BOOLEAN);
CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
 SELECT STREAM ${fn} (price < 1) FROM trades
  GROUP BY (FLOOR trades.rowtime to hour)`;
    // Hour 1: one price below 1; hour 2: none; hour 3: all.
    const rows = [[0, 5], [1, 0.5], [3_600_000, 2], [3_600_001, 3], [7_200_000, 0.1], [7_200_001, 0.2]].map(([at, p]) => ({ at: at!, v: ['A', 'TECH', 0, p!, 0, 0] as Value[] }));
    const any = await runApp(code('ANY'), rows, 4 * 3_600_000);
    const every = await runApp(code('EVERY'), rows, 4 * 3_600_000);
    expect((any.get('DESTINATION_SQL_STREAM') ?? []).map((r) => r.v[0])).toEqual([true, false, true]);
    expect((every.get('DESTINATION_SQL_STREAM') ?? []).map((r) => r.v[0])).toEqual([false, false, true]);
  });

  it('`x = ANY (…)` keeps its meaning as a quantified comparison', async () => {
    const out = await runApp(pumpOf('HIT BOOLEAN', 'N = ANY ([1, 2])'), stock([['A', 1], ['A', 1], ['A', 1]]));
    expect((out.get('DESTINATION_SQL_STREAM') ?? []).map((r) => r.v[0])).toEqual([false, true, true]);
  });
});

describe('Streaming SQL Functions', () => {
  it("LAG: the reference's Example 1 unchanged (IGNORE NULLS after the call, a default, PARTITION BY over RANGE)", async () => {
    const code = `CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (
    ticker_symbol VARCHAR(4),
    price     DOUBLE,
    previous_price DOUBLE,
    previous_price_2 DOUBLE);
CREATE OR REPLACE PUMP "STREAM_PUMP" AS 
    INSERT INTO "DESTINATION_SQL_STREAM"
    SELECT STREAM ticker_symbol, 
         price,
         LAG(price, 1, 0) IGNORE NULLS OVER (
            PARTITION BY ticker_symbol
            RANGE INTERVAL '1' MINUTE PRECEDING),
         LAG(price, 2, 0) IGNORE NULLS OVER (
            PARTITION BY ticker_symbol
            RANGE INTERVAL '1' MINUTE PRECEDING)   
    FROM "SOURCE_SQL_STREAM_001"`;
    const rows: [string, number | null][] = [['A', 10], ['B', 50], ['A', null], ['A', 12], ['B', 51], ['A', 13]];
    const out = await runApp(code, stock(rows));
    // Oracle: per ticker, the non-null prices before the row (all within the minute), newest first.
    const want = rows.map(([t, p], i) => {
      const prev = rows.slice(0, i).filter(([u, q]) => u === t && q !== null).map(([, q]) => q!).reverse();
      return [t, p, prev[0] ?? 0, prev[1] ?? 0];
    });
    expect(out.get('error_stream') ?? []).toEqual([]);
    expect((out.get('DESTINATION_SQL_STREAM') ?? []).map((r) => r.v)).toEqual(want);
  });

  it('LAG gives the default when the n-th earlier row is outside the window (older than RANGE, further back than ROWS)', async () => {
    // Rows 40 s apart: within a 1-minute range only the row before is in the window.
    const rows = [10, 20, 30, 40].map((p, i) => ({ at: i * 40_000, v: ['A', 'TECH', 0, p, i, 0] as Value[] }));
    const out = await runApp(pumpOf('P DOUBLE, R1 DOUBLE, R2 DOUBLE, W1 DOUBLE, W3 DOUBLE',
      `price, LAG(price) OVER (RANGE INTERVAL '1' MINUTE PRECEDING), LAG(price, 2, -1) OVER (RANGE INTERVAL '1' MINUTE PRECEDING),
       LAG(price, 1, -1) OVER (ROWS 1 PRECEDING), LAG(price, 3, -1) OVER (ROWS 2 PRECEDING)`), rows, 400_000);
    expect((out.get('DESTINATION_SQL_STREAM') ?? []).map((r) => r.v)).toEqual([
      [10, null, -1, -1, -1], [20, 10, -1, 10, -1], [30, 20, -1, 20, -1], [40, 30, -1, 30, -1]]);
  });

  it('NTH_VALUE(x, n) [FROM FIRST | FROM LAST] [IGNORE NULLS] OVER w; NULL when the window is too short', async () => {
    const rows: [string, number | null][] = [['A', 1], ['A', null], ['A', 3], ['A', 7]];
    const out = await runApp(pumpOf('F2 DOUBLE, L2 DOUBLE, F2I DOUBLE, L1I DOUBLE',
      'NTH_VALUE(price, 2) OVER w, NTH_VALUE(price, 2) FROM LAST OVER w, NTH_VALUE(price, 2) FROM FIRST IGNORE NULLS OVER w, NTH_VALUE(price, 1) FROM LAST IGNORE NULLS OVER w',
      ' WINDOW w AS (ROWS 5 PRECEDING)'), stock(rows));
    const want = rows.map((_, i) => {
      const frame = rows.slice(0, i + 1).map(([, p]) => p);
      const nn = frame.filter((p) => p !== null);
      return [frame[1] ?? null, frame.length >= 2 ? frame[frame.length - 2] : null, nn[1] ?? null, nn[nn.length - 1] ?? null];
    });
    expect((out.get('DESTINATION_SQL_STREAM') ?? []).map((r) => r.v)).toEqual(want);
  });
});
