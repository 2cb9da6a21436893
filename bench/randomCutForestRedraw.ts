// The forest as first written (each tree redrawn over its sample for every point), kept only as the
// bench's peer for analytics/engine/randomCutForest.ts. The model behind KDA's RANDOM_CUT_FOREST: a forest of random cut trees
// (Guha et al. 2016, "Robust Random Cut Forest Based Anomaly Detection on
// Streams"), each over its own time-decayed reservoir sample of the stream's
// points, scored with the standard RCF anomaly score (the expected change of
// depth, folded along the path with 1/(depth+1) terms, normalised by log2 of
// the sample size) and averaged over the trees.
//
// Each tree is a random cut tree drawn over its current sample when a point is
// scored, rather than a tree kept and updated node by node: a random cut tree
// over a set is a fixed distribution (the paper's insert/delete keep a tree
// distributed as one drawn over its current set), so a fresh draw scores with
// the same distribution, and the whole state is the samples (each tree's
// points by sequence number, each point's values once) plus the random
// generator's four words. A point's sampling weight is a hash of its tree and
// sequence number, so it is recomputed rather than stored. That is what a
// checkpoint holds (plain JSON, at most trees × sample size points), and a
// restored forest continues with exactly the scores an uninterrupted one gives.

import type { ForestParams } from '../analytics/sql/randomCutForest.js';

/**
 * A tree's sample: a max-heap on weight (the point evicted next at the root), points named by
 * sequence number, with their values at hand (the same arrays the forest's point table holds) and,
 * for one-dimensional points, the values sorted. Only `seqs` is in the state; the rest follows from it.
 */
interface Tree {
  seqs: number[];
  weights: number[];
  pts: number[][];
  sorted?: number[];
  /** The general walk's view of the sample, rebuilt after the sample changes (rare once it is full). */
  walk?: { xs: Float64Array; order: Int32Array; min: Float64Array; max: Float64Array; stale: boolean };
}

interface ForestState {
  /** What the trees' sampling weights are hashed with. */
  seed: number;
  /** xoshiro128** state. */
  rng: [number, number, number, number];
  /** Points offered to the model so far (shingles when shingling). */
  seen: number;
  /** The last shingleSize - 1 records' values (oldest first), to make the next shingle. */
  recent: number[][];
  /** Each tree's sample: its points' sequence numbers, in heap order. */
  trees: number[][];
  /** Every point some tree holds, each once: [seq, values]. */
  points: [number, number[]][];
}

export class RedrawnRandomCutForest {
  private rng: Uint32Array;
  private seen: number;
  private recent: number[][];
  private trees: Tree[];
  private points = new Map<number, { v: number[]; refs: number }>();
  /** Per tree: the lowest sequence number it may hold (a bound: points older than timeDecay go first). */
  private oldest: number[];
  /** Scratch for scoreTree. */
  private box: Float64Array[] = [];

  /** Four scratch arrays of d numbers: the current box and the box of the side a cut leaves the point on. */
  private boxes(d: number): Float64Array[] {
    if (this.box[0]?.length !== d) this.box = Array.from({ length: 4 }, () => new Float64Array(d));
    return this.box;
  }
  private readonly lambda: number;
  private readonly seed: number;
  /** Per tree: the salt of its points' sampling weights. */
  private readonly salts: number[];

  constructor(readonly params: ForestParams, seed = 0x5eed, state?: ForestState) {
    this.lambda = 1 / params.timeDecay;
    this.seed = (state?.seed ?? seed) >>> 0;
    this.salts = Array.from({ length: params.numberOfTrees }, (_, i) => fmix32(this.seed ^ Math.imul(i + 1, 0x9e3779b9)));
    if (state) {
      if (state.trees.length !== params.numberOfTrees) throw new Error(`forest state: ${state.trees.length} trees, the function has ${params.numberOfTrees}`);
      this.rng = Uint32Array.from(state.rng);
      this.seen = state.seen;
      this.recent = state.recent.map((r) => [...r]);
      for (const [seq, v] of state.points) this.points.set(seq, { v: [...v], refs: 0 });
      this.trees = state.trees.map((seqs, ti) => ({
        seqs: [...seqs],
        weights: seqs.map((seq) => this.weight(ti, seq)),
        pts: seqs.map((s) => {
          const p = this.points.get(s);
          if (!p) throw new Error(`forest state: a tree holds point ${s}, which the state does not have`);
          p.refs++;
          return p.v;
        }),
      }));
    } else {
      this.rng = new Uint32Array(4);
      // splitmix32 spreads the seed over the four words (xoshiro must not start at zero).
      let x = this.seed;
      for (let i = 0; i < 4; i++) {
        x = (x + 0x9e3779b9) >>> 0;
        let z = x;
        z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
        z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
        this.rng[i] = (z ^ (z >>> 16)) >>> 0;
      }
      this.seen = 0;
      this.recent = [];
      this.trees = Array.from({ length: params.numberOfTrees }, () => ({ seqs: [], weights: [], pts: [] }));
    }
    this.oldest = this.trees.map((t) => t.seqs.reduce((m, s) => Math.min(m, s), Number.POSITIVE_INFINITY));
    for (const t of this.trees) if (t.pts[0]?.length === 1) t.sorted = t.pts.map((v) => v[0]!).sort((a, b) => a - b);
  }

