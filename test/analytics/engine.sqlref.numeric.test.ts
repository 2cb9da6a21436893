// The SQL reference's Numeric functions and EXTRACT, each page's Function → Result table run through
// the engine (the tables are the oracle), and the errors the pages document going to error_stream.
import { expectTable, runApp, pumpOf } from './sqlref.js';

const at = (s: string) => Date.parse(s.replace(' ', 'T') + 'Z');

describe('Numeric Functions (SQL reference tables)', () => {
  it('ABS, of numbers and of an INTERVAL', async () => {
    await expectTable([['ABS(2.0)', 2], ['ABS(-1.0)', 1], ['ABS(0)', 0], ['ABS(-3 * 3)', 9]], 'DOUBLE');
    // ABS(INTERVAL '-3 4:20' DAY TO MINUTE) = INTERVAL '3 4:20' DAY TO MINUTE, seen added to a timestamp.
    await expectTable([["TIMESTAMP '2004-01-01 00:00:00' + ABS(INTERVAL '-3 4:20' DAY TO MINUTE)", at('2004-01-04 04:20:00')]], 'TIMESTAMP');
  });

  it('CEIL / CEILING and FLOOR, of numbers and TO a time unit', async () => {
    await expectTable([['CEIL(2.0)', 2], ['CEIL(-1.0)', -1], ['CEIL(5.2)', 6], ['CEILING(-3.3)', -3], ['CEILING(-3 * 3.1)', -9],
      ['FLOOR(2.0)', 2], ['FLOOR(-1.0)', -1], ['FLOOR(5.2)', 5], ['FLOOR(-3.3)', -4], ['FLOOR(-3 * 3.1)', -10]], 'DOUBLE');
    const ts = "TIMESTAMP '2004-09-30 13:48:23'";
    await expectTable([
      [`CEILING(${ts} TO HOUR)`, at('2004-09-30 14:00:00')], [`CEILING(${ts} TO MINUTE)`, at('2004-09-30 13:49:00')],
      [`CEILING(${ts} TO DAY)`, at('2004-10-01 00:00:00')], [`CEILING(${ts} TO YEAR)`, at('2005-01-01 00:00:00')],
      [`FLOOR(${ts} TO HOUR)`, at('2004-09-30 13:00:00')], [`FLOOR(${ts} TO MINUTE)`, at('2004-09-30 13:48:00')],
      [`FLOOR(${ts} TO DAY)`, at('2004-09-30 00:00:00')], [`FLOOR(${ts} TO YEAR)`, at('2004-01-01 00:00:00')],
    ], 'TIMESTAMP');
  });

  it('EXP, LN, LOG10, POWER', async () => {
    const table: [string, number][] = [['EXP(1)', 2.7182818284590455], ['EXP(0)', 1], ['EXP(-1)', 0.36787944117144233], ['EXP(10)', 22026.465794806718],
      ['EXP(2.5)', 12.182493960703473], ['LN(1)', 0], ['LN(10)', 2.302585092994046], ['LN(2.5)', 0.9162907318741551],
      ['LOG10(1)', 0], ['LOG10(100)', 2], ["log10(cast('23' as decimal))", 1.3617278360175928],
      ['POWER(3,2)', 9], ['POWER(-2,3)', -8], ['POWER(4,-2)', 0.0625], ['POWER(10.1,2.5)', 324.19285157140644]];
    const out = await runApp(pumpOf(table.map((_, i) => `C${i} DOUBLE`).join(', '), table.map(([e]) => e).join(', ')), [{ v: ['A', 'B', 1, 1, 1, 0] }]);
    const got = out.get('DESTINATION_SQL_STREAM')![0]!.v as number[];
    // Java's exp(1) is one ulp above DuckDB's (2.7182818284590455 against …045): compared to 15 digits.
    table.forEach(([e, want], i) => expect([e, got[i]! / (want || 1)]).toEqual([e, expect.closeTo(want ? 1 : 0, 14)]));
  });

  it('MOD, and the errors the pages document (MOD by zero, LN/LOG10 of 0 or less, POWER(0, <0), POWER(<0, fraction)) fail only that row', async () => {
    await expectTable([['MOD(4,2)', 0], ['MOD(5,3)', 2], ['MOD(-4,3)', -1], ['MOD(5,12)', 5]], 'INTEGER');
    const bad = ['MOD(N, 0)', 'LN(N - 1)', 'LOG10(-N)', 'POWER(N - 1, -1)', 'POWER(-N, 0.5)'];
    for (const expr of bad) {
      const out = await runApp(pumpOf('A DOUBLE', `${expr} + 0 * N`), [{ v: ['A', 'B', 1, 1, 1, 0] }, { v: ['A', 'B', 1, 1, null, 0] }]);
      // The NULL row gives NULL; the other goes to error_stream with the reason.
      expect([expr, (out.get('DESTINATION_SQL_STREAM') ?? []).map((r) => r.v)]).toEqual([expr, [[null]]]);
      expect([expr, (out.get('error_stream') ?? []).length]).toEqual([expr, 1]);
    }
  });

  it('STEP on integers and on timestamps', async () => {
    await expectTable([['STEP(23 BY 5)', 20], ['STEP(30 BY 10)', 30], ['STEP(-3 BY 5)', -5], ['STEP(N BY 5)', 0]], 'INTEGER');
    const ts = (d: string) => `CAST('2004-09-${d} 13:48:23' as TIMESTAMP)`;
    await expectTable([
      [`STEP(${ts('30')} BY INTERVAL '10' SECOND)`, at('2004-09-30 13:48:20')], [`STEP(${ts('30')} BY INTERVAL '2' HOUR)`, at('2004-09-30 12:00:00')],
      [`STEP(${ts('30')} BY INTERVAL '5' MINUTE)`, at('2004-09-30 13:45:00')], [`STEP(${ts('30')} BY INTERVAL '1' YEAR)`, at('2004-01-01 00:00:00')],
      // The reference's table says 2004-09-25 here; its stated definition, multiples of 5 days from
      // 1970-01-01, gives 2004-09-24 (day 12688 since the epoch is 3 past a multiple of 5), as here.
      [`STEP(${ts('27')} BY INTERVAL '5' DAY)`, at('2004-09-24 00:00:00')],
    ], 'TIMESTAMP');
  });
});

