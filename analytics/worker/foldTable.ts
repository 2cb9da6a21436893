// One window's partial aggregates, one slot per group and each column in one
// array (Engine's FoldTable): a shard engine folds a batch's result columns
// into it, and the combiner folds the shards' partial columns of a window.
// A window of 100k keys is then a few arrays instead of 100k row arrays (and
// their boxed sums) that live until it closes, which V8's collector copied
// and marked over and over: at 100k keys its threads took ~2.4 s of a
// worker's 7.8 s CPU per million events (perf).
// Folding: COUNT and SUM add up as numbers (a SUM of nothing stays NULL),
// MIN and MAX compare (compareValues: nulls first, numbers, then text by code
// unit), a group's first row is taken as it is. The folded columns hold their
// numbers in a Float64Array (a state byte per group: NULL, a number, or
// another value kept aside): in an array of values each new running sum that
// is not a small integer was a heap number, one per row folded.
import type { DirectFolder, FoldTable } from '../engine/engine.js';
import type { DirectFold } from '../engine/batchFold.js';
import type { ColumnBatch } from '../engine/columnBatch.js';
import type { Span } from '../engine/windows.js';
import type { Value } from '../engine/types.js';
import { KeySlots } from '../engine/keySlots.js';
import { float64s, int32s, powerOfTwo, uint8s } from '../engine/arrayPool.js';

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

/** Bits of the key a radix pass sorts by. */
const DIGIT = 11;
const RADIX = 1 << DIGIT;

/**
 * Slots in key order when every key is an integer of 32 bits, or undefined: a stable radix sort of the
 * keys (offset to unsigned) with their slots, 11 bits a pass, a pass skipped where every key has the
 * same digit (bidders below 2^22 need two). Groups have distinct keys (a key equal to another, -0 and 0,
 * keeps slot order). ~2.5 times as fast as a typed array's sort of key × 2^21 + slot (75k keys: 2.7 ms
 * against 6.8), which a 100k-key shard worker ran for every window it published.
 */
function packedOrder(keys: readonly number[], n: number): Int32Array | undefined {
  let u = new Uint32Array(n);
  let order = new Int32Array(n);
  if (!unsignedKeys(keys, n, u, order)) return undefined;
  let u2 = new Uint32Array(n);
  let order2 = new Int32Array(n);
  const count = new Int32Array(RADIX);
  for (let shift = 0; shift < 32; shift += DIGIT) {
    count.fill(0);
    for (let r = 0; r < n; r++) count[(u[r]! >>> shift) & (RADIX - 1)]!++;
    if (n === 0 || count[(u[0]! >>> shift) & (RADIX - 1)] === n) continue;
    let at = 0;
    for (let d = 0; d < RADIX; d++) {
      const c = count[d]!;
      count[d] = at;
      at += c;
    }
    for (let r = 0; r < n; r++) {
      const x = u[r]!;
      const p = count[(x >>> shift) & (RADIX - 1)]!++;
      u2[p] = x;
      order2[p] = order[r]!;
    }
    [u, u2] = [u2, u];
    [order, order2] = [order2, order];
  }
  return order;
}

/**
 * The keys offset to unsigned, and slots in order; false when a key is not an integer of 32 bits. The loop
 * is a function of its own (as are column()'s): compiled while it ran (on-stack replacement), the code after
 * it that had not run yet threw that code away at the end of the call, once per window.
 */
function unsignedKeys(keys: readonly number[], n: number, u: Uint32Array, order: Int32Array): boolean {
  for (let s = 0; s < n; s++) {
    const k = keys[s]!;
    if (!Number.isInteger(k) || k >= 2 ** 31 || k < -(2 ** 31)) return false;
    u[s] = k + 2 ** 31;
    order[s] = s;
  }
  return true;
}

/** Slots 0…n-1 in order. */
function identity(n: number): Int32Array {
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  return order;
}

/** What a TableFolder folds with: the table's columns for `DirectFold`'s key, bounds and aggregates (foldRows). */
interface FolderPlan {
  keyAt: number; fixed: number[]; fixedValues: number[]; rest: number[]; keyCol: number;
  aggCol: number[]; aggJ: number[];
  /** 0 COUNT(*), 1 COUNT(col), 2 SUM, 3 MIN, 4 MAX. */
  aggKind: number[];
  /** The table's fold magnitudes (kept as sums grow). */
  mag: Float64Array;
}

