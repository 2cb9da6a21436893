// AWS event-stream framing (application/vnd.amazon.eventstream), as used by
// SubscribeToShard's response:
//
//   u32 total length | u32 headers length | u32 CRC32 of the previous 8 bytes
//   headers: u8 name length | name | u8 type (7 = string) | u16 value length | value
//   payload
//   u32 CRC32 of everything before it
//
// Only string-valued headers are written; decoding (for tests and tools)
// reads the types the AWS SDKs send as well.
import { crc32 } from 'node:zlib';

const PRELUDE = 12;
const TRAILER = 4;

export type EventHeaders = Record<string, string>;

export interface EventMessage {
  headers: Record<string, string | number | boolean | Buffer | bigint>;
  payload: Buffer;
}

export function encodeEventMessage(headers: EventHeaders, payload: Buffer): Buffer {
  const parts: Buffer[] = [];
  for (const [name, value] of Object.entries(headers)) {
    const n = Buffer.from(name, 'utf8');
    const v = Buffer.from(value, 'utf8');
    if (n.length > 255) throw new Error(`event header name too long: ${name}`);
    if (v.length > 32767) throw new Error(`event header value too long: ${name}`);
    const h = Buffer.allocUnsafe(1 + n.length + 3);
    h.writeUInt8(n.length, 0);
    n.copy(h, 1);
    h.writeUInt8(7, 1 + n.length);
    h.writeUInt16BE(v.length, 2 + n.length);
    parts.push(h, v);
  }
  const head = Buffer.concat(parts);
  const total = PRELUDE + head.length + payload.length + TRAILER;
  const out = Buffer.allocUnsafe(total);
  out.writeUInt32BE(total, 0);
  out.writeUInt32BE(head.length, 4);
  out.writeUInt32BE(crc32(out.subarray(0, 8)), 8);
  head.copy(out, PRELUDE);
  payload.copy(out, PRELUDE + head.length);
  out.writeUInt32BE(crc32(out.subarray(0, total - TRAILER)), total - TRAILER);
  return out;
}

/** An `event` message (`:message-type` event) of the given type. */
export function eventFrame(eventType: string, contentType: string, payload: Buffer): Buffer {
  return encodeEventMessage({ ':event-type': eventType, ':content-type': contentType, ':message-type': 'event' }, payload);
}

/** An `exception` message: a modeled error (`:exception-type`) ending the stream. */
export function exceptionFrame(exceptionType: string, contentType: string, payload: Buffer): Buffer {
  return encodeEventMessage({ ':exception-type': exceptionType, ':content-type': contentType, ':message-type': 'exception' }, payload);
}

/**
 * Splits a byte stream into messages; keeps a partial tail between calls.
 * Throws on a CRC mismatch.
 */
export class EventStreamDecoder {
  private buf: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): EventMessage[] {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    const out: EventMessage[] = [];
    while (this.buf.length >= PRELUDE) {
      const total = this.buf.readUInt32BE(0);
      if (total < PRELUDE + TRAILER) throw new Error(`event stream: bad message length ${total}`);
      if (this.buf.length < total) break;
      const msg = this.buf.subarray(0, total);
      this.buf = this.buf.subarray(total);
      if (crc32(msg.subarray(0, 8)) !== msg.readUInt32BE(8)) throw new Error('event stream: prelude CRC mismatch');
      if (crc32(msg.subarray(0, total - TRAILER)) !== msg.readUInt32BE(total - TRAILER)) throw new Error('event stream: message CRC mismatch');
      const headersLen = msg.readUInt32BE(4);
      out.push({ headers: decodeHeaders(msg.subarray(PRELUDE, PRELUDE + headersLen)), payload: Buffer.from(msg.subarray(PRELUDE + headersLen, total - TRAILER)) });
    }
    return out;
  }
}

function decodeHeaders(b: Buffer): EventMessage['headers'] {
  const out: EventMessage['headers'] = {};
  let at = 0;
  while (at < b.length) {
    const nl = b.readUInt8(at++);
    const name = b.toString('utf8', at, at + nl);
    at += nl;
    const type = b.readUInt8(at++);
    switch (type) {
      case 0: out[name] = true; break;
      case 1: out[name] = false; break;
      case 2: out[name] = b.readInt8(at); at += 1; break;
      case 3: out[name] = b.readInt16BE(at); at += 2; break;
      case 4: out[name] = b.readInt32BE(at); at += 4; break;
      case 5: out[name] = b.readBigInt64BE(at); at += 8; break;
      case 6:
      case 7: {
        const len = b.readUInt16BE(at);
        at += 2;
        out[name] = type === 7 ? b.toString('utf8', at, at + len) : Buffer.from(b.subarray(at, at + len));
        at += len;
        break;
      }
      case 8: out[name] = b.readBigInt64BE(at); at += 8; break;
      case 9: out[name] = Buffer.from(b.subarray(at, at + 16)); at += 16; break;
      default: throw new Error(`event stream: unknown header type ${type}`);
    }
  }
  return out;
}
