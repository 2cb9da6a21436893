// The autoscaler's decision function on recorded load series: a simulated
// stream whose keys carry load over time, one decision a second, each
// decision applied to the simulated shard map at once. The simulator routes
// load by hash range on its own (it does not use the code under test), and the
// assertions are about what a user sees: enough shards soon after a load
// step, ×2 / ½ per step, no scaling on noise or spikes, slow scale-down, the
// hot shard split at its traffic's median, a hot key reported.
import { decide, DEFAULT_POLICY, type Decision, type ScalingPolicy, type ShardSample, type ShardView } from '../../runtime/autoscale/decide.js';

const MAX = (1n << 128n) - 1n;
const KB = 1024;

/** Deterministic PRNG (mulberry32). */
function rng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const randomHash = (r: () => number) => {
  let x = 0n;
  for (let i = 0; i < 4; i++) x = (x << 32n) | BigInt(Math.floor(r() * 2 ** 32));
  return x;
};

interface SimShard { id: string; start: bigint; end: bigint; samples: ShardSample[]; opened: number }
/** A key: where it hashes, and its records/s (1 KB records) at time t (seconds). */
interface SimKey { hash: bigint; rate: (t: number) => number }

class Sim {
  shards: SimShard[] = [];
  next = 0;
  actions: { t: number; d: Decision; before: number; after: number }[] = [];
  lastActionMs?: number;
  /** Utilization of the busiest shard in each simulated second, with the shard map of that second. */
  busiest: number[] = [];
  constructor(shardCount: number, readonly keys: SimKey[], readonly policy: ScalingPolicy, readonly throttle = false) {
    const step = (MAX + 1n) / BigInt(shardCount);
    for (let i = 0; i < shardCount; i++) this.open(step * BigInt(i), i === shardCount - 1 ? MAX : step * BigInt(i + 1) - 1n, 0);
  }
  open(start: bigint, end: bigint, t: number) {
    this.shards.push({ id: `shardId-${String(this.next++).padStart(12, '0')}`, start, end, samples: [], opened: t });
    this.shards.sort((a, b) => (a.start < b.start ? -1 : 1));
  }
  close(id: string): SimShard {
    const s = this.shards.find((x) => x.id === id)!;
    this.shards = this.shards.filter((x) => x !== s);
    return s;
  }
  /** Records/s offered to a shard at time t. */
  offered(s: SimShard, t: number) {
    return this.keys.filter((k) => k.hash >= s.start && k.hash <= s.end).reduce((a, k) => a + k.rate(t), 0);
  }
  /** Utilization of the busiest shard at time t (offered load against 1000 records/s and 1 MiB/s). */
  maxUtilization(t: number) {
    return Math.max(...this.shards.map((s) => this.offered(s, t) / 1000));
  }
  view(s: SimShard, t: number): ShardView {
    const keys = this.keys.filter((k) => k.hash >= s.start && k.hash <= s.end).map((k) => ({ hashKey: k.hash, weight: k.rate(t) }));
    return { shardId: s.id, startingHashKey: s.start, endingHashKey: s.end, samples: s.samples, keys };
  }
  run(fromS: number, toS: number) {
    for (let t = fromS; t < toS; t++) {
      const ms = t * 1000;
      this.busiest[t] = this.maxUtilization(t);
      for (const s of this.shards) {
        const rec = this.offered(s, t);
        const accepted = this.throttle ? Math.min(rec, 1000) : rec;
        s.samples.push({ atMs: ms, bytesIn: accepted * KB, recordsIn: accepted, recordsThrottled: rec - accepted, bytesOut: 0 });
        if (s.samples.length > 400) s.samples.shift();
      }
      const d = decide({ nowMs: ms, shards: this.shards.map((s) => this.view(s, t)), policy: this.policy, lastActionMs: this.lastActionMs });
      if (d.action.kind === 'none') continue;
      const before = this.shards.length;
      this.apply(d, t);
      this.actions.push({ t, d, before, after: this.shards.length });
      this.lastActionMs = ms;
    }
  }
  apply(d: Decision, t: number) {
    const a = d.action;
    if (a.kind === 'split') {
      for (const sp of a.splits) {
        const s = this.close(sp.shardId);
        const k = BigInt(sp.newStartingHashKey);
        expect(k > s.start + 1n && k <= s.end).toBe(true); // Kinesis' rule for NewStartingHashKey
        this.open(s.start, k - 1n, t);
        this.open(k, s.end, t);
      }
    } else if (a.kind === 'merge') {
      for (const m of a.merges) {
        const x = this.close(m.shardId);
        const y = this.close(m.adjacentShardId);
        expect(x.end + 1n).toBe(y.start);
        this.open(x.start, y.end, t);
      }
    } else if (a.kind === 'updateShardCount') {
      for (const s of [...this.shards]) this.close(s.id);
      const step = (MAX + 1n) / BigInt(a.targetShards);
      for (let i = 0; i < a.targetShards; i++) this.open(step * BigInt(i), i === a.targetShards - 1 ? MAX : step * BigInt(i + 1) - 1n, t);
    }
  }
}

