// Starts real nats-server processes with JetStream for tests: one server, or a
// cluster of N on loopback with routes between them.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, loggedLine } from './ports.js';

export interface NatsNode {
  /** server_name: n0, n1, ... */
  name: string;
  port: number;
  clusterPort: number;
  /** HTTP monitoring port (cluster only: readiness is read from /jsz). */
  monitorPort: number;
  storeDir: string;
  configFile: string;
  /** Open-files limit the server runs under (absent: inherited); may be changed before restart(). */
  nofile?: number;
  proc?: ChildProcess;
}

export interface NatsServers {
  /** Client URL(s): comma-separated for a cluster. */
  url: string;
  nodes: NatsNode[];
  /** Client URL of one server. */
  urlOf(index: number): string;
  /** Index of the server with this server_name. */
  indexOf(serverName: string): number;
  /** SIGKILL one server. */
  kill(index: number): Promise<void>;
  /** Start a killed server again with the same store; on a cluster, resolves once it is a current JetStream peer again. */
  restart(index: number, opts?: { listenTimeoutMs?: number }): Promise<void>;
  stop(): Promise<void>;
}

export const NATS_SERVER = process.env.NATS_SERVER_BIN ?? 'nats-server';

function configFor(node: NatsNode, routes: number[]): string {
  const lines = [
    `server_name: ${node.name}`,
    `listen: 127.0.0.1:${node.port}`,
    // Large enough for a 10 MiB record plus framing.
    `max_payload: 16MB`,
    `jetstream { store_dir: "${node.storeDir}" }`,
  ];
  if (routes.length > 0) {
    lines.push(
      `http: 127.0.0.1:${node.monitorPort}`,
      `cluster {`,
      `  name: shardline-test`,
      `  listen: 127.0.0.1:${node.clusterPort}`,
      `  routes: [${routes.map((p) => `nats-route://127.0.0.1:${p}`).join(', ')}]`,
      `}`,
    );
  }
  return lines.join('\n') + '\n';
}

/**
 * Starts the node's nats-server and resolves once *that process* says it is
 * ready (loggedLine: a port probe could reach another test file's server,
 * and the test would run against a stranger's NATS).
 * `listenTimeoutMs`: how long nats-server may take to be ready (it restores
 * every stream first; ~1 min for 10,000).
 */
async function launch(node: NatsNode, listenTimeoutMs = 15_000): Promise<void> {
  // With a descriptor limit, prlimit sets it, soft and hard (Go raises its soft limit to the hard one at start),
  // and execs nats-server.
  const [cmd, args] = node.nofile
    ? ['prlimit', [`--nofile=${node.nofile}:${node.nofile}`, '--', NATS_SERVER, '-c', node.configFile]]
    : [NATS_SERVER, ['-c', node.configFile]];
  const proc = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  node.proc = proc;
  await loggedLine(proc, 'Server is ready', listenTimeoutMs, `nats-server ${node.name}`, (code, stderr) => new NatsExit(code, stderr));
}

class NatsExit extends Error {
  constructor(code: number | null, readonly stderr: string) {
    super(`nats-server exited (${code}): ${stderr}`);
  }
  get portTaken(): boolean {
    return this.stderr.includes('address already in use');
  }
}

interface MetaCluster {
  leader?: string;
  replicas?: { name: string; current: boolean; offline?: boolean }[];
}

async function metaOf(node: NatsNode): Promise<MetaCluster | undefined> {
  try {
    const res = await fetch(`http://127.0.0.1:${node.monitorPort}/jsz`, { signal: AbortSignal.timeout(1000) });
    if (!res.ok) return undefined;
    return ((await res.json()) as { meta_cluster?: MetaCluster }).meta_cluster;
  } catch {
    return undefined;
  }
}

/**
 * Resolves once JetStream's meta group is usable by every running server: all
 * of them name the same leader and the leader counts each of the others as a
 * current peer. Until then R3 asset creation fails ("insufficient resources")
 * or JetStream API requests go unanswered.
 */