/**
 * A window table's DirectFolder: an object whose fold is the table's one method (a closure per window and
 * batch was a new function each time, which V8 optimized anew: ~30 compiles, ~0.5 s of a 3M-event worker).
 */
class TableFolder implements DirectFolder {
  constructor(private readonly table: ColumnFoldTable, private readonly plan: FolderPlan) {}
  fold(b: ColumnBatch, rows: Int32Array, from: number, to: number, stamp: number): number {
    return this.table.foldRows(this.plan, b, rows, from, to, stamp);
  }
}

/** A fold column's value of a group: none yet (NULL), a number (in `nums`), or another value (in `others`). */
const NONE = 0;
const NUMBER = 1;
const OTHER = 2;

/**
 * Groups are keyed by one key column while the table's other key columns hold one value each (a
 * window's STEP beside its GROUP BY key, the usual case): no key text per row. Once another key
 * column varies too, by all of them as one JSON text.
 */
export class ColumnFoldTable implements FoldTable {
  private slots: KeySlots;
  /** The key columns' (and any other column's) values; fold columns' are in nums, state and others. */
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
  /** Column → its fold's index, or -1. */
  private readonly foldOf: Int32Array;
  /** Per fold, per slot: its number, its state (NONE, NUMBER, OTHER) and its other value. */
  private nums: Float64Array[];
  private state: Uint8Array[];
  private readonly others: Value[][];
  private capacity: number;
  size = 0;

  /** `keys`: the group key columns; `folds`: the other columns and how each folds; `expected`: groups it will likely hold (the hash table is sized for them). */
  constructor(private readonly width: number, private readonly keys: readonly number[], folds: readonly (readonly [number, Fold])[], expected = 0) {
    this.slots = new KeySlots(expected);
    // Each column allocated once for the groups expected: grown by push from empty, a 100k-group
    // window's columns were copied ~20 times each, into large-object space, which drove V8's major GCs.
    this.capacity = powerOfTwo(expected);
    this.foldOf = new Int32Array(width).fill(-1);
    folds.forEach(([c], j) => { this.foldOf[c] = j; });
    this.cols = Array.from({ length: width }, (_, c) => (this.foldOf[c]! >= 0 ? [] : new Array(expected)));
    this.foldAt = folds.map(([i]) => i);
    this.foldAdds = folds.map(([, f]) => f === 'count' || f === 'sum');
    this.foldMin = folds.map(([, f]) => f === 'min');
    this.nums = folds.map(() => float64s.take(this.capacity));
    this.state = folds.map(() => uint8s.take(this.capacity));
    this.others = folds.map(() => []);
    this.one = keys.length ? keys[keys.length - 1]! : -1;
    this.fixed = keys.slice(0, -1);
  }

  /** Room for slot `size` (call before taking it). */
  private reserve(): void {
    if (this.size < this.capacity) return;
    const cap = this.capacity * 2;
    if (cap === 0) throw new Error('a released fold table was used');
    this.nums = this.nums.map((a) => { const b = float64s.take(cap); b.set(a); float64s.give(a); return b; });
    this.state = this.state.map((a) => { const b = uint8s.take(cap); b.set(a); uint8s.give(a); return b; });
    this.capacity = cap;
  }

  /** Its arrays back to the pool (arrayPool.ts), once its groups have been read for the last time. */
  release(): void {
    this.slots.release();
    for (const a of this.nums) float64s.give(a);
    for (const a of this.state) uint8s.give(a);
    int32s.give(this.stamps);
    // Empty: a use after this reads nothing rather than another window's groups.
    this.nums = this.nums.map(() => new Float64Array(0));
    this.state = this.state.map(() => new Uint8Array(0));
    this.stamps = new Int32Array(0);
    this.capacity = 0;
    this.size = 0;
  }

  /** Column c's value of slot s. */
  private valueAt(c: number, s: number): Value {
    const j = this.foldOf[c]!;
    if (j < 0) return this.cols[c]![s] ?? null;
    const st = this.state[j]![s];
    return st === NUMBER ? this.nums[j]![s]! : st === OTHER ? this.others[j]![s] ?? null : null;
  }

