// DataStream: one Kinesis-style stream (a set of ordered shards) backed by
// JetStream, served by the install's shared runtime or a dedicated one.
import { z } from 'zod';
import { Conditions, ObservedGeneration, SecretKeyRef, Tags, cel, immutable, objectName, type ObjectMeta } from './common.js';

export const STREAM_NAME_PATTERN = /^[a-zA-Z0-9_.-]+$/;

export const StreamMode = z.enum(['PROVISIONED', 'ON_DEMAND']);
export type StreamMode = z.infer<typeof StreamMode>;

export const MAX_SHARDS = 1024;

export const OnDemandScaling = z.object({
  minShards: z.number().int().min(1).max(MAX_SHARDS).default(1)
    .describe('ON_DEMAND: the stream never has fewer open shards than this.'),
  maxShards: z.number().int().min(1).max(MAX_SHARDS).default(64)
    .describe('ON_DEMAND: the stream never has more open shards than this.'),
  scaleDownStabilizationSeconds: z.number().int().min(0).max(86400).default(300)
    .describe('ON_DEMAND: calm time (no load that needs the shards, and no reshard) before shards are merged.'),
  dryRun: z.boolean().default(false)
    .describe('ON_DEMAND: record scaling decisions in status and Events without acting on them.'),
}).meta(cel({ rule: 'self.minShards <= self.maxShards', message: 'minShards must not exceed maxShards' }));

export const EfoConsumer = z.object({
  name: z.string().min(1).max(128).regex(STREAM_NAME_PATTERN)
    .describe('Consumer name, as passed to RegisterStreamConsumer.'),
});

export const DataStreamSpec = z.object({
  streamName: z.string().min(1).max(128).regex(STREAM_NAME_PATTERN).optional()
    .describe('Stream name seen by Kinesis clients; defaults to metadata.name. Unique per NATS store. Immutable.')
    .meta(cel(immutable('streamName'))),
  mode: StreamMode.default('PROVISIONED')
    .describe('Capacity mode: PROVISIONED (fixed spec.shards) or ON_DEMAND (scales between onDemand.minShards and maxShards).'),
  shards: z.number().int().min(1).max(MAX_SHARDS).default(1)
    .describe('PROVISIONED: the number of open shards. ON_DEMAND: the initial number, within onDemand bounds. Changing it reshards.'),
  onDemand: OnDemandScaling.prefault({})
    .describe('Shard bounds for ON_DEMAND mode.'),
  retentionHours: z.number().int().min(24).max(8760).default(24)
    .describe('How long records stay readable, in hours (24 to 8760).'),
  replicas: z.union([z.literal(1), z.literal(3)]).default(3)
    .describe('JetStream replicas of every shard stream: 1 (R1) or 3 (R3, needs a 3-server NATS cluster). Immutable.')
    .meta(cel(immutable('replicas'))),
  enforceQuotas: z.boolean().default(true)
    .describe('Enforce Kinesis per-shard write/read quotas (1 MiB/s and 1000 records/s in, 2 MiB/s out).'),
  consumers: z.array(EfoConsumer).max(20).optional()
    .describe('Enhanced fan-out consumers registered on the stream (at most 20).')
    .meta({ 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['name'] }),
  encryption: z.object({
    keySecretRef: SecretKeyRef.describe('Secret key holding the record encryption key: the base64 of 32 random bytes (`openssl rand -base64 32`). The stream\'s KMS key id is `<Secret name>_<key>` (shortened with a hash beyond 128 characters).'),
  }).optional().describe('Server-side encryption of record payloads (StartStreamEncryption with KeyId `<Secret name>_<key>`). Unset: records written from then on are stored unencrypted.'),
  auth: z.object({
    credentialsSecretRef: objectName()
      .describe('Secret whose keys are access key ids and whose values are their secret access keys. The runtime then accepts only requests signed (AWS Signature Version 4) with one of them; the Secret is re-read when it changes.'),
  }).optional().describe('Authentication of Kinesis API requests. Unset: requests are not authenticated.'),
  tls: z.object({
    certificateSecretRef: objectName()
      .describe('Secret of type kubernetes.io/tls (keys tls.crt and tls.key), e.g. one a cert-manager Certificate issues. The runtime then serves HTTPS only (h2 and HTTP/1.1 by ALPN) and loads a renewed certificate without a restart.'),
  }).optional().describe('HTTPS on the Kinesis endpoint. Unset: plain HTTP (HTTP/1.1 and h2c).'),
  tags: Tags,
  deletionPolicy: z.enum(['Delete', 'Retain']).default('Delete')
    .describe('What happens to the JetStream data when the DataStream is deleted: Delete removes it, Retain keeps it.'),
  runtime: z.object({
    dedicated: z.boolean().default(false)
      .describe('false: the stream is served by the install\'s one shared Kinesis endpoint (Service `shardline` in the operator\'s namespace, autoscaled). true: by a runtime Deployment and Service of its own, `<name>-stream` in this namespace. A stream with spec.encryption or spec.auth always gets its own (its Secrets are mounted into the pods).'),
    replicas: z.number().int().min(1).max(50).default(2)
      .describe('Dedicated runtime only: number of runtime pods serving the Kinesis API for this stream.'),
  }).prefault({}).describe('Which runtime serves this stream\'s Kinesis API.'),
}).meta(cel({
  rule: "self.mode != 'ON_DEMAND' || (self.shards >= self.onDemand.minShards && self.shards <= self.onDemand.maxShards)",
  message: 'ON_DEMAND: shards must lie within onDemand.minShards..maxShards',
}));
export type DataStreamSpec = z.infer<typeof DataStreamSpec>;

