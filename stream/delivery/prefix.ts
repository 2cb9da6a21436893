// Firehose S3 prefixes: `!{namespace:value}` expressions (timestamp,
// firehose, partitionKeyFromQuery, partitionKeyFromLambda), the rules
// CreateDeliveryStream/UpdateDestination enforce, and evaluation per object.
import { formatTimestamp, parseTimestampPattern, partsIn } from './timestamp.js';

export type PrefixToken =
  | { lit: string }
  | { ns: 'timestamp'; value: string; fmt: ReturnType<typeof parseTimestampPattern> }
  | { ns: 'firehose'; value: 'random-string' | 'error-output-type' }
  | { ns: 'partitionKeyFromQuery' | 'partitionKeyFromLambda'; value: string };

const NAMESPACES = ['timestamp', 'firehose', 'partitionKeyFromQuery', 'partitionKeyFromLambda'];
export const DEFAULT_TIME_PREFIX = 'yyyy/MM/dd/HH/';
export const MAX_EVALUATED_PREFIX = 512;

export class PrefixError extends Error {}

/** Splits a prefix into literals and expressions; PrefixError when malformed. */
export function parsePrefix(prefix: string, field = 'Prefix'): PrefixToken[] {
  const out: PrefixToken[] = [];
  let i = 0;
  while (i < prefix.length) {
    const at = prefix.indexOf('!{', i);
    if (at < 0) {
      out.push({ lit: prefix.slice(i) });
      break;
    }
    if (at > i) out.push({ lit: prefix.slice(i, at) });
    const end = prefix.indexOf('}', at);
    if (end < 0) throw new PrefixError(`${field} contains an unterminated expression: ${prefix.slice(at)}`);
    const body = prefix.slice(at + 2, end);
    if (body.includes('!{')) throw new PrefixError(`${field} contains a nested expression, which is not supported: ${prefix.slice(at, end + 1)}`);
    const colon = body.indexOf(':');
    const ns = colon < 0 ? body : body.slice(0, colon);
    const value = colon < 0 ? '' : body.slice(colon + 1);
    if (!NAMESPACES.includes(ns)) throw new PrefixError(`The expression !{${body}} in ${field} is not valid. Valid namespaces are: ${NAMESPACES.join(', ')}.`);
    if (!value) throw new PrefixError(`The expression !{${body}} in ${field} has an empty value.`);
    if (ns === 'timestamp') {
      try {
        out.push({ ns, value, fmt: parseTimestampPattern(value) });
      } catch (e) {
        throw new PrefixError(`The expression !{${body}} in ${field} is not a valid DateTimeFormatter pattern: ${(e as Error).message}`);
      }
    } else if (ns === 'firehose') {
      if (value !== 'random-string' && value !== 'error-output-type') {
        throw new PrefixError(`The expression !{${body}} in ${field} is not valid. Valid values for the firehose namespace are: random-string, error-output-type.`);
      }
      out.push({ ns, value });
    } else {
      if (!/^[a-zA-Z0-9_]+$/.test(value)) throw new PrefixError(`The expression !{${body}} in ${field} names an invalid partition key.`);
      out.push({ ns: ns as 'partitionKeyFromQuery' | 'partitionKeyFromLambda', value });
    }
    i = end + 1;
  }
  return out;
}

const hasExpr = (t: PrefixToken[]) => t.some((x) => 'ns' in x);
const hasNs = (t: PrefixToken[], ns: string, value?: string) => t.some((x) => 'ns' in x && x.ns === ns && (value === undefined || x.value === value));
const isPartitionNs = (x: PrefixToken) => 'ns' in x && (x.ns === 'partitionKeyFromQuery' || x.ns === 'partitionKeyFromLambda');

export interface ResolvedPrefixes {
  prefix: PrefixToken[];
  errorPrefix: PrefixToken[];
}

