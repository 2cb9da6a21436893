// AWS event-stream framing (application/vnd.amazon.eventstream), as used by
// SubscribeToShard's response:
//
//   u32 total length | u32 headers length | u32 CRC32 of the previous 8 bytes
//   headers: u8 name length | name | u8 type | value
//   payload
//   u32 CRC32 of everything before it
//
// The framing itself is Smithy's codec (@smithy/core/event-streams, the code
// the AWS SDKs decode our responses with; @smithy/eventstream-codec is now a
// deprecated alias of it). This file keeps the shapes the runtime and tests
// use: string headers out, plain header values in.
import { EventStreamCodec } from '@smithy/core/event-streams';
import type { Message, MessageHeaders } from '@smithy/types';

export type EventHeaders = Record<string, string>;

export interface EventMessage {
  headers: Record<string, string | number | boolean | Buffer | bigint>;
  payload: Buffer;
}

const toUtf8 = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('utf8');
const fromUtf8 = (s: string) => Buffer.from(s, 'utf8');
const codec = new EventStreamCodec(toUtf8, fromUtf8);

export function encodeEventMessage(headers: EventHeaders, payload: Buffer): Buffer {
  const h: MessageHeaders = {};
  for (const [name, value] of Object.entries(headers)) h[name] = { type: 'string', value };
  const out = codec.encode({ headers: h, body: payload });
  return Buffer.from(out.buffer, out.byteOffset, out.byteLength);
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
 * Splits a byte stream into messages (by the prelude's total length; Smithy's
 * codec decodes whole messages only) and keeps a partial tail between calls.
 * Throws on a CRC mismatch.
 */
export class EventStreamDecoder {
  private buf: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): EventMessage[] {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    const out: EventMessage[] = [];
    while (this.buf.length >= 4) {
      const total = this.buf.readUInt32BE(0);
      if (this.buf.length < total) break;
      out.push(plain(codec.decode(this.buf.subarray(0, total))));
      this.buf = this.buf.subarray(total);
    }
    return out;
  }
}

/** Header values as plain JavaScript values (timestamps as epoch-ms bigint, uuids as 16 bytes). */
function plain(m: Message): EventMessage {
  const headers: EventMessage['headers'] = {};
  for (const [name, h] of Object.entries(m.headers)) {
    switch (h.type) {
      case 'boolean':
      case 'byte':
      case 'short':
      case 'integer':
      case 'string':
        headers[name] = h.value;
        break;
      case 'long':
        headers[name] = BigInt(h.value.toString());
        break;
      case 'timestamp':
        headers[name] = BigInt(h.value.getTime());
        break;
      case 'binary':
        headers[name] = Buffer.from(h.value);
        break;
      case 'uuid':
        headers[name] = Buffer.from(h.value.replace(/-/g, ''), 'hex');
        break;
    }
  }
  return { headers, payload: Buffer.from(m.body) };
}
