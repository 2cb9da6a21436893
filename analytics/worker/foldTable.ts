// One window's partial aggregates, one slot per group and each column in one
// array (Engine's FoldTable): a shard engine folds a batch's result columns
// into it, and the combiner folds the shards' partial columns of a window.
// A window of 100k keys is then a few arrays instead of 100k row arrays (and
// their boxed sums) that live until it closes, which V8's collector copied
// and marked over and over: at 100k keys its threads took ~2.4 s of a
// worker's 7.8 s CPU per million events (perf).
// Folding: COUNT and SUM add up as numbers (a SUM of nothing stays NULL),
// MIN and MAX compare (compareValues: nulls first, numbers, then text by code
// unit), a group's first row is taken as it is.
import type { FoldTable } from '../engine/engine.js';
import type { Value } from '../engine/types.js';
import { KeySlots } from '../engine/keySlots.js';

export type Fold = 'count' | 'sum' | 'min' | 'max';

const NULL_KEY = Symbol('NULL');

/** Nulls first, then numbers or strings by value (never locale-dependent). */
export function compareValues(a: Value, b: Value): number {
  if (a === b) return 0;
  if (a === null) return -1;
  if (b === null) return 1;
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  const x = String(a);
  const y = String(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

const SLOT_BITS = 2 ** 21;

/**
 * Slots in key order when every key is an integer of at most 31 bits and there are under 2^21 slots:
 * key × 2^21 + slot is then exact in a double and sorts as (key, slot), so a typed array's own sort
 * (no comparator call per comparison) orders them; undefined otherwise.
 */
function packedOrder(keys: readonly number[], n: number): Int32Array | undefined {
  if (n >= SLOT_BITS) return undefined;
  const packed = new Float64Array(n);
  for (let s = 0; s < n; s++) {
    const k = keys[s]!;
    if (!Number.isInteger(k) || k >= 2 ** 31 || k < -(2 ** 31)) return undefined;
    packed[s] = k * SLOT_BITS + s;
  }
  packed.sort();
  const order = new Int32Array(n);
  for (let r = 0; r < n; r++) {
    const x = packed[r]!;
    order[r] = x - Math.floor(x / SLOT_BITS) * SLOT_BITS;
  }
  return order;
}

/**
 * Groups are keyed by one key column while the table's other key columns hold one value each (a
 * window's STEP beside its GROUP BY key, the usual case): no key text per row. Once another key
 * column varies too, by all of them as one JSON text.
 */
export class ColumnFoldTable implements FoldTable {
  private slots: KeySlots;
  private readonly cols: Value[][];
  /** Every key so far is a number (single-column keys): the order sorts them as numbers. */
  private numericKey = true;
  /** The key column groups are keyed by; -1: all key columns, as JSON text. */
  private one: number;
  /** The other key columns, each holding one value (its first row's) in every group. */
  private fixed: number[];
  // The folds as flat arrays (the loop runs for every partial row).
  private readonly foldAt: number[];
  private readonly foldAdds: boolean[];
  private readonly foldMin: boolean[];
  size = 0;

  /** `keys`: the group key columns; `folds`: the other columns and how each folds; `expected`: groups it will likely hold (the hash table is sized for them). */
  constructor(private readonly width: number, private readonly keys: readonly number[], folds: readonly (readonly [number, Fold])[], expected = 0) {
    this.slots = new KeySlots(expected);
    // Each column allocated once for the groups expected: grown by push from empty, a 100k-group
    // window's columns were copied ~20 times each, into large-object space, which drove V8's major GCs.
    this.cols = Array.from({ length: width }, () => new Array(expected));
    this.foldAt = folds.map(([i]) => i);
    this.foldAdds = folds.map(([, f]) => f === 'count' || f === 'sum');
    this.foldMin = folds.map(([, f]) => f === 'min');
    this.one = keys.length ? keys[keys.length - 1]! : -1;
    this.fixed = keys.slice(0, -1);
  }

  private keyOf(cols: readonly (readonly Value[])[], r: number): unknown {
    if (this.one >= 0) {
      const fixed = this.fixed;
      let k = 0;
      // Compared as they are loaded, NULL and undefined as one (`?? null` on each boxed every number, a window's start in every row).
      for (; k < fixed.length; k++) {
        const c = fixed[k]!;
        const x = cols[c]![r];
        const y = this.size ? this.cols[c]![0] : x;
        if (x !== y && !((x === null || x === undefined) && (y === null || y === undefined))) break;
      }
      if (k === fixed.length) return cols[this.one]![r] ?? NULL_KEY;
      if (this.size === 1 && fixed.length === 1 && (cols[this.one]![r] ?? null) === this.cols[this.one]![0]) {
        // The second group differs from the first in the column thought fixed only: that one is the key column.
        [this.fixed, this.one] = [[this.one], fixed[0]!];
        this.reindex();
        return this.keyOf(cols, r);
      }
      this.one = -1;
      this.fixed = [];
      this.reindex();
    }
    return JSON.stringify(this.keys.map((i) => cols[i]![r] ?? null));
  }

  /** The slots keyed anew (the key column changed). */
  private reindex(): void {
    this.slots = new KeySlots(this.size);
    this.numericKey = this.one >= 0;
    for (let s = 0; s < this.size; s++) {
      const k = this.one >= 0 ? this.cols[this.one]![s] ?? NULL_KEY : JSON.stringify(this.keys.map((i) => this.cols[i]![s] ?? null));
      this.slots.insert(k, s);
      if (typeof k !== 'number') this.numericKey = false;
    }
  }

  private readonly row: Value[][] = [];

  add(v: readonly Value[]): void {
    // The row as one-row columns (reused): one folding, addAt's.
    for (let c = 0; c < this.width; c++) (this.row[c] ??= [null])[0] = v[c] ?? null;
    this.addAt(this.row, 0);
  }

  addAt(cols: readonly (readonly Value[])[], r: number): void {
    const k = this.keyOf(cols, r);
    const s = this.slots.slotOrInsert(k, this.size);
    const own = this.cols;
    if (s < 0) {
      // Past the allocated length the store appends, as push would.
      const at = this.size++;
      for (let c = 0; c < this.width; c++) {
        const x = cols[c]![r];
        own[c]![at] = x === undefined ? null : x;
      }
      if (typeof k !== 'number') this.numericKey = false;
      return;
    }
    const { foldAt, foldAdds, foldMin } = this;
    for (let j = 0; j < foldAt.length; j++) {
      const i = foldAt[j]!;
      const x = cols[i]![r];
      if (x === null || x === undefined) continue;
      const col = own[i]!;
      // Loaded without `?? null`, which boxed each running sum.
      const a = col[s];
      if (a === null || a === undefined) col[s] = foldAdds[j] ? Number(x) : x;
      else if (foldAdds[j]) col[s] = Number(a) + Number(x);
      else if (foldMin[j] ? compareValues(x, a) < 0 : compareValues(x, a) > 0) col[s] = x;
    }
  }

  /** Slots in key order (numbers as numbers, else compareValues key by key). */
  private sorted(): Int32Array {
    const order = new Int32Array(this.size);
    for (let i = 0; i < order.length; i++) order[i] = i;
    const cols = this.cols;
    if (this.one >= 0 && this.numericKey) {
      // The other key columns hold one value each: the order is this column's.
      const kc = cols[this.one] as number[];
      return packedOrder(kc, this.size) ?? order.sort((a, b) => kc[a]! - kc[b]!);
    }
    return order.sort((a, b) => {
      for (const i of this.keys) {
        const c = compareValues(cols[i]![a] ?? null, cols[i]![b] ?? null);
        if (c !== 0) return c;
      }
      return 0;
    });
  }

  columns(order: 'key' | 'first' = 'key'): Value[][] {
    if (order === 'first') return this.cols.map((col) => col.slice(0, this.size));
    const at = this.sorted();
    return this.cols.map((col) => {
      const out: Value[] = new Array(at.length);
      for (let r = 0; r < at.length; r++) out[r] = col[at[r]!] ?? null;
      return out;
    });
  }

  rows(order: 'key' | 'first' = 'key'): Value[][] {
    const n = this.size;
    const at = order === 'key' ? this.sorted() : undefined;
    const out: Value[][] = new Array(n);
    for (let r = 0; r < n; r++) {
      const s = at ? at[r]! : r;
      const v: Value[] = new Array(this.width);
      for (let c = 0; c < this.width; c++) v[c] = this.cols[c]![s] ?? null;
      out[r] = v;
    }
    return out;
  }
}