/**
 * The rules of Firehose's custom prefixes, checked when a destination is
 * configured; returns the prefixes as evaluated per object (defaults and the
 * appended timestamp included) or throws PrefixError with the reason.
 */
export function resolvePrefixes(prefix: string | undefined, errorPrefix: string | undefined, dynamicPartitioning: boolean): ResolvedPrefixes {
  const p = parsePrefix(prefix ?? '', 'Prefix');
  const e = parsePrefix(errorPrefix ?? '', 'ErrorOutputPrefix');
  if (hasNs(p, 'firehose', 'error-output-type')) throw new PrefixError('The !{firehose:error-output-type} expression is only allowed in ErrorOutputPrefix.');
  if (e.some(isPartitionNs)) throw new PrefixError('The partitionKeyFromQuery and partitionKeyFromLambda namespaces are not allowed in ErrorOutputPrefix.');
  if (hasExpr(p) && !errorPrefix) throw new PrefixError('ErrorOutputPrefix cannot be null or empty when Prefix contains expressions');
  if (hasExpr(e) && !hasNs(e, 'firehose', 'error-output-type')) {
    throw new PrefixError('ErrorOutputPrefix must contain !{firehose:error-output-type} when it contains expressions');
  }
  if (p.some(isPartitionNs) && !dynamicPartitioning) {
    throw new PrefixError('The partitionKeyFromQuery and partitionKeyFromLambda namespaces can only be used when dynamic partitioning is enabled.');
  }
  if (dynamicPartitioning && !p.some(isPartitionNs)) {
    throw new PrefixError('When dynamic partitioning is enabled, Prefix must contain at least one partitionKeyFromQuery or partitionKeyFromLambda expression.');
  }
  if (dynamicPartitioning && (prefix ?? '').length === 0) throw new PrefixError('Prefix cannot be empty when dynamic partitioning is enabled.');
  const ts = parsePrefix(`!{timestamp:${DEFAULT_TIME_PREFIX}}`);
  // No timestamp expression: Firehose appends the default time "folders" (not with dynamic partitioning, whose keys are the layout).
  const prefixOut = hasNs(p, 'timestamp') || dynamicPartitioning ? p : [...p, ...ts];
  const errorOut = hasExpr(e) ? e : [...e, ...parsePrefix('!{firehose:error-output-type}/'), ...ts];
  return { prefix: prefixOut, errorPrefix: errorOut };
}

export interface PrefixValues {
  /** Approximate arrival of the oldest record in the object. */
  arrivalMs: number;
  timeZone?: string;
  /** 11 characters; derived from the object's identity so a retried flush names the same object. */
  randomString: string;
  errorOutputType?: string;
  partitionKeys?: Record<string, string>;
}

export function evaluatePrefix(tokens: PrefixToken[], v: PrefixValues): string {
  const parts = partsIn(v.arrivalMs, v.timeZone);
  let s = '';
  for (const t of tokens) {
    if ('lit' in t) s += t.lit;
    else if (t.ns === 'timestamp') s += formatTimestamp(t.fmt, parts);
    else if (t.ns === 'firehose') s += t.value === 'random-string' ? v.randomString : (v.errorOutputType ?? 'processing-failed');
    else s += v.partitionKeys?.[t.value] ?? '';
  }
  if (s.length > MAX_EVALUATED_PREFIX) throw new PrefixError(`The evaluated prefix is longer than ${MAX_EVALUATED_PREFIX} characters.`);
  return s;
}

/** Names the partition keys a prefix uses, by namespace. */
export function partitionKeysOf(tokens: PrefixToken[]): { query: string[]; lambda: string[] } {
  const query: string[] = [];
  const lambda: string[] = [];
  for (const t of tokens) {
    if ('ns' in t && t.ns === 'partitionKeyFromQuery') query.push(t.value);
    if ('ns' in t && t.ns === 'partitionKeyFromLambda') lambda.push(t.value);
  }
  return { query, lambda };
}
