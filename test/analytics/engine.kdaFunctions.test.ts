// KDA SQL functions DuckDB lacks (TOP_K_ITEMS_TUMBLING, REGEX_REPLACE, TSDIFF,
// UNIX_TIMESTAMP, INITCAP) and the source column APPROXIMATE_ARRIVAL_TIME, run
// through the engine with the SQL of AWS's documentation where there is one.
// Expected values are computed here in JS from the same rows.
import { Engine, type Row } from '../../analytics/engine/engine.js';

const SRC = 'SOURCE_SQL_STREAM_001';
/** The KDA sample stock stream (Getting Started), as the SQL reference's examples use it. */
const STOCK = { name: SRC, columns: [
  { name: 'TICKER_SYMBOL', sqlType: 'VARCHAR(4)' }, { name: 'SECTOR', sqlType: 'VARCHAR(16)' },
  { name: 'CHANGE', sqlType: 'REAL' }, { name: 'PRICE', sqlType: 'REAL' },
] };

function rng(seed: number) {
  let s = seed >>> 0;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
}

async function run(input: typeof STOCK, code: string, rows: { t: number; v: (string | number | null)[] }[], until: number) {
  const e = await Engine.compile({ code, inputs: [input] });
  try {
    // In batches, as the worker feeds it, with the watermark following.
    for (let i = 0; i < rows.length; i += 37) {
      const b = rows.slice(i, i + 37);
      await e.push(SRC, b);
      await e.advance(b[b.length - 1]!.t - 1);
    }
    await e.advance(until);
    return e.drain();
  } finally {
    e.close();
  }
}

