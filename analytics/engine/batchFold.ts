// A pre-aggregated ROWTIME tumbling pump of the plain shape, evaluated over a
// ColumnBatch without DuckDB: GROUP BY source columns and the window's STEP,
// selecting those columns, the STEP, COUNT(*), and COUNT, SUM, MIN or MAX of
// numeric source columns, with no WHERE or comparisons of a column with a
// constant joined by AND. It gives the columns DuckDB's GROUP BY gives for the
// batch (the groups in the order they first appear; the fold that follows
// does not depend on the order). A shard worker at 100k keys otherwise filled
// DuckDB's work table with every row and read ~0.8 groups per row back.
// The shape is read from DuckDB's own parse of the pump's query
// (json_serialize_sql). A batch holding a value DuckDB would change or refuse
// (copiedValue), or a sum of integers past 2^53 (DuckDB's is exact), is left
// to DuckDB (undefined). Sums add in row order, as DuckDB's single-threaded
// hash aggregate does.
import type { Duck } from './duck.js';
import type { ColumnBatch } from './columnBatch.js';
import { copiedValue } from './projection.js';
import { KeySlots } from './keySlots.js';
import { empty, plainSelect, same, type AstNode } from './selectAst.js';
import type { Span } from './windows.js';
import type { SqlType, Value } from './types.js';

type Agg = 'countOf' | 'sum' | 'min' | 'max';

/** A result column: a group key (a source column), the window's start or end, or an aggregate. */
export type FoldItem =
  | { kind: 'key'; col: number }
  | { kind: 'start' }
  | { kind: 'end' }
  | { kind: 'count' }
  | { kind: Agg; col: number };

type Op = '=' | '<>' | '<' | '<=' | '>' | '>=';

/** A WHERE term: source column `col` compared with a constant (a NULL never passes). */
export interface FoldCondition { col: number; op: Op; value: number | string }

export interface BatchFold {
  items: FoldItem[];
  /** The GROUP BY source columns. */
  keys: number[];
  where: FoldCondition[];
  /** The source columns' types. */
  types: SqlType[];
}

const OPS: Record<string, Op> = {
  COMPARE_EQUAL: '=', COMPARE_NOTEQUAL: '<>', COMPARE_LESSTHAN: '<', COMPARE_LESSTHANOREQUALTO: '<=',
  COMPARE_GREATERTHAN: '>', COMPARE_GREATERTHANOREQUALTO: '>=',
};
const AGGS: Record<string, Agg> = { count: 'countOf', sum: 'sum', min: 'min', max: 'max' };
/** Source types an aggregate here reads: numbers DuckDB holds exactly as they are. */
const NUMERIC = new Set(['TINYINT', 'SMALLINT', 'INTEGER', 'BIGINT', 'DOUBLE']);
const INTEGER = new Set(['TINYINT', 'SMALLINT', 'INTEGER', 'BIGINT']);
/** Key types whose values come back from DuckDB as they went in (projection.ts). */
const KEYS = new Set(['VARCHAR', 'BOOLEAN', 'TINYINT', 'SMALLINT', 'INTEGER', 'BIGINT', 'DOUBLE', 'TIMESTAMP']);

/**
 * The pump's query (`sql`, over work table `table` AS `alias`) as a BatchFold, or undefined when it is
 * not of the plain shape. `source`: the source stream's columns; `sizeMs`: the tumbling window's size.
 */