const policy = (over: Partial<ScalingPolicy> = {}): ScalingPolicy => ({ ...DEFAULT_POLICY, minShards: 1, maxShards: 64, shardLimitLeft: 10_000, ...over });

/** `n` keys spread over the hash space, together carrying total(t) records/s. */
function spread(seed: number, n: number, total: (t: number) => number): SimKey[] {
  const r = rng(seed);
  return Array.from({ length: n }, () => ({ hash: randomHash(r), rate: (t: number) => total(t) / n }));
}

function expectStepsWithinBounds(sim: Sim) {
  for (const a of sim.actions) {
    expect(a.after).toBeLessThanOrEqual(a.before * 2);
    expect(a.after).toBeGreaterThanOrEqual(Math.ceil(a.before / 2));
  }
}

describe('scaling up after a load step', () => {
  for (const factor of [2, 4, 10]) {
    test(`${factor}× one shard's capacity: enough shards within 60 s, at most ×2 a step`, () => {
      const keys = spread(factor, 2000, (t) => (t < 30 ? 300 : factor * 1000));
      const sim = new Sim(1, keys, policy());
      sim.run(0, 30);
      expect(sim.actions).toHaveLength(0);
      sim.run(30, 90);
      expect(sim.maxUtilization(90)).toBeLessThanOrEqual(1);
      const enough = sim.actions.find((a, i) => i === sim.actions.length - 1 || a.after >= factor);
      expect(enough!.t - 30).toBeLessThanOrEqual(60);
      expectStepsWithinBounds(sim);
      // And it stays put while the load holds.
      const n = sim.actions.length;
      sim.run(90, 600);
      expect(sim.actions.slice(n).filter((a) => a.after > a.before)).toHaveLength(0);
    });
  }

  test('throttled records count as demand (PROVISIONED streams)', () => {
    const keys = spread(7, 1000, () => 3000);
    const sim = new Sim(1, keys, policy(), true);
    sim.run(0, 60);
    expect(sim.shards.length).toBeGreaterThanOrEqual(3);
    expect(sim.maxUtilization(60)).toBeLessThanOrEqual(1);
  });

  test('a ramp is followed without overshooting the ceiling', () => {
    const keys = spread(3, 2000, (t) => 200 + t * 10); // 0.2 → 6.2 shards over 10 minutes
    const sim = new Sim(1, keys, policy({ maxShards: 8 }));
    sim.run(0, 600);
    // Never more than a short window behind: the busiest shard stays near capacity.
    expect(Math.max(...sim.busiest.slice(60))).toBeLessThanOrEqual(1.1);
    expect(sim.shards.length).toBeLessThanOrEqual(8);
    expectStepsWithinBounds(sim);
  });

  test('maxShards and the account shard limit cap it, with the reason said', () => {
    const keys = spread(5, 500, () => 20_000);
    const sim = new Sim(2, keys, policy({ maxShards: 4 }));
    sim.run(0, 120);
    expect(sim.shards.length).toBe(4);
    const d = decide({ nowMs: 120_000, shards: sim.shards.map((s) => sim.view(s, 119)), policy: policy({ maxShards: 4 }), lastActionMs: sim.lastActionMs });
    expect(d.action.kind).toBe('none');
    expect(d.reason).toMatch(/maxShards 4/);
    const limited = decide({ nowMs: 120_000, shards: sim.shards.map((s) => sim.view(s, 119)), policy: policy({ shardLimitLeft: 0 }), lastActionMs: sim.lastActionMs });
    expect(limited.action.kind).toBe('none');
    expect(limited.reason).toMatch(/account shard limit/);
  });
});

