// Typed arrays a closed window's fold table is done with, kept for the next
// window's tables. A typed array's memory lives outside V8's heap, and V8
// starts a full (mark-compact) collection each time that memory grows by
// 64 MB, whatever the heap holds: a 100k-key window's tables (hash table,
// fold columns, stamps) are megabytes that live for the whole window, so a
// new set per window and shard, grown by doubling as the window filled, kept
// a worker in major GCs. Lengths are powers of two, so one window's arrays
// fit the next one's.

type Typed = Float64Array | Int32Array | Uint8Array;

/** Free arrays of one type by length, a few of each. */
class Pool<T extends Typed> {
  private readonly free = new Map<number, T[]>();
  constructor(private readonly make: (n: number) => T, private readonly keep: number) {}

  /** An array of `n` elements, all 0, as `new` would give. */
  take(n: number): T {
    const a = this.free.get(n)?.pop();
    if (a === undefined) return this.make(n);
    a.fill(0);
    return a;
  }

  /** Back to the pool: the caller must not touch it again. */
  give(a: T): void {
    if (a.length === 0 || a.byteOffset !== 0 || a.byteLength !== a.buffer.byteLength) return;
    let list = this.free.get(a.length);
    if (!list) this.free.set(a.length, (list = []));
    if (list.length < this.keep) list.push(a);
  }
}

/** Enough for the tables of one window per shard of a worker and the combiner's, with its next window's beside them. */
const KEEP = 16;
export const float64s = new Pool<Float64Array>((n) => new Float64Array(n), KEEP);
export const int32s = new Pool<Int32Array>((n) => new Int32Array(n), KEEP);
export const uint8s = new Pool<Uint8Array>((n) => new Uint8Array(n), KEEP);

/** The least power of two ≥ n (and ≥ min). */
export function powerOfTwo(n: number, min = 16): number {
  let size = min;
  while (size < n) size *= 2;
  return size;
}
