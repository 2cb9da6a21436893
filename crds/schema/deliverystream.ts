// DeliveryStream: Firehose-style delivery of a DataStream (or of records put
// directly) to S3 and/or an HTTP endpoint, run by a delivery worker Deployment.
import { z } from 'zod';
import { WorkerScalingStatus, workerAutoscalingField } from './workerAutoscaling.js';
import { Conditions, HttpUrl, LocalObjectRef, ObservedGeneration, Replicas, SecretKeyRef, cel, immutable, objectName, type ObjectMeta } from './common.js';

export const DeliverySource = z.object({
  type: z.enum(['DataStream', 'DirectPut']).default('DataStream')
    .describe('DataStream: read a DataStream. DirectPut: producers call PutRecord(Batch) on the delivery stream itself.'),
  dataStreamRef: LocalObjectRef.optional().describe('The DataStream to read (type DataStream).'),
  startingPosition: z.enum(['LATEST', 'TRIM_HORIZON']).default('LATEST')
    .describe('Where a new delivery stream starts reading the DataStream.'),
}).meta(cel(
  immutable('source'),
  { rule: "self.type != 'DataStream' || has(self.dataStreamRef)", message: 'source.dataStreamRef is required for type DataStream' },
));

export const BufferingHints = z.object({
  sizeMiB: z.number().int().min(1).max(128).default(5).describe('Deliver once this many MiB are buffered.'),
  intervalSeconds: z.number().int().min(0).max(900).default(300).describe('Deliver at least this often, in seconds.'),
});

/** A column of the inline table schema (what a Glue table would hold). */
export const ParquetColumn = z.object({
  name: z.string().min(1).max(255).regex(/^[A-Za-z_][A-Za-z0-9_]*$/).describe('Column name (Hive rules: letters, digits, underscores; case-insensitive).'),
  type: z.string().min(1).max(131072).describe('Glue/Hive type: string, char(n), varchar(n), boolean, tinyint, smallint, int, bigint, float, double, decimal(p,s), date, timestamp, binary, array<t>, map<k,v>, struct<name:t,...>.'),
});

export const ParquetConversion = z.object({
  schema: z.object({
    databaseName: z.string().min(1).max(255).optional().describe('Database name the Firehose API can refer to (SchemaConfiguration.DatabaseName); default: the namespace.'),
    tableName: z.string().min(1).max(255).optional().describe('Table name the Firehose API can refer to (SchemaConfiguration.TableName); default: the resource name.'),
    columns: z.array(ParquetColumn).min(1).max(1000).describe('The columns of each row, in order.'),
  }).optional().describe('The table schema records are converted to, declared inline (the Firehose API can name it as a table). Exclusive with catalogTable.'),
  catalogTable: z.object({
    databaseName: z.string().min(1).max(255).describe('Glue database name (SchemaConfiguration.DatabaseName).'),
    tableName: z.string().min(1).max(255).describe('Glue table name (SchemaConfiguration.TableName).'),
  }).optional().describe('A table of the Glue Data Catalog subset (AWSGlue.* on the shared endpoint) whose columns records are converted to, read by the worker for each flush (an updated table applies to the next flush; a missing one sends that flush to the error prefix as format-conversion-failed). Exclusive with schema.'),
  deserializer: z.enum(['OpenX', 'Hive']).default('OpenX').describe('How JSON is read: OpenX JSON SerDe or Apache Hive JSON SerDe.'),
  openX: z.object({
    caseInsensitive: z.boolean().default(true).describe('Match JSON keys to columns ignoring case.'),
    convertDotsInJsonKeysToUnderscores: z.boolean().default(false).describe('Read JSON key "a.b" as column a_b.'),
    columnToJsonKeyMappings: z.record(z.string(), z.string().min(1).max(1024)).optional().describe('Column name → JSON key, for keys that are not valid column names.'),
  }).optional().describe('OpenX JSON SerDe options.'),
  hive: z.object({
    timestampFormats: z.array(z.string().min(1).max(1024)).max(100).optional().describe("Joda-Time patterns for timestamp strings (letters y M d H m s S Z), or 'millis' for epoch milliseconds."),
  }).optional().describe('Hive JSON SerDe options.'),
  compression: z.enum(['SNAPPY', 'GZIP', 'UNCOMPRESSED']).default('SNAPPY').describe('Compression of the Parquet pages.'),
  blockSizeBytes: z.number().int().min(64 * 1024 * 1024).max(2147483647).default(256 * 1024 * 1024).describe('Row group size the writer aims at, in bytes.'),
  pageSizeBytes: z.number().int().min(64 * 1024).max(2147483647).default(1024 * 1024).describe('Page size, in bytes.'),
  enableDictionaryCompression: z.boolean().default(true).describe('Dictionary-encode columns where it pays.'),
}).meta(cel(
  { rule: "self.deserializer == 'Hive' || !has(self.hive)", message: 'hive options need deserializer Hive' },
  { rule: "self.deserializer == 'OpenX' || !has(self.openX)", message: 'openX options need deserializer OpenX' },
  { rule: 'has(self.schema) != has(self.catalogTable)', message: 'exactly one of parquet.schema (inline columns) and parquet.catalogTable (a Glue catalog table) is required' },
));

