// One random cut tree of a RANDOM_CUT_FOREST, kept node by node as the paper's insert and delete
// keep it (Guha et al. 2016): a point comes in by descending from the root and, at each node, a cut
// drawn over the node's box widened by the point (a dimension with probability proportional to its
// range, a value uniform in it); the first cut that falls between the point and the box puts a new
// node there, with the point's leaf on one side and the old subtree on the other. A point leaves by
// removing its leaf and splicing the sibling up. Equal points share a leaf (its mass). Every
// internal node keeps the exact bounding box of its leaves, so scoring a point is one walk down and
// back up its path: O(depth × dimensions).
//
// Layout: internal nodes are indices into typed arrays (a free list each for nodes and leaves); a
// child reference is the node's index, or ~leaf (negative) for a leaf. A leaf holds its point's
// values (the forest's own arrays) and its mass; boxes live only on internal nodes. The tree's
// checkpoint is its shape: the internal nodes' cut dimensions and values in pre-order (leaves
// follow from the sample, which the forest checkpoints anyway), and the boxes are recomputed, so a
// decoded tree is the same tree, bit for bit.

export class CutTree {
  /** Points held, counting equal points once each (the sample's size). */
  size = 0;
  /** The root's child reference (meaningless while size is 0). */
  private root = 0;
  private readonly left: Int32Array;
  private readonly right: Int32Array;
  private readonly parent: Int32Array;
  private readonly dim: Int32Array;
  private readonly cut: Float64Array;
  /** Per internal node, its box: d minima at lo[n·d], d maxima at hi[n·d]. */
  private readonly lo: Float64Array;
  private readonly hi: Float64Array;
  private readonly leafPt: (number[] | undefined)[];
  private readonly leafMass: Int32Array;
  private readonly leafParent: Int32Array;
  private readonly freeNodes: Int32Array;
  private readonly freeLeaves: Int32Array;
  private nFreeNodes: number;
  private nFreeLeaves: number;

  /** A tree of at most `capacity` points of `d` dimensions. */
  constructor(readonly d: number, readonly capacity: number) {
    this.left = new Int32Array(capacity);
    this.right = new Int32Array(capacity);
    this.parent = new Int32Array(capacity);
    this.dim = new Int32Array(capacity);
    this.cut = new Float64Array(capacity);
    this.lo = new Float64Array(capacity * d);
    this.hi = new Float64Array(capacity * d);
    this.leafPt = new Array<number[] | undefined>(capacity).fill(undefined);
    this.leafMass = new Int32Array(capacity);
    this.leafParent = new Int32Array(capacity);
    // Free lists handed out lowest index first (which index a node gets never changes what the tree does).
    this.freeNodes = Int32Array.from({ length: capacity }, (_, i) => capacity - 1 - i);
    this.freeLeaves = Int32Array.from({ length: capacity }, (_, i) => capacity - 1 - i);
    this.nFreeNodes = capacity;
    this.nFreeLeaves = capacity;
  }

