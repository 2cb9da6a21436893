// The SQL reference's Data Types: TIME as a stream column (in input records, in pumps and in output
// records), alongside the Date, Timestamp, and Interval operators on it.
import { Engine } from '../../analytics/engine/engine.js';
import { coerce, parseSqlType, render } from '../../analytics/engine/types.js';

const SRC = 'SOURCE_SQL_STREAM_001';
const INPUT = { name: SRC, columns: [{ name: 'T', sqlType: 'TIME' }, { name: 'TS', sqlType: 'TIMESTAMP' }] };
const hms = (h: number, m: number, s: number, ms = 0) => ((h * 60 + m) * 60 + s) * 1000 + ms;

describe('TIME', () => {
  it('an input TIME column, TIME arithmetic and comparison, a TIME target column', async () => {
    const e = await Engine.compile({ inputs: [INPUT], code: `CREATE OR REPLACE STREAM "D" (T TIME, LATER TIME, OF_TS TIME, LATE BOOLEAN, TXT VARCHAR(12));
CREATE OR REPLACE PUMP "P" AS INSERT INTO "D"
  SELECT STREAM T, T + INTERVAL '2' MINUTE, CAST(TS AS TIME), T > TIME '12:00:00', TIME_TO_CHAR('HH:mm:ss', T) FROM "${SRC}";` });
    try {
      const t0 = 1_700_000_000_000;
      await e.push(SRC, [
        { t: t0, v: [hms(23, 59, 0), Date.UTC(2024, 0, 1, 1, 2, 3, 456)] },
        { t: t0 + 1, v: [hms(9, 30, 0, 250), null] },
        { t: t0 + 2, v: [null, null] },
      ]);
      await e.advance(t0 + 10);
      const out = e.drain();
      expect(out.get('error_stream') ?? []).toEqual([]);
      expect(out.get('D')!.map((r) => r.v)).toEqual([
        // TIME + INTERVAL wraps past midnight, as TIME arithmetic does.
        [hms(23, 59, 0), hms(0, 1, 0), hms(1, 2, 3, 456), true, '23:59:00'],
        [hms(9, 30, 0, 250), hms(9, 32, 0, 250), null, false, '09:30:00'],
        [null, null, null, null, null],
      ]);
    } finally {
      e.close();
    }
  });

  it("a record's TIME field as text or milliseconds; not a time of day is a TYPE_ERROR; output records write 'HH:MM:SS[.mmm]'", () => {
    const time = parseSqlType('TIME');
    expect([coerce('07:08:09', time, 'T'), coerce('23:00:01.005', time, 'T'), coerce(hms(1, 2, 3), time, 'T')]).toEqual([hms(7, 8, 9), hms(23, 0, 1, 5), hms(1, 2, 3)]);
    for (const bad of ['25:00:00', '12:60', 'noon', true]) expect(() => coerce(bad, time, 'T')).toThrow(/value .* of column T is not a valid TIME/);
    expect([render(hms(7, 8, 9), time), render(hms(23, 0, 1, 5), time)]).toEqual(['07:08:09', '23:00:01.005']);
  });
});

describe('TSDIFF', () => {
  it('TSDIFF(start, end) = end - start (the Temporal Predicates page); BIGINT milliseconds, as its page declares, or TIMESTAMPs; NULL when either is NULL', async () => {
    const e = await Engine.compile({ inputs: [INPUT], code: `CREATE OR REPLACE STREAM "D" (A BIGINT, B BIGINT, C BIGINT, N BIGINT);
CREATE OR REPLACE PUMP "P" AS INSERT INTO "D" SELECT STREAM TSDIFF(UNIX_TIMESTAMP(TS), 1000), TSDIFF(TS, TIMESTAMP '2024-01-01 00:00:00'),
  TSDIFF(CAST(1500 AS BIGINT), UNIX_TIMESTAMP(TS)), TSDIFF(TS, CAST(NULL AS TIMESTAMP)) FROM "${SRC}";` });
    try {
      const ts = Date.UTC(2024, 0, 1, 0, 0, 1, 250);
      await e.push(SRC, [{ t: 1, v: [null, ts] }]);
      await e.advance(10);
      const out = e.drain();
      expect(out.get('error_stream') ?? []).toEqual([]);
      expect(out.get('D')!.map((r) => r.v)).toEqual([[1000 - ts, -1250, ts - 1500, null]]);
    } finally {
      e.close();
    }
  });
});
