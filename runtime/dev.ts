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
import { startDevDelivery } from './delivery/dev.js';

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
  const nats = spawn(process.env.NATS_SERVER_BIN ?? 'nats-server', ['-c', conf], { stdio: ['ignore', 'inherit', 'inherit'] });
  nats.once('exit', (code) => {
    console.error(`nats-server exited (${code})`);
    process.exit(1);
  });
  await waitForPort(natsPort, 15_000);
  const config = runtimeConfig([]);
  config.natsUrl = `nats://127.0.0.1:${natsPort}`;
  const rt = await startRuntime(config, (m) => console.error(m));
  const delivery = await startDevDelivery({ dataDir, natsUrl: config.natsUrl, log: (m) => console.error(m) });
  console.log(`shardline dev: Kinesis endpoint http://127.0.0.1:${rt.port} (NATS ${config.natsUrl}, data in ${dataDir})`);
  console.log(`shardline dev: ${delivery.describe()}`);
  const stop = async () => {
    await delivery.stop().catch(() => undefined);
    await rt.close().catch(() => undefined);
    nats.removeAllListeners('exit');
    nats.kill('SIGTERM');
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
