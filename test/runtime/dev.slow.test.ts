// `shardline dev` on a store whose nats-server takes longer than 15 s to
// listen (issue 13: a 10,000-shard store takes ~50 s to restore, and dev used
// to give up after 15 s and leave its nats-server running). The slowness is
// simulated by the nats-server binary dev is told to run (NATS_SERVER_BIN): a
// script that waits 17 s, then execs the real nats-server — the same thing dev
// sees from a restoring server (no listener yet, process alive). Also: the
// runtime's flags given to dev are honoured (--shard-limit), and dev killed
// while it waits leaves nothing behind.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CreateStreamCommand, KinesisClient, LimitExceededException } from '@aws-sdk/client-kinesis';
import { freePort } from '../harness/ports.js';
import { NATS_SERVER } from '../harness/nats.js';

const CLI = path.resolve('dist/runtime/cli.js');
const DELAY_S = 17;
let root: string;
let slowNats: string;
const procs: ChildProcess[] = [];

// Each dev gets its own local S3 port (default 4569): suites run in parallel.
let s3Port = 0;
function startDev(args: string[]) {
  const proc = spawn(process.execPath, [CLI, 'dev', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NATS_SERVER_BIN: slowNats, SHARDLINE_DEV_S3_PORT: String(s3Port) } });
  procs.push(proc);
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((r) => proc.once('exit', (c) => r(c)));
  return {
    proc, exited, out: () => out,
    async waitFor(re: RegExp, ms: number) {
      const deadline = Date.now() + ms;
      for (;;) {
        if (re.test(out)) return;
        if (Date.now() > deadline || proc.exitCode !== null) throw new Error(`dev output never matched ${re}:\n${out}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
  };
}

/** Processes whose command line names this data directory's nats.conf (the nats-server dev started). */
function natsProcessesOf(dataDir: string): string[] {
  try {
    return execFileSync('pgrep', ['-f', path.join(dataDir, 'nats.conf')]).toString().trim().split('\n').filter(Boolean);
  } catch {
    return []; // pgrep exits 1 when nothing matches
  }
}

beforeAll(async () => {
  s3Port = await freePort();
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'shardline-devslow-'));
  slowNats = path.join(root, 'slow-nats-server');
  const real = execFileSync('sh', ['-c', `command -v ${NATS_SERVER}`]).toString().trim();
  fs.writeFileSync(slowNats, `#!/bin/sh\nsleep ${DELAY_S}\nexec ${real} "$@"\n`, { mode: 0o755 });
});

afterAll(async () => {
  for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  await new Promise((r) => setTimeout(r, 500));
  fs.rmSync(root, { recursive: true, force: true });
});

test(`dev comes up although nats-server takes ${DELAY_S} s to listen, with progress; runtime flags given to dev apply`, async () => {
  const dataDir = path.join(root, 'a');
  const port = await freePort();
  const t0 = Date.now();
  const dev = startDev(['--data-dir', dataDir, '--port', String(port), '--nats-port', String(await freePort()), '--shard-limit', '3']);
  await dev.waitFor(/Ctrl-C stops everything/, 90_000);
  expect(Date.now() - t0).toBeGreaterThan(15_000);
  expect(dev.out()).toMatch(/waiting for nats-server to listen on \d+ \(1\d s\)/);
  const kinesis = new KinesisClient({ endpoint: `http://127.0.0.1:${port}`, region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'y' }, maxAttempts: 1 });
  try {
    // --shard-limit 3 reached the runtime: a fourth shard exceeds the account limit.
    await expect(kinesis.send(new CreateStreamCommand({ StreamName: 'four', ShardCount: 4 }))).rejects.toBeInstanceOf(LimitExceededException);
    await kinesis.send(new CreateStreamCommand({ StreamName: 'three', ShardCount: 3 }));
  } finally {
    kinesis.destroy();
  }
  dev.proc.kill('SIGINT');
  expect(await dev.exited).toBe(0);
  expect(natsProcessesOf(dataDir)).toEqual([]);
}, 120_000);

test('dev killed while nats-server is still starting leaves no nats-server behind', async () => {
  const dataDir = path.join(root, 'b');
  const natsPort = await freePort();
  const dev = startDev(['--data-dir', dataDir, '--port', String(await freePort()), '--nats-port', String(natsPort)]);
  await dev.waitFor(/waiting for nats-server to listen/, 30_000);
  dev.proc.kill('SIGKILL');
  await dev.exited;
  // Past the point where the slow server would have started listening.
  await new Promise((r) => setTimeout(r, (DELAY_S + 3) * 1000));
  expect(natsProcessesOf(dataDir)).toEqual([]);
}, 90_000);

test('an unknown flag is refused before anything starts', async () => {
  const dev = startDev(['--data-dir', path.join(root, 'c'), '--no-such-flag', 'x']);
  expect(await dev.exited).toBe(2);
  expect(dev.out()).toMatch(/no-such-flag/);
});