describe('no scaling on load that does not need it', () => {
  test('noise around half of capacity for 20 minutes: no action', () => {
    const r = rng(11);
    const noise = Array.from({ length: 1200 }, () => 500 + (r() - 0.5) * 700); // 150 … 850 records/s
    const sim = new Sim(2, spread(12, 500, (t) => 2 * noise[t]!), policy());
    sim.run(0, 1200);
    expect(sim.actions).toEqual([]);
  });

  test('one-second spikes to 5× every minute: no scale-up', () => {
    const sim = new Sim(1, spread(13, 500, (t) => (t % 60 === 30 ? 5000 : 300)), policy());
    sim.run(0, 600);
    expect(sim.actions.filter((a) => a.after > a.before)).toEqual([]);
  });
});

describe('scaling down', () => {
  test('only after the stabilization window, adjacent cold pairs, at most ½ a step, down to minShards', () => {
    const keys = spread(21, 2000, (t) => (t < 120 ? 6000 : 100));
    const sim = new Sim(1, keys, policy({ minShards: 1, downWindowMs: 300_000 }));
    sim.run(0, 120);
    const peak = sim.shards.length;
    expect(peak).toBeGreaterThanOrEqual(6);
    const lastUp = sim.actions.at(-1)!.t;
    sim.run(120, 2400);
    const downs = sim.actions.filter((a) => a.after < a.before);
    expect(downs.length).toBeGreaterThan(0);
    expect(downs[0]!.t - 119).toBeGreaterThanOrEqual(300); // the last loaded second was 119
    expect(downs[0]!.t - lastUp).toBeGreaterThanOrEqual(300);
    for (let i = 1; i < downs.length; i++) expect(downs[i]!.t - downs[i - 1]!.t).toBeGreaterThanOrEqual(300);
    for (const d of downs) expect(d.d.action.kind).toBe('merge');
    expectStepsWithinBounds(sim);
    expect(sim.shards.length).toBe(1);
  });

  test('diurnal load: follows up and down without flapping', () => {
    const period = 2400;
    const keys = spread(31, 400, (t) => 1000 * (4.25 + 3.75 * Math.sin((2 * Math.PI * t) / period))); // 0.5 … 8 shards' worth
    const sim = new Sim(2, keys, policy());
    sim.run(0, period * 2);
    const ups = sim.actions.filter((a) => a.after > a.before);
    const downs = sim.actions.filter((a) => a.after < a.before);
    expect(ups.length).toBeGreaterThan(0);
    expect(downs.length).toBeGreaterThan(0);
    // No flapping: a scale-down never follows a change within the stabilization window.
    for (const d of downs) {
      const prev = sim.actions[sim.actions.indexOf(d) - 1];
      if (prev) expect(d.t - prev.t).toBeGreaterThanOrEqual(300);
    }
    // Overloaded shards only briefly: at most 10% of the seconds past warm-up have a shard above capacity.
    let over = 0;
    for (let t = 120; t < period * 2; t++) if (sim.busiest[t]! > 1.05) over++;
    expect(over / (period * 2 - 120)).toBeLessThan(0.02);
    expectStepsWithinBounds(sim);
  });
});

