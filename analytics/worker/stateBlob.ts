// The bytes of a saved worker state (checkpoint.ts, shardState.ts): JSON, with
// the payloads of the emit in flight (`pending`, the output messages planned
// before they are published) as raw bytes after it. An emit is the window's or
// batch's whole output (tens of MB per second at 100k keys or pass-through):
// base64 inside the JSON cost an encoding, a third more bytes written and
// parsed, and a decoding before each publish.
//
//   0x00 | u32 LE JSON length | JSON (each pending payload replaced by its length) | payloads, in order
//
// A state without pending messages is plain JSON text; JSON text with base64
// payloads (what earlier workers saved) reads as before.
/** First byte of a framed state; JSON text starts with '{'. */
const FRAMED = 0x00;

/** A pending message (checkpoint.ts PendingMessage): only its payload matters here. */
type Pending = { payload: Buffer };
type WithPending = { pending?: Pending[] };
type Stored = { payload: number | string };

export function encodeState(state: object & WithPending): Buffer {
  const pending = state.pending;
  if (!pending?.length) return Buffer.from(JSON.stringify(state));
  const head = Buffer.from(JSON.stringify({ ...state, pending: pending.map((m) => ({ ...m, payload: m.payload.length })) }));
  let size = 5 + head.length;
  for (const m of pending) size += m.payload.length;
  const out = Buffer.allocUnsafe(size);
  out[0] = FRAMED;
  out.writeUInt32LE(head.length, 1);
  head.copy(out, 5);
  let at = 5 + head.length;
  for (const m of pending) at += m.payload.copy(out, at);
  return out;
}

export function decodeState<T extends WithPending>(data: Uint8Array): T {
  const b = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (b.length === 0 || b[0] !== FRAMED) {
    const st = JSON.parse(b.toString('utf8')) as Omit<T, 'pending'> & { pending?: Stored[] };
    if (!st.pending) return st as T;
    return { ...st, pending: st.pending.map((m): Pending => ({ ...m, payload: Buffer.from(m.payload as string, 'base64') })) } as T;
  }
  if (b.length < 5) throw new Error('truncated state');
  const len = b.readUInt32LE(1);
  if (5 + len > b.length) throw new Error('truncated state');
  const st = JSON.parse(b.toString('utf8', 5, 5 + len)) as Omit<T, 'pending'> & { pending: Stored[] };
  let at = 5 + len;
  const pending = st.pending.map((m): Pending => {
    const n = m.payload as number;
    if (at + n > b.length) throw new Error('truncated state');
    // A copy: the state outlives the blob nats.js read it into.
    const payload = Buffer.from(b.subarray(at, at + n));
    at += n;
    return { ...m, payload };
  });
  return { ...st, pending } as T;
}
