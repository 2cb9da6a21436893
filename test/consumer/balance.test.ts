// Lease balancing (pure): by count when idle, by records/s when not.
import { leaseWeights, planBalance, type BalanceLease } from '../../consumer/balance.js';

const leases = (owners: (string | undefined)[], rates: number[] = []): BalanceLease[] =>
  owners.map((owner, i) => ({ shardId: `s${i}`, owner, ratePerSec: rates[i] ?? 0 }));
const fixed = () => 0.5;

test('free leases are taken up to the fair share', () => {
  const plan = planBalance('a', ['b', 'c'], leases([undefined, undefined, undefined, undefined, undefined, undefined]), fixed);
  expect(plan.take).toHaveLength(2);
  expect(plan.steal).toBeUndefined();
});

test('a worker alone takes everything; leftovers from rounding are taken', () => {
  expect(planBalance('a', [], leases([undefined, undefined, undefined]), fixed).take).toHaveLength(3);
  // 7 leases, 3 workers: b and c hold 3 each; the last free one goes to a (below the 2.33 target).
  expect(planBalance('a', ['b', 'c'], leases(['b', 'b', 'b', 'c', 'c', 'c', undefined]), fixed).take).toEqual(['s6']);
});

test('a new worker asks the most loaded one for a lease; an imbalance of one lease is left alone', () => {
  expect(planBalance('c', ['a', 'b'], leases(['a', 'a', 'a', 'b', 'b', 'b'])).steal).toMatch(/^s[0-5]$/);
  expect(planBalance('c', ['a', 'b'], leases(['a', 'a', 'b', 'b', 'c'])).steal).toBeUndefined();
  // A steal already pending for this worker: wait for it.
  const pending = leases(['a', 'a', 'a', 'b', 'b', 'b']);
  pending[0]!.handoffTo = 'c';
  expect(planBalance('c', ['a', 'b'], pending).steal).toBeUndefined();
});

test('by load: a worker with one hot shard gives its cold shards away, not the hot one', () => {
  // a: hot s0 (1000/s) and cold s1; b: cold s2, s3. Counts are equal (2 and 2) but loads are not.
  const l = leases(['a', 'a', 'b', 'b'], [1000, 10, 10, 10]);
  const w = leaseWeights(l);
  expect([...w.values()].reduce((s, x) => s + x, 0)).toBeCloseTo(4);
  expect(w.get('s0')!).toBeGreaterThan(2);
  expect(planBalance('b', ['a'], l).steal).toBe('s1');
  // Then a holds only the hot shard and b three cold ones: balanced, nothing moves.
  const after = leases(['a', 'b', 'b', 'b'], [1000, 10, 10, 10]);
  expect(planBalance('b', ['a'], after).steal).toBeUndefined();
  expect(planBalance('a', ['b'], after).steal).toBeUndefined();
});
