// Output records as JSON (runner.ts formatRow, built as text without an
// object per row) against JSON.stringify of the object KDA's JSON output
// describes, name → rendered value, written here as the oracle; and the
// TIMESTAMP text kept from one row to the next stays right when it changes.
import { formatRow } from '../../analytics/worker/runner.js';
import { parseSqlType, type Value } from '../../analytics/engine/types.js';

const col = (name: string, t: string) => ({ name, type: parseSqlType(t) });
const oracle = (cols: { name: string }[], v: Value[], shown: (x: Value, i: number) => unknown) => {
  const o: Record<string, unknown> = {};
  v.forEach((x, i) => { o[cols[i]!.name] = shown(x, i); });
  return JSON.stringify(o);
};
const ts = (ms: number) => new Date(ms).toISOString().replace('T', ' ').replace('Z', '');

test('JSON rows equal the object a JSON.stringify would write, value for value', () => {
  const cols = [col('WS', 'TIMESTAMP'), col('TICKER', 'VARCHAR(16)'), col('N', 'BIGINT'), col('AVG_PRICE', 'DOUBLE'), col('UP', 'BOOLEAN'), col('d', 'DATE'), col('Ünï "q"', 'VARCHAR(8)')];
  const rows: Value[][] = [
    [1767225600000, 'AMZN', 12, 84.5, true, 1767225600000, 'a"b\\c\n'],
    [1767225600000, null, 0, -0, false, null, 'é€😀'],
    [1767225601000, 'x', -5, Number.NaN, null, 86_400_000, ''],
    [1767225600000, 'back', 2 ** 53, 1e-7, true, 0, '\u0001'],
  ];
  for (const v of rows) {
    const got = formatRow({ t: 0, seq: 0, v }, cols, 'JSON').toString('utf8');
    expect(got).toBe(oracle(cols, v, (x, i) => (x === null ? null : i === 0 ? ts(x as number) : i === 5 ? new Date(x as number).toISOString().slice(0, 10) : x)));
    expect(JSON.parse(got)).toBeInstanceOf(Object);
  }
});

test('names an object would reorder or merge go through the object, as before', () => {
  const cols = [col('B', 'INTEGER'), col('1', 'INTEGER'), col('B', 'INTEGER')];
  const v: Value[] = [1, 2, 3];
  expect(formatRow({ t: 0, seq: 0, v }, cols, 'JSON').toString()).toBe(oracle(cols, v, (x) => x));
  expect(formatRow({ t: 0, seq: 0, v }, cols, 'JSON').toString()).toBe('{"1":2,"B":3}');
});
