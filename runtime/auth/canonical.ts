// The SigV4 canonical request, built from what arrived on the wire, the way
// the AWS SDKs (smithy signature-v4, botocore) build it for non-S3 services:
//   METHOD \n URI \n QUERY \n name:value\n... \n signed;headers \n payload-hash
import { createHash } from 'node:crypto';

/** RFC 3986 strict percent-encoding of UTF-8: only A-Z a-z 0-9 - . _ ~ stay. */
export function uriEncode(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

// A malformed escape (`%zz`, broken UTF-8) is kept as typed; the signer would
// have encoded its own text, so no decoding can reproduce it anyway.
function uriDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** Splits a raw request target into path and query, dropping any fragment or absolute-form origin. */
export function splitTarget(rawPath: string): { path: string; query: string } {
  let target = rawPath;
  const hash = target.indexOf('#');
  if (hash >= 0) target = target.slice(0, hash);
  // A proxy-style absolute-form target ("http://host/x"): only the path was signed.
  const origin = /^[a-z][a-z0-9+.-]*:\/\/[^/?]*/i.exec(target);
  if (origin) target = target.slice(origin[0].length);
  const q = target.indexOf('?');
  return q >= 0 ? { path: target.slice(0, q), query: target.slice(q + 1) } : { path: target, query: '' };
}

/** Decoded key/value pairs of a raw query string, in order. `+` is a literal plus, as the AWS SDKs send it. */
export function parseQuery(query: string): Array<[string, string]> {
  const pairs: Array<[string, string]> = [];
  for (const piece of query.split('&')) {
    if (piece === '') continue;
    const eq = piece.indexOf('=');
    const key = eq >= 0 ? piece.slice(0, eq) : piece;
    const value = eq >= 0 ? piece.slice(eq + 1) : '';
    pairs.push([uriDecode(key), uriDecode(value)]);
  }
  return pairs;
}

/**
 * Canonical URI: dot segments and empty segments removed, then every segment
 * encoded once more. The wire path is already encoded by the client, so this
 * is the "double encoding" SigV4 asks of every service except S3.
 */
export function canonicalUri(path: string): string {
  if (path === '') return '/';
  const segments: string[] = [];
  for (const segment of path.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') segments.pop();
    else segments.push(segment);
  }
  const normalized =
    (path.startsWith('/') ? '/' : '') + segments.join('/') + (segments.length > 0 && path.endsWith('/') ? '/' : '');
  return uriEncode(normalized).replace(/%2F/g, '/');
}

/** Canonical query: each key and value strictly re-encoded, sorted by key then value; `omit` names are left out. */
export function canonicalQuery(pairs: Array<[string, string]>, omit: ReadonlySet<string> = new Set()): string {
  return pairs
    .filter(([key]) => !omit.has(key))
    .map(([key, value]): [string, string] => [uriEncode(key), uriEncode(value)])
    .sort(([ka, va], [kb, vb]) => (ka < kb ? -1 : ka > kb ? 1 : va < vb ? -1 : va > vb ? 1 : 0))
    .map(([key, value]) => `${key}=${value}`)
    .join('&');
}

export type HeaderMap = Record<string, string | string[] | undefined>;

/**
 * Lower-cased view of the request headers. HTTP/2 has no Host header, only
 * the `:authority` pseudo-header, yet signers sign `host` (and the v3 SDK's
 * h2 path may sign `:authority` itself): each stands in for the other.
 */
export function lowerCaseHeaders(headers: HeaderMap): Map<string, string | string[]> {
  const out = new Map<string, string | string[]>();
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    const key = name.toLowerCase();
    const prev = out.get(key);
    out.set(key, prev === undefined ? value : ([] as string[]).concat(prev, value));
  }
  const authority = out.get(':authority');
  if (!out.has('host') && authority !== undefined) out.set('host', authority);
  const host = out.get('host');
  if (!out.has(':authority') && host !== undefined) out.set(':authority', host);
  return out;
}

/** Header value as signed: surrounding space trimmed, runs of whitespace made one space, repeats joined by commas. */
export function canonicalHeaderValue(value: string | string[] | undefined): string {
  const trimAll = (v: string) => v.replace(/[ \t\r\n]+/g, ' ').replace(/^ | $/g, '');
  if (value === undefined) return '';
  return Array.isArray(value) ? value.map(trimAll).join(',') : trimAll(value);
}

export function sha256Hex(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

export interface CanonicalParts {
  method: string;
  uri: string;
  query: string;
  signedHeaders: string[];
  headers: Map<string, string | string[]>;
  payloadHash: string;
}

export function canonicalRequest(p: CanonicalParts): string {
  const lines = p.signedHeaders.map((name) => `${name}:${canonicalHeaderValue(p.headers.get(name))}\n`).join('');
  return `${p.method}\n${p.uri}\n${p.query}\n${lines}\n${p.signedHeaders.join(';')}\n${p.payloadHash}`;
}
