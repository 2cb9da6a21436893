// Type checking and normalisation (SerializationException). Messages are the
// Coral/Jackson ones Kinesis returns, as recorded by kinesalite. Unknown and
// null members are dropped; blobs become Buffers and timestamps Dates.

import { serializationError } from '../errors.js';
import type { Members, Shape, WireProtocol } from './types.js';

const NUMBER_CLASS = 'class com.amazon.coral.value.json.numbers.TruncatingBigNumber';
const STRUCTURE_HERE = 'Start of structure or map found where not expected.';
const LIST_HERE = 'Start of list found where not expected';
const INT_MAX = 2147483647;

// Member names per rule table, listed once rather than per record.
const memberKeys = new WeakMap<Members, string[]>();

function keysOf(members: Members): string[] {
  let keys = memberKeys.get(members);
  if (!keys) memberKeys.set(members, (keys = Object.keys(members)));
  return keys;
}

export function coerceMembers(data: Record<string, unknown>, members: Members, protocol: WireProtocol) {
  const out: Record<string, unknown> = {};
  for (const key of keysOf(members)) {
    // Inherited properties (e.g. a "constructor" member) are not members of the request.
    if (!Object.hasOwn(data, key)) continue;
    const value = coerce(data[key], members[key], protocol);
    if (value != null) out[key] = value;
  }
  return out;
}

function coerce(val: unknown, shape: Shape, protocol: WireProtocol): unknown {
  if (val == null) return null;
  switch (shape.type) {
    case 'Boolean':
      return coerceBoolean(val);
    case 'Integer':
    case 'Long':
      return coerceNumber(val, shape.type);
    case 'String':
      return coerceString(val);
    case 'Blob':
      return coerceBlob(val);
    case 'Timestamp':
      return coerceTimestamp(val, protocol);
    case 'List':
      return coerceList(val, shape, protocol);
    case 'Map':
      return coerceMap(val, shape, protocol);
    case 'Structure':
      return coerceStructure(val, shape, protocol);
  }
}

/** The message for a JSON object/array where a scalar was expected. */
function containerMismatch(val: object) {
  return serializationError(Array.isArray(val) ? LIST_HERE : STRUCTURE_HERE);
}

function coerceBoolean(val: unknown) {
  switch (typeof val) {
    case 'boolean':
      return val;
    case 'number':
    case 'bigint':
      throw serializationError(`${NUMBER_CLASS} can not be converted to an Boolean`);
    case 'string':
      // Coral echoes the value upper-cased.
      throw serializationError(`'${val.toUpperCase()}' can not be converted to an Boolean`);
    default:
      throw containerMismatch(val as object);
  }
}

function coerceNumber(val: unknown, type: 'Integer' | 'Long') {
  switch (typeof val) {
    case 'number':
    case 'bigint': {
      // Coral truncates fractions and saturates Integers at Java's Integer.MAX_VALUE.
      const n = Math.floor(Number(val));
      if (Number.isNaN(n)) throw notANumber(`an ${type}`);
      return type === 'Integer' ? Math.min(n, INT_MAX) : n;
    }
    case 'boolean':
      throw serializationError(`class java.lang.Boolean can not be converted to an ${type}`);
    case 'string':
      throw serializationError(`class java.lang.String can not be converted to an ${type}`);
    default:
      throw containerMismatch(val as object);
  }
}

function coerceString(val: unknown) {
  switch (typeof val) {
    case 'string':
      return val;
    case 'boolean':
      throw serializationError('class java.lang.Boolean can not be converted to an String');
    case 'number':
    case 'bigint':
      throw serializationError(`${NUMBER_CLASS} can not be converted to an String`);
    default:
      throw containerMismatch(val as object);
  }
}

function coerceBlob(val: unknown): Buffer {
  switch (typeof val) {
    case 'string':
      return decodeBase64(val);
    case 'boolean':
      throw serializationError('class java.lang.Boolean can not be converted to a Blob');
    case 'number':
    case 'bigint':
      throw serializationError(`${NUMBER_CLASS} can not be converted to a Blob`);
    default:
      // CBOR byte strings arrive as Buffer (cbor-x) or any Uint8Array view.
      if (Buffer.isBuffer(val)) return val;
      if (val instanceof Uint8Array) return Buffer.from(val.buffer, val.byteOffset, val.byteLength);
      throw containerMismatch(val as object);
  }
}

