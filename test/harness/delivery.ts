// Runs `shardline delivery --config <file>` from dist/ as a real process, as
// the operator's Deployment does, with the environment a test chooses.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const CLI = path.resolve('dist/runtime/cli.js');

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