export const ShardSummary = z.object({
  shardId: z.string().describe('Kinesis shard id, e.g. shardId-000000000000.'),
  startingHashKey: z.string().describe('First hash key of the shard (decimal 128-bit).'),
  endingHashKey: z.string().describe('Last hash key of the shard (decimal 128-bit).'),
});

export const ScalingDecision = z.object({
  time: z.string().describe('When it was decided (RFC 3339).'),
  action: z.string().describe('none, updateShardCount, split or merge.'),
  fromShards: z.number().int().describe('Open shards before.'),
  toShards: z.number().int().describe('Open shards after (the same when not applied).'),
  outcome: z.string().describe('applied, dry-run, or failed: <message>.'),
  reason: z.string().describe('Why, in words.'),
  values: z.string().describe('The metric values that drove it (JSON): utilization per shard over the up window and the stabilization window, needed shards.'),
});

export const DataStreamStatus = z.object({
  observedGeneration: ObservedGeneration,
  conditions: Conditions,
  streamName: z.string().optional().describe('Name of the stream in the store.'),
  streamStatus: z.string().optional().describe('Stream status reported by the store (CREATING, ACTIVE, UPDATING, DELETING).'),
  mode: z.string().optional().describe('Capacity mode in effect.'),
  shardCount: z.number().int().min(0).optional().describe('Number of open shards.'),
  shards: z.array(ShardSummary).optional().describe('Open shards (first 64).'),
  retentionHours: z.number().int().optional().describe('Retention in effect, in hours.'),
  endpoint: z.string().optional().describe('In-cluster Kinesis API endpoint serving the stream (the shared one, or its dedicated runtime\'s).'),
  readyReplicas: z.number().int().min(0).optional().describe('Dedicated runtime pods that are ready.'),
  selector: z.string().optional().describe('Label selector of the pods serving the stream (scale subresource).'),
  autoscaling: z.object({
    lastDecision: ScalingDecision.optional().describe('The newest decision.'),
    recentDecisions: z.array(ScalingDecision).max(10).optional().describe('The last decisions, newest last.'),
    hotKeys: z.array(z.object({
      shardId: z.string().describe('The shard the key routes to.'),
      hashKey: z.string().describe('128-bit hash of the partition key (decimal), as Kinesis routes it.'),
      share: z.number().describe('Share of the shard\'s sampled traffic.'),
      utilization: z.number().describe('Capacity of one shard this key alone needs (above 1: no split can help).'),
    })).optional().describe('Partition keys that alone exceed one shard\'s capacity.'),
  }).optional().describe('ON_DEMAND: what the store\'s autoscaler decided for this stream.'),
});
export type DataStreamStatus = z.infer<typeof DataStreamStatus>;

export interface DataStream {
  apiVersion: 'shardline.dev/v1alpha1';
  kind: 'DataStream';
  metadata: ObjectMeta;
  spec: DataStreamSpec;
  status?: DataStreamStatus;
}
