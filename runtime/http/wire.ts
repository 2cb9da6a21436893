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

const UNUSUAL = Symbol('unusual');

/**
 * What jsonReplacer makes of a value, computed up front so JSON.stringify can
 * run without a replacer (V8's fast path; a replacer is called for every key,
 * 1,500 calls for a PutRecords answer). Copies only what changes: blobs become
 * base64, Dates epoch seconds. Throws UNUSUAL for what it does not mirror
 * exactly (objects with their own toJSON, a changed `__proto__` key).
 */
function jsonView(v: unknown): unknown {
  if (typeof v !== 'object' || v === null) return v;
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64');
  if (v instanceof Date) return v.getTime() / 1000;
  if (Array.isArray(v)) {
    let out: unknown[] | undefined;
    for (let i = 0; i < v.length; i++) {
      const x: unknown = v[i];
      const y = jsonView(x);
      if (y !== x) (out ??= v.slice())[i] = y;
    }
    return out ?? v;
  }
  if (typeof (v as { toJSON?: unknown }).toJSON === 'function') throw UNUSUAL;
  let out: Record<string, unknown> | undefined;
  for (const k of Object.keys(v)) {
    const x = (v as Record<string, unknown>)[k];
    const y = jsonView(x);
    if (y !== x) {
      if (k === '__proto__') throw UNUSUAL;
      (out ??= { ...(v as Record<string, unknown>) })[k] = y;
    }
  }
  return out ?? v;
}

function toJson(value: unknown): string {
  let view: unknown;
  try {
    view = jsonView(value);
  } catch (e) {
    if (e !== UNUSUAL) throw e;
    return JSON.stringify(value, jsonReplacer);
  }
  return JSON.stringify(view);
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
  if (wire === 'json') return Buffer.from(toJson(value), 'utf8');
  return Buffer.from(cborEncoder.encode(toCbor(value)));
}
