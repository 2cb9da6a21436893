// The random cut trees a RANDOM_CUT_FOREST keeps by insert and delete: after any sequence of
// inserts, evictions and expiries each tree holds exactly its sample (leaves with their masses), every
// box is its leaves' box and every cut splits its leaves; a forest restored from a JSON round trip of
// its state at any point is the same forest, bit for bit, from there on.
import { RandomCutForest, type ForestState } from '../../analytics/engine/randomCutForest.js';
import type { TreeNode } from '../../analytics/engine/cutTree.js';
import type { ForestParams } from '../../analytics/sql/randomCutForest.js';

function rng(seed: number) {
  let s = seed >>> 0;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) + 0.5) / 2 ** 32;
}

/** Records of `width` values: small integers (many equal points) mixed with continuous values and rare far ones. */
function records(n: number, width: number, seed: number): number[][] {
  const r = rng(seed);
  return Array.from({ length: n }, (_, i) => Array.from({ length: width }, () => (i % 3 === 0 ? r() * 100 : r() < 0.02 ? 1000 * r() : Math.floor(r() * 4))));
}

/** Every leaf under a node. */
function leaves(n: TreeNode): { point: number[]; mass: number }[] {
  return 'point' in n ? [n] : [...leaves(n.left), ...leaves(n.right)];
}

/** Checks one tree against its sample with an oracle of its own (boxes and splits recomputed from the leaves). */
function checkTree(tree: TreeNode | undefined, sample: number[][]): void {
  if (sample.length === 0) {
    expect(tree).toBeUndefined();
    return;
  }
  const all = leaves(tree!);
  // The tree holds the sample: each distinct point once, with the number of times the sample holds it.
  const counts = new Map<string, number>();
  for (const p of sample) counts.set(JSON.stringify(p), (counts.get(JSON.stringify(p)) ?? 0) + 1);
  expect(new Map(all.map((l) => [JSON.stringify(l.point), l.mass]))).toEqual(counts);
  expect(all).toHaveLength(counts.size);
  expect(all.reduce((s, l) => s + l.mass, 0)).toBe(sample.length);
  const visit = (n: TreeNode): void => {
    if ('point' in n) return;
    const under = leaves(n).map((l) => l.point);
    const d = under[0]!.length;
    expect(n.lo).toEqual(Array.from({ length: d }, (_, k) => Math.min(...under.map((p) => p[k]!))));
    expect(n.hi).toEqual(Array.from({ length: d }, (_, k) => Math.max(...under.map((p) => p[k]!))));
    for (const l of leaves(n.left)) expect(l.point[n.dim]!).toBeLessThanOrEqual(n.cut);
    for (const l of leaves(n.right)) expect(l.point[n.dim]!).toBeGreaterThan(n.cut);
    visit(n.left);
    visit(n.right);
  };
  visit(tree!);
}

const roundTrip = (f: RandomCutForest) => JSON.parse(JSON.stringify(f.state())) as ForestState;

