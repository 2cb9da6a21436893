// `shardline dev` runs the analytics applications of its store: one
// `shardline analytics` process per application record, which follows the
// record's status itself (StartApplication, StopApplication, updates); the
// process is ended when the record is deleted.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Store } from '../../stream/connect.js';
import { applicationsKv, listApplications } from '../../stream/applications.js';

const CLI = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../runtime/cli.js');

export interface ApplicationSupervisor { close(): Promise<void>; running(): string[] }

export function superviseApplications(store: Store, natsUrl: string, log: (m: string) => void, opts: { pollMs?: number; cli?: string } = {}): ApplicationSupervisor {
  const pollMs = opts.pollMs ?? 1000;
  const cli = opts.cli ?? CLI;
  const children = new Map<string, ChildProcess>();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shardline-apps-'));
  let closed = false;
  const tick = async () => {
    const kv = await applicationsKv(store);
    const apps = (await listApplications(kv)).filter((a) => a.owner === 'api');
    const names = new Set(apps.map((a) => a.name));
    for (const a of apps) {
      const c = children.get(a.name);
      if (c && c.exitCode === null && c.signalCode === null) continue;
      const file = path.join(dir, `${Buffer.from(a.name).toString('base64url')}.json`);
      fs.writeFileSync(file, JSON.stringify({ applicationName: a.name, natsUrl, leaseMs: 3000, idleWatermarkLagMs: 500, checkpointIntervalMs: 2000 }));
      const child = spawn(process.execPath, [cli, 'analytics', '--config', file], { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, SHARDLINE_EXIT_WITH_PARENT: '1' } });
      children.set(a.name, child);
      log(`analytics application ${a.name}: worker pid ${child.pid}`);
    }
    for (const [name, c] of children) {
      if (names.has(name)) continue;
      c.kill('SIGTERM');
      children.delete(name);
    }
  };
  const loop = (async () => {
    while (!closed) {
      await tick().catch((e) => log(`analytics supervisor: ${(e as Error).message}`));
      await new Promise((r) => setTimeout(r, pollMs));
    }
  })();
  return {
    running: () => [...children].filter(([, c]) => c.exitCode === null && c.signalCode === null).map(([n]) => n),
    async close() {
      closed = true;
      await loop;
      await Promise.all([...children.values()].map((c) => new Promise<void>((r) => {
        if (c.exitCode !== null || c.signalCode !== null) return r();
        c.once('exit', () => r());
        c.kill('SIGTERM');
      })));
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
