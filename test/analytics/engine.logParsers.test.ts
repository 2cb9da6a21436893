// KDA's log parsing functions through the engine, with the SQL of AWS's documentation where
// there is one. Expected values are the documentation's own outputs (quoted) or computed here
// in JavaScript from the same lines, never by the code under test.
import { Engine, type Row } from '../../analytics/engine/engine.js';

const SRC = 'SOURCE_SQL_STREAM_001';
type Input = { name: string; columns: { name: string; sqlType: string }[] };

async function run(input: Input, code: string, values: (string | number | null)[][]) {
  const e = await Engine.compile({ code, inputs: [input] });
  try {
    const t0 = 1_700_000_000_000;
    await e.push(SRC, values.map((v, i) => ({ t: t0 + i, v })));
    await e.advance(t0 + values.length + 1);
    return e.drain();
  } finally {
    e.close();
  }
}
const rowsOf = (out: Map<string, Row[]>, s: string) => (out.get(s) ?? []).map((r) => r.v);

/** The Getting Started sample stock stream, as the SQL reference's examples use it. */
const STOCK: Input = { name: SRC, columns: [
  { name: 'TICKER_SYMBOL', sqlType: 'VARCHAR(4)' }, { name: 'SECTOR', sqlType: 'VARCHAR(16)' },
  { name: 'CHANGE', sqlType: 'REAL' }, { name: 'PRICE', sqlType: 'REAL' },
] };
const SECTORS = ['HEALTHCARE', 'ENERGY', 'TECHNOLOGY', 'RETAIL', 'FINANCIAL', 'AUTOMOBILE'];
const stock = SECTORS.map((s, i) => ['T' + i, s, i / 10, 10 + i]);

describe('REGEX_LOG_PARSE', () => {
  // A Java Pattern's matches() (the whole string), with the groups as COLUMN1…n; no match is NULL.
  const javaMatch = (s: string, re: string) => { const m = new RegExp(`^(?:${re})$`, 's').exec(s); return m ? m.slice(1) : null; };

  it("the SQL reference's Example 1 unchanged: two capture groups as T.REC.COLUMN1, T.REC.COLUMN2", async () => {
    const code = `CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (match1 VARCHAR(1024), match2 VARCHAR(1024));
 
CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
    SELECT STREAM T.REC.COLUMN1, T.REC.COLUMN2
    FROM 
         (SELECT STREAM SECTOR, 
             REGEX_LOG_PARSE(SECTOR, '.*([E].).*([R].*)') AS REC 
             FROM SOURCE_SQL_STREAM_001) AS T;`;
    const out = await run(STOCK, code, stock);
    expect(out.get('error_stream') ?? []).toEqual([]);
    const want = SECTORS.map((s) => javaMatch(s, '.*([E].).*([R].*)') ?? [null, null]);
    expect(rowsOf(out, 'DESTINATION_SQL_STREAM')).toEqual(want);
    // Worked by hand: the greedy .* backtracks to the E that still has an R after it.
    expect(want.slice(0, 3)).toEqual([['EA', 'RE'], ['EN', 'RGY'], [null, null]]);
  });

  it("the SQL reference's Example 2 unchanged: a stream field beside the groups", async () => {
    const code = `CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (sector VARCHAR(24), match1 VARCHAR(24), match2 VARCHAR(24));

CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
    SELECT STREAM T.SECTOR, T.REC.COLUMN1, T.REC.COLUMN2
    FROM 
         (SELECT STREAM SECTOR,
             REGEX_LOG_PARSE(SECTOR, '.*([E].).*([R].*)') AS REC
             FROM SOURCE_SQL_STREAM_001) AS T;`;
    const out = await run(STOCK, code, stock);
    expect(out.get('error_stream') ?? []).toEqual([]);
    expect(rowsOf(out, 'DESTINATION_SQL_STREAM')).toEqual(SECTORS.map((s) => [s, ...(javaMatch(s, '.*([E].).*([R].*)') ?? [null, null])]));
  });

  it('(REGEX_LOG_PARSE(…)).COLUMNn in the select list, a typed column list, a WHERE and ROWTIME through the sub-query', async () => {
    const code = `CREATE OR REPLACE STREAM "D" (T TIMESTAMP, SYM VARCHAR(8), N INTEGER, W VARCHAR(16));
CREATE OR REPLACE PUMP "P" AS INSERT INTO "D"
  SELECT STREAM q.ROWTIME, (REGEX_LOG_PARSE(q.TICKER_SYMBOL, '([A-Z])(\\d+)')).COLUMN1, q.R.NUM, (REGEX_LOG_PARSE(q.SECTOR, '(?<first>[A-Z]{3}).*')).COLUMN1
  FROM (SELECT STREAM *, REGEX_LOG_PARSE(TICKER_SYMBOL, '[A-Z](\\d+)', 'NUM INTEGER') AS R FROM "SOURCE_SQL_STREAM_001" WHERE PRICE > 11) AS q;`;
    const out = await run(STOCK, code, stock);
    expect(out.get('error_stream') ?? []).toEqual([]);
    const got = out.get('D') ?? [];
    const want = stock.filter((r) => (r[3] as number) > 11).map((r) => ['T', Number((r[0] as string).slice(1)), (r[1] as string).slice(0, 3)]);
    expect(got.map((r) => r.v.slice(1))).toEqual(want);
    // ROWTIME is the input row's.
    for (const r of got) expect(r.v[0]).toBe(r.t);
    expect(got.map((r) => r.t)).toEqual(stock.map((_, i) => 1_700_000_000_000 + i).filter((_, i) => (stock[i]![3] as number) > 11));
  });
});

