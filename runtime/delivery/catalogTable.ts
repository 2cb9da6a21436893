// A delivery stream whose DataFormatConversionConfiguration names a Glue
// catalog table (no Columns in its definition) gets the table's columns and
// version here, from the catalog bucket (stream/glueCatalog.ts), each time the
// worker re-reads its definition. The flush intent keeps the resolved columns,
// so a flush replayed after a crash writes the same bytes even if the table
// changed meanwhile; a changed table applies to the next flush. A table that
// is missing or unusable becomes CatalogError: that flush's records go to the
// error prefix as format-conversion-failed (never lost, never blocking).
import type { KV } from 'nats';
import type { DeliveryStreamRecord } from '../../stream/deliveryStreams.js';
import { getGlueTable } from '../../stream/glueCatalog.js';
import { HiveTypeError, parseColumns } from '../../stream/delivery/hiveType.js';

/** Firehose's code (and message) for a table or database it cannot find. */
export const ENTITY_NOT_FOUND = 'DataFormatConversion.EntityNotFound';
export const INVALID_SCHEMA = 'DataFormatConversion.InvalidSchema';

export async function resolveCatalogTable(catalog: KV, def: DeliveryStreamRecord): Promise<DeliveryStreamRecord> {
  const conv = def.s3.DataFormatConversionConfiguration;
  const schema = conv?.SchemaConfiguration;
  if (!conv?.Enabled || !schema || schema.Columns || !schema.DatabaseName || !schema.TableName) return def;
  const table = await getGlueTable(catalog, schema.DatabaseName, schema.TableName);
  let resolved: NonNullable<typeof conv.SchemaConfiguration>;
  if (!table) {
    resolved = { ...schema, CatalogError: { ErrorCode: ENTITY_NOT_FOUND, ErrorMessage: 'The specified table/database could not be found. Ensure that the table/database exists and that the values provided in the schema configuration are correct, especially with regards to casing.' } };
  } else {
    const columns = (table.input.StorageDescriptor?.Columns ?? []).map((c) => ({ Name: c.Name, Type: c.Type ?? '' }));
    try {
      parseColumns(columns);
      resolved = { ...schema, VersionId: table.VersionId, Columns: columns };
    } catch (e) {
      if (!(e instanceof HiveTypeError)) throw e;
      resolved = { ...schema, VersionId: table.VersionId, CatalogError: { ErrorCode: INVALID_SCHEMA, ErrorMessage: `The schema of ${table.DatabaseName}.${table.Name} is invalid: ${e.message}` } };
    }
  }
  return { ...def, s3: { ...def.s3, DataFormatConversionConfiguration: { ...conv, SchemaConfiguration: resolved } } };
}
