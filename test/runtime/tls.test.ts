// HTTPS on the Kinesis endpoint (issue 12, operability): one port, TLS only,
// ALPN picks h2 or http/1.1; the AWS SDK with its default (h2) handler and an
// https:// endpoint works with only the CA trusted; a replaced certificate is
// served to new connections without a restart. Certificates come from openssl.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import http2 from 'node:http2';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { CreateStreamCommand, GetRecordsCommand, GetShardIteratorCommand, KinesisClient, PutRecordCommand } from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { startNats, type NatsServers } from '../harness/nats.js';
import { startInProcess, TEST_CREDENTIALS } from '../harness/runtime.js';
import type { RunningRuntime } from '../../runtime/server.js';

let nats: NatsServers;
let rt: RunningRuntime & { endpoint: string };
let dir: string;
let ca: Buffer;
const certFile = () => path.join(dir, 'tls.crt');
const keyFile = () => path.join(dir, 'tls.key');

const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });

/** A server certificate for 127.0.0.1/localhost signed by the test CA, written to tls.crt/tls.key. */
function issue(cn: string): void {
  openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'new.key', '-subj', `/CN=${cn}`, '-out', 'new.csr');
  fs.writeFileSync(path.join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  openssl('x509', '-req', '-in', 'new.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-extfile', 'san.ext', '-out', 'new.crt');
  // Key first, then certificate: the runtime keeps the old pair until both match.
  fs.renameSync(path.join(dir, 'new.key'), keyFile());
  fs.renameSync(path.join(dir, 'new.crt'), certFile());
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shardline-tls-'));
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-subj', '/CN=shardline test CA', '-days', '2');
  ca = fs.readFileSync(path.join(dir, 'ca.crt'));
  issue('first');
  nats = await startNats();
  rt = await startInProcess(nats.url, { tlsCertFile: certFile(), tlsKeyFile: keyFile() });
});
afterAll(async () => {
  await rt?.close();
  await nats?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

const url = () => `https://127.0.0.1:${rt.port}`;

function peer(): Promise<{ cn: string; alpn: string | false | null }> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port: rt.port, ca, ALPNProtocols: ['h2', 'http/1.1'] }, () => {
      resolve({ cn: String(s.getPeerCertificate().subject.CN), alpn: s.alpnProtocol });
      s.destroy();
    });
    s.on('error', reject);
  });
}

test('h2 by ALPN and HTTP/1.1 over TLS, both served', async () => {
  const session = http2.connect(url(), { ca });
  const h2 = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = session.request({ ':method': 'POST', ':path': '/', 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'Kinesis_20131202.ListStreams' });
    let body = '';
    let status = 0;
    req.on('response', (h) => (status = Number(h[':status'])));
    req.on('data', (d) => (body += d));
    req.on('end', () => resolve({ status, body }));
    req.on('error', reject);
    req.end('{}');
  });
  expect(session.alpnProtocol).toBe('h2');
  session.close();
  expect(h2.status).toBe(200);
  expect(JSON.parse(h2.body)).toHaveProperty('StreamNames');

  const h1 = await new Promise<{ status: number; alpn: string | false | null }>((resolve, reject) => {
    const req = https.request(url(), { method: 'POST', ca, ALPNProtocols: ['http/1.1'], headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'Kinesis_20131202.ListStreams' } } as https.RequestOptions, (res) => {
      const alpn = (res.socket as tls.TLSSocket).alpnProtocol;
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode!, alpn }));
    });
    req.on('error', reject);
    req.end('{}');
  });
  expect(h1).toEqual({ status: 200, alpn: 'http/1.1' });
});

test('the AWS SDK round-trips records over https (HTTP/1.1 handler)', async () => {
  const client = new KinesisClient({
    endpoint: url(),
    region: 'us-east-1',
    credentials: TEST_CREDENTIALS,
    maxAttempts: 1,
    requestHandler: new NodeHttpHandler({ httpsAgent: new https.Agent({ ca }) }),
  });
  await client.send(new CreateStreamCommand({ StreamName: 'tls', ShardCount: 1 }));
  const put = await client.send(new PutRecordCommand({ StreamName: 'tls', PartitionKey: 'k', Data: Buffer.from('secure') }));
  const it = await client.send(new GetShardIteratorCommand({ StreamName: 'tls', ShardId: put.ShardId!, ShardIteratorType: 'TRIM_HORIZON' }));
  const got = await client.send(new GetRecordsCommand({ ShardIterator: it.ShardIterator! }));
  expect(got.Records!.map((r) => Buffer.from(r.Data!).toString())).toEqual(['secure']);
  client.destroy();
});

test("the SDK's default handler (h2) with an https endpoint, trusting only the CA (NODE_EXTRA_CA_CERTS)", async () => {
  const script = `
    import { KinesisClient, ListStreamsCommand } from '@aws-sdk/client-kinesis';
    const c = new KinesisClient({ endpoint: process.env.EP, region: 'us-east-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' }, maxAttempts: 1 });
    const out = await c.send(new ListStreamsCommand({}));
    console.log(JSON.stringify(out.StreamNames));
    c.destroy();`;
  const out = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const p = spawn(process.execPath, ['--input-type=module', '-e', script], {
      env: { ...process.env, EP: url(), NODE_EXTRA_CA_CERTS: path.join(dir, 'ca.crt') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
  // (stderr may carry the SDK's Node version notice)
  expect(out.stderr).not.toMatch(/Error|CERT|ECONN/);
  expect(out.code).toBe(0);
  expect(JSON.parse(out.stdout)).toContain('tls');
}, 30_000);

test('cleartext is not served on a TLS port', async () => {
  const answer = await new Promise<string>((resolve) => {
    const s = net.connect(rt.port, '127.0.0.1', () => s.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}'));
    let data = '';
    s.on('data', (d) => (data += d));
    s.on('error', () => undefined);
    s.on('close', () => resolve(data));
  });
  expect(answer).not.toMatch(/^HTTP\/1\.1 200/);
});

test('a renewed certificate is served to new connections without a restart', async () => {
  expect((await peer()).cn).toBe('first');
  issue('renewed');
  const deadline = Date.now() + 10_000;
  let seen = (await peer()).cn;
  while (seen !== 'renewed' && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 200));
    seen = (await peer()).cn;
  }
  expect(seen).toBe('renewed');
  expect((await peer()).alpn).toBe('h2');
}, 20_000);