  /** Adds the point (its values array is kept as the leaf's); `u` draws uniform numbers in (0, 1). */
  insert(p: number[], u: () => number): void {
    const d = this.d;
    if (this.size === 0) {
      const l = this.newLeaf(p, -1);
      this.root = ~l;
      this.size = 1;
      return;
    }
    if (this.size >= this.capacity) throw new Error(`random cut tree: full (${this.capacity} points)`);
    let ref = this.root;
    for (;;) {
      // The node's box against the point: how far the point lies outside it, and the widened box's size.
      let outside = 0;
      let widened = 0;
      const leafV = ref < 0 ? this.leafPt[~ref]! : undefined;
      const base = ref * d;
      for (let k = 0; k < d; k++) {
        const mn = leafV ? leafV[k]! : this.lo[base + k]!;
        const mx = leafV ? leafV[k]! : this.hi[base + k]!;
        const x = p[k]!;
        if (x < mn) { outside += mn - x; widened += mx - x; }
        else if (x > mx) { outside += x - mx; widened += x - mn; }
        else widened += mx - mn;
      }
      if (outside === 0) {
        if (ref < 0) {
          this.leafMass[~ref]!++;
          this.size++;
          return;
        }
        ref = p[this.dim[ref]!]! <= this.cut[ref]! ? this.left[ref]! : this.right[ref]!;
        continue;
      }
      // The cut over the widened box.
      let r = u() * widened;
      let k = 0;
      let mn = 0;
      let mx = 0;
      let c = 0;
      for (; k < d; k++) {
        mn = leafV ? leafV[k]! : this.lo[base + k]!;
        mx = leafV ? leafV[k]! : this.hi[base + k]!;
        const x = p[k]!;
        const wlo = x < mn ? x : mn;
        const whi = x > mx ? x : mx;
        if (r < whi - wlo || k === d - 1) { c = wlo + r; break; }
        r -= whi - wlo;
      }
      const x = p[k]!;
      // Between the point and the box (points at or below a cut go left).
      let pointLeft = x < mn && c >= x && c < mn;
      const pointRight = x > mx && c >= mx && c < x;
      if (!pointLeft && !pointRight && leafV) {
        // A leaf must be cut off, and a draw that rounding (or a range too wide for a double) left on
        // the box's edge did not: cut at the first dimension where they differ, at the lower value.
        k = 0;
        while (!(p[k]! < leafV[k]! || p[k]! > leafV[k]!)) k++;
        c = Math.min(p[k]!, leafV[k]!);
        pointLeft = p[k]! < leafV[k]!;
      }
      if (pointLeft || pointRight || leafV) {
        const up = ref < 0 ? this.leafParent[~ref]! : this.parent[ref]!;
        const n = this.newNode(k, c, up);
        const l = this.newLeaf(p, n);
        this.left[n] = pointLeft ? ~l : ref;
        this.right[n] = pointLeft ? ref : ~l;
        this.setParent(ref, n);
        this.replaceChild(up, ref, n);
        const nb = n * d;
        for (let j = 0; j < d; j++) {
          const bmn = leafV ? leafV[j]! : this.lo[base + j]!;
          const bmx = leafV ? leafV[j]! : this.hi[base + j]!;
          const y = p[j]!;
          this.lo[nb + j] = y < bmn ? y : bmn;
          this.hi[nb + j] = y > bmx ? y : bmx;
        }
        this.size++;
        return;
      }
      // Not here: the node's box takes the point, which goes down the node's own cut.
      for (let j = 0; j < d; j++) {
        const y = p[j]!;
        if (y < this.lo[base + j]!) this.lo[base + j] = y;
        if (y > this.hi[base + j]!) this.hi[base + j] = y;
      }
      ref = p[this.dim[ref]!]! <= this.cut[ref]! ? this.left[ref]! : this.right[ref]!;
    }
  }

  /** Removes one point equal to `p` (which the tree must hold). */
  remove(p: number[]): void {
    const d = this.d;
    let ref = this.root;
    if (this.size === 0) throw new Error('random cut tree: removing from an empty tree');
    while (ref >= 0) ref = p[this.dim[ref]!]! <= this.cut[ref]! ? this.left[ref]! : this.right[ref]!;
    const l = ~ref;
    const v = this.leafPt[l]!;
    for (let k = 0; k < d; k++) if (v[k] !== p[k]) throw new Error('random cut tree: removing a point it does not hold');
    this.size--;
    if (--this.leafMass[l]! > 0) return;
    const par = this.leafParent[l]!;
    this.freeLeaf(l);
    if (par < 0) return;
    const sib = this.left[par] === ref ? this.right[par]! : this.left[par]!;
    const g = this.parent[par]!;
    this.freeNode(par);
    this.setParent(sib, g);
    this.replaceChild(g, par, sib);
    // The boxes above shrink to their children's union, up to the first that does not change.
    for (let a = g; a >= 0; a = this.parent[a]!) if (!this.refit(a)) break;
  }

