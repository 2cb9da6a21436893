// NATS credentials (issue 12, operability): the runtime connects to a real
// nats-server that requires mutual TLS plus user/password or an NKey, or a
// token, with settings from flags, env, or a directory laid out like the
// Secret the operator mounts (--nats-auth-dir). Wrong credentials fail the
// start with the server's reason.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { nkeys } from 'nats';
import { CreateStreamCommand, PutRecordCommand } from '@aws-sdk/client-kinesis';
import { freePort, waitForPort } from '../harness/ports.js';
import { NATS_SERVER } from '../harness/nats.js';
import { sdkClient, startInProcess } from '../harness/runtime.js';

let dir: string;
const servers: ChildProcess[] = [];
let tlsPort: number;
let tokenPort: number;
const nkey = nkeys.createUser();
const seed = new TextDecoder().decode(nkey.getSeed());
const f = (name: string) => path.join(dir, name);
const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });

function cert(name: string, cn: string, ext: string): void {
  openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-subj', `/CN=${cn}`, '-out', `${name}.csr`);
  fs.writeFileSync(f(`${name}.ext`), ext);
  openssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-extfile', `${name}.ext`, '-out', `${name}.crt`);
}

async function natsServer(port: number, conf: string[]): Promise<void> {
  const file = f(`nats-${port}.conf`);
  fs.writeFileSync(file, [`listen: 127.0.0.1:${port}`, 'max_payload: 16MB', `jetstream { store_dir: "${f(`js-${port}`)}" }`, ...conf].join('\n') + '\n');
  const p = spawn(NATS_SERVER, ['-c', file], { stdio: 'ignore' });
  servers.push(p);
  await waitForPort(port);
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shardline-natsauth-'));
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-subj', '/CN=nats test CA', '-days', '2');
  cert('server', '127.0.0.1', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  cert('client', 'runtime', 'extendedKeyUsage=clientAuth\n');
  fs.writeFileSync(f('password'), 'pw-from-file\n');
  fs.writeFileSync(f('token'), 's3cret-token\n');
  fs.writeFileSync(f('seed'), seed);
  tlsPort = await freePort();
  tokenPort = await freePort();
  await natsServer(tlsPort, [
    `tls { cert_file: "${f('server.crt')}", key_file: "${f('server.key')}", ca_file: "${f('ca.crt')}", verify: true }`,
    `authorization { users: [ { user: "rt", password: "pw-from-file" }, { nkey: "${nkey.getPublicKey()}" } ] }`,
  ]);
  await natsServer(tokenPort, ['authorization { token: "s3cret-token" }']);
}, 60_000);
afterAll(() => {
  for (const s of servers) s.kill('SIGKILL');
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

async function roundTrip(endpoint: string, stream: string): Promise<void> {
  const client = sdkClient(endpoint, { http1: true });
  await client.send(new CreateStreamCommand({ StreamName: stream, ShardCount: 1 }));
  const put = await client.send(new PutRecordCommand({ StreamName: stream, PartitionKey: 'k', Data: Buffer.from('x') }));
  expect(put.SequenceNumber).toMatch(/^\d+$/);
  client.destroy();
}

const tlsFiles = () => ({ tlsCa: f('ca.crt'), tlsCert: f('client.crt'), tlsKey: f('client.key') });

test('mutual TLS + user/password (password from a file)', async () => {
  const rt = await startInProcess(`tls://127.0.0.1:${tlsPort}`, { natsAuth: { user: 'rt', passwordFile: f('password'), ...tlsFiles() } });
  try {
    await roundTrip(rt.endpoint, 'userpass');
  } finally {
    await rt.close();
  }
});

test('mutual TLS + NKey, all from a Secret-like directory (--nats-auth-dir)', async () => {
  const secret = f('secret');
  fs.mkdirSync(secret);
  fs.writeFileSync(path.join(secret, 'nkey-seed'), seed);
  for (const [from, to] of [['ca.crt', 'ca.crt'], ['client.crt', 'tls.crt'], ['client.key', 'tls.key']]) fs.copyFileSync(f(from!), path.join(secret, to!));
  const rt = await startInProcess(`tls://127.0.0.1:${tlsPort}`, { natsAuth: { authDir: secret } });
  try {
    await roundTrip(rt.endpoint, 'nkey');
  } finally {
    await rt.close();
  }
});

test('token from env, through the real CLI', async () => {
  const port = await freePort();
  const proc = spawn(process.execPath, [path.resolve('dist/runtime/cli.js'), 'runtime', '--nats', `nats://127.0.0.1:${tokenPort}`, '--port', String(port), '--host', '127.0.0.1'], {
    env: { ...process.env, SHARDLINE_NATS_TOKEN_FILE: f('token') },
    stdio: 'ignore',
  });
  try {
    await waitForPort(port);
    await roundTrip(`http://127.0.0.1:${port}`, 'token');
  } finally {
    proc.kill('SIGKILL');
  }
});

test('wrong credentials or no client certificate: the start fails with the reason', async () => {
  await expect(startInProcess(`tls://127.0.0.1:${tlsPort}`, { natsAuth: { user: 'rt', password: 'wrong', ...tlsFiles() } })).rejects.toThrow(/Authorization Violation/i);
  await expect(startInProcess(`nats://127.0.0.1:${tokenPort}`, { natsAuth: { token: 'nope' } })).rejects.toThrow(/Authorization Violation/i);
  await expect(startInProcess(`tls://127.0.0.1:${tlsPort}`, { natsAuth: { user: 'rt', passwordFile: f('password'), tlsCa: f('ca.crt') } })).rejects.toThrow();
}, 60_000);
