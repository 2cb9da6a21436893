// `shardline dev`: the local all-in-one. Starts nats-server with JetStream in a
// data directory, then the Kinesis endpoint on SHARDLINE_PORT (default 4567).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { runtimeConfig } from './config.js';
import { startRuntime } from './server.js';
import { ENV } from '../contract/env.js';

async function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const ok = await new Promise<boolean>((r) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => (s.destroy(), r(true)));
      s.once('error', () => r(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`nats-server did not listen on ${port} within ${timeoutMs} ms`);
}

/** Port in use → a one-line error naming it (nats-server would only say so in its log file). */
function assertPortFree(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', (e: NodeJS.ErrnoException) =>
      reject(new Error(e.code === 'EADDRINUSE' ? `nats-server port ${port} is already in use (choose another with --nats-port)` : e.message)),
    );
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve()));
  });
}

function lastLogLine(file: string): string {
  try {
    const lines = fs.readFileSync(file, 'utf8').trim().split('\n');
    return lines.filter((l) => /\[(ERR|FTL)\]/.test(l)).pop() ?? lines.pop() ?? '(no log)';
  } catch {
    return '(no log)';
  }
}

export async function runDev(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: { 'data-dir': { type: 'string' }, 'nats-port': { type: 'string' } },
  });
  const dataDir = path.resolve(values['data-dir'] ?? process.env[ENV.dataDir] ?? '.shardline');
  const natsPort = Number(values['nats-port'] ?? process.env[ENV.natsPort] ?? 4222);
  fs.mkdirSync(path.join(dataDir, 'jetstream'), { recursive: true });
  const conf = path.join(dataDir, 'nats.conf');
  fs.writeFileSync(
    conf,
    [
      `listen: 127.0.0.1:${natsPort}`,
      `max_payload: 16MB`,
      `log_file: "${path.join(dataDir, 'nats.log')}"`,
      `jetstream { store_dir: "${path.join(dataDir, 'jetstream')}" }`,
    ].join('\n') + '\n',
  );
  await assertPortFree(natsPort);
  const bin = process.env.NATS_SERVER_BIN ?? 'nats-server';
  const nats = spawn(bin, ['-c', conf], { stdio: ['ignore', 'inherit', 'inherit'] });
  // Start failures name their cause: a missing binary, or what nats-server logged before exiting.
  const failed = new Promise<never>((_, reject) => {
    nats.once('error', (e: NodeJS.ErrnoException) =>
      reject(new Error(e.code === 'ENOENT' ? `nats-server not found ('${bin}'): install it or set NATS_SERVER_BIN` : `nats-server could not start: ${e.message}`)),
    );
    nats.once('exit', (code) => reject(new Error(`nats-server exited (${code}) during start: ${lastLogLine(path.join(dataDir, 'nats.log'))}`)));
  });
  failed.catch(() => undefined);
  await Promise.race([waitForPort(natsPort, 15_000), failed]);
  nats.removeAllListeners('exit');
  nats.once('exit', (code) => {
    console.error(`nats-server exited (${code})`);
    process.exit(1);
  });
  const config = runtimeConfig([]);
  config.natsUrl = `nats://127.0.0.1:${natsPort}`;
  const rt = await startRuntime(config, (m) => console.error(m));
  console.log(`shardline dev: Kinesis endpoint http://127.0.0.1:${rt.port} (NATS ${config.natsUrl}, data in ${dataDir})`);
  const stop = async () => {
    await rt.close().catch(() => undefined);
    nats.removeAllListeners('exit');
    nats.kill('SIGTERM');
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
