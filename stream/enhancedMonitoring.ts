// Enhanced (shard-level) monitoring: which of the seven shard-level metrics a
// stream has enabled (EnableEnhancedMonitoring / DisableEnhancedMonitoring).
// The stream record keeps the expanded set, never "ALL".
import type { StreamRecord } from './streamRecord.js';

/** The shard-level metrics in the order Kinesis lists them. */
export const SHARD_LEVEL_METRICS = [
  'IncomingBytes',
  'IncomingRecords',
  'OutgoingBytes',
  'OutgoingRecords',
  'WriteProvisionedThroughputExceeded',
  'ReadProvisionedThroughputExceeded',
  'IteratorAgeMilliseconds',
] as const;

export type ShardLevelMetric = (typeof SHARD_LEVEL_METRICS)[number];

/** A request's metric list with ALL expanded, in canonical order, no duplicates. */
export function expandMetrics(names: readonly string[]): ShardLevelMetric[] {
  const all = names.includes('ALL');
  return SHARD_LEVEL_METRICS.filter((m) => all || names.includes(m));
}

/**
 * The shard-level metrics enabled for a stream: what a metrics exporter should
 * publish per shard for it (stream-level metrics are always on).
 */
export function enabledShardMetrics(record: Pick<StreamRecord, 'enhancedMonitoring'>): ReadonlySet<ShardLevelMetric> {
  return new Set(expandMetrics(record.enhancedMonitoring ?? []));
}
