// The worker processes a Deployment runs (`shardline delivery`, `shardline
// analytics`) connect to NATS with credentials as the runtime does (issue 12):
// the same flags and env (here SHARDLINE_NATS_TOKEN_FILE, as the operator's
// --nats-auth-secret provides), JSON log lines, and a refused credential ends
// the process with the server's reason. Real nats-server with token auth; the
// built CLI with the Deployment's own arguments.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, waitForPort } from '../harness/ports.js';
import { NATS_SERVER } from '../harness/nats.js';
import { ENV } from '../../contract/env.js';

const CLI = path.resolve('dist/runtime/cli.js');
let dir: string;
let natsUrl: string;
let nats: ReturnType<typeof spawn>;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shardline-workerauth-'));
  const port = await freePort();
  fs.writeFileSync(path.join(dir, 'nats.conf'), [`listen: 127.0.0.1:${port}`, `jetstream { store_dir: "${path.join(dir, 'js')}" }`, 'authorization { token: "w0rker-token" }'].join('\n') + '\n');
  nats = spawn(NATS_SERVER, ['-c', path.join(dir, 'nats.conf')], { stdio: 'ignore' });
  await waitForPort(port);
  natsUrl = `nats://127.0.0.1:${port}`;
  fs.writeFileSync(path.join(dir, 'token'), 'w0rker-token\n');
  fs.writeFileSync(path.join(dir, 'bad-token'), 'nope\n');
  fs.writeFileSync(path.join(dir, 'delivery.json'), JSON.stringify({ deliveryStreamName: 'archive', natsUrl, s3: { endpoint: 'http://127.0.0.1:9' } }));
  fs.writeFileSync(path.join(dir, 'analytics.json'), JSON.stringify({ applicationName: 'app', natsUrl }));
});

afterAll(() => {
  nats?.kill('SIGKILL');
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Runs a worker until its output matches `until` or it exits; returns the output lines and exit code. */
async function run(cmd: 'delivery' | 'analytics', tokenFile: string, until: RegExp): Promise<{ out: string; code: number | null }> {
  const proc = spawn(process.execPath, [CLI, cmd, '--config', path.join(dir, `${cmd}.json`)], {
    env: { ...process.env, [ENV.natsTokenFile]: path.join(dir, tokenFile) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout!.on('data', (d) => { out += d; });
  proc.stderr!.on('data', (d) => { out += d; });
  const exited = new Promise<number | null>((r) => proc.once('exit', (c) => r(c)));
  const deadline = Date.now() + 30_000;
  while (!until.test(out) && proc.exitCode === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  if (proc.exitCode === null) proc.kill('SIGKILL');
  return { out, code: await exited };
}

const jsonLines = (out: string) => out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { level: string; component: string; msg: string });

test.each([
  ['delivery', /shardline delivery archive running/],
  ['analytics', /connected to NATS at/],
] as const)('%s: connects with the token from SHARDLINE_NATS_TOKEN_FILE and logs JSON lines', async (cmd, ready) => {
  const { out } = await run(cmd, 'token', ready);
  const line = jsonLines(out).find((l) => ready.test(l.msg));
  expect(line).toMatchObject({ level: 'info', component: cmd });
});

test.each(['delivery', 'analytics'] as const)('%s: a refused token ends the process with the server\'s reason', async (cmd) => {
  const { out, code } = await run(cmd, 'bad-token', /never/);
  expect(code).not.toBe(0);
  expect(code).not.toBeNull();
  expect(out).toMatch(/Authorization Violation/i);
});
