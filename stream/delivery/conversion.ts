// The checks a record format conversion configuration must pass before it is
// stored, shared by the Firehose API (InvalidArgumentException) and the
// operator (Ready=False on the DeliveryStream): Parquet output only, one
// deserializer, valid Hive column types, and the S3 compression left to Parquet.
import type { DataFormatConversionDef, S3DestinationDef } from '../deliveryStreams.js';
import { HiveTypeError, parseColumns } from './hiveType.js';

/** Joda letters the Hive TimestampFormats parser understands (runtime/delivery/parquet.ts). */
const JODA = /^(?:'[^']*'|[yMdHmsSZ]+|[^A-Za-z'])+$/;

export const conversionEnabled = (d: S3DestinationDef): d is S3DestinationDef & { DataFormatConversionConfiguration: DataFormatConversionDef } =>
  d.DataFormatConversionConfiguration?.Enabled === true;

/** The first problem with an enabled conversion, as the message the user sees; undefined when there is none. */
export function conversionProblem(d: S3DestinationDef): string | undefined {
  if (!conversionEnabled(d)) return undefined;
  const c = d.DataFormatConversionConfiguration;
  if (d.CompressionFormat !== 'UNCOMPRESSED') {
    return 'CompressionFormat must be set to UNCOMPRESSED when DataFormatConversion is enabled; the Parquet serializer compresses the file (ParquetSerDe.Compression).';
  }
  const serializer = c.OutputFormatConfiguration?.Serializer ?? {};
  if (serializer.OrcSerDe) return 'OrcSerDe is not supported by this Shardline version: use ParquetSerDe (JSON → Apache Parquet).';
  if (!serializer.ParquetSerDe) return 'OutputFormatConfiguration.Serializer.ParquetSerDe is required when DataFormatConversion is enabled.';
  if (serializer.ParquetSerDe.WriterVersion === 'V2') return 'ParquetSerDe.WriterVersion V2 is not supported by this Shardline version: use V1.';
  const de = c.InputFormatConfiguration?.Deserializer ?? {};
  if (!de.OpenXJsonSerDe === !de.HiveJsonSerDe) return 'InputFormatConfiguration.Deserializer must specify exactly one of OpenXJsonSerDe and HiveJsonSerDe.';
  for (const f of de.HiveJsonSerDe?.TimestampFormats ?? []) {
    if (f !== 'millis' && !JODA.test(f)) return `TimestampFormats entry ${JSON.stringify(f)} is not supported: use the pattern letters y M d H m s S Z, quoted literals, or millis.`;
  }
  const schema = c.SchemaConfiguration;
  // No columns but a table name: a Glue catalog table, resolved (and checked) when a flush is formed.
  if (!schema?.Columns) return schema?.DatabaseName && schema.TableName ? undefined : 'SchemaConfiguration with the table\'s columns is required when DataFormatConversion is enabled.';
  try {
    parseColumns(schema.Columns);
  } catch (e) {
    if (e instanceof HiveTypeError) return `The schema of ${schema.DatabaseName ?? '?'}.${schema.TableName ?? '?'} is invalid: ${e.message}`;
    throw e;
  }
  return undefined;
}
