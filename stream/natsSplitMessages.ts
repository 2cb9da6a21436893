// A NATS message larger than one socket read (a stored record batch is up to
// ~1 MB; a read is 64 KB) is collected by nats.js 2.x's parser in a buffer
// sized to the first read's remainder and grown by doubling at every later
// read, so it allocates about three times the message, off the V8 heap. V8
// starts a full GC per 64 MB of such allocation (its external-memory limit):
// for the analytics worker that was a mark-compact every ~250 ms and ~7% of
// its CPU. The MSG line has already announced the size, so the buffer is
// made that size once, as soon as the parser starts collecting.
import { Parser, State } from 'nats/lib/nats-base-client/parser.js';

/** The parser fields this relies on (nats.js 2.29). */
interface ParserFields {
  state: number;
  ma?: { size: number };
  msgBuf?: { _buf: Uint8Array; _off: number; readonly capacity: number; bytes(o: { copy: boolean }): Uint8Array };
}

const PATCHED = Symbol.for('shardline.presizedSplitMessages');

/** Installs the pre-sizing on nats.js's Parser (once per process); false when the parser is not the one it knows. */
export function presizeSplitMessages(): boolean {
  const proto = Parser.prototype as unknown as { parse(buf: Uint8Array): void; [PATCHED]?: true };
  if (proto[PATCHED]) return true;
  if (typeof proto.parse !== 'function' || typeof State?.MSG_PAYLOAD !== 'number') return false;
  const parse = proto.parse;
  proto.parse = function (this: ParserFields, buf: Uint8Array): void {
    parse.call(this, buf);
    const mb = this.msgBuf;
    const size = this.ma?.size ?? -1;
    if (mb === undefined || this.state !== State.MSG_PAYLOAD || mb.capacity >= size) return;
    // The part read so far goes first; the rest of the message then fits (DenoBuffer grows by reslicing).
    const have = mb.bytes({ copy: false });
    const full = new Uint8Array(size);
    full.set(have);
    mb._buf = full.subarray(0, have.length);
    mb._off = 0;
  };
  proto[PATCHED] = true;
  return true;
}
