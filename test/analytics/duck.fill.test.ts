// Duck.fill writes numbers straight into DuckDB's vectors (int64 as two 32-bit
// halves, its own validity mask): every type, NULLs, negatives and the ends of
// the safe-integer range come back from a plain SELECT as they went in; a table
// of some of a row's columns (a narrowed work table) takes them by index.
import { Duck } from '../../analytics/engine/duck.js';
import { parseSqlType, type Value } from '../../analytics/engine/types.js';

test('fill round trip: BIGINT, TIMESTAMP, INTEGER, DOUBLE, VARCHAR, BOOLEAN, DATE with NULLs; a subset of columns by index', async () => {
  const d = await Duck.open();
  try {
    const cols = [['B', 'BIGINT'], ['T', 'TIMESTAMP'], ['I', 'INTEGER'], ['D', 'DOUBLE'], ['S', 'VARCHAR(10)'], ['X', 'BOOLEAN'], ['DT', 'DATE'], ['U', 'VARCHAR(10)']]
      .map(([name, t]) => ({ name: name!, type: parseSqlType(t!) }));
    await d.createTable('w', cols.slice(0, 7));
    const rows: Value[][] = [];
    // 5000 rows: more than two data chunks, so the chunking and the per-chunk masks are covered.
    for (let i = 0; i < 5000; i++) {
      rows.push([
        i % 7 === 0 ? null : (i % 2 ? -1 : 1) * (Number.MAX_SAFE_INTEGER - i),
        i % 5 === 0 ? null : (i % 3 ? -1 : 1) * (1767225600123 + i),
        i % 11 === 0 ? null : -i, i % 13 === 0 ? null : i / 3, i % 17 === 0 ? null : `s${i}`,
        i % 19 === 0 ? null : i % 2 === 0, i % 23 === 0 ? null : 86_400_000 * (i - 2500), `unread${i}`,
      ]);
    }
    await d.fill('w', cols.slice(0, 7), rows);
    const got = await d.query('SELECT B, T, I, D, S, X, DT FROM w ORDER BY rowid');
    expect(got.rows).toEqual(rows.map((r) => r.slice(0, 7)));
    // The oracle for the int64 halves: DuckDB's own arithmetic on what it stored.
    const sums = await d.query(`SELECT sum(B)::VARCHAR, sum(epoch_ms(T))::VARCHAR FROM w`);
    const big = (k: number) => rows.reduce((s, r) => (r[k] === null ? s : s + BigInt(r[k] as number)), 0n).toString();
    expect(sums.rows[0]).toEqual([big(0), big(1)]);
    await d.createTable('narrow', [cols[7]!, cols[0]!]);
    await d.fill('narrow', [cols[7]!, cols[0]!], rows, [7, 0]);
    expect((await d.query('SELECT U, B FROM narrow ORDER BY rowid')).rows).toEqual(rows.map((r) => [r[7], r[0]]));
  } finally {
    d.close();
  }
});