export async function batchFoldOf(duck: Duck, sql: string, table: string, alias: string, source: readonly { name: string; type: SqlType }[], sizeMs: number): Promise<BatchFold | undefined> {
  const select = await plainSelect(duck, sql, table);
  if (!select) return undefined;
  const { node } = select;
  if (node.aggregate_handling !== undefined && node.aggregate_handling !== 'STANDARD_HANDLING') return undefined;
  const names = [alias, select.fromAlias];
  /** A column reference's name (qualified by the table's name or alias, or not), or undefined. */
  const refName = (x: AstNode): string | undefined => {
    if (x.class !== 'COLUMN_REF') return undefined;
    const parts = x.column_names as string[];
    if (parts.length === 2 && names.some((n) => same(parts[0], n))) return parts[1];
    return parts.length === 1 ? parts[0] : undefined;
  };
  const sourceColumn = (x: AstNode): number => {
    const name = refName(x);
    const at = source.flatMap((c, i) => (same(c.name, name) ? [i] : []));
    return at.length === 1 ? at[0]! : -1;
  };
  const types = source.map((c) => c.type);
  const keys: number[] = [];
  let windowGroups = 0;
  for (const g of (node.group_expressions as AstNode[] | undefined) ?? []) {
    if (isStep(g, refName, sizeMs)) { windowGroups++; continue; }
    const c = sourceColumn(g);
    if (c < 0 || !KEYS.has(types[c]!.base) || keys.includes(c)) return undefined;
    keys.push(c);
  }
  // One grouping set of every GROUP BY expression (no GROUPING SETS, ROLLUP or CUBE).
  const sets = node.group_sets as number[][] | undefined;
  const all = keys.length + windowGroups;
  if (windowGroups !== 1 || sets?.length !== 1 || sets[0]!.length !== all || !Array.from({ length: all }, (_, i) => i).every((i) => sets[0]!.includes(i))) return undefined;
  const items: FoldItem[] = [];
  for (const item of node.select_list as AstNode[]) {
    if (isStep(item, refName, sizeMs)) { items.push({ kind: 'start' }); continue; }
    if (item.class === 'COLUMN_REF') {
      const c = sourceColumn(item);
      if (c < 0 || !keys.includes(c)) return undefined;
      items.push({ kind: 'key', col: c });
      continue;
    }
    if (item.class !== 'FUNCTION' || item.distinct !== false || item.filter !== null || !empty((item.order_bys as AstNode | undefined)?.orders) || item.schema) return undefined;
    const fn = String(item.function_name).toLowerCase();
    const args = item.children as AstNode[];
    if (fn === 'count_star' && args.length === 0) { items.push({ kind: 'count' }); continue; }
    // max(__WEND) AS __ROWTIME: the result's row time, the window's end.
    if (fn === 'max' && item.alias === '__ROWTIME' && args.length === 1 && same(refName(args[0]!), '__WEND')) { items.push({ kind: 'end' }); continue; }
    const agg = AGGS[fn];
    const c = args.length === 1 ? sourceColumn(args[0]!) : -1;
    if (!agg || c < 0 || !NUMERIC.has(types[c]!.base)) return undefined;
    items.push({ kind: agg, col: c });
  }
  if (items.filter((i) => i.kind === 'end').length !== 1) return undefined;
  const where: FoldCondition[] = [];
  if (node.where_clause !== null && !conditions(node.where_clause as AstNode, sourceColumn, types, where)) return undefined;
  return { items, keys, where, types };
}

/** `time_bucket(to_milliseconds(sizeMs), ROWTIME, TIMESTAMP '1970-01-01 00:00:00')`: the window's start (planPump's STEP). */
function isStep(x: AstNode, refName: (x: AstNode) => string | undefined, sizeMs: number): boolean {
  if (x.class !== 'FUNCTION' || x.function_name !== 'time_bucket' || x.distinct !== false || x.filter !== null) return false;
  const [width, time, origin] = x.children as AstNode[];
  if ((x.children as AstNode[]).length !== 3 || width?.class !== 'FUNCTION' || width.function_name !== 'to_milliseconds') return false;
  const w = (width.children as AstNode[])[0];
  const size = (w?.value as AstNode | undefined)?.value;
  const o = origin?.class === 'CAST' ? ((origin.child as AstNode).value as AstNode | undefined) : undefined;
  return (width.children as AstNode[]).length === 1 && w?.class === 'CONSTANT' && Number(size) === sizeMs
    && same(refName(time!), 'ROWTIME')
    && origin?.class === 'CAST' && (origin.cast_type as AstNode).id === 'TIMESTAMP' && o?.value === '1970-01-01 00:00:00';
}

