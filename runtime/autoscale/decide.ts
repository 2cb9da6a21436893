// The shard autoscaler's decision: metrics in, one decision and its reason out.
// Pure (no clock, no I/O), so it is tested on recorded load series; the
// controller (one per store, under a KV lease) feeds it and acts on it.
//
// Load is measured as utilization of a shard's capacity: the largest of
// bytes in / 1 MiB/s, records in (plus the records refused for throttling,
// which are demand too) / 1000/s, and bytes read / 2 MiB/s. Scaling up looks
// at the mean over a short window (fast, but a one-second spike does not
// count); scaling down at the highest short-window mean over a long
// stabilization window (slow: one busy moment in five minutes keeps the
// shards). The gap between the up threshold and what a merged pair may carry
// is the hysteresis that keeps a merge from being undone by the next split.

export const SHARD_BYTES_PER_S = 1024 * 1024;
export const SHARD_RECORDS_PER_S = 1000;
export const SHARD_READ_BYTES_PER_S = 2 * 1024 * 1024;

/** Per-second rates of one shard over one sample interval (what runtimes publish, summed over processes). */
export interface ShardSample {
  atMs: number;
  bytesIn: number;
  recordsIn: number;
  /** Records refused with ProvisionedThroughputExceeded (PROVISIONED streams only). */
  recordsThrottled: number;
  bytesOut: number;
}

/** A sampled hash key of recent traffic and how much of the shard's load it carried (any unit; only shares matter). */
export interface KeySample {
  hashKey: bigint;
  weight: number;
}

export interface ShardView {
  shardId: string;
  startingHashKey: bigint;
  endingHashKey: bigint;
  /** Oldest first; only samples after the shard opened. */
  samples: ShardSample[];
  /** Sampled hash keys of the recent (up-window) traffic; absent when none were sampled. */
  keys?: KeySample[];
  /** Weight of all sampled traffic, keys past the sample's size limit included (default: the sum of `keys`). */
  keysTotalWeight?: number;
}

export interface ScalingPolicy {
  minShards: number;
  maxShards: number;
  /** Open shards the account may still add (account shard limit minus shards open in the store). */
  shardLimitLeft: number;
  /** Mean over this window decides scaling up. */
  upWindowMs: number;
  /** Stabilization window: scaling down needs this much calm history and this long since the last action. */
  downWindowMs: number;
  /** A shard above this utilization is hot. */
  upThreshold: number;
  /** Scaling up aims at this utilization per shard. */
  targetUtilization: number;
  /** Two adjacent shards merge only when their peaks together stay below this. */
  mergeThreshold: number;
}

export const DEFAULT_POLICY: Omit<ScalingPolicy, 'minShards' | 'maxShards' | 'shardLimitLeft'> = {
  upWindowMs: 10_000,
  downWindowMs: 300_000,
  upThreshold: 0.85,
  targetUtilization: 0.7,
  mergeThreshold: 0.5,
};

export interface HotKey {
  shardId: string;
  /** The key's 128-bit hash, decimal (a partition key's MD5 as Kinesis routes it). */
  hashKey: string;
  /** Share of the shard's sampled traffic. */
  share: number;
  /** Utilization of one shard's capacity this key alone causes. */
  utilization: number;
}

export type Action =
  | { kind: 'none' }
  | { kind: 'updateShardCount'; targetShards: number }
  | { kind: 'split'; splits: { shardId: string; newStartingHashKey: string }[] }
  | { kind: 'merge'; merges: { shardId: string; adjacentShardId: string }[] };

export interface Decision {
  action: Action;
  /** One sentence a person reads in an Event or `status.autoscaling`. */
  reason: string;
  /** The values that drove it: open shards, utilization per shard (up-window mean, stabilization peak), demand. */
  metrics: {
    openShards: number;
    /** Shards the measured demand needs at the target utilization. */
    neededShards: number;
    upUtilization: Record<string, number>;
    downUtilization: Record<string, number>;
  };
  hotKeys: HotKey[];
}

export interface DecisionInput {
  nowMs: number;
  /** Open shards of the stream, any order. */
  shards: ShardView[];
  policy: ScalingPolicy;
  /** When the controller last changed this stream's shards (undefined: never, or not since it started watching). */
  lastActionMs?: number;
}

const utilization = (s: ShardSample) =>
  Math.max(
    s.bytesIn * (s.recordsIn > 0 ? (s.recordsIn + s.recordsThrottled) / s.recordsIn : 1) / SHARD_BYTES_PER_S,
    (s.recordsIn + s.recordsThrottled) / SHARD_RECORDS_PER_S,
    s.bytesOut / SHARD_READ_BYTES_PER_S,
  );

