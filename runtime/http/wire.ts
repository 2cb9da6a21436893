// The two wire formats of the Kinesis API. JSON 1.1 carries blobs as base64 and
// timestamps as epoch seconds; CBOR 1.1 carries blobs as byte strings and
// timestamps as tag 1 in epoch milliseconds (as the AWS Java SDK and KPL do).
import { Encoder, Tag, addExtension, decode as cborDecode } from 'cbor-x';

export type Wire = 'json' | 'cbor';

export const CONTENT_TYPES: Record<Wire, string> = {
  json: 'application/x-amz-json-1.1',
  cbor: 'application/x-amz-cbor-1.1',
};

export function wireOf(contentType: string | undefined): Wire | 'aws-json' | undefined {
  const ct = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (ct === 'application/x-amz-json-1.1') return 'json';
  if (ct === 'application/x-amz-cbor-1.1') return 'cbor';
  if (ct === 'application/json') return 'aws-json';
  return undefined;
}

// cbor-x reads tag 1 as RFC 8949 epoch SECONDS, through a process-wide table.
// Kinesis CBOR clients send tag 1 in epoch MILLISECONDS, so a tagged Timestamp
// (AT_TIMESTAMP, ListShards' ShardFilter) used to come out 1000 times too far
// in the future. The millisecond reading is swapped in only for our own
// (synchronous) decode, leaving cbor-x's standard one for anyone else.
type TagDecoder = { tag: number; decode(v: number): Date };
const setTag1 = addExtension as (e: TagDecoder) => void;
const TAG1_MS: TagDecoder = { tag: 1, decode: (ms) => new Date(Number(ms)) };
const TAG1_SECONDS: TagDecoder = { tag: 1, decode: (s) => new Date(Math.round(Number(s) * 1000)) };

function decodeCbor(body: Buffer): unknown {
  setTag1(TAG1_MS);
  try {
    return cborDecode(body);
  } finally {
    setTag1(TAG1_SECONDS);
  }
}

/** Parses a request body; undefined when it is not a map. */
export function decodeBody(wire: Wire, body: Buffer): unknown {
  try {
    return wire === 'json' ? JSON.parse(body.toString('utf8')) : decodeCbor(body);
  } catch {
    return undefined;
  }
}

function jsonReplacer(this: Record<string, unknown>, key: string, value: unknown): unknown {
  const raw = this[key];
  if (Buffer.isBuffer(raw) || raw instanceof Uint8Array) return Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('base64');
  if (raw instanceof Date) return raw.getTime() / 1000;
  return value;
}

/** Dates become tag 1 in epoch milliseconds; everything else passes as is. */
function toCbor(v: unknown): unknown {
  if (v instanceof Date) return new Tag(v.getTime(), 1);
  if (v === null || typeof v !== 'object' || v instanceof Uint8Array) return v;
  if (Array.isArray(v)) return v.map(toCbor);
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) if (x !== undefined) out[k] = toCbor(x);
  return out;
}

const cborEncoder = new Encoder({ useRecords: false, tagUint8Array: false });

export function encodeBody(wire: Wire, value: unknown): Buffer {
  if (wire === 'json') return Buffer.from(JSON.stringify(value, jsonReplacer), 'utf8');
  return Buffer.from(cborEncoder.encode(toCbor(value)));
}
