// A long-lived, windowed view of the per-shard metrics every runtime process
// publishes on `shardline.metrics.<uid>` (stream/shardMetrics.ts). Messages
// are folded into one-second buckets as they arrive (counts, not rates, so a
// process's publish drifting across a second boundary moves counts between
// neighbouring seconds without losing any); a decision reads the buckets and
// never waits for a message. A second in which no process reported is a
// second of no load: runtimes stop publishing for an idle stream.
import type { NatsConnection, Subscription } from 'nats';
import { METRICS_SUBJECT_PREFIX, type ShardMetricsMessage } from '../../stream/shardMetrics.js';
import type { StreamRecord } from '../../stream/streamRecord.js';
import type { ShardSample, ShardView } from './decide.js';

interface Bucket {
  bytesIn: number;
  recordsIn: number;
  recordsThrottled: number;
  bytesOut: number;
}

interface ShardSeries {
  /** Second (epoch ms / 1000, floored) → counts in that second. */
  buckets: Map<number, Bucket>;
  /** Sampled keys of recent seconds: second → hex key → weight, and the total sampled weight. */
  keys: Map<number, { keys: [string, number][]; weight: number }>;
}

export class MetricsWindow {
  private sub?: Subscription;
  /** uid → shardId → series. */
  private readonly series = new Map<string, Map<string, ShardSeries>>();
  private readonly startedMs: number;

  constructor(private readonly nc: NatsConnection, private readonly keepMs: number, private readonly clock = () => Date.now()) {
    this.startedMs = clock();
  }

  start(): void {
    this.sub = this.nc.subscribe(`${METRICS_SUBJECT_PREFIX}>`, {
      callback: (err, msg) => {
        if (err) return;
        try {
          this.add(msg.json<ShardMetricsMessage>());
        } catch {
          // not a metrics message
        }
      },
    });
  }

  stop(): void {
    this.sub?.unsubscribe();
  }

  /** Folds one process's message in (exposed for tests of the folding itself). */
  add(m: ShardMetricsMessage): void {
    let byShard = this.series.get(m.uid);
    if (!byShard) this.series.set(m.uid, (byShard = new Map()));
    const second = Math.floor(m.atMs / 1000);
    const perInterval = m.intervalMs / 1000;
    for (const s of m.shards) {
      let ser = byShard.get(s.shardId);
      if (!ser) byShard.set(s.shardId, (ser = { buckets: new Map(), keys: new Map() }));
      let b = ser.buckets.get(second);
      if (!b) ser.buckets.set(second, (b = { bytesIn: 0, recordsIn: 0, recordsThrottled: 0, bytesOut: 0 }));
      b.bytesIn += s.rates.incomingBytes * perInterval;
      b.recordsIn += s.rates.incomingRecords * perInterval;
      b.recordsThrottled += s.rates.writeProvisionedThroughputExceeded * perInterval;
      b.bytesOut += s.rates.outgoingBytes * perInterval;
      if (s.keys?.length) {
        const k = ser.keys.get(second);
        if (k) {
          k.keys.push(...s.keys);
          k.weight += s.keyWeight ?? 0;
        } else ser.keys.set(second, { keys: [...s.keys], weight: s.keyWeight ?? 0 });
      }
    }
    this.prune();
  }

  private lastPruneS = 0;
  private prune(): void {
    const nowS = Math.floor(this.clock() / 1000);
    if (nowS === this.lastPruneS) return;
    this.lastPruneS = nowS;
    const oldest = nowS - Math.ceil(this.keepMs / 1000) - 2;
    for (const byShard of this.series.values()) {
      for (const ser of byShard.values()) {
        for (const s of ser.buckets.keys()) if (s < oldest) ser.buckets.delete(s);
        for (const s of ser.keys.keys()) if (s < oldest) ser.keys.delete(s);
      }
    }
  }

  /** Forgets a stream (deleted or recreated). */
  forget(uid: string): void {
    this.series.delete(uid);
  }

  /** The end of the newest complete second the views hold: the decision's "now". */
  asOfMs(nowMs = this.clock()): number {
    return (Math.floor(nowMs / 1000) - 1) * 1000;
  }

  /**
   * The open shards of a stream as the decision function sees them: one
   * sample per completed second since the shard opened (or since this window
   * started listening), zeros where nobody reported, and the keys sampled in
   * the last `keysMs`.
   */
  views(rec: StreamRecord, keysMs: number): ShardView[] {
    const now = this.clock();
    // The current second is still filling, and the previous one may still get late messages;
    // the newest sample is the second ending at asOfMs().
    const lastS = this.asOfMs(now) / 1000 - 1;
    const firstAllowedS = Math.floor(now / 1000) - Math.ceil(this.keepMs / 1000);
    const byShard = this.series.get(rec.uid);
    return rec.shards
      .filter((s) => s.endingSequenceNumber === undefined)
      .map((s) => {
        const ser = byShard?.get(s.shardId);
        const fromS = Math.max(Math.ceil(Math.max(s.createdAtMs, this.startedMs) / 1000), firstAllowedS);
        const samples: ShardSample[] = [];
        for (let sec = fromS; sec <= lastS; sec++) {
          const b = ser?.buckets.get(sec);
          samples.push({ atMs: sec * 1000, bytesIn: b?.bytesIn ?? 0, recordsIn: b?.recordsIn ?? 0, recordsThrottled: b?.recordsThrottled ?? 0, bytesOut: b?.bytesOut ?? 0 });
        }
        const keyMap = new Map<string, number>();
        let keyWeight = 0;
        for (let sec = lastS - Math.ceil(keysMs / 1000) + 1; sec <= lastS; sec++) {
          const k = ser?.keys.get(sec);
          if (!k) continue;
          keyWeight += k.weight;
          for (const [hex, w] of k.keys) keyMap.set(hex, (keyMap.get(hex) ?? 0) + w);
        }
        const view: ShardView = {
          shardId: s.shardId,
          startingHashKey: BigInt(s.hashKeyRange.startingHashKey),
          endingHashKey: BigInt(s.hashKeyRange.endingHashKey),
          samples,
        };
        if (keyMap.size > 0) {
          view.keys = [...keyMap].map(([hex, weight]) => ({ hashKey: BigInt(`0x${hex}`), weight }));
          view.keysTotalWeight = keyWeight;
        }
        return view;
      });
  }
}
