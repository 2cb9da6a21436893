// Whether an AnalyticsApp's SQL compiles: the same translator and DuckDB
// binding the worker uses, so a resource is Ready=False/InvalidSQL with the
// engine's reason and position instead of a worker crash-looping on it.
import { inAppStreamNames, type ApplicationDefinition } from '../../contract/analytics.js';

export async function analyticsSqlError(d: ApplicationDefinition): Promise<string | undefined> {
  // Loaded on demand: DuckDB is only needed once an AnalyticsApp exists.
  const { Engine, ApplicationSqlError } = await import('../../analytics/engine/engine.js');
  try {
    const e = await Engine.compile({
      code: d.code,
      inputs: d.inputs.flatMap((i) => inAppStreamNames(i).map((name) => ({
        name, columns: i.columns, ...(i.watermark ? { watermark: { column: i.watermark.column, delayMs: i.watermark.delaySeconds * 1000 } } : {}),
      }))),
      references: d.references.map((r) => ({ name: r.tableName, columns: r.columns, rows: [] })),
    });
    e.close();
    return undefined;
  } catch (e) {
    if (e instanceof ApplicationSqlError) return e.message;
    return (e as Error).message;
  }
}