describe('TOP_K_ITEMS_TUMBLING', () => {
  const r = rng(3);
  const tickers = ['AMZN', 'MSFT', 'AAPL', 'TSLA', 'NFLX', 'GOOG', 'META', 'INTC', 'ORCL'];
  const t0 = 1_700_000_000_000 - (1_700_000_000_000 % 60_000);
  // Three minutes of rows, skewed so each minute has a different ranking.
  const rows = Array.from({ length: 900 }, (_, i) => {
    const minute = Math.floor(i / 300);
    const pick = Math.floor(r() ** (1.5 + minute) * tickers.length);
    const sym = tickers[(pick + minute * 2) % tickers.length]!;
    return { t: t0 + minute * 60_000 + Math.floor((i % 300) * 190), v: [sym, i % 3 === 0 ? 'TECH' : 'RETAIL', r() - 0.5, 10 + r() * 90] };
  });

  /** Asserts `got` (value, count per window end) is a correct top k of `rows` for windows of `sizeMs`. */
  function expectTopK(got: Row[], src: typeof rows, k: number, sizeMs: number) {
    const counts = new Map<number, Map<string, number>>();
    for (const x of src) {
      const end = Math.floor(x.t / sizeMs) * sizeMs + sizeMs;
      const m = counts.get(end) ?? new Map<string, number>();
      m.set(x.v[0] as string, (m.get(x.v[0] as string) ?? 0) + 1);
      counts.set(end, m);
    }
    const byEnd = new Map<number, Row[]>();
    for (const g of got) byEnd.set(g.t, [...(byEnd.get(g.t) ?? []), g]);
    expect([...byEnd.keys()].sort()).toEqual([...counts.keys()].sort());
    // Some window has more distinct values than k: the cut is exercised.
    expect([...counts.values()].some((m) => m.size > k)).toBe(true);
    for (const [end, m] of counts) {
      const out = byEnd.get(end)!;
      expect(out).toHaveLength(Math.min(k, m.size));
      // Each value's count is its true count in the window, values once each …
      for (const o of out) expect(o.v[1]).toBe(m.get(o.v[0] as string));
      expect(new Set(out.map((o) => o.v[0])).size).toBe(out.length);
      // … and no value left out occurs more often than one kept.
      const least = Math.min(...out.map((o) => o.v[1] as number));
      for (const [item, n] of m) if (!out.some((o) => o.v[0] === item)) expect(n).toBeLessThanOrEqual(least);
    }
  }

  it("the SQL reference's Example 1 unchanged: the 5 most frequent tickers per 60 s window", async () => {
    const code = `CREATE OR REPLACE STREAM DESTINATION_SQL_STREAM (
  "TICKER_SYMBOL" VARCHAR(4), 
  "MOST_FREQUENT_VALUES" BIGINT
);

CREATE OR REPLACE PUMP "STREAM_PUMP" AS 
    INSERT INTO "DESTINATION_SQL_STREAM"
    SELECT STREAM * 
        FROM TABLE (TOP_K_ITEMS_TUMBLING(
            CURSOR(SELECT STREAM * FROM "SOURCE_SQL_STREAM_001"),
            'TICKER_SYMBOL',         -- name of column in single quotes
            5,                       -- number of the most frequently occurring values
            60                       -- tumbling window size in seconds
            )
        );`;
    const out = await run(STOCK, code, rows, t0 + 10 * 60_000);
    expect(out.get('error_stream') ?? []).toEqual([]);
    const got = out.get('DESTINATION_SQL_STREAM') ?? [];
    expectTopK(got, rows, 5, 60_000);
  });

  it('a filtered cursor, named output columns and an alias', async () => {
    const code = `CREATE OR REPLACE STREAM "TOP_TECH" (ITEM VARCHAR(4), ITEM_COUNT DOUBLE, W TIMESTAMP);
CREATE OR REPLACE PUMP "P" AS INSERT INTO "TOP_TECH"
  SELECT STREAM t.ITEM, t.ITEM_COUNT, t.ROWTIME FROM TABLE(TOP_K_ITEMS_TUMBLING(
    CURSOR(SELECT STREAM s.TICKER_SYMBOL FROM "SOURCE_SQL_STREAM_001" AS s WHERE s.SECTOR = 'TECH' AND s.PRICE > 20),
    'TICKER_SYMBOL', 2, 10)) AS t;`;
    const out = await run(STOCK, code, rows, t0 + 10 * 60_000);
    expect(out.get('error_stream') ?? []).toEqual([]);
    const got = out.get('TOP_TECH') ?? [];
    const src = rows.filter((x) => x.v[1] === 'TECH' && (x.v[3] as number) > 20);
    expectTopK(got, src, 2, 10_000);
    // ROWTIME of a result row is its window's end.
    for (const g of got) expect(g.v[2]).toBe(g.t);
  });

  it('bad arguments are CreateApplication-style errors with a position', async () => {
    const bad = (args: string) => Engine.compile({ code: `CREATE OR REPLACE STREAM "D" (A VARCHAR(4), B BIGINT);
CREATE OR REPLACE PUMP "P" AS INSERT INTO "D" SELECT STREAM * FROM TABLE(TOP_K_ITEMS_TUMBLING(${args}));`, inputs: [STOCK] });
    await expect(bad(`CURSOR(SELECT STREAM * FROM "SOURCE_SQL_STREAM_001"), TICKER_SYMBOL, 5, 60`)).rejects.toThrow(/single quotes/);
    await expect(bad(`CURSOR(SELECT STREAM * FROM "SOURCE_SQL_STREAM_001"), 'TICKER_SYMBOL', 0, 60`)).rejects.toMatchObject({ line: 2, message: expect.stringMatching(/K must be/) });
    await expect(bad(`CURSOR(SELECT STREAM * FROM "SOURCE_SQL_STREAM_001"), 'TICKER_SYMBOL', 5, 7200`)).rejects.toThrow(/1 to 3600/);
    await expect(bad(`CURSOR(SELECT STREAM * FROM "SOURCE_SQL_STREAM_001"), 'NO_SUCH', 5, 60`)).rejects.toThrow(/NO_SUCH/);
  });
});

