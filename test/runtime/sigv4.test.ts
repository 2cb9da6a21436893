// SigV4 verification against requests signed by the real smithy signer and
// sent over a real socket by the SDK's NodeHttpHandler, so that what we verify
// is exactly what arrives on the wire (path and query encoding included).
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { Sha256 } from '@aws-crypto/sha256-js';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { SignatureV4 } from '@smithy/signature-v4';
import { KinesisError } from '../../runtime/api/errors.js';
import {
  createCredentialStore,
  credentialOptionsFromEnv,
  loadCredentialStore,
  verifyRequest,
  type SignedRequest,
} from '../../runtime/auth/index.js';

const KEY = 'AKIDEXAMPLE';
const SECRET = 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY';
const MISMATCH =
  'The request signature we calculated does not match the signature you provided. ' +
  'Check your AWS Secret Access Key and signing method. Consult the service documentation for details.';
const T0 = new Date('2024-01-01T00:00:00Z');

const store = loadCredentialStore({ inline: `${KEY}:${SECRET}` });

type Creds = { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
const signer = (creds: Partial<Creds> = {}, opts: { applyChecksum?: boolean; service?: string; region?: string } = {}) =>
  new SignatureV4({
    credentials: { accessKeyId: KEY, secretAccessKey: SECRET, ...creds },
    region: opts.region ?? 'us-east-1',
    service: opts.service ?? 'kinesis',
    sha256: Sha256,
    applyChecksum: opts.applyChecksum,
  });

// A server that records each request as the HTTP layer would hand it over.
let server: http.Server;
let port: number;
const handler = new NodeHttpHandler();
let lastCaptured: SignedRequest | undefined;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      lastCaptured = { method: req.method!, path: req.url!, headers: req.headers, body: Buffer.concat(chunks) };
      res.end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as { port: number }).port;
});

