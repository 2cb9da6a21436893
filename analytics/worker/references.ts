// Reference data: the S3 object a reference data source names, parsed with
// its schema into rows of a DuckDB table the pumps can join.
import type { ReferenceDef } from '../../contract/analytics.js';
import type { ReferenceTable } from '../engine/engine.js';
import { RecordMapper } from '../mapping.js';

export type ReferenceLoader = (refs: ReferenceDef[]) => Promise<ReferenceTable[]>;

/** Parses an object's bytes: JSON (one document, or one per line) or CSV, as the schema says. */
export function parseReference(ref: ReferenceDef, body: Buffer): ReferenceTable {
  const mapper = new RecordMapper(ref.format, ref.columns);
  const rows = [];
  const errors: string[] = [];
  // JSON: one document (its row path selects the rows), or one document per line.
  let chunks = [body];
  if (ref.format.type === 'JSON') {
    try { JSON.parse(body.toString('utf8')); } catch { chunks = body.toString('utf8').split('\n').filter((l) => l.trim()).map((l) => Buffer.from(l)); }
  }
  for (const c of chunks) {
    const m = mapper.map(c);
    // Not spreads: one JSON document can hold more rows than a call takes arguments.
    for (const r of m.rows) rows.push(r);
    for (const e of m.errors) errors.push(e);
  }
  if (errors.length) throw new Error(`reference data ${ref.tableName} (s3://${ref.s3.bucket}/${ref.s3.key}): ${errors[0]}`);
  return { name: ref.tableName, columns: ref.columns, rows };
}
