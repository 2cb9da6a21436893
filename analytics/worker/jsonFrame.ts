// JSON followed by raw bytes in one buffer, for the worker's messages and
// states that carry bulk data beside their JSON (partialFrame.ts: columns of
// doubles; stateBlob.ts: the emit in flight's payloads):
//
//   0x00 | u32 LE JSON length | JSON | bytes
//
// JSON text never starts with 0x00, so a reader tells a frame from plain JSON
// text (what earlier workers wrote) by the first byte.

const FRAMED = 0x00;

/** `head` as JSON, then `tail`'s bytes one after the other. */
export function frameJson(head: unknown, tail: readonly Uint8Array[]): Buffer {
  return Buffer.concat(frameParts(head, tail));
}

/**
 * frameJson's bytes as parts, `tail` not copied: the frame's start (marker, length, JSON), then `tail`.
 * A checkpoint's tail is the emit in flight, megabytes a window at 100k keys, written as it is.
 */
export function frameParts(head: unknown, tail: readonly Uint8Array[]): Uint8Array[] {
  const json = Buffer.from(JSON.stringify(head));
  const start = Buffer.allocUnsafe(5 + json.length);
  start[0] = FRAMED;
  start.writeUInt32LE(json.length, 1);
  json.copy(start, 5);
  return [start, ...tail];
}

/** A frame's JSON and where its bytes start in `b`; undefined when `b` is JSON text; an error when truncated. */
export function unframeJson(b: Buffer, what: string): { head: unknown; at: number } | undefined {
  if (b.length === 0 || b[0] !== FRAMED) return undefined;
  if (b.length < 5 || 5 + b.readUInt32LE(1) > b.length) throw new Error(`truncated ${what}`);
  const len = b.readUInt32LE(1);
  return { head: JSON.parse(b.toString('utf8', 5, 5 + len)), at: 5 + len };
}