  /**
   * A record's numeric values: its anomaly score against the model so far, then the record joins the
   * model. 0 while the model learns (the first subSampleSize points, and until a shingle is full).
   */
  scoreAndAdd(values: number[]): number {
    return this.scoreAndAddExplained(values, false).score;
  }

  /**
   * scoreAndAdd() with the score's attribution to each dimension of the point (the shingle's when
   * shingling: dimension k·values.length + j is value j of the k-th oldest record), split into the
   * part from cuts above the point's value (high) and below it (low); high and low over all
   * dimensions sum to the score. Zeros while learning.
   */
  scoreAndAddExplained(values: number[], explain = true): { score: number; high?: Float64Array; low?: Float64Array } {
    const s = this.params.shingleSize;
    const dims = values.length * s;
    const attr = explain ? new Float64Array(2 * dims) : undefined;
    const split = (score: number) => ({ score, high: attr?.subarray(0, dims), low: attr?.subarray(dims) });
    if (this.recent.length < s - 1) {
      this.recent.push(values);
      return split(0);
    }
    const point = s === 1 ? values : [...this.recent.flat(), ...values];
    if (s > 1) {
      this.recent.push(values);
      this.recent.shift();
    }
    const score = this.seen < this.params.subSampleSize ? 0 : this.score(point, attr);
    this.add(point);
    return split(score);
  }

  state(): ForestState {
    return {
      seed: this.seed,
      rng: [this.rng[0]!, this.rng[1]!, this.rng[2]!, this.rng[3]!],
      seen: this.seen,
      recent: this.recent.map((r) => [...r]),
      trees: this.trees.map((t) => [...t.seqs]),
      points: [...this.points].map(([seq, p]) => [seq, [...p.v]]),
    };
  }

  /** Points held (each once), for tests of the state's bound. */
  get size(): number {
    return this.points.size;
  }

  /** Uniform in (0, 1) from xoshiro128**. */
  private next(): number {
    const r = this.rng;
    let a = r[0]!, b = r[1]!, c = r[2]!, d = r[3]!;
    const out = Math.imul(rotl(Math.imul(b, 5), 7), 9) >>> 0;
    const t = b << 9;
    c ^= a;
    d ^= b;
    b ^= c;
    a ^= d;
    c ^= t;
    d = rotl(d, 11);
    r[0] = a; r[1] = b; r[2] = c; r[3] = d;
    return (out + 0.5) / 4294967296;
  }

  /** The trees' mean score; with `attr` (high then low, 2 × dimensions) their mean attribution too. */
  private score(point: number[], attr?: Float64Array): number {
    let sum = 0;
    let n = 0;
    for (const t of this.trees) {
      if (t.seqs.length === 0) continue;
      sum += this.scoreTree(t, point, attr);
      n++;
    }
    if (attr && n) for (let k = 0; k < attr.length; k++) attr[k]! /= n;
    return n ? sum / n : 0;
  }

