// Request validation entry point: type checks first (SerializationException,
// the first offence wins), then constraints (ValidationException listing every
// violation), as Kinesis and kinesalite do.

import { serializationError, unknownOperation, validationError } from '../errors.js';
import { coerceMembers } from './coerce.js';
import { checkConstraints } from './constraints.js';
import { RULES } from './rules/index.js';
import type { WireProtocol } from './types.js';

export type { OperationRules, Shape, WireProtocol } from './types.js';

/** Every operation validateRequest knows, in no particular order. */
export const OPERATIONS: readonly string[] = Object.keys(RULES);

export function isKnownOperation(operation: string): boolean {
  return Object.hasOwn(RULES, operation);
}

/**
 * Checks types (SerializationException) then constraints (ValidationException,
 * all violations listed as AWS/kinesalite do), returns the params with blobs as
 * Buffer and timestamps as Date. Unknown members are ignored as AWS does.
 * Throws KinesisError.
 */
export function validateRequest(operation: string, body: unknown, protocol: WireProtocol): Record<string, unknown> {
  if (!isKnownOperation(operation)) throw unknownOperation();
  const rules = RULES[operation];
  const params = coerceMembers(asObject(body), rules, protocol);
  const errors = checkConstraints(params, rules);
  if (errors.length) throw validationError(errors);
  return params;
}

/** The body must decode to an object; Kinesis answers a bare SerializationException otherwise. */
function asObject(body: unknown): Record<string, unknown> {
  if (body instanceof Map) return Object.fromEntries([...body.entries()].map(([k, v]) => [String(k), v]));
  if (typeof body !== 'object' || body === null) throw serializationError('');
  return body as Record<string, unknown>;
}

/**
 * The stream a validated request names. Either or both may be absent; the
 * operation decides (InvalidArgumentException when neither is given, and checks
 * that a given ARN's region/account/name agree).
 */
export function streamRef(params: Record<string, unknown>): { name?: string; arn?: string } {
  const ref: { name?: string; arn?: string } = {};
  if (typeof params.StreamName === 'string') ref.name = params.StreamName;
  if (typeof params.StreamARN === 'string') ref.arn = params.StreamARN;
  return ref;
}