  /**
   * The tree's anomaly score of `p` (AWS's standard score, normalised by log2 of the sample size):
   * down the path to a leaf, then back up mixing in at each node the chance that a cut of its box
   * widened by the point would have cut the point off there. With `high`/`low` (d numbers each) the
   * score's attribution to each dimension's gaps above and below the boxes is added to them.
   * `path` is scratch of at least `capacity` entries.
   */
  score(p: number[], path: Int32Array, high?: Float64Array, low?: Float64Array): number {
    const d = this.d;
    const m = this.size;
    const { dim, cut, left, right, lo, hi } = this;
    let ref = this.root;
    let depth = 0;
    while (ref >= 0) {
      path[depth++] = ref;
      ref = p[dim[ref]!]! <= cut[ref]! ? left[ref]! : right[ref]!;
    }
    const v = this.leafPt[~ref]!;
    const mass = this.leafMass[~ref]!;
    let leafWide = 0;
    for (let k = 0; k < d; k++) leafWide += Math.abs(p[k]! - v[k]!);
    const same = leafWide === 0;
    let score = same ? (1 - mass / (2 * m)) / (depth + Math.log2(mass + 1)) : 1 / (depth + 1);
    if (high && low) {
      for (let k = 0; k < d; k++) {
        if (same) high[k] = low[k] = score / (2 * d);
        else {
          high[k] = (score * Math.max(p[k]! - v[k]!, 0)) / leafWide;
          low[k] = (score * Math.max(v[k]! - p[k]!, 0)) / leafWide;
        }
      }
    }
    for (let n = depth - 1; n >= 0; n--) {
      const base = path[n]! * d;
      let outside = 0;
      let range = 0;
      for (let k = 0; k < d; k++) {
        const mn = lo[base + k]!;
        const mx = hi[base + k]!;
        const x = p[k]!;
        range += mx - mn;
        if (x < mn) outside += mn - x;
        else if (x > mx) outside += x - mx;
      }
      // Inside this box, inside every box above: no cut there could separate the point.
      if (outside === 0) break;
      const widened = range + outside;
      // (Both infinite only when a gap overflows a double: the point is then as far out as can be.)
      const prob = widened === Infinity && outside === Infinity ? 1 : outside / widened;
      const unseen = 1 / (n + 1);
      score = prob * unseen + (1 - prob) * score;
      if (high && low) {
        for (let k = 0; k < d; k++) {
          const x = p[k]!;
          high[k] = (Math.max(x - hi[base + k]!, 0) / widened) * unseen + (1 - prob) * high[k]!;
          low[k] = (Math.max(lo[base + k]! - x, 0) / widened) * unseen + (1 - prob) * low[k]!;
        }
      }
    }
    return score;
  }

  /** The shape: the internal nodes' cuts in pre-order (u16 per node: 0 a leaf, k+1 a cut on dimension k; then the cut values), base64. */
  encode(): string {
    if (this.size === 0) return '';
    const codes: number[] = [];
    const cuts: number[] = [];
    const stack = [this.root];
    while (stack.length) {
      const ref = stack.pop()!;
      if (ref < 0) { codes.push(0); continue; }
      codes.push(this.dim[ref]! + 1);
      cuts.push(this.cut[ref]!);
      stack.push(this.right[ref]!, this.left[ref]!);
    }
    const buf = Buffer.alloc(8 * cuts.length + 2 * codes.length);
    cuts.forEach((c, i) => buf.writeDoubleLE(c, 8 * i));
    codes.forEach((c, i) => buf.writeUInt16LE(c, 8 * cuts.length + 2 * i));
    return buf.toString('base64');
  }

  /** The tree `encode()` gave, over its points (any order; equal points share a leaf); throws on a shape they do not fit. */
  static decode(shape: string, d: number, capacity: number, points: number[][]): CutTree {
    const t = new CutTree(d, capacity);
    const buf = Buffer.from(shape, 'base64');
    if (buf.length === 0) {
      if (points.length) throw new Error('forest state: an empty tree shape for a non-empty sample');
      return t;
    }
    if ((buf.length - 2) % 12 !== 0) throw new Error('forest state: a tree shape of the wrong length');
    const inner = (buf.length - 2) / 12;
    if (inner + 1 > capacity) throw new Error('forest state: a tree shape larger than the sample');
    const order: number[] = [];
    // Pre-order: each slot to fill is (parent, which side); the root's parent is -1.
    const slots: [number, boolean][] = [[-1, true]];
    let next = 0;
    const leaves: number[] = [];
    while (slots.length) {
      const [up, isLeft] = slots.pop()!;
      if (next >= 2 * inner + 1) throw new Error('forest state: a truncated tree shape');
      const code = buf.readUInt16LE(8 * inner + 2 * next++);
      let ref: number;
      if (code === 0) {
        const l = t.newLeaf(undefined, up);
        leaves.push(l);
        ref = ~l;
      } else {
        if (code > d || order.length >= inner) throw new Error('forest state: a tree shape that does not fit the dimensions');
        const n = t.newNode(code - 1, buf.readDoubleLE(8 * order.length), up);
        order.push(n);
        ref = n;
        slots.push([n, false], [n, true]);
      }
      if (up < 0) t.root = ref;
      else if (isLeft) t.left[up] = ref;
      else t.right[up] = ref;
    }
    if (next !== 2 * inner + 1 || leaves.length !== inner + 1) throw new Error('forest state: a malformed tree shape');
    for (const p of points) {
      let ref = t.root;
      while (ref >= 0) ref = p[t.dim[ref]!]! <= t.cut[ref]! ? t.left[ref]! : t.right[ref]!;
      const l = ~ref;
      const v = t.leafPt[l];
      if (v === undefined) t.leafPt[l] = p;
      else for (let k = 0; k < d; k++) if (v[k] !== p[k]) throw new Error('forest state: two points in one leaf of a tree shape');
      t.leafMass[l]!++;
      t.size++;
    }
    for (const l of leaves) if (t.leafPt[l] === undefined) throw new Error('forest state: a leaf of a tree shape that no point reaches');
    // Children come after their parent in pre-order: boxes from the last node back.
    for (let i = order.length - 1; i >= 0; i--) {
      const n = order[i]!;
      t.refit(n);
      const k = t.dim[n]!;
      if (!(t.maxOf(t.left[n]!, k) <= t.cut[n]! && t.minOf(t.right[n]!, k) > t.cut[n]!)) throw new Error('forest state: a cut of a tree shape that does not split its points');
    }
    return t;
  }

