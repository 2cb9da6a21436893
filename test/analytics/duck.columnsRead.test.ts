// Duck.columnsRead names the work-table columns a pump's query reads, from
// DuckDB's plan. A work table is empty when its pump is compiled, and DuckDB
// plans a filtered query over an empty table as EMPTY_RESULT (no scan); the
// answer must still be the scan's columns, or every column would be copied
// into DuckDB for every row (the tumbling benchmark's URL and EXTRA strings).
import { Duck } from '../../analytics/engine/duck.js';
import { parseSqlType } from '../../analytics/engine/types.js';

const cols = [['EVENT_TYPE', 'INTEGER'], ['BIDDER', 'BIGINT'], ['PRICE', 'DOUBLE'], ['URL', 'VARCHAR(128)'], ['EXTRA', 'VARCHAR(64)'], ['ROWTIME', 'TIMESTAMP'], ['__WID', 'BIGINT']]
  .map(([name, t]) => ({ name: name!, type: parseSqlType(t!) }));

test('a filtered aggregate over an empty table reads only its columns; settings are restored', async () => {
  const d = await Duck.open();
  try {
    await d.createTable('w', cols);
    const read = await d.columnsRead('SELECT BIDDER, count(*), sum(PRICE), __WID FROM w WHERE EVENT_TYPE = 2 GROUP BY BIDDER, __WID', 'w', cols);
    expect(cols.filter((_, i) => read[i]).map((c) => c.name).sort()).toEqual(['BIDDER', 'EVENT_TYPE', 'PRICE', '__WID']);
    // A projection without a filter: the same answer path.
    const read2 = await d.columnsRead('SELECT URL FROM w', 'w', cols);
    expect(cols.filter((_, i) => read2[i]).map((c) => c.name)).toEqual(['URL']);
    // The optimizer is back on for the queries that run: an empty table is again an EMPTY_RESULT plan.
    const plan = (await d.query(`EXPLAIN SELECT BIDDER FROM w WHERE EVENT_TYPE = 2`)).rows.map((r) => String(r[1])).join('\n');
    expect(plan).toContain('EMPTY_RESULT');
  } finally {
    d.close();
  }
});
