// The delivery worker's configuration file (`shardline delivery --config <file>`),
// written by the operator (operator/model/workers.ts) into a ConfigMap and read
// by the worker. The delivery stream's definition itself (source, destination,
// buffering, processing) lives in the store's delivery bucket; this file says
// which one to run and how to reach the store and the object storage.
import { z } from 'zod';

export const DeliveryWorkerConfig = z.object({
  /** The delivery stream (its name in the store) this worker delivers. */
  deliveryStreamName: z.string().min(1).max(64).regex(/^[a-zA-Z0-9_.-]+$/),
  /** Namespace of the DeliveryStream resource, when the operator wrote the file. */
  namespace: z.string().optional(),
  /** NATS URL(s); default SHARDLINE_NATS_URL. */
  natsUrl: z.string().optional(),
  s3: z.object({
    /** S3 endpoint URL; default SHARDLINE_S3_ENDPOINT, then http://127.0.0.1:4569 (`make dev`'s s3rver). */
    endpoint: z.string().optional(),
    region: z.string().default('us-east-1'),
    forcePathStyle: z.boolean().default(true),
  }).loose().prefault({}),
}).loose();
export type DeliveryWorkerConfig = z.infer<typeof DeliveryWorkerConfig>;
