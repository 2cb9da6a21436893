// The delivery tests' shared setup: a real nats-server, the runtime (Kinesis
// and Firehose APIs) in process, s3rver with the buckets a suite needs, the
// SDK clients, and `shardline delivery` started from dist/ as a real process
// (as the operator's Deployment runs it) with the environment a test chooses.
// stop() ends every worker it started, then the clients and servers.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { FirehoseClient, DescribeDeliveryStreamCommand, type DeliveryStreamDescription } from '@aws-sdk/client-firehose';
import type { KinesisClient } from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { startNats, type NatsServers } from './nats.js';
import { startInProcess, sdkClient, TEST_CREDENTIALS } from './runtime.js';
import { startS3, type S3Server } from './s3.js';
import type { RunningRuntime } from '../../runtime/server.js';
import type { RuntimeConfig } from '../../runtime/config.js';

const CLI = path.resolve('dist/runtime/cli.js');

/** The IAM role ARN the Firehose API wants in destination configurations (not enforced). */
export const ROLE = 'arn:aws:iam::000000000000:role/firehose';

export interface DeliveryProcess {
  proc: ChildProcess;
  stderr(): string;
  /** Resolves with the exit code or signal. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

export function writeConfig(config: unknown): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shardline-delivery-'));
  const file = path.join(dir, 'config.json');
  fs.writeFileSync(file, JSON.stringify(config));
  return file;
}

/** `cleanEnv`: the child gets `env` only (as a pod gets only its spec's), not this process's environment. */
export function startDeliveryProcess(args: string[], env: Record<string, string>, opts: { cleanEnv?: boolean } = {}): DeliveryProcess {
  const proc = spawn(process.execPath, [CLI, ...args], { env: opts.cleanEnv ? env : { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  proc.stderr!.on('data', (d) => (err = (err + d).slice(-20_000)));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
  return {
    proc,
    stderr: () => err,
    exited,
    async kill(signal = 'SIGKILL') {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill(signal);
      await exited;
    },
  };
}

export interface DeliveryStack {
  nats: NatsServers;
  rt: RunningRuntime & { endpoint: string };
  /** Absent with `{ s3: false }`. */
  s3: S3Server;
  fh: FirehoseClient;
  kinesis: KinesisClient;
  /**
   * `shardline delivery` for a delivery stream created through the API: a
   * standalone config file (this stack's NATS and S3, plus `config`), the
   * CLI args after it (`args`), and `env` over this process's environment.
   */
  worker(name: string, opts?: { config?: Record<string, unknown>; env?: Record<string, string>; args?: string[] }): DeliveryProcess;
  /** Remembers a process started otherwise, so stop() ends it too. */
  track(p: DeliveryProcess): DeliveryProcess;
  /** DescribeDeliveryStream until ACTIVE. */
  waitActive(name: string, ms?: number): Promise<DeliveryStreamDescription>;
  stop(): Promise<void>;
}

export async function startDeliveryStack(opts: { buckets?: string[]; s3?: boolean; runtime?: Partial<RuntimeConfig> } = {}): Promise<DeliveryStack> {
  const nats = await startNats();
  const rt = await startInProcess(nats.url, opts.runtime);
  const s3 = opts.s3 === false ? undefined : await startS3();
  for (const b of opts.buckets ?? []) await s3!.createBucket(b);
  const fh = new FirehoseClient({ endpoint: rt.endpoint, region: 'us-east-1', credentials: TEST_CREDENTIALS, maxAttempts: 1, requestHandler: new NodeHttpHandler() });
  const kinesis = sdkClient(rt.endpoint, { http1: true });
  const procs: DeliveryProcess[] = [];
  const track = (p: DeliveryProcess) => (procs.push(p), p);
  return {
    nats, rt, s3: s3!, fh, kinesis, track,
    worker(name, o = {}) {
      const config = writeConfig({ deliveryStreamName: name, ...(s3 ? { s3: { endpoint: s3.endpoint } } : {}), ...o.config });
      return track(startDeliveryProcess(['delivery', '--config', config, ...(o.args ?? [])], { SHARDLINE_NATS_URL: nats.url, ...o.env }));
    },
    async waitActive(name, ms = 10_000) {
      return waitFor(`${name} ACTIVE`, async () => {
        const d = (await fh.send(new DescribeDeliveryStreamCommand({ DeliveryStreamName: name }))).DeliveryStreamDescription!;
        return d.DeliveryStreamStatus === 'ACTIVE' ? d : undefined;
      }, ms, 100);
    },
    async stop() {
      for (const p of procs) await p.kill();
      fh.destroy();
      kinesis.destroy();
      await rt.close();
      await s3?.stop();
      await nats.stop();
    },
  };
}

/** Polls `f` until it gives a value (not undefined/false); throws "timed out waiting for <what>" after `ms`. */
export async function waitFor<T>(what: string, f: () => Promise<T | undefined | false> | T | undefined | false, ms = 30_000, everyMs = 200): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/**
 * A local JSON-over-HTTP server (an HTTP endpoint destination, a transform
 * function): the body is gunzipped when sent gzip, `answer` returns the
 * status and the JSON body, or undefined to never answer (a hung endpoint).
 */
export async function jsonServer(answer: (body: any, req: http.IncomingMessage) => [number, unknown] | undefined) {
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      let raw = Buffer.concat(chunks);
      if (req.headers['content-encoding'] === 'gzip') raw = zlib.gunzipSync(raw);
      const out = answer(JSON.parse(raw.toString()), req);
      if (!out) return;
      res.statusCode = out[0];
      res.setHeader('Content-Type', 'application/json');
      res.end(JSON.stringify(out[1]));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    close: () => new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    }),
  };
}