afterAll(async () => {
  handler.destroy();
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

interface Req {
  method: string;
  protocol: string;
  hostname: string;
  port: number;
  path: string;
  query: Record<string, string | string[]>;
  headers: Record<string, string>;
  body?: string;
}

function request(over: Partial<Req> = {}): Req {
  return {
    method: 'POST',
    protocol: 'http:',
    hostname: '127.0.0.1',
    port,
    path: '/',
    query: {},
    body: '{"Limit":10}',
    ...over,
    headers: {
      host: `127.0.0.1:${port}`,
      'content-type': 'application/x-amz-json-1.1',
      'x-amz-target': 'Kinesis_20131202.ListStreams',
      ...over.headers,
    },
  };
}

/** Sends an already signed request over HTTP/1.1 and returns it as received. */
async function wire(signed: unknown): Promise<SignedRequest> {
  lastCaptured = undefined;
  const { response } = await handler.handle(signed as never);
  await new Promise<void>((resolve) => {
    const body = response.body as NodeJS.ReadableStream;
    body.on('end', resolve);
    body.resume();
  });
  if (!lastCaptured) throw new Error('server saw no request');
  return lastCaptured;
}

async function signed(
  over: Partial<Req> = {},
  creds: Partial<Creds> = {},
  at: Date = T0,
  opts: { applyChecksum?: boolean; service?: string; region?: string } = {},
): Promise<SignedRequest> {
  return wire(await signer(creds, opts).sign(request(over) as never, { signingDate: at }));
}

async function presigned(over: Partial<Req> = {}, creds: Partial<Creds> = {}, expiresIn = 300): Promise<SignedRequest> {
  return wire(await signer(creds).presign(request(over) as never, { signingDate: T0, expiresIn }));
}

function failure(fn: () => unknown): KinesisError {
  try {
    fn();
  } catch (err) {
    if (err instanceof KinesisError) return err;
    throw err;
  }
  throw new Error('expected a KinesisError, verification passed');
}

function expectError(fn: () => unknown, type: string, message: unknown): void {
  const err = failure(fn);
  expect({ type: err.type, message: err.message, status: err.statusCode }).toEqual({ type, message, status: 400 });
}

const withHeaders = (req: SignedRequest, headers: SignedRequest['headers']): SignedRequest => ({
  ...req,
  headers: { ...req.headers, ...headers },
});

describe('verifyRequest accepts requests signed by @smithy/signature-v4', () => {
  test('JSON body', async () => {
    expect(verifyRequest(await signed(), store, T0)).toBe(KEY);
  });

  test('empty body', async () => {
    const req = await signed({ body: '' });
    expect(req.body.length).toBe(0);
    expect(verifyRequest(req, store, T0)).toBe(KEY);
  });

  test('query parameters and path segments that need encoding', async () => {
    const req = await signed({
      path: '/a%20b/./c~d//e/../f%2Fg/',
      query: { 'sp ace': 'a/b+c=d&e', 'ünï': '✓ ok', multi: ['z', 'a', 'M'], empty: '', "st*r!'()": '~._-' },
    });
    // What the SDK puts on the wire: strict RFC 3986 encoding, UTF-8, repeated keys.
    expect(req.path).toContain('sp%20ace=a%2Fb%2Bc%3Dd%26e');
    expect(req.path).toContain('%C3%BCn%C3%AF=%E2%9C%93%20ok');
    expect(req.path.startsWith('/a%20b/./c~d//e/../f%2Fg/?')).toBe(true);
    expect(verifyRequest(req, store, T0)).toBe(KEY);
  });

  test('session token (x-amz-security-token) with a known access key', async () => {
    const req = await signed({}, { sessionToken: 'FQoGZXIvYXdzEJr//////////wEaDOnAbCdEf+gH/iJ=' });
    expect(req.headers['x-amz-security-token']).toBeDefined();
    expect(verifyRequest(req, store, T0)).toBe(KEY);
  });

  test('x-amz-content-sha256 absent: the payload hash comes from the body', async () => {
    const req = await signed({}, {}, T0, { applyChecksum: false });
    expect(req.headers['x-amz-content-sha256']).toBeUndefined();
    expect(verifyRequest(req, store, T0)).toBe(KEY);
  });

  test('x-amz-content-sha256 present', async () => {
    const req = await signed();
    expect(req.headers['x-amz-content-sha256']).toMatch(/^[0-9a-f]{64}$/);
    expect(verifyRequest(req, store, T0)).toBe(KEY);
  });

  // issue 12 fault 4: the body must always be covered by the signature.
  test('UNSIGNED-PAYLOAD and STREAMING-* are refused (InvalidSignatureException), with the signed body or another', async () => {
    for (const declared of ['UNSIGNED-PAYLOAD', 'STREAMING-UNSIGNED-PAYLOAD-TRAILER']) {
      const req = await signed({ headers: { 'x-amz-content-sha256': declared } });
      expectError(() => verifyRequest(req, store, T0), 'InvalidSignatureException', expect.stringContaining(declared));
      expectError(() => verifyRequest({ ...req, body: Buffer.from('{"Limit":1}') }, store, T0), 'InvalidSignatureException', expect.stringContaining(declared));
    }
  });

  test('presigned query auth', async () => {
    const req = await presigned();
    expect(req.headers.authorization).toBeUndefined();
    expect(req.path).toContain('X-Amz-Signature=');
    expect(verifyRequest(req, store, T0)).toBe(KEY);
  });

  test('presigned query auth with a session token and encoded parameters', async () => {
    const req = await presigned({ query: { 'a b': 'c/d' } }, { sessionToken: 'tok/en+=' });
    expect(req.path).toContain('X-Amz-Security-Token=');
    expect(verifyRequest(req, store, T0)).toBe(KEY);
  });

  test('h2-style: lower-case headers, :authority instead of host', async () => {
    const req = await signed();
    const { host, ...rest } = req.headers;
    const h2 = { ...req, headers: { ...rest, ':authority': host, ':method': 'POST', ':path': '/', ':scheme': 'http' } };
    expect(verifyRequest(h2, store, T0)).toBe(KEY);
  });

  test('h2 signer that signed :authority itself, arriving with a host header', async () => {
    // The v3 SDK over HTTP/2 signs `:authority` rather than `host`. HTTP/1.1
    // cannot carry a pseudo-header, so sign it and send its value as Host.
    const { host, ...headers } = request().headers;
    const sig = await signer().sign(request({ headers: { ...headers, ':authority': host! } as never }) as never, {
      signingDate: T0,
    });
    const sent = sig as unknown as { headers: Record<string, string> };
    const { ':authority': authority, ...rest } = sent.headers;
    const req = await wire({ ...sent, headers: { ...rest, host: authority } });
    expect(String(req.headers.authorization)).toContain('SignedHeaders=:authority;');
    expect(verifyRequest(req, store, T0)).toBe(KEY);
  });

  test('any region in the scope', async () => {
    expect(verifyRequest(await signed({}, {}, T0, { region: 'eu-west-3' }), store, T0)).toBe(KEY);
    expect(verifyRequest(await signed({}, {}, T0, { region: 'local' }), store, T0)).toBe(KEY);
  });

  test('clock skew up to 15 minutes either way', async () => {
    const req = await signed();
    expect(verifyRequest(req, store, new Date(T0.getTime() + 15 * 60_000))).toBe(KEY);
    expect(verifyRequest(req, store, new Date(T0.getTime() - 15 * 60_000))).toBe(KEY);
  });

  test('auth disabled: signed or not, anything is accepted', async () => {
    const open = loadCredentialStore({});
    expect(open.enabled).toBe(false);
    expect(verifyRequest(await signed(), open, T0)).toBeUndefined();
    expect(verifyRequest({ method: 'POST', path: '/', headers: {}, body: Buffer.alloc(0) }, open)).toBeUndefined();
  });
});

describe('verifyRequest rejects, with the AWS error type and message', () => {
  test('tampered body', async () => {
    const req = await signed();
    expectError(() => verifyRequest({ ...req, body: Buffer.from('{"Limit":11}') }, store, T0), 'InvalidSignatureException', MISMATCH);
  });

  test('tampered body on a request without x-amz-content-sha256', async () => {
    const req = await signed({}, {}, T0, { applyChecksum: false });
    expectError(() => verifyRequest({ ...req, body: Buffer.from('{}') }, store, T0), 'InvalidSignatureException', MISMATCH);
  });

  test('x-amz-content-sha256 that claims another body than the one sent', async () => {
    const claim = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'; // hash of ""
    const req = await signed({ headers: { 'x-amz-content-sha256': claim } });
    expectError(() => verifyRequest(req, store, T0), 'InvalidSignatureException', MISMATCH);
  });

  test('tampered signed header', async () => {
    const req = await signed();
    const bad = withHeaders(req, { 'x-amz-target': 'Kinesis_20131202.DeleteStream' });
    expectError(() => verifyRequest(bad, store, T0), 'InvalidSignatureException', MISMATCH);
  });

  test('tampered query string', async () => {
    const req = await signed({ query: { a: '1' } });
    expectError(() => verifyRequest({ ...req, path: req.path.replace('a=1', 'a=2') }, store, T0), 'InvalidSignatureException', MISMATCH);
  });

  test('tampered date (same day)', async () => {
    const req = await signed();
    const bad = withHeaders(req, { 'x-amz-date': '20240101T000001Z' });
    expectError(() => verifyRequest(bad, store, T0), 'InvalidSignatureException', MISMATCH);
  });

  test('date moved to another day than the credential scope', async () => {
    const req = await signed();
    const bad = withHeaders(req, { 'x-amz-date': '20240102T000000Z' });
    expectError(
      () => verifyRequest(bad, store, new Date('2024-01-02T00:00:00Z')),
      'InvalidSignatureException',
      "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '20240101' != '20240102', from '20240102T000000Z'.",
    );
  });

  test('wrong secret', async () => {
    const req = await signed({}, { secretAccessKey: 'not-the-secret' });
    expectError(() => verifyRequest(req, store, T0), 'InvalidSignatureException', MISMATCH);
  });

  test('unknown access key', async () => {
    const req = await signed({}, { accessKeyId: 'AKIDUNKNOWN' });
    expectError(
      () => verifyRequest(req, store, T0),
      'UnrecognizedClientException',
      'The security token included in the request is invalid.',
    );
  });

  test('unknown access key with a session token', async () => {
    const req = await signed({}, { accessKeyId: 'ASIAUNKNOWN', sessionToken: 'x' });
    expectError(
      () => verifyRequest(req, store, T0),
      'UnrecognizedClientException',
      'The security token included in the request is invalid.',
    );
  });

  test('signed more than 15 minutes ago', async () => {
    const req = await signed();
    expectError(
      () => verifyRequest(req, store, new Date(T0.getTime() + 16 * 60_000)),
      'InvalidSignatureException',
      'Signature expired: 20240101T000000Z is now earlier than 20240101T000100Z (20240101T001600Z - 15 min.)',
    );
  });

  test('signed more than 15 minutes in the future', async () => {
    const req = await signed();
    expectError(
      () => verifyRequest(req, store, new Date(T0.getTime() - 16 * 60_000)),
      'InvalidSignatureException',
      'Signature not yet current: 20240101T000000Z is still later than 20231231T235900Z (20231231T234400Z + 15 min.)',
    );
  });

  test('presigned request past its X-Amz-Expires', async () => {
    const req = await presigned({}, {}, 60);
    expect(verifyRequest(req, store, new Date(T0.getTime() + 60_000))).toBe(KEY);
    expectError(
      () => verifyRequest(req, store, new Date(T0.getTime() + 61_000)),
      'InvalidSignatureException',
      'Signature expired: 20240101T000000Z is now earlier than 20240101T000001Z (20240101T000101Z - 60 sec.)',
    );
  });

  test('presigned request with a tampered body', async () => {
    const req = await presigned();
    expectError(() => verifyRequest({ ...req, body: Buffer.from('{}') }, store, T0), 'InvalidSignatureException', MISMATCH);
  });

  test('no Authorization header and no query auth', async () => {
    const req = await signed();
    const { authorization: _, ...headers } = req.headers;
    expectError(() => verifyRequest({ ...req, headers }, store, T0), 'MissingAuthenticationTokenException', 'Missing Authentication Token');
  });

  // issue 14 item 6: AWS parses any Authorization header and names what is missing.
  test('a malformed or non-AWS4 Authorization header → IncompleteSignatureException', async () => {
    const req = withHeaders(await signed(), { authorization: 'X' });
    expectError(
      () => verifyRequest(req, store, T0),
      'IncompleteSignatureException',
      "Authorization header requires 'Credential' parameter. Authorization header requires 'Signature' parameter. " +
        "Authorization header requires 'SignedHeaders' parameter. Authorization=X",
    );
    const basic = withHeaders(await signed(), { authorization: 'Basic dXNlcjpwYXNz' });
    expectError(() => verifyRequest(basic, store, T0), 'IncompleteSignatureException', expect.stringContaining('Basic dXNlcjpwYXNz'));
  });

  test('Authorization header missing its parts', async () => {
    const req = withHeaders(await signed(), { authorization: 'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240101/us-east-1/kinesis/aws4_request' });
    expectError(
      () => verifyRequest(req, store, T0),
      'IncompleteSignatureException',
      "Authorization header requires 'Signature' parameter. Authorization header requires 'SignedHeaders' parameter. " +
        'Authorization=AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240101/us-east-1/kinesis/aws4_request',
    );
  });

  test('Authorization header without any date header', async () => {
    const req = await signed();
    const { 'x-amz-date': _, ...headers } = req.headers;
    const auth = String(headers.authorization);
    expectError(
      () => verifyRequest({ ...req, headers }, store, T0),
      'IncompleteSignatureException',
      `Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. Authorization=${auth}`,
    );
  });

  test('Authorization part without an equal sign', async () => {
    const auth = 'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240101/us-east-1/kinesis/aws4_request, SignedHeaders, Signature=00';
    const req = withHeaders(await signed(), { authorization: auth });
    expectError(
      () => verifyRequest(req, store, T0),
      'IncompleteSignatureException',
      `'SignedHeaders' not a valid key=value pair (missing equal-sign) in Authorization header: '${auth}'.`,
    );
  });

  test('malformed X-Amz-Date', async () => {
    const req = withHeaders(await signed(), { 'x-amz-date': '2024-01-01T00:00:00Z' });
    expectError(
      () => verifyRequest(req, store, T0),
      'IncompleteSignatureException',
      "Date must be in ISO-8601 'basic format'. Got '2024-01-01T00:00:00Z'. See http://en.wikipedia.org/wiki/ISO_8601",
    );
  });

  test('unsupported algorithm', async () => {
    const req = await signed();
    const bad = withHeaders(req, { authorization: String(req.headers.authorization).replace('AWS4-HMAC-SHA256', 'AWS4-HMAC-SHA512') });
    expectError(
      () => verifyRequest(bad, store, T0),
      'IncompleteSignatureException',
      "Unsupported AWS 'algorithm': 'AWS4-HMAC-SHA512' (only AWS4-HMAC-SHA256 for now). ",
    );
  });

  test('credential with the wrong number of parts', async () => {
    const req = await signed();
    const bad = withHeaders(req, { authorization: String(req.headers.authorization).replace('/us-east-1/', '/') });
    expectError(
      () => verifyRequest(bad, store, T0),
      'IncompleteSignatureException',
      "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got 'AKIDEXAMPLE/20240101/kinesis/aws4_request'",
    );
  });

  test('credential scoped to another service', async () => {
    const req = await signed({}, {}, T0, { service: 'dynamodb' });
    expectError(() => verifyRequest(req, store, T0), 'InvalidSignatureException', "Credential should be scoped to correct service: 'kinesis'. ");
  });

  test('credential with a bad terminator and empty region', async () => {
    const req = await signed();
    const bad = withHeaders(req, {
      authorization: String(req.headers.authorization).replace('/us-east-1/kinesis/aws4_request', '//kinesis/aws5_request'),
    });
    expectError(
      () => verifyRequest(bad, store, T0),
      'InvalidSignatureException',
      "Credential should be scoped to a valid region, not ''. Credential should be scoped with a valid terminator: 'aws4_request', not 'aws5_request'. ",
    );
  });

  test('Host not among the signed headers', async () => {
    const req = await signed();
    const bad = withHeaders(req, { authorization: String(req.headers.authorization).replace('host;', '') });
    expect(String(bad.headers.authorization)).not.toContain('host');
    expectError(() => verifyRequest(bad, store, T0), 'InvalidSignatureException', "'Host' must be a 'SignedHeader' in the AWS Authorization.");
  });

  test('presigned request missing parameters', async () => {
    const req = await presigned();
    const bad = { ...req, path: req.path.replace(/X-Amz-Signature=[0-9a-f]+&?/, '') };
    expectError(
      () => verifyRequest(bad, store, T0),
      'IncompleteSignatureException',
      "AWS query-string parameters must include 'X-Amz-Signature'. Re-examine the query-string parameters.",
    );
  });

  test('both query auth and an Authorization header', async () => {
    const req = withHeaders(await presigned(), { authorization: 'AWS4-HMAC-SHA256 Credential=x' });
    expectError(
      () => verifyRequest(req, store, T0),
      'InvalidSignatureException',
      "Found both 'X-Amz-Algorithm' as a query-string param and 'Authorization' as HTTP header.",
    );
  });

  test('a Date header stands in for X-Amz-Date', async () => {
    const req = await signed();
    const { 'x-amz-date': _, ...headers } = req.headers;
    // The date parses and matches the scope, so only the signature (which covered x-amz-date) is wrong.
    const bad = { ...req, headers: { ...headers, date: 'Mon, 01 Jan 2024 00:00:00 GMT' } };
    expectError(() => verifyRequest(bad, store, T0), 'InvalidSignatureException', MISMATCH);
  });

  test('an empty credential store rejects every key', async () => {
    const none = loadCredentialStore({ inline: '' });
    expect(none.enabled).toBe(true);
    expectError(() => verifyRequest({ method: 'POST', path: '/', headers: {}, body: Buffer.alloc(0) }, none, T0), 'MissingAuthenticationTokenException', 'Missing Authentication Token');
    const req = await signed();
    expectError(() => verifyRequest(req, none, T0), 'UnrecognizedClientException', 'The security token included in the request is invalid.');
  });
});

describe('credential store', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shardline-creds-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('file of ID:SECRET lines, with comments and blank lines', () => {
    const file = path.join(dir, 'credentials');
    fs.writeFileSync(file, `# producers\nAKID1:secret/one+x\n\n  AKID2:sec:ret2  \r\n# AKID3:commented\n`);
    const s = loadCredentialStore({ file });
    expect(s.enabled).toBe(true);
    expect(s.secretFor('AKID1')).toBe('secret/one+x');
    expect(s.secretFor('AKID2')).toBe('sec:ret2');
    expect(s.secretFor('AKID3')).toBeUndefined();
  });

  test('inline entries separated by commas; the file wins on a clash', () => {
    const file = path.join(dir, 'credentials');
    fs.writeFileSync(file, 'A:from-file\n');
    const s = loadCredentialStore({ inline: 'A:inline,B:b', file });
    expect(s.secretFor('A')).toBe('from-file');
    expect(s.secretFor('B')).toBe('b');
  });

  test('a malformed entry throws without echoing it', () => {
    expect(() => loadCredentialStore({ inline: 'A:ok,justasecretvalue' })).toThrow(/malformed credential entry/);
    expect(() => loadCredentialStore({ inline: 'justasecretvalue' })).not.toThrow(/justasecretvalue/);
  });

  test('a missing file throws at start-up', () => {
    expect(() => loadCredentialStore({ file: path.join(dir, 'nope') })).toThrow(/ENOENT/);
  });

  test('file is re-read when it changes', () => {
    const file = path.join(dir, 'credentials');
    fs.writeFileSync(file, 'AKID1:old\n');
    const s = createCredentialStore({ file, checkIntervalMs: 0 });
    expect(s.secretFor('AKID1')).toBe('old');
    fs.writeFileSync(file, 'AKID1:new-secret\nAKID2:two\n');
    expect(s.secretFor('AKID1')).toBe('new-secret');
    expect(s.secretFor('AKID2')).toBe('two');
  });

  test('checks for changes at most once per interval', () => {
    const file = path.join(dir, 'credentials');
    fs.writeFileSync(file, 'AKID1:old\n');
    let clock = 0;
    const s = createCredentialStore({ file, checkIntervalMs: 1000, now: () => clock });
    fs.writeFileSync(file, 'AKID1:newer\n');
    clock = 999;
    expect(s.secretFor('AKID1')).toBe('old');
    clock = 1000;
    expect(s.secretFor('AKID1')).toBe('newer');
  });

  test('a broken reload keeps the previous keys', () => {
    const file = path.join(dir, 'credentials');
    fs.writeFileSync(file, 'AKID1:good\n');
    const warnings: unknown[] = [];
    const emitWarning = process.emitWarning;
    process.emitWarning = ((w: unknown) => void warnings.push(w)) as typeof process.emitWarning;
    try {
      const s = createCredentialStore({ file, checkIntervalMs: 0 });
      fs.writeFileSync(file, 'garbage-without-colon\n');
      expect(s.secretFor('AKID1')).toBe('good');
      fs.rmSync(file);
      expect(s.secretFor('AKID1')).toBe('good');
      expect(warnings.length).toBeGreaterThan(0);
      fs.writeFileSync(file, 'AKID1:fixed\n');
      expect(s.secretFor('AKID1')).toBe('fixed');
    } finally {
      process.emitWarning = emitWarning;
    }
  });

  test('a Kubernetes Secret volume: one file per access key, rotated by swapping ..data', () => {
    // The kubelet's layout: key -> ..data/key, ..data -> ..<timestamp>/, swapped atomically.
    const mount = path.join(dir, 'mount');
    fs.mkdirSync(mount);
    const version = (name: string, keys: Record<string, string>) => {
      fs.mkdirSync(path.join(mount, name));
      for (const [k, v] of Object.entries(keys)) fs.writeFileSync(path.join(mount, name, k), `${v}\n`);
    };
    version('..2024_01', { AKIDA: 'alpha', AKIDB: 'bravo' });
    fs.symlinkSync('..2024_01', path.join(mount, '..data'));
    for (const k of ['AKIDA', 'AKIDB']) fs.symlinkSync(path.join('..data', k), path.join(mount, k));

    const s = createCredentialStore({ file: mount, checkIntervalMs: 0 });
    expect(s.secretFor('AKIDA')).toBe('alpha');
    expect(s.secretFor('AKIDB')).toBe('bravo');
    expect(s.secretFor('..data')).toBeUndefined();

    version('..2024_02', { AKIDA: 'alpha-2', AKIDB: 'bravo-2' });
    fs.symlinkSync('..2024_02', path.join(mount, '..data_tmp'));
    fs.renameSync(path.join(mount, '..data_tmp'), path.join(mount, '..data'));
    expect(s.secretFor('AKIDA')).toBe('alpha-2');
    expect(s.secretFor('AKIDB')).toBe('bravo-2');
  });

  test('options from the environment', () => {
    expect(credentialOptionsFromEnv({})).toEqual({});
    expect(credentialOptionsFromEnv({ SHARDLINE_CREDENTIALS_FILE: '/etc/c', SHARDLINE_CREDENTIALS: 'A:b' })).toEqual({
      file: '/etc/c',
      inline: 'A:b',
    });
    expect(credentialOptionsFromEnv({ SHARDLINE_CREDENTIALS_FILE: '/etc/c' }, '/flag')).toEqual({ file: '/flag' });
  });
});