  /** Fold j of slot s becomes `x` as it is. */
  private setFold(j: number, s: number, x: Value | undefined): void {
    if (x === null || x === undefined) this.state[j]![s] = NONE;
    else if (typeof x === 'number') {
      this.nums[j]![s] = x;
      this.state[j]![s] = NUMBER;
    } else {
      this.others[j]![s] = x;
      this.state[j]![s] = OTHER;
    }
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
    this.slots.release();
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
    this.measured = false;
    const k = this.keyOf(cols, r);
    const s = this.slots.slotOrInsert(k, this.size);
    const own = this.cols;
    const foldOf = this.foldOf;
    if (s < 0) {
      this.reserve();
      // Past the allocated length the store appends, as push would.
      const at = this.size++;
      for (let c = 0; c < this.width; c++) {
        const x = cols[c]![r];
        const j = foldOf[c]!;
        if (j >= 0) this.setFold(j, at, x);
        else own[c]![at] = x === undefined ? null : x;
      }
      if (typeof k !== 'number') this.numericKey = false;
      return;
    }
    const { foldAt, foldAdds, foldMin, nums, state } = this;
    for (let j = 0; j < foldAt.length; j++) {
      const x = cols[foldAt[j]!]![r];
      if (x === null || x === undefined) continue;
      const st = state[j]![s];
      if (st === NONE) {
        if (foldAdds[j]) {
          nums[j]![s] = Number(x);
          state[j]![s] = NUMBER;
        } else this.setFold(j, s, x);
      } else if (foldAdds[j]) {
        nums[j]![s] = (st === NUMBER ? nums[j]![s]! : Number(this.others[j]![s])) + Number(x);
        state[j]![s] = NUMBER;
      } else if (st === NUMBER && typeof x === 'number') {
        const a = nums[j]![s]!;
        if (foldMin[j] ? x < a : x > a) nums[j]![s] = x;
      } else {
        const a = this.valueAt(foldAt[j]!, s);
        if (foldMin[j] ? compareValues(x, a) < 0 : compareValues(x, a) > 0) this.setFold(j, s, x);
      }
    }
  }

  foldNumbers(cols: readonly Float64Array[], n: number): boolean {
    if (n === 0) return true;
    const one = this.one;
    if (one < 0 || cols.length !== this.width) return false;
    for (let c = 0; c < cols.length; c++) if (!(cols[c] instanceof Float64Array) || cols[c]!.length < n) return false;
    // addAt's keyOf: the other key columns hold the table's one value (an empty table's: the first row's).
    for (const c of this.fixed) {
      const v = this.size ? this.cols[c]![0] : cols[c]![0];
      const col = cols[c]!;
      for (let r = 0; r < n; r++) if (col[r] !== v) return false;
    }
    // A fold that ever held a value other than a number compares or adds it as addAt does.
    for (let j = 0; j < this.others.length; j++) if (this.others[j]!.length) return false;
    this.measured = false;
    this.foldNumberRows(cols, n, cols[one]!);
    return true;
  }

  /** foldNumbers' loop: addAt's, for numbers only (a fold is NONE or NUMBER; a value is never NULL). */
  private foldNumberRows(cols: readonly Float64Array[], n: number, kc: Float64Array): void {
    const { foldAt, foldAdds, foldMin, foldOf, width } = this;
    const own = this.cols;
    for (let r = 0; r < n; r++) {
      const key = kc[r]!;
      let s = this.slots.slotOrInsert(key, this.size);
      if (s < 0) {
        this.reserve();
        s = this.size++;
        for (let c = 0; c < width; c++) {
          const j = foldOf[c]!;
          if (j < 0) own[c]![s] = cols[c]![r]!;
          else {
            this.nums[j]![s] = cols[c]![r]!;
            this.state[j]![s] = NUMBER;
          }
        }
        continue;
      }
      for (let j = 0; j < foldAt.length; j++) {
        const x = cols[foldAt[j]!]![r]!;
        const nums = this.nums[j]!;
        const state = this.state[j]!;
        if (state[s] === NONE) {
          nums[s] = x;
          state[s] = NUMBER;
        } else if (foldAdds[j]) nums[s] = nums[s]! + x;
        else if (foldMin[j] ? x < nums[s]! : x > nums[s]!) nums[s] = x;
      }
    }
  }

  /** Per slot, the stamp of the last batch a DirectFolder folded into it (0: none). */
  private stamps: Int32Array = new Int32Array(0);
  /** Per fold column, the greatest magnitude a value of it has had (kept by DirectFolders; addAt leaves it to be measured). */
  // Doubles from the start: an array of small integers that later took a fraction changed its kind, and with
  // it the table's shape, which threw away the code V8 had compiled for tables (twice a million events).
  private magnitude = new Float64Array(0);
  private measured = true;

