// The worker autoscaler's pure decision (operator/workerScaling/decide.ts) on
// simulated lag series. The closed-loop ones model a consumer group: S shards
// each receiving `arrive` records/s, workers processing `perWorker` records/s
// each, split evenly over the shards they hold (one worker per shard at most);
// lag is the oldest unprocessed record's age, as MillisBehindLatest reports it.
import { decideReplicas, type LagSample, type WorkerScalingPolicy } from '../../operator/workerScaling/decide.js';

const policy = (p: Partial<WorkerScalingPolicy> = {}): WorkerScalingPolicy => ({
  minReplicas: 1, maxReplicas: 10, targetLagMs: 5_000, upWindowMs: 10_000, downWindowMs: 60_000, ...p,
});

const sample = (atMs: number, lagMs: number, openShards = 4, reportingShards = openShards, ratePerSec = 0): LagSample => ({ atMs, lagMs, iteratorAgeMs: lagMs, reportingShards, openShards, ratePerSec });

interface Run { replicas: number[]; changes: { atMs: number; from: number; to: number; action: string }[] }

/**
 * Closed loop, one step a second: load(t) gives records/s per shard; a decision
 * takes effect `startMs` later (pods starting). Returns replicas over time.
 */
function simulate(o: { shards: number; perWorker: number; load: (t: number) => number; seconds: number; policy: WorkerScalingPolicy; start?: number; startMs?: number }): Run {
  const backlog = new Array(o.shards).fill(0);
  let replicas = o.start ?? 1;
  let effective = replicas;
  let effectiveAt = 0;
  let lastChange: number | undefined;
  let capacity: number | undefined;
  const samples: LagSample[] = [];
  const run: Run = { replicas: [], changes: [] };
  for (let s = 0; s <= o.seconds; s++) {
    const t = s * 1000;
    if (t >= effectiveAt) effective = replicas;
    const arrive = o.load(t);
    // Each busy worker splits its capacity over its shards; workers beyond the shard count idle.
    const perShard = (o.perWorker * Math.min(effective, o.shards)) / o.shards;
    let rate = 0;
    for (let i = 0; i < o.shards; i++) {
      const done = Math.min(backlog[i] + arrive, perShard);
      rate += done;
      backlog[i] = backlog[i] + arrive - done;
    }
    const lagMs = Math.max(...backlog.map((b) => (arrive > 0 ? (b / arrive) * 1000 : b > 0 ? 60_000 : 0)));
    samples.push(sample(t, lagMs, o.shards, o.shards, rate));
    const d = decideReplicas({ nowMs: t, current: replicas, samples: samples.slice(-200), lastChangeMs: lastChange, workerCapacity: capacity, policy: o.policy });
    if (d.workerCapacity !== undefined) capacity = d.workerCapacity;
    if (d.action !== 'none' && d.replicas !== replicas) {
      run.changes.push({ atMs: t, from: replicas, to: d.replicas, action: d.action });
      replicas = d.replicas;
      lastChange = t;
      effectiveAt = t + (o.startMs ?? 3000);
    }
    run.replicas.push(replicas);
  }
  return run;
}

test('backlog step: lag grows past the target, replicas double per step up to one per shard (not maxReplicas), then come down after the load', () => {
  // 8 shards at 100 records/s each, a worker does 250/s: 4 workers are needed, 1 cannot keep up.
  const r = simulate({ shards: 8, perWorker: 250, load: (t) => (t < 240_000 ? 100 : 0), seconds: 600, policy: policy({ maxReplicas: 20 }) });
  const ups = r.changes.filter((c) => c.action === 'scaleUp');
  expect(ups.length).toBeGreaterThan(0);
  for (const c of ups) expect(c.to).toBeLessThanOrEqual(c.from * 2);
  expect(Math.max(...r.replicas)).toBeLessThanOrEqual(8); // the shard cap, below maxReplicas 20
  // Enough workers within a minute of the step, and never too few again while the load lasts (no flapping):
  // the overshoot is trimmed only down to what the rate needs at the throughput measured while saturated.
  expect(r.replicas[60]).toBeGreaterThanOrEqual(4);
  expect(Math.min(...r.replicas.slice(60, 240))).toBeGreaterThanOrEqual(4);
  expect(ups.every((c) => c.atMs < 60_000)).toBe(true);
  // Load gone at 240 s: each step down at most halves, waits the 60-s stabilization window, ends at minReplicas.
  const downs = r.changes.filter((c) => c.action === 'scaleDown');
  for (const c of downs) expect(c.to).toBeGreaterThanOrEqual(Math.ceil(c.from / 2));
  const after = downs.filter((c) => c.atMs >= 240_000);
  expect(after.length).toBeGreaterThan(0);
  expect(after[0]!.atMs).toBeGreaterThanOrEqual(240_000 + 60_000);
  expect(r.replicas.at(-1)).toBe(1);
});

