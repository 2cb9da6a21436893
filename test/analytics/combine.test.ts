// The combiner's simple form (combiner.ts combine()): the partial rows of one
// window, from several shards, become one row per key. The oracle is written
// here from the aggregates' definitions: per key, COUNT adds the counts, SUM
// adds the non-NULL sums (NULL if none), MIN/MAX take the least/greatest
// non-NULL value, AVG divides the summed sums by the summed counts.
import { coerceItems, combine, combineWindow, partialRows } from '../../analytics/worker/combiner.js';
import { encodePartialMessage } from '../../analytics/worker/partialFrame.js';
import { parseSqlType, type Value } from '../../analytics/engine/types.js';
import type { PartialPump } from '../../analytics/sql/decompose.js';

const pump = (items: PartialPump['items'], fn: 'TUMBLE' | 'HOP' = 'TUMBLE'): PartialPump =>
  ({ name: 'P', partialStream: 'P$PARTIAL', target: 'OUT', targetColumns: [], items, window: { fn, sizeMs: 1000 }, eventTime: false }) as unknown as PartialPump;

/** A seeded generator (mulberry32): the same partials every run. */
function random(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test('COUNT, SUM, MIN, MAX and AVG over two key columns, with NULL keys and NULL partials, equal the oracle', () => {
  // Partial columns: K1, K2, COUNT, SUM, MIN, MAX, AVG's SUM, AVG's COUNT.
  const p = pump(['key', 'key', 'count', 'sum', 'min', 'max', 'avg']);
  const rnd = random(7);
  const pick = <T>(xs: T[]) => xs[Math.floor(rnd() * xs.length)]!;
  const partials: Value[][] = [];
  for (let i = 0; i < 3000; i++) {
    const n = Math.floor(rnd() * 5);
    const empty = n === 0 || rnd() < 0.1;
    const vals = Array.from({ length: n }, () => Math.round(rnd() * 2000 - 1000) / 4);
    partials.push([
      pick(['a', 'b', 'c', null]), pick([1, 2, '1', null]), n,
      empty ? null : vals.reduce((a, b) => a + b, 0),
      empty ? null : Math.min(...vals), empty ? null : Math.max(...vals),
      empty ? null : vals.reduce((a, b) => a + b, 0), empty ? 0 : n,
    ]);
  }
  const oracle = new Map<string, Value[][]>();
  for (const r of partials) {
    const k = JSON.stringify([r[0], r[1]]);
    oracle.set(k, [...(oracle.get(k) ?? []), r]);
  }
  const expected = [...oracle.values()].map((rows) => {
    const nonNull = (c: number) => rows.map((r) => r[c]).filter((x): x is number => x !== null);
    const sums = nonNull(3);
    const avgCount = nonNull(7).reduce((a, b) => a + b, 0);
    return [
      rows[0]![0], rows[0]![1], nonNull(2).reduce((a, b) => a + b, 0),
      sums.length ? sums.reduce((a, b) => a + b, 0) : null,
      nonNull(4).length ? Math.min(...nonNull(4)) : null, nonNull(5).length ? Math.max(...nonNull(5)) : null,
      avgCount > 0 ? nonNull(6).reduce((a, b) => a + b, 0) / avgCount : null,
    ];
  });
  const got = combine(p, partials);
  // One row per key, keys in the order they first appear ('1' and 1 are different keys, as in SQL's typed rows).
  expect(got.map((v) => JSON.stringify([v[0], v[1]]))).toEqual([...oracle.keys()]);
  expect(got.length).toBe(16);
  for (let i = 0; i < got.length; i++) {
    const [g, e] = [got[i]!, expected[i]!];
    expect(g.slice(0, 6)).toEqual(e.slice(0, 6));
    if (e[6] === null) expect(g[6]).toBeNull();
    else expect(g[6] as number).toBeCloseTo(e[6] as number, 9);
  }
  // The partial rows are not changed by folding.
  expect(partials[0]!.length).toBe(8);
});

test('a HOP window (folded only by the combiner) and string MIN/MAX', () => {
  const p = pump(['key', 'min', 'max', 'count'], 'HOP');
  const got = combine(p, [['x', 'pear', 'pear', 2], ['y', null, null, 0], ['x', 'apple', 'zoo', 3], ['x', null, null, 0], ['y', 'm', 'm', 1]]);
  expect(got).toEqual([['x', 'apple', 'zoo', 5], ['y', 'm', 'm', 1]]);
});

test('counts and sums that arrive as text add up as numbers', () => {
  const got = combine(pump(['key', 'count', 'sum']), [[1, '2', '1.5'], [1, '3', null]]);
  expect(got).toEqual([[1, 5, 1.5]]);
});

test('a window whose chunks came as rows (older workers, checkpoints) and as columns (shard engines) combines as one list of rows', () => {
  const p = pump(['key', 'count', 'sum', 'min']);
  const rnd = random(11);
  const rows: Value[][] = Array.from({ length: 900 }, () => [Math.floor(rnd() * 40), 1 + Math.floor(rnd() * 3), rnd() < 0.1 ? null : Math.round(rnd() * 100), Math.floor(rnd() * 9)]);
  const asCols = (rs: Value[][]) => ({ cols: rs[0]!.map((_, c) => rs.map((r) => r[c]!)) });
  const got = combineWindow(p, [rows.slice(0, 300), asCols(rows.slice(300, 700)), rows.slice(700, 800), asCols(rows.slice(800))]);
  expect(got).toEqual(combine(p, rows));
  expect(got.length).toBe(new Set(rows.map((r) => r[0])).size);
  // Held as the partial messages that brought them (what the combiner keeps until the window closes):
  // columns of doubles, columns with a NULL (JSON), and rows.
  const message = (m: object) => ({ message: new Uint8Array(encodePartialMessage({ type: 'partial', input: 'i', shard: 's', stream: 'P', t: 1, chunk: 0, ...m })) });
  const held = [message(asCols(rows.slice(0, 300))), message(asCols(rows.slice(300, 700))), message({ rows: rows.slice(700) })];
  expect(combineWindow(p, held)).toEqual(got);
  expect(partialRows(held[2]!)).toEqual(rows.slice(700));
  expect(() => combineWindow(p, [{ blob: 0 }])).toThrow(/blob/);
});

test('combined values as their target columns\' types: kept as they are when they fit, else converted; a row with a value that does not convert is named with the first such value\'s reason', () => {
  const t = (s: string) => parseSqlType(s);
  const counts: Value[] = [1, 2, 3];
  const sums: Value[] = [2 ** 40, 7.5, null];
  const keys: Value[] = ['7', 'x', 9];
  const { cols, bad } = coerceItems([counts, sums, keys], 3, [t('BIGINT'), t('INTEGER'), t('BIGINT')], ['N', 'S', 'K']);
  // Counts already BIGINT: the same array, no copy.
  expect(cols[0]).toBe(counts);
  // 2^40 and 7.5 are no INTEGER, 'x' no BIGINT; '7' converts to 7; the input columns stay as they were.
  expect([...bad.keys()]).toEqual([0, 1]);
  expect(bad.get(0)).toMatch(/\bS\b/);
  expect(bad.get(1)).toMatch(/\bS\b/);
  expect(cols[2]![0]).toBe(7);
  expect(cols[1]![2]).toBeNull();
  expect(sums).toEqual([2 ** 40, 7.5, null]);
  expect(keys).toEqual(['7', 'x', 9]);
  // Every value of S fits here: the rows are named by K's.
  const second = coerceItems([[1, 2], ['y', 'x']], 2, [t('INTEGER'), t('BIGINT')], ['S', 'K']);
  expect([...second.bad]).toEqual([[0, expect.stringMatching(/\bK\b/)], [1, expect.stringMatching(/\bK\b/)]]);
});
