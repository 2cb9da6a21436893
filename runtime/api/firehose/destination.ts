// From the API's destination configuration to the stored definition and back
// (DescribeDeliveryStream), with the checks AWS makes beyond the model's shapes.
import type { S3DestinationDef } from '../../../stream/deliveryStreams.js';
import { invalidArgument } from '../errors.js';
import { PrefixError, parsePrefix, partitionKeysOf, resolvePrefixes } from '../../../stream/delivery/prefix.js';
import { isValidTimeZone } from '../../../stream/delivery/timestamp.js';
import type { Params } from '../context.js';
import { conversionProblem } from '../../../stream/delivery/conversion.js';
import { conversionFromConfig, describeConversion, type TableLookup } from './conversion.js';

const DEFAULT_HINTS = { SizeInMBs: 5, IntervalInSeconds: 300 };
/** Dynamic partitioning needs at least 64 MiB buffers in Firehose. */
const MIN_PARTITIONED_SIZE_MB = 64;

export const bucketOf = (bucketArn: string) => bucketArn.replace(/^arn:[^:]*:s3:::/, '');

/** Processors the delivery worker runs (runtime/delivery/processing.ts). */
const SUPPORTED_PROCESSORS = ['RecordDeAggregation', 'Lambda', 'MetadataExtraction', 'AppendDelimiterToRecord'];

type ProcessingDef = S3DestinationDef['ProcessingConfiguration'];

/**
 * Checks a ProcessingConfiguration's processors (S3 or HTTP endpoint
 * destination; `dynamic`: dynamic partitioning is enabled, which only an S3
 * destination has) and returns the enabled ones.
 */
export function checkProcessors(pc: ProcessingDef, dynamic: boolean) {
  const procs = pc?.Enabled ? pc.Processors ?? [] : [];
  const param = (p: (typeof procs)[number], n: string) => p.Parameters?.find((x) => x.ParameterName === n)?.ParameterValue;
  const inRange = (v: string | undefined, lo: number, hi: number) => v === undefined || (Number.isFinite(Number(v)) && Number(v) >= lo && Number(v) <= hi);
  for (const p of procs) {
    if (!SUPPORTED_PROCESSORS.includes(p.Type)) throw invalidArgument(`Processor type ${p.Type} is not supported by this Shardline version.`);
    if (p.Type === 'Lambda') {
      if (!param(p, 'LambdaArn')) throw invalidArgument('LambdaArn is a required parameter of a Lambda processor.');
      if (!inRange(param(p, 'NumberOfRetries'), 0, 300)) throw invalidArgument('NumberOfRetries must be between 0 and 300.');
      if (!inRange(param(p, 'BufferSizeInMBs'), 0.2, 3)) throw invalidArgument('BufferSizeInMBs of a Lambda processor must be between 0.2 and 3.');
      if (!inRange(param(p, 'BufferIntervalInSeconds'), 60, 900)) throw invalidArgument('BufferIntervalInSeconds of a Lambda processor must be between 60 and 900.');
    }
    if (p.Type === 'MetadataExtraction') {
      if (!dynamic) throw invalidArgument('MetadataExtraction processor is only supported when Dynamic Partitioning is enabled.');
      if (!param(p, 'MetadataExtractionQuery')) throw invalidArgument('MetadataExtractionQuery is a required parameter of a MetadataExtraction processor.');
      if (param(p, 'JsonParsingEngine') !== 'JQ-1.6') throw invalidArgument('JsonParsingEngine must be JQ-1.6.');
    }
    if (p.Type === 'RecordDeAggregation') {
      const t = param(p, 'SubRecordType') ?? 'JSON';
      if (t !== 'JSON' && t !== 'DELIMITED') throw invalidArgument('SubRecordType must be JSON or DELIMITED.');
      if (t === 'DELIMITED' && !param(p, 'Delimiter')) throw invalidArgument('Delimiter (base64-encoded) is required when SubRecordType is DELIMITED.');
    }
  }
  return procs;
}

