// `shardline runtime` as a process: one runtime in this process, or (with
// --workers N) the primary that forks N of them and aggregates their metrics.
import cluster from 'node:cluster';
import { createLogger } from '../common/log.js';
import type { RuntimeConfig } from './config.js';
import { startRuntime } from './server.js';
import { superviseWorkers } from './workers.js';
import { serveAggregatedMetrics } from './usage/clusterMetrics.js';

export async function startRuntimeProcess(config: RuntimeConfig): Promise<void> {
  const logger = createLogger('runtime');
  if (config.workers > 1 && cluster.isPrimary) {
    serveAggregatedMetrics();
    return superviseWorkers(config, (m) => logger.info(m));
  }
  const rt = await startRuntime(config, logger);
  logger.info(
    { host: config.host, port: rt.port, nats: config.natsUrl, tls: Boolean(config.tlsCertFile), worker: cluster.isWorker ? cluster.worker?.id : undefined },
    `shardline runtime listening on ${config.host}:${rt.port}`,
  );
  const stop = () => void rt.close().finally(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
