// Pulls the SigV4 fields out of an Authorization header or presigned query
// parameters, failing with the checks and texts AWS applies, in its order.
import { incompleteSignature, invalidSignature, missingAuthenticationToken } from './errors.js';

export interface SignatureFields {
  mode: 'header' | 'query';
  algorithm: string;
  credential: string;
  signedHeaders: string[];
  signature: string;
  /** The request time exactly as given (X-Amz-Date form, or a Date header). */
  date: string;
  dateFrom: 'x-amz-date' | 'date' | 'query';
  /** X-Amz-Expires of a presigned request, as given. */
  expires?: string;
}

function first(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/**
 * `headers` must be lower-cased; `query` holds decoded pairs. Throws
 * MissingAuthenticationToken when there is no AWS4 auth at all, and
 * IncompleteSignature when parts are missing.
 */
export function parseSignatureFields(
  headers: Map<string, string | string[]>,
  query: Array<[string, string]>,
): SignatureFields {
  const authorization = first(headers.get('authorization'));
  const queryAuth = query.some(([k]) => k === 'X-Amz-Algorithm');
  if (authorization && queryAuth) {
    throw invalidSignature("Found both 'X-Amz-Algorithm' as a query-string param and 'Authorization' as HTTP header.");
  }
  if (queryAuth) return fromQuery(query);
  // Any Authorization header is parsed as SigV4, whatever its scheme: AWS answers
  // `Authorization: X` or `Basic …` with IncompleteSignatureException naming
  // the missing parts; only a request without one lacks a token.
  if (!authorization || authorization.trim() === '') throw missingAuthenticationToken();
  return fromHeader(authorization, headers);
}

// "AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/kinesis/aws4_request, SignedHeaders=host;x-amz-date, Signature=hex"
function fromHeader(authorization: string, headers: Map<string, string | string[]>): SignatureFields {
  const trimmed = authorization.trim();
  const space = trimmed.search(/\s/);
  const algorithm = space < 0 ? trimmed : trimmed.slice(0, space);
  const rest = space < 0 ? '' : trimmed.slice(space);
  const params = new Map<string, string>();
  for (const part of rest.split(/[,\s]+/)) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    if (eq < 0) {
      throw incompleteSignature(
        `'${part}' not a valid key=value pair (missing equal-sign) in Authorization header: '${authorization}'.`,
      );
    }
    const key = part.slice(0, eq);
    if (!params.has(key)) params.set(key, part.slice(eq + 1));
  }

  const amzDate = first(headers.get('x-amz-date'));
  const httpDate = first(headers.get('date'));
  let message = '';
  if (!params.get('Credential')) message += "Authorization header requires 'Credential' parameter. ";
  if (!params.get('Signature')) message += "Authorization header requires 'Signature' parameter. ";
  // An empty SignedHeaders is well-formed here; it fails later for not signing Host.
  if (!params.has('SignedHeaders')) message += "Authorization header requires 'SignedHeaders' parameter. ";
  if (!amzDate && !httpDate) {
    message += "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. ";
  }
  if (message) throw incompleteSignature(`${message}Authorization=${authorization}`);

  return {
    mode: 'header',
    algorithm,
    credential: params.get('Credential')!,
    signedHeaders: splitSignedHeaders(params.get('SignedHeaders')!),
    signature: params.get('Signature')!,
    date: (amzDate || httpDate)!,
    dateFrom: amzDate ? 'x-amz-date' : 'date',
  };
}

const QUERY_PARAMS = ['X-Amz-Algorithm', 'X-Amz-Credential', 'X-Amz-Signature', 'X-Amz-SignedHeaders', 'X-Amz-Date'];

function fromQuery(query: Array<[string, string]>): SignatureFields {
  const get = (name: string) => query.find(([k]) => k === name)?.[1];
  const missing = QUERY_PARAMS.filter((name) => !get(name));
  if (missing.length > 0) {
    throw incompleteSignature(
      `${missing.map((name) => `AWS query-string parameters must include '${name}'. `).join('')}Re-examine the query-string parameters.`,
    );
  }
  return {
    mode: 'query',
    algorithm: get('X-Amz-Algorithm')!,
    credential: get('X-Amz-Credential')!,
    signedHeaders: splitSignedHeaders(get('X-Amz-SignedHeaders')!),
    signature: get('X-Amz-Signature')!,
    date: get('X-Amz-Date')!,
    dateFrom: 'query',
    expires: get('X-Amz-Expires'),
  };
}

function splitSignedHeaders(list: string): string[] {
  return list
    .split(';')
    .map((h) => h.trim().toLowerCase())
    .filter((h) => h !== '');
}