  /**
   * A random cut tree drawn over the sample, followed along the query point's side of each cut to a
   * leaf; on the way back up each node mixes in the chance that a cut of its box widened by the point
   * would have separated the point there (the point would then sit at that depth).
   */
  private scoreTree(t: Tree, p: number[], attr?: Float64Array): number {
    const m = t.seqs.length;
    const d = p.length;
    if (t.sorted) return this.scoreTree1(t.sorted, p[0]!, attr);
    // The sample's coordinates in one flat array, the points' order (any order: the walk partitions it in
    // place cut by cut, and only which points are on a side matters) and the sample's box.
    const w = t.walk && !t.walk.stale ? t.walk : (t.walk = walkOf(t, d, t.walk));
    const { xs, order } = w;
    const box = this.boxes(d);
    let [mins, maxs] = [box[0]!, box[1]!];
    mins.set(w.min);
    maxs.set(w.max);
    const probs: number[] = [];
    // Explaining: per node on the path (and the leaf), each dimension's gap above and below the box, and the widened box's size.
    const gaps: number[] = [];
    const wides: number[] = [];
    let lo = 0;
    let hi = m;
    for (;;) {
      let range = 0;
      let widened = 0;
      let outside = 0;
      for (let k = 0; k < d; k++) {
        const r = maxs[k]! - mins[k]!;
        range += r;
        const w = Math.max(maxs[k]!, p[k]!) - Math.min(mins[k]!, p[k]!);
        widened += w;
        outside += w - r;
      }
      if (attr) {
        // A cut that failed to split is drawn again at the same node: its entries are replaced.
        gaps.length = probs.length * 2 * d;
        wides.length = probs.length;
        for (let k = 0; k < d; k++) gaps.push(Math.max(p[k]! - maxs[k]!, 0), Math.max(mins[k]! - p[k]!, 0));
        wides.push(widened);
      }
      if (hi - lo === 1 || range === 0) break;
      // The cut: a dimension with probability proportional to its range, a value uniform in it.
      let r = this.next() * range;
      let dim = 0;
      while (dim < d - 1 && r >= maxs[dim]! - mins[dim]!) { r -= maxs[dim]! - mins[dim]!; dim++; }
      const cut = Math.min(mins[dim]! + r, maxs[dim]!);
      // Partition [lo, hi): points at or below the cut first, and the box of the side the point follows as it goes.
      const goLeft = p[dim]! <= cut;
      const nmin = box[2]!;
      const nmax = box[3]!;
      nmin.fill(Number.POSITIVE_INFINITY);
      nmax.fill(Number.NEGATIVE_INFINITY);
      let i = lo;
      let j = hi - 1;
      while (i <= j) {
        const o = order[i]!;
        const left = xs[o + dim]! <= cut;
        if (left === goLeft) {
          for (let k = 0; k < d; k++) {
            const x = xs[o + k]!;
            if (x < nmin[k]!) nmin[k] = x;
            if (x > nmax[k]!) nmax[k] = x;
          }
        }
        if (left) i++;
        else { order[i] = order[j]!; order[j] = o; j--; }
      }
      // A cut at the box's maximum (rounding) leaves one side empty: no split, draw again.
      if (i === lo || i === hi) continue;
      probs.push(widened > 0 ? outside / widened : 0);
      if (goLeft) hi = i;
      else lo = i;
      // The side followed becomes the box; the old box's arrays become the scratch.
      box[2] = mins;
      box[3] = maxs;
      box[0] = mins = nmin;
      box[1] = maxs = nmax;
    }
    const leaf = order[lo]!;
    let same = true;
    for (let k = 0; k < d && same; k++) same = xs[leaf + k] === p[k];
    return this.finish(m, hi - lo, same, d, probs, gaps, wides, attr);
  }

  /**
   * scoreTree() for one-dimensional points over the sample's sorted values: a node's points are a
   * range of them, its box their first and last, a cut's side a binary search. The same draws, cuts
   * and result as the general walk, without a pass over the node's points at every level.
   */
  private scoreTree1(sorted: number[], p: number, attr?: Float64Array): number {
    const m = sorted.length;
    const probs: number[] = [];
    const gaps: number[] = [];
    const wides: number[] = [];
    let lo = 0;
    let hi = m;
    for (;;) {
      const min = sorted[lo]!;
      const max = sorted[hi - 1]!;
      const range = max - min;
      const widened = Math.max(max, p) - Math.min(min, p);
      if (attr) {
        gaps.length = probs.length * 2;
        wides.length = probs.length;
        gaps.push(Math.max(p - max, 0), Math.max(min - p, 0));
        wides.push(widened);
      }
      if (hi - lo === 1 || range === 0) break;
      const cut = Math.min(min + this.next() * range, max);
      // The first point above the cut.
      let a = lo;
      let b = hi;
      while (a < b) {
        const mid = (a + b) >> 1;
        if (sorted[mid]! <= cut) a = mid + 1;
        else b = mid;
      }
      if (a === lo || a === hi) continue;
      probs.push(widened > 0 ? (widened - range) / widened : 0);
      if (p <= cut) hi = a;
      else lo = a;
    }
    return this.finish(m, hi - lo, sorted[lo] === p, 1, probs, gaps, wides, attr);
  }

