// Shard runtimes for tests: in this process (fast, inspectable) or as a child
// process running the built CLI (for SIGKILL and multi-process tests).
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { KinesisClient } from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { runtimeConfig, type RuntimeConfig } from '../../runtime/config.js';
import { startRuntime, type RunningRuntime } from '../../runtime/server.js';
import { freePort, loggedLine } from './ports.js';

export async function startInProcess(natsUrl: string, overrides: Partial<RuntimeConfig> = {}): Promise<RunningRuntime & { endpoint: string }> {
  // The access log is off unless a test asks for it: one line per request would bury test output.
  const config = { ...runtimeConfig([]), natsUrl, port: 0, host: '127.0.0.1', accessLog: false, ...overrides };
  const rt = await startRuntime(config, (m) => process.stderr.write(`[runtime] ${m}\n`));
  return Object.assign(rt, { endpoint: `http://127.0.0.1:${rt.port}` });
}

export interface ChildRuntime {
  endpoint: string;
  port: number;
  proc: ChildProcess;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

const CLI = path.resolve('dist/runtime/cli.js');

/** Runs `shardline runtime` from dist/ (jest's globalSetup builds it). */
export async function startChild(natsUrl: string, env: Record<string, string> = {}, port?: number): Promise<ChildRuntime> {
  const p = port ?? (await freePort());
  const proc = spawn(process.execPath, [CLI, 'runtime', '--nats', natsUrl, '--port', String(p), '--host', '127.0.0.1'], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  // Ready when *this* process logs that it listens on the port (loggedLine).
  await loggedLine(proc, `listening on 127.0.0.1:${p}"`, 15_000, 'runtime');
  return {
    endpoint: `http://127.0.0.1:${p}`,
    port: p,
    proc,
    async kill(signal = 'SIGKILL') {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      const gone = new Promise((r) => proc.once('exit', r));
      proc.kill(signal);
      await gone;
    },
  };
}

export const TEST_CREDENTIALS = { accessKeyId: 'AKIDTEST', secretAccessKey: 'secret' };

/** The SDK as users have it: default handler (HTTP/2 to an http:// endpoint when it chooses). */
export function sdkClient(endpoint: string, opts: { http1?: boolean } = {}): KinesisClient {
  return new KinesisClient({
    endpoint,
    region: 'us-east-1',
    credentials: TEST_CREDENTIALS,
    maxAttempts: 1,
    ...(opts.http1 ? { requestHandler: new NodeHttpHandler() } : {}),
  });
}

export interface Stack {
  nats: import('./nats.js').NatsServers;
  runtimes: (RunningRuntime & { endpoint: string })[];
  /** One HTTP/1.1 SDK client per runtime. */
  clients: KinesisClient[];
  stop(): Promise<void>;
}

/** A real nats-server and `count` in-process runtimes on it, each with a client. */
export async function startStack(count: number): Promise<Stack> {
  const { startNats } = await import('./nats.js');
  const nats = await startNats();
  const runtimes: Stack['runtimes'] = [];
  for (let i = 0; i < count; i++) runtimes.push(await startInProcess(nats.url));
  const clients = runtimes.map((r) => sdkClient(r.endpoint, { http1: true }));
  return {
    nats,
    runtimes,
    clients,
    async stop() {
      for (const c of clients) c.destroy();
      for (const r of runtimes) await r.close();
      await nats.stop();
    },
  };
}
