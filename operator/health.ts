// /healthz (process alive), /readyz (caches synced) and /metrics (Prometheus)
// for the operator Deployment's probes and scraping.
import http from 'node:http';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export class OperatorMetrics {
  readonly registry = new Registry();
  readonly reconciles = new Counter({ name: 'shardline_operator_reconcile_total', help: 'Reconciles by kind and result.', labelNames: ['kind', 'result'], registers: [this.registry] });
  readonly duration = new Histogram({ name: 'shardline_operator_reconcile_seconds', help: 'Reconcile duration.', labelNames: ['kind'], buckets: [0.005, 0.02, 0.1, 0.5, 2, 10], registers: [this.registry] });
  readonly leader = new Gauge({ name: 'shardline_operator_leader', help: '1 while this replica leads.', registers: [this.registry] });
  /** Set at scrape time from the client's own count (a counter: it only grows while the process lives). */
  readonly writes = new Counter({ name: 'shardline_operator_api_writes_total', help: 'Kubernetes API writes issued by reconciles since start.', registers: [this.registry] });
  constructor() { collectDefaultMetrics({ register: this.registry }); }
}

export function startHealthServer(port: number, state: { ready: () => boolean; writes: () => number; leader: () => boolean }, metrics: OperatorMetrics): Promise<http.Server> {
  const server = http.createServer(async (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/healthz') { res.end('ok'); return; }
    if (path === '/readyz') {
      const ok = state.ready();
      res.statusCode = ok ? 200 : 503;
      res.end(ok ? 'ok' : 'caches not synced');
      return;
    }
    if (path === '/metrics') {
      metrics.writes.reset();
      metrics.writes.inc(state.writes());
      metrics.leader.set(state.leader() ? 1 : 0);
      res.setHeader('Content-Type', metrics.registry.contentType);
      res.end(await metrics.registry.metrics());
      return;
    }
    res.statusCode = 404;
    res.end();
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, () => resolve(server));
  });
}
