// AnalyticsApp: continuous SQL over DataStreams (Kinesis Data Analytics style),
// run by an analytics worker Deployment.
import { z } from 'zod';
import { HttpUrl, LocalObjectRef, Replicas, cel, type ObjectMeta } from './common.js';
import { WorkerStatus } from './deliverystream.js';
import { workerAutoscalingField } from './workerAutoscaling.js';

const SqlName = () => z.string().min(1).max(128).regex(/^[A-Za-z_][A-Za-z0-9_]*$/);

export const ColumnMapping = z.object({
  name: SqlName().describe('SQL column name.'),
  sqlType: z.string().min(1).max(64).describe('SQL type, e.g. VARCHAR(64), INTEGER, DOUBLE, TIMESTAMP.'),
  mapping: z.string().max(512).optional().describe('JSONPath (JSON) or 1-based column index (CSV) of the value; default $.<name>.'),
});

export const AnalyticsInput = z.object({
  name: SqlName().describe('In-application stream name, e.g. SOURCE_SQL_STREAM_001.'),
  dataStreamRef: LocalObjectRef.optional().describe('The DataStream to read.'),
  deliveryStreamRef: LocalObjectRef.optional().describe('The DeliveryStream whose records to read (KDA KinesisFirehoseInput): what producers put into a DirectPut one, or its source DataStream\'s records.'),
  format: z.enum(['JSON', 'CSV']).default('JSON').describe('Record format.'),
  startingPosition: z.enum(['LATEST', 'TRIM_HORIZON']).default('LATEST').describe('Where a new application starts reading.'),
  parallelism: z.number().int().min(1).max(64).default(1).describe('In-application streams for this input (KDA InputParallelism): <prefix>_001 … <prefix>_00n, the shards dealt out by index.'),
  columns: z.array(ColumnMapping).min(1).max(1000).describe('Mapping of record fields to SQL columns.'),
  watermark: z.object({
    column: SqlName().describe('The TIMESTAMP column holding each row\'s event time.'),
    delaySeconds: z.number().min(0).max(86400).default(0).describe('Allowed lateness: a window closes once the event time seen passes its end by this much; later rows go to error_stream.'),
  }).optional().describe('Event time for window table functions over this input (TUMBLE/HOP/CUMULATE/SESSION with DESCRIPTOR(column)).'),
}).meta(cel({
  rule: '[has(self.dataStreamRef), has(self.deliveryStreamRef)].filter(x, x).size() == 1',
  message: 'exactly one of dataStreamRef or deliveryStreamRef',
}));

/**
 * KDA's LambdaOutput: batches of rows POSTed as {invocationId, applicationArn,
 * records: [{recordId, lambdaDeliveryRecordMetadata, data (base64 row)}]},
 * records answered DeliveryFailed sent again. The function is reached at its
 * URL; the ARN is only what the application's description shows.
 */
export const LambdaOutput = z.object({
  functionUrl: HttpUrl().describe('URL of the function (an HTTP server speaking the Kinesis Data Analytics Lambda output contract).'),
  functionArn: z.string().max(2048).regex(/^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:[A-Za-z0-9_-]{1,64}(:(\$LATEST|[A-Za-z0-9_-]{1,128}))?$/).optional()
    .describe('Lambda ARN the application description shows as LambdaOutput.ResourceARN; default the URL.'),
});

export const AnalyticsOutput = z.object({
  name: SqlName().describe('In-application stream whose rows are emitted, e.g. DESTINATION_SQL_STREAM.'),
  dataStreamRef: LocalObjectRef.optional().describe('Write rows to this DataStream.'),
  deliveryStreamRef: LocalObjectRef.optional().describe('Write rows to this DeliveryStream.'),
  http: z.object({ url: HttpUrl().describe('URL rows are POSTed to: a JSON array of row objects (format JSON) or the CSV lines as text/csv (format CSV).') }).optional().describe('POST rows to an HTTP endpoint.'),
  lambda: LambdaOutput.optional().describe('Deliver rows to a function speaking the Kinesis Data Analytics Lambda output contract (KDA LambdaOutput).'),
  format: z.enum(['JSON', 'CSV']).default('JSON').describe('Row format.'),
}).meta(cel({
  rule: '[has(self.dataStreamRef), has(self.deliveryStreamRef), has(self.http), has(self.lambda)].filter(x, x).size() == 1',
  message: 'exactly one of dataStreamRef, deliveryStreamRef, http or lambda',
}));

export const AnalyticsAppSpec = z.object({
  inputs: z.array(AnalyticsInput).min(1).max(16).describe('Streams read by the application.'),
  sql: z.string().min(1).max(102400).describe('Application SQL (CREATE STREAM / CREATE PUMP ... statements).'),
  outputs: z.array(AnalyticsOutput).max(16).default([]).describe('Where in-application streams are written.'),
  replicas: Replicas('analytics worker', 1),
  autoscaling: workerAutoscalingField(),
});
export type AnalyticsAppSpec = z.infer<typeof AnalyticsAppSpec>;

export const AnalyticsAppStatus = WorkerStatus;
export type AnalyticsAppStatus = WorkerStatus;

export interface AnalyticsApp {
  apiVersion: 'shardline.dev/v1alpha1';
  kind: 'AnalyticsApp';
  metadata: ObjectMeta;
  spec: AnalyticsAppSpec;
  status?: AnalyticsAppStatus;
}