const inWindow = (v: ShardView, from: number, to: number) => v.samples.filter((s) => s.atMs > from && s.atMs <= to);

function mean(xs: number[]): number {
  return xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length;
}

/** Highest mean of any up-window-long run of samples inside the stabilization window. */
function peakOfMeans(v: ShardView, nowMs: number, p: ScalingPolicy): number {
  const samples = inWindow(v, nowMs - p.downWindowMs, nowMs);
  let peak = 0;
  let start = 0;
  let sum = 0;
  for (let end = 0; end < samples.length; end++) {
    sum += utilization(samples[end]!);
    while (samples[end]!.atMs - samples[start]!.atMs >= p.upWindowMs) sum -= utilization(samples[start++]!);
    peak = Math.max(peak, sum / (end - start + 1));
  }
  return peak;
}

/** The hash key at which the sampled weight of the shard's traffic is split in half, or undefined when none was sampled. */
export function medianHashKey(keys: KeySample[]): bigint | undefined {
  const sorted = [...keys].filter((k) => k.weight > 0).sort((a, b) => (a.hashKey < b.hashKey ? -1 : a.hashKey > b.hashKey ? 1 : 0));
  const total = sorted.reduce((a, k) => a + k.weight, 0);
  if (total === 0) return undefined;
  let acc = 0;
  for (const k of sorted) {
    acc += k.weight;
    if (acc >= total / 2) return k.hashKey;
  }
  return sorted.at(-1)!.hashKey;
}

/** Keys that alone carry more than one shard's capacity: splitting cannot help them. */
function hotKeysOf(v: ShardView, u: number): HotKey[] {
  if (!v.keys?.length) return [];
  const byKey = new Map<bigint, number>();
  for (const k of v.keys) byKey.set(k.hashKey, (byKey.get(k.hashKey) ?? 0) + k.weight);
  const total = Math.max(v.keysTotalWeight ?? 0, [...byKey.values()].reduce((a, b) => a + b, 0));
  const out: HotKey[] = [];
  for (const [hashKey, w] of byKey) {
    const share = w / total;
    if (share * u > 1) out.push({ shardId: v.shardId, hashKey: hashKey.toString(), share, utilization: share * u });
  }
  return out;
}

/**
 * Where to split a hot shard: the weighted median of its sampled keys, moved
 * inside the range Kinesis accepts (greater than start + 1, at most end), so
 * that both halves carry about half the load. Without samples, the middle.
 */
function splitKey(v: ShardView): bigint | undefined {
  const lo = v.startingHashKey + 2n;
  const hi = v.endingHashKey;
  if (lo > hi) return undefined; // a range this narrow cannot be split
  let k = v.keys?.length ? medianHashKey(v.keys) : undefined;
  if (k === undefined) k = v.startingHashKey + (v.endingHashKey - v.startingHashKey + 1n) / 2n;
  // The median key goes to the upper half; if that leaves the lower half
  // empty (the median is the range's first key), start the upper half after it.
  if (k <= v.startingHashKey + 1n) k = v.startingHashKey + 2n;
  return k < lo ? lo : k > hi ? hi : k;
}

const round = (x: number) => Math.round(x * 1000) / 1000;