  /** The tree as plain data (tests check its invariants against it). */
  describe(): TreeNode | undefined {
    if (this.size === 0) return undefined;
    const node = (ref: number): TreeNode => ref < 0
      ? { point: [...this.leafPt[~ref]!], mass: this.leafMass[~ref]! }
      : {
        dim: this.dim[ref]!, cut: this.cut[ref]!,
        lo: [...this.lo.subarray(ref * this.d, (ref + 1) * this.d)], hi: [...this.hi.subarray(ref * this.d, (ref + 1) * this.d)],
        left: node(this.left[ref]!), right: node(this.right[ref]!),
      };
    return node(this.root);
  }

  /** Sets node n's box to its children's union; whether it changed. */
  private refit(n: number): boolean {
    const d = this.d;
    const a = this.left[n]!;
    const b = this.right[n]!;
    let changed = false;
    for (let k = 0; k < d; k++) {
      const mn = Math.min(this.minOf(a, k), this.minOf(b, k));
      const mx = Math.max(this.maxOf(a, k), this.maxOf(b, k));
      if (mn !== this.lo[n * d + k] || mx !== this.hi[n * d + k]) {
        changed = true;
        this.lo[n * d + k] = mn;
        this.hi[n * d + k] = mx;
      }
    }
    return changed;
  }

  private minOf(ref: number, k: number): number {
    return ref < 0 ? this.leafPt[~ref]![k]! : this.lo[ref * this.d + k]!;
  }

  private maxOf(ref: number, k: number): number {
    return ref < 0 ? this.leafPt[~ref]![k]! : this.hi[ref * this.d + k]!;
  }

  private setParent(ref: number, up: number): void {
    if (ref < 0) this.leafParent[~ref] = up;
    else this.parent[ref] = up;
  }

  /** In node `up` (or at the root when up is -1), the child `from` becomes `to`. */
  private replaceChild(up: number, from: number, to: number): void {
    if (up < 0) this.root = to;
    else if (this.left[up] === from) this.left[up] = to;
    else this.right[up] = to;
  }

  private newNode(dim: number, cut: number, up: number): number {
    if (this.nFreeNodes === 0) throw new Error('random cut tree: out of nodes');
    const n = this.freeNodes[--this.nFreeNodes]!;
    this.dim[n] = dim;
    this.cut[n] = cut;
    this.parent[n] = up;
    return n;
  }

  private newLeaf(p: number[] | undefined, up: number): number {
    if (this.nFreeLeaves === 0) throw new Error('random cut tree: out of leaves');
    const l = this.freeLeaves[--this.nFreeLeaves]!;
    this.leafPt[l] = p;
    this.leafMass[l] = p ? 1 : 0;
    this.leafParent[l] = up;
    return l;
  }

  private freeNode(n: number): void {
    this.freeNodes[this.nFreeNodes++] = n;
  }

  private freeLeaf(l: number): void {
    this.leafPt[l] = undefined;
    this.freeLeaves[this.nFreeLeaves++] = l;
  }
}

/** A tree node as plain data: a cut with its box and children, or a leaf with its point and mass. */
export type TreeNode =
  | { dim: number; cut: number; lo: number[]; hi: number[]; left: TreeNode; right: TreeNode }
  | { point: number[]; mass: number };
