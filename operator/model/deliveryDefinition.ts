// The definition a DeliveryStream resource stands for, in the same model the
// Firehose API writes (stream/deliveryStreams.ts): the worker cannot tell the
// two apart, and DescribeDeliveryStream shows both.
import type { DeliveryStream, DeliveryStreamSpec } from '../../crds/schema/deliverystream.js';
import type { DataFormatConversionDef, NewDeliveryStream, S3DestinationDef } from '../../stream/deliveryStreams.js';
import { PrefixError, resolvePrefixes } from '../../stream/delivery/prefix.js';
import { conversionProblem } from '../../stream/delivery/conversion.js';

export type DefinitionResult = { ok: true; def: NewDeliveryStream } | { ok: false; reason: string; message: string };

export function deliveryDefinitionOf(d: DeliveryStream, spec: DeliveryStreamSpec, sourceStream: string | undefined, region: string, accountId: string): DefinitionResult {
  if (!spec.s3) return { ok: false, reason: 'DestinationNotSupported', message: 'Only the s3 destination is delivered by this Shardline version.' };
  const s3: S3DestinationDef = {
    BucketARN: `arn:aws:s3:::${spec.s3.bucket}`,
    Prefix: spec.s3.prefix,
    ErrorOutputPrefix: spec.s3.errorOutputPrefix,
    BufferingHints: { SizeInMBs: spec.buffering.sizeMiB, IntervalInSeconds: spec.buffering.intervalSeconds },
    CompressionFormat: spec.s3.compression,
    EncryptionConfiguration: { NoEncryptionConfig: 'NoEncryption' },
    CloudWatchLoggingOptions: { Enabled: false },
    // JSON_LINES: one record per line, which is Firehose's AppendDelimiterToRecord.
    ProcessingConfiguration: spec.s3.format === 'JSON_LINES' ? { Enabled: true, Processors: [{ Type: 'AppendDelimiterToRecord' }] } : undefined,
    S3BackupMode: 'Disabled',
    DataFormatConversionConfiguration: spec.s3.format === 'PARQUET' && spec.s3.parquet ? conversionOf(d, spec.s3.parquet, region, accountId) : undefined,
  };
  if (spec.s3.format === 'PARQUET') {
    if (!spec.s3.parquet) return { ok: false, reason: 'InvalidSchema', message: 'spec.s3.parquet (the schema) is required for format PARQUET.' };
    const problem = conversionProblem(s3);
    if (problem) return { ok: false, reason: 'InvalidSchema', message: problem };
  }
  if (spec.processing) return { ok: false, reason: 'ProcessingNotSupported', message: 'Record transformation is not supported by this Shardline version yet.' };
  try {
    resolvePrefixes(s3.Prefix, s3.ErrorOutputPrefix, false);
  } catch (e) {
    if (e instanceof PrefixError) return { ok: false, reason: 'InvalidPrefix', message: e.message };
    throw e;
  }
  const direct = spec.source.type === 'DirectPut';
  return {
    ok: true,
    def: {
      name: d.metadata.name!,
      type: direct ? 'DirectPut' : 'KinesisStreamAsSource',
      sourceStream: direct ? undefined : sourceStream,
      kinesisSource: direct ? undefined : {
        KinesisStreamARN: `arn:aws:kinesis:${region}:${accountId}:stream/${sourceStream}`,
        // Where a new delivery starts: LATEST is "from now"; TRIM_HORIZON from the oldest record kept.
        deliveryStartMs: spec.source.startingPosition === 'TRIM_HORIZON' ? 0 : Date.now(),
      },
      s3,
      tags: {},
      encryption: { status: 'DISABLED' },
      owner: { kind: 'resource', namespace: d.metadata.namespace!, name: d.metadata.name! },
    },
  };
}

/** spec.s3.parquet in the Firehose API's shape; the inline schema becomes the table <databaseName>.<tableName> the API can name. */
function conversionOf(d: DeliveryStream, p: NonNullable<NonNullable<DeliveryStreamSpec['s3']>['parquet']>, region: string, accountId: string): DataFormatConversionDef {
  return {
    Enabled: true,
    SchemaConfiguration: {
      CatalogId: accountId, Region: region, VersionId: 'LATEST',
      DatabaseName: p.schema.databaseName ?? d.metadata.namespace!, TableName: p.schema.tableName ?? d.metadata.name!,
      Columns: p.schema.columns.map((c) => ({ Name: c.name, Type: c.type })),
    },
    InputFormatConfiguration: {
      Deserializer: p.deserializer === 'Hive'
        ? { HiveJsonSerDe: { TimestampFormats: p.hive?.timestampFormats } }
        : { OpenXJsonSerDe: { CaseInsensitive: p.openX?.caseInsensitive ?? true, ConvertDotsInJsonKeysToUnderscores: p.openX?.convertDotsInJsonKeysToUnderscores ?? false, ColumnToJsonKeyMappings: p.openX?.columnToJsonKeyMappings } },
    },
    OutputFormatConfiguration: {
      Serializer: { ParquetSerDe: { Compression: p.compression, BlockSizeBytes: p.blockSizeBytes, PageSizeBytes: p.pageSizeBytes, EnableDictionaryCompression: p.enableDictionaryCompression, WriterVersion: 'V1' } },
    },
  };
}
