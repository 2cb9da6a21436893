// DuckDB's own parse of a pump's query (json_serialize_sql), for the streaming
// layer's shortcuts that read a query's shape (projection.ts: a copy;
// batchFold.ts: a plain grouping): one SELECT over the pump's work table, with
// no CTE, DISTINCT, ORDER BY, LIMIT, HAVING, QUALIFY, sample or join.
import type { Duck } from './duck.js';

export interface AstNode { [k: string]: unknown }

/**
 * The query's SELECT node and the name it gives work table `table` (its alias, or the table's name)
 * when it is one plain SELECT over that table; undefined otherwise, or when DuckDB cannot parse it.
 */
export async function plainSelect(duck: Duck, sql: string, table: string): Promise<{ node: AstNode; fromAlias: string } | undefined> {
  let ast: AstNode;
  try {
    const r = await duck.query(`SELECT json_serialize_sql('${sql.replace(/'/g, "''")}')`);
    ast = JSON.parse(String(r.rows[0]?.[0])) as AstNode;
  } catch {
    return undefined;
  }
  const stmts = ast.statements as AstNode[] | undefined;
  if (ast.error !== false || stmts?.length !== 1) return undefined;
  const node = stmts[0]!.node as AstNode;
  const from = node.from_table as AstNode | null;
  const plain = node.type === 'SELECT_NODE' && empty(node.modifiers) && empty((node.cte_map as AstNode | undefined)?.map)
    && node.having === null && node.qualify === null && node.sample === null
    && from?.type === 'BASE_TABLE' && same(from.table_name, table) && !from.schema_name && !from.catalog_name && from.sample === null && empty(from.column_name_alias);
  if (!plain) return undefined;
  return { node, fromAlias: typeof from!.alias === 'string' && from!.alias ? from!.alias : table };
}

export const empty = (x: unknown) => Array.isArray(x) && x.length === 0;
/** SQL identifiers as DuckDB matches them: case-insensitively. */
export const same = (a: unknown, b: unknown) => typeof a === 'string' && typeof b === 'string' && a.toUpperCase() === b.toUpperCase();
