// Shared helpers for the validation suites: run validateRequest and capture the
// KinesisError, build kinesalite-style type-error cases and AWS message pieces.

import { expect } from '@jest/globals';
import { KinesisError } from '../../runtime/api/errors.js';
import { validateRequest, type WireProtocol } from '../../runtime/api/validation/index.js';

export function errorOf(op: string, body: unknown, protocol: WireProtocol = 'json') {
  try {
    validateRequest(op, body, protocol);
  } catch (e) {
    if (e instanceof KinesisError) return { type: e.type, message: e.message };
    throw e;
  }
  throw new Error(`${op} accepted ${JSON.stringify(body)}`);
}

export function expectSerialization(op: string, body: unknown, message: string, protocol: WireProtocol = 'json') {
  expect(errorOf(op, body, protocol)).toEqual({ type: 'SerializationException', message });
}

/** Asserts the exact message: count prefix and violations in order. */
export function expectValidation(op: string, body: unknown, violations: string[], protocol: WireProtocol = 'json') {
  const n = violations.length;
  expect(errorOf(op, body, protocol)).toEqual({
    type: 'ValidationException',
    message: `${n} validation error${n > 1 ? 's' : ''} detected: ${violations.join('; ')}`,
  });
}

// Message pieces, worded as Kinesis words them.
export const isNull = (path: string) => `Value null at '${path}' failed to satisfy constraint: Member must not be null`;
export const bad = (value: string | number, path: string, constraint: string) =>
  `Value '${value}' at '${path}' failed to satisfy constraint: ${constraint}`;
export const pattern = (p: string) => `Member must satisfy regular expression pattern: ${p}`;
export const minLen = (n: number) => `Member must have length greater than or equal to ${n}`;
export const maxLen = (n: number) => `Member must have length less than or equal to ${n}`;
export const gte = (n: number) => `Member must have value greater than or equal to ${n}`;
export const lte = (n: number) => `Member must have value less than or equal to ${n}`;
export const oneOf = (values: string[]) => `Member must satisfy enum value set: [${values.join(', ')}]`;

export const NAME = '[a-zA-Z0-9_.-]+';
export const STREAM_ARN = 'arn:aws.*:kinesis:.*:\\d{12}:stream/\\S+';
export const RESOURCE_ARN = 'arn:aws.*:kinesis:.*:\\d{12}:.*stream/\\S+';
export const CONSUMER_ARN =
  '^(arn):aws.*:kinesis:.*:\\d{12}:.*stream\\/[a-zA-Z0-9_.-]+\\/consumer\\/[a-zA-Z0-9_.-]+:[0-9]+';
export const STREAM_ID = '[a-z0-9]{20}-[a-z0-9]{3}';
export const HASH_KEY = '0|([1-9]\\d{0,38})';
export const SEQUENCE = '0|([1-9]\\d{0,128})';

export const ARN = 'arn:aws:kinesis:us-east-1:000000000000:stream/s1';
export const CONSUMER = `${ARN}/consumer/c1:1700000000`;
export const long = (n: number, c = 'a') => c.repeat(n);

/** The StreamName/StreamARN/StreamId violations for empty strings. */
export const emptyStreamRef = [
  bad('', 'streamName', pattern(NAME)),
  bad('', 'streamName', minLen(1)),
];
export const emptyArnTail = [
  bad('', 'streamARN', pattern(STREAM_ARN)),
  bad('', 'streamARN', minLen(1)),
  bad('', 'streamId', pattern(STREAM_ID)),
  bad('', 'streamId', minLen(1)),
];

export type TypeName = 'Boolean' | 'String' | 'Integer' | 'Long' | 'Blob' | 'Timestamp' | 'List' | 'Map' | 'Structure';

const NUM = 'class com.amazon.coral.value.json.numbers.TruncatingBigNumber';
const STRUCT = 'Start of structure or map found where not expected.';
const LIST = 'Start of list found where not expected';