test('steady load the workers can carry: no change at all', () => {
  const r = simulate({ shards: 4, perWorker: 500, load: () => 100, seconds: 600, policy: policy() });
  expect(r.changes).toEqual([]);
});

test('a backlog that drains below the target within the up window does not scale up', () => {
  // Lag 20 s falling by 2 s a second: below 5 s in under 8 s.
  const samples = Array.from({ length: 12 }, (_, i) => sample(i * 1000, Math.max(0, 30_000 - i * 2_000)));
  const d = decideReplicas({ nowMs: 11_000, current: 2, samples, policy: policy() });
  expect(d.action).toBe('none');
  expect(d.reason).toMatch(/draining/);
  // The same lag draining slowly (100 ms a second) is scaled up, by half, not doubled.
  const slow = Array.from({ length: 12 }, (_, i) => sample(i * 1000, 30_000 - i * 100));
  const u = decideReplicas({ nowMs: 11_000, current: 2, samples: slow, policy: policy() });
  expect(u).toMatchObject({ action: 'scaleUp', replicas: 3 });
  expect(u.reason).toMatch(/draining too slowly/);
});

test('noise: lag spikes above the target shorter than the up window never scale up; one spike in the stabilization window keeps the replicas', () => {
  let seed = 7;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const samples: LagSample[] = [];
  let replicas = 3;
  let last: number | undefined;
  for (let s = 0; s < 900; s++) {
    // Mostly 1-4 s; every 20 s a 4-second spike to 8-12 s (above the 5 s target, below the 10-s up window).
    const spike = s % 20 < 4;
    samples.push(sample(s * 1000, spike ? 8_000 + rand() * 4_000 : 1_000 + rand() * 3_000));
    const d = decideReplicas({ nowMs: s * 1000, current: replicas, samples: samples.slice(-120), lastChangeMs: last, policy: policy() });
    if (d.action !== 'none') { replicas = d.replicas; last = s * 1000; }
  }
  expect(replicas).toBe(3);
  expect(last).toBeUndefined();
});

test('shard cap: more replicas than open shards are brought down at once; lag at the cap asks for nothing', () => {
  const samples = Array.from({ length: 20 }, (_, i) => sample(i * 1000, 60_000 + i * 1000, 4));
  const b = decideReplicas({ nowMs: 19_000, current: 6, samples, policy: policy() });
  expect(b).toMatchObject({ action: 'bound', replicas: 4 });
  expect(b.reason).toMatch(/4 open shards/);
  const atCap = decideReplicas({ nowMs: 19_000, current: 4, samples, policy: policy() });
  expect(atCap).toMatchObject({ action: 'none', replicas: 4 });
  // Three shards, lag growing from one worker: 2, then capped at 3 (not 4).
  const three = Array.from({ length: 20 }, (_, i) => sample(i * 1000, 60_000 + i * 1000, 3));
  expect(decideReplicas({ nowMs: 19_000, current: 2, samples: three, policy: policy() })).toMatchObject({ action: 'scaleUp', replicas: 3 });
});

test('min and max: below min is raised, above max lowered; lag never goes past max; scale-down stops at min', () => {
  const lagging = Array.from({ length: 20 }, (_, i) => sample(i * 1000, 60_000 + i * 1000, 16));
  expect(decideReplicas({ nowMs: 19_000, current: 1, samples: [], policy: policy({ minReplicas: 2 }) })).toMatchObject({ action: 'bound', replicas: 2 });
  expect(decideReplicas({ nowMs: 19_000, current: 7, samples: lagging, policy: policy({ maxReplicas: 5 }) })).toMatchObject({ action: 'bound', replicas: 5 });
  expect(decideReplicas({ nowMs: 19_000, current: 4, samples: lagging, policy: policy({ maxReplicas: 5 }) })).toMatchObject({ action: 'scaleUp', replicas: 5 });
  // minReplicas above the shard count is the user's floor: kept.
  const idle = Array.from({ length: 100 }, (_, i) => sample(i * 1000, 0, 2));
  expect(decideReplicas({ nowMs: 99_000, current: 3, samples: idle, policy: policy({ minReplicas: 3 }) }).action).toBe('none');
  expect(decideReplicas({ nowMs: 99_000, current: 5, samples: idle.map((s) => ({ ...s, openShards: 8 })), policy: policy({ minReplicas: 4 }) })).toMatchObject({ action: 'scaleDown', replicas: 4 });
});