describe('string and time functions', () => {
  // Column names differing only in case are one name to DuckDB: the examples' "referrer" and "REFERRER" get an input each.
  const LOGS = { name: SRC, columns: [{ name: 'referrer', sqlType: 'VARCHAR(64)' }, { name: 'URLS', sqlType: 'VARCHAR(64)' }, { name: 'TS', sqlType: 'TIMESTAMP' }, { name: 'NAME', sqlType: 'VARCHAR(32)' }] };
  const LOGS2 = { name: SRC, columns: [{ name: 'X', sqlType: 'VARCHAR(64)' }, { name: 'REFERRER', sqlType: 'VARCHAR(64)' }, { name: 'TS', sqlType: 'TIMESTAMP' }, { name: 'NAME', sqlType: 'VARCHAR(32)' }] };
  const sites = ['amazon', 'example', 'kinesis', 'aws'];
  const rows = Array.from({ length: 40 }, (_, i) => {
    const site = sites[i % sites.length]!;
    return { t: 1_700_000_000_000 + i * 250, v: [`http://www.${site}.com`, `http://${site}.com/a http://x.org/${i}`, 1_700_000_000_000 - i * 1234, i % 5 === 0 ? null : `mY  nAME is ${site}`] };
  });
  const ts = (ms: number) => ms;

  it("the developer guide's SUBSTRING example unchanged (APPROXIMATE_ARRIVAL_TIME, POSITION)", async () => {
    const code = `-- CREATE OR REPLACE STREAM for cleaned up referrer
CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (
    "ingest_time" TIMESTAMP,
    "referrer" VARCHAR(32));
    
CREATE OR REPLACE PUMP "myPUMP" AS 
   INSERT INTO "DESTINATION_SQL_STREAM"
      SELECT STREAM 
         "APPROXIMATE_ARRIVAL_TIME", 
         SUBSTRING("referrer", 12, (POSITION('.com' IN "referrer") - POSITION('www.' IN "referrer") - 4)) 
      FROM "SOURCE_SQL_STREAM_001";`;
    const out = await run(LOGS, code, rows, rows[rows.length - 1]!.t + 1);
    expect(out.get('error_stream') ?? []).toEqual([]);
    const want = rows.map((r) => { const s = r.v[0] as string; return [ts(r.t), s.substr(11, (s.indexOf('.com') + 1) - (s.indexOf('www.') + 1) - 4)]; });
    expect((out.get('DESTINATION_SQL_STREAM') ?? []).map((r) => r.v)).toEqual(want);
    expect(want[0]).toEqual([rows[0]!.t, 'amazon']);
  });

  it("REGEX_REPLACE as the migration guide's example writes it, and its start position, first occurrence and groups", async () => {
    const code = `CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" ( "ingest_time" TIMESTAMP, "referrer" VARCHAR(64), FIRST_ONLY VARCHAR(64), FROM_10 VARCHAR(64), SWAPPED VARCHAR(64));
CREATE OR REPLACE PUMP "myPUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
SELECT
   STREAM "APPROXIMATE_ARRIVAL_TIME",
   REGEX_REPLACE("REFERRER", 'http://', 'https://', 1, 0),
   REGEX_REPLACE("REFERRER", 'http://', 'https://', 1, 1),
   REGEX_REPLACE("REFERRER", 'http://', 'https://', 10, 0),
   REGEX_REPLACE("REFERRER", '([a-z]+)\\.(com|org)', '$2.$1', 1, 0)
FROM
   "SOURCE_SQL_STREAM_001";`;
    const out = await run(LOGS2, code, rows, rows[rows.length - 1]!.t + 1);
    expect(out.get('error_stream') ?? []).toEqual([]);
    const want = rows.map((r) => {
      const s = r.v[1] as string;
      return [r.t, s.split('http://').join('https://'), s.replace('http://', 'https://'), s.slice(0, 9) + s.slice(9).split('http://').join('https://'),
        s.replace(/([a-z]+)\.(com|org)/g, (_m, a: string, b: string) => `${b}.${a}`)];
    });
    expect((out.get('DESTINATION_SQL_STREAM') ?? []).map((r) => r.v)).toEqual(want);
  });

  it('TSDIFF, UNIX_TIMESTAMP, INITCAP, CHAR_LENGTH, TRIM, SUBSTRING … FROM … FOR', async () => {
    const code = `CREATE OR REPLACE STREAM "D" (AGE_MS BIGINT, EPOCH BIGINT, NICE VARCHAR(32), LEN INTEGER, TRIMMED VARCHAR(32), PART VARCHAR(8));
CREATE OR REPLACE PUMP "P" AS INSERT INTO "D"
  SELECT STREAM TSDIFF("SOURCE_SQL_STREAM_001".ROWTIME, TS), UNIX_TIMESTAMP(TS), INITCAP(NAME), CHAR_LENGTH(NAME),
         TRIM(BOTH 'm' FROM NAME), SUBSTRING(NAME FROM 5 FOR 4)
  FROM "SOURCE_SQL_STREAM_001";`;
    const out = await run(LOGS, code, rows, rows[rows.length - 1]!.t + 1);
    expect(out.get('error_stream') ?? []).toEqual([]);
    const initcap = (s: string) => s.toLowerCase().split(' ').map((w) => w.slice(0, 1).toUpperCase() + w.slice(1)).join(' ');
    const want = rows.map((r) => {
      const n = r.v[3] as string | null;
      // TSDIFF(start, end) is end - start (the reference's Temporal Predicates page): here TS - ROWTIME.
      return [(r.v[2] as number) - r.t, r.v[2], n === null ? null : initcap(n), n === null ? null : n.length,
        n === null ? null : n.replace(/^m+|m+$/g, ''), n === null ? null : n.slice(4, 8)];
    });
    expect((out.get('D') ?? []).map((r) => r.v)).toEqual(want);
    expect(want[1]![2]).toBe('My  Name Is Example');
  });

  it('REGEX_REPLACE with occurrence n > 1 replaces only the n-th match; a negative occurrence or a start below 1 sends the row to error_stream', async () => {
    const code = `CREATE OR REPLACE STREAM "D" (R VARCHAR(64));
CREATE OR REPLACE PUMP "P" AS INSERT INTO "D" SELECT STREAM REGEX_REPLACE(REFERRER, 'http', 'ftp', 1, 2) FROM "SOURCE_SQL_STREAM_001";`;
    const src = rows.slice(0, 3);
    const out = await run(LOGS2, code, src, src[2]!.t + 1);
    expect(out.get('error_stream') ?? []).toEqual([]);
    // Oracle: the second 'http' (if any) becomes 'ftp'.
    const nth = (x: string) => { const a = x.indexOf('http'); const b = a < 0 ? -1 : x.indexOf('http', a + 4); return b < 0 ? x : x.slice(0, b) + 'ftp' + x.slice(b + 4); };
    const want = src.map((r) => [r.v[1] === null ? null : nth(r.v[1] as string)]);
    expect(want.some(([w], i) => w !== src[i]!.v[1])).toBe(true);
    expect((out.get('D') ?? []).map((r) => r.v)).toEqual(want);
    for (const [args, msg] of [['1, -1', 'the occurrence -1 is negative'], ['0, 1', 'the start position 0 is below 1']]) {
      const bad = await run(LOGS2, code.replace('1, 2)', `${args})`), src, src[2]!.t + 1);
      expect(bad.get('D') ?? []).toEqual([]);
      expect(String((bad.get('error_stream') ?? [])[0]?.v[3])).toContain(msg);
    }
  });
});

