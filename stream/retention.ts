// Retention: how long records stay readable. The one computation of the
// retention horizon; readers, shard listing and the closed-shard janitor all
// use it.
import type { StreamRecord } from './streamRecord.js';
import { ENV, envNumber } from '../contract/env.js';

/** Wall-clock milliseconds in one retention "hour": 3,600,000 except in tests (SHARDLINE_HOUR_MS). */
export const hourMs = () => envNumber(process.env, ENV.hourMs, 3_600_000);

/** The stream's retention period in milliseconds (its shards' JetStream max_age). */
export function retentionMs(stream: Pick<StreamRecord, 'retentionHours'>): number {
  return stream.retentionHours * hourMs();
}

/** The oldest arrival time still readable: records that arrived before it are past the stream's retention. */
export function retentionHorizonMs(stream: Pick<StreamRecord, 'retentionHours'>, nowMs = Date.now()): number {
  return nowMs - retentionMs(stream);
}