/** The WHERE as AND-ed column-constant comparisons into `out`; false for anything else. */
function conditions(x: AstNode, column: (x: AstNode) => number, types: SqlType[], out: FoldCondition[]): boolean {
  if (x.class === 'CONJUNCTION' && x.type === 'CONJUNCTION_AND') return (x.children as AstNode[]).every((c) => conditions(c, column, types, out));
  const op = x.class === 'COMPARISON' ? OPS[String(x.type)] : undefined;
  if (!op) return false;
  const c = column(x.left as AstNode);
  const k = x.right as AstNode;
  if (c < 0 || k.class !== 'CONSTANT' || k.type !== 'VALUE_CONSTANT') return false;
  const v = k.value as AstNode;
  const kt = String((v.type as AstNode).id);
  if (v.is_null !== false) return false;
  const base = types[c]!.base;
  // A literal with a point (8.5) is a DECIMAL: its integer digits and scale; as a double, the digits over the power of ten, as DuckDB casts it.
  const scale = kt === 'DECIMAL' ? Number(((v.type as AstNode).type_info as AstNode | null)?.scale) : 0;
  // Numbers with numbers (DuckDB compares them as numbers), text with text by equality only (its order is DuckDB's collation).
  if (NUMERIC.has(base) && (INTEGER.has(kt) || kt === 'DOUBLE') && typeof v.value === 'number') out.push({ col: c, op, value: v.value });
  else if (NUMERIC.has(base) && kt === 'DECIMAL' && Number.isSafeInteger(v.value) && Number.isInteger(scale) && scale >= 0 && scale <= 15) out.push({ col: c, op, value: (v.value as number) / 10 ** scale });
  else if (base === 'VARCHAR' && kt === 'VARCHAR' && typeof v.value === 'string' && (op === '=' || op === '<>')) out.push({ col: c, op, value: v.value });
  else return false;
  return true;
}

/** Row r's value of source column c (NULL when the batch does not hold the column). */
function valueAt(b: ColumnBatch, c: number, r: number): Value {
  const col = b.cols[c];
  if (!col) return null;
  if (col.kind === 'number') return col.nulls[r] ? null : col.values[r]!;
  return col.values[r] ?? null;
}

/** Whether row r passes the WHERE: 1 or 0; -1 when DuckDB must decide (a NaN: DuckDB orders it above every number, equal to itself). */
function passes(f: BatchFold, b: ColumnBatch, r: number): number {
  for (const w of f.where) {
    let v = valueAt(b, w.col, r);
    if (v === null) return 0;
    const x = w.value;
    if (typeof x === 'string') {
      // Text as DuckDB holds it (a lone surrogate made U+FFFD).
      v = copiedValue(v, f.types[w.col]!) ?? null;
      if ((v === x) !== (w.op === '=')) return 0;
      continue;
    }
    // A numeric column: numbers.
    const n = v as number;
    if (n !== n) return -1;
    switch (w.op) {
      case '=': if (n !== x) return 0; break;
      case '<>': if (n === x) return 0; break;
      case '<': if (!(n < x)) return 0; break;
      case '<=': if (!(n <= x)) return 0; break;
      case '>': if (!(n > x)) return 0; break;
      default: if (!(n >= x)) return 0;
    }
  }
  return 1;
}

/**
 * The result columns DuckDB's query gives for rows `sel` of the batch (`slotOf[r]`: row r's window in
 * `wins`), or undefined when a value must go through DuckDB.
 */