describe('W3C_LOG_PARSE', () => {
  const LOGS: Input = { name: SRC, columns: [{ name: 'log', sqlType: 'VARCHAR(512)' }] };
  // The developer guide's sample records ("Example: Parsing Web Logs").
  const lines = [
    '192.168.254.30 - John [24/May/2004:22:01:02 -0700] "GET /icons/apache_pba.gif HTTP/1.1" 304 0',
    '192.168.254.30 - John [24/May/2004:22:01:03 -0700] "GET /icons/apache_pbb.gif HTTP/1.1" 304 0',
    '192.168.254.30 - Jane [24/May/2004:22:01:02 -0700] "GET /icons/small/dir.gif HTTP/1.1" 304 0',
  ];

  it("the developer guide's Parsing Web Logs application (COMMON): the SQL reference's seven columns", async () => {
    // The guide's code, with the columns widened from VARCHAR(16): COLUMN4 and COLUMN5 are 28 and 33
    // characters, and this engine sends an over-long value to error_stream rather than cutting it.
    const code = `CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (
column1 VARCHAR(16),
column2 VARCHAR(16),
column3 VARCHAR(16),
column4 VARCHAR(32),
column5 VARCHAR(64),
column6 VARCHAR(16),
column7 VARCHAR(16));

CREATE OR REPLACE PUMP "myPUMP" AS 
INSERT INTO "DESTINATION_SQL_STREAM"
        SELECT STREAM
            l.r.COLUMN1,
            l.r.COLUMN2,
            l.r.COLUMN3,
            l.r.COLUMN4,
            l.r.COLUMN5,
            l.r.COLUMN6,
            l.r.COLUMN7
        FROM (SELECT STREAM W3C_LOG_PARSE("log", 'COMMON')
              FROM "SOURCE_SQL_STREAM_001") AS l(r);`;
    const out = await run(LOGS, code, lines.map((l) => [l]));
    expect(out.get('error_stream') ?? []).toEqual([]);
    // The SQL reference's Example 1 output: "192.168.254.30 -  John  [24/May/2004:22:01:02 -0700] GET /icons/apache_pb.gif HTTP/1.1  304  0",
    // and its Example 2 shows COLUMN4 as "[24/May/2004:22:01:02 -0700]" (with the brackets).
    expect(rowsOf(out, 'DESTINATION_SQL_STREAM')).toEqual([
      ['192.168.254.30', '-', 'John', '[24/May/2004:22:01:02 -0700]', 'GET /icons/apache_pba.gif HTTP/1.1', '304', '0'],
      ['192.168.254.30', '-', 'John', '[24/May/2004:22:01:03 -0700]', 'GET /icons/apache_pbb.gif HTTP/1.1', '304', '0'],
      ['192.168.254.30', '-', 'Jane', '[24/May/2004:22:01:02 -0700]', 'GET /icons/small/dir.gif HTTP/1.1', '304', '0'],
    ]);
  });

  it('NCSA EXTENDED and a custom format: numeric status and bytes (a dash is NULL), quoted agent, a line that does not fit is NULL', async () => {
    const ncsa = [
      '10.0.0.1 - - [01/Jan/2020:00:00:01 +0000] "GET /a?x=1 HTTP/1.1" 200 1234 "http://ref.example/" "Mozilla/5.0 (X11; Linux) \\"quoted\\""',
      '10.0.0.2 ident bob [01/Jan/2020:00:00:02 +0000] "POST /b HTTP/1.0" 404 - "-" "curl/8.0"',
      'not a log line',
    ];
    const code = `CREATE OR REPLACE STREAM "D" (HOST VARCHAR(16), STATUS INTEGER, BYTES BIGINT, REF VARCHAR(64), AGENT VARCHAR(64), METHOD VARCHAR(8), PATH VARCHAR(32));
CREATE OR REPLACE PUMP "P" AS INSERT INTO "D"
  SELECT STREAM l.r.COLUMN1, l.r.COLUMN6, l.r.COLUMN7, l.r.COLUMN8, l.r.COLUMN9, c.COLUMN5, c.COLUMN6
  FROM (SELECT STREAM W3C_LOG_PARSE("log", 'NCSA EXTENDED'), W3C_LOG_PARSE("log", '%h %l %u %t "%m %U%q %H" %>s %b %{Referer}i %[User-agent]i') AS c
        FROM "SOURCE_SQL_STREAM_001") AS l(r);`;
    const out = await run(LOGS, code, ncsa.map((l) => [l]));
    expect(out.get('error_stream') ?? []).toEqual([]);
    expect(rowsOf(out, 'D')).toEqual([
      ['10.0.0.1', 200, 1234, 'http://ref.example/', 'Mozilla/5.0 (X11; Linux) \\"quoted\\"', 'GET', '/a'],
      ['10.0.0.2', 404, null, '-', 'curl/8.0', 'POST', '/b'],
      [null, null, null, null, null, null, null],
    ]);
  });
});

