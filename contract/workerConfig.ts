// The configuration file of the worker processes (`shardline delivery|analytics
// --config FILE`): written by the operator (operator/model/workers.ts) into a
// ConfigMap mounted at WORKER_CONFIG_FILE, read and validated by the worker.
// The CRD spec parts are the CRD schemas themselves (crds/), already
// defaulted; what the operator adds is resolved: which stream in the store a
// DataStream reference names and the runtime endpoint serving it.
import { z } from 'zod';
import { DeliverySource, BufferingHints, S3Destination, Processing, HttpEndpointDestination } from '../crds/schema/deliverystream.js';

/** A DataStream reference resolved by the operator. */
export const resolvedStream = z.object({
  /** The DataStream object's name. */
  name: z.string().min(1),
  /** The stream's name in the store (Kinesis StreamName). */
  streamName: z.string().min(1),
  /** The runtime Service serving it, e.g. http://orders-stream.ns.svc:4567. */
  endpoint: z.string().url(),
});
export type ResolvedStream = z.infer<typeof resolvedStream>;

export const deliveryWorkerConfig = z.object({
  deliveryStreamName: z.string().min(1),
  namespace: z.string().optional(),
  /** Absent `stream`: the DataStream is not (yet) resolvable, or the source is DirectPut. */
  source: DeliverySource.extend({ stream: resolvedStream.optional() }),
  buffering: BufferingHints,
  s3: S3Destination.optional(),
  processing: Processing.optional(),
  http: HttpEndpointDestination.optional(),
});
export type DeliveryWorkerConfig = z.infer<typeof deliveryWorkerConfig>;

// The analytics worker's file is the application model's (contract/analytics.ts): the
// definition the Kinesis Data Analytics API stores and the worker runs.
export { AnalyticsWorkerConfig as analyticsWorkerConfig } from './analytics.js';
export type { AnalyticsWorkerConfig } from './analytics.js';
