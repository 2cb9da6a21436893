// Shard iterators: opaque, signed, self-contained positions. Any runtime
// process can continue an iterator another issued because the HMAC key is
// shared through the config KV bucket.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { KV } from 'nats';
import { firstWriterValue } from '../kvFirstWriter.js';

export interface IteratorState {
  streamName: string;
  /** Storage uid of the stream the iterator was issued for. */
  uid: string;
  shardIndex: number;
  /** Next record to return: the first at or after (jsSeq, index). */
  jsSeq: number;
  index: number;
  issuedAtMs: number;
}

const VERSION = 1;
const MAC_BYTES = 16;

export class IteratorCodec {
  constructor(private readonly key: Buffer) {}

  /** Loads the cluster's key, creating it if this is the first process. */
  static async fromKv(kv: KV): Promise<IteratorCodec> {
    const e = await firstWriterValue(kv, 'iterator-key', () => randomBytes(32).toString('base64'), 'the shard iterator key (iterator-key)');
    return new IteratorCodec(Buffer.from(e.string(), 'base64'));
  }

  encode(s: IteratorState): string {
    const name = Buffer.from(s.streamName, 'utf8');
    const uid = Buffer.from(s.uid, 'utf8');
    const body = Buffer.alloc(1 + 1 + name.length + 1 + uid.length + 4 + 8 + 4 + 8);
    let at = body.writeUInt8(VERSION, 0);
    at = body.writeUInt8(name.length, at);
    at += name.copy(body, at);
    at = body.writeUInt8(uid.length, at);
    at += uid.copy(body, at);
    at = body.writeUInt32BE(s.shardIndex, at);
    at = body.writeBigUInt64BE(BigInt(s.jsSeq), at);
    at = body.writeUInt32BE(s.index, at);
    body.writeBigUInt64BE(BigInt(s.issuedAtMs), at);
    return Buffer.concat([body, this.mac(body)]).toString('base64');
  }

  /** Undefined when the token is not one we issued. */
  decode(token: string): IteratorState | undefined {
    const raw = Buffer.from(token, 'base64');
    if (raw.length < MAC_BYTES + 2 || raw.toString('base64') !== token) return undefined;
    const body = raw.subarray(0, raw.length - MAC_BYTES);
    const mac = raw.subarray(raw.length - MAC_BYTES);
    if (!timingSafeEqual(mac, this.mac(body))) return undefined;
    try {
      let at = 0;
      if (body.readUInt8(at++) !== VERSION) return undefined;
      const nl = body.readUInt8(at++);
      const streamName = body.toString('utf8', at, (at += nl));
      const ul = body.readUInt8(at++);
      const uid = body.toString('utf8', at, (at += ul));
      const shardIndex = body.readUInt32BE(at);
      const jsSeq = Number(body.readBigUInt64BE(at + 4));
      const index = body.readUInt32BE(at + 12);
      const issuedAtMs = Number(body.readBigUInt64BE(at + 16));
      return { streamName, uid, shardIndex, jsSeq, index, issuedAtMs };
    } catch {
      return undefined;
    }
  }

  private mac(body: Buffer): Buffer {
    return createHmac('sha256', this.key).update(body).digest().subarray(0, MAC_BYTES);
  }
}
