// Stand-in pods for the worker-autoscaling tests: one consumer-group worker
// per live Pod of a Deployment, each with a fixed capacity in records a
// second, stopped (its leases released) when its Pod goes. So the lag the
// operator reads follows the replicas it chose, without running the real
// worker image (the worker processes themselves are started for real in
// the deployment/command-line tests).
import type { KubeClient } from '../../operator/kube/client.js';
import { Deployments, Pods } from '../../operator/kube/resources.js';
import type { Store } from '../../stream/connect.js';
import { Consumer, directSource, kvLeaseStore } from '../../consumer/index.js';
import type { InitialPosition } from '../../consumer/types.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One pod's capacity: `perSec` records a second, whatever the number of shards it holds. */
export function capacity(perSec: number) {
  let next = Date.now();
  return async (n: number) => {
    const now = Date.now();
    next = Math.max(next, now) + (n * 1000) / perSec;
    await sleep(next - now);
  };
}

export interface LagPodsOptions {
  client: KubeClient;
  store: Store;
  namespace: string;
  deployment: string;
  /** The consumer group (application name) the real workers would use. */
  application: string;
  stream: string;
  initialPosition?: InitialPosition;
}

export function runLagPods(o: LagPodsOptions) {
  const workers = new Map<string, Consumer>();
  let done = false;
  const loop = (async () => {
    while (!done) {
      const dep = await o.client.get<any>(Deployments, o.namespace, o.deployment);
      if (dep) {
        const selector = Object.entries(dep.spec.selector.matchLabels).map(([k, v]) => `${k}=${v}`).join(',');
        const pods = (await o.client.list<any>(Pods, o.namespace, { labelSelector: selector })).items.filter((p: any) => !p.metadata.deletionTimestamp);
        const names = new Set(pods.map((p: any) => p.metadata.name as string));
        for (const name of names) {
          if (workers.has(name)) continue;
          const take = capacity(100);
          const c = new Consumer({
            applicationName: o.application, streamName: o.stream, workerId: name,
            source: directSource(o.store), leaseStore: kvLeaseStore(o.store),
            ...(o.initialPosition ? { initialPosition: o.initialPosition } : {}),
            failoverTimeMs: 3000, idleTimeBetweenReadsMs: 100, shardSyncIntervalMs: 1000, maxRecords: 50,
            processorFactory: () => ({
              async processRecords(batch, cp) { await take(batch.records.length); await cp.checkpoint(); },
              async shardEnded(cp) { await cp.checkpoint(); },
              async shutdownRequested(cp) { await cp.checkpoint(); },
            }),
          });
          workers.set(name, c);
          await c.start();
        }
        for (const [name, c] of [...workers]) if (!names.has(name)) { workers.delete(name); await c.stop(); }
      }
      await sleep(200);
    }
  })();
  return { workers, async stop() { done = true; await loop; await Promise.all([...workers.values()].map((c) => c.stop())); } };
}
