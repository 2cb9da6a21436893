// The definition a DeliveryStream resource stands for, in the same model the
// Firehose API writes (stream/deliveryStreams.ts): the worker cannot tell the
// two apart, and DescribeDeliveryStream shows both. spec.processing becomes
// Firehose's ProcessingConfiguration (+ DynamicPartitioningConfiguration),
// spec.http an HTTP endpoint destination with spec.s3 as its backup bucket
// (spec.processing is then the endpoint's).
// The HTTP access key is not in the definition: the store is readable by every
// NATS client, so the key reaches only this stream's worker pods, from its
// Secret (operator/model/workers.ts).
import type { DeliveryStream, DeliveryStreamSpec } from '../../crds/schema/deliverystream.js';
import type { DataFormatConversionDef, HttpDestinationDef, NewDeliveryStream, S3DestinationDef } from '../../stream/deliveryStreams.js';
import { PrefixError, parsePrefix, partitionKeysOf, resolvePrefixes } from '../../stream/delivery/prefix.js';
import { conversionProblem } from '../../stream/delivery/conversion.js';

export type DefinitionResult = { ok: true; def: NewDeliveryStream } | { ok: false; reason: string; message: string };

type Processor = NonNullable<NonNullable<S3DestinationDef['ProcessingConfiguration']>['Processors']>[number];
const params = (o: Record<string, string | number | undefined>) =>
  Object.entries(o).filter(([, v]) => v !== undefined).map(([ParameterName, v]) => ({ ParameterName, ParameterValue: String(v) }));

/** Firehose dynamic partitioning needs buffers of at least 64 MiB. */
const MIN_PARTITIONED_SIZE_MIB = 64;

/**
 * spec.processing `p` (and `jsonLines`: s3.format JSON_LINES, which is
 * AppendDelimiterToRecord) as Firehose processors, in Firehose's order.
 */
function processorsOf(p: DeliveryStreamSpec['processing'], jsonLines: boolean): Processor[] {
  const out: Processor[] = [];
  if (p?.deAggregation) {
    const d = p.deAggregation;
    out.push({ Type: 'RecordDeAggregation', Parameters: params({ SubRecordType: d.subRecordType, Delimiter: d.delimiter !== undefined ? Buffer.from(d.delimiter).toString('base64') : undefined }) });
  }
  if (p?.transform) {
    const t = p.transform;
    // The URL is the LambdaArn: the worker calls an http(s) "ARN" as is.
    out.push({ Type: 'Lambda', Parameters: params({ LambdaArn: t.functionUrl, NumberOfRetries: t.numberOfRetries, BufferSizeInMBs: t.bufferSizeMiB, BufferIntervalInSeconds: t.bufferIntervalSeconds }) });
  }
  const keys = Object.entries(p?.dynamicPartitioning?.partitionKeys ?? {});
  if (keys.length) {
    const query = `{${keys.map(([k, expr]) => `${JSON.stringify(k)}: (${expr})`).join(', ')}}`;
    out.push({ Type: 'MetadataExtraction', Parameters: params({ MetadataExtractionQuery: query, JsonParsingEngine: 'JQ-1.6' }) });
  }
  if (p?.appendDelimiter || jsonLines) out.push({ Type: 'AppendDelimiterToRecord' });
  return out;
}

const fail = (reason: string, message: string): DefinitionResult => ({ ok: false, reason, message });

