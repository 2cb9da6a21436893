// A NATS message larger than one socket read (a stored record batch is up to
// ~1 MB; a read is 64 KB) is collected by nats.js 2.x's parser in a buffer
// sized to the first read's remainder and grown by doubling at every later
// read, so it allocates about three times the message, off the V8 heap. V8
// starts a full GC per 64 MB of such allocation that outlives a scavenge (its
// external-memory limit): for the analytics worker that was a mark-compact
// every ~250 ms. The MSG line has already announced the size, so the buffer
// is made that size once, as soon as the parser starts collecting.
//
// The buffer comes from a pool that readers give buffers back to when they
// are done with a message's bytes (recycleMessageBytes): a shard worker's
// backlog batches (tens of megabytes of record batches read ahead, held for
// longer than a scavenge) then need no new memory at all.
import { Parser, State } from 'nats/lib/nats-base-client/parser.js';

/** The parser fields this relies on (nats.js 2.29). */
interface ParserFields {
  state: number;
  ma?: { size: number };
  msgBuf?: { _buf: Uint8Array; _off: number; readonly capacity: number; bytes(o: { copy: boolean }): Uint8Array };
}

const PATCHED = Symbol.for('shardline.presizedSplitMessages');

/** Pooled sizes: powers of two from 16 KiB to 4 MiB. Smaller and larger messages (NATS takes up to 64 MiB when so configured) get a buffer each time. */
const MIN_POOLED = 16 * 1024;
const MAX_POOLED = 4 * 1024 * 1024;
/** Free pooled memory kept at most (what readers give back beyond it is left to the collector). */
const MAX_FREE_BYTES = 64 * 1024 * 1024;

const free = new Map<number, ArrayBuffer[]>();
let freeBytes = 0;
/** Pooled buffers holding a message now: only these are taken back, each once. */
const lent = new WeakSet<ArrayBuffer>();

/** A buffer of at least `size` bytes for one message. */
function bufferFor(size: number): Uint8Array {
  if (size < MIN_POOLED || size > MAX_POOLED) return new Uint8Array(size);
  let cls = MIN_POOLED;
  while (cls < size) cls *= 2;
  let ab = free.get(cls)?.pop();
  if (ab) freeBytes -= cls;
  else ab = new ArrayBuffer(cls);
  lent.add(ab);
  return new Uint8Array(ab);
}

/**
 * Gives the buffers of messages whose bytes (`views` of them, any part) the caller and everything it
 * handed them to will not read again back to the pool; views of anything else are ignored.
 */
export function recycleMessageBytes(views: Iterable<Uint8Array>): void {
  for (const v of views) {
    const ab = v.buffer as ArrayBuffer;
    if (!lent.has(ab)) continue;
    lent.delete(ab);
    if (freeBytes + ab.byteLength > MAX_FREE_BYTES) continue;
    let list = free.get(ab.byteLength);
    if (!list) free.set(ab.byteLength, (list = []));
    list.push(ab);
    freeBytes += ab.byteLength;
  }
}

/** Free pooled bytes (tests). */
export function pooledMessageBytes(): number {
  return freeBytes;
}

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
    const full = bufferFor(size);
    full.set(have);
    mb._buf = full.subarray(0, have.length);
    mb._off = 0;
  };
  proto[PATCHED] = true;
  return true;
}
