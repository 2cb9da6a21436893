// Per-shard metrics on NATS, for the operator's autoscaler. Every runtime
// process publishes, once a second, one core-NATS message per stream it served
// in the last minute on `shardline.metrics.<streamUid>`: its own per-shard
// totals since it started and its rates over the last interval. A reader sums
// the latest message of each process. Nothing is stored: a reader listens for
// one publish interval (plus slack) and then answers.
import type { Store } from './connect.js';
import { getStream } from './streams.js';
import { ENV, envNumber } from '../contract/env.js';

export const METRICS_SUBJECT_PREFIX = 'shardline.metrics.';
export const metricsSubject = (uid: string) => `${METRICS_SUBJECT_PREFIX}${uid}`;
/** How often runtimes publish (ms); SHARDLINE_METRICS_PUBLISH_MS overrides. */
export const metricsPublishMs = () => envNumber(process.env, ENV.metricsPublishMs, 1000);

/** Counters one process keeps per shard (rates use the same fields, per second). */
export interface ShardCounters {
  incomingBytes: number;
  incomingRecords: number;
  /** Records refused with ProvisionedThroughputExceededException. */
  writeProvisionedThroughputExceeded: number;
  /** GetRecords calls refused with ProvisionedThroughputExceededException. */
  readProvisionedThroughputExceeded: number;
  outgoingBytes: number;
  outgoingRecords: number;
  /** Successful GetRecords calls. */
  getRecords: number;
}

export const COUNTER_NAMES: (keyof ShardCounters)[] = [
  'incomingBytes',
  'incomingRecords',
  'writeProvisionedThroughputExceeded',
  'readProvisionedThroughputExceeded',
  'outgoingBytes',
  'outgoingRecords',
  'getRecords',
];

export const zeroCounters = (): ShardCounters => ({
  incomingBytes: 0,
  incomingRecords: 0,
  writeProvisionedThroughputExceeded: 0,
  readProvisionedThroughputExceeded: 0,
  outgoingBytes: 0,
  outgoingRecords: 0,
  getRecords: 0,
});

/** One process's message on `shardline.metrics.<uid>`. */
export interface ShardMetricsMessage {
  /** Process id (random per runtime process). */
  proc: string;
  stream: string;
  uid: string;
  atMs: number;
  /** Length of the interval the rates cover. */
  intervalMs: number;
  shards: {
    shardId: string;
    totals: ShardCounters;
    /** Per second over the last interval. */
    rates: ShardCounters;
    /** GetRecords.IteratorAgeMilliseconds of the last GetRecords this process served (0: none in the interval). */
    iteratorAgeMs: number;
    /**
     * ON_DEMAND streams: hash keys (32 hex digits) sampled from the interval's writes with their
     * weight (capacity units: max(1, KiB) per sampled record), and the weight of every sampled
     * record including keys past the sample's size limit. The autoscaler splits at their median
     * and names a key that alone exceeds a shard.
     */
    keys?: [string, number][];
    keyWeight?: number;
  }[];
}

export interface ShardRates extends ShardCounters {
  shardId: string;
  open: boolean;
  /** Largest iterator age any process reported for the last interval. */
  iteratorAgeMs: number;
}

export interface StreamShardMetrics {
  stream: string;
  uid: string;
  /** Runtime processes that reported. */
  processes: number;
  /** Every shard of the stream record, rates summed over processes (0 where nobody reported). */
  shards: ShardRates[];
}

/**
 * Per-shard rates (per second) of a stream, summed over every runtime process
 * that published within `waitMs` (default: one publish interval plus 300 ms).
 * Undefined when the stream does not exist.
 */
export async function readShardMetrics(
  store: Store,
  streamName: string,
  opts: { waitMs?: number } = {},
): Promise<StreamShardMetrics | undefined> {
  const rec = await getStream(store, streamName);
  if (!rec) return undefined;
  const latest = new Map<string, ShardMetricsMessage>();
  const sub = store.nc.subscribe(metricsSubject(rec.uid), {
    callback: (err, msg) => {
      if (err) return;
      try {
        const m = msg.json<ShardMetricsMessage>();
        if (m.uid === rec.uid) latest.set(m.proc, m);
      } catch {
        // not ours
      }
    },
  });
  await new Promise((r) => setTimeout(r, opts.waitMs ?? metricsPublishMs() + 300));
  sub.unsubscribe();
  const byShard = new Map<string, ShardRates>();
  for (const s of rec.shards) {
    byShard.set(s.shardId, { shardId: s.shardId, open: s.endingSequenceNumber === undefined, iteratorAgeMs: 0, ...zeroCounters() });
  }
  for (const m of latest.values()) {
    for (const s of m.shards) {
      const out = byShard.get(s.shardId);
      if (!out) continue;
      for (const k of COUNTER_NAMES) out[k] += s.rates[k] ?? 0;
      out.iteratorAgeMs = Math.max(out.iteratorAgeMs, s.iteratorAgeMs ?? 0);
    }
  }
  return { stream: rec.name, uid: rec.uid, processes: latest.size, shards: [...byShard.values()] };
}
