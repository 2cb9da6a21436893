// OVERLAY, TO_TIMESTAMP, the clock words, CEIL … TO and the DATE/TIME conversions of KDA SQL through
// the engine. Expected values are the SQL reference's own tables (quoted) or computed here in JavaScript.
import { Engine } from '../../analytics/engine/engine.js';

const SRC = 'SOURCE_SQL_STREAM_001';
const INPUT = { name: SRC, columns: [{ name: 'S', sqlType: 'VARCHAR(32)' }, { name: 'N', sqlType: 'INTEGER' }, { name: 'MS', sqlType: 'BIGINT' }, { name: 'TS', sqlType: 'TIMESTAMP' }] };

async function run(code: string, values: (string | number | null)[][]) {
  const e = await Engine.compile({ code, inputs: [INPUT] });
  try {
    const t0 = 1_700_000_000_000;
    await e.push(SRC, values.map((v, i) => ({ t: t0 + i, v })));
    await e.advance(t0 + values.length + 1);
    return e.drain();
  } finally {
    e.close();
  }
}
const pump = (cols: string, select: string) => `CREATE OR REPLACE STREAM "D" (${cols});
CREATE OR REPLACE PUMP "P" AS INSERT INTO "D" SELECT STREAM ${select} FROM "SOURCE_SQL_STREAM_001";`;

describe('OVERLAY', () => {
  it("the SQL reference's examples: OVERLAY('12345' PLACING 'foo' FROM n [FOR m])", async () => {
    // Function → Result, from the SQL reference's OVERLAY page.
    const table: [number, number | null, string][] = [
      [1, null, 'foo45'], [0, null, 'foo345'], [-2, null, 'foo12345'], [4, null, '123foo'], [17, null, '12345foo'],
      [2, 0, '1foo2345'], [2, 2, '1foo45'], [2, 9, '1foo'],
    ];
    const out = await run(pump('A VARCHAR(16), B VARCHAR(16)', "OVERLAY(S PLACING 'foo' FROM N), OVERLAY(S PLACING 'foo' FROM N FOR CAST(MS AS INTEGER))"),
      table.map(([n, m]) => ['12345', n, m ?? 3, null]));
    expect(out.get('error_stream') ?? []).toEqual([]);
    const got = (out.get('D') ?? []).map((r) => r.v);
    table.forEach(([, m, want], i) => expect(got[i]![m === null ? 0 : 1]).toBe(want));
    // "If any of the input arguments are null, the result is null."
    const nul = await run(pump('A VARCHAR(16)', "OVERLAY(S PLACING 'foo' FROM N)"), [[null, 1, null, null], ['12345', null, null, null]]);
    expect((nul.get('D') ?? []).map((r) => r.v)).toEqual([[null], [null]]);
  });

  it('a negative length is an error for that row only (error_stream)', async () => {
    const out = await run(pump('A VARCHAR(16)', "OVERLAY(S PLACING 'x' FROM 1 FOR N)"), [['abc', 1, null, null], ['abc', -1, null, null]]);
    expect((out.get('D') ?? []).map((r) => r.v)).toEqual([['xbc']]);
    expect(String((out.get('error_stream') ?? [])[0]?.v[3])).toMatch(/OVERLAY: the length -1 is negative/);
  });
});

