// The SQL reference's "Windowed Aggregation on Streams" page: its WEATHERSTREAM rows and its
// PARTITION BY CITY query, whose Results table is the oracle.
import { Engine } from '../../analytics/engine/engine.js';

const SRC = 'WEATHERSTREAM';
const INPUT = { name: SRC, columns: [{ name: 'CITY', sqlType: 'VARCHAR(16)' }, { name: 'TEMP', sqlType: 'INTEGER' }] };
const at = (s: string) => Date.parse(`${s.replace(' ', 'T')}Z`);
const ROWS: [string, string, number][] = [
  ['2018-11-01 01:00:00', 'Denver', 29], ['2018-11-01 01:00:00', 'Anchorage', 2], ['2018-11-01 06:00:00', 'Miami', 65],
  ['2018-11-01 07:00:00', 'Denver', 32], ['2018-11-01 09:00:00', 'Anchorage', 9], ['2018-11-01 13:00:00', 'Denver', 50],
  ['2018-11-01 17:00:00', 'Anchorage', 10], ['2018-11-01 18:00:00', 'Miami', 71], ['2018-11-01 19:00:00', 'Denver', 43],
  ['2018-11-02 01:00:00', 'Anchorage', 4], ['2018-11-02 01:00:00', 'Denver', 39], ['2018-11-02 07:00:00', 'Denver', 46],
  ['2018-11-02 09:00:00', 'Anchorage', 3], ['2018-11-02 13:00:00', 'Denver', 56], ['2018-11-02 17:00:00', 'Anchorage', 2],
  ['2018-11-02 19:00:00', 'Denver', 50], ['2018-11-03 01:00:00', 'Denver', 36], ['2018-11-03 01:00:00', 'Anchorage', 1],
];

describe('Windowed Aggregation on Streams (SQL reference)', () => {
  it('MIN, MAX, AVG over PARTITION BY CITY RANGE INTERVAL \'1\' DAY PRECEDING: the page\'s Results table', async () => {
    const code = `CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (CITY VARCHAR(16), WMIN_TEMP INTEGER, WMAX_TEMP INTEGER, WAVG_TEMP INTEGER);
CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
 SELECT STREAM
        CITY,
        MIN(TEMP) over W1 AS WMIN_TEMP,
        MAX(TEMP) over W1 AS WMAX_TEMP,
        AVG(TEMP) over W1 AS WAVG_TEMP
 FROM WEATHERSTREAM
 WINDOW W1 AS (
        PARTITION BY CITY
        RANGE INTERVAL '1' DAY PRECEDING
 );`;
    const e = await Engine.compile({ code, inputs: [INPUT] });
    try {
      await e.push(SRC, ROWS.map(([t, city, temp]) => ({ t: at(t), v: [city, temp] })));
      await e.advance(at('2018-11-04 00:00:00'));
      const out = e.drain();
      expect(out.get('error_stream') ?? []).toEqual([]);
      // The page's Results (ROWTIME, CITY, WMIN_TEMP, WMAX_TEMP, WAVG_TEMP); the average of INTEGERs into an
      // INTEGER column truncates (5.5 → 5, as the page shows).
      const results: [string, string, number, number, number][] = [
        ['2018-11-01 01:00:00', 'Denver', 29, 29, 29], ['2018-11-01 01:00:00', 'Anchorage', 2, 2, 2], ['2018-11-01 06:00:00', 'Miami', 65, 65, 65],
        ['2018-11-01 07:00:00', 'Denver', 29, 32, 30], ['2018-11-01 09:00:00', 'Anchorage', 2, 9, 5], ['2018-11-01 13:00:00', 'Denver', 29, 50, 37],
        ['2018-11-01 17:00:00', 'Anchorage', 2, 10, 7], ['2018-11-01 18:00:00', 'Miami', 65, 71, 68], ['2018-11-01 19:00:00', 'Denver', 29, 50, 38],
        ['2018-11-02 01:00:00', 'Anchorage', 2, 10, 6], ['2018-11-02 01:00:00', 'Denver', 29, 50, 38], ['2018-11-02 07:00:00', 'Denver', 32, 50, 42],
        ['2018-11-02 09:00:00', 'Anchorage', 3, 10, 6], ['2018-11-02 13:00:00', 'Denver', 39, 56, 46], ['2018-11-02 17:00:00', 'Anchorage', 2, 10, 4],
        ['2018-11-02 19:00:00', 'Denver', 39, 56, 46], ['2018-11-03 01:00:00', 'Denver', 36, 56, 45], ['2018-11-03 01:00:00', 'Anchorage', 1, 4, 2],
      ];
      expect(out.get('DESTINATION_SQL_STREAM')!.map((r) => [r.t, ...r.v])).toEqual(results.map(([t, ...rest]) => [at(t), ...rest]));
    } finally {
      e.close();
    }
  });

  it("MIN, MAX over RANGE INTERVAL '1' DAY PRECEDING globally: a frame ends at the current row, so of two rows at one ROWTIME the first does not see the second", async () => {
    // The page's query as a pump (its ROWTIME column is each output row's ROWTIME here).
    const code = `CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (WMIN_TEMP INTEGER, WMAX_TEMP INTEGER);
CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
 SELECT STREAM
        MIN(TEMP) OVER W1 AS WMIN_TEMP,
        MAX(TEMP) OVER W1 AS WMAX_TEMP
 FROM WEATHERSTREAM
 WINDOW W1 AS (
    RANGE INTERVAL '1' DAY PRECEDING
 );`;
    const e = await Engine.compile({ code, inputs: [INPUT] });
    try {
      // Two reads, split between the two rows of 2018-11-02 01:00: the result does not depend on it.
      const input = ROWS.map(([t, city, temp]) => ({ t: at(t), v: [city, temp] }));
      await e.push(SRC, input.slice(0, 10));
      await e.push(SRC, input.slice(10));
      await e.advance(at('2018-11-04 00:00:00'));
      const out = e.drain().get('DESTINATION_SQL_STREAM')!.map((r) => [r.t, ...r.v]);
      // The definition, in JS: the rows that arrived up to this one and are at most a day older.
      const want = input.map((r, i) => {
        const frame = input.slice(0, i + 1).filter((x) => x.t >= r.t - 86_400_000).map((x) => x.v[1] as number);
        return [r.t, Math.min(...frame), Math.max(...frame)];
      });
      expect(out).toEqual(want);
      // The page's Results table begins so: the first 01:00 row (Denver, 29) has MIN 29, the second (Anchorage, 2) MIN 2.
      expect(out.slice(0, 9).map((r) => r.slice(1))).toEqual([[29, 29], [2, 29], [2, 65], [2, 65], [2, 65], [2, 65], [2, 65], [2, 71], [2, 71]]);
    } finally {
      e.close();
    }
  });
});
