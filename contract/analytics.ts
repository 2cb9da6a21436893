// The analytics application model: one definition shared by the Kinesis Data
// Analytics API (stored in JetStream KV), the AnalyticsApp resource (the
// operator writes it into the worker's config file) and `shardline analytics`.
import { z } from 'zod';

export const RecordColumn = z.object({
  name: z.string().min(1).max(128),
  sqlType: z.string().min(1).max(100),
  /** JSONPath ($.a.b, $.a[0]) for JSON; ignored for CSV (columns are positional). */
  mapping: z.string().max(65535).optional(),
});
export type RecordColumn = z.infer<typeof RecordColumn>;

export const RecordFormat = z.discriminatedUnion('type', [
  z.object({ type: z.literal('JSON'), rowPath: z.string().min(1).max(65535).default('$') }),
  z.object({ type: z.literal('CSV'), rowDelimiter: z.string().min(1).default('\n'), columnDelimiter: z.string().min(1).default(',') }),
]);
export type RecordFormat = z.infer<typeof RecordFormat>;

export const InputDef = z.object({
  id: z.string().min(1).max(50),
  /** In-application stream names are NamePrefix_001 … NamePrefix_00n. */
  namePrefix: z.string().min(1).max(32),
  /** The in-application stream's name when it is not NamePrefix_001 (AnalyticsApp inputs name it directly). */
  inAppName: z.string().min(1).max(128).optional(),
  parallelism: z.number().int().min(1).max(64).default(1),
  source: z.object({ kind: z.enum(['stream', 'firehose']), name: z.string().min(1).max(128) }),
  format: RecordFormat,
  encoding: z.literal('UTF-8').default('UTF-8'),
  columns: z.array(RecordColumn).min(1).max(1000),
  /** Event time for window table functions: column and allowed lateness. */
  watermark: z.object({ column: z.string().min(1), delaySeconds: z.number().min(0).default(0) }).optional(),
});
export type InputDef = z.infer<typeof InputDef>;

export const OutputDef = z.object({
  id: z.string().min(1).max(50),
  /** In-application stream whose rows are emitted (or error_stream). */
  name: z.string().min(1).max(32),
  destination: z.discriminatedUnion('kind', [
    z.object({ kind: z.literal('stream'), name: z.string().min(1).max(128) }),
    z.object({ kind: z.literal('firehose'), name: z.string().min(1).max(64) }),
    z.object({ kind: z.literal('lambda'), arn: z.string().min(1).max(2048) }),
    z.object({ kind: z.literal('http'), url: z.string().regex(/^https?:\/\/.+/) }),
  ]),
  format: z.enum(['JSON', 'CSV']).default('JSON'),
});
export type OutputDef = z.infer<typeof OutputDef>;

export const ReferenceDef = z.object({
  id: z.string().min(1).max(50),
  tableName: z.string().min(1).max(32),
  s3: z.object({ bucket: z.string().min(1), key: z.string().min(1), roleArn: z.string().optional() }),
  format: RecordFormat,
  encoding: z.literal('UTF-8').default('UTF-8'),
  columns: z.array(RecordColumn).min(1).max(1000),
});
export type ReferenceDef = z.infer<typeof ReferenceDef>;

export const ApplicationDefinition = z.object({
  name: z.string().min(1).max(128),
  code: z.string().max(102400).default(''),
  // The Kinesis Analytics API allows one input (it enforces that); AnalyticsApp resources up to 16.
  inputs: z.array(InputDef).max(16).default([]),
  outputs: z.array(OutputDef).max(3).default([]),
  references: z.array(ReferenceDef).max(1).default([]),
});
export type ApplicationDefinition = z.infer<typeof ApplicationDefinition>;

/** `shardline analytics --config <file>`. */
export const AnalyticsWorkerConfig = z.object({
  applicationName: z.string().min(1).max(128),
  namespace: z.string().optional(),
  /** NATS servers; default SHARDLINE_NATS_URL. */
  natsUrl: z.string().optional(),
  /** The definition inline (AnalyticsApp); absent: read from the application store (API-created applications). */
  application: ApplicationDefinition.optional(),
  /** Where a new application starts reading each input when it has no checkpoint. */
  startingPosition: z.enum(['NOW', 'TRIM_HORIZON']).default('NOW'),
  /** Checkpoint at least this often (window closes checkpoint too). */
  checkpointIntervalMs: z.number().int().min(100).default(5000),
  /** A caught-up shard's ROWTIME watermark trails the wall clock by this much (appends in flight). */
  idleWatermarkLagMs: z.number().int().min(0).default(1000),
  /** One replica runs the application; others take over this long after it stops renewing. */
  leaseMs: z.number().int().min(300).default(10000),
  /** S3 endpoint for reference data (MinIO); credentials from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY. */
  s3Endpoint: z.string().optional(),
  /** LambdaOutput functions: Lambda ARN → http(s) URL speaking KDA's Lambda output contract (an output may also name a URL directly). */
  functions: z.record(z.string(), z.string().regex(/^https?:\/\/.+/)).optional(),
  /** How long one Lambda output invocation may take. */
  functionTimeoutMs: z.number().int().min(1000).max(900_000).optional(),
});
export type AnalyticsWorkerConfig = z.infer<typeof AnalyticsWorkerConfig>;

/** In-application stream name of an input's first parallel stream (NamePrefix_001). */
export const inAppStreamName = (i: Pick<InputDef, 'namePrefix' | 'inAppName'>, n = 1) =>
  i.inAppName !== undefined && n === 1 ? i.inAppName : `${i.namePrefix}_${String(n).padStart(3, '0')}`;

/** Every in-application stream of an input: InputParallelism n gives NamePrefix_001 … NamePrefix_00n. */
export const inAppStreamNames = (i: Pick<InputDef, 'namePrefix' | 'inAppName' | 'parallelism'>) =>
  Array.from({ length: i.parallelism }, (_, k) => inAppStreamName(i, k + 1));

/**
 * The consumer group (the consumer library's applicationName) an application's
 * workers form over one input: the operator reads its lag to scale them. An
 * API-created application's run (its record's runId: a new one per fresh
 * StartApplication) has a group of its own, so leases and their positions of
 * an earlier run are never taken over by a new one ('#' is in no application
 * name or input id).
 */
export const analyticsConsumerGroup = (application: string, inputId: string, runId?: string) => `analytics.${application}.${inputId}${runId ? `#${runId}` : ''}`;