/** Checks a complete destination; throws InvalidArgumentException with the reason. */
export function checkDestination(d: S3DestinationDef): void {
  const dynamic = d.DynamicPartitioningConfiguration?.Enabled === true;
  try {
    resolvePrefixes(d.Prefix, d.ErrorOutputPrefix, dynamic);
  } catch (e) {
    if (e instanceof PrefixError) throw invalidArgument(e.message);
    throw e;
  }
  if (d.CustomTimeZone && !isValidTimeZone(d.CustomTimeZone)) throw invalidArgument(`CustomTimeZone ${d.CustomTimeZone} is not a supported time zone.`);
  if (dynamic && d.BufferingHints.SizeInMBs < MIN_PARTITIONED_SIZE_MB) {
    throw invalidArgument(`BufferingHints.SizeInMBs must be at least ${MIN_PARTITIONED_SIZE_MB} when Dynamic Partitioning is enabled.`);
  }
  const conversion = conversionProblem(d);
  if (conversion) throw invalidArgument(conversion);
  const procs = checkProcessors(d.ProcessingConfiguration, dynamic);
  const keys = partitionKeysOf(parsePrefix(d.Prefix ?? ''));
  if (keys.query.length && !procs.some((p) => p.Type === 'MetadataExtraction')) {
    throw invalidArgument('Prefix uses partitionKeyFromQuery, which needs a MetadataExtraction processor.');
  }
  if (keys.lambda.length && !procs.some((p) => p.Type === 'Lambda')) {
    throw invalidArgument('Prefix uses partitionKeyFromLambda, which needs a Lambda processor.');
  }
}

/** A new destination from S3DestinationConfiguration or ExtendedS3DestinationConfiguration. */
export function destinationFromConfig(c: Params, tables: TableLookup): S3DestinationDef {
  const d: S3DestinationDef = {
    RoleARN: c.RoleARN,
    BucketARN: c.BucketARN,
    Prefix: c.Prefix,
    ErrorOutputPrefix: c.ErrorOutputPrefix,
    BufferingHints: { ...DEFAULT_HINTS, ...(c.BufferingHints ?? {}) },
    CompressionFormat: c.CompressionFormat ?? 'UNCOMPRESSED',
    EncryptionConfiguration: c.EncryptionConfiguration ?? { NoEncryptionConfig: 'NoEncryption' },
    CloudWatchLoggingOptions: c.CloudWatchLoggingOptions ?? { Enabled: false },
    ProcessingConfiguration: c.ProcessingConfiguration,
    DynamicPartitioningConfiguration: c.DynamicPartitioningConfiguration,
    S3BackupMode: c.S3BackupMode ?? 'Disabled',
    FileExtension: c.FileExtension,
    CustomTimeZone: c.CustomTimeZone,
    DataFormatConversionConfiguration: c.DataFormatConversionConfiguration ? conversionFromConfig(c.DataFormatConversionConfiguration, tables) : undefined,
  };
  checkDestination(d);
  return d;
}

/** UpdateDestination: the given members replace the stored ones, the rest stay. */
export function destinationUpdate(cur: S3DestinationDef, u: Params, tables: TableLookup): S3DestinationDef {
  const next: S3DestinationDef = structuredClone(cur);
  for (const [k, v] of Object.entries(u)) {
    if (v === undefined) continue;
    if (k === 'BufferingHints') next.BufferingHints = { ...next.BufferingHints, ...(v as object) };
    else if (k === 'DataFormatConversionConfiguration') next.DataFormatConversionConfiguration = conversionFromConfig(v as Params, tables, cur.DataFormatConversionConfiguration);
    else (next as unknown as Record<string, unknown>)[k] = v;
  }
  checkDestination(next);
  return next;
}

/** The Describe shapes: the plain S3 description and the extended one. */
export function describeDestination(d: S3DestinationDef) {
  const s3 = {
    RoleARN: d.RoleARN,
    BucketARN: d.BucketARN,
    Prefix: d.Prefix,
    ErrorOutputPrefix: d.ErrorOutputPrefix,
    BufferingHints: d.BufferingHints,
    CompressionFormat: d.CompressionFormat,
    EncryptionConfiguration: d.EncryptionConfiguration,
    CloudWatchLoggingOptions: d.CloudWatchLoggingOptions,
  };
  return {
    S3DestinationDescription: s3,
    ExtendedS3DestinationDescription: {
      ...s3,
      ProcessingConfiguration: d.ProcessingConfiguration ?? { Enabled: false, Processors: [] },
      S3BackupMode: d.S3BackupMode ?? 'Disabled',
      DataFormatConversionConfiguration: describeConversion(d.DataFormatConversionConfiguration),
      DynamicPartitioningConfiguration: d.DynamicPartitioningConfiguration,
      FileExtension: d.FileExtension,
      CustomTimeZone: d.CustomTimeZone,
    },
  };
}
