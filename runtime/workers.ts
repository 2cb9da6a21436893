// `shardline runtime --workers N`: N runtime processes sharing one port through
// node:cluster. A runtime is stateless (all state is in JetStream and KV, and
// quotas are gossiped between processes), so workers need no coordination of
// their own; they only spread one event loop's work over more cores.
import cluster from 'node:cluster';
import type { RuntimeConfig } from './config.js';

/** In the primary: forks the workers, replaces any that die, stops them on signal. */
export function superviseWorkers(config: RuntimeConfig, log: (m: string) => void): void {
  // Workers accept from the shared socket themselves. Under round-robin the
  // primary accepts and hands each connection to a worker over IPC; one handed
  // to a worker that has just died (its exit not yet seen) is never answered
  // nor closed, and the client waits forever. Here, connections the dead
  // worker had not accepted stay in the kernel's queue for the others.
  cluster.schedulingPolicy = cluster.SCHED_NONE;
  let stopping = false;
  const fork = () => cluster.fork();
  for (let i = 0; i < config.workers; i++) fork();
  cluster.on('exit', (w, code, signal) => {
    if (stopping) {
      if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0);
      return;
    }
    log(`runtime worker ${w.process.pid} exited (${signal ?? code}); starting another`);
    setTimeout(fork, 500);
  });
  const stop = () => {
    stopping = true;
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGTERM');
    if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  log(`shardline runtime: ${config.workers} workers on ${config.host}:${config.port} (NATS ${config.natsUrl})`);
}

export const isPrimaryOfWorkers = (config: RuntimeConfig) => config.workers > 1 && cluster.isPrimary;
