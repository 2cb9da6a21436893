// The model behind KDA's RANDOM_CUT_FOREST: a forest of random cut trees
// (Guha et al. 2016, "Robust Random Cut Forest Based Anomaly Detection on
// Streams"), each over its own time-decayed reservoir sample of the stream's
// points, scored with the standard RCF anomaly score (the expected change of
// depth, folded along the path with 1/(depth+1) terms, normalised by log2 of
// the sample size) and averaged over the trees.
//
// Each tree is a random cut tree kept node by node (cutTree.ts) over its sample: a point the sample
// takes is inserted (descending, possibly cut off above a node by a cut drawn over the node's box
// widened by the point), the point it evicts deleted (its leaf removed, the sibling spliced up, the
// boxes above refitted), so scoring a point is one walk down and up its path, O(depth × dimensions)
// a tree. The random draws come from one seeded xoshiro128** generator; a point's sampling weight is
// a hash of its tree and sequence number, so it is recomputed rather than stored. A checkpoint holds
// (plain JSON) each tree's points by sequence number, each point's values once, each tree's shape
// (its cuts in pre-order, base64: 12 bytes a cut) and the generator's four words: bounded by trees ×
// sample size points and cuts. A restored forest rebuilds the same trees (the sample's points
// dropped down the cuts, the boxes recomputed, exactly) and continues with exactly the scores an
// uninterrupted one gives. (The first version drew each tree afresh over its sample for every point:
// the same distribution of trees, but O(sample × dimensions) a tree; it is the bench's peer now.)

import type { ForestParams } from '../sql/randomCutForest.js';
import { CutTree, type TreeNode } from './cutTree.js';

/**
 * A tree's sample: a max-heap on weight (the point evicted next at the root), points named by
 * sequence number, with their values at hand (the same arrays the forest's point table holds), and
 * the random cut tree over it (made with the first point, when the dimensions are known). In the
 * state: `seqs` and the tree's shape; the rest follows from them.
 */
interface Tree {
  seqs: number[];
  weights: number[];
  pts: number[][];
  tree?: CutTree;
}

export interface ForestState {
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
  /**
   * Each tree's shape (CutTree.encode: its cuts in pre-order, base64). Absent in a checkpoint of the
   * first version, which redrew its trees: then each tree is built by inserting its sample in order.
   */
  shapes?: string[];
  /** Every point some tree holds, each once: [seq, values]. */
  points: [number, number[]][];
}

