// Which leases a worker takes or steals: pure, so it is unit-tested alone.
// Balance is by load, not only by count (as KCL 3): a lease weighs half a unit
// plus its share of the records/s of all leases, so weights add up to the
// number of leases; with no traffic every lease weighs 1 and this is KCL 2's
// balance by count.

export interface BalanceLease {
  shardId: string;
  /** Live owner; undefined when free or expired. */
  owner?: string;
  ratePerSec: number;
  /** A steal is already pending on it. */
  handoffTo?: string;
}

export interface BalancePlan {
  /** Free leases to take now, best first. */
  take: string[];
  /** A lease of the most loaded worker to ask for (graceful hand-off). */
  steal?: string;
}

export function leaseWeights(leases: BalanceLease[]): Map<string, number> {
  const total = leases.reduce((s, l) => s + Math.max(0, l.ratePerSec), 0);
  const n = leases.length;
  return new Map(leases.map((l) => [l.shardId, total > 0 ? 0.5 + (0.5 * n * Math.max(0, l.ratePerSec)) / total : 1]));
}

export function planBalance(me: string, workers: string[], leases: BalanceLease[], random: () => number = Math.random): BalancePlan {
  const w = leaseWeights(leases);
  const live = new Set([...workers, me]);
  const target = leases.length / live.size;
  const load = new Map<string, number>([...live].map((id) => [id, 0]));
  for (const l of leases) if (l.owner) load.set(l.owner, (load.get(l.owner) ?? 0) + w.get(l.shardId)!);
  let mine = load.get(me)!;
  // Free leases: heaviest first; ties shuffled so workers starting together do not all race for the same one.
  const free = leases
    .filter((l) => !l.owner)
    .map((l) => ({ l, r: random() }))
    .sort((a, b) => w.get(b.l.shardId)! - w.get(a.l.shardId)! || a.r - b.r)
    .map((x) => x.l);
  const take: string[] = [];
  // While a lease is free some worker is below target (the free weight is nobody's load), so this always makes progress.
  for (const l of free) {
    if (mine >= target) break;
    take.push(l.shardId);
    mine += w.get(l.shardId)!;
  }
  if (free.length > 0 || leases.some((l) => l.handoffTo === me)) return { take };
  let victim: string | undefined;
  let most = -Infinity;
  for (const [id, v] of load) if (id !== me && v > most) (most = v), (victim = id);
  const diff = most - mine;
  // At least one unit of imbalance, or count-only balance would move leases back and forth.
  if (!victim || diff <= 1) return { take };
  let best: BalanceLease | undefined;
  for (const l of leases) {
    if (l.owner !== victim || l.handoffTo) continue;
    const lw = w.get(l.shardId)!;
    if (lw >= diff) continue;
    if (!best || Math.abs(lw - diff / 2) < Math.abs(w.get(best.shardId)! - diff / 2)) best = l;
  }
  if (!best) return { take };
  const bw = w.get(best.shardId)!;
  // Moving it must lower the larger of the two loads noticeably.
  if (Math.max(most - bw, mine + bw) > most - 0.25) return { take };
  return { take, steal: best.shardId };
}