describe('time functions', () => {
  it("TO_TIMESTAMP takes milliseconds (the SQL reference's example: TO_TIMESTAMP(CHANGE_TIME) of a BIGINT)", async () => {
    const ms = [0, 1_118_073_600_000, 1_700_000_123_456];
    const out = await run(pump('T TIMESTAMP', 'TO_TIMESTAMP(MS)'), ms.map((m) => [null, null, m, null]));
    expect(out.get('error_stream') ?? []).toEqual([]);
    expect((out.get('D') ?? []).map((r) => r.v[0])).toEqual(ms);
  });

  it('CURRENT_ROW_TIMESTAMP, CURRENT_TIMESTAMP, LOCALTIMESTAMP and CURRENT_DATE are the UTC wall clock as TIMESTAMP/DATE', async () => {
    const before = Date.now();
    const out = await run(pump('A TIMESTAMP, B TIMESTAMP, C TIMESTAMP, D DATE, E BOOLEAN',
      'CURRENT_ROW_TIMESTAMP, CURRENT_TIMESTAMP, LOCALTIMESTAMP, CURRENT_DATE, CURRENT_TIME = LOCALTIME'), [[null, null, null, null]]);
    const after = Date.now();
    expect(out.get('error_stream') ?? []).toEqual([]);
    const [a, b, c, d, e] = out.get('D')![0]!.v as number[];
    for (const x of [a, b, c]) { expect(x).toBeGreaterThanOrEqual(before - 1); expect(x).toBeLessThanOrEqual(after + 1); }
    expect(d).toBe(Math.floor(a! / 86_400_000) * 86_400_000);
    expect(e).toBe(true);
  });

  it('CEIL … TO rounds up (unchanged on the unit), FLOOR … TO MONTH; DATE/TIME literals', async () => {
    const ts = [Date.UTC(2024, 0, 31, 10, 11, 12, 500), Date.UTC(2024, 1, 1, 11, 0, 0), Date.UTC(2024, 11, 31, 23, 59, 59)];
    const out = await run(pump('UP_H TIMESTAMP, UP_M TIMESTAMP, DOWN_MON TIMESTAMP, DAYS BIGINT, LATER BOOLEAN',
      "CEIL(TS TO HOUR), CEIL(TS TO MINUTE), FLOOR(TS TO MONTH), CAST(TS AS DATE) - DATE '2024-01-01', CAST(TS AS TIME) > TIME '11:00:00'"),
    ts.map((t) => [null, null, null, t]));
    expect(out.get('error_stream') ?? []).toEqual([]);
    const ceil = (t: number, u: number) => Math.ceil(t / u) * u;
    expect((out.get('D') ?? []).map((r) => r.v)).toEqual(ts.map((t) => {
      const d = new Date(t);
      return [ceil(t, 3_600_000), ceil(t, 60_000), Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1), Math.floor((t - Date.UTC(2024, 0, 1)) / 86_400_000), t % 86_400_000 > 11 * 3_600_000];
    }));
  });

  it('CHAR_TO_DATE, DATE_TO_CHAR, CHAR_TO_TIME and TIME_TO_CHAR with Java patterns', async () => {
    const ts = [Date.UTC(2009, 8, 16, 3, 15, 24), Date.UTC(2020, 1, 29, 23, 0, 1)];
    const out = await run(pump('D DATE, DS VARCHAR(16), TS2 VARCHAR(16), BAD DATE',
      "CHAR_TO_DATE('dd/MM/yyyy', SUBSTRING(S FROM 1 FOR 10)), DATE_TO_CHAR('yyyy.MM.dd', CAST(TS AS DATE)), TIME_TO_CHAR('HH:mm', CHAR_TO_TIME('HH:mm:ss', SUBSTRING(S FROM 12))), CHAR_TO_DATE('yyyy', 'x')"),
    ts.map((t) => { const d = new Date(t); const p = (n: number) => String(n).padStart(2, '0'); return [`${p(d.getUTCDate())}/${p(d.getUTCMonth() + 1)}/${d.getUTCFullYear()} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}`, null, null, t]; }));
    expect(out.get('error_stream') ?? []).toEqual([]);
    expect((out.get('D') ?? []).map((r) => r.v)).toEqual(ts.map((t) => {
      const d = new Date(t);
      const p = (n: number) => String(n).padStart(2, '0');
      return [Math.floor(t / 86_400_000) * 86_400_000, `${d.getUTCFullYear()}.${p(d.getUTCMonth() + 1)}.${p(d.getUTCDate())}`, `${p(d.getUTCHours())}:${p(d.getUTCMinutes())}`, null];
    }));
  });

  it('CHAR_TO_TIMESTAMP / CHAR_TO_DATE / CHAR_TO_TIME / TIME_TO_CHAR with a pattern from a column (Java: lenient, missing fields default, zone offsets)', async () => {
    const cases: [string, string, number | null][] = [
      // The SQL reference's CHAR_TO_TIMESTAMP template and input.
      ['yyyy-MM-dd hh:mm:ss', '2009-09-16 03:15:24', Date.UTC(2009, 8, 16, 3, 15, 24)],
      // FIXED_COLUMN_LOG_PARSE's example format, with a zone.
      ['dd/MMM/yyyy:HH:mm:ss Z', '24/May/2004:22:01:02 -0700', Date.UTC(2004, 4, 25, 5, 1, 2)],
      ['yyyyMMddHHmmss.SSS', '20200229235959.123', Date.UTC(2020, 1, 29, 23, 59, 59, 123)],
      // Lenient: 30 February is 1 March; fields the pattern lacks default to 1970-01-01 00:00:00.
      ['yyyy-MM-dd', '2020-02-30', Date.UTC(2020, 2, 1)],
      ["h:mm a 'on' D", '3:04 PM on 40', Date.UTC(1970, 1, 9, 15, 4)],
      ['yyyy', 'nope', null],
    ];
    // Each row is 'pattern|value'.
    const code = `CREATE OR REPLACE STREAM "D" (T TIMESTAMP, D DATE, C VARCHAR(16));
CREATE OR REPLACE PUMP "P" AS INSERT INTO "D"
  SELECT STREAM CHAR_TO_TIMESTAMP(p, v), CHAR_TO_DATE(p, v), TIME_TO_CHAR('h' || SUBSTRING(p FROM 1 FOR 0) || ':mm a', CHAR_TO_TIME(p, v))
  FROM (SELECT STREAM SUBSTRING(S FROM 1 FOR POSITION('|' IN S) - 1) AS p, SUBSTRING(S FROM POSITION('|' IN S) + 1) AS v FROM "SOURCE_SQL_STREAM_001") AS x;`;
    const e = await Engine.compile({ code, inputs: [{ name: SRC, columns: [{ name: 'S', sqlType: 'VARCHAR(64)' }, { name: 'N', sqlType: 'INTEGER' }, { name: 'MS', sqlType: 'BIGINT' }, { name: 'TS', sqlType: 'TIMESTAMP' }] }] });
    try {
      await e.push(SRC, cases.map(([p, v], i) => ({ t: 1_700_000_000_000 + i, v: [`${p}|${v}`, null, null, null] })));
      await e.advance(1_700_000_000_100);
      const res = e.drain();
      expect(res.get('error_stream') ?? []).toEqual([]);
      const clock = (ms: number) => { const d = new Date(ms); const h = d.getUTCHours(); return `${h % 12 || 12}:${String(d.getUTCMinutes()).padStart(2, '0')} ${h < 12 ? 'AM' : 'PM'}`; };
      expect((res.get('D') ?? []).map((r) => r.v)).toEqual(cases.map(([, , ms]) => (ms === null ? [null, null, null] : [ms, Math.floor(ms / 86_400_000) * 86_400_000, clock(ms)])));
    } finally {
      e.close();
    }
  });

  it('a window over a calendar unit, and CEIL … TO an unknown unit, are refused with the position', async () => {
    const code = `CREATE OR REPLACE STREAM "D" (C BIGINT);
CREATE OR REPLACE PUMP "P" AS INSERT INTO "D" SELECT STREAM COUNT(*) FROM "SOURCE_SQL_STREAM_001" GROUP BY FLOOR("SOURCE_SQL_STREAM_001".ROWTIME TO MONTH);`;
    await expect(Engine.compile({ code, inputs: [INPUT] })).rejects.toMatchObject({ line: 2, column: code.split('\n')[1]!.indexOf('MONTH') + 1, message: expect.stringMatching(/no fixed length/) });
    await expect(Engine.compile({ code: pump('T TIMESTAMP', 'CEIL(TS TO FORTNIGHT)'), inputs: [INPUT] })).rejects.toMatchObject({ line: 2, message: expect.stringMatching(/CEIL … TO supports/) });
  });
});

