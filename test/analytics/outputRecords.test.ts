// Output records (outputRecords.ts, each JSON row written as bytes into one
// buffer) against JSON.stringify of the object KDA's JSON output describes,
// name → rendered value, written here as the oracle; CSV lines as KDA's CSV
// output quotes them; and the emit's message encoding against encodeBatch of
// the same records, one object each.
import { EmitRows, formatRows } from '../../analytics/worker/outputRecords.js';
import { parseSqlType, type Value } from '../../analytics/engine/types.js';
import { decodeBatch, encodeBatch, encodePackedBatch } from '../../stream/recordBatch.js';

const col = (name: string, t: string) => ({ name, type: parseSqlType(t) });
const oracle = (cols: { name: string }[], v: Value[], shown: (x: Value, i: number) => unknown) => {
  const o: Record<string, unknown> = {};
  v.forEach((x, i) => { o[cols[i]!.name] = shown(x, i); });
  return JSON.stringify(o);
};
const ts = (ms: number) => new Date(ms).toISOString().replace('T', ' ').replace('Z', '');
const rowsOf = (vs: Value[][]) => vs.map((v, i) => ({ t: 0, seq: i, v }));

const cols = [col('WS', 'TIMESTAMP'), col('TICKER', 'VARCHAR(16)'), col('N', 'BIGINT'), col('AVG_PRICE', 'DOUBLE'), col('UP', 'BOOLEAN'), col('d', 'DATE'), col('Ünï "q"', 'VARCHAR(8)')];
const shown = (x: Value, i: number) => (x === null ? null : i === 0 ? ts(x as number) : i === 5 ? new Date(x as number).toISOString().slice(0, 10) : x);
const values: Value[][] = [
  [1767225600000, 'AMZN', 12, 84.5, true, 1767225600000, 'a"b\\c\n'],
  [1767225600000, null, 0, -0, false, null, 'é€😀'],
  [1767225601000, 'x', -5, Number.NaN, null, 86_400_000, ''],
  [1767225600000, 'back', 2 ** 53, 1e-7, true, 0, '\u0001'],
  [1767225600000, '\ud800 lone', 1e21, Number.NEGATIVE_INFINITY, false, 0, '~ \u007f'],
];

test('JSON rows equal the object a JSON.stringify would write, value for value, each its own record', () => {
  const recs = formatRows(rowsOf(values), cols, 'JSON', 'p');
  expect(recs.length).toBe(values.length);
  values.forEach((v, i) => {
    const got = recs.data(i).toString('utf8');
    expect(got).toBe(oracle(cols, v, shown));
    expect(JSON.parse(got)).toBeInstanceOf(Object);
    expect(recs.partitionKey(i)).toBe(`p-${i}`);
  });
  expect(recs.withoutKeys().partitionKey(3)).toBe('');
});

test('integers of every length and sign, around the 15-digit fast path and past it, as JSON.stringify writes them', () => {
  const c = [col('N', 'BIGINT'), col('X', 'DOUBLE')];
  const ints = [0, -0, 1, -1, 9, 10, -10, 99, 100, 101, 1234567890, 99999999999999, 100000000000000, 999999999999999, -999999999999999, 1e15, -1e15, 1e15 + 1, 2 ** 53 - 1, -(2 ** 53 - 1), 2 ** 53, 1e21];
  for (let p = 1; p < 1e16; p *= 10) ints.push(p - 1, p, p + 1, -p);
  const vs: Value[][] = ints.map((n) => [n, n]);
  const recs = formatRows(rowsOf(vs), c, 'JSON', 'k');
  vs.forEach((v, i) => expect(recs.data(i).toString('utf8')).toBe(oracle(c, v, (x) => x)));
});

