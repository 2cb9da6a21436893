// The two wire formats of the Kinesis API. JSON 1.1 carries blobs as base64 and
// timestamps as epoch seconds; CBOR 1.1 carries blobs as byte strings and
// timestamps as tag 1 in epoch milliseconds (as the AWS Java SDK and KPL do).
import { Encoder, Tag, decode as cborDecode } from 'cbor-x';

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

/** Parses a request body; undefined when it is not a map. */
export function decodeBody(wire: Wire, body: Buffer): unknown {
  try {
    return wire === 'json' ? JSON.parse(body.toString('utf8')) : cborDecode(body);
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
