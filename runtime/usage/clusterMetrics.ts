// /metrics under `shardline runtime --workers N`. A scrape lands on whichever
// worker accepts the connection, so a worker alone would report only its own
// share. Instead the worker asks the primary, which collects every worker's
// registry over the cluster IPC channel (prom-client's AggregatorRegistry) and
// answers with the sum (gauges marked `aggregator: 'max'` take the maximum).
import cluster from 'node:cluster';
import { AggregatorRegistry, type Registry } from 'prom-client';

const REQ = 'shardline:metrics-req';
const RES = 'shardline:metrics-res';

/** In the primary: answers workers' requests for the aggregated text. */
export function serveAggregatedMetrics(): void {
  const aggregator = new AggregatorRegistry();
  cluster.on('message', (worker, msg: { type?: string; id?: number }) => {
    if (msg?.type !== REQ) return;
    aggregator.clusterMetrics().then(
      (text) => worker.isConnected() && worker.send({ type: RES, id: msg.id, text }),
      (e: Error) => worker.isConnected() && worker.send({ type: RES, id: msg.id, error: e.message }),
    );
  });
}

/**
 * In a worker: registers this worker's registry for aggregation and returns
 * the function /metrics calls. Outside a cluster it is the registry's own text.
 */
export function metricsSource(registry: Registry): () => Promise<string> {
  if (!cluster.isWorker || !process.send) return () => registry.metrics();
  // Constructing an AggregatorRegistry installs prom-client's worker-side IPC listener.
  new AggregatorRegistry();
  AggregatorRegistry.setRegistries([registry]);
  let next = 0;
  const pending = new Map<number, { resolve: (t: string) => void; reject: (e: Error) => void }>();
  process.on('message', (msg: { type?: string; id?: number; text?: string; error?: string }) => {
    if (msg?.type !== RES || msg.id === undefined) return;
    const p = pending.get(msg.id);
    if (!p) return;
    pending.delete(msg.id);
    if (msg.error !== undefined) p.reject(new Error(msg.error));
    else p.resolve(msg.text ?? '');
  });
  return () =>
    new Promise<string>((resolve, reject) => {
      const id = next++;
      pending.set(id, { resolve, reject });
      process.send!({ type: REQ, id });
    });
}
