// Starts real nats-server processes with JetStream for tests: one server, or a
// cluster of N on loopback with routes between them.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, waitForPort } from './ports.js';

export interface NatsNode {
  port: number;
  clusterPort: number;
  storeDir: string;
  configFile: string;
  proc?: ChildProcess;
}

export interface NatsServers {
  /** Client URL(s): comma-separated for a cluster. */
  url: string;
  nodes: NatsNode[];
  /** SIGKILL one server. */
  kill(index: number): Promise<void>;
  /** Start a killed server again with the same store. */
  restart(index: number): Promise<void>;
  stop(): Promise<void>;
}

export const NATS_SERVER = process.env.NATS_SERVER_BIN ?? 'nats-server';

function configFor(node: NatsNode, name: string, routes: number[]): string {
  const lines = [
    `server_name: ${name}`,
    `listen: 127.0.0.1:${node.port}`,
    // Large enough for a 10 MiB record plus framing.
    `max_payload: 16MB`,
    `jetstream { store_dir: "${node.storeDir}" }`,
  ];
  if (routes.length > 0) {
    lines.push(
      `cluster {`,
      `  name: shardline-test`,
      `  listen: 127.0.0.1:${node.clusterPort}`,
      `  routes: [${routes.map((p) => `nats-route://127.0.0.1:${p}`).join(', ')}]`,
      `}`,
    );
  }
  return lines.join('\n') + '\n';
}

async function launch(node: NatsNode): Promise<void> {
  const proc = spawn(NATS_SERVER, ['-c', node.configFile], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr!.on('data', (d) => { stderr = (stderr + d.toString()).slice(-4000); });
  const exited = new Promise<never>((_, reject) =>
    proc.once('exit', (code) => reject(new Error(`nats-server exited (${code}): ${stderr}`))),
  );
  exited.catch(() => undefined);
  node.proc = proc;
  await Promise.race([waitForPort(node.port), exited]);
}

export async function startNats(opts: { servers?: number } = {}): Promise<NatsServers> {
  const count = opts.servers ?? 1;
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'shardline-nats-'));
  const nodes: NatsNode[] = [];
  for (let i = 0; i < count; i++) {
    const storeDir = path.join(root, `s${i}`);
    fs.mkdirSync(storeDir);
    nodes.push({ port: await freePort(), clusterPort: await freePort(), storeDir, configFile: path.join(root, `s${i}.conf`) });
  }
  nodes.forEach((n, i) => {
    const routes = count > 1 ? nodes.map((m) => m.clusterPort) : [];
    fs.writeFileSync(n.configFile, configFor(n, `n${i}`, routes));
  });
  await Promise.all(nodes.map(launch));
  const killProc = async (n: NatsNode, signal: NodeJS.Signals) => {
    const p = n.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const gone = new Promise((r) => p.once('exit', r));
    p.kill(signal);
    await gone;
  };
  return {
    url: nodes.map((n) => `nats://127.0.0.1:${n.port}`).join(','),
    nodes,
    kill: (i) => killProc(nodes[i]!, 'SIGKILL'),
    restart: (i) => launch(nodes[i]!),
    async stop() {
      await Promise.all(nodes.map((n) => killProc(n, 'SIGTERM')));
      fs.rmSync(root, { recursive: true, force: true });
    },
  };
}
