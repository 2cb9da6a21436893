// The SQL reference's Temporal Predicates: its sample use case (a fraud alarm when one card is used at
// two registers at overlapping times) unchanged, the standard predicates against SQL:2011's period
// semantics worked out here, compact chaining, and the picture-only extensions refused by name.
import { Engine } from '../../analytics/engine/engine.js';

const SRC = 'TRANSACTIONSPERCREDITCARD';
const INPUT = { name: SRC, columns: [
  { name: 'current_timestamp', sqlType: 'TIMESTAMP' }, { name: 'creditCardNumber', sqlType: 'VARCHAR(16)' },
  { name: 'registerID1', sqlType: 'VARCHAR(16)' }, { name: 'registerID2', sqlType: 'VARCHAR(16)' },
  { name: 'startTime1', sqlType: 'TIMESTAMP' }, { name: 'endTime1', sqlType: 'TIMESTAMP' },
  { name: 'startTime2', sqlType: 'TIMESTAMP' }, { name: 'endTime2', sqlType: 'TIMESTAMP' },
] };
const m = (min: number) => Date.UTC(2024, 0, 1, 10, min);

async function run(code: string, rows: (string | number | null)[][]) {
  const e = await Engine.compile({ code, inputs: [INPUT] });
  try {
    await e.push(SRC, rows.map((v, i) => ({ t: 1_700_000_000_000 + i, v })));
    await e.advance(1_700_000_000_000 + rows.length + 1);
    return e.drain();
  } finally {
    e.close();
  }
}

describe('Temporal Predicates', () => {
  it("the page's sample use case unchanged: (startTime1, endTime1) overlaps (startTime2, endTime2)", async () => {
    const code = `CREATE OR REPLACE STREAM alarmStream (alarm_time TIMESTAMP, creditCardNumber VARCHAR(16), registerID1 VARCHAR(16), registerID2 VARCHAR(16));
create pump creditCardFraudPump stopped as
 insert into alarmStream
  select stream
    current_timestamp, creditCardNumber, registerID1, registerID2
  from transactionsPerCreditCard
  where registerID1 <> registerID2
  and (startTime1, endTime1) overlaps (startTime2, endTime2)
;`;
    const rows: [string, string, string, number, number, number, number][] = [
      ['c1', 'r1', 'r2', m(0), m(10), m(5), m(15)], // overlap
      ['c2', 'r1', 'r2', m(0), m(10), m(10), m(20)], // touching: half-open periods do not overlap
      ['c3', 'r1', 'r1', m(0), m(10), m(5), m(15)], // same register
      ['c4', 'r3', 'r4', m(5), m(6), m(0), m(30)], // one inside the other
    ];
    const out = await run(code, rows.map(([c, a, b, s1, e1, s2, e2]) => [0, c, a, b, s1, e1, s2, e2]));
    expect(out.get('error_stream') ?? []).toEqual([]);
    expect(out.get('ALARMSTREAM')!.map((r) => r.v.slice(1))).toEqual([['c1', 'r1', 'r2'], ['c4', 'r3', 'r4']]);
  });

  it('CONTAINS (a period or a timestamp), EQUALS, [IMMEDIATELY] PRECEDES / SUCCEEDS, PERIOD, compact chaining', async () => {
    const preds = ['PERIOD (startTime1, endTime1) CONTAINS (startTime2, endTime2)', '(startTime1, endTime1) CONTAINS startTime2',
      '(startTime1, endTime1) EQUALS (startTime2, endTime2)', '(startTime1, endTime1) PRECEDES (startTime2, endTime2)',
      '(startTime1, endTime1) SUCCEEDS (startTime2, endTime2)', '(startTime1, endTime1) IMMEDIATELY PRECEDES (startTime2, endTime2)',
      '(startTime1, endTime1) IMMEDIATELY SUCCEEDS (startTime2, endTime2)',
      '(startTime1, endTime1) PRECEDES (startTime2, endTime2) PRECEDES PERIOD(startTime2 + INTERVAL \'3\' MINUTE, endTime2 + INTERVAL \'9\' MINUTE)'];
    const code = `CREATE OR REPLACE STREAM "D" (${preds.map((_, i) => `P${i} BOOLEAN`).join(', ')});
CREATE OR REPLACE PUMP "P" AS INSERT INTO "D" SELECT STREAM ${preds.join(',\n  ')} FROM ${SRC};`;
    const periods: [number, number, number, number][] = [[0, 10, 2, 5], [0, 10, 0, 10], [0, 10, 10, 20], [10, 20, 0, 10], [0, 5, 7, 9], [5, 8, 0, 2], [0, 10, 10, 10]];
    const out = await run(code, periods.map(([a, b, c, d]) => [0, 'c', 'r1', 'r2', m(a), m(b), m(c), m(d)]));
    // SQL:2011 periods [start, end); CONTAINS t as the page gives it: s <= t AND t < e.
    const want = periods.map(([s1, e1, s2, e2]) => [s1 <= s2 && e2 <= e1, s1 <= s2 && s2 < e1, s1 === s2 && e1 === e2, e1 <= s2, s1 >= e2, e1 === s2, s1 === e2, e1 <= s2 && e2 <= s2 + 3]);
    expect(out.get('error_stream') ?? []).toEqual([]);
    expect(out.get('D')!.map((r) => r.v)).toEqual(want);
  });

  it('the extensions the page defines only by pictures (LEADS, LAGS, STRICTLY …) are refused by name', async () => {
    for (const p of ['LEADS', 'STRICTLY OVERLAPS', 'IMMEDIATELY LAGS']) {
      await expect(Engine.compile({ inputs: [INPUT], code: `CREATE OR REPLACE STREAM "D" (A BOOLEAN);
CREATE OR REPLACE PUMP "P" AS INSERT INTO "D" SELECT STREAM (startTime1, endTime1) ${p} (startTime2, endTime2) FROM ${SRC};` })).rejects.toThrow(new RegExp(`the temporal predicate ${p} is not supported`));
    }
  });
});
