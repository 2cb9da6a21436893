// What `shardline delivery --config <file>` accepts: the file the operator
// writes for a DeliveryStream resource (deliveryWorkerConfig, workerConfig.ts),
// or a standalone one naming a delivery stream created through the Firehose
// API. Either way the worker then follows the definition in the store; the
// file only says which stream and how to reach NATS and the object storage.
import { z } from 'zod';
import { deliveryWorkerConfig } from './workerConfig.js';

export const standaloneDeliveryConfig = z.object({
  deliveryStreamName: z.string().min(1).max(64).regex(/^[a-zA-Z0-9_.-]+$/),
  /** NATS URL(s); default ENV.natsUrl. */
  natsUrl: z.string().optional(),
  s3: z.object({
    /** S3 endpoint URL; default ENV.s3Endpoint, then http://127.0.0.1:4569 (`make dev`'s s3rver). */
    endpoint: z.string().url().optional(),
    region: z.string().default('us-east-1'),
    forcePathStyle: z.boolean().default(true),
  }).prefault({}),
  /** Transform functions: Lambda ARN → http(s) URL speaking the Lambda invocation contract. */
  functions: z.record(z.string(), z.string().url()).default({}),
  /** How long one transform invocation may take (the Lambda's timeout). */
  functionTimeoutMs: z.number().int().min(1000).max(900_000).default(60_000),
});

/** The worker's view of either file. */
export interface DeliveryRunConfig {
  deliveryStreamName: string;
  /** Set for a DeliveryStream resource's worker. */
  namespace?: string;
  natsUrl?: string;
  s3: { endpoint?: string; region: string; forcePathStyle: boolean };
  functions: Record<string, string>;
  functionTimeoutMs: number;
  /**
   * The HTTP endpoint's access key comes from the environment (SHARDLINE_HTTP_ACCESS_KEY, the
   * operator's secretKeyRef), not from the definition in the store, which every NATS client can read.
   */
  httpAccessKeyFromEnv?: boolean;
}

export function parseDeliveryConfig(json: unknown): DeliveryRunConfig {
  const resource = deliveryWorkerConfig.safeParse(json);
  if (resource.success) {
    const c = resource.data;
    const functions: Record<string, string> = {};
    const t = c.processing?.transform;
    if (t) functions[t.functionUrl] = t.functionUrl;
    return {
      deliveryStreamName: c.deliveryStreamName, namespace: c.namespace,
      s3: { endpoint: c.s3?.endpoint, region: c.s3?.region ?? 'us-east-1', forcePathStyle: c.s3?.forcePathStyle ?? true }, functions,
      functionTimeoutMs: (t?.timeoutSeconds ?? 60) * 1000,
      httpAccessKeyFromEnv: c.http?.accessKeySecretRef !== undefined,
    };
  }
  return standaloneDeliveryConfig.parse(json);
}

/**
 * The consumer group (the consumer library's applicationName) a delivery
 * stream's workers form over its source: the operator reads its lag to scale them.
 */
export const deliveryConsumerGroup = (uid: string) => `firehose-${uid}`;
