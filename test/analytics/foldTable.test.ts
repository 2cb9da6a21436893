// The fold tables of pre-aggregated windows and the combiner (foldTable.ts,
// keySlots.ts) against an oracle written here: a Map of JSON key tuples
// folding rows one by one (COUNT/SUM add as numbers, a SUM of only NULLs
// stays NULL, MIN/MAX by value with NULLs ignored). Keys that are numbers of
// every kind (-0 and 0 as one key, NaN, beyond 31 bits, fractions), strings
// and NULL; tables whose group key column changes as rows come (the column
// first taken for fixed varies, or two key columns vary).
import { ColumnFoldTable, type Fold } from '../../analytics/worker/foldTable.js';
import { KeySlots } from '../../analytics/engine/keySlots.js';
import { float64s, uint8s } from '../../analytics/engine/arrayPool.js';
import type { Value } from '../../analytics/engine/types.js';

function rnd(seed: number): () => number {
  let s = seed;
  return () => ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32);
}

/** Nulls first, numbers by value, else text by code unit; a number and a text compare as texts. */
function order(a: Value, b: Value): number {
  if (a === null || b === null) return a === b ? 0 : a === null ? -1 : 1;
  if (typeof a === 'number' && typeof b === 'number') return a < b ? -1 : a > b ? 1 : 0;
  const [x, y] = [String(a), String(b)];
  return x < y ? -1 : x > y ? 1 : 0;
}

/** The oracle: groups in first-appearance order, each folded row by row. */
function oracle(rows: Value[][], keys: number[], folds: [number, Fold][]): Value[][] {
  const groups = new Map<string, Value[]>();
  for (const r of rows) {
    // Map keys as SameValueZero: -0 is 0 (JSON writes both as 0; NaN as null, so it is tagged).
    const k = JSON.stringify(keys.map((i) => (typeof r[i] === 'number' && Number.isNaN(r[i]) ? 'NaN!' : r[i] === null ? null : [typeof r[i], r[i]])));
    const g = groups.get(k);
    if (!g) { groups.set(k, [...r]); continue; }
    for (const [i, f] of folds) {
      const x = r[i]!;
      if (x === null) continue;
      if (g[i] === null) g[i] = f === 'count' || f === 'sum' ? Number(x) : x;
      else if (f === 'count' || f === 'sum') g[i] = Number(g[i]) + Number(x);
      else if (f === 'min' ? order(x, g[i]!) < 0 : order(x, g[i]!) > 0) g[i] = x;
    }
  }
  return [...groups.values()];
}

const byKeys = (keys: number[]) => (a: Value[], b: Value[]) => {
  for (const i of keys) {
    const c = order(a[i]!, b[i]!);
    if (c !== 0) return c;
  }
  return 0;
};

/** Rows into a table, half as rows (add) and half as columns (addAt), then its outputs against the oracle. */
function check(rows: Value[][], keys: number[], folds: [number, Fold][], expected?: number): ColumnFoldTable {
  const width = rows[0]!.length;
  const t = new ColumnFoldTable(width, keys, folds, expected);
  const cols = Array.from({ length: width }, (_, c) => rows.map((r) => r[c]!));
  rows.forEach((r, i) => (i % 2 ? t.add(r) : t.addAt(cols, i)));
  const want = oracle(rows, keys, folds);
  expect(t.size).toBe(want.length);
  expect(t.rows('first')).toEqual(want);
  const sorted = [...want].sort(byKeys(keys));
  // Keys equal under `order` but different (1 and '1') keep no particular order: compare as sets then.
  expect(new Set(t.rows('key').map((r) => JSON.stringify(r)))).toEqual(new Set(sorted.map((r) => JSON.stringify(r))));
  const got = t.rows('key');
  for (let i = 1; i < got.length; i++) expect(byKeys(keys)(got[i - 1]!, got[i]!)).toBeLessThanOrEqual(0);
  const c = t.columns();
  expect(c.map((col) => col.length)).toEqual(Array(width).fill(want.length));
  expect(got.map((_, r) => c.map((col) => col[r]))).toEqual(got);
  expect(t.columns('first').map((col, i) => col.map((_, r) => want[r]![i]))).toEqual(t.columns('first'));
  return t;
}