export function decide(input: DecisionInput): Decision {
  const { nowMs, policy: p } = input;
  const shards = [...input.shards].sort((a, b) => (a.startingHashKey < b.startingHashKey ? -1 : 1));
  const open = shards.length;
  const up = new Map(shards.map((v) => [v.shardId, mean(inWindow(v, nowMs - p.upWindowMs, nowMs).map(utilization))]));
  const down = new Map(shards.map((v) => [v.shardId, peakOfMeans(v, nowMs, p)]));
  const demand = [...up.values()].reduce((a, b) => a + b, 0);
  const needed = Math.max(1, Math.ceil(demand / p.targetUtilization - 1e-9));
  const ceiling = Math.min(p.maxShards, open + Math.max(0, p.shardLimitLeft));
  const metrics = {
    openShards: open,
    neededShards: needed,
    upUtilization: Object.fromEntries([...up].map(([k, v]) => [k, round(v)])),
    downUtilization: Object.fromEntries([...down].map(([k, v]) => [k, round(v)])),
  };
  const hotKeys = shards.flatMap((v) => hotKeysOf(v, up.get(v.shardId)!));
  const out = (action: Action, reason: string): Decision => ({ action, reason, metrics, hotKeys });
  const none = (reason: string) => out({ kind: 'none' }, reason);
  const uniform = (target: number, reason: string) => out({ kind: 'updateShardCount', targetShards: target }, reason);
  const hotKeyNote = hotKeys.length ? `; hot key ${hotKeys[0]!.hashKey} alone needs ${round(hotKeys[0]!.utilization)} of a shard and cannot be split` : '';

  // The bounds first: when the user changes them, the user wins.
  if (open < p.minShards) return uniform(Math.min(p.minShards, open * 2), `${open} open shards is below minShards ${p.minShards}`);
  if (open > p.maxShards) return uniform(Math.max(p.maxShards, Math.ceil(open / 2)), `${open} open shards is above maxShards ${p.maxShards}`);

  // A fresh shard set has no history yet: judge it once it has a full up window.
  const settled = input.lastActionMs === undefined || nowMs - input.lastActionMs >= p.upWindowMs;
  const hot = shards.filter((v) => up.get(v.shardId)! > p.upThreshold);
  if (hot.length > 0) {
    if (!settled) return none(`waiting for a full ${p.upWindowMs / 1000} s of load on the shards made by the last change`);
    if (open >= ceiling) {
      return none(`${hot.length} hot shard(s) but ${open} open shards is the ceiling (${open >= p.maxShards ? `maxShards ${p.maxShards}` : 'account shard limit'})${hotKeyNote}`);
    }
    // Hot keys cannot be relieved by splitting their shard.
    const hotKeyShards = new Set(hotKeys.map((h) => h.shardId));
    const splittable = hot.filter((v) => !hotKeyShards.has(v.shardId));
    const rest = shards.filter((v) => !hot.includes(v));
    const restLoad = mean(rest.map((v) => up.get(v.shardId)!));
    const skewed = hot.length * 2 <= open && restLoad < p.targetUtilization;
    if (skewed || hot.length === open && open === 1) {
      const splits = splittable
        .slice(0, ceiling - open)
        .map((v) => ({ v, k: splitKey(v) }))
        .filter((x): x is { v: ShardView; k: bigint } => x.k !== undefined)
        .map(({ v, k }) => ({ shardId: v.shardId, newStartingHashKey: k.toString() }));
      if (splits.length === 0) return none(`hot shard(s) ${hot.map((v) => v.shardId).join(', ')} cannot be split${hotKeyNote}`);
      const list = splits.map((s) => `${s.shardId} (${round(up.get(s.shardId)!)})`).join(', ');
      return out({ kind: 'split', splits }, `split hot shard(s) ${list} at the median hash key of their traffic; the other shards average ${round(restLoad)}${hotKeyNote}`);
    }
    const target = Math.min(open * 2, ceiling, Math.max(needed, open + 1));
    return uniform(target, `load ${round(demand)} shards' worth over ${open} open shards (${hot.length} above ${p.upThreshold}): scale to ${target}${target < needed ? ` (needs ${needed}; at most ×2 per step${target === ceiling ? ' and capped by the ceiling' : ''})` : ''}${hotKeyNote}`);
  }
  if (hotKeys.length) return none(`no shard above ${p.upThreshold}${hotKeyNote}`);

  // Scaling down: only after a calm stabilization window, adjacent cold pairs only, at most half.
  if (open <= p.minShards) return none(`load fits ${open} open shards (minShards ${p.minShards})`);
  const history = Math.min(...shards.map((v) => (v.samples.length ? nowMs - v.samples[0]!.atMs : 0)));
  if (input.lastActionMs !== undefined && nowMs - input.lastActionMs < p.downWindowMs) return none('load fits; within the stabilization window of the last change');
  if (history < p.downWindowMs) return none(`load fits; ${Math.round(history / 1000)} s of history, scaling down needs ${p.downWindowMs / 1000} s`);
  const merges: { shardId: string; adjacentShardId: string }[] = [];
  const maxMerges = Math.min(Math.floor(open / 2), open - p.minShards);
  for (let i = 0; i + 1 < shards.length && merges.length < maxMerges; i++) {
    const a = shards[i]!;
    const b = shards[i + 1]!;
    if (a.endingHashKey + 1n !== b.startingHashKey) continue;
    if (down.get(a.shardId)! + down.get(b.shardId)! < p.mergeThreshold) {
      merges.push({ shardId: a.shardId, adjacentShardId: b.shardId });
      i++;
    }
  }
  if (merges.length === 0) return none(`load fits ${open} open shards; no adjacent pair peaked below ${p.mergeThreshold} together in ${p.downWindowMs / 1000} s`);
  const list = merges.map((m) => `${m.shardId}+${m.adjacentShardId} (${round(down.get(m.shardId)! + down.get(m.adjacentShardId)!)})`).join(', ');
  return out({ kind: 'merge', merges }, `merge cold adjacent shards ${list}: their peaks together stayed below ${p.mergeThreshold} for ${p.downWindowMs / 1000} s`);
}