export function deliveryDefinitionOf(d: DeliveryStream, spec: DeliveryStreamSpec, sourceStream: string | undefined, region: string, accountId: string): DefinitionResult {
  if (!spec.s3) {
    return fail(spec.http ? 'BackupBucketRequired' : 'DestinationRequired', spec.http
      ? 'An HTTP endpoint destination needs spec.s3 as its backup bucket (failed records, or all with s3BackupMode AllData), as Firehose needs S3Configuration.'
      : 'At least one destination (spec.s3 or spec.http) is required.');
  }
  if (spec.http && spec.processing?.dynamicPartitioning) {
    return fail('InvalidProcessing', 'spec.processing.dynamicPartitioning applies to an S3 destination only; with spec.http, spec.s3 is the backup bucket (as in Firehose).');
  }
  // With spec.http the chain runs before the endpoint; the backup bucket gets source records.
  const jsonLines = spec.s3.format === 'JSON_LINES';
  const processors = processorsOf(spec.http ? undefined : spec.processing, jsonLines);
  const dynamic = spec.processing?.dynamicPartitioning !== undefined;
  const s3: S3DestinationDef = {
    BucketARN: `arn:aws:s3:::${spec.s3.bucket}`,
    Prefix: spec.s3.prefix,
    ErrorOutputPrefix: spec.s3.errorOutputPrefix,
    BufferingHints: { SizeInMBs: spec.buffering.sizeMiB, IntervalInSeconds: spec.buffering.intervalSeconds },
    CompressionFormat: spec.s3.compression,
    EncryptionConfiguration: { NoEncryptionConfig: 'NoEncryption' },
    CloudWatchLoggingOptions: { Enabled: false },
    ProcessingConfiguration: processors.length ? { Enabled: true, Processors: processors } : undefined,
    DynamicPartitioningConfiguration: dynamic ? { Enabled: true, RetryOptions: { DurationInSeconds: spec.processing!.dynamicPartitioning!.retrySeconds } } : undefined,
    S3BackupMode: 'Disabled',
    DataFormatConversionConfiguration: spec.s3.format === 'PARQUET' && spec.s3.parquet ? conversionOf(d, spec.s3.parquet, region, accountId) : undefined,
  };
  if (spec.s3.format === 'PARQUET') {
    if (!spec.s3.parquet) return fail('InvalidSchema', 'spec.s3.parquet (the schema) is required for format PARQUET.');
    if (!spec.s3.parquet.schema === !spec.s3.parquet.catalogTable) return fail('InvalidSchema', 'spec.s3.parquet needs exactly one of schema (inline columns) and catalogTable (a Glue catalog table).');
    const problem = conversionProblem(s3);
    if (problem) return fail('InvalidSchema', problem);
  }
  try {
    resolvePrefixes(s3.Prefix, s3.ErrorOutputPrefix, dynamic);
  } catch (e) {
    if (e instanceof PrefixError) return fail('InvalidPrefix', e.message);
    throw e;
  }
  if (dynamic) {
    if (spec.buffering.sizeMiB < MIN_PARTITIONED_SIZE_MIB) {
      return fail('InvalidBuffering', `spec.buffering.sizeMiB must be at least ${MIN_PARTITIONED_SIZE_MIB} when dynamic partitioning is enabled (Firehose's minimum).`);
    }
    const used = partitionKeysOf(parsePrefix(s3.Prefix ?? ''));
    const declared = Object.keys(spec.processing!.dynamicPartitioning!.partitionKeys ?? {});
    const undeclared = used.query.filter((k) => !declared.includes(k));
    if (undeclared.length) {
      return fail('InvalidProcessing', `spec.s3.prefix uses !{partitionKeyFromQuery:${undeclared[0]}}, which spec.processing.dynamicPartitioning.partitionKeys does not define.`);
    }
    if (used.lambda.length && !spec.processing!.transform) {
      return fail('InvalidProcessing', `spec.s3.prefix uses !{partitionKeyFromLambda:${used.lambda[0]}}, which needs spec.processing.transform.`);
    }
  }
  const http: HttpDestinationDef | undefined = spec.http && {
    Url: spec.http.url,
    ...(spec.http.name !== undefined ? { Name: spec.http.name } : {}),
    ContentEncoding: spec.http.contentEncoding,
    CommonAttributes: Object.entries(spec.http.commonAttributes ?? {}).map(([AttributeName, AttributeValue]) => ({ AttributeName, AttributeValue })),
    RetryDurationInSeconds: spec.http.retrySeconds,
    S3BackupMode: spec.http.s3BackupMode,
    // The endpoint's chain: s3.format (the backup bucket's) adds no delimiter to it.
    ...(spec.processing ? { ProcessingConfiguration: { Enabled: true, Processors: processorsOf(spec.processing, false) } } : {}),
  };
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
      ...(http ? { http } : {}),
      tags: {},
      encryption: { status: 'DISABLED' },
      owner: { kind: 'resource', namespace: d.metadata.namespace!, name: d.metadata.name! },
    },
  };
}

/**
 * spec.s3.parquet in the Firehose API's shape; the inline schema becomes the table <databaseName>.<tableName>
 * the API can name, a catalogTable a reference the worker resolves in the Glue catalog subset.
 */
function conversionOf(d: DeliveryStream, p: NonNullable<NonNullable<DeliveryStreamSpec['s3']>['parquet']>, region: string, accountId: string): DataFormatConversionDef {
  return {
    Enabled: true,
    SchemaConfiguration: {
      CatalogId: accountId, Region: region, VersionId: 'LATEST',
      // A catalog table: no Columns, so the worker resolves the table for each flush (runtime/delivery/catalogTable.ts), as for the API.
      ...(p.catalogTable
        ? { DatabaseName: p.catalogTable.databaseName, TableName: p.catalogTable.tableName }
        : { DatabaseName: p.schema?.databaseName ?? d.metadata.namespace!, TableName: p.schema?.tableName ?? d.metadata.name!, Columns: (p.schema?.columns ?? []).map((c) => ({ Name: c.name, Type: c.type })) }),
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