const FOLDS: [number, Fold][] = [[2, 'count'], [3, 'sum'], [4, 'min'], [5, 'max']];

test('one window of integer keys (the 100k-key case): a STEP column beside the key', () => {
  const r = rnd(1);
  const rows = Array.from({ length: 20_000 }, () => [60_000, Math.floor(r() * 5000) - 100, 1, r() < 0.1 ? null : Math.round(r() * 1e4) / 100, Math.floor(r() * 50), r() < 0.2 ? null : Math.floor(r() * 50)]);
  check(rows, [0, 1], FOLDS);
});

test('integer keys across 32 bits (both ends, negatives, -0 beside 0) come out in key order (the radix order)', () => {
  const r = rnd(6);
  const ends = [-(2 ** 31), 2 ** 31 - 1, 0, -0, -1, 1, 2 ** 22, -(2 ** 22)];
  const rows = Array.from({ length: 30_000 }, (_, i) => [60_000, i < ends.length * 3 ? ends[i % ends.length]! : Math.floor(r() * 2 ** 32) - 2 ** 31, 1, r(), 3, 4]);
  const t = check(rows, [0, 1], FOLDS);
  const keys = t.columns()[1]!.map(Number);
  expect(keys[0]).toBe(-(2 ** 31));
  expect(keys[keys.length - 1]).toBe(2 ** 31 - 1);
  // Keys of up to 12 bits: one radix pass is skipped.
  check(Array.from({ length: 5000 }, () => [60_000, Math.floor(r() * 4000), 1, r(), 3, 4]), [0, 1], FOLDS);
});

test('a table sized for the groups it expects (the last window\'s) folds the same, whether they are fewer or more', () => {
  const r = rnd(4);
  const rows = Array.from({ length: 20_000 }, () => [60_000, Math.floor(r() * 30_000), 1, Math.round(r() * 1e4) / 100, Math.floor(r() * 50), Math.floor(r() * 50)]);
  for (const expected of [0, 100, 17_000, 100_000]) check(rows, [0, 1], FOLDS, expected);
});

test('keys of every kind: -0 and 0, NaN, beyond 31 bits, fractions, text, NULL', () => {
  const r = rnd(2);
  const kinds: Value[] = [0, -0, NaN, 2 ** 40 + 1, -(2 ** 33), 0.5, -1.25, 'a', 'b', '1', 1, null, 7, 2 ** 31, -(2 ** 31)];
  const rows = Array.from({ length: 3000 }, () => [kinds[Math.floor(r() * kinds.length)]!, 5, 2, Math.floor(r() * 9), r() < 0.5 ? 'x' : 'y', r() < 0.3 ? null : r() * 10]);
  const t = check(rows, [0], FOLDS);
  // -0 and 0 are one group.
  expect(t.rows('first').filter((v) => v[0] === 0).length).toBe(1);
});