test('scale-down waits for a full stabilization window of observation and since the last change; lag between half the target and the target holds', () => {
  const idle = Array.from({ length: 100 }, (_, i) => sample(i * 1000, 0, 8));
  // Observation began 30 s ago only: not yet.
  expect(decideReplicas({ nowMs: 99_000, current: 4, samples: idle.slice(-30), policy: policy() }).action).toBe('none');
  // Changed 20 s ago: not yet.
  expect(decideReplicas({ nowMs: 99_000, current: 4, samples: idle, lastChangeMs: 79_000, policy: policy() }).action).toBe('none');
  expect(decideReplicas({ nowMs: 99_000, current: 4, samples: idle, lastChangeMs: 20_000, policy: policy() })).toMatchObject({ action: 'scaleDown', replicas: 2 });
  // 3 s of lag (target 5 s, half is 2.5 s): within target, but not calm enough to remove workers.
  const busy = idle.map((s) => ({ ...s, lagMs: 3_000 }));
  expect(decideReplicas({ nowMs: 99_000, current: 4, samples: busy, policy: policy() }).action).toBe('none');
});

test('no lease reports (workers not running yet, or every lease stale): hold', () => {
  const silent = Array.from({ length: 100 }, (_, i) => sample(i * 1000, 0, 4, 0));
  expect(decideReplicas({ nowMs: 99_000, current: 3, samples: silent, policy: policy() }).action).toBe('none');
  expect(decideReplicas({ nowMs: 99_000, current: 3, samples: [], policy: policy() }).reason).toMatch(/no lag/);
});

test('sampler: the largest lag of live owners; unowned leases and leases whose revision stopped moving (dead owner) are left out', async () => {
  const { WorkerLagSampler } = await import('../../operator/workerScaling/sampler.js');
  let now = 0;
  let leases: { shardId: string; revision: number; owned: boolean; millisBehindLatest?: number; iteratorAgeMs?: number; ratePerSec: number }[] = [];
  const s = new WorkerLagSampler(async () => ({ leases, openShards: 3 }), { intervalMs: 1000, staleMs: 5000, clock: () => now });
  const g = { application: 'firehose-x', stream: 's' };
  s.track('ns/d', g, 60_000);
  leases = [
    { shardId: 'a', revision: 1, owned: true, millisBehindLatest: 2000, iteratorAgeMs: 500, ratePerSec: 10 },
    // Iterator age larger than MillisBehindLatest: it wins (a backlog already pushed to the worker).
    { shardId: 'b', revision: 1, owned: true, millisBehindLatest: 0, iteratorAgeMs: 7000, ratePerSec: 20 },
    { shardId: 'c', revision: 1, owned: false, millisBehindLatest: 90_000, ratePerSec: 0 },
  ];
  await s.sampleAll();
  expect(s.track('ns/d', g, 60_000).at(-1)).toMatchObject({ lagMs: 7000, reportingShards: 2, openShards: 3, ratePerSec: 30 });
  // 'b' keeps renewing, 'a' stops (its owner died): after staleMs only 'b' counts.
  for (let r = 2; r <= 8; r++) {
    now += 1000;
    leases = leases.map((l) => (l.shardId === 'b' ? { ...l, revision: r, iteratorAgeMs: 100 } : l));
    await s.sampleAll();
  }
  expect(s.track('ns/d', g, 60_000).at(-1)).toMatchObject({ lagMs: 100, reportingShards: 1 });
  // Another group under the same key (a re-created delivery stream) starts afresh.
  expect(s.track('ns/d', { application: 'firehose-y', stream: 's' }, 60_000)).toEqual([]);
});
