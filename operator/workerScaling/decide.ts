// How many worker pods a consumer group (a DeliveryStream's or an
// AnalyticsApp's workers) should run: lag samples in, one decision and its
// reason out. Pure (no clock, no I/O), so it is tested on simulated series;
// the operator's sampler feeds it (sampler.ts) and the reconcile acts on it.
//
// Lag is the largest MillisBehindLatest (or iterator age, if larger) the
// workers report for the input's shards. Scaling up needs the lag above the target for a whole up window and
// not draining below it within another; it at most doubles. Scaling down needs
// the lag under half the target for the whole stabilization window (the gap
// to the target is the hysteresis); it at most halves, and never below what
// the current rate needs at the throughput workers showed when saturated. More workers than open
// shards is useless (a shard is read by one worker), so lag never asks for more.

export interface LagSample {
  atMs: number;
  /** Largest lag over the shards whose owner reported: MillisBehindLatest or iterator age, whichever is larger (0: all caught up). */
  lagMs: number;
  /** Largest iterator age over the same shards (reported in the reason's values only). */
  iteratorAgeMs: number;
  /** Open shards whose lease has a live owner that reported lag. */
  reportingShards: number;
  /** Open shards of the input stream(s). */
  openShards: number;
  /** Records per second the reporting owners processed (the leases' ratePerSec, summed). */
  ratePerSec: number;
}

export interface WorkerScalingPolicy {
  minReplicas: number;
  maxReplicas: number;
  targetLagMs: number;
  upWindowMs: number;
  downWindowMs: number;
}

export interface WorkerScalingInput {
  nowMs: number;
  /** Replicas the Deployment is given now. */
  current: number;
  /** Oldest first. The first sample's time is when observation began. */
  samples: LagSample[];
  /** When the replicas last changed (a decision); undefined: never. */
  lastChangeMs?: number;
  /** Records/s one worker carried when the workers last could not keep up (measured at a scale-up); undefined: never seen. */
  workerCapacity?: number;
  policy: WorkerScalingPolicy;
}

export type WorkerAction = 'none' | 'scaleUp' | 'scaleDown' | 'bound';

export interface WorkerDecision {
  action: WorkerAction;
  replicas: number;
  reason: string;
  values: Record<string, number>;
  /** Set on a scale-up: what one saturated worker carried (the next input's workerCapacity). */
  workerCapacity?: number;
}

export function decideReplicas(i: WorkerScalingInput): WorkerDecision {
  const { policy: p, current, nowMs, samples } = i;
  const last = samples.at(-1);
  const openShards = last?.openShards ?? 0;
  // The shard cap applies to what lag may ask for; minReplicas is the user's explicit floor.
  const upper = Math.max(p.minReplicas, openShards > 0 ? Math.min(p.maxReplicas, openShards) : p.maxReplicas);
  const values: Record<string, number> = { replicas: current, targetLagMs: p.targetLagMs, openShards };
  if (last) Object.assign(values, { lagMs: last.lagMs, iteratorAgeMs: last.iteratorAgeMs, reportingShards: last.reportingShards });
  const out = (action: WorkerAction, replicas: number, reason: string): WorkerDecision => ({ action, replicas, reason, values });
  const none = (reason: string) => out('none', current, reason);

  if (current < p.minReplicas) return out('bound', p.minReplicas, `${current} replicas are below minReplicas ${p.minReplicas}`);
  if (current > upper) {
    const why = upper < p.maxReplicas && openShards > 0 ? `the input has ${openShards} open shards (more workers than shards is useless)` : `maxReplicas is ${p.maxReplicas}`;
    return out('bound', upper, `${current} replicas: ${why}`);
  }
  if (!last) return none('no lag reported yet');
  const since = (w: number) => samples.filter((s) => s.atMs >= nowMs - w);
  // A full window of observation, and of the current replica count, before acting on it.
  const settled = (w: number) => samples[0]!.atMs <= nowMs - w && (i.lastChangeMs === undefined || i.lastChangeMs <= nowMs - w);

  const up = p.upWindowMs > 0 ? since(p.upWindowMs) : [last];
  const upLagMin = Math.min(...up.map((s) => s.lagMs));
  values.lagMinUpWindowMs = upLagMin;
  if (up.length > 0 && up.every((s) => s.reportingShards > 0) && upLagMin > p.targetLagMs) {
    if (!settled(p.upWindowMs)) return none('lag above target, not yet for a whole up window');
    if (current >= upper) return none(`lag above target, but already at ${current} replicas (${upper === p.maxReplicas ? 'maxReplicas' : 'one per open shard'})`);
    const first = up[0]!;
    const span = last.atMs - first.atMs;
    const slope = span > 0 ? (last.lagMs - first.lagMs) / span : 0;
    values.lagSlope = Math.round(slope * 1000) / 1000;
    const projected = last.lagMs + slope * Math.max(p.upWindowMs, span);
    if (projected <= p.targetLagMs) return none('lag above target but draining below it within the up window');
    // Growing lag: the workers cannot keep up at all, double them. Draining too slowly: half as many again.
    const want = slope >= 0 ? current * 2 : current + Math.max(1, Math.ceil(current / 2));
    const to = Math.min(upper, want);
    // Lag above target for a whole window: the workers were saturated, so their rate is what one can carry.
    const busy = Math.min(current, Math.max(1, openShards));
    const workerCapacity = up.reduce((n, s) => n + s.ratePerSec, 0) / up.length / busy;
    if (workerCapacity > 0) values.workerCapacity = Math.round(workerCapacity);
    const d = out('scaleUp', to, `lag ${fmt(last.lagMs)} above target ${fmt(p.targetLagMs)} for ${fmt(p.upWindowMs)} and ${slope >= 0 ? 'growing' : 'draining too slowly'}${to < want ? ` (capped at ${to}: ${to === p.maxReplicas ? 'maxReplicas' : 'one per open shard'})` : ''}`);
    return workerCapacity > 0 ? { ...d, workerCapacity } : d;
  }

  if (current > p.minReplicas) {
    const down = since(p.downWindowMs);
    const downLagMax = Math.max(...down.map((s) => s.lagMs));
    values.lagMaxDownWindowMs = downLagMax;
    if (down.length > 0 && down.every((s) => s.reportingShards > 0) && downLagMax <= p.targetLagMs / 2 && settled(p.downWindowMs)) {
      // Halving blindly would undershoot a load that still needs more than half: keep what the current
      // rate needs at 80% of a saturated worker's throughput, when that was ever measured.
      const rate = Math.max(...down.map((s) => s.ratePerSec));
      const need = i.workerCapacity ? Math.ceil(rate / (i.workerCapacity * 0.8)) : 0;
      values.ratePerSec = Math.round(rate);
      const to = Math.max(p.minReplicas, Math.ceil(current / 2), need);
      if (to >= current) return none(`lag low, but ${Math.round(rate)} records/s still need ${need} workers (${Math.round(i.workerCapacity!)}/s each)`);
      return out('scaleDown', to, `lag stayed at or under ${fmt(downLagMax)} (half the target is ${fmt(p.targetLagMs / 2)}) for ${fmt(p.downWindowMs)}`);
    }
  }
  return none('lag within target');
}

const fmt = (ms: number) => (ms >= 1000 ? `${Math.round(ms / 100) / 10} s` : `${Math.round(ms)} ms`);
