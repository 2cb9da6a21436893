// The two-phase plan a worker runs (sql/decompose.ts), checked and typed by
// DuckDB: the general form's SUM, MIN and MAX partial columns take the types
// DuckDB binds the partial SELECT to (SUM of an integer expression stays an
// integer, so KDA's integer division over it is the same on several replicas
// as on one), and a plan either of whose engines does not compile falls back
// to one active replica rather than failing every replica.
import type { ApplicationDefinition } from '../../contract/analytics.js';
import { Engine, type ReferenceTable } from '../engine/engine.js';
import { twoPhasePlan, type Decomposition, type PartialTypes } from '../sql/decompose.js';
import { combinerSpec } from './runner.js';

/** DuckDB's result type → the stream column type the partial rows are declared with. */
function sqlType(duck: string): string {
  const t = duck.toUpperCase();
  if (/^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|UHUGEINT)$/.test(t)) return 'BIGINT';
  if (/^(DOUBLE|FLOAT|REAL)$/.test(t) || t.startsWith('DECIMAL')) return 'DOUBLE';
  if (t.startsWith('TIMESTAMP')) return 'TIMESTAMP';
  if (t === 'DATE' || t === 'TIME' || t === 'BOOLEAN' || t === 'VARCHAR') return t;
  throw new Error(`a partial aggregate of type ${duck}`);
}

export async function verifiedPlan(def: ApplicationDefinition, references: ReferenceTable[]): Promise<Decomposition> {
  const first = twoPhasePlan(def);
  if (!first.decomposable) return first;
  const inputs = combinerSpec(def, references).inputs;
  try {
    let d: Decomposition = first;
    if (first.pumps.some((p) => p.general)) {
      const e = await Engine.compile({ code: first.partialCode, inputs, references });
      const types: PartialTypes = {};
      try {
        for (const p of first.pumps) {
          if (!p.general) continue;
          const pump = e.pumps.find((x) => x.plan.name === p.name)!;
          const r = await e.duck.conn.runAndReadAll(`DESCRIBE ${pump.plan.sql}`);
          types[p.name] = Object.fromEntries(r.getRows().filter((row) => String(row[0]).startsWith('$A')).map((row) => [String(row[0]), sqlType(String(row[1]))]));
        }
      } finally {
        e.close();
      }
      d = twoPhasePlan(def, types);
      if (!d.decomposable) return d;
    }
    for (const spec of [{ code: d.partialCode, inputs, references }, combinerSpec(def, references, d)]) (await Engine.compile(spec)).close();
    return d;
  } catch (e) {
    return { decomposable: false, reason: `the two-phase plan does not compile: ${(e as Error).message}` };
  }
}