  /** The tree's score from the path's separation chances and its leaf (mass, whether it is the point), normalised. */
  private finish(m: number, mass: number, same: boolean, d: number, probs: number[], gaps: number[], wides: number[], attr?: Float64Array): number {
    const depth = probs.length;
    let score = same ? (1 - mass / (2 * m)) / (depth + Math.log2(mass + 1)) : 1 / (depth + 1);
    if (attr) this.attribute(attr, score, same, d, depth, probs, gaps, wides, Math.log2(m + 1));
    for (let k = depth - 1; k >= 0; k--) score = probs[k]! / (k + 1) + (1 - probs[k]!) * score;
    return score * Math.log2(m + 1);
  }

  /**
   * The tree's score split over the dimensions, as AWS's attribution visitor does: at the leaf by
   * each dimension's share of the gap between the point and the leaf (evenly when the point is the
   * leaf's), then at each node up the path the share of the chance of being cut off there that
   * comes from the dimension's gap above (high) or below (low) the node's box.
   */
  private attribute(attr: Float64Array, leafScore: number, same: boolean, d: number, depth: number, probs: number[], gaps: number[], wides: number[], norm: number): void {
    const high = new Float64Array(d);
    const low = new Float64Array(d);
    const leafWide = wides[depth]!;
    for (let k = 0; k < d; k++) {
      if (same || leafWide <= 0) high[k] = low[k] = leafScore / (2 * d);
      else {
        high[k] = (leafScore * gaps[2 * (depth * d + k)]!) / leafWide;
        low[k] = (leafScore * gaps[2 * (depth * d + k) + 1]!) / leafWide;
      }
    }
    for (let n = depth - 1; n >= 0; n--) {
      const prob = probs[n]!;
      if (prob <= 0) continue;
      const unseen = 1 / (n + 1);
      for (let k = 0; k < d; k++) {
        high[k] = (gaps[2 * (n * d + k)]! / wides[n]!) * unseen + (1 - prob) * high[k]!;
        low[k] = (gaps[2 * (n * d + k) + 1]! / wides[n]!) * unseen + (1 - prob) * low[k]!;
      }
    }
    for (let k = 0; k < d; k++) {
      attr[k]! += high[k]! * norm;
      attr[d + k]! += low[k]! * norm;
    }
  }

  /**
   * A point's sampling weight in a tree: -λ·seq + log(-log u) (λ = 1/timeDecay), u uniform in (0, 1)
   * hashed from the tree's salt and the sequence number, so a restored forest recomputes it.
   */
  private weight(ti: number, seq: number): number {
    const lo = seq % 4294967296;
    const hi = Math.floor(seq / 4294967296);
    const h = fmix32(fmix32(Math.imul(lo, 0x9e3779b1) ^ this.salts[ti]!) ^ Math.imul(hi + 1, 0x85ebca77));
    return -this.lambda * seq + Math.log(-Math.log((h + 0.5) / 4294967296));
  }

  /**
   * Offers the point to every tree's sample: kept while the sample is not full or when lighter than
   * its heaviest point, so newer points are kept more often and older ones leave first; a point
   * older than timeDecay points leaves in any case.
   */
  private add(point: number[]): void {
    const seq = this.seen++;
    const cutoff = seq - this.params.timeDecay;
    const cap = this.params.subSampleSize;
    let entry: { v: number[]; refs: number } | undefined;
    this.trees.forEach((t, ti) => {
      if (this.oldest[ti]! <= cutoff) this.expire(t, ti, cutoff);
      const w = this.weight(ti, seq);
      if (t.seqs.length >= cap) {
        if (w >= t.weights[0]!) return;
        this.release(t.seqs[0]!);
        if (t.sorted) t.sorted.splice(lowerBound(t.sorted, t.pts[0]![0]!), 1);
        const lastSeq = t.seqs.pop()!;
        const lastW = t.weights.pop()!;
        const lastP = t.pts.pop()!;
        if (t.seqs.length) { t.seqs[0] = lastSeq; t.weights[0] = lastW; t.pts[0] = lastP; siftDown(t, 0); }
      }
      if (!entry) this.points.set(seq, (entry = { v: point, refs: 0 }));
      entry.refs++;
      t.seqs.push(seq);
      t.weights.push(w);
      t.pts.push(entry.v);
      if (t.walk) t.walk.stale = true;
      siftUp(t, t.seqs.length - 1);
      if (point.length === 1) {
        t.sorted ??= [];
        t.sorted.splice(lowerBound(t.sorted, point[0]!), 0, point[0]!);
      }
      if (seq < this.oldest[ti]!) this.oldest[ti] = seq;
    });
  }

