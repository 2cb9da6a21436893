// The processes a benchmark measures: the runtime and kinesalite each in a
// child process of their own, so the load generator does not share their
// event loop, and CPU time read from /proc for each.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { freePort, waitForPort } from '../../test/harness/ports.js';
import { REPO_ROOT } from './results.js';
import { ENV } from '../../contract/env.js';

export interface Child {
  name: string;
  endpoint: string;
  port: number;
  proc: ChildProcess;
  stop(): Promise<void>;
}

const CLK_TCK = 100;

/** Live child processes (a runtime started with --workers forks its workers). */
function childrenOf(pid: number): number[] {
  try {
    return fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** CPU seconds (user + system) a process and its live children have used so far; NaN when unreadable. */
export function cpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  return ownCpuSeconds(pid) + childrenOf(pid).reduce((sum, c) => sum + (ownCpuSeconds(c) || 0), 0);
}

function ownCpuSeconds(pid: number): number {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which is in parentheses and may hold spaces.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(rest[11]) + Number(rest[12])) / CLK_TCK;
  } catch {
    return NaN;
  }
}

/**
 * CPU seconds of a process by thread name (the main thread is the process's
 * own name; V8's GC and compiler helpers, libuv's pool and native threads
 * have theirs), counting exited threads only as far as the process does not.
 */
export function threadCpuSeconds(pid: number | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  if (pid === undefined) return out;
  let tids: string[] = [];
  try {
    tids = fs.readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const name = Number(tid) === pid ? 'main' : stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')).trim();
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out[name] = (out[name] ?? 0) + (Number(rest[11]) + Number(rest[12])) / CLK_TCK;
    } catch {
      // the thread exited
    }
  }
  return out;
}

export async function spawnServer(name: string, args: string[], port: number, env: NodeJS.ProcessEnv = process.env): Promise<Child> {
  const proc = spawn(process.execPath, args, {
    cwd: REPO_ROOT,
    env,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  proc.stderr!.on('data', (d) => (stderr = (stderr + d).slice(-8000)));
  const exited = new Promise<never>((_, reject) => proc.once('exit', (c) => reject(new Error(`${name} exited (${c}): ${stderr}`))));
  exited.catch(() => undefined);
  await Promise.race([waitForPort(port, 30_000), exited]);
  return {
    name,
    endpoint: `http://127.0.0.1:${port}`,
    port,
    proc,
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      const gone = new Promise((r) => proc.once('exit', r));
      // SIGINT lets `node --cpu-prof` write its profile.
      proc.kill('SIGINT');
      const t = setTimeout(() => proc.kill('SIGKILL'), 10_000);
      await gone;
      clearTimeout(t);
    },
  };
}

export interface RuntimeChildOptions {
  natsUrl: string;
  /** Directory for a V8 CPU profile of the runtime (node --cpu-prof). */
  cpuProfDir?: string;
  /** `shardline runtime --workers N` (default 1). */
  workers?: number;
}

/** `shardline runtime` from dist/, as deployed. */
export async function startRuntimeChild(opts: RuntimeChildOptions): Promise<Child> {
  const port = await freePort();
  const flags = opts.cpuProfDir ? ['--cpu-prof', '--cpu-prof-dir', opts.cpuProfDir] : [];
  const cli = path.join(REPO_ROOT, 'dist/runtime/cli.js');
  const workers = opts.workers && opts.workers > 1 ? ['--workers', String(opts.workers)] : [];
  return spawnServer('shardline', [...flags, cli, 'runtime', '--nats', opts.natsUrl, '--port', String(port), '--host', '127.0.0.1', ...workers], port, withoutCredentials());
}

/** No credentials configured: signatures are not checked (kinesalite does not check them either). */
function withoutCredentials(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env[ENV.credentials];
  delete env[ENV.credentialsFile];
  return env;
}

/** kinesalite 3.3.3 in memory (memdown), in its own process. */
export async function startKinesaliteChild(opts: { cpuProfDir?: string } = {}): Promise<Child> {
  const port = await freePort();
  const flags = opts.cpuProfDir ? ['--cpu-prof', '--cpu-prof-dir', opts.cpuProfDir] : [];
  const entry = path.join(REPO_ROOT, 'dist/bench/kinesaliteChild.js');
  return spawnServer('kinesalite', [...flags, entry, String(port)], port);
}
