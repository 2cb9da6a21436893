// Pumps that only copy columns: `SELECT STREAM *` or a list of column names
// from the source, maybe with a WHERE, and nothing else (no expression, alias
// of an expression, join, window, DISTINCT, ORDER BY or LIMIT). Their result
// rows are their source rows' values, so the streaming layer copies them
// rather than filling a work table and reading the same values back from
// DuckDB (most of a pass-through worker's time at q0: strings written into
// DuckDB's vectors and decoded out again). A WHERE is still DuckDB's to
// evaluate, over a table of only the columns it reads: which rows pass.
// Whether a query is such a copy is read from DuckDB's own parse of it
// (json_serialize_sql), and only columns whose values come back from DuckDB as
// they went in are copied (the types below); a batch holding a value DuckDB
// would change, or whose WHERE fails, goes through DuckDB as before.
import type { Duck, TableColumn } from './duck.js';
import { quote } from '../sql/pump.js';
import type { Value, SqlType } from './types.js';
import { empty, plainSelect, same, type AstNode } from './selectAst.js';

/** Types a coerced value of which DuckDB gives back unchanged (REAL rounds to float, DECIMAL to its scale, DATE/TIME are rebuilt). */
const COPIED = new Set(['VARCHAR', 'BOOLEAN', 'TINYINT', 'SMALLINT', 'INTEGER', 'BIGINT', 'DOUBLE', 'TIMESTAMP']);

/**
 * For a query that copies columns of its work table: the table column each result column is, in
 * result order, and whether it has a WHERE; undefined for any other query.
 */
export async function projectionOf(duck: Duck, sql: string, table: string, alias: string, columns: { name: string; type: SqlType }[]): Promise<{ at: number[]; where: boolean } | undefined> {
  const select = await plainSelect(duck, sql, table);
  if (!select || !empty(select.node.group_expressions) || !empty(select.node.group_sets)) return undefined;
  const { node, fromAlias } = select;
  const index = (name: unknown): number => {
    const at = columns.flatMap((c, i) => (same(c.name, name) ? [i] : []));
    return at.length === 1 ? at[0]! : -1;
  };
  const out: number[] = [];
  for (const item of node.select_list as AstNode[]) {
    if (item.class === 'COLUMN_REF') {
      const names = item.column_names as string[];
      if (names.length === 2 && !same(names[0], fromAlias) && !same(names[0], alias)) return undefined;
      if (names.length !== 1 && names.length !== 2) return undefined;
      const k = index(names[names.length - 1]);
      if (k < 0) return undefined;
      out.push(k);
    } else if (item.class === 'STAR') {
      if (item.relation_name && !same(item.relation_name, fromAlias)) return undefined;
      if (item.columns !== false || item.expr !== null || !empty(item.replace_list) || !empty(item.rename_list) || !empty(item.qualified_exclude_list)) return undefined;
      const exclude = (item.exclude_list as unknown[]).map((x) => (typeof x === 'string' ? x.toUpperCase() : null));
      if (exclude.includes(null)) return undefined;
      columns.forEach((c, i) => { if (!exclude.includes(c.name.toUpperCase())) out.push(i); });
    } else return undefined;
  }
  return out.every((k) => COPIED.has(columns[k]!.type.base)) ? { at: out, where: node.where_clause !== null } : undefined;
}

/** Which rows of a batch a copying pump's WHERE passes: DuckDB's, over a table of the columns it reads. */
export interface CopyFilter {
  table: string;
  /** The table's columns, as indexes of the work table's. */
  at: number[];
  columns: TableColumn[];
  /** `SELECT "__SEQ" … WHERE …`: the arrival numbers of the rows that pass. */
  sql: string;
}

/**
 * The filter of a copying pump with a WHERE (`sql` as the pump's plan writes it: `… FROM "<table>" AS
 * "<alias>" WHERE …`), its table created; undefined when the query is not of that shape or DuckDB
 * refuses the filter (the pump then runs through DuckDB).
 */
export async function copyFilter(duck: Duck, sql: string, table: string, alias: string, columns: TableColumn[]): Promise<CopyFilter | undefined> {
  const from = `FROM ${quote(table)} AS ${quote(alias)}`;
  const i = sql.indexOf(from);
  const rest = i < 0 ? '' : sql.slice(i + from.length);
  const seq = columns.findIndex((c) => c.name === '__SEQ');
  if (!/^\s*WHERE\s/i.test(rest) || seq < 0 || sql.indexOf(from, i + 1) >= 0) return undefined;
  const name = `${table}_where`;
  const filterSql = `SELECT "__SEQ" FROM ${quote(name)} AS ${quote(alias)}${rest}`;
  try {
    await duck.createTable(name, columns);
    const read = await duck.columnsRead(filterSql, name, columns);
    const at = columns.map((_, k) => k).filter((k) => read[k] || k === seq);
    const kept = at.map((k) => columns[k]!);
    await duck.createTable(name, kept);
    await duck.query(filterSql);
    return { table: name, at, columns: kept, sql: filterSql };
  } catch {
    return undefined;
  }
}

/**
 * The value as DuckDB gives it back (undefined: DuckDB would change it or refuse it, so the batch
 * goes through DuckDB): text with a lone surrogate comes back with U+FFFD, as UTF-8 holds it.
 */
export function copiedValue(v: Value, t: SqlType): Value | undefined {
  if (v === null) return null;
  switch (t.base) {
    case 'VARCHAR':
      if (typeof v !== 'string') return undefined;
      return (v as unknown as { isWellFormed(): boolean }).isWellFormed() ? v : (v as unknown as { toWellFormed(): string }).toWellFormed();
    case 'BOOLEAN': return typeof v === 'boolean' ? v : undefined;
    case 'DOUBLE': return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
    // Integers in their type's range; BIGINT and TIMESTAMP (epoch ms) DuckDB holds exactly as safe integers.
    default: {
      const range = INT_BITS[t.base];
      if (typeof v !== 'number' || !Number.isSafeInteger(v)) return undefined;
      return range === undefined || (v >= -range && v < range) ? v : undefined;
    }
  }
}

const INT_BITS: Record<string, number> = { TINYINT: 2 ** 7, SMALLINT: 2 ** 15, INTEGER: 2 ** 31 };
