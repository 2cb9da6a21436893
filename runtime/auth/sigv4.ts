// AWS Signature Version 4 verification for the Kinesis endpoint.
//
// Checks run in the order AWS's JSON-protocol front end runs them, so that a
// request with several faults gets the error AWS would give:
//   auth present → parts present → date format and freshness → Host signed →
//   algorithm → credential shape → credential scope → access key → signature.
//
// Decisions:
// * Any non-empty region is accepted in the credential scope: the signing key
//   is derived from whatever region the client chose, and clients pointed at
//   a local or in-cluster endpoint often use a placeholder region. The service
//   must be `kinesis`.
// * The payload hash is always computed from the body, whatever
//   x-amz-content-sha256 claims, for every service this endpoint serves
//   (Kinesis, Firehose, Kinesis Analytics: JSON APIs whose bodies are always
//   signed). A false claim fails as a signature mismatch, so a captured or
//   presigned request cannot be replayed with another body or target. The
//   literals UNSIGNED-PAYLOAD and STREAMING-* (S3's ways to leave the body
//   unsigned) are refused outright with InvalidSignatureException.
// * A session token (x-amz-security-token) is not validated: a request whose
//   access key is known is accepted with or without one.
// * Only Host must be signed, as on AWS; SDKs sign every header they send.
import { timingSafeEqual, createHmac } from 'node:crypto';
import {
  canonicalQuery,
  canonicalRequest,
  canonicalUri,
  lowerCaseHeaders,
  parseQuery,
  sha256Hex,
  splitTarget,
  type HeaderMap,
} from './canonical.js';
import type { CredentialStore } from './credentials.js';
import { incompleteSignature, invalidSignature, unrecognizedClient } from './errors.js';
import { parseSignatureFields } from './parse.js';
import { checkFreshness, signingTime } from './time.js';

export interface SignedRequest {
  method: string;
  /** raw path incl. query string */
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

const ALGORITHM = 'AWS4-HMAC-SHA256';
const SERVICE = 'kinesis';
const TERMINATOR = 'aws4_request';

function signingKey(secret: string, date: string, region: string, service: string): Buffer {
  let key: Buffer | string = `AWS4${secret}`;
  for (const part of [date, region, service, TERMINATOR]) key = createHmac('sha256', key).update(part).digest();
  return key as Buffer;
}

const UNSIGNED_BODY = /^(UNSIGNED-PAYLOAD|STREAMING-)/;

/** The hash the signature must cover: always the body's own. */
function payloadHash(declared: string | undefined, body: Buffer): string {
  if (declared !== undefined && UNSIGNED_BODY.test(declared)) {
    throw invalidSignature(`x-amz-content-sha256 ${declared} is not accepted by this service: the request body must be signed.`);
  }
  return sha256Hex(body);
}

function first(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

// Equal-length compare in constant time; a length mismatch reveals nothing secret.
function sameSignature(expected: string, given: string): boolean {
  const a = Buffer.from(expected, 'utf8');
  const b = Buffer.from(given, 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Returns the caller's access key id (or undefined when auth is disabled); throws KinesisError on failure. */
export function verifyRequest(req: SignedRequest, store: CredentialStore, now: Date = new Date()): string | undefined {
  if (!store.enabled) return undefined;

  const headers = lowerCaseHeaders(req.headers as HeaderMap);
  const { path, query } = splitTarget(req.path);
  const queryPairs = parseQuery(query);
  const fields = parseSignatureFields(headers, queryPairs);

  const time = signingTime(fields.date, fields.dateFrom === 'date');
  checkFreshness(time.date, now, fields.expires);

  if (!fields.signedHeaders.includes('host') && !fields.signedHeaders.includes(':authority')) {
    throw invalidSignature("'Host' must be a 'SignedHeader' in the AWS Authorization.");
  }
  if (fields.algorithm !== ALGORITHM) {
    throw incompleteSignature(`Unsupported AWS 'algorithm': '${fields.algorithm}' (only ${ALGORITHM} for now). `);
  }

  const credential = fields.credential.replace(/\/+$/, '');
  const parts = credential.split('/');
  if (parts.length !== 5) {
    throw incompleteSignature(
      `Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '${credential}'`,
    );
  }
  const [accessKeyId, scopeDate, region, service, terminator] = parts as [string, string, string, string, string];
  let scopeError = '';
  if (!region) scopeError += `Credential should be scoped to a valid region, not '${region}'. `;
  if (service !== SERVICE) scopeError += `Credential should be scoped to correct service: '${SERVICE}'. `;
  if (terminator !== TERMINATOR) {
    scopeError += `Credential should be scoped with a valid terminator: '${TERMINATOR}', not '${terminator}'. `;
  }
  if (scopeDate !== time.basic.slice(0, 8)) {
    scopeError +=
      'Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: ' +
      `'${scopeDate}' != '${time.basic.slice(0, 8)}', from '${fields.date}'.`;
  }
  if (scopeError) throw invalidSignature(scopeError);

  const secret = store.secretFor(accessKeyId);
  if (secret === undefined) throw unrecognizedClient();

  const declaredHash =
    fields.mode === 'query'
      ? (queryPairs.find(([k]) => k.toLowerCase() === 'x-amz-content-sha256')?.[1] ??
        first(headers.get('x-amz-content-sha256')))
      : first(headers.get('x-amz-content-sha256'));
  const canonical = canonicalRequest({
    method: req.method.toUpperCase(),
    uri: canonicalUri(path),
    // A presigned request's own signature is not part of what it signed.
    query: canonicalQuery(queryPairs, fields.mode === 'query' ? new Set(['X-Amz-Signature']) : undefined),
    signedHeaders: fields.signedHeaders,
    headers,
    payloadHash: payloadHash(declaredHash, req.body),
  });
  const scope = `${scopeDate}/${region}/${service}/${terminator}`;
  const stringToSign = `${ALGORITHM}\n${time.basic}\n${scope}\n${sha256Hex(canonical)}`;
  const expected = createHmac('sha256', signingKey(secret, scopeDate, region, service))
    .update(stringToSign)
    .digest('hex');
  if (!sameSignature(expected, fields.signature)) throw invalidSignature();
  return accessKeyId;
}
