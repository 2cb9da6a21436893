// Real clients against verifyRequest: the v3 SDK over HTTP/1.1 and over its
// default HTTP/2 handler (header names lower-case, `:authority`, no Host),
// and the AWS CLI v2. A tiny server answers ListStreams, or the AWS-shaped
// error JSON the clients parse into an error name.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import os from 'node:os';
import path from 'node:path';
import { KinesisClient, ListStreamsCommand } from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { KinesisError } from '../../runtime/api/errors.js';
import { loadCredentialStore, verifyRequest, type CredentialStore } from '../../runtime/auth/index.js';

const KEY = 'AKIDCLIENTTEST';
const SECRET = 'c2VjcmV0/Zm9yK3Rlc3Rz+YXJlbnQ=secret';
const AWS_CLI = '/usr/bin/aws'; // v2; an older v1 may come first on PATH
const MISMATCH =
  'The request signature we calculated does not match the signature you provided. ' +
  'Check your AWS Secret Access Key and signing method. Consult the service documentation for details.';

const store: CredentialStore = loadCredentialStore({ inline: `${KEY}:${SECRET}` });
const callers: Array<string | undefined> = [];

type Req = http.IncomingMessage | http2.Http2ServerRequest;
type Res = http.ServerResponse | http2.Http2ServerResponse;

function kinesis(req: Req, res: Res): void {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    let status = 200;
    let payload: unknown = { StreamNames: [], HasMoreStreams: false };
    try {
      callers.push(verifyRequest({ method: req.method!, path: req.url!, headers: req.headers, body: Buffer.concat(chunks) }, store));
      if (req.headers['x-amz-target'] !== 'Kinesis_20131202.ListStreams') {
        status = 400;
        payload = { __type: 'UnknownOperationException' };
      }
    } catch (err) {
      if (!(err instanceof KinesisError)) throw err;
      status = err.statusCode;
      payload = { __type: err.type, message: err.message };
    }
    const body = JSON.stringify(payload);
    res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
}

let h1: http.Server;
let h2: http2.Http2Server;
let h1Url: string;
let h2Url: string;

beforeAll(async () => {
  h1 = http.createServer(kinesis);
  h2 = http2.createServer(kinesis);
  await new Promise<void>((r) => h1.listen(0, '127.0.0.1', r));
  await new Promise<void>((r) => h2.listen(0, '127.0.0.1', r));
  h1Url = `http://127.0.0.1:${(h1.address() as { port: number }).port}`;
  h2Url = `http://127.0.0.1:${(h2.address() as { port: number }).port}`;
});

afterAll(async () => {
  h1.closeAllConnections();
  await new Promise((r) => h1.close(r));
  await new Promise((r) => h2.close(r));
});

