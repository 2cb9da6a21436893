// DataFormatConversionConfiguration through the Firehose API. There is no
// Glue Data Catalog: SchemaConfiguration's DatabaseName/TableName name a table
// the store knows, i.e. one declared inline on a DeliveryStream resource
// (spec.s3.parquet.schema), whose columns are copied into the definition.
import type { DataFormatConversionDef, DeliveryStreamRecord } from '../../../stream/deliveryStreams.js';
import { invalidArgument } from '../errors.js';
import type { Params } from '../context.js';

export type ColumnList = { Name: string; Type: string }[];
export type TableLookup = (database: string, table: string) => ColumnList | undefined;

const tableKey = (db: string, t: string) => `${db.toLowerCase()}.${t.toLowerCase()}`;

/** The tables declared with columns in the store's definitions (DeliveryStream resources). */
export function tablesOf(all: DeliveryStreamRecord[]): TableLookup {
  const m = new Map<string, ColumnList>();
  for (const r of all) {
    const s = r.s3.DataFormatConversionConfiguration?.SchemaConfiguration;
    if (r.owner.kind === 'resource' && s?.DatabaseName && s.TableName && s.Columns) m.set(tableKey(s.DatabaseName, s.TableName), s.Columns);
  }
  return (db, t) => m.get(tableKey(db, t));
}

/** The stored form of the request's member (Enabled defaults to true, as in Firehose); checks follow in checkDestination. */
export function conversionFromConfig(c: Params, tables: TableLookup, previous?: DataFormatConversionDef): DataFormatConversionDef {
  const out: DataFormatConversionDef = { ...structuredClone(c), Enabled: c.Enabled ?? true };
  if (!out.Enabled) return out;
  const s = out.SchemaConfiguration;
  if (!s?.DatabaseName || !s.TableName) throw invalidArgument('SchemaConfiguration.DatabaseName and SchemaConfiguration.TableName are required when DataFormatConversion is enabled.');
  const prev = previous?.SchemaConfiguration;
  const columns = tables(s.DatabaseName, s.TableName)
    ?? (prev?.Columns && prev.DatabaseName === s.DatabaseName && prev.TableName === s.TableName ? prev.Columns : undefined);
  if (!columns) {
    throw invalidArgument(`Table ${s.DatabaseName}.${s.TableName} is not known to this Shardline store. There is no Glue Data Catalog here: `
      + 'declare the table\'s columns on a DeliveryStream resource (spec.s3.parquet.schema with databaseName and tableName), then name that database and table in SchemaConfiguration.');
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
