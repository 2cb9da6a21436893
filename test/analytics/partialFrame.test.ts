// Partials-stream message bytes: whatever a message holds, the combiner reads
// back what JSON text would have given it (the oracle: JSON.parse of
// JSON.stringify), whether its columns went as doubles or as text.
import { decodePartialMessage, encodePartialMessage } from '../../analytics/worker/partialFrame.js';
import type { Value } from '../../analytics/engine/types.js';

const viaJson = (m: unknown) => JSON.parse(JSON.stringify(m));

function rnd(seed: number): () => number {
  let s = seed;
  return () => ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32);
}

/** As NATS hands a payload over: a view into a larger buffer, at an odd offset. */
function inLargerBuffer(b: Buffer): Uint8Array {
  const big = new Uint8Array(b.length + 13);
  big.set(b, 7);
  return big.subarray(7, 7 + b.length);
}

const partial = (cols: Value[][]) => ({ type: 'partial', input: 'SOURCE_SQL_STREAM_001', shard: 'shardId-000000000002', stream: 'P__partial', t: 1767225602000, chunk: 3, cols, epoch: 'e1' });

test('numeric columns go as doubles and read back as JSON gives them', () => {
  const m = partial([
    [1767225601000, 1767225601000, 1767225601000],
    [7, 2 ** 31 + 5, -(2 ** 53) + 1],
    [0.1 + 0.2, 1e300, 5e-324],
    [-0, 0, -0],
  ]);
  const b = encodePartialMessage(m);
  expect(b[0]).toBe(0); // framed: the columns are not in the JSON text
  expect(b.toString('latin1')).not.toContain('1767225601000,1767225601000');
  const got = decodePartialMessage(inLargerBuffer(b));
  expect(got).toEqual(viaJson(m));
  expect(Object.is((got as { cols: number[][] }).cols[3]![0], 0)).toBe(true); // -0 as JSON writes it
});

test('columns of other values, or numbers JSON cannot hold, stay JSON text beside the doubles', () => {
  const m = partial([
    [1, 2, 3],
    ['a', 'b"\\', 'ü'],
    [1, null, 3],
    [NaN, 1, 2],
    [Infinity, -Infinity, 0],
    [true, false, null],
    [4.5, 5.5, 6.5],
  ]);
  const b = encodePartialMessage(m);
  expect(b[0]).toBe(0);
  expect(decodePartialMessage(b)).toEqual(viaJson(m));
});

test('messages without numeric columns are JSON text, and JSON text reads as before', () => {
  const messages = [
    partial([['x', 'y'], [null, null]]),
    partial([]),
    { type: 'partial', input: 'i', shard: 's', stream: 'p', t: 1, chunk: 0, rows: [[1, 'a'], [2, 'b']], epoch: 'e' },
    { type: 'errors', input: 'i', shard: 's', errors: [['LATE_ROW', 'late', 5, '{"A":1}', 'P']], epoch: 'e' },
    { type: 'watermark', input: 'i', shard: 's', wm: 1767225601000, ewm: { p: 3 }, idle: false, epoch: 'e' },
    { type: 'end', input: 'i', shard: 's', epoch: 'e' },
  ];
  for (const m of messages) {
    const b = encodePartialMessage(m as never);
    expect(b.toString('utf8')).toBe(JSON.stringify(m));
    expect(decodePartialMessage(inLargerBuffer(b))).toEqual(viaJson(m));
  }
  // An empty window's columns (no rows): nothing to frame.
  expect(decodePartialMessage(encodePartialMessage(partial([[], []])))).toEqual(viaJson(partial([[], []])));
});

test('random columnar partials read back as JSON gives them', () => {
  const r = rnd(7);
  const value = (kind: number): Value => {
    const x = r();
    switch (kind) {
      case 0: return Math.floor(x * 2 ** 40) - 2 ** 39;
      case 1: return (x - 0.5) * 10 ** Math.floor(r() * 40 - 20);
      case 2: return x < 0.1 ? null : Math.floor(x * 1000);
      case 3: return x < 0.5 ? `k${Math.floor(x * 100)}` : Math.floor(x * 100);
      default: return x < 0.05 ? NaN : x < 0.1 ? -0 : x;
    }
  };
  for (let i = 0; i < 200; i++) {
    const n = Math.floor(r() * 50);
    const kinds = Array.from({ length: 1 + Math.floor(r() * 6) }, () => Math.floor(r() * 5));
    const m = partial(kinds.map((k) => Array.from({ length: n }, () => value(k))));
    expect(decodePartialMessage(inLargerBuffer(encodePartialMessage(m)))).toEqual(viaJson(m));
  }
});

test('a framed message cut short is an error, not columns made up', () => {
  const b = encodePartialMessage(partial([[1, 2, 3], [4, 5, 6]]));
  expect(() => decodePartialMessage(b.subarray(0, b.length - 8))).toThrow(/bytes of columns/);
});

test('a chunk of a window\'s columns (rows from…to) encodes as the same rows sliced out, and reads back as JSON gives them', () => {
  const r = rnd(9);
  const n = 5000;
  const cols: Value[][] = [Array(n).fill(1767225601000), Array.from({ length: n }, (_, i) => i * 3 - 7), Array.from({ length: n }, () => r() * 100), Array.from({ length: n }, (_, i) => (i === 4100 ? 'x' : i))];
  for (const [from, to] of [[0, 2000], [2000, 4000], [4000, 5000], [0, 5000]] as const) {
    const sliced = partial(cols.map((c) => c.slice(from, to)));
    const chunk = encodePartialMessage(partial(cols), from, to);
    expect(decodePartialMessage(inLargerBuffer(chunk))).toEqual(viaJson(sliced));
    expect(chunk.equals(encodePartialMessage(sliced))).toBe(true);
  }
});

test('typed decoding gives the columns of doubles as Float64Arrays of the same values, the others as JSON gives them', () => {
  const m = partial([[7, 8, 9], ['a', null, 'c'], [0.5, -0, 1e300]]);
  const got = decodePartialMessage<{ cols: unknown[] }>(inLargerBuffer(encodePartialMessage(m)), 'typed');
  expect(got.cols[0]).toBeInstanceOf(Float64Array);
  expect(got.cols[2]).toBeInstanceOf(Float64Array);
  expect(got.cols.map((c) => Array.from(c as ArrayLike<unknown>))).toEqual(viaJson(m).cols);
  expect(Object.is((got.cols[2] as Float64Array)[1], 0)).toBe(true);
});
