// NATS .creds files (issue 12, operability) against a nats-server in operator
// mode, as NGS/Synadia-style deployments run it: an operator, an account with
// JetStream enabled and a user, as JWTs signed with NKeys (nats-jwt), the
// account preloaded in a memory resolver. The built CLI is started with
// `--nats-creds-file` (runtime) and SHARDLINE_NATS_CREDS_FILE (delivery
// worker), exactly as the operator's Secret mount feeds them. A creds file of
// a user the operator never signed is one clear error line and a non-zero
// exit, not a hang.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createAccount, createOperator, createUser, encodeAccount, encodeOperator, encodeUser, fmtCreds } from 'nats-jwt';
import { CreateStreamCommand, GetRecordsCommand, GetShardIteratorCommand, PutRecordCommand } from '@aws-sdk/client-kinesis';
import { freePort, waitForPort } from '../harness/ports.js';
import { NATS_SERVER } from '../harness/nats.js';
import { sdkClient } from '../harness/runtime.js';
import { ENV } from '../../contract/env.js';

const CLI = path.resolve('dist/runtime/cli.js');
let dir: string;
let natsUrl: string;
let nats: ReturnType<typeof spawn>;
const f = (name: string) => path.join(dir, name);

/** A user of `account` (signed by its key), written as a .creds file. */
async function credsFor(account: ReturnType<typeof createAccount>, file: string): Promise<void> {
  const user = createUser();
  const jwt = await encodeUser('shardline', user, account);
  fs.writeFileSync(f(file), fmtCreds(jwt, user));
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shardline-creds-'));
  const operator = createOperator();
  const sys = createAccount();
  const app = createAccount();
  const operatorJwt = await encodeOperator('test-operator', operator, { system_account: sys.getPublicKey() });
  const sysJwt = await encodeAccount('SYS', sys, {}, { signer: operator });
  // JetStream is enabled for an account by giving it JetStream limits (-1: unlimited);
  // every limit left out would be 0 (no connections at all).
  const unlimited = { subs: -1, data: -1, payload: -1, imports: -1, exports: -1, wildcards: true, conn: -1, leaf: -1 };
  const appJwt = await encodeAccount('APP', app, { limits: { ...unlimited, mem_storage: -1, disk_storage: -1, streams: -1, consumer: -1 } }, { signer: operator });
  await credsFor(app, 'user.creds');
  // A well-formed creds file of an account the operator never signed.
  await credsFor(createAccount(), 'rogue.creds');
  fs.writeFileSync(f('operator.jwt'), operatorJwt);
  const port = await freePort();
  fs.writeFileSync(f('nats.conf'), [
    `listen: 127.0.0.1:${port}`,
    'max_payload: 16MB',
    `jetstream { store_dir: "${f('js')}" }`,
    `operator: "${f('operator.jwt')}"`,
    `system_account: ${sys.getPublicKey()}`,
    'resolver: MEMORY',
    `resolver_preload: { ${sys.getPublicKey()}: "${sysJwt}", ${app.getPublicKey()}: "${appJwt}" }`,
  ].join('\n') + '\n');
  nats = spawn(NATS_SERVER, ['-c', f('nats.conf')], { stdio: 'ignore' });
  await waitForPort(port);
  natsUrl = `nats://127.0.0.1:${port}`;
  fs.writeFileSync(f('delivery.json'), JSON.stringify({ deliveryStreamName: 'archive', natsUrl, s3: { endpoint: 'http://127.0.0.1:9' } }));
}, 60_000);

afterAll(() => {
  nats?.kill('SIGKILL');
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

/** Runs the CLI until its output matches `until` or it exits (at most 30 s); returns output, exit code, and the still-running process. */
async function run(args: string[], env: Record<string, string>, until: RegExp) {
  const proc = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (d) => { out += d; });
  proc.stderr!.on('data', (d) => { out += d; });
  const exited = new Promise<number | null>((r) => proc.once('exit', (c) => r(c)));
  const deadline = Date.now() + 30_000;
  while (!until.test(out) && proc.exitCode === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  return { proc, exited, out: () => out };
}

test('the runtime connects with --nats-creds-file and serves Kinesis on the account\'s JetStream', async () => {
  const port = await freePort();
  const r = await run(['runtime', '--nats', natsUrl, '--nats-creds-file', f('user.creds'), '--port', String(port), '--host', '127.0.0.1'], {}, /listening|serving/i);
  try {
    await waitForPort(port);
    const client = sdkClient(`http://127.0.0.1:${port}`, { http1: true });
    await client.send(new CreateStreamCommand({ StreamName: 'creds', ShardCount: 1 }));
    await client.send(new PutRecordCommand({ StreamName: 'creds', PartitionKey: 'k', Data: Buffer.from('via creds') }));
    const it = (await client.send(new GetShardIteratorCommand({ StreamName: 'creds', ShardId: 'shardId-000000000000', ShardIteratorType: 'TRIM_HORIZON' }))).ShardIterator;
    const got = await client.send(new GetRecordsCommand({ ShardIterator: it }));
    expect(got.Records!.map((x) => Buffer.from(x.Data!).toString())).toEqual(['via creds']);
    client.destroy();
  } finally {
    r.proc.kill('SIGKILL');
    await r.exited;
  }
}, 60_000);

test('the delivery worker connects with SHARDLINE_NATS_CREDS_FILE', async () => {
  const r = await run(['delivery', '--config', f('delivery.json')], { [ENV.natsCredsFile]: f('user.creds') }, /shardline delivery archive running/);
  r.proc.kill('SIGKILL');
  await r.exited;
  expect(r.out()).toMatch(/shardline delivery archive running/);
}, 60_000);

test.each([
  ['runtime', (port: number) => ['runtime', '--nats', natsUrl, '--nats-creds-file', f('rogue.creds'), '--port', String(port), '--host', '127.0.0.1']],
  ['delivery', () => ['delivery', '--config', f('delivery.json'), '--nats-creds-file', f('rogue.creds')]],
] as const)('%s: creds of a user the operator never signed: exits non-zero with one clear error line, promptly', async (_cmd, args) => {
  const t0 = Date.now();
  const r = await run(args(await freePort()), {}, /never matches/);
  const code = await r.exited;
  expect(code).not.toBe(0);
  expect(code).not.toBeNull();
  expect(Date.now() - t0).toBeLessThan(20_000);
  const errors = r.out().split('\n').filter((l) => /Authorization Violation/i.test(l));
  expect(errors).toHaveLength(1);
  // No stack trace.
  expect(r.out()).not.toMatch(/\n\s+at /);
}, 60_000);

test('a creds file that is not one: exits non-zero naming the file, promptly', async () => {
  fs.writeFileSync(f('garbage.creds'), 'not a creds file\n');
  const r = await run(['runtime', '--nats', natsUrl, '--nats-creds-file', f('garbage.creds'), '--port', String(await freePort()), '--host', '127.0.0.1'], {}, /never matches/);
  const code = await r.exited;
  expect(code).not.toBe(0);
  expect(r.out()).not.toMatch(/\n\s+at /);
  expect(r.out().trim().split('\n').filter((l) => /creds|jwt|seed/i.test(l)).length).toBeGreaterThanOrEqual(1);
}, 60_000);