test('the key column changes as rows come: the column first taken for fixed varies, then both vary', () => {
  const r = rnd(3);
  // Rows 0..1: one group; row 2 differs only in column 0 (that is the varying one); from row 500 column 1 varies too.
  const rows: Value[][] = [[10, 'k', 1, 1, 1, 1], [10, 'k', 1, 2, 2, 2], [11, 'k', 1, 3, 3, 3]];
  for (let i = 0; i < 1000; i++) rows.push([Math.floor(r() * 40), i < 500 ? 'k' : `k${Math.floor(r() * 3)}`, 1, r(), Math.floor(r() * 5), Math.floor(r() * 5)]);
  check(rows, [0, 1], FOLDS);
  // The second group differs in both key columns at once.
  check([[1, 'a', 1, 1, 1, 1], [2, 'b', 1, 1, 1, 1], [1, 'a', 1, 5, 0, 9], [2, 'a', 1, 1, 1, 1]], [0, 1], FOLDS);
  // Three key columns, no key columns at all.
  check(Array.from({ length: 400 }, (_, i) => [i % 3, 'x', i % 7, 1, i, i]), [0, 1, 2], [[3, 'count'], [4, 'min'], [5, 'max']]);
  check(Array.from({ length: 50 }, (_, i) => [1, i, i]), [], [[0, 'count'], [1, 'sum'], [2, 'max']]);
});

test('counts and sums given as text add up as numbers; MIN and MAX of text', () => {
  check([[1, '2', '1.5', 'pear', 'pear'], [1, '3', null, 'apple', 'zoo'], [2, null, null, null, null], [2, 4, '2', 'm', 'm']], [0], [[1, 'count'], [2, 'sum'], [3, 'min'], [4, 'max']]);
});

/** Columns of doubles, as the combiner decodes a partial message's. */
const doubles = (rows: Value[][]) => Array.from({ length: rows[0]!.length }, (_, c) => Float64Array.from(rows.map((r) => r[c] as number)));

test('partial messages\' columns of doubles fold (foldNumbers) as their rows would, entries it cannot take row by row', () => {
  const r = rnd(8);
  const entry = (step: number) => Array.from({ length: 3000 }, () => [step, Math.floor(r() * 4000) - 7, 1 + Math.floor(r() * 3), Math.round(r() * 1e4) / 100 - 20, Math.floor(r() * 50), -0 * Math.floor(r() * 2) + Math.floor(r() * 50)]);
  const entries = [entry(60_000), entry(60_000), [[60_000, -0, 1, -0, 0, -0]], entry(60_000), entry(120_000)];
  const t = new ColumnFoldTable(6, [0, 1], FOLDS);
  const taken = entries.map((rows) => {
    const cols = doubles(rows);
    if (t.foldNumbers(cols, rows.length)) return true;
    rows.forEach((_, i) => t.addAt(cols as unknown as Value[][], i));
    return false;
  });
  // The last entry is another window (its STEP column is not the table's): row by row.
  expect(taken).toEqual([true, true, true, true, false]);
  expect(t.rows('first')).toEqual(oracle(entries.flat(), [0, 1], FOLDS));
  // After it the table is keyed by both columns: foldNumbers declines, addAt folds.
  const more = entry(60_000);
  expect(t.foldNumbers(doubles(more), more.length)).toBe(false);
});

test('foldNumbers declines when a fold holds a value other than a number, and folds nothing then', () => {
  const t = new ColumnFoldTable(3, [0], [[1, 'sum'], [2, 'max']]);
  t.add([1, '2.5', 'pear']);
  const rows = [[1, 2, 3], [2, 4, 5]];
  expect(t.foldNumbers(doubles(rows), 2)).toBe(false);
  expect(t.rows('first')).toEqual([[1, '2.5', 'pear']]); // a group's first row as it came
  const u = new ColumnFoldTable(3, [0], [[1, 'sum'], [2, 'max']]);
  expect(u.foldNumbers(doubles(rows), 2)).toBe(true);
  expect(u.foldNumbers(doubles([[1, 1, 9], [1, 1, 1]]), 2)).toBe(true);
  expect(u.rows('first')).toEqual([[1, 4, 9], [2, 4, 5]]);
});

