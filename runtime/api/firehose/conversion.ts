// DataFormatConversionConfiguration through the Firehose API.
// SchemaConfiguration's DatabaseName/TableName name a table in the Glue Data
// Catalog subset this endpoint serves (AWSGlue.*, stream/glueCatalog.ts): the
// definition keeps only the reference and the delivery worker resolves the
// table's columns when it forms a flush (a changed table applies to the next
// flush). A table declared inline on a DeliveryStream resource
// (spec.s3.parquet.schema) can be named too: its columns are copied.
import type { DataFormatConversionDef, DeliveryStreamRecord } from '../../../stream/deliveryStreams.js';
import { invalidArgument } from '../errors.js';
import type { Params } from '../context.js';

export type ColumnList = { Name: string; Type: string }[];
/** A table's columns (declared on a resource), 'catalog' (a Glue catalog table, resolved by the worker), or undefined (unknown). */
export type TableLookup = (database: string, table: string) => ColumnList | 'catalog' | undefined;

const tableKey = (db: string, t: string) => `${db.toLowerCase()}.${t.toLowerCase()}`;

/** The tables declared with columns in the store's definitions (DeliveryStream resources), then those of the Glue catalog (`database.table`, lower case). */
export function tablesOf(all: DeliveryStreamRecord[], catalog: Set<string> = new Set()): TableLookup {
  const m = new Map<string, ColumnList>();
  for (const r of all) {
    const s = r.s3.DataFormatConversionConfiguration?.SchemaConfiguration;
    if (r.owner.kind === 'resource' && s?.DatabaseName && s.TableName && s.Columns) m.set(tableKey(s.DatabaseName, s.TableName), s.Columns);
  }
  return (db, t) => m.get(tableKey(db, t)) ?? (catalog.has(tableKey(db, t)) ? 'catalog' : undefined);
}

/** The stored form of the request's member (Enabled defaults to true, as in Firehose); checks follow in checkDestination. */
export function conversionFromConfig(c: Params, tables: TableLookup, previous?: DataFormatConversionDef): DataFormatConversionDef {
  const out: DataFormatConversionDef = { ...structuredClone(c), Enabled: c.Enabled ?? true };
  if (!out.Enabled) return out;
  const s = out.SchemaConfiguration;
  if (!s?.DatabaseName || !s.TableName) throw invalidArgument('SchemaConfiguration.DatabaseName and SchemaConfiguration.TableName are required when DataFormatConversion is enabled.');
  const prev = previous?.SchemaConfiguration;
  const found = tables(s.DatabaseName, s.TableName);
  if (found === 'catalog') {
    // Only the latest version is kept in this catalog.
    if (s.VersionId !== undefined && s.VersionId !== 'LATEST') {
      throw invalidArgument(`SchemaConfiguration.VersionId ${s.VersionId} is not supported by this Shardline version: the catalog keeps only the latest version of a table (use LATEST).`);
    }
    const { Columns: _none, ...ref } = s;
    out.SchemaConfiguration = { ...ref, VersionId: 'LATEST' };
    return out;
  }
  const columns = found ?? (prev?.Columns && prev.DatabaseName === s.DatabaseName && prev.TableName === s.TableName ? prev.Columns : undefined);
  if (!columns) {
    throw invalidArgument(`Table ${s.DatabaseName}.${s.TableName} is not known to this Shardline store. Create it in the Glue Data Catalog `
      + 'served on this endpoint (glue create-database, glue create-table), or declare it on a DeliveryStream resource (spec.s3.parquet.schema with databaseName and tableName).');
  }
  out.SchemaConfiguration = { ...s, VersionId: s.VersionId ?? 'LATEST', Columns: columns };
  return out;
}

/** Describe shape: the API's members only (the columns stay internal). */
export function describeConversion(c: DataFormatConversionDef | undefined): DataFormatConversionDef {
  if (!c) return { Enabled: false };
  const { Columns: _columns, ...schema } = c.SchemaConfiguration ?? {};
  return { ...c, ...(c.SchemaConfiguration ? { SchemaConfiguration: schema } : {}) };
}