describe('evaluation errors in a row-by-row pump', () => {
  const code = pump('A INTEGER', 'CAST(S AS INTEGER)');
  const rowsWith = (bad: (i: number) => boolean) => Array.from({ length: 1000 }, (_, i) => [bad(i) ? `x${i}` : String(i), null, null, null]);

  it('1% failing rows: exactly those go to error_stream, every other row is emitted', async () => {
    const bad = (i: number) => i % 100 === 37;
    const out = await run(code, rowsWith(bad));
    expect((out.get('D') ?? []).map((r) => r.v[0])).toEqual(Array.from({ length: 1000 }, (_, i) => i).filter((i) => !bad(i)));
    expect((out.get('error_stream') ?? []).map((r) => JSON.parse(r.v[5] as string)[0])).toEqual(Array.from({ length: 1000 }, (_, i) => i).filter(bad).map((i) => `x${i}`));
  });

  it('every row failing: each goes to error_stream once, with the reason', async () => {
    const out = await run(code, rowsWith(() => true));
    expect(out.get('D') ?? []).toEqual([]);
    const errs = out.get('error_stream') ?? [];
    expect(errs.map((r) => JSON.parse(r.v[5] as string)[0]).sort()).toEqual(Array.from({ length: 1000 }, (_, i) => `x${i}`).sort());
    for (const e of errs) expect(String(e.v[3])).toMatch(/Could not convert string 'x\d+' to INT32/);
  });
});