test('KeySlots: numeric keys past its first table, -0 as 0, NaN and text beside them', () => {
  const k = new KeySlots();
  const keys = Array.from({ length: 5000 }, (_, i) => (i % 2 ? i * 7919 : -i * 1.5));
  keys.forEach((x, i) => { expect(k.find(x)).toBe(i === 0 ? -1 : -1); k.insert(x, i); });
  keys.forEach((x, i) => expect(k.find(x)).toBe(i));
  expect(k.find(-0)).toBe(0);
  expect(k.find(NaN)).toBe(-1);
  k.insert(NaN, 9001);
  k.insert('a', 9002);
  expect([k.find(NaN), k.find('a'), k.find('b'), k.find(123.25)]).toEqual([9001, 9002, -1, -1]);
});

test('KeySlots.slotOrInsert: a known key\'s slot, or the new key placed, against a Map (SameValueZero) as the oracle', () => {
  const r = rnd(5);
  const kinds = (): unknown => {
    const x = r();
    return x < 0.6 ? Math.floor(r() * 20_000) : x < 0.7 ? -Math.floor(r() * 50) * 0.5 : x < 0.75 ? -0 : x < 0.8 ? NaN : x < 0.9 ? `k${Math.floor(r() * 100)}` : null;
  };
  for (const expected of [0, 50_000]) {
    const k = new KeySlots(expected);
    const want = new Map<unknown, number>();
    for (let i = 0; i < 30_000; i++) {
      const key = kinds();
      const known = want.get(key);
      expect(k.slotOrInsert(key, i)).toBe(known ?? -1);
      if (known === undefined) want.set(key, i);
    }
    for (const [key, slot] of want) expect(k.find(key)).toBe(slot);
  }
});

test('a released table\'s arrays go to the next windows\' tables, which fold as new ones do (no group of the last window shows)', () => {
  const r = rnd(7);
  const window = (n: number, keys: number) => Array.from({ length: n }, () => [60_000, Math.floor(r() * keys), 1, Math.round(r() * 1e4) / 100, Math.floor(r() * 50), Math.floor(r() * 50)]);
  const first = check(window(20_000, 8000), [0, 1], FOLDS, 8000);
  const arrays = (t: ColumnFoldTable) => (t as unknown as { nums: Float64Array[] }).nums.map((a) => a.buffer);
  const used = new Set(arrays(first));
  first.release();
  // Fewer keys, then more than the last window had (its arrays grow into pooled ones too).
  const second = check(window(3000, 500), [0, 1], FOLDS, 8000);
  expect(arrays(second).some((b) => used.has(b))).toBe(true);
  second.release();
  check(window(40_000, 30_000), [0, 1], FOLDS, 500).release();
});

test('a released table or KeySlots is not used again unnoticed', () => {
  const t = check([[1, 2, 1, 5, 5, 5], [1, 3, 1, 6, 6, 6]], [0, 1], FOLDS);
  t.release();
  expect(t.size).toBe(0);
  expect(() => t.add([1, 4, 1, 1, 1, 1])).toThrow(/released/);
  const k = new KeySlots();
  k.insert(5, 0);
  k.release();
  expect(k.find(5)).toBe(-1);
  expect(() => k.slotOrInsert(5, 1)).toThrow(/released/);
});

test('the array pool: a taken array is zeroed, whole arrays only are kept, a few of each length', () => {
  const a = float64s.take(4096);
  a.fill(7);
  float64s.give(a);
  const b = float64s.take(4096);
  expect(b).toBe(a);
  expect(b.every((x) => x === 0)).toBe(true);
  // A view of part of a buffer is not kept (its buffer holds more than it).
  const whole = new Uint8Array(8192);
  uint8s.give(whole.subarray(0, 4096));
  expect(uint8s.take(4096).buffer).not.toBe(whole.buffer);
  const many = Array.from({ length: 40 }, () => new Uint8Array(2048));
  many.forEach((x) => uint8s.give(x));
  const back = new Set(Array.from({ length: 40 }, () => uint8s.take(2048)));
  expect(many.filter((x) => back.has(x)).length).toBeLessThan(40);
  expect(many.filter((x) => back.has(x)).length).toBeGreaterThan(0);
});
