// Group key → slot, for the fold tables (worker/foldTable.ts) and a batch's
// groups (batchFold.ts). Numbers, the usual key (a bidder, an id), go into an
// open-addressing table of two typed arrays:
// no entry object per key and no Map rehash copying 100k entries as a window
// fills; anything else (strings, NULL, several keys as one JSON text, NaN)
// into a Map. Keys are equal as a Map's are (SameValueZero: 0 and -0 are one
// key, NaN is one key). Its arrays come from and go back to arrayPool.ts.
import { float64s, int32s, powerOfTwo } from './arrayPool.js';

/** Bits of a double, for its hash. */
const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);

/** Both words of the double, then murmur3's finaliser: the low bits (the table's index) depend on every bit of the key (an integer's bits sit high in its double). */
function hashOf(k: number): number {
  f64[0] = k;
  let h = u32[0]! ^ Math.imul(u32[1]!, 0x9e3779b1);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

export class KeySlots {
  private keys: Float64Array;
  private slots: Int32Array;
  private used = 0;
  private other?: Map<unknown, number>;

  /** `expected`: keys it will likely hold (a window like the last one): sized for them, no growing as it fills. */
  constructor(expected = 0) {
    const size = powerOfTwo(2 * expected, 1024);
    this.keys = float64s.take(size);
    this.slots = int32s.take(size).fill(-1);
  }

  /** Its arrays back to the pool: the table must not be used again. */
  release(): void {
    float64s.give(this.keys);
    int32s.give(this.slots);
    this.keys = new Float64Array(0);
    this.slots = new Int32Array(0);
    this.used = 0;
    this.other = undefined;
  }

  /** The key's slot, or -1. */
  find(k: unknown): number {
    if (typeof k !== 'number' || k !== k) return this.other?.get(k) ?? -1;
    const { keys, slots } = this;
    const mask = slots.length - 1;
    const x = k + 0; // -0 → 0
    for (let i = hashOf(x) & mask; ; i = (i + 1) & mask) {
      const s = slots[i]!;
      // (Not `s < 0`: a released table's empty arrays give undefined.)
      if (!(s >= 0)) return -1;
      if (keys[i] === x) return s;
    }
  }

  /** The key's slot; a key it does not know gets `slot` and -1 is returned (one probe for both). */
  slotOrInsert(k: unknown, slot: number): number {
    if (typeof k !== 'number' || k !== k) {
      const s = this.other?.get(k);
      if (s !== undefined) return s;
      (this.other ??= new Map()).set(k, slot);
      return -1;
    }
    if (2 * (this.used + 1) > this.slots.length) this.grow();
    const { keys, slots } = this;
    const mask = slots.length - 1;
    const x = k + 0; // -0 → 0
    let i = hashOf(x) & mask;
    for (let s = slots[i]!; s >= 0; s = slots[i]!) {
      if (keys[i] === x) return s;
      i = (i + 1) & mask;
    }
    keys[i] = x;
    slots[i] = slot;
    this.used++;
    return -1;
  }

  /** Gives a key that find() does not know its slot. */
  insert(k: unknown, slot: number): void {
    this.slotOrInsert(k, slot);
  }

  private place(x: number, slot: number): void {
    const { keys, slots } = this;
    const mask = slots.length - 1;
    let i = hashOf(x) & mask;
    while (slots[i]! >= 0) i = (i + 1) & mask;
    keys[i] = x;
    slots[i] = slot;
  }

  private grow(): void {
    const { keys, slots } = this;
    if (slots.length === 0) throw new Error('a released KeySlots was used');
    this.keys = float64s.take(slots.length * 2);
    this.slots = int32s.take(slots.length * 2).fill(-1);
    for (let i = 0; i < slots.length; i++) if (slots[i]! >= 0) this.place(keys[i]!, slots[i]!);
    float64s.give(keys);
    int32s.give(slots);
  }
}