  private expire(t: Tree, ti: number, cutoff: number): void {
    const keep: number[] = [];
    for (let i = 0; i < t.seqs.length; i++) {
      if (t.seqs[i]! <= cutoff) this.release(t.seqs[i]!);
      else keep.push(i);
    }
    t.seqs = keep.map((i) => t.seqs[i]!);
    t.weights = keep.map((i) => t.weights[i]!);
    t.pts = keep.map((i) => t.pts[i]!);
    if (t.walk) t.walk.stale = true;
    if (t.sorted) t.sorted = t.pts.map((v) => v[0]!).sort((a, b) => a - b);
    for (let i = (t.seqs.length >> 1) - 1; i >= 0; i--) siftDown(t, i);
    this.oldest[ti] = t.seqs.reduce((m, s) => Math.min(m, s), Number.POSITIVE_INFINITY);
  }

  private release(seq: number): void {
    const p = this.points.get(seq)!;
    if (--p.refs === 0) this.points.delete(seq);
  }
}

/** A tree's sample laid out for the general walk (in `old`'s arrays when they fit). */
function walkOf(t: Tree, d: number, old?: Tree['walk']): NonNullable<Tree['walk']> {
  const m = t.pts.length;
  const fits = old !== undefined && old.order.length === m && old.min.length === d;
  const xs = fits ? old.xs : new Float64Array(m * d);
  const order = fits ? old.order : new Int32Array(m);
  const min = (fits ? old.min : new Float64Array(d)).fill(Number.POSITIVE_INFINITY);
  const max = (fits ? old.max : new Float64Array(d)).fill(Number.NEGATIVE_INFINITY);
  for (let i = 0; i < m; i++) {
    order[i] = i * d;
    const v = t.pts[i]!;
    for (let k = 0; k < d; k++) {
      const x = v[k]!;
      xs[i * d + k] = x;
      if (x < min[k]!) min[k] = x;
      if (x > max[k]!) max[k] = x;
    }
  }
  return { xs, order, min, max, stale: false };
}

/** The first index of `xs` (ascending) whose value is not below `x`. */
function lowerBound(xs: number[], x: number): number {
  let a = 0;
  let b = xs.length;
  while (a < b) {
    const mid = (a + b) >> 1;
    if (xs[mid]! < x) a = mid + 1;
    else b = mid;
  }
  return a;
}

/** murmur3's 32-bit finaliser: every input bit moves every output bit. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

const rotl = (x: number, k: number) => ((x << k) | (x >>> (32 - k))) >>> 0;

function swap(t: Tree, a: number, b: number): void {
  const s = t.seqs[a]!; t.seqs[a] = t.seqs[b]!; t.seqs[b] = s;
  const w = t.weights[a]!; t.weights[a] = t.weights[b]!; t.weights[b] = w;
  const p = t.pts[a]!; t.pts[a] = t.pts[b]!; t.pts[b] = p;
}

function siftUp(t: Tree, i: number): void {
  while (i > 0) {
    const parent = (i - 1) >> 1;
    if (t.weights[parent]! >= t.weights[i]!) return;
    swap(t, i, parent);
    i = parent;
  }
}

function siftDown(t: Tree, i: number): void {
  const n = t.seqs.length;
  for (;;) {
    const l = 2 * i + 1;
    const r = l + 1;
    let top = i;
    if (l < n && t.weights[l]! > t.weights[top]!) top = l;
    if (r < n && t.weights[r]! > t.weights[top]!) top = r;
    if (top === i) return;
    swap(t, i, top);
    i = top;
  }
}
