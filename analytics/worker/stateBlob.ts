// The bytes of a saved worker state (checkpoint.ts, shardState.ts): JSON, with
// the payloads of the emit in flight (`pending`, the output messages planned
// before they are published) as raw bytes after it. An emit is the window's or
// batch's whole output (tens of MB per second at 100k keys or pass-through):
// base64 inside the JSON cost an encoding, a third more bytes written and
// parsed, and a decoding before each publish.
//
//   a jsonFrame.ts frame: JSON (each pending payload replaced by its length), then the payloads in order
//
// A state may also carry `blobs`, other bytes (a checkpoint's combiner keeps
// its open windows' partial messages as they came, checkpoint.ts): written
// after the payloads the same way.
//
// A state without pending messages or blobs is plain JSON text; JSON text with base64
// payloads (what earlier workers saved) reads as before.
import { frameParts, unframeJson } from './jsonFrame.js';

/** A pending message (checkpoint.ts PendingMessage): only its payload matters here. */
type Pending = { payload: Buffer };
type WithBytes = { pending?: Pending[]; blobs?: Uint8Array[] };
type Stored = { payload: number | string };

/** A state's bytes as parts, one after the other: the payloads and blobs are not copied (putObject writes the parts). */
export function encodeStateParts(state: object & WithBytes): Uint8Array[] {
  const pending = state.pending ?? [];
  const blobs = state.blobs ?? [];
  if (!pending.length && !blobs.length) return [Buffer.from(JSON.stringify(state))];
  const head = { ...state, pending: pending.map((m) => ({ ...m, payload: m.payload.length })), ...(blobs.length ? { blobs: blobs.map((b) => b.byteLength) } : {}) };
  return frameParts(head, [...pending.map((m) => m.payload), ...blobs]);
}

export function decodeState<T extends WithBytes>(data: Uint8Array): T {
  const b = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const frame = unframeJson(b, 'state');
  if (!frame) {
    const st = JSON.parse(b.toString('utf8')) as Omit<T, 'pending'> & { pending?: Stored[] };
    if (!st.pending) return st as T;
    return { ...st, pending: st.pending.map((m): Pending => ({ ...m, payload: Buffer.from(m.payload as string, 'base64') })) } as T;
  }
  const st = frame.head as Omit<T, 'pending' | 'blobs'> & { pending: Stored[]; blobs?: number[] };
  let at = frame.at;
  // Copies: the state outlives the blob nats.js read it into.
  const take = (n: number) => {
    if (at + n > b.length) throw new Error('truncated state');
    const out = b.subarray(at, at + n);
    at += n;
    return out;
  };
  const pending = st.pending.map((m): Pending => ({ ...m, payload: Buffer.from(take(m.payload as number)) }));
  if (!st.blobs) return { ...st, pending } as T;
  return { ...st, pending, blobs: st.blobs.map((n) => new Uint8Array(take(n))) } as unknown as T;
}