export function evaluateBatchFold(f: BatchFold, b: ColumnBatch, sel: Int32Array, slotOf: Int32Array, wins: readonly Span[]): { cols: Value[][]; n: number } | undefined {
  const { items, keys, types } = f;
  const m = sel.length;
  // Groups: by the one key column's value in each window (typed slots for numbers), else by all keys as JSON text.
  const bySlot: (KeySlots | undefined)[] = [];
  const byText = keys.length === 1 ? undefined : new Map<string, number>();
  const keyValues: Value[][] = keys.map(() => []);
  const groupWin: number[] = [];
  // Each aggregate's running values (at most one group per row) and whether it has one yet (SUM, MIN, MAX of no value: NULL).
  const acc = items.map((it) => (it.kind === 'count' || it.kind === 'countOf' || it.kind === 'sum' || it.kind === 'min' || it.kind === 'max' ? new Float64Array(m) : undefined));
  const has = items.map((it) => (it.kind === 'sum' || it.kind === 'min' || it.kind === 'max' ? new Uint8Array(m) : undefined));
  const aggs = items.flatMap((it, i) => (it.kind === 'count' || it.kind === 'countOf' || it.kind === 'sum' || it.kind === 'min' || it.kind === 'max'
    ? [{ i, kind: it.kind, col: it.kind === 'count' ? -1 : it.col, integer: it.kind === 'sum' && INTEGER.has(types[it.col]!.base) }] : []));
  const kv: Value[] = new Array(keys.length);
  let n = 0;
  for (let k = 0; k < m; k++) {
    const r = sel[k]!;
    if (f.where.length) {
      const p = passes(f, b, r);
      if (p < 0) return undefined;
      if (p === 0) continue;
    }
    for (let j = 0; j < keys.length; j++) {
      const v = copiedValue(valueAt(b, keys[j]!, r), types[keys[j]!]!);
      if (v === undefined) return undefined;
      kv[j] = v;
    }
    const s = slotOf[r]!;
    let g: number;
    if (byText) {
      const id = JSON.stringify([s, ...kv]);
      g = byText.get(id) ?? -1;
      if (g < 0) byText.set(id, n);
    } else g = (bySlot[s] ??= new KeySlots(m)).slotOrInsert(kv[0], n);
    if (g < 0) {
      g = n++;
      for (let j = 0; j < keys.length; j++) keyValues[j]!.push(kv[j]!);
      groupWin.push(s);
    }
    for (let a = 0; a < aggs.length; a++) {
      const { i, kind, col, integer } = aggs[a]!;
      const sums = acc[i]!;
      if (kind === 'count') { sums[g]!++; continue; }
      const v = valueAt(b, col, r);
      if (v === null) continue;
      if (typeof v !== 'number' || !Number.isFinite(v)) return undefined;
      if (kind === 'countOf') { sums[g]!++; continue; }
      const set = has[i]!;
      if (kind === 'sum') {
        // From 0, as DuckDB's sum state starts (a sum of -0 alone is 0).
        const x = (set[g] ? sums[g]! : 0) + v;
        if (integer && !Number.isSafeInteger(x)) return undefined;
        sums[g] = x;
        set[g] = 1;
      } else if (!set[g] || (kind === 'min' ? v < sums[g]! : v > sums[g]!)) {
        sums[g] = v;
        set[g] = 1;
      }
    }
  }
  const cols = items.map((it, i): Value[] => {
    const out: Value[] = new Array(n);
    if (it.kind === 'key') return keyValues[keys.indexOf(it.col)]!;
    if (it.kind === 'start' || it.kind === 'end') {
      for (let g = 0; g < n; g++) out[g] = it.kind === 'start' ? wins[groupWin[g]!]!.start : wins[groupWin[g]!]!.end;
      return out;
    }
    const sums = acc[i]!;
    const set = has[i];
    for (let g = 0; g < n; g++) out[g] = set && !set[g] ? null : sums[g]!;
    return out;
  });
  return { cols, n };
}

/**
 * A BatchFold whose rows fold straight into their windows' groups (FoldTable.directFolder), with no
 * grouping of the batch of its own: one key column, and result columns that fit their target columns
 * whatever the values (no TYPE_ERROR can come of a group: integers into integer columns as wide or into
 * DOUBLE, counts into BIGINT, INTEGER or DOUBLE). A SUM adds the window's rows in row order, batch after
 * batch, as DuckDB's SUM of the whole window in one query would (the batch path added each batch's own sum:
 * a DOUBLE sum then depended on where batches split, so a successor reading other batches after a
 * failover could publish other low bits). At 100k keys a shard batch's grouping left ~0.8 groups per row
 * (809k groups from 1M rows), each then hashed again into the window's table.
 */
export interface DirectFold {
  /** The GROUP BY source column and its target column; `maxLength`: a VARCHAR target's length. */
  key: { col: number; target: number; maxLength?: number };
  /** Target columns of the window's start or end. */
  bounds: { target: number; kind: 'start' | 'end' }[];
  /** Each aggregate's target column and source column (-1: COUNT(*)). */
  aggs: { kind: 'count' | 'countOf' | 'sum' | 'min' | 'max'; col: number; target: number }[];
}

/** Integer types, narrowest first: a value of one fits each wider one. */
const WIDTH = ['TINYINT', 'SMALLINT', 'INTEGER', 'BIGINT'];

/** Whether every value of source type `s` (as copiedValue gives it) is already a value of target type `t`. */
function fitsUnchanged(s: SqlType, t: SqlType): boolean {
  if (INTEGER.has(s.base)) return t.base === 'DOUBLE' || (INTEGER.has(t.base) && WIDTH.indexOf(t.base) >= WIDTH.indexOf(s.base));
  return s.base === 'DOUBLE' && t.base === 'DOUBLE';
}

/**
 * `f` as a DirectFold, or undefined when a group's values might not fit a target column as they are.
 * `outIndex[k]`: the result column (an item of `f`) that goes to target column `targetIndex[k]`.
 */
