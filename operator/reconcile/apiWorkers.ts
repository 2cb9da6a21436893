// Workers for definitions created through the Firehose and Kinesis Analytics
// APIs (owner 'api' in the store). One pass per kind (queue key `delivery` or
// `analytics`): the desired children from the store's definitions, applied
// only where they differ (zero writes once converged), and every labelled
// child of that kind that no definition wants any more deleted.
import { ConfigMaps, Deployments } from '../kube/resources.js';
import type { KubeObject } from '../kube/client.js';
import { API_DEFINITION_LABEL, apiAnalyticsChildren, apiDeliveryChildren } from '../model/apiWorkers.js';
import { ensureChildren } from './children.js';
import type { Context, Result } from './context.js';
import { StoreNotReadyError } from '../store/streamStore.js';

export type ApiWorkerKind = 'delivery' | 'analytics';

/** Definitions already reported as not runnable (one log line each, not one per pass). */
const reported = new Set<string>();

export async function reconcileApiWorkers(ctx: Context, kind: string): Promise<Result> {
  const api = ctx.apiWorkers;
  if (!api || (kind !== 'delivery' && kind !== 'analytics')) return {};
  let store;
  try {
    store = await ctx.store();
  } catch (e) {
    // The connection logs its own progress while NATS comes up; a failing pass here would only add error lines.
    if (e instanceof StoreNotReadyError) return { requeueAfterMs: 5_000 };
    throw e;
  }
  if (!store.apiDefinitions) return {};
  const defs = await store.apiDefinitions();

  const desired: Array<{ configMap: KubeObject; deployment: KubeObject }> = [];
  if (kind === 'delivery') {
    for (const d of defs.deliveries) {
      if (!api.deliveryS3) {
        const k = `${d.name}/${d.uid}`;
        if (!reported.has(k)) {
          reported.add(k);
          ctx.log(`delivery stream ${d.name} (created through the Firehose API) has no worker: the operator has no object storage for API-created delivery streams; start it with --api-delivery-s3-endpoint (and --api-delivery-s3-secret)`);
        }
        continue;
      }
      desired.push(apiDeliveryChildren(d, api.namespace, api.deliveryS3, ctx.settings));
    }
  } else {
    for (const a of defs.applications) desired.push(apiAnalyticsChildren(a, api.namespace, ctx.settings, api.deliveryS3));
  }

  for (const c of desired) {
    await ensureChildren(ctx, [
      { type: ConfigMaps, cache: ctx.caches.configMaps, desired: c.configMap },
      { type: Deployments, cache: ctx.caches.deployments, desired: c.deployment },
    ]);
  }

  // Orphans: labelled children of this kind in the operator's namespace that no definition wants.
  const wanted = new Set(desired.map((c) => c.deployment.metadata.name));
  for (const [type, cache] of [[Deployments, ctx.caches.deployments], [ConfigMaps, ctx.caches.configMaps]] as const) {
    for (const o of cache.list(api.namespace)) {
      if (o.metadata.labels?.[API_DEFINITION_LABEL] !== kind || wanted.has(o.metadata.name) || o.metadata.deletionTimestamp) continue;
      ctx.log(`${kind} worker ${type.kind} ${api.namespace}/${o.metadata.name}: its definition is gone; deleting`);
      await ctx.client.delete(type, api.namespace, o.metadata.name, { propagationPolicy: 'Background' });
    }
  }
  return {};
}