describe('hot shards and hot keys', () => {
  test('one hot shard among cold ones is split at the median hash key of its traffic', () => {
    const r = rng(41);
    const q = (MAX + 1n) / 4n;
    // Background spread everywhere; a burst of keys inside shard 2's range.
    const background = spread(42, 400, () => 800);
    const burst: SimKey[] = Array.from({ length: 100 }, () => ({ hash: 2n * q + (randomHash(r) % q), rate: () => 12 }));
    const sim = new Sim(4, [...background, ...burst], policy());
    sim.run(0, 15);
    expect(sim.actions).toHaveLength(1);
    const { d } = sim.actions[0]!;
    expect(d.action).toEqual({ kind: 'split', splits: [{ shardId: 'shardId-000000000002', newStartingHashKey: expect.any(String) }] });
    // Both halves now carry about half: neither is hot.
    const children = sim.shards.filter((s) => s.start >= 2n * q && s.end <= 3n * q - 1n);
    expect(children).toHaveLength(2);
    for (const c of children) expect(sim.offered(c, 15) / 1000).toBeLessThan(0.85);
    expect(sim.shards).toHaveLength(5);
  });

  test('a single partition key above one shard\'s capacity is reported as a hot key, not split forever', () => {
    const hotHash = 123456789012345678901234567890n;
    const keys = [...spread(51, 300, () => 300), { hash: hotHash, rate: () => 1500 }];
    const sim = new Sim(2, keys, policy());
    sim.run(0, 300);
    const d = decide({ nowMs: 300_000, shards: sim.shards.map((s) => sim.view(s, 299)), policy: policy(), lastActionMs: sim.lastActionMs });
    expect(d.hotKeys.map((h) => h.hashKey)).toContain(hotHash.toString());
    expect(d.reason).toMatch(/hot key/);
    expect(sim.shards.length).toBeLessThanOrEqual(4); // it may split off the other traffic, never without bound
  });

  test('a key set that shifts over time: splits follow the hot region, the cold ones merge back', () => {
    const r = rng(61);
    const q = (MAX + 1n) / 4n;
    const regionKeys = (region: number) => Array.from({ length: 100 }, () => 3n * 0n + BigInt(region) * q + (randomHash(r) % q));
    const hotA = regionKeys(0);
    const hotB = regionKeys(3);
    const keys: SimKey[] = [
      ...spread(62, 400, () => 400),
      ...hotA.map((hash) => ({ hash, rate: (t: number) => (t < 900 ? 18 : 0) })),
      ...hotB.map((hash) => ({ hash, rate: (t: number) => (t >= 900 ? 18 : 0) })),
    ];
    const sim = new Sim(4, keys, policy({ minShards: 4 }));
    sim.run(0, 900);
    expect(sim.maxUtilization(899)).toBeLessThanOrEqual(1);
    const atShiftCount = sim.shards.length;
    sim.run(900, 2700);
    expect(sim.maxUtilization(2699)).toBeLessThanOrEqual(1);
    expect(sim.actions.some((a) => a.t >= 900 && a.d.action.kind === 'split')).toBe(true);
    expect(sim.actions.some((a) => a.t >= 900 && a.d.action.kind === 'merge')).toBe(true);
    expect(sim.shards.length).toBeLessThanOrEqual(atShiftCount + 2);
    expectStepsWithinBounds(sim);
  });
});

describe('bounds', () => {
  test('below minShards scales up (×2 a step) even when idle; above maxShards scales down (½ a step)', () => {
    const sim = new Sim(1, spread(71, 10, () => 1), policy({ minShards: 5 }));
    sim.run(0, 40);
    expect(sim.actions.map((a) => a.after)).toEqual([2, 4, 5]);
    const big = new Sim(16, spread(72, 10, () => 1), policy({ maxShards: 3 }));
    big.run(0, 40);
    expect(big.actions.map((a) => a.after)).toEqual([8, 4, 3]);
  });
});
