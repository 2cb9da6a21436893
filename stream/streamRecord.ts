// The stream record: everything the runtime knows about one Kinesis stream,
// kept as JSON under one key of the JetStream KV bucket. The KV entry is the
// source of truth; every runtime process caches it through a watch.

export type StreamStatus = 'CREATING' | 'ACTIVE' | 'UPDATING' | 'DELETING';
export type StreamMode = 'PROVISIONED' | 'ON_DEMAND';

export interface ShardRecord {
  shardId: string;
  index: number;
  parentShardId?: string;
  adjacentParentShardId?: string;
  /** Decimal strings of the 128-bit range, inclusive. */
  hashKeyRange: { startingHashKey: string; endingHashKey: string };
  startingSequenceNumber: string;
  /** Set once the shard is closed by a reshard. */
  endingSequenceNumber?: string;
  createdAtMs: number;
  closedAtMs?: number;
}

export interface StreamRecord {
  name: string;
  /** Storage id: names JetStream streams and subjects; new for every creation. */
  uid: string;
  status: StreamStatus;
  mode: StreamMode;
  createdAtMs: number;
  retentionHours: number;
  replicas: number;
  shards: ShardRecord[];
  nextShardIndex: number;
  tags: Record<string, string>;
  encryption: { type: 'NONE' | 'KMS'; keyId?: string };
  /**
   * Key ids the stream sealed records with before its current one (or before
   * encryption was stopped), each with when it stopped sealing: records they
   * sealed stay readable (stream/streamEncryption.ts keptKeyGrant) until past
   * retention. Absent: none.
   */
  keyHistory?: { keyId: string; replacedAtMs: number }[];
  enhancedMonitoring: string[];
  maxRecordSizeKiB: number;
  /** Resource-based policy (PutResourcePolicy): the JSON text as given. */
  resourcePolicy?: string;
  /** Consumers' resource policies, keyed by `<consumer name>:<creation epoch seconds>`. */
  consumerPolicies?: Record<string, string>;
  /**
   * Per-shard throughput limits (docs/quotas-and-metrics.md). Absent: enforced for
   * PROVISIONED streams; ON_DEMAND streams are never throttled per shard.
   */
  quotaEnforcement?: boolean;
  /** During a reshard (status UPDATING): the shards being opened and closed. */
  pendingShards?: ShardRecord[];
  pendingParents?: string[];
  /** Enhanced fan-out consumers (absent in records written before they existed). */
  consumers?: ConsumerRecord[];
  /** ON_DEMAND scaling bounds and mode (stream/autoscaling.ts); absent: the store-wide defaults. */
  autoscaling?: AutoscalingSettings;
}

/** What the owner of a stream (a DataStream resource, or nobody for API-created streams) asks of the autoscaler. */
export interface AutoscalingSettings {
  minShards?: number;
  maxShards?: number;
  /** Record decisions without acting on them. */
  dryRun?: boolean;
  /** Calm history needed before scaling down, and time since the last change. */
  scaleDownStabilizationSeconds?: number;
}

export type ConsumerStatus = 'CREATING' | 'ACTIVE' | 'DELETING';

/** A registered stream consumer; its ARN ends in the creation time in epoch seconds. */
export interface ConsumerRecord {
  name: string;
  createdAtMs: number;
  /** As written; CREATING/DELETING end `consumerTransitionMs` after `statusAtMs` (stream/consumers.ts). */
  status: ConsumerStatus;
  statusAtMs: number;
  tags?: Record<string, string>;
}

export interface StreamSettings {
  name: string;
  shardCount: number;
  mode: StreamMode;
  retentionHours: number;
  replicas: 1 | 3;
  tags?: Record<string, string>;
  /** CreateStream's MaxRecordSizeInKiB (default 1024). */
  maxRecordSizeKiB?: number;
  /** What the owner asks of the autoscaler, in the record from the start (no window where the store-wide defaults apply). */
  autoscaling?: AutoscalingSettings;
}

export const DEFAULT_RETENTION_HOURS = 24;
export const DEFAULT_MAX_RECORD_SIZE_KIB = 1024;
export const ON_DEMAND_INITIAL_SHARDS = 4;

export const openShards = (s: StreamRecord) => s.shards.filter((x) => x.endingSequenceNumber === undefined);