export class RandomCutForest {
  private rng: Uint32Array;
  private seen: number;
  private recent: number[][];
  private trees: Tree[];
  private points = new Map<number, { v: number[]; refs: number }>();
  /** Per tree: the lowest sequence number it may hold (a bound: points older than timeDecay go first). */
  private oldest: number[];
  /** Scratch for scoring: a path, a tree's attribution above and below. */
  private path = new Int32Array(0);
  private high = new Float64Array(0);
  private low = new Float64Array(0);
  private readonly draw = () => this.next();
  /** Per tree: hashes up to skipBelow are turned away without their weight while seq ≤ skipUntil (see skipRejected). */
  private skipBelow: Float64Array;
  private skipUntil: Float64Array;
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
      if (state.shapes && state.shapes.length !== state.trees.length) throw new Error(`forest state: ${state.shapes.length} tree shapes for ${state.trees.length} trees`);
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
      for (const [ti, t] of this.trees.entries()) {
        if (t.pts.length === 0) continue;
        const d = t.pts[0]!.length;
        if (state.shapes) t.tree = CutTree.decode(state.shapes[ti]!, d, params.subSampleSize, t.pts);
        else {
          // A checkpoint of the redrawing version: the same sample, its tree built afresh (oldest point first).
          t.tree = new CutTree(d, params.subSampleSize);
          const byAge = t.seqs.map((seq, i) => [seq, i] as const).sort((a, b) => a[0] - b[0]);
          for (const [, i] of byAge) t.tree.insert(t.pts[i]!, this.draw);
        }
      }
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
    this.skipBelow = new Float64Array(this.trees.length);
    this.skipUntil = new Float64Array(this.trees.length).fill(-1);
    this.oldest = this.trees.map((t) => t.seqs.reduce((m, s) => Math.min(m, s), Number.POSITIVE_INFINITY));
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
      shapes: this.trees.map((t) => t.tree?.encode() ?? ''),
      points: [...this.points].map(([seq, p]) => [seq, [...p.v]]),
    };
  }

  /** Points held (each once), for tests of the state's bound. */
  get size(): number {
    return this.points.size;
  }

  /** Tree i as plain data and its sample's points (tests check the tree's invariants against them). */
  inspect(i: number): { tree?: TreeNode; sample: number[][] } {
    const t = this.trees[i]!;
    return { tree: t.tree?.describe(), sample: t.pts.map((v) => [...v]) };
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
    const d = point.length;
    if (this.path.length < this.params.subSampleSize) this.path = new Int32Array(this.params.subSampleSize);
    if (attr && this.high.length !== d) { this.high = new Float64Array(d); this.low = new Float64Array(d); }
    const high = attr ? this.high : undefined;
    const low = attr ? this.low : undefined;
    let sum = 0;
    let n = 0;
    for (const t of this.trees) {
      const tree = t.tree;
      if (!tree || tree.size === 0) continue;
      const norm = Math.log2(tree.size + 1);
      sum += tree.score(point, this.path, high, low) * norm;
      n++;
      if (attr) {
        for (let k = 0; k < d; k++) {
          attr[k]! += high![k]! * norm;
          attr[d + k]! += low![k]! * norm;
        }
      }
    }
    if (attr && n) for (let k = 0; k < attr.length; k++) attr[k]! /= n;
    return n ? sum / n : 0;
  }

  /**
   * A point's sampling weight in a tree: -λ·seq + log(-log u) (λ = 1/timeDecay), u uniform in (0, 1)
   * hashed from the tree's salt and the sequence number, so a restored forest recomputes it.
   */
  private weight(ti: number, seq: number): number {
    const [a, b] = seqMix(seq);
    return this.weightOf(fmix32(fmix32(a ^ this.salts[ti]!) ^ b), seq);
  }

  private weightOf(h: number, seq: number): number {
    return -this.lambda * seq + Math.log(-Math.log((h + 0.5) / 4294967296));
  }

  /**
   * After a full sample turned a point away: the hashes that will be turned away too, without their
   * weight's two logarithms, while the heaviest weight `top` stays and for the next 4096 points. The
   * weight falls as u rises, so it is at least top when u ≤ exp(−exp(top + λ·seq)), which falls as
   * seq grows; the bound sits below that at seq + 4096 by far more than rounding in computing the
   * weight could move it, so a hash under it is turned away exactly when its weight would be.
   */
  private skipRejected(ti: number, seq: number, top: number): void {
    const until = seq + 4096;
    const x = this.lambda * until + top;
    const bound = Math.exp(-Math.exp(x)) - 2 ** -40 * (Math.abs(x) + this.lambda * until + 64);
    this.skipUntil[ti] = until;
    this.skipBelow[ti] = bound > 0 ? Math.floor(bound * 4294967296 - 0.5) : -1;
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
    // The sequence number's part of every tree's hash (u = (h + 0.5) / 2^32), once.
    const [a, b] = seqMix(seq);
    for (let ti = 0; ti < this.trees.length; ti++) {
      const t = this.trees[ti]!;
      if (this.oldest[ti]! <= cutoff) this.expire(t, ti, cutoff);
      const h = fmix32(fmix32(a ^ this.salts[ti]!) ^ b);
      if (t.seqs.length >= cap && seq <= this.skipUntil[ti]! && h <= this.skipBelow[ti]!) continue;
      const w = this.weightOf(h, seq);
      if (t.seqs.length >= cap) {
        if (w >= t.weights[0]!) {
          if (seq > this.skipUntil[ti]!) this.skipRejected(ti, seq, t.weights[0]!);
          continue;
        }
        this.release(t.seqs[0]!);
        t.tree!.remove(t.pts[0]!);
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
      this.skipUntil[ti] = -1;
      siftUp(t, t.seqs.length - 1);
      t.tree ??= new CutTree(point.length, cap);
      t.tree.insert(entry.v, this.draw);
      if (seq < this.oldest[ti]!) this.oldest[ti] = seq;
    }
  }

  private expire(t: Tree, ti: number, cutoff: number): void {
    this.skipUntil[ti] = -1;
    const keep: number[] = [];
    for (let i = 0; i < t.seqs.length; i++) {
      if (t.seqs[i]! <= cutoff) {
        this.release(t.seqs[i]!);
        t.tree!.remove(t.pts[i]!);
      } else keep.push(i);
    }
    t.seqs = keep.map((i) => t.seqs[i]!);
    t.weights = keep.map((i) => t.weights[i]!);
    t.pts = keep.map((i) => t.pts[i]!);
    for (let i = (t.seqs.length >> 1) - 1; i >= 0; i--) siftDown(t, i);
    this.oldest[ti] = t.seqs.reduce((m, s) => Math.min(m, s), Number.POSITIVE_INFINITY);
  }

  private release(seq: number): void {
    const p = this.points.get(seq)!;
    if (--p.refs === 0) this.points.delete(seq);
  }
}

/** A sequence number's two words, multiplied in as a tree's hash of it mixes them. */
function seqMix(seq: number): [number, number] {
  const lo = seq % 4294967296;
  const hi = Math.floor(seq / 4294967296);
  return [Math.imul(lo, 0x9e3779b1), Math.imul(hi + 1, 0x85ebca77)];
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