describe('datetime conversion (Java date patterns)', () => {
  const TICKS = { name: SRC, columns: [{ name: 'EVENT_TIME', sqlType: 'TIMESTAMP' }, { name: 'TICKER', sqlType: 'VARCHAR(4)' }, { name: 'S', sqlType: 'VARCHAR(32)' }] };
  const r = rng(5);
  const base = Date.UTC(2018, 4, 9, 0, 0, 0);
  const rows = Array.from({ length: 30 }, (_, i) => {
    const ev = base + Math.floor(r() * 86_400_000);
    return { t: 1_700_000_000_000 + i * 100, v: [ev, ['AAPL', 'AMZN', 'MSFT', 'INTC', 'TBV'][i % 5]!, null] as (string | number | null)[] };
  });
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');

  it("the developer guide's Transforming Dates example unchanged: INTERVAL arithmetic, UNIX_TIMESTAMP, TIMESTAMP_TO_CHAR, EXTRACT", async () => {
    const code = `CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (
    TICKER VARCHAR(4), 
    event_time TIMESTAMP, 
    five_minutes_before TIMESTAMP, 
    event_unix_timestamp BIGINT,
    event_timestamp_as_char VARCHAR(50),
    event_second INTEGER);

CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"

SELECT STREAM 
    TICKER, 
    EVENT_TIME,
    EVENT_TIME - INTERVAL '5' MINUTE,
    UNIX_TIMESTAMP(EVENT_TIME),
    TIMESTAMP_TO_CHAR('yyyy-MM-dd hh:mm:ss', EVENT_TIME),
    EXTRACT(SECOND FROM EVENT_TIME) 
FROM "SOURCE_SQL_STREAM_001"`;
    const out = await run(TICKS, code, rows, rows[rows.length - 1]!.t + 1);
    expect(out.get('error_stream') ?? []).toEqual([]);
    const want = rows.map((x) => {
      const ev = x.v[0] as number;
      const d = new Date(ev);
      const h12 = ((d.getUTCHours() + 11) % 12) + 1;
      const text = `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(h12)}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
      return [x.v[1], ev, ev - 300_000, ev, text, d.getUTCSeconds()];
    });
    expect((out.get('DESTINATION_SQL_STREAM') ?? []).map((x) => x.v)).toEqual(want);
  });

  it("CHAR_TO_TIMESTAMP with the SQL reference's templates; an input that does not match gives NULL", async () => {
    const inputs: [string, number | null][] = [
      ['2009-09-16 03:15:24', Date.UTC(2009, 8, 16, 3, 15, 24)],
      ['2011-06-23 10:11:12', Date.UTC(2011, 5, 23, 10, 11, 12)],
      ['not a time', null],
    ];
    const code = `CREATE OR REPLACE STREAM "D" (T TIMESTAMP, U TIMESTAMP);
CREATE OR REPLACE PUMP "P" AS INSERT INTO "D"
  SELECT STREAM CHAR_TO_TIMESTAMP('yyyy-MM-dd hh:mm:ss', S), CHAR_TO_TIMESTAMP('dd-MM-yy HH:mm:ss', SUBSTRING(S FROM 9 FOR 2) || '-' || SUBSTRING(S FROM 6 FOR 2) || '-' || SUBSTRING(S FROM 3 FOR 2) || SUBSTRING(S FROM 11))
  FROM "SOURCE_SQL_STREAM_001";`;
    const src = inputs.map(([s], i) => ({ t: 1_700_000_000_000 + i, v: [null, 'X', s] as (string | number | null)[] }));
    const out = await run(TICKS, code, src, src[src.length - 1]!.t + 1);
    expect(out.get('error_stream') ?? []).toEqual([]);
    expect((out.get('D') ?? []).map((x) => x.v)).toEqual(inputs.map(([, ms]) => [ms, ms]));
  });

  it('TIMESTAMP_TO_CHAR and DATE_TO_CHAR with a pattern from a column: formatted per row; a letter with no equivalent fails that row', async () => {
    const pats = ["yyyy-MM-dd HH:mm:ss.SSS", "d MMM yy h:mm a", "EEEE' at 'HH''mm", 'yyyy ww', "'unterminated"];
    const src = pats.map((p, i) => ({ t: 1_700_000_000_000 + i, v: [Date.UTC(2020, 1, 9, 15, 4, 5, 123), 'X', p] as (string | number | null)[] }));
    const code = `CREATE OR REPLACE STREAM "D" (A VARCHAR(40), B VARCHAR(40));
CREATE OR REPLACE PUMP "P" AS INSERT INTO "D"
  SELECT STREAM TIMESTAMP_TO_CHAR(S, EVENT_TIME), DATE_TO_CHAR(S, CAST(EVENT_TIME AS DATE)) FROM "SOURCE_SQL_STREAM_001";`;
    const out = await run(TICKS, code, src, src[src.length - 1]!.t + 1);
    // Java's SimpleDateFormat on 2020-02-09 15:04:05.123 (a Sunday), worked by hand.
    expect((out.get('D') ?? []).map((x) => x.v)).toEqual([
      ['2020-02-09 15:04:05.123', '2020-02-09 00:00:00.000'],
      ['9 Feb 20 3:04 PM', '9 Feb 20 12:00 AM'],
      ["Sunday at 15'04", "Sunday at 00'00"],
    ]);
    const errs = (out.get('error_stream') ?? []).map((x) => String(x.v[3]));
    expect(errs).toHaveLength(2);
    expect(errs[0]).toMatch(/date format letter 'w' in 'yyyy ww' is not supported/);
    expect(errs[1]).toMatch(/unterminated quote/);
  });

  it('a letter with no equivalent in a literal pattern, or a wrong argument count, is refused at compile time', async () => {
    const compile = (expr: string) => Engine.compile({ code: `CREATE OR REPLACE STREAM "D" (C VARCHAR(40));
CREATE OR REPLACE PUMP "P" AS INSERT INTO "D" SELECT STREAM ${expr} FROM "SOURCE_SQL_STREAM_001";`, inputs: [TICKS] });
    await expect(compile(`TIMESTAMP_TO_CHAR(S)`)).rejects.toMatchObject({ line: 2, column: 61, message: expect.stringMatching(/TIMESTAMP_TO_CHAR takes \(format, value\), not 1 argument/) });
    await expect(compile(`TIMESTAMP_TO_CHAR('yyyy ww', EVENT_TIME)`)).rejects.toThrow(/letter 'w'/);
  });
});
