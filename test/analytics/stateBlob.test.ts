// Saved worker states (stateBlob.ts): the emit in flight's payloads travel as
// bytes after the JSON. The oracle is the state itself (what goes in comes
// back, byte for byte) and, for states saved by earlier workers, JSON text
// with base64 payloads written here by hand.
import { decodeState, encodeStateParts } from '../../analytics/worker/stateBlob.js';
import type { PendingMessage } from '../../analytics/worker/checkpoint.js';

/** The bytes putObject stores: the parts one after the other. */
const encodeState = (state: Parameters<typeof encodeStateParts>[0]) => Buffer.concat(encodeStateParts(state));

const msg = (i: number, payload: Buffer): PendingMessage => ({ outputId: `o${i}`, stream: 'out', jsStream: `S${i}`, subject: `s.${i}`, msgId: `e:${i}`, fromSeq: i + 1, payload });
const randomBytes = (n: number, seed: number) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 131 + seed * 17) & 0xff));

test('pending payloads come back byte for byte, with the rest of the state', () => {
  const state = { epoch: 'x', engine: { seq: 5, rows: [[1, 'a', null]] }, emitSeq: 3, pending: [msg(0, randomBytes(1000, 1)), msg(1, Buffer.alloc(0)), msg(2, randomBytes(70_000, 2))] };
  const blob = encodeState(state);
  expect(blob[0]).toBe(0);
  const back = decodeState<typeof state>(blob);
  expect(back).toEqual(state);
  back.pending.forEach((m, i) => expect(m.payload.equals(state.pending[i]!.payload)).toBe(true));
});

test('a state without an emit in flight is JSON text', () => {
  const state = { epoch: 'x', pending: [] as PendingMessage[], engine: { n: 1 } };
  const blob = encodeState(state);
  expect(JSON.parse(blob.toString('utf8'))).toEqual(state);
  expect(decodeState(blob)).toEqual(state);
  expect(decodeState(Buffer.from('{"epoch":"y"}'))).toEqual({ epoch: 'y' });
});

test('a state an earlier worker saved (base64 payloads in the JSON) reads as before', () => {
  const payload = randomBytes(300, 3);
  const old = Buffer.from(`{"epoch":"e","pending":[{"outputId":"o","stream":"out","jsStream":"J","subject":"s","msgId":"m","fromSeq":7,"payload":"${payload.toString('base64')}"}]}`);
  const back = decodeState<{ pending: PendingMessage[] }>(old);
  expect(back.pending[0]!.payload.equals(payload)).toBe(true);
  expect(back.pending[0]!.fromSeq).toBe(7);
});

test('a truncated state is an error, not a shorter emit', () => {
  const blob = encodeState({ pending: [msg(0, randomBytes(100, 4))] });
  expect(() => decodeState(blob.subarray(0, blob.length - 1))).toThrow(/truncated/);
  expect(() => decodeState(blob.subarray(0, 3))).toThrow(/truncated/);
  // A blob read at an offset of a larger buffer decodes the same.
  const inner = Buffer.concat([Buffer.from('zz'), blob]).subarray(2);
  expect(decodeState<{ pending: PendingMessage[] }>(inner).pending[0]!.payload.equals(randomBytes(100, 4))).toBe(true);
});

test('blobs (a checkpoint\'s combiner messages) come back byte for byte after the pending payloads, with or without an emit in flight', () => {
  const blobs = [new Uint8Array(randomBytes(500, 5)), new Uint8Array(0), new Uint8Array(randomBytes(90_000, 6))];
  for (const pending of [[], [msg(0, randomBytes(1000, 7))]]) {
    const state = { epoch: 'x', pending, blobs, engine: { seq: 1 } };
    const blob = encodeState(state);
    expect(blob[0]).toBe(0);
    const back = decodeState<typeof state>(blob);
    expect(back.blobs.map((b) => Buffer.from(b).toString('hex'))).toEqual(blobs.map((b) => Buffer.from(b).toString('hex')));
    expect(back.pending.map((m) => m.payload.toString('hex'))).toEqual(pending.map((m) => m.payload.toString('hex')));
    expect({ ...back, blobs: [], pending: [] }).toEqual({ ...state, blobs: [], pending: [] });
    expect(() => decodeState(blob.subarray(0, blob.length - 1))).toThrow(/truncated/);
  }
});
