// Shapes of stream and shard descriptions as the Kinesis API returns them.
import type { ShardRecord, StreamRecord } from '../../../stream/streamRecord.js';
import { openShards } from '../../../stream/streamRecord.js';
import { liveConsumers } from '../../../stream/consumers.js';
import { retentionHorizonMs } from '../../../stream/retention.js';
import { streamArn, type ApiContext } from '../context.js';

export function shardShape(s: ShardRecord): Record<string, unknown> {
  return {
    ShardId: s.shardId,
    ParentShardId: s.parentShardId,
    AdjacentParentShardId: s.adjacentParentShardId,
    HashKeyRange: { StartingHashKey: s.hashKeyRange.startingHashKey, EndingHashKey: s.hashKeyRange.endingHashKey },
    SequenceNumberRange: { StartingSequenceNumber: s.startingSequenceNumber, EndingSequenceNumber: s.endingSequenceNumber },
  };
}

export function streamSummaryShape(ctx: ApiContext, r: StreamRecord): Record<string, unknown> {
  return {
    StreamName: r.name,
    StreamARN: streamArn(ctx, r.name),
    StreamStatus: r.status,
    StreamModeDetails: { StreamMode: r.mode },
    RetentionPeriodHours: r.retentionHours,
    StreamCreationTimestamp: new Date(r.createdAtMs),
    EnhancedMonitoring: [{ ShardLevelMetrics: r.enhancedMonitoring }],
    EncryptionType: r.encryption.type,
    KeyId: r.encryption.keyId,
    OpenShardCount: openShards(r).length,
    MaxRecordSizeInKiB: r.maxRecordSizeKiB,
    ConsumerCount: liveConsumers(r, Date.now(), ctx.config.consumerTransitionMs).length,
  };
}

/** Shards still visible: open ones and closed ones whose data is within retention. */
export function visibleShards(r: StreamRecord, nowMs: number): ShardRecord[] {
  const horizon = retentionHorizonMs(r, nowMs);
  return r.shards.filter((s) => s.closedAtMs === undefined || s.closedAtMs >= horizon);
}