describe('FAST_REGEX_LOG_PARSE', () => {
  const S: Input = { name: SRC, columns: [{ name: 'S', sqlType: 'VARCHAR(64)' }] };
  it("the SQL reference's examples: lazy groups, no backtracking, every character accounted for", async () => {
    const code = `CREATE OR REPLACE STREAM "D" (A1 VARCHAR(32), A2 VARCHAR(32), B1 VARCHAR(32), B2 VARCHAR(32), C1 VARCHAR(32), C2 VARCHAR(32), F1 VARCHAR(32), F2 VARCHAR(32));
CREATE OR REPLACE PUMP "P" AS INSERT INTO "D"
  SELECT STREAM t.a.COLUMN1, t.a.COLUMN2, t.b.COLUMN1, t.b.COLUMN2, t.c.COLUMN1, t.c.COLUMN2, t.f.COLUMN1, t.f.COLUMN2
  FROM (SELECT STREAM FAST_REGEX_LOG_PARSE(S, '(.*)_+(._.*)') AS a, FAST_REGEX_LOG_PARSE(S, '(.*)_+(.*)') AS b,
        FAST_REGEX_LOG_PARSE(S, '(.*)_+(<Alpha>.*)') AS c, FAST_REGEX_LOG_PARSER(S, '(.*)_(._.*)_.*') AS f FROM "SOURCE_SQL_STREAM_001") AS t;`;
    const out = await run(S, code, [['Mary____had_a_little_lamb'], ['Mary_had_a_little_lamb'], ['no-underscore']]);
    expect(out.get('error_stream') ?? []).toEqual([]);
    const got = rowsOf(out, 'D');
    // Example B and C: 'Mary____had_a_little_lamb' with '(.*)_+(.*)' and '(.*)_+(<Alpha>.*)' → "Mary", "had_a_little_lamb".
    expect(got[0]!.slice(2, 6)).toEqual(['Mary', 'had_a_little_lamb', 'Mary', 'had_a_little_lamb']);
    // Example A: 'Mary_had_a_little_lamb' with '(.*)_+(._.*)' → "No rows selected" (no backtracking to a later underscore).
    expect(got[1]!.slice(0, 2)).toEqual([null, null]);
    // The first example: '(.*)_(._.*)_.*' → COLUMN1 "Mary_had". The reference prints COLUMN2 as "a_little_lamb",
    // which would leave nothing for the pattern's final "_.*"; by its own steps ("(.*)_._", then ".*_", then
    // ".*") group 2 is "a_" + "little".
    expect(got[1]!.slice(6, 8)).toEqual(['Mary_had', 'a_little']);
    // Every character must be accounted for: no underscore, no fields.
    expect(got[2]).toEqual([null, null, null, null, null, null, null, null]);
  });
});