  /** magnitude, measured again when addAt has folded since. */
  private magnitudes(): Float64Array {
    if (this.measured && this.magnitude.length === this.foldAt.length) return this.magnitude;
    this.magnitude = Float64Array.from(this.foldAt, (c) => {
      let m = 0;
      for (let s = 0; s < this.size; s++) {
        const x = this.valueAt(c, s);
        if (typeof x === 'number' && !(Math.abs(x) <= m)) m = Math.abs(x);
      }
      return m;
    });
    this.measured = true;
    return this.magnitude;
  }

  directFolder(d: DirectFold, win: Span, magnitude: readonly number[]): DirectFolder | undefined {
    const keyAt = d.key.target;
    // Key columns other than the key hold the window's bounds (its STEP): one value in every group.
    const fixed = this.keys.filter((c) => c !== keyAt);
    const bound = fixed.map((c) => d.bounds.find((x) => x.target === c));
    if (!this.keys.includes(keyAt) || bound.some((x) => !x)) return undefined;
    const fixedValues = bound.map((x) => win[x!.kind]);
    if (this.size === 0) {
      this.one = keyAt;
      this.fixed = fixed;
    } else if (this.one !== keyAt || fixed.some((c, i) => this.cols[c]![0] !== fixedValues[i])) return undefined;
    // Each aggregate folds as its target column does (COUNT and SUM add, MIN and MAX compare).
    const aggJ = d.aggs.map((a) => this.foldOf[a.target]!);
    for (const [i, a] of d.aggs.entries()) {
      const j = aggJ[i]!;
      const adds = a.kind === 'count' || a.kind === 'countOf' || a.kind === 'sum';
      if (j < 0 || this.foldAdds[j] !== adds || (!adds && this.foldMin[j] !== (a.kind === 'min'))) return undefined;
    }
    // Integer sums stay exact (every running sum within 2^53), as the batch path's: a batch's own sum, then one addition.
    const mag = this.magnitudes();
    if (d.aggs.some((_, i) => magnitude[i]! > 0 && !(mag[aggJ[i]!]! + magnitude[i]! <= Number.MAX_SAFE_INTEGER))) return undefined;
    const aggCol = d.aggs.map((a) => a.col);
    const aggKind = d.aggs.map((a) => ['count', 'countOf', 'sum', 'min', 'max'].indexOf(a.kind));
    // Columns of a new group other than its key, its bounds and its folds: NULL.
    const rest = Array.from({ length: this.width }, (_, c) => c).filter((c) => c !== keyAt && !fixed.includes(c) && this.foldOf[c]! < 0);
    return new TableFolder(this, { keyAt, fixed, fixedValues, rest, keyCol: d.key.col, aggCol, aggJ, aggKind, mag });
  }

