// The bytes of a partials-stream message (partials.ts publishes, combiner.ts
// reads). A message is JSON, except a columnar partial with columns of plain
// numbers (a window's keys, counts and sums): those columns travel as
// little-endian doubles after the JSON, which names them. Numbers written as
// JSON text and parsed back cost ~0.25 µs a partial row, in a worker that at
// 100k keys publishes ~0.8 partial rows per event; as doubles, ~0.04 µs.
// What the combiner reads back equals what JSON would have given it: only
// finite numbers go as doubles, -0 as 0 (JSON writes "0"). Messages are
// JSON text otherwise, and JSON text (what earlier workers published) reads
// as before.
import os from 'node:os';
import type { Value } from '../engine/types.js';
import { frameJson, unframeJson } from './jsonFrame.js';

/** Doubles are written in the machine's order; a big-endian writer sends JSON text. */
const LITTLE_ENDIAN = os.endianness() === 'LE';

interface Envelope { cols?: Value[][]; f64?: number[]; n?: number }

/**
 * A message's bytes: `m` as JSON, its all-finite-number `cols` as doubles after it. With `from`/`to`, the
 * message holds rows [from, to) of `m.cols` (a chunk of a window's columns, not sliced out first).
 */
export function encodePartialMessage(m: { cols?: Value[][]; [field: string]: unknown }, from = 0, to?: number): Buffer {
  const all = m.cols;
  // A chunk's columns are sliced only where they go as JSON text.
  const chunk = !!all && to !== undefined && !(from === 0 && all.every((c) => c.length === to));
  const end = to ?? all?.[0]?.length ?? 0;
  const n = end - from;
  const part = (c: Value[]) => (chunk ? c.slice(from, end) : c);
  const numeric = all && LITTLE_ENDIAN ? all.flatMap((c, i) => ((chunk ? c.length >= end : c.length === n) && finiteNumbers(c, from, end) ? [i] : [])) : [];
  if (!all || numeric.length === 0) return Buffer.from(JSON.stringify(chunk ? { ...m, cols: all.map(part) } : m));
  const f64 = new Float64Array(numeric.length * n);
  numeric.forEach((c, k) => copyDoubles(all[c] as number[], from, end, f64, k * n));
  return frameJson({ ...m, cols: all.map((c, i) => (numeric.includes(i) ? null : part(c))), f64: numeric, n }, [new Uint8Array(f64.buffer)]);
}

/**
 * A message from its bytes (framed or JSON text). `columns: false`: a framed message's columns of doubles are
 * left NULL (the combiner reads a partial's place first and its columns when the window closes); 'typed':
 * they come as Float64Arrays (the combiner folds them so, foldTable.ts foldNumbers), not arrays of numbers.
 */
export function decodePartialMessage<T>(data: Uint8Array, columns: boolean | 'typed' = true): T {
  const b = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const frame = unframeJson(b, 'partial message');
  if (!frame) return JSON.parse(b.toString('utf8')) as T;
  const { f64: numeric = [], n = 0, ...m } = frame.head as Envelope;
  const at = frame.at;
  if (b.length !== at + numeric.length * n * 8) throw new Error(`partial message: ${b.length - at} bytes of columns, ${numeric.length} columns of ${n} rows expected`);
  if (!columns) return m as T;
  const bytes = numeric.length * n * 8;
  // Copied out of the message (a Float64Array needs 8-byte alignment); a big-endian reader reads them one by one.
  const f64 = LITTLE_ENDIAN ? new Float64Array(b.buffer.slice(b.byteOffset + at, b.byteOffset + at + bytes)) : undefined;
  const view = f64 ? undefined : new DataView(b.buffer, b.byteOffset + at, bytes);
  numeric.forEach((c, k) => { m.cols![c] = f64 ? (columns === 'typed' ? f64.subarray(k * n, (k + 1) * n) as unknown as Value[] : numbersOf(f64, k * n, n)) : Array.from({ length: n }, (_, r) => view!.getFloat64((k * n + r) * 8, true)); });
  return m as T;
}

function finiteNumbers(c: readonly Value[], from: number, to: number): boolean {
  for (let r = from; r < to; r++) {
    const v = c[r];
    if (typeof v !== 'number' || !Number.isFinite(v)) return false;
  }
  return true;
}

function copyDoubles(c: readonly number[], from: number, to: number, out: Float64Array, at: number): void {
  // `+ 0` writes -0 as 0, as JSON text does.
  for (let r = from; r < to; r++) out[at + r - from] = c[r]! + 0;
}

function numbersOf(f: Float64Array, at: number, n: number): number[] {
  const out = new Array<number>(n);
  for (let r = 0; r < n; r++) out[r] = f[at + r]!;
  return out;
}