/**
 * Strict base64 as Coral checks it: padded length, alphabet, canonical last character.
 * A string that re-encodes to itself passes all three checks (the encoder only
 * writes canonical, padded base64), so the common case is one decode and one
 * encode; the checks below run only to name what is wrong.
 */
function decodeBase64(val: string): Buffer {
  const buf = Buffer.from(val, 'base64');
  if (buf.toString('base64') === val) return buf;
  return base64Error(val);
}

function base64Error(val: string): never {
  const prefix = `'${val}' can not be converted to a Blob: `;
  if (val.length % 4) {
    throw serializationError(`${prefix}Base64 encoded length is expected a multiple of 4 bytes but found: ${val.length}`);
  }
  const bad = /[^a-zA-Z0-9+/=]|=[^=]/.exec(val);
  if (bad) throw serializationError(`${prefix}Invalid Base64 character: '${bad[0][0]}'`);
  // Non-zero bits after the last full byte: the spelling (sic) is Coral's.
  throw serializationError(`${prefix}Invalid last non-pad Base64 character dectected`);
}

function coerceTimestamp(val: unknown, protocol: WireProtocol): Date {
  switch (typeof val) {
    case 'number':
    case 'bigint': {
      // JSON carries epoch seconds (fractions allowed); our CBOR carries epoch milliseconds.
      const date = new Date(protocol === 'json' ? Number(val) * 1000 : Number(val));
      if (Number.isNaN(date.getTime())) throw notANumber('milliseconds since epoch');
      return date;
    }
    case 'boolean':
      throw serializationError('class java.lang.Boolean can not be converted to milliseconds since epoch');
    case 'string':
      throw serializationError('class java.lang.String can not be converted to milliseconds since epoch');
    default:
      // cbor-x decodes tag 1 to a Date.
      if (val instanceof Date) {
        if (Number.isNaN(val.getTime())) throw notANumber('milliseconds since epoch');
        return val;
      }
      throw containerMismatch(val as object);
  }
}

/**
 * CBOR can carry NaN, and a huge JSON literal parses to Infinity (an Invalid
 * Date). kinesalite has no message for these; this one follows the Java-class
 * wording of the others, so operations never see NaN or an Invalid Date.
 */
const notANumber = (target: string) => serializationError(`class java.lang.Double can not be converted to ${target}`);

function coerceList(val: unknown, shape: Shape, protocol: WireProtocol): unknown[] {
  if (typeof val !== 'object') throw serializationError('Expected list or null');
  if (!Array.isArray(val)) throw serializationError(STRUCTURE_HERE);
  const member = shape.member ?? { type: 'String' };
  return val.map((child) => coerce(child, member, protocol));
}

function coerceMap(val: unknown, shape: Shape, protocol: WireProtocol): Record<string, unknown> {
  if (typeof val !== 'object') throw serializationError('Expected map or null');
  if (Array.isArray(val)) throw serializationError(LIST_HERE);
  const member = shape.member ?? { type: 'String' };
  const out: Record<string, unknown> = {};
  for (const [key, child] of entries(val as object)) out[key] = coerce(child, member, protocol);
  return out;
}

function coerceStructure(val: unknown, shape: Shape, protocol: WireProtocol): Record<string, unknown> {
  if (typeof val !== 'object') throw serializationError('Expected null');
  if (Array.isArray(val)) throw serializationError(LIST_HERE);
  // Decoders give plain objects (own, enumerable members): read them in place.
  const data = val instanceof Map ? Object.fromEntries(entries(val)) : (val as Record<string, unknown>);
  return coerceMembers(data, shape.members ?? {}, protocol);
}

/** Plain objects, or Map instances if the CBOR decoder was set to produce them. */
function entries(val: object): [string, unknown][] {
  if (val instanceof Map) return [...val.entries()].map(([k, v]) => [String(k), v]);
  return Object.entries(val);
}