async function waitForMetaGroup(nodes: NatsNode[], timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    const up = nodes.filter((n) => n.proc && n.proc.exitCode === null && n.proc.signalCode === null);
    const metas = await Promise.all(up.map(metaOf));
    const leader = metas[0]?.leader;
    const leaderMeta = metas[up.findIndex((n) => n.name === leader)];
    const current = new Set((leaderMeta?.replicas ?? []).filter((r) => r.current && !r.offline).map((r) => r.name));
    if (
      leader &&
      leaderMeta &&
      metas.every((m) => m?.leader === leader) &&
      up.every((n) => n.name === leader || current.has(n.name))
    ) {
      return;
    }
    last = JSON.stringify(metas);
    if (Date.now() > deadline) throw new Error(`JetStream meta group not ready after ${timeoutMs} ms: ${last}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function startNats(opts: { servers?: number; nofile?: number } = {}): Promise<NatsServers> {
  const count = opts.servers ?? 1;
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'shardline-nats-'));
  const nodes: NatsNode[] = [];
  // freePort() closes its probe socket, so two calls may hand out the same port.
  const taken = new Set<number>();
  const port = async () => {
    for (;;) {
      const p = await freePort();
      if (!taken.has(p)) return taken.add(p), p;
    }
  };
  for (let i = 0; i < count; i++) {
    const storeDir = path.join(root, `s${i}`);
    fs.mkdirSync(storeDir);
    nodes.push({
      name: `n${i}`,
      port: await port(),
      clusterPort: await port(),
      monitorPort: count > 1 ? await port() : 0,
      storeDir,
      configFile: path.join(root, `s${i}.conf`),
      nofile: opts.nofile,
    });
  }
  const killProc = async (n: NatsNode, signal: NodeJS.Signals) => {
    const p = n.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const gone = new Promise((r) => p.once('exit', r));
    p.kill(signal);
    await gone;
  };
  const writeConfigs = () => {
    for (const n of nodes) {
      // Every server lists every route, its own included (the server skips it).
      const routes = count > 1 ? nodes.map((m) => m.clusterPort) : [];
      fs.writeFileSync(n.configFile, configFor(n, routes));
    }
  };
  writeConfigs();
  // A port taken by another test file between freePort() and the server's
  // bind: every server stopped, new ports and empty stores for all, start again.
  for (let attempt = 1; ; attempt++) {
    const results = await Promise.allSettled(nodes.map((n) => launch(n)));
    const failed = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as Error] : []));
    if (failed.length === 0) break;
    await Promise.all(nodes.map((n) => killProc(n, 'SIGKILL')));
    if (attempt === 3 || !failed.every((e) => e instanceof NatsExit && e.portTaken)) throw failed[0]!;
    for (const n of nodes) {
      n.port = await port();
      n.clusterPort = await port();
      if (count > 1) n.monitorPort = await port();
      fs.rmSync(n.storeDir, { recursive: true, force: true });
      fs.mkdirSync(n.storeDir);
    }
    writeConfigs();
  }
  if (count > 1) await waitForMetaGroup(nodes);
  const urlOf = (i: number) => `nats://127.0.0.1:${nodes[i]!.port}`;
  return {
    url: nodes.map((_, i) => urlOf(i)).join(','),
    nodes,
    urlOf,
    indexOf(serverName) {
      const i = nodes.findIndex((n) => n.name === serverName);
      if (i < 0) throw new Error(`no server named ${serverName}`);
      return i;
    },
    kill: (i) => killProc(nodes[i]!, 'SIGKILL'),
    async restart(i, o) {
      await launch(nodes[i]!, o?.listenTimeoutMs);
      if (count > 1) await waitForMetaGroup(nodes);
    },
    async stop() {
      await Promise.all(nodes.map((n) => killProc(n, 'SIGTERM')));
      fs.rmSync(root, { recursive: true, force: true });
    },
  };
}
