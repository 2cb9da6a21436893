// The `shardline` command line (issue 12, operability): --help everywhere,
// --version, bad flags and values as one line with the valid forms and exit
// 2, and `dev` naming the cause when nats-server cannot start. Runs the built
// CLI (dist/, compiled by jest's globalSetup) as a user would.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../harness/ports.js';

const CLI = path.resolve('dist/runtime/cli.js');
const VERSION = JSON.parse(fs.readFileSync('package.json', 'utf8')).version as string;

interface Run { code: number | null; stdout: string; stderr: string }

function shardline(args: string[], env: Record<string, string> = {}, timeoutMs = 20_000): Promise<Run> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const oneLine = (s: string) => s.trimEnd().split('\n');

test('--version prints the package version', async () => {
  const r = await shardline(['--version']);
  expect(r).toMatchObject({ code: 0, stdout: `${VERSION}\n` });
});

test.each(['runtime', 'dev', 'operator'])('%s --help describes its flags and exits 0', async (sub) => {
  const r = await shardline([sub, '--help']);
  expect(r.code).toBe(0);
  expect(r.stdout).toContain(`Usage: shardline ${sub} [options]`);
  expect(r.stdout).toContain('-h, --help');
});

test('no arguments prints the command list', async () => {
  const r = await shardline([]);
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(/runtime[\s\S]*dev[\s\S]*operator/);
});

test.each([
  [['runtime', '--port', 'abc'], {}, /^error: option '--port <n>' argument 'abc' is invalid\. expected a port number from 0 to 65535/],
  [['runtime', '--port', '70000'], {}, /expected a port number from 0 to 65535/],
  [['runtime', '--workers', 'two'], {}, /^error: option '--workers <n>' argument 'two' is invalid\. expected an integer from 1 to 256/],
  [['runtime', '--wokers', '2'], {}, /^error: unknown option '--wokers'.*valid flags: .*--workers/],
  [['runtime'], { SHARDLINE_PORT: 'abc' }, /^error: SHARDLINE_PORT: 'abc' is invalid: expected a port number from 0 to 65535\n$/],
  [['runtime', '--nats-token', 't', '--nats-user', 'u'], {}, /^error: NATS authentication: choose one of user\/password, token\n$/],
  [['operator', '--health-port', 'x'], {}, /^error: option '--health-port <n>'.*expected a port number/],
  [['frob'], {}, /^error: unknown command 'frob'.*commands: runtime, dev, operator/],
] as [string[], Record<string, string>, RegExp][])('%j %j → one line, exit 2', async (args, env, message) => {
  const r = await shardline(args, env);
  expect(r.code).toBe(2);
  expect(oneLine(r.stderr)).toHaveLength(1);
  expect(r.stderr).toMatch(message);
});

describe('dev start failures name their cause', () => {
  let dir: string;
  beforeAll(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shardline-dev-'))));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('nats-server binary missing', async () => {
    const r = await shardline(['dev', '--data-dir', dir, '--nats-port', String(await freePort())], { NATS_SERVER_BIN: path.join(dir, 'no-such-nats-server'), SHARDLINE_PORT: '0' });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/nats-server exited \(127\) while starting: .*no-such-nats-server.*not found/);
  });

  test('nats-server port in use', async () => {
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    const port = (blocker.address() as net.AddressInfo).port;
    try {
      const r = await shardline(['dev', '--data-dir', dir, '--nats-port', String(port)], { SHARDLINE_PORT: '0' });
      expect(r.code).toBe(2); // dev's own usage error: choose another port
      expect(r.stderr).toMatch(new RegExp(`nats-server port ${port} is already in use \\(choose another with --nats-port\\)`));
    } finally {
      blocker.close();
    }
  });
});