describe('EXTRACT (SQL reference table)', () => {
  it('fields of a DAY TO SECOND interval and of a timestamp; SECOND keeps its milliseconds', async () => {
    const iv = "INTERVAL '2 3:4:5.678' DAY TO SECOND";
    await expectTable([[`EXTRACT(DAY FROM ${iv})`, 2], [`EXTRACT(HOUR FROM ${iv})`, 3], [`EXTRACT(MINUTE FROM ${iv})`, 4],
      ["EXTRACT(MINUTE FROM TIMESTAMP '2016-09-23 04:29:26.234')", 29], ["EXTRACT (HOUR FROM TIMESTAMP '2016-09-23 04:29:26.234')", 4]], 'BIGINT');
    await expectTable([[`EXTRACT(SECOND FROM ${iv})`, 5.678], ["EXTRACT(SECOND FROM TIMESTAMP '2016-09-23 04:29:26.234')", 26.234]], 'DECIMAL(5,3)');
  });

  it('compound interval literals (YEAR TO MONTH, HOUR TO MINUTE, a negative one)', async () => {
    await expectTable([
      ["TIMESTAMP '2004-01-31 00:00:00' + INTERVAL '1-1' YEAR TO MONTH", at('2005-02-28 00:00:00')],
      ["TIMESTAMP '2004-01-01 00:00:00' + INTERVAL '1:30' HOUR TO MINUTE", at('2004-01-01 01:30:00')],
      ["TIMESTAMP '2004-01-01 00:00:00' + INTERVAL '-1 1' DAY TO HOUR", at('2003-12-30 23:00:00')],
      // … and as STEP's width (multiples of 1.5 h from 1970-01-01).
      ["STEP(TIMESTAMP '2004-09-30 13:48:23' BY INTERVAL '1:30' HOUR TO MINUTE)", at('2004-09-30 13:30:00')],
    ], 'TIMESTAMP');
  });
});

describe('Statistical Variance and Deviation Functions', () => {
  // "Each of these functions takes a set of numbers, ignores nulls, and can be used as either an
  // aggregate function or an analytical function." Oracle: the textbook formulas in JavaScript.
  const prices = [1, 3, null, 8, 4];
  const stats = (xs: number[]) => {
    const n = xs.length;
    const mean = xs.reduce((a, b) => a + b, 0) / n;
    const ss = xs.reduce((a, b) => a + (b - mean) ** 2, 0);
    return [Math.sqrt(ss / n), n > 1 ? Math.sqrt(ss / (n - 1)) : null, ss / n, n > 1 ? ss / (n - 1) : null];
  };
  const rows = prices.map((p, i) => ({ at: i * 1000, v: ['A', 'TECH', 0, p, i, 0] }));
  const close = (got: unknown[], want: (number | null)[]) => want.forEach((w, i) => (w === null ? expect(got[i]).toBeNull() : expect(got[i]).toBeCloseTo(w, 10)));

  it('STDDEV_POP, STDDEV_SAMP, VAR_POP, VAR_SAMP as aggregates of a window', async () => {
    const out = await runApp(pumpOf('A DOUBLE, B DOUBLE, C DOUBLE, D DOUBLE', 'STDDEV_POP(price), STDDEV_SAMP(price), VAR_POP(price), VAR_SAMP(price)',
      ' GROUP BY STEP("SOURCE_SQL_STREAM_001".ROWTIME BY INTERVAL \'60\' SECOND)'), rows);
    close(out.get('DESTINATION_SQL_STREAM')![0]!.v, stats(prices.filter((p): p is number => p !== null)));
  });

  it('… and over a sliding window (each row: the window up to it)', async () => {
    const out = await runApp(pumpOf('A DOUBLE, B DOUBLE, C DOUBLE, D DOUBLE', 'STDDEV_POP(price) OVER w, STDDEV_SAMP(price) OVER w, VAR_POP(price) OVER w, VAR_SAMP(price) OVER w',
      " WINDOW w AS (RANGE INTERVAL '1' MINUTE PRECEDING)"), rows);
    const got = out.get('DESTINATION_SQL_STREAM')!.map((r) => r.v);
    prices.forEach((_, i) => close(got[i]!, stats(prices.slice(0, i + 1).filter((p): p is number => p !== null))));
  });
});
