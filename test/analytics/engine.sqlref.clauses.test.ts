// The SQL reference's statements and clauses through the engine: UNION ALL, SELECT DISTINCT, WHERE,
// HAVING, ORDER BY within a window; forms that cannot be given KDA's meaning are refused by name.
import { Engine } from '../../analytics/engine/engine.js';
import { decompose } from '../../analytics/sql/decompose.js';
import { runApp, pumpOf, STOCK, T0, type Value } from './sqlref.js';

const stock = (rows: [string, number][]) => rows.map(([t, p], i) => ({ at: i * 1000, v: [t, 'TECH', 0, p, i, 0] as Value[] }));
const dest = (out: Map<string, { v: Value[] }[]>) => (out.get('DESTINATION_SQL_STREAM') ?? []).map((r) => r.v);

describe('Statements and clauses', () => {
  it('SELECT … UNION ALL SELECT … merges both branches into the target', async () => {
    const code = `CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (T VARCHAR(4), P DOUBLE);
CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
  SELECT STREAM TICKER_SYMBOL, price FROM "SOURCE_SQL_STREAM_001" WHERE price > 2
  UNION ALL
  SELECT STREAM LOWER(TICKER_SYMBOL), -price FROM "SOURCE_SQL_STREAM_001" WHERE price <= 2;`;
    const out = await runApp(code,
      stock([['A', 1], ['B', 3], ['C', 2]]));
    expect(dest(out).sort()).toEqual([['B', 3], ['a', -1], ['c', -2]]);
  });

  it('WHERE, GROUP BY with HAVING, ORDER BY within a tumbling window, DISTINCT over a window', async () => {
    const rows = stock([['A', 1], ['B', 5], ['A', 2], ['C', 7], ['C', 1]]);
    const having = await runApp(pumpOf('T VARCHAR(4), N BIGINT, S DOUBLE', 'TICKER_SYMBOL, COUNT(*), SUM(price)',
      ` WHERE price < 6 GROUP BY TICKER_SYMBOL, STEP("SOURCE_SQL_STREAM_001".ROWTIME BY INTERVAL '60' SECOND) HAVING COUNT(*) > 1`), rows);
    expect(dest(having)).toEqual([['A', 2, 3]]);
    const ordered = await runApp(pumpOf('T VARCHAR(4), S DOUBLE', 'TICKER_SYMBOL, SUM(price) AS S',
      ` GROUP BY TICKER_SYMBOL, STEP("SOURCE_SQL_STREAM_001".ROWTIME BY INTERVAL '60' SECOND) ORDER BY STEP("SOURCE_SQL_STREAM_001".ROWTIME BY INTERVAL '60' SECOND), S DESC`), rows);
    expect(dest(ordered)).toEqual([['C', 8], ['B', 5], ['A', 3]]);
    const distinct = await runApp(pumpOf('T VARCHAR(4)', 'DISTINCT TICKER_SYMBOL',
      ` GROUP BY TICKER_SYMBOL, FLOOR("SOURCE_SQL_STREAM_001".ROWTIME TO MINUTE)`), rows);
    expect(dest(distinct).sort()).toEqual([['A'], ['B'], ['C']]);
  });

  it('WINDOW frames: BETWEEN … AND CURRENT ROW, RANGE / ROWS CURRENT ROW; FOLLOWING and UNBOUNDED refused', async () => {
    // Two rows at each of three ROWTIMEs (peers share one).
    const rows = [0, 0, 1000, 1000, 2000, 2000].map((at, i) => ({ at, v: ['A', 'TECH', 0, i, i, 0] as Value[] }));
    const out = await runApp(pumpOf('R2 BIGINT, RB BIGINT, RC BIGINT, WC BIGINT',
      "COUNT(*) OVER (ROWS BETWEEN 2 PRECEDING AND CURRENT ROW), COUNT(*) OVER (RANGE BETWEEN INTERVAL '1' SECOND PRECEDING AND CURRENT ROW), COUNT(*) OVER (RANGE CURRENT ROW), COUNT(*) OVER (ROWS CURRENT ROW)"), rows, 10_000);
    // A RANGE frame ends at the current row: of its ROWTIME, only the rows that arrived up to it (KDA
    // evaluates a row's window as it arrives; SQL's peers would give the first of two the second too).
    expect(dest(out)).toEqual([[1, 1, 1, 1], [2, 2, 2, 1], [3, 3, 1, 1], [3, 4, 2, 1], [3, 3, 1, 1], [3, 4, 2, 1]]);
    const compile = (frame: string) => Engine.compile({ code: pumpOf('N BIGINT', `COUNT(*) OVER (${frame})`), inputs: [STOCK] }).then((e) => e.close());
    await expect(compile('ROWS BETWEEN 1 PRECEDING AND 1 FOLLOWING')).rejects.toThrow(/ends at the current row.*FOLLOWING is not allowed/);
    await expect(compile('ROWS UNBOUNDED PRECEDING')).rejects.toThrow(/an unbounded window never closes on a stream/);
    await expect(compile("RANGE INTERVAL '1-1' YEAR TO MONTH PRECEDING")).rejects.toThrow(/has no fixed length/);
    // A compound interval as a frame's length: 1.5 minutes holds the row 60 s back, not the one 120 s back.
    const spaced = [1, 2, 3].map((p, i) => ({ at: i * 60_000, v: ['A', 'TECH', 0, p, i, 0] as Value[] }));
    const framed = await runApp(pumpOf('N BIGINT', "COUNT(*) OVER (RANGE INTERVAL '0:01:30' HOUR TO SECOND PRECEDING)"), spaced, 400_000);
    expect(dest(framed)).toEqual([[1], [2], [2]]);
  });

  it("CREATE FUNCTION … RETURN expr: the EXTRACT page's FLOOR30MIN unchanged, called from a pump; NULL on NULL input", async () => {
    const code = `CREATE or replace FUNCTION FLOOR30MIN( p_time TIMESTAMP )
RETURNS  TIMESTAMP
CONTAINS SQL
RETURNS NULL ON NULL INPUT
RETURN  floor(p_time to HOUR) + (( EXTRACT (  MINUTE FROM p_time  ) / 30)* INTERVAL '30' MINUTE ) ;
${pumpOf('T TIMESTAMP, H TIMESTAMP', 'TS, FLOOR30MIN(TS)')}`;
    const ts = [Date.UTC(2016, 8, 23, 4, 29, 26, 234), Date.UTC(2016, 8, 23, 4, 30, 0), Date.UTC(2016, 8, 23, 23, 59, 59)];
    const out = await runApp(code, [...ts, null].map((t, i) => ({ at: i, v: ['A', 'TECH', 0, 1, 1, t] })));
    expect(out.get('error_stream') ?? []).toEqual([]);
    // Oracle: the half hour the time falls in.
    expect(dest(out)).toEqual([...ts.map((t) => [t, Math.floor(t / 1_800_000) * 1_800_000]), [null, null]]);
    // A Java function (EXTERNAL NAME) is refused by name.
    await expect(Engine.compile({ code: `CREATE FUNCTION F(x INTEGER) RETURNS INTEGER LANGUAGE JAVA PARAMETER STYLE SYSTEM DEFINED JAVA NO SQL EXTERNAL NAME 'c.F';\n${pumpOf('A INTEGER', 'N')}`, inputs: [STOCK] }))
      .rejects.toThrow(/external \(Java\) functions are not supported/);
  });

  it("an application's functions go into the shards' partial code too, so a pump using one still scales out", async () => {
    const w = `STEP("SOURCE_SQL_STREAM_001".ROWTIME BY INTERVAL '10' SECOND)`;
    const code = `CREATE FUNCTION CHEAP(p REAL) RETURNS BOOLEAN RETURN p < 10;
${pumpOf('T VARCHAR(4), N BIGINT, W TIMESTAMP', `TICKER_SYMBOL, COUNT(*), ${w}`, ` WHERE CHEAP(price) GROUP BY TICKER_SYMBOL, ${w}`)}`;
    const d = decompose(code, [STOCK.name], ['DESTINATION_SQL_STREAM']);
    expect(d.decomposable).toBe(true);
    if (!d.decomposable) return;
    expect(d.partialCode).toContain('CREATE FUNCTION CHEAP(p REAL) RETURNS BOOLEAN RETURN p < 10;');
    (await Engine.compile({ code: d.partialCode, inputs: [STOCK] })).close();
  });

  it("`expr AS ROWTIME` sets the output row's ROWTIME (the ROWTIME page's column alias), seen by a downstream window", async () => {
    const code = `CREATE OR REPLACE STREAM "HOURLY" (T VARCHAR(4));
CREATE OR REPLACE PUMP "RETIME" AS INSERT INTO "HOURLY" SELECT STREAM CEIL(TS TO HOUR) AS ROWTIME, TICKER_SYMBOL FROM "SOURCE_SQL_STREAM_001";
CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (T VARCHAR(4), N BIGINT, AT_ROW TIMESTAMP);
CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM" SELECT STREAM T, COUNT(*) OVER w, ROWTIME FROM "HOURLY"
  WINDOW w AS (PARTITION BY T RANGE INTERVAL '1' SECOND PRECEDING);`;
    const ts = [Date.UTC(2024, 0, 1, 9, 10), Date.UTC(2024, 0, 1, 9, 50), Date.UTC(2024, 0, 1, 10, 5)];
    // The downstream window evaluates a row once the ROWTIME watermark passes it: advance past 11:00.
    const out = await runApp(code, ts.map((t, i) => ({ at: i, v: ['A', 'TECH', 0, 1, 1, t] as Value[] })), Date.UTC(2024, 0, 2) - T0);
    const hourly = out.get('HOURLY')!;
    expect(hourly.map((r) => [r.t, r.v])).toEqual(ts.map((t) => [Math.ceil(t / 3_600_000) * 3_600_000, ['A']]));
    // The first two share ROWTIME 10:00: the first sees itself, the second both; ROWTIME in the next pump is the new one.
    expect(dest(out)).toEqual([['A', 1, ts.map((t) => Math.ceil(t / 3_600_000) * 3_600_000)[0]], ['A', 2, Date.UTC(2024, 0, 1, 10)], ['A', 1, Date.UTC(2024, 0, 1, 11)]]);
    const bad = await runApp(pumpOf('T VARCHAR(4)', 'CAST(NULL AS TIMESTAMP) AS ROWTIME, TICKER_SYMBOL'), [{ v: ['A', 'TECH', 0, 1, 1, 0] }]);
    expect(String(bad.get('error_stream')![0]!.v[3])).toMatch(/the ROWTIME given AS ROWTIME is NULL/);
    const compile = (c: string) => Engine.compile({ code: c, inputs: [STOCK] }).then((e) => e.close());
    await expect(compile(pumpOf('N BIGINT', 'COUNT(*), FLOOR(ROWTIME TO HOUR) AS ROWTIME', ' GROUP BY FLOOR(ROWTIME TO MINUTE)'))).rejects.toThrow(/AS ROWTIME .* without a GROUP BY window only/);
  });

  it('refused with the reason: streaming DISTINCT without a window, UNION without ALL, binary literals, EXISTS / IN sub-queries, a TRIM character of two, a stream-to-stream join', async () => {
    const compile = (code: string) => Engine.compile({ code, inputs: [STOCK] }).then((e) => e.close());
    await expect(compile(pumpOf('T VARCHAR(4)', 'DISTINCT TICKER_SYMBOL'))).rejects.toThrow(/SELECT STREAM DISTINCT without a GROUP BY window is not supported/);
    await expect(compile(pumpOf('T VARCHAR(4)', 'TICKER_SYMBOL FROM SOURCE_SQL_STREAM_001 UNION SELECT STREAM SECTOR'))).rejects.toThrow(/UNION without ALL .* is not supported/);
    await expect(compile(pumpOf('B VARBINARY(4)', "X'0FA1'"))).rejects.toThrow(/binary literals \(X'…'\) are not supported/);
    await expect(compile(pumpOf('T VARCHAR(4)', 'TICKER_SYMBOL', ' WHERE EXISTS (SELECT 1 FROM "SOURCE_SQL_STREAM_001" x WHERE x.N > 5)'))).rejects.toThrow(/sub-queries in conditions \(EXISTS \(…\)\) are not supported/);
    await expect(compile(pumpOf('T VARCHAR(4)', 'TICKER_SYMBOL', ' WHERE N IN (SELECT N FROM "SOURCE_SQL_STREAM_001")'))).rejects.toThrow(/IN \(SELECT …\)\) are not supported/);
    // TRIM's page: "specifying an empty string or a string longer than one character results in an exception".
    await expect(compile(pumpOf('T VARCHAR(4)', "TRIM(BOTH 'xy' FROM TICKER_SYMBOL)"))).rejects.toThrow(/TRIM: the trim character must be one character, not 'xy'/);
    const join = `CREATE OR REPLACE STREAM "B" (T VARCHAR(4), P REAL);
CREATE OR REPLACE PUMP "PB" AS INSERT INTO "B" SELECT STREAM TICKER_SYMBOL, PRICE FROM "SOURCE_SQL_STREAM_001";
CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (T VARCHAR(4), P REAL);
CREATE OR REPLACE PUMP "P" AS INSERT INTO "DESTINATION_SQL_STREAM" SELECT STREAM a.TICKER_SYMBOL, b.P
  FROM "SOURCE_SQL_STREAM_001" OVER (RANGE INTERVAL '1' MINUTE PRECEDING) AS a JOIN "B" OVER (RANGE INTERVAL '1' MINUTE PRECEDING) AS b ON a.TICKER_SYMBOL = b.T;`;
    await expect(compile(join)).rejects.toThrow(/B is not a reference table/);
  });
});
