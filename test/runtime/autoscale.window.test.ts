// The autoscaler's metrics window: per-process messages folded into one-second
// buckets, and the views the decision function reads. Pure (a fake clock, no
// NATS): the regression is a window whose newest samples fell outside the
// decision's up window, so a stream under 16× load read as idle.
import type { NatsConnection } from 'nats';
import { MetricsWindow } from '../../runtime/autoscale/window.js';
import { decide, DEFAULT_POLICY } from '../../runtime/autoscale/decide.js';
import type { ShardMetricsMessage } from '../../stream/shardMetrics.js';
import type { StreamRecord } from '../../stream/streamRecord.js';

const MAX = ((1n << 128n) - 1n).toString();
const rec = (createdAtMs: number): StreamRecord => ({
  name: 's', uid: 'u1', status: 'ACTIVE', mode: 'ON_DEMAND', createdAtMs, retentionHours: 24, replicas: 1, nextShardIndex: 1,
  shards: [{ shardId: 'shardId-000000000000', index: 0, hashKeyRange: { startingHashKey: '0', endingHashKey: MAX }, startingSequenceNumber: '0', createdAtMs }],
  tags: {}, encryption: { type: 'NONE' }, enhancedMonitoring: [], maxRecordSizeKiB: 1024,
});
const zero = { incomingBytes: 0, incomingRecords: 0, writeProvisionedThroughputExceeded: 0, readProvisionedThroughputExceeded: 0, outgoingBytes: 0, outgoingRecords: 0, getRecords: 0 };
const msg = (proc: string, atMs: number, records: number, keys?: [string, number][]): ShardMetricsMessage => ({
  proc, stream: 's', uid: 'u1', atMs, intervalMs: 1000,
  shards: [{ shardId: 'shardId-000000000000', totals: zero, rates: { ...zero, incomingRecords: records, incomingBytes: records * 100 }, iteratorAgeMs: 0, ...(keys ? { keys, keyWeight: keys.reduce((a, [, w]) => a + w, 0) } : {}) }],
});

test('two processes publishing each second add up per second; the newest complete seconds are inside the up window', () => {
  let now = 1_000_000_000_000;
  const w = new MetricsWindow(undefined as unknown as NatsConnection, 60_000, () => now);
  const r = rec(now - 5000);
  for (let i = 0; i < 20; i++) {
    now += 1000;
    // Process a publishes just after the second starts, b late in it: both land in the second they cover.
    w.add(msg('a', now + 20, 8000));
    w.add(msg('b', now + 900, 8000));
  }
  now += 950;
  const [v] = w.views(r, 3000);
  const last = v!.samples.at(-1)!;
  expect(last.atMs).toBe(w.asOfMs(now) - 1000);
  expect(v!.samples.slice(-5).map((s) => s.recordsIn)).toEqual([16000, 16000, 16000, 16000, 16000]);
  const d = decide({ nowMs: w.asOfMs(now), shards: [v!], policy: { ...DEFAULT_POLICY, upWindowMs: 2000, minShards: 1, maxShards: 8, shardLimitLeft: 100 } });
  expect(d.metrics.upUtilization['shardId-000000000000']).toBeCloseTo(16, 5);
  expect(d.action.kind).toBe('split');
});

test('a second nobody reported is a second without load; sampled keys of the up window are merged', () => {
  let now = 2_000_000_000_000;
  const w = new MetricsWindow(undefined as unknown as NatsConnection, 60_000, () => now);
  const r = rec(now);
  now += 1000;
  w.add(msg('a', now + 10, 500, [['00'.repeat(16), 3], ['ff'.repeat(16), 1]]));
  now += 1000;
  w.add(msg('a', now + 10, 500, [['00'.repeat(16), 1]]));
  now += 5000;
  const [v] = w.views(r, 10_000);
  expect(v!.samples.map((s) => s.recordsIn)).toEqual([0, 500, 500, 0, 0, 0]); // from the second the stream was made
  expect(v!.keys).toEqual(expect.arrayContaining([{ hashKey: 0n, weight: 4 }, { hashKey: (1n << 128n) - 1n, weight: 1 }]));
  expect(v!.keysTotalWeight).toBe(5);
});