describe('VARIABLE_COLUMN_LOG_PARSE, FIXED_COLUMN_LOG_PARSE, SYS_LOG_PARSE', () => {
  const S: Input = { name: SRC, columns: [{ name: 'S', sqlType: 'VARCHAR(128)' }] };

  it('a column count, a delimiter string, escapes and quotes', async () => {
    const code = `CREATE OR REPLACE STREAM "D" (A VARCHAR(64), B VARCHAR(64), C VARCHAR(16), X VARCHAR(64), Y VARCHAR(8));
CREATE OR REPLACE PUMP "P" AS INSERT INTO "D"
  SELECT STREAM t.q.COLUMN1, t.q.COLUMN2, t.q.COLUMN3, t.multi.COLUMN1, t.multi.COLUMN2
  FROM (SELECT STREAM VARIABLE_COLUMN_LOG_PARSE(S, 3, ',', '\\', '"') AS q,
               VARIABLE_COLUMN_LOG_PARSE(S, 2, '::') AS multi
        FROM "SOURCE_SQL_STREAM_001") AS t;`;
    const out = await run(S, code, [
      // The SQL reference: with a backslash escape, "a,b" is two fields and "a\\,b" one field "a,b".
      ['a\\,b,7'],
      ['a,b'],
      // A quoted field keeps its delimiters (the quotes are removed).
      ['John Doe,"514 West Bay, Newport Beach, CA, 92661-1122",$32.16'],
      ['x::y::z'],
    ]);
    expect(out.get('error_stream') ?? []).toEqual([]);
    expect(rowsOf(out, 'D')).toEqual([
      ['a,b', '7', null, 'a\\,b,7', null],
      ['a', 'b', null, 'a,b', null],
      ['John Doe', '514 West Bay, Newport Beach, CA, 92661-1122', '$32.16', 'John Doe,"514 West Bay, Newport Beach, CA, 92661-1122",$32.16', null],
      ['x::y::z', null, null, 'x', 'y'],
    ]);
  });

  it("a tab delimiter written as the SQL reference does, u&'\\0009', and U& literals elsewhere", async () => {
    const code = `CREATE OR REPLACE STREAM "D" (A VARCHAR(8), B VARCHAR(8), SAME BOOLEAN, TXT VARCHAR(8));
CREATE OR REPLACE PUMP "P" AS INSERT INTO "D"
  SELECT STREAM t.r.COLUMN1, t.r.COLUMN2, POSITION(u&'\\0009' IN S) = 2, U&'caf\\00E9 \\+01F600'
  FROM (SELECT STREAM S, VARIABLE_COLUMN_LOG_PARSE(S, 2, u&'\\0009') AS r FROM "SOURCE_SQL_STREAM_001") AS t;`;
    const out = await run(S, code, [['a\tb c'], ['xy\tz']]);
    expect(out.get('error_stream') ?? []).toEqual([]);
    expect(rowsOf(out, 'D')).toEqual([['a', 'b c', true, 'café 😀'], ['xy', 'z', false, 'café 😀']]);
  });

  it('a typed column list; a field that does not convert sends only its row to error_stream', async () => {
    const code = `CREATE OR REPLACE STREAM "D" (NAME VARCHAR(8), AGE INTEGER);
CREATE OR REPLACE PUMP "P" AS INSERT INTO "D"
  SELECT STREAM v.r.NAME, v.r.AGE FROM (SELECT STREAM VARIABLE_COLUMN_LOG_PARSE(S, 'NAME TYPE VARCHAR(16), AGE TYPE INTEGER NOT NULL', ',') FROM "SOURCE_SQL_STREAM_001") AS v(r);`;
    const out = await run(S, code, [['ann,31'], ['bob,old'], ['cy, 7'], ['dee']]);
    expect(rowsOf(out, 'D')).toEqual([['ann', 31], ['cy', 7], ['dee', null]]);
    const errs = out.get('error_stream') ?? [];
    expect(errs).toHaveLength(1);
    expect(String(errs[0]!.v[3])).toMatch(/'old'/);
    expect(errs[0]!.v[5]).toBe('["bob,old"]');
  });

  it('FIXED_COLUMN_LOG_PARSE: 0-based START, FOR widths, the SQL reference\'s TIMESTAMP format column', async () => {
    const code = `CREATE OR REPLACE STREAM "D" (T TIMESTAMP, CODE INTEGER, HOST VARCHAR(8), REST VARCHAR(32));
CREATE OR REPLACE PUMP "P" AS INSERT INTO "D"
  SELECT STREAM f.r."name", f.r.CODE, f.r.HOST, f.r.REST
  FROM (SELECT STREAM FIXED_COLUMN_LOG_PARSE(S, '"name" TYPE TIMESTAMP ''dd/MMM/yyyy:HH:mm:ss'' START 0 FOR 20, CODE TYPE INTEGER START 21 FOR 3, HOST TYPE VARCHAR(8) START 25 FOR 6, REST TYPE VARCHAR(32) START 32')
        FROM "SOURCE_SQL_STREAM_001") AS f(r);`;
    const lines = ['24/May/2004:22:01:02 304 web-01 GET /index.html', '01/Jan/2020:00:00:59 200 web-02 x'];
    const out = await run(S, code, lines.map((l) => [l]));
    expect(out.get('error_stream') ?? []).toEqual([]);
    expect(rowsOf(out, 'D')).toEqual(lines.map((l) => {
      const [d, mon, rest] = l.slice(0, 20).split('/');
      const [y, hh, mm, ss] = rest!.split(':');
      const month = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'].indexOf(mon!);
      return [Date.UTC(Number(y), month, Number(d), Number(hh), Number(mm), Number(ss)), Number(l.slice(21, 24)), l.slice(25, 31), l.slice(32)];
    }));
  });

  it('SYS_LOG_PARSE: COLUMN1 the timestamp (no year in the line: 1970, as SimpleDateFormat), COLUMN2 the rest', async () => {
    const code = `CREATE OR REPLACE STREAM "D" (T TIMESTAMP, MSG VARCHAR(64));
CREATE OR REPLACE PUMP "P" AS INSERT INTO "D"
  SELECT STREAM s.r.COLUMN1, s.r.COLUMN2 FROM (SELECT STREAM SYS_LOG_PARSE(S) FROM "SOURCE_SQL_STREAM_001") AS s(r);`;
    const out = await run(S, code, [['Nov 29 07:04:17 host1 sshd[12]: Accepted key'], ['Feb  3 23:59:00 gw kernel: x'], ['garbage']]);
    expect(out.get('error_stream') ?? []).toEqual([]);
    expect(rowsOf(out, 'D')).toEqual([
      [Date.UTC(1970, 10, 29, 7, 4, 17), 'host1 sshd[12]: Accepted key'],
      [Date.UTC(1970, 1, 3, 23, 59, 0), 'gw kernel: x'],
      [null, null],
    ]);
  });
});

