// One `shardline dev` per data directory. The lock file names the dev process
// holding it; a lock whose process is gone is stale (dev was SIGKILLed), and a
// nats-server such a dev left behind on the directory is stopped before a new
// one starts, so two servers never share one JetStream store.
import fs from 'node:fs';
import path from 'node:path';

export class DataDirInUseError extends Error {
  constructor(readonly dataDir: string, readonly pid: number) {
    super(`data directory ${dataDir} is in use by another shardline dev (pid ${pid}). Stop it (Ctrl-C in its terminal, or kill ${pid}), or pass --data-dir <another directory>.`);
  }
}

export interface DevLockInfo { pid: number; port: number; natsPort: number; startedAt: string }

const alive = (pid: number) => {
  try { process.kill(pid, 0); return true; } catch (e) { return (e as NodeJS.ErrnoException).code === 'EPERM'; }
};

/** The command line of a live process (Linux /proc), to tell ours from a recycled pid. */
const cmdline = (pid: number) => {
  try { return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' '); } catch { return ''; }
};

export const lockFile = (dataDir: string) => path.join(dataDir, 'dev.lock');
export const natsPidFile = (dataDir: string) => path.join(dataDir, 'nats.pid');

/** The nats-server serving this data directory, from its pid_file, if it still runs. */
export function runningNatsPid(dataDir: string): number | undefined {
  let pid: number;
  try { pid = Number(fs.readFileSync(natsPidFile(dataDir), 'utf8').trim()); } catch { return undefined; }
  return pid > 0 && alive(pid) && cmdline(pid).includes('nats-server') && cmdline(pid).includes(dataDir) ? pid : undefined;
}

async function stopOrphan(dataDir: string, log: (m: string) => void): Promise<void> {
  const pid = runningNatsPid(dataDir);
  if (!pid) return;
  log(`stopping nats-server pid ${pid}, left running on ${dataDir} by an earlier shardline dev`);
  process.kill(pid, 'SIGTERM');
  for (let i = 0; i < 100 && alive(pid); i++) await new Promise((r) => setTimeout(r, 50));
  if (alive(pid)) process.kill(pid, 'SIGKILL');
}

/** Takes the data directory for this process; throws DataDirInUseError when a live dev holds it. */
export async function acquireDataDir(dataDir: string, info: Omit<DevLockInfo, 'pid' | 'startedAt'>, log: (m: string) => void): Promise<() => void> {
  fs.mkdirSync(dataDir, { recursive: true });
  const file = lockFile(dataDir);
  const mine: DevLockInfo = { pid: process.pid, startedAt: new Date().toISOString(), ...info };
  for (let attempt = 0; ; attempt++) {
    try {
      fs.writeFileSync(file, JSON.stringify(mine) + '\n', { flag: 'wx' }); // atomic: exactly one creator wins
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 2) throw e;
    }
    let held: DevLockInfo | undefined;
    try { held = JSON.parse(fs.readFileSync(file, 'utf8')); } catch { /* half-written or unreadable: stale */ }
    if (held && held.pid !== process.pid && alive(held.pid) && /\bdev\b/.test(cmdline(held.pid))) throw new DataDirInUseError(dataDir, held.pid);
    fs.rmSync(file, { force: true });
  }
  await stopOrphan(dataDir, log);
  return () => {
    try {
      const held = JSON.parse(fs.readFileSync(file, 'utf8')) as DevLockInfo;
      if (held.pid === process.pid) fs.rmSync(file, { force: true });
    } catch { /* already gone */ }
  };
}