type Creds = { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
const good: Creds = { accessKeyId: KEY, secretAccessKey: SECRET };

async function listStreams(endpoint: string, credentials: Creds, http1: boolean) {
  const client = new KinesisClient({
    endpoint,
    region: 'us-east-1',
    credentials,
    maxAttempts: 1,
    ...(http1 && { requestHandler: new NodeHttpHandler() }),
  });
  try {
    return await client.send(new ListStreamsCommand({}));
  } finally {
    client.destroy();
  }
}

async function sdkErrorName(endpoint: string, credentials: Creds, http1: boolean): Promise<[string, string]> {
  try {
    await listStreams(endpoint, credentials, http1);
  } catch (err) {
    return [(err as Error).name, (err as Error).message];
  }
  throw new Error('the request was accepted');
}

describe('@aws-sdk/client-kinesis over HTTP/1.1 (NodeHttpHandler)', () => {
  test('correct keys pass', async () => {
    callers.length = 0;
    const out = await listStreams(h1Url, good, true);
    expect(out.StreamNames).toEqual([]);
    expect(callers).toEqual([KEY]);
  });

  test('session credentials with a known key pass', async () => {
    const out = await listStreams(h1Url, { ...good, sessionToken: 'IQoJb3JpZ2luX2VjEHsaCXVzLWVhc3QtMSJH//token==' }, true);
    expect(out.HasMoreStreams).toBe(false);
  });

  test('wrong secret: InvalidSignatureException', async () => {
    expect(await sdkErrorName(h1Url, { ...good, secretAccessKey: 'wrong' }, true)).toEqual(['InvalidSignatureException', MISMATCH]);
  });

  test('unknown key: UnrecognizedClientException', async () => {
    expect(await sdkErrorName(h1Url, { ...good, accessKeyId: 'AKIDNOBODY' }, true)).toEqual([
      'UnrecognizedClientException',
      'The security token included in the request is invalid.',
    ]);
  });
});

describe('@aws-sdk/client-kinesis default handler (HTTP/2, :authority)', () => {
  test('correct keys pass', async () => {
    callers.length = 0;
    const out = await listStreams(h2Url, good, false);
    expect(out.StreamNames).toEqual([]);
    expect(callers).toEqual([KEY]);
  });

  test('wrong secret: InvalidSignatureException', async () => {
    expect((await sdkErrorName(h2Url, { ...good, secretAccessKey: 'wrong' }, false))[0]).toBe('InvalidSignatureException');
  });

  test('unknown key: UnrecognizedClientException', async () => {
    expect((await sdkErrorName(h2Url, { ...good, accessKeyId: 'AKIDNOBODY' }, false))[0]).toBe('UnrecognizedClientException');
  });
});

describe('AWS CLI v2', () => {
  let home: string;
  beforeAll(() => {
    if (!fs.existsSync(AWS_CLI)) throw new Error(`${AWS_CLI} missing: scripts/apt-deps.sh installs awscli`);
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'shardline-awscli-'));
  });
  afterAll(() => fs.rmSync(home, { recursive: true, force: true }));

  function aws(creds: Creds): Promise<{ code: number; stdout: string; stderr: string }> {
    // A clean environment: no profile, config or instance metadata of the host leaks in.
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: home,
      AWS_ACCESS_KEY_ID: creds.accessKeyId,
      AWS_SECRET_ACCESS_KEY: creds.secretAccessKey,
      ...(creds.sessionToken && { AWS_SESSION_TOKEN: creds.sessionToken }),
      AWS_DEFAULT_REGION: 'us-east-1',
      AWS_EC2_METADATA_DISABLED: 'true',
      AWS_CONFIG_FILE: path.join(home, 'config'),
      AWS_SHARED_CREDENTIALS_FILE: path.join(home, 'credentials'),
      AWS_PAGER: '',
      AWS_MAX_ATTEMPTS: '1',
    };
    return new Promise((resolve) => {
      execFile(
        AWS_CLI,
        ['kinesis', 'list-streams', '--endpoint-url', h1Url, '--output', 'json'],
        { env, timeout: 30_000 },
        (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? -1) : 0, stdout, stderr }),
      );
    });
  }

  test('correct keys pass', async () => {
    const out = await aws(good);
    expect(out.stderr).toBe('');
    expect(out.code).toBe(0);
    expect(JSON.parse(out.stdout).StreamNames).toEqual([]);
  });

  test('session credentials with a known key pass', async () => {
    const out = await aws({ ...good, sessionToken: 'FwoGZXIvYXdzEBYaDH//session+token=' });
    expect(out.code).toBe(0);
  });

  test('wrong secret: InvalidSignatureException', async () => {
    const out = await aws({ ...good, secretAccessKey: 'wrong' });
    expect(out.code).not.toBe(0);
    expect(out.stderr).toContain('An error occurred (InvalidSignatureException) when calling the ListStreams operation');
    expect(out.stderr).toContain(MISMATCH);
  });

  test('unknown key: UnrecognizedClientException', async () => {
    const out = await aws({ ...good, accessKeyId: 'AKIDNOBODY' });
    expect(out.code).not.toBe(0);
    // (The CLI inserts "(reached max retries: 0)" before the colon.)
    expect(out.stderr).toContain('An error occurred (UnrecognizedClientException) when calling the ListStreams operation');
    expect(out.stderr).toContain('The security token included in the request is invalid.');
  });
});
