// Per-stream switch for per-shard throughput enforcement (docs/quotas-and-metrics.md).
// Absent in the record means the default: enforced for PROVISIONED streams.
// ON_DEMAND streams are never throttled per shard, whatever the switch says.
import type { Store } from './connect.js';
import { updateStream } from './streams.js';
import type { StreamRecord } from './streamRecord.js';

export const quotaEnforced = (r: StreamRecord): boolean => r.mode === 'PROVISIONED' && r.quotaEnforcement !== false;

/** Turns enforcement on or off for a stream (compare-and-set on its record). */
export async function setQuotaEnforcement(store: Store, name: string, on: boolean): Promise<StreamRecord> {
  return updateStream(store, name, (r) => (r.quotaEnforcement === on ? undefined : { ...r, quotaEnforcement: on }));
}
