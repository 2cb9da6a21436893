// The SQL reference sweep's harness: a pump evaluating expressions over one input stream through
// Engine.compile/push/advance/drain, so each documented example runs as an application would run it.
import { Engine, type Row } from '../../analytics/engine/engine.js';

export const SRC = 'SOURCE_SQL_STREAM_001';
/** The Getting Started stock stream the reference's examples read, plus a few typed columns. */
export const STOCK = { name: SRC, columns: [
  { name: 'TICKER_SYMBOL', sqlType: 'VARCHAR(4)' }, { name: 'SECTOR', sqlType: 'VARCHAR(16)' },
  { name: 'CHANGE', sqlType: 'REAL' }, { name: 'PRICE', sqlType: 'REAL' },
  { name: 'N', sqlType: 'INTEGER' }, { name: 'TS', sqlType: 'TIMESTAMP' },
] };
export type Value = string | number | boolean | null;
export const T0 = 1_700_000_000_000;

/** Runs `code` over rows (ROWTIME T0 + at, or 1 ms apart) and returns every stream's rows. */
export async function runApp(code: string, rows: { at?: number; v: Value[] }[], untilMs = 120_000): Promise<Map<string, Row[]>> {
  const e = await Engine.compile({ code, inputs: [STOCK] });
  try {
    const timed = rows.map((r, i) => ({ t: T0 + (r.at ?? i), v: r.v }));
    await e.push(SRC, timed);
    await e.advance(T0 + untilMs);
    return e.drain();
  } finally {
    e.close();
  }
}

/** `SELECT STREAM <select> FROM SOURCE_SQL_STREAM_001 [tail]` into a stream of `cols`. */
export const pumpOf = (cols: string, select: string, tail = '') => `CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (${cols});
CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
  SELECT STREAM ${select} FROM "SOURCE_SQL_STREAM_001"${tail};`;

/**
 * Evaluates each expression of a documented Function → Result table once (one input row) and
 * returns the values; the row must not go to error_stream.
 */
export async function evalExprs(exprs: string[], type: string): Promise<Value[]> {
  const cols = exprs.map((_, i) => `C${i} ${type}`).join(', ');
  const out = await runApp(pumpOf(cols, exprs.join(',\n    ')), [{ v: ['AMZN', 'TECH', 1, 10, 1, T0] }]);
  const errors = out.get('error_stream') ?? [];
  if (errors.length) throw new Error(`error_stream: ${JSON.stringify(errors[0]!.v)}`);
  return out.get('DESTINATION_SQL_STREAM')![0]!.v as Value[];
}

/** Checks a reference table: each [expression, result] pair, all of one SQL type. */
export async function expectTable(table: [string, Value][], type: string): Promise<void> {
  const got = await evalExprs(table.map(([e]) => e), type);
  expect(table.map(([e], i) => [e, got[i]])).toEqual(table.map(([e, r]) => [e, r]));
}