/** kinesalite's assertType table: each wrong-typed JSON value and Kinesis' answer. */
export const TYPE_CASES: Record<TypeName, [unknown, string][]> = {
  Boolean: [
    ['23', "'23' can not be converted to an Boolean"],
    ['abc', "'ABC' can not be converted to an Boolean"],
    [23, `${NUM} can not be converted to an Boolean`],
    [-2147483648, `${NUM} can not be converted to an Boolean`],
    [2147483648, `${NUM} can not be converted to an Boolean`],
    [[], LIST],
    [{}, STRUCT],
  ],
  String: [
    [true, 'class java.lang.Boolean can not be converted to an String'],
    [23, `${NUM} can not be converted to an String`],
    [-2147483648, `${NUM} can not be converted to an String`],
    [2147483648, `${NUM} can not be converted to an String`],
    [34.56, `${NUM} can not be converted to an String`],
    [[], LIST],
    [{}, STRUCT],
  ],
  Integer: [
    ['23', 'class java.lang.String can not be converted to an Integer'],
    [true, 'class java.lang.Boolean can not be converted to an Integer'],
    [[], LIST],
    [{}, STRUCT],
  ],
  Long: [
    ['23', 'class java.lang.String can not be converted to an Long'],
    [true, 'class java.lang.Boolean can not be converted to an Long'],
    [[], LIST],
    [{}, STRUCT],
  ],
  Blob: [
    [true, 'class java.lang.Boolean can not be converted to a Blob'],
    [23, `${NUM} can not be converted to a Blob`],
    [-2147483648, `${NUM} can not be converted to a Blob`],
    [2147483648, `${NUM} can not be converted to a Blob`],
    [34.56, `${NUM} can not be converted to a Blob`],
    [[], LIST],
    [{}, STRUCT],
    ['23456', "'23456' can not be converted to a Blob: Base64 encoded length is expected a multiple of 4 bytes but found: 5"],
    ['=+/=', "'=+/=' can not be converted to a Blob: Invalid Base64 character: '='"],
    ['+/+=', "'+/+=' can not be converted to a Blob: Invalid last non-pad Base64 character dectected"],
  ],
  Timestamp: [
    ['23', 'class java.lang.String can not be converted to milliseconds since epoch'],
    [true, 'class java.lang.Boolean can not be converted to milliseconds since epoch'],
    [[], LIST],
    [{}, STRUCT],
  ],
  List: [
    ['23', 'Expected list or null'],
    [true, 'Expected list or null'],
    [23, 'Expected list or null'],
    [-2147483648, 'Expected list or null'],
    [2147483648, 'Expected list or null'],
    [34.56, 'Expected list or null'],
    [{}, STRUCT],
  ],
  Map: [
    ['23', 'Expected map or null'],
    [true, 'Expected map or null'],
    [23, 'Expected map or null'],
    [-2147483648, 'Expected map or null'],
    [2147483648, 'Expected map or null'],
    [34.56, 'Expected map or null'],
    [[], LIST],
  ],
  Structure: [
    ['23', 'Expected null'],
    [true, 'Expected null'],
    [23, 'Expected null'],
    [-2147483648, 'Expected null'],
    [2147483648, 'Expected null'],
    [34.56, 'Expected null'],
    [[], LIST],
  ],
};

/** kinesalite's property paths: 'Records.0.Data' puts the value inside a one-element list. */
export function bodyAt(path: string, value: unknown): Record<string, unknown> {
  const pieces = path.split('.');
  const body: Record<string, unknown> = {};
  let node: Record<string, unknown> | unknown[] = body;
  for (let i = 0; i < pieces.length; i++) {
    const key = Array.isArray(node) ? 0 : pieces[i];
    const next = i === pieces.length - 1 ? value : pieces[i + 1] === '0' ? [] : {};
    (node as Record<string | number, unknown>)[key] = next;
    node = next as Record<string, unknown>;
  }
  return body;
}

/** One row per (member, wrong value): the "serializations" suite of an operation. */
export function typeRows(members: [string, TypeName][]) {
  return members.flatMap(([path, type]) =>
    TYPE_CASES[type].map(([value, message]) => [path, type, JSON.stringify(value), value, message] as const),
  );
}

/** One SerializationException test per member and wrong-type case (kinesalite's type table). */
export const serializations = (op: string, rows: Parameters<typeof typeRows>[0]) =>
  it.each(typeRows(rows))('SerializationException when %s (%s) is %s', (path, _t, _s, value, message) => {
    expectSerialization(op, bodyAt(path, value), message);
  });