describe('bad use of the log parsers is refused at compile time with the position', () => {
  const S: Input = { name: SRC, columns: [{ name: 'S', sqlType: 'VARCHAR(128)' }] };
  const compile = (expr: string) => Engine.compile({ code: `CREATE OR REPLACE STREAM "D" (C VARCHAR(40));
CREATE OR REPLACE PUMP "P" AS INSERT INTO "D" SELECT STREAM ${expr} FROM "SOURCE_SQL_STREAM_001";`, inputs: [S] });
  const col = (expr: string, needle: string) => 'CREATE OR REPLACE PUMP "P" AS INSERT INTO "D" SELECT STREAM '.length + expr.indexOf(needle) + 1;

  it.each([
    ["(REGEX_LOG_PARSE(S, S)).COLUMN1", 'S)', /argument 2 must be a literal/],
    ["(REGEX_LOG_PARSE(S, 'abc')).COLUMN1", "'abc'", /no group/],
    ["(REGEX_LOG_PARSE(S, '(?<=a)(b)')).COLUMN1", "'(?<=", /lookahead and lookbehind/],
    ["(W3C_LOG_PARSE(S, 'IIS')).COLUMN1", "'IIS'", /IIS/],
    ["(W3C_LOG_PARSE(S, '%h %Q')).COLUMN1", "'%h", /unknown format specifier '%Q'/],
    ["(REGEX_LOG_PARSE(S, '(a*+)')).COLUMN1", "'(a", /possessive quantifiers/],
    ["(REGEX_LOG_PARSE(S, '(a))')).COLUMN1", "'(a", /unbalanced '\)'/],
    ["(FAST_REGEX_LOG_PARSE(S, '(<Nope>)')).COLUMN1", "'(<", /unknown named pattern <Nope>/],
    ["(VARIABLE_COLUMN_LOG_PARSE(S, 'A TYPE WIDGET', ',')).A", "'A TYPE", /unsupported SQL type 'WIDGET'/],
    ["(FIXED_COLUMN_LOG_PARSE(S, 'A TYPE INTEGER')).A", "'A TYPE", /needs START/],
    ["(VARIABLE_COLUMN_LOG_PARSE(S, 2)).COLUMN1", 'VARIABLE', /takes 3 to 5 arguments/],
  ])('%s', async (expr, needle, msg) => {
    await expect(compile(expr)).rejects.toMatchObject({ line: 2, column: col(expr, needle), message: expect.stringMatching(msg) });
  });

  it('a field the row does not have is DuckDB\'s binder error, at the position', async () => {
    const expr = "(REGEX_LOG_PARSE(S, '(a)(b)')).COLUMN3";
    const e = await compile(expr).catch((x: unknown) => x);
    expect(e).toMatchObject({ line: 2, message: expect.stringMatching(/could not find key "column3"/i) });
  });
});