export const S3Destination = z.object({
  endpoint: HttpUrl().optional().describe('S3 endpoint URL (e.g. a MinIO service); unset: AWS S3 for the region.'),
  region: z.string().min(1).max(64).default('us-east-1').describe('S3 region.'),
  bucket: z.string().min(3).max(63).regex(/^[a-z0-9][a-z0-9.-]*[a-z0-9]$/).describe('Bucket name.'),
  prefix: z.string().max(1024).optional().describe('Key prefix for delivered objects (supports !{timestamp:yyyy/MM/dd/HH}).'),
  errorOutputPrefix: z.string().max(1024).default('errors/').describe('Key prefix for records that failed processing or delivery.'),
  compression: z.enum(['UNCOMPRESSED', 'GZIP', 'ZIP', 'Snappy', 'HADOOP_SNAPPY']).default('UNCOMPRESSED')
    .describe('Compression of delivered objects.'),
  format: z.enum(['RAW', 'JSON_LINES', 'PARQUET']).default('RAW')
    .describe('Object format: RAW (records concatenated), JSON_LINES, or PARQUET (records must be JSON).'),
  parquet: ParquetConversion.optional().describe('Record format conversion for format PARQUET: the schema (inline, or a Glue catalog table) and the Parquet writer options.'),
  forcePathStyle: z.boolean().default(true).describe('Use path-style bucket addressing (needed by most S3-compatible stores).'),
  credentialsSecretRef: objectName().optional()
    .describe('Secret with keys AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY; unset: the pod\'s ambient credentials.'),
}).meta(cel(
  { rule: "self.format != 'PARQUET' || has(self.parquet)", message: 'format PARQUET needs s3.parquet (the schema)' },
  { rule: "self.format != 'PARQUET' || self.compression == 'UNCOMPRESSED'", message: 'format PARQUET needs compression UNCOMPRESSED (Parquet compresses its pages: s3.parquet.compression)' },
));

/** Firehose's processing chain, in its order: de-aggregation → transform → dynamic partitioning → delimiter. */
export const Processing = z.object({
  deAggregation: z.object({
    subRecordType: z.enum(['JSON', 'DELIMITED']).default('JSON').describe('JSON: records hold concatenated JSON objects. DELIMITED: records hold sub-records separated by delimiter.'),
    delimiter: z.string().min(1).max(64).optional().describe('The sub-record delimiter (plain text, e.g. "|"); required for DELIMITED.'),
  }).optional().describe('Split each record into the records it aggregates (Firehose RecordDeAggregation, at most 500 per record).'),
  transform: z.object({
    functionUrl: HttpUrl().describe('Transform function URL, called with batches of records in the Firehose (Lambda) data-transformation format.'),
    timeoutSeconds: z.number().int().min(1).max(900).default(60).describe('Timeout of one transform call, in seconds.'),
    numberOfRetries: z.number().int().min(0).max(300).default(3).describe('Retries of a failed transform call before its records go to the error prefix.'),
    bufferSizeMiB: z.number().min(0.2).max(3).default(1).describe('At most this many MiB of records per transform call.'),
    bufferIntervalSeconds: z.number().int().min(60).max(900).default(60).describe('Firehose BufferIntervalInSeconds of the Lambda processor.'),
  }).optional().describe('Transform records with a function (Firehose Lambda processor); its results may carry partition keys.'),
  dynamicPartitioning: z.object({
    partitionKeys: z.record(z.string().regex(/^[A-Za-z0-9_]{1,64}$/), z.string().min(1).max(512)).optional()
      .describe('Partition key name → jq 1.6 expression over the JSON record (Firehose MetadataExtraction), used by !{partitionKeyFromQuery:name} in s3.prefix.'),
    retrySeconds: z.number().int().min(0).max(7200).default(300).describe('Firehose RetryOptions.DurationInSeconds of dynamic partitioning.'),
  }).optional().describe('Deliver records to S3 prefixes by partition keys (from partitionKeys and/or the transform); needs buffering.sizeMiB ≥ 64 and s3.prefix with partition keys.'),
  appendDelimiter: z.boolean().default(false).describe('Append a newline to every record (Firehose AppendDelimiterToRecord).'),
}).meta(cel({ rule: "!has(self.deAggregation) || self.deAggregation.subRecordType != 'DELIMITED' || has(self.deAggregation.delimiter)", message: 'processing.deAggregation.delimiter is required for DELIMITED' }));