describe('random cut trees kept by insert and delete', () => {
  test.each([
    ['2 columns, evictions only', { numberOfTrees: 4, subSampleSize: 10, timeDecay: 100_000, shingleSize: 1 }, 2],
    ['1 column, expiries (timeDecay 13)', { numberOfTrees: 4, subSampleSize: 10, timeDecay: 13, shingleSize: 1 }, 1],
    ['2 columns shingled by 3, expiries', { numberOfTrees: 3, subSampleSize: 12, timeDecay: 20, shingleSize: 3 }, 2],
  ] as [string, ForestParams, number][])('%s: after every point each tree is its sample, every box its leaves\' box, every cut a split', (_, params, width) => {
    const f = new RandomCutForest(params, 77);
    for (const v of records(500, width, 5)) {
      f.scoreAndAdd(v);
      for (let i = 0; i < params.numberOfTrees; i++) {
        const { tree, sample } = f.inspect(i);
        expect(sample.length).toBeLessThanOrEqual(params.subSampleSize);
        checkTree(tree, sample);
      }
    }
    // The sample filled (and, for the expiring ones, turned over).
    expect(f.inspect(0).sample).toHaveLength(params.subSampleSize);
  });

  test.each([
    ['1 column', { numberOfTrees: 20, subSampleSize: 32, timeDecay: 400, shingleSize: 1 }, 1],
    ['3 columns', { numberOfTrees: 20, subSampleSize: 32, timeDecay: 100_000, shingleSize: 1 }, 3],
    ['2 columns shingled by 4', { numberOfTrees: 10, subSampleSize: 24, timeDecay: 100, shingleSize: 4 }, 2],
  ] as [string, ForestParams, number][])('%s: a forest restored from its JSON state at any point scores, explains and evolves exactly as the uninterrupted one', (_, params, width) => {
    const data = records(700, width, 9);
    const whole = new RandomCutForest(params, 3);
    const scores: number[] = [];
    const attrs: number[][] = [];
    const states = new Map<number, ForestState>();
    const at = [0, 1, params.subSampleSize - 1, params.subSampleSize + 2, 250, 431, 699];
    data.forEach((v, i) => {
      if (at.includes(i)) states.set(i, roundTrip(whole));
      const e = whole.scoreAndAddExplained(v);
      scores.push(e.score);
      attrs.push([...e.high!, ...e.low!]);
    });
    expect(new Set(scores.slice(200)).size).toBeGreaterThan(100);
    for (const [i, state] of states) {
      const resumed = new RandomCutForest(params, 999, state);
      // The same forest: its state (samples, tree shapes, generator) is the one it was made from.
      expect(roundTrip(resumed)).toEqual(state);
      for (let k = i; k < data.length; k++) {
        const e = resumed.scoreAndAddExplained(data[k]!);
        expect(e.score).toBe(scores[k]);
        expect([...e.high!, ...e.low!]).toEqual(attrs[k]);
      }
      expect(roundTrip(resumed)).toEqual(roundTrip(whole));
    }
  });

  test('values whose ranges overflow a double still make trees (no endless redraw) and finite scores', () => {
    const params = { numberOfTrees: 4, subSampleSize: 10, timeDecay: 100_000, shingleSize: 1 };
    const f = new RandomCutForest(params, 8);
    const r = rng(3);
    const scores = Array.from({ length: 200 }, (_, i) => f.scoreAndAdd([i % 2 ? 1.7e308 * r() : -1.7e308 * r(), i % 3 === 0 ? Number.MAX_VALUE : -Number.MAX_VALUE]));
    for (let i = 0; i < 4; i++) checkTree(f.inspect(i).tree, f.inspect(i).sample);
    expect(scores.slice(10).every((s) => Number.isFinite(s) && s > 0)).toBe(true);
  });

  test('the state is bounded: per tree its sample and a shape of 12 bytes a cut (base64)', () => {
    const params = { numberOfTrees: 5, subSampleSize: 50, timeDecay: 100_000, shingleSize: 1 };
    const f = new RandomCutForest(params);
    for (const v of records(2000, 2, 4)) f.scoreAndAdd(v);
    const st = f.state();
    expect(st.shapes).toHaveLength(5);
    st.trees.forEach((seqs, i) => {
      expect(seqs).toHaveLength(50);
      const bytes = Buffer.from(st.shapes![i]!, 'base64').length;
      // One cut fewer than the tree has distinct points (equal points share a leaf).
      const distinct = new Set(f.inspect(i).sample.map((p) => JSON.stringify(p))).size;
      expect(bytes).toBe(12 * (distinct - 1) + 2);
    });
  });

  test("a checkpoint without tree shapes (the first version's) resumes with the same samples, trees built from them", () => {
    const params = { numberOfTrees: 6, subSampleSize: 16, timeDecay: 100_000, shingleSize: 1 };
    const data = records(300, 2, 12);
    const f = new RandomCutForest(params, 5);
    data.slice(0, 200).forEach((v) => f.scoreAndAdd(v));
    const { shapes: _, ...old } = roundTrip(f);
    const resumed = new RandomCutForest(params, 5, old);
    for (let i = 0; i < 6; i++) checkTree(resumed.inspect(i).tree, resumed.inspect(i).sample);
    expect(resumed.state().trees).toEqual(old.trees);
    const next = data.slice(200).map((v) => resumed.scoreAndAdd(v));
    expect(next.every((s) => s > 0)).toBe(true);
  });

  test('a tree shape that does not fit its sample is refused', () => {
    const params = { numberOfTrees: 2, subSampleSize: 16, timeDecay: 100_000, shingleSize: 1 };
    const f = new RandomCutForest(params, 5);
    records(100, 2, 1).forEach((v) => f.scoreAndAdd(v));
    const st = roundTrip(f);
    const cut = (s: string) => Buffer.from(s, 'base64').subarray(0, 14).toString('base64');
    expect(() => new RandomCutForest(params, 5, { ...st, shapes: [cut(st.shapes![0]!), st.shapes![1]!] })).toThrow(/forest state: a/);
    expect(() => new RandomCutForest(params, 5, { ...st, shapes: [st.shapes![1]!, st.shapes![0]!] })).toThrow(/forest state: /);
    expect(() => new RandomCutForest(params, 5, { ...st, shapes: [st.shapes![0]!] })).toThrow(/1 tree shapes for 2 trees/);
  });
});
