// CREATE FUNCTION … RETURN <expression> (KDA's SQL functions) as DuckDB macros. The body goes through the
// same rewrites as a pump's SELECT (FLOOR … TO, EXTRACT(SECOND …), KDA's SUBSTRING, …): it is planned as
// `SELECT <body> FROM <placeholder>` and the rewritten pieces of the body are kept.
import { planPump, quote } from './pump.js';
import { tokenize, SqlError } from './tokens.js';
import type { FunctionStmt } from './statements.js';
import { duckType, parseSqlType } from '../engine/types.js';

/** Positions of the placeholder tokens: before any position in the user's code. */
const OUTSIDE = -1_000_000;

/** `CREATE OR REPLACE MACRO name(p, …) AS CAST((body) AS type)`, NULL on a NULL argument if declared so. */
export function functionMacroSql(f: FunctionStmt): string {
  let type;
  try { type = duckType(parseSqlType(f.returns)); } catch (e) { throw new SqlError(`function ${f.name}: ${(e as Error).message}`, f.pos); }
  const start = f.body[0]!.pos;
  const select = [...tokenize('SELECT ', OUTSIDE), ...f.body, ...tokenize(' FROM "__KDA_FUNCTION"', OUTSIDE)];
  const plan = planPump({ kind: 'pump', name: f.name, target: '__KDA_FUNCTION', select, pos: f.pos }, 0);
  if (plan.window.type !== 'none') throw new SqlError(`function ${f.name}: a window or aggregate cannot be in a function's expression`, start);
  const body = plan.pieces.filter((p) => p.pos >= start).map((p) => p.text).join('').trim();
  const params = f.params.map((p) => quote(p.name));
  const value = `CAST((${body}) AS ${type})`;
  const expr = f.nullOnNull && params.length ? `CASE WHEN ${params.map((p) => `${p} IS NULL`).join(' OR ')} THEN NULL ELSE ${value} END` : value;
  return `CREATE OR REPLACE MACRO ${quote(f.name)}(${params.join(', ')}) AS ${expr}`;
}