export const HttpEndpointDestination = z.object({
  url: HttpUrl().describe('Endpoint URL receiving Firehose HTTP endpoint delivery requests.'),
  name: z.string().min(1).max(256).optional().describe('Endpoint name (Firehose EndpointConfiguration.Name).'),
  accessKeySecretRef: SecretKeyRef.optional().describe('Secret key sent as X-Amz-Firehose-Access-Key; only this stream\'s worker pods get it.'),
  contentEncoding: z.enum(['NONE', 'GZIP']).default('NONE').describe('Request body encoding.'),
  commonAttributes: z.record(z.string().min(1).max(256), z.string().max(1024)).optional().describe('Sent with every request as X-Amz-Firehose-Common-Attributes.'),
  retrySeconds: z.number().int().min(0).max(7200).default(300).describe('How long to retry a failed request, in seconds.'),
  s3BackupMode: z.enum(['FailedDataOnly', 'AllData']).default('FailedDataOnly').describe('What also goes to spec.s3 (the backup bucket, required with http): failed records only, or all.'),
});

export const DeliveryStreamSpec = z.object({
  source: DeliverySource.describe('Where records come from. Immutable.'),
  buffering: BufferingHints.prefault({}).describe('Buffering hints: deliver when either limit is reached.'),
  s3: S3Destination.optional().describe('S3 destination.'),
  processing: Processing.optional().describe('Optional processing chain before delivery (to S3, or to spec.http when set: then without dynamic partitioning, and the backup bucket gets source records): de-aggregation, transform, dynamic partitioning, delimiter.'),
  http: HttpEndpointDestination.optional().describe('HTTP endpoint destination; spec.s3 is then its backup bucket.'),
  replicas: Replicas('delivery worker', 1),
  autoscaling: workerAutoscalingField(),
}).meta(cel(
  { rule: 'has(self.s3) || has(self.http)', message: 'at least one destination (s3 or http) is required' },
  { rule: '!has(self.http) || !has(self.processing) || !has(self.processing.dynamicPartitioning)', message: 'processing.dynamicPartitioning applies to an S3 destination only (with http, s3 is the backup bucket)' },
));
export type DeliveryStreamSpec = z.infer<typeof DeliveryStreamSpec>;

export const WorkerStatus = z.object({
  observedGeneration: ObservedGeneration,
  conditions: Conditions,
  replicas: z.number().int().min(0).optional().describe('Worker pods that are ready.'),
  selector: z.string().optional().describe('Label selector of the worker pods (scale subresource).'),
  autoscaling: WorkerScalingStatus.optional().describe('spec.autoscaling: what the operator decided and why.'),
});
export type WorkerStatus = z.infer<typeof WorkerStatus>;

export const DeliveryProgress = z.object({
  deliveredRecords: z.number().int().min(0).describe('Records delivered to S3 since the delivery stream was created (all workers).'),
  lastDeliveryTime: z.string().optional().describe('When the last object was delivered (RFC 3339).'),
  dataFreshnessSeconds: z.number().int().min(0).describe('Age of the oldest record not yet delivered (Firehose DeliveryToS3.DataFreshness); 0 when none is pending.'),
  failures: z.record(z.string(), z.number().int().min(0)).optional().describe('Failures by kind: S3 error codes (puts are retried) and error-output types (records written to the error prefix).'),
  destinationError: z.string().optional().describe('Why the destination is failing now (the last failed put), until a put succeeds.'),
});

export const DeliveryStreamStatus = WorkerStatus.extend({
  delivery: DeliveryProgress.optional().describe('Delivery progress reported by the workers.'),
});
export type DeliveryStreamStatus = z.infer<typeof DeliveryStreamStatus>;

export interface DeliveryStream {
  apiVersion: 'shardline.dev/v1alpha1';
  kind: 'DeliveryStream';
  metadata: ObjectMeta;
  spec: DeliveryStreamSpec;
  status?: DeliveryStreamStatus;
}