test('fractions as JSON.stringify writes them: prices and their sums, one or two decimals, every magnitude and sign, and the rest', () => {
  const c = [col('X', 'DOUBLE')];
  let seed = 11;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
  const price = () => 100 + Math.floor(rnd() * 10_000_000) / 100;
  const xs: number[] = [0.01, 0.1, 0.05, 0.07, 0.015, 0.3, 0.1 + 0.2, 0.009, 1.5, 2.25, 9.99, 99.995, 0.995, 1e12 - 0.01, 1e12 + 0.5, 999999999999.99, 123456789.12, 5e-324, 1e-7, 1e21 + 0.5, Math.PI];
  for (let i = 0; i < 20_000; i++) {
    let sum = 0;
    for (let k = 1 + Math.floor(rnd() * 4); k > 0; k--) sum += price();
    xs.push(sum, price(), rnd() * 1000, Math.floor(rnd() * 1e6) / 10, Math.floor(rnd() * 1e14) / 100, (Math.floor(rnd() * 2e4) - 1e4) / 100);
  }
  for (let e = -3; e <= 13; e++) xs.push(1.25 * 10 ** e, 10 ** e + 0.01, 10 ** e - 0.01);
  const vs: Value[][] = [...xs, ...xs.map((x) => -x)].map((x) => [x]);
  const recs = formatRows(rowsOf(vs), c, 'JSON', 'k');
  vs.forEach((v, i) => {
    const got = recs.data(i).toString('utf8');
    if (got !== oracle(c, v, (x) => x)) throw new Error(`${String(v[0])}: wrote ${got}`);
  });
});

test('timestamps of every era as toISOString writes them: negative, day and year edges, years 0 and 9999 and past them, fractions', () => {
  const c = [col('T', 'TIMESTAMP'), col('U', 'TIMESTAMP')];
  let seed = 3;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
  const edges = [0, -1, 1, 999, 1000, 86_399_999, 86_400_000, -86_400_000, -86_400_001, 951_782_400_000 /* 2000-02-29 */, -62_167_219_200_000, -62_167_219_200_001,
    253_402_300_799_999, 253_402_300_800_000, 1_767_225_599_999.5, -0.5, 4102444800000];
  const ms = [...edges, ...Array.from({ length: 3000 }, () => Math.floor((rnd() * 2 - 1) * 2.6e14)), ...Array.from({ length: 500 }, () => 1_767_225_600_000 + Math.floor(rnd() * 3e9))];
  const vs: Value[][] = ms.map((m, i) => [m, ms[(i + 1) % ms.length]!]);
  const recs = formatRows(rowsOf(vs), c, 'JSON', 'k');
  vs.forEach((v, i) => expect(recs.data(i).toString('utf8')).toBe(oracle(c, v, (x) => ts(x as number))));
});

test('many rows: the buffer grows and every record keeps its bytes', () => {
  const many: Value[][] = Array.from({ length: 5000 }, (_, i) => [1767225600000 + (i % 3) * 1000, `t${i}`.repeat(i % 7), i * 7, i / 3, i % 2 === 0, null, 'é'.repeat(i % 4)]);
  const recs = formatRows(rowsOf(many), cols, 'JSON', '9');
  many.forEach((v, i) => expect(recs.data(i).toString('utf8')).toBe(oracle(cols, v, shown)));
});

test('windows held as columns (the combiner\'s) and rows, in one emit, in order, each row as the oracle writes it', () => {
  // Runs of equal values in a column (a window's start, small counts, repeated text) are copied from
  // the bytes written above them: the oracle is per row, so a copy of the wrong bytes shows.
  const win: Value[][] = Array.from({ length: 700 }, (_, i) => [1767225600000 + Math.floor(i / 300) * 1000, i % 5 === 0 ? null : `k${i % 3}`, i % 4, i % 9 === 0 ? Number.NaN : Math.floor(i / 2) / 4, i % 3 === 0, i % 2 ? null : 86_400_000, i % 6 ? 'a"b' : 'é']);
  const asCols = (vs: Value[][]) => cols.map((_, c) => vs.map((v) => v[c]!));
  const e = new EmitRows();
  e.window({ t: 1, cols: asCols(win.slice(0, 400)), n: 400 });
  e.rows(rowsOf(values));
  e.window({ t: 2, cols: asCols(win.slice(400)), n: 300 });
  e.window({ t: 3, cols: asCols([]), n: 0 });
  const all = [...win.slice(0, 400), ...values, ...win.slice(400)];
  const recs = formatRows(e, cols, 'JSON', 'w');
  expect(recs.length).toBe(all.length);
  all.forEach((v, i) => expect(recs.data(i).toString('utf8')).toBe(oracle(cols, v, shown)));
  expect(recs.partitionKey(all.length - 1)).toBe(`w-${all.length - 1}`);
  // A column left empty (a target column no item fills) is NULL in every row; CSV from columns too.
  const c = [col('A', 'VARCHAR(8)'), col('B', 'INTEGER'), col('C', 'VARCHAR(8)')];
  const csv = new EmitRows();
  csv.window({ t: 1, cols: [['x,y', 'z'], [], ['say "hi"', '']], n: 2 });
  const lines = formatRows(csv, c, 'CSV', 'k');
  expect([0, 1].map((i) => lines.data(i).toString())).toEqual(['"x,y",,"say ""hi"""\n', 'z,,\n']);
  const json = new EmitRows();
  json.window({ t: 1, cols: [['x', 'y'], [], [null, 'q']], n: 2 });
  const objs = formatRows(json, c, 'JSON', 'k');
  expect([0, 1].map((i) => objs.data(i).toString())).toEqual(['{"A":"x","B":null,"C":null}', '{"A":"y","B":null,"C":"q"}']);
});