  /** A DirectFolder's fold (TableFolder): rows `rows[from..to)` of `b` into their groups; the groups not folded into since `stamp` changed. */
  foldRows(plan: FolderPlan, b: ColumnBatch, rows: Int32Array, from: number, to: number, stamp: number): number {
    const { keyAt, fixed, fixedValues, rest, aggCol, aggJ, aggKind, mag } = plan;
    if (this.stamps.length < this.size + (to - from)) {
      const grown = int32s.take(powerOfTwo(2 * (this.size + (to - from)), 1024));
      grown.set(this.stamps);
      int32s.give(this.stamps);
      this.stamps = grown;
    }
    const stamps = this.stamps;
    const own = this.cols;
    const kc = b.cols[plan.keyCol];
    let groups = 0;
    for (let k = from; k < to; k++) {
      const r = rows[k]!;
      const key: Value = !kc ? null : kc.kind === 'number' ? (kc.nulls[r] ? null : kc.values[r]!) : kc.values[r] ?? null;
      let s = this.slots.slotOrInsert(key === null ? NULL_KEY : key, this.size);
      if (s < 0) {
        this.reserve();
        s = this.size++;
        own[keyAt]![s] = key;
        for (let i = 0; i < fixed.length; i++) own[fixed[i]!]![s] = fixedValues[i]!;
        for (let i = 0; i < rest.length; i++) own[rest[i]!]![s] = null;
        for (let j = 0; j < this.state.length; j++) this.state[j]![s] = NONE;
        if (typeof key !== 'number') this.numericKey = false;
      }
      if (stamps[s] !== stamp) {
        stamps[s] = stamp;
        groups++;
      }
      for (let a = 0; a < aggKind.length; a++) {
        const kind = aggKind[a]!;
        const j = aggJ[a]!;
        const nums = this.nums[j]!;
        const state = this.state[j]!;
        let st = state[s]!;
        // A value other than a number (a table restored from rows): added as a number, as addAt adds it; MIN and MAX compare it below.
        if (st === OTHER && kind <= 2) {
          nums[s] = Number(this.others[j]![s]);
          state[s] = st = NUMBER;
        }
        if (kind === 0) {
          nums[s] = st === NONE ? 1 : nums[s]! + 1;
          state[s] = NUMBER;
          continue;
        }
        const c = b.cols[aggCol[a]!];
        const v = !c ? null : c.kind === 'number' ? (c.nulls[r] ? null : c.values[r]!) : c.values[r] ?? null;
        if (kind === 1) {
          nums[s] = (st === NONE ? 0 : nums[s]!) + (v === null ? 0 : 1);
          state[s] = NUMBER;
        } else if (v === null) continue;
        else if (kind === 2) {
          // From 0, as the batch path's sums start (a sum of -0 alone is 0).
          const sum = (st === NONE ? 0 : nums[s]!) + (v as number);
          nums[s] = sum;
          state[s] = NUMBER;
          if (!(Math.abs(sum) <= mag[j]!)) mag[j] = Math.abs(sum);
        } else if (st === OTHER) {
          if (kind === 3 ? compareValues(v, this.others[j]![s] ?? null) < 0 : compareValues(v, this.others[j]![s] ?? null) > 0) this.setFold(j, s, v);
        } else if (st === NONE || (kind === 3 ? (v as number) < nums[s]! : (v as number) > nums[s]!)) {
          nums[s] = v as number;
          state[s] = NUMBER;
        }
      }
    }
    return groups;
  }

  /** Slots in key order (numbers as numbers, else compareValues key by key). */
  private sorted(): Int32Array {
    const cols = this.cols;
    if (this.one >= 0 && this.numericKey) {
      // The other key columns hold one value each: the order is this column's.
      const kc = cols[this.one] as number[];
      return packedOrder(kc, this.size) ?? identity(this.size).sort((a, b) => kc[a]! - kc[b]!);
    }
    return identity(this.size).sort((a, b) => {
      for (const i of this.keys) {
        const c = compareValues(cols[i]![a] ?? null, cols[i]![b] ?? null);
        if (c !== 0) return c;
      }
      return 0;
    });
  }

  /** Column c's values of slots `at` (all slots in order when undefined). */
  private column(c: number, at: Int32Array | undefined): Value[] {
    const j = this.foldOf[c]!;
    return j < 0 ? valuesAt(this.cols[c]!, at, this.size) : foldedAt(this.nums[j]!, this.state[j]!, this.others[j]!, at, this.size);
  }

  columns(order: 'key' | 'first' = 'key'): Value[][] {
    const at = order === 'key' ? this.sorted() : undefined;
    return Array.from({ length: this.width }, (_, c) => this.column(c, at));
  }

  rows(order: 'key' | 'first' = 'key'): Value[][] {
    const cols = this.columns(order);
    const out: Value[][] = new Array(this.size);
    for (let r = 0; r < this.size; r++) {
      const v: Value[] = new Array(this.width);
      for (let c = 0; c < this.width; c++) v[c] = cols[c]![r]!;
      out[r] = v;
    }
    return out;
  }
}

/** A column's values of slots `at` (slots 0…n-1 when undefined), NULL for none. */
function valuesAt(col: readonly Value[], at: Int32Array | undefined, n: number): Value[] {
  const out: Value[] = new Array(n);
  for (let r = 0; r < n; r++) out[r] = col[at ? at[r]! : r] ?? null;
  return out;
}

/** A fold's values of slots `at` (slots 0…n-1 when undefined): its number, its other value, or NULL. */
function foldedAt(nums: Float64Array, state: Uint8Array, others: readonly Value[], at: Int32Array | undefined, n: number): Value[] {
  const out: Value[] = new Array(n);
  for (let r = 0; r < n; r++) {
    const s = at ? at[r]! : r;
    const st = state[s];
    out[r] = st === NUMBER ? nums[s]! : st === OTHER ? others[s] ?? null : null;
  }
  return out;
}