export function directFoldOf(f: BatchFold, outIndex: readonly number[], targetIndex: readonly number[], target: readonly { type: SqlType }[]): DirectFold | undefined {
  if (f.keys.length !== 1) return undefined;
  let key: DirectFold['key'] | undefined;
  const bounds: DirectFold['bounds'] = [];
  const aggs: DirectFold['aggs'] = [];
  for (let k = 0; k < outIndex.length; k++) {
    const it = f.items[outIndex[k]!]!;
    const to = targetIndex[k]!;
    const t = target[to]!.type;
    if (it.kind === 'key') {
      const s = f.types[it.col]!;
      if (key || it.col !== f.keys[0]) return undefined;
      if (s.base === 'VARCHAR' && t.base === 'VARCHAR') key = { col: it.col, target: to, maxLength: t.length };
      else if (fitsUnchanged(s, t)) key = { col: it.col, target: to };
      else return undefined;
    } else if (it.kind === 'start' || it.kind === 'end') {
      // Epoch milliseconds (whole numbers); the engine checks each window's against the column.
      if (t.base !== 'TIMESTAMP' && t.base !== 'BIGINT' && t.base !== 'DOUBLE') return undefined;
      bounds.push({ target: to, kind: it.kind });
    } else if (it.kind === 'count' || it.kind === 'countOf') {
      if (t.base !== 'BIGINT' && t.base !== 'INTEGER' && t.base !== 'DOUBLE') return undefined;
      aggs.push({ kind: it.kind, col: it.kind === 'count' ? -1 : it.col, target: to });
    } else {
      const s = f.types[it.col]!;
      // A sum of integers as BIGINT or DOUBLE (directRows keeps each batch's within 2^53, as the batch path does).
      const fits = it.kind === 'sum' ? (INTEGER.has(s.base) ? t.base === 'BIGINT' || t.base === 'DOUBLE' : s.base === 'DOUBLE' && t.base === 'DOUBLE') : fitsUnchanged(s, t);
      if (!fits) return undefined;
      aggs.push({ kind: it.kind, col: it.col, target: to });
    }
  }
  return key ? { key, bounds, aggs } : undefined;
}

/**
 * The rows of `sel` that pass the WHERE, in order, and per aggregate of `d` the sum of its values' magnitudes
 * in them when it is a SUM of integers (else 0: a group's sum moves by at most that much, FoldTable.directFolder
 * keeps it exact); or undefined when a row must go through the batch path (a value DuckDB would change or
 * refuse, a NaN compared, a key longer than its target column, a sum of integers that may pass 2^53).
 * Checked before any row is folded: a window's groups are never half folded.
 */
export function directRows(f: BatchFold, d: DirectFold, b: ColumnBatch, sel: Int32Array): { rows: Int32Array; magnitude: number[] } | undefined {
  const out = f.where.length ? new Int32Array(sel.length) : sel;
  // Per integer SUM: the sum of its values' magnitudes in the batch (every group's sum is then exact).
  const magnitude = d.aggs.map(() => 0);
  const n = directScan(f, d, b, sel, out, magnitude);
  if (n < 0) return undefined;
  return { rows: out === sel ? sel : out.subarray(0, n), magnitude };
}

/**
 * directRows' loop: the rows kept written to `out` (when it is not `sel`), their count, or -1. A function of
 * its own: V8 compiles a long loop while it runs (on-stack replacement), and code after it that had not run
 * yet threw that code away at every batch's end (six compiles a million events).
 */
function directScan(f: BatchFold, d: DirectFold, b: ColumnBatch, sel: Int32Array, out: Int32Array, magnitude: number[]): number {
  const { types } = f;
  const kc = b.cols[d.key.col];
  const kt = types[d.key.col]!;
  const maxLength = d.key.maxLength ?? Number.POSITIVE_INFINITY;
  let n = 0;
  for (let k = 0; k < sel.length; k++) {
    const r = sel[k]!;
    if (f.where.length) {
      const p = passes(f, b, r);
      if (p < 0) return -1;
      if (p === 0) continue;
      out[n] = r;
    }
    n++;
    if (kc) {
      const v = kc.kind === 'number' ? (kc.nulls[r] ? null : kc.values[r]!) : kc.values[r] ?? null;
      if (v !== null && (copiedValue(v, kt) !== v || (typeof v === 'string' && v.length > maxLength))) return -1;
    }
    for (let a = 0; a < d.aggs.length; a++) {
      const { col, kind } = d.aggs[a]!;
      if (col < 0) continue;
      const v = valueAt(b, col, r);
      if (v === null) continue;
      if (kind === 'countOf') continue;
      if (copiedValue(v, types[col]!) !== v) return -1;
      if (kind === 'sum' && INTEGER.has(types[col]!.base) && (magnitude[a] += Math.abs(v as number)) > Number.MAX_SAFE_INTEGER) return -1;
    }
  }
  return n;
}