test('names an object would reorder or merge go through the object, as before', () => {
  const c = [col('B', 'INTEGER'), col('1', 'INTEGER'), col('B', 'INTEGER')];
  const v: Value[] = [1, 2, 3];
  const recs = formatRows(rowsOf([v, v]), c, 'JSON', 'k');
  expect(recs.data(1).toString()).toBe(oracle(c, v, (x) => x));
  expect(recs.data(1).toString()).toBe('{"1":2,"B":3}');
});

test('partition keys written as bytes are the UTF-8 bytes of <prefix>-<i>, for every length of i', () => {
  for (const prefix of ['7', 'émit-12', '€']) {
    const rows = Array.from({ length: 12_345 }, (_, i): Value[] => [i]);
    const recs = formatRows(rowsOf(rows), [col('A', 'INTEGER')], 'JSON', prefix);
    for (const i of [0, 1, 9, 10, 11, 99, 100, 101, 999, 1000, 9999, 10_000, 12_344]) {
      const key = Buffer.from(`${prefix}-${i}`);
      expect(recs.keyBytes(i)).toBe(key.length);
      const out = Buffer.alloc(key.length + 2, 0xee);
      recs.writeKey(i, out, 1);
      expect(out).toEqual(Buffer.concat([Buffer.from([0xee]), key, Buffer.from([0xee])]));
    }
    const order = [12_344, 0, 10_000, 9, 100];
    const packed = encodePackedBatch(5, recs, order, 0, order.length);
    expect(decodeBatch(packed).records.map((r) => r.partitionKey)).toEqual(order.map((i) => `${prefix}-${i}`));
  }
  const none = formatRows(rowsOf([[1]]), [col('A', 'INTEGER')], 'JSON', null);
  expect(none.keyBytes(0)).toBe(0);
});

test('CSV lines quote fields with a comma, a quote or a newline', () => {
  const c = [col('A', 'VARCHAR(8)'), col('B', 'INTEGER'), col('C', 'VARCHAR(8)')];
  const recs = formatRows(rowsOf([['x,y', 1, 'say "hi"'], [null, 2, 'a\nb'], ['plain', null, '']]), c, 'CSV', 'k');
  expect([0, 1, 2].map((i) => recs.data(i).toString())).toEqual(['"x,y",1,"say ""hi"""\n', ',2,"a\nb"\n', 'plain,,\n']);
});

test('an emit message of packed records is the bytes encodeBatch writes for the same records', () => {
  const recs = formatRows(rowsOf(values), cols, 'JSON', 'émit-7');
  const order = [4, 0, 2];
  const packed = encodePackedBatch(1234.5, recs, order, 0, 3);
  const plain = encodeBatch(1234.5, order.map((i) => ({ partitionKey: `émit-7-${i}`, partitionKeyBytes: Buffer.byteLength(`émit-7-${i}`), data: Buffer.from(oracle(cols, values[i]!, shown)) })));
  expect(packed.equals(plain)).toBe(true);
  const back = decodeBatch(encodePackedBatch(1, recs.withoutKeys(), order, 1, 3));
  expect(back.records.map((r) => [r.partitionKey, r.data.toString()])).toEqual([0, 2].map((i) => ['', oracle(cols, values[i]!, shown)]));
  // A long record (past the byte loop) keeps its bytes too.
  const long = formatRows(rowsOf([[0, 'z'.repeat(16), 1, 2, true, 0, 'w'.repeat(8)]]), cols, 'JSON', 'L');
  expect(decodeBatch(encodePackedBatch(1, long, [0], 0, 1)).records[0]!.data.toString()).toBe(long.data(0).toString());
});
