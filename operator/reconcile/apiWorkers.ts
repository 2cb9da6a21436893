// Workers for definitions created through the Firehose and Kinesis Analytics
// APIs (owner 'api' in the store). One pass per kind (queue key `delivery` or
// `analytics`): the desired children from the store's definitions, applied
// only where they differ (zero writes once converged), and every child of
// that kind labelled with this operator's namespace that no definition wants
// any more deleted. A delivery stream's children get what a DeliveryStream
// resource's do: an encrypted source's key set, Lambda ARNs mapped to URLs,
// and (under --api-delivery-autoscaling) lag-driven replicas; an application
// whose plan splits shards, lag-driven replicas under --api-analytics-autoscaling.
import { ConfigMaps, Deployments, Secrets } from '../kube/resources.js';
import type { KubeObject } from '../kube/client.js';
import {
  API_AUTOSCALING_ANNOTATION, API_DEFINITION_LABEL, API_OPERATOR_NAMESPACE_LABEL, apiAnalyticsChildren, apiDeliveryChildren, apiWorkerName, type ApiAnalyticsScale, type ApiDeliveryPlacement,
} from '../model/apiWorkers.js';
import { analyticsConsumerGroup, ApplicationDefinition } from '../../contract/analytics.js';
import { replicasSplitShards } from '../../analytics/sql/decompose.js';
import { WorkerScalingStatus } from '../../crds/schema/workerAutoscaling.js';
import { deliveryConsumerGroup } from '../../contract/delivery.js';
import { scaleWorkers } from './workerScaling.js';
import { streamNameOf } from '../model/datastream.js';
import { validateDataStream } from '../model/validate.js';
import { readyCondition } from '../status/conditions.js';
import { ensureChildren } from './children.js';
import type { Context, Result } from './context.js';
import { workerKeyRefs } from './streamKeys.js';
import { StoreNotReadyError, type ApiApplication, type ApiDelivery } from '../store/streamStore.js';

export type ApiWorkerKind = 'delivery' | 'analytics';

/** Definitions already reported as not runnable (one log line each, not one per pass). */
const reported = new Set<string>();
const reportOnce = (ctx: Context, key: string, message: string) => {
  if (reported.has(key)) return;
  reported.add(key);
  ctx.log(message);
};

/**
 * Where an API delivery stream's worker runs and what it mounts: an
 * encrypted DataStream source puts it beside that DataStream with the
 * stream's key set (the one its runtime pods and resource workers hold), so
 * the worker opens the records itself; anything else stays in the operator's
 * namespace. The Lambda ARNs its processors name are mapped to URLs from the
 * operator's map (--api-lambda-functions); an unmapped ARN is logged once
 * (its records go to the error prefix as Lambda.FunctionNotFound).
 */
async function placement(ctx: Context, d: ApiDelivery, opNamespace: string): Promise<ApiDeliveryPlacement> {
  const place: ApiDeliveryPlacement = { namespace: opNamespace, operatorNamespace: opNamespace, keyRefs: [] };
  if (d.sourceStream) {
    place.sourceStream = d.sourceStream;
    // The DataStream that holds the store stream (a StreamNameConflict loser does not).
    const ds = ctx.caches.dataStreams.list().find((x) => !x.metadata.deletionTimestamp && streamNameOf(x) === d.sourceStream
      && readyCondition(x.status?.conditions)?.reason !== 'StreamNameConflict');
    const v = ds ? validateDataStream(ds) : undefined;
    if (ds && v?.ok && v.spec.encryption) {
      place.namespace = ds.metadata.namespace!;
      place.keyRefs = await workerKeyRefs(ctx, ds, v.spec);
    }
  }
  const functions = mappedFunctions(ctx, d.lambdaArns, (arn) => `delivery stream ${d.name} (created through the Firehose API): Lambda ${arn} has no URL in the operator's --api-lambda-functions map; its records go to the error prefix (Lambda.FunctionNotFound)`, `${d.name}/${d.uid}`);
  if (functions) place.functions = functions;
  return place;
}

/** The operator's Lambda ARN → URL map narrowed to `arns`; an ARN it lacks is logged once per definition. */
function mappedFunctions(ctx: Context, arns: string[], unmapped: (arn: string) => string, key: string): Record<string, string> | undefined {
  const map = ctx.apiWorkers?.lambdaFunctions ?? {};
  const functions: Record<string, string> = {};
  for (const arn of arns) {
    // A qualified ARN (`:alias`, `:3`, `:$LATEST`) falls back to the function's own entry, as the analytics worker's lookup does.
    const url = map[arn] ?? map[arn.replace(/^(arn:[^:]+:lambda:[^:]*:[^:]*:function:[^:]+):[^:]+$/, '$1')];
    if (url) functions[arn] = url;
    else reportOnce(ctx, `${key}/${arn}`, unmapped(arn));
  }
  return Object.keys(functions).length ? functions : undefined;
}

/** The autoscaler's state an API delivery worker Deployment carries (undefined: none, or not readable). */
function annotatedScaling(dep: KubeObject | undefined): WorkerScalingStatus | undefined {
  const raw = dep?.metadata.annotations?.[API_AUTOSCALING_ANNOTATION];
  if (!raw) return undefined;
  try {
    const r = WorkerScalingStatus.safeParse(JSON.parse(raw));
    return r.success ? r.data : undefined;
  } catch {
    return undefined;
  }
}

/** Sampler keys of API delivery streams and applications being autoscaled, so a gone definition's lag is no longer sampled. */
const scaledKeys = new Set<string>();

/**
 * Step: an API application's worker replicas under --api-analytics-autoscaling,
 * as scaleApiDelivery's: the same decider over the lag of the consumer group
 * of the application's current run over its first input (contract/analytics.ts
 * analyticsConsumerGroup), the state and decisions in the Deployment's
 * annotation, an Event and a log line each. Only when the plan splits the
 * shards (sql/decompose.ts replicasSplitShards: two-phase aggregation or
 * pass-through); otherwise more replicas would only stand by: one, and no
 * annotation.
 */
async function scaleApiAnalytics(ctx: Context, a: ApiApplication, namespace: string): Promise<{ scale: ApiAnalyticsScale; requeueAfterMs?: number }> {
  const auto = ctx.apiWorkers?.analyticsAutoscaling;
  const key = `api/analytics/${a.name}/${a.uid}`;
  const def = ApplicationDefinition.safeParse(a.definition);
  const first = def.success ? def.data.inputs[0] : undefined;
  if (!auto || !def.success || !first || !a.readStream || !splits(def.data)) {
    if (scaledKeys.delete(key)) ctx.workerLag?.untrack(key);
    return { scale: {} };
  }
  scaledKeys.add(key);
  const name = apiWorkerName('analytics', a);
  const observed = ctx.caches.deployments.getByName(namespace, name);
  const prev = annotatedScaling(observed);
  const involved = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name, namespace, uid: observed?.metadata.uid }, status: { autoscaling: prev } };
  const scale = await scaleWorkers(ctx, involved as any, key, auto, 1, { application: analyticsConsumerGroup(a.name, first.id, a.runId), stream: a.readStream });
  const made = scale.status?.lastDecision;
  if (made && made.time !== prev?.lastDecision?.time) {
    ctx.log(`application ${a.name} (created through the Kinesis Analytics API): worker Deployment ${namespace}/${name} ${made.fromReplicas} → ${made.toReplicas} replicas (${made.action}): ${made.reason}`);
  }
  return { scale: { replicas: scale.replicas, autoscaling: scale.status }, requeueAfterMs: scale.requeueAfterMs };
}

/** replicasSplitShards, worked out once per definition (it parses the SQL). */
const splitCache = new Map<string, boolean>();
function splits(def: ApplicationDefinition): boolean {
  const k = JSON.stringify(def);
  let v = splitCache.get(k);
  if (v === undefined) {
    try { v = replicasSplitShards(def); } catch { v = false; }
    if (splitCache.size > 256) splitCache.clear();
    splitCache.set(k, v);
  }
  return v;
}

/**
 * Step: the worker replicas under --api-delivery-autoscaling, decided exactly
 * as for a DeliveryStream resource's spec.autoscaling (reconcile/workerScaling.ts,
 * the same decider over the same consumer-group lag), starting from one
 * replica. With no resource status to hold them, the state and decisions go
 * into the Deployment's annotation API_AUTOSCALING_ANNOTATION (written only
 * with a decision), each decision also as an Event on the Deployment and one
 * log line. Unset: one replica, as before.
 */
async function scaleApiDelivery(ctx: Context, d: ApiDelivery, place: ApiDeliveryPlacement): Promise<{ requeueAfterMs?: number }> {
  const a = ctx.apiWorkers?.deliveryAutoscaling;
  const key = `api/delivery/${d.name}/${d.uid}`;
  if (!a) {
    if (scaledKeys.delete(key)) ctx.workerLag?.untrack(key);
    return {};
  }
  scaledKeys.add(key);
  const name = apiWorkerName('delivery', d);
  const observed = ctx.caches.deployments.getByName(place.namespace, name);
  const prev = annotatedScaling(observed);
  // Events go to the Deployment (kubectl describe shows them).
  const involved = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name, namespace: place.namespace, uid: observed?.metadata.uid }, status: { autoscaling: prev } };
  const scale = await scaleWorkers(ctx, involved as any, key, a, 1, { application: deliveryConsumerGroup(d.uid), stream: d.readStream });
  const made = scale.status?.lastDecision;
  if (made && made.time !== prev?.lastDecision?.time) {
    ctx.log(`delivery stream ${d.name} (created through the Firehose API): worker Deployment ${place.namespace}/${name} ${made.fromReplicas} → ${made.toReplicas} replicas (${made.action}): ${made.reason}`);
  }
  place.replicas = scale.replicas;
  place.autoscaling = scale.status;
  return { requeueAfterMs: scale.requeueAfterMs };
}

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
  // Autoscaled workers are looked at again while the sampler's window moves (no watch event says so).
  let requeueAfterMs: number | undefined;
  const live = new Set<string>();
  if (kind === 'delivery') {
    for (const d of defs.deliveries) {
      if (!api.deliveryS3) {
        reportOnce(ctx, `${d.name}/${d.uid}`, `delivery stream ${d.name} (created through the Firehose API) has no worker: the operator has no object storage for API-created delivery streams; start it with --api-delivery-s3-endpoint (and --api-delivery-s3-secret)`);
        continue;
      }
      const place = await placement(ctx, d, api.namespace);
      if (place.namespace !== api.namespace && api.deliveryS3.secret && !(await ctx.client.get(Secrets, place.namespace, api.deliveryS3.secret))) {
        // Still created: the pod starts once the Secret is there (until then Kubernetes shows CreateContainerConfigError).
        reportOnce(ctx, `${d.name}/${d.uid}/s3-secret/${place.namespace}`, `delivery stream ${d.name} (created through the Firehose API) reads encrypted DataStream ${d.sourceStream}, so its worker runs in namespace ${place.namespace}, which has no Secret ${api.deliveryS3.secret} (--api-delivery-s3-secret) for its S3 credentials`);
      }
      const scaled = await scaleApiDelivery(ctx, d, place);
      if (scaled.requeueAfterMs) requeueAfterMs = Math.min(requeueAfterMs ?? Infinity, scaled.requeueAfterMs);
      live.add(`api/delivery/${d.name}/${d.uid}`);
      desired.push(apiDeliveryChildren(d, place, api.deliveryS3, ctx.settings));
    }
    for (const k of [...scaledKeys]) if (k.startsWith('api/delivery/') && !live.has(k)) { scaledKeys.delete(k); ctx.workerLag?.untrack(k); }
  } else {
    for (const a of defs.applications) {
      const functions = mappedFunctions(ctx, a.lambdaArns, (arn) => `application ${a.name} (created through the Kinesis Analytics API): LambdaOutput ${arn} has no URL in the operator's --api-lambda-functions map; the worker cannot emit to it`, `app/${a.name}/${a.uid}`);
      const scaled = await scaleApiAnalytics(ctx, a, api.namespace);
      if (scaled.requeueAfterMs) requeueAfterMs = Math.min(requeueAfterMs ?? Infinity, scaled.requeueAfterMs);
      live.add(`api/analytics/${a.name}/${a.uid}`);
      desired.push(apiAnalyticsChildren(a, api.namespace, ctx.settings, api.deliveryS3, functions, scaled.scale));
    }
    for (const k of [...scaledKeys]) if (k.startsWith('api/analytics/') && !live.has(k)) { scaledKeys.delete(k); ctx.workerLag?.untrack(k); }
  }

  for (const c of desired) {
    await ensureChildren(ctx, [
      { type: ConfigMaps, cache: ctx.caches.configMaps, desired: c.configMap },
      { type: Deployments, cache: ctx.caches.deployments, desired: c.deployment },
    ]);
  }

  // Orphans: this operator's labelled children of this kind, in any namespace (an encrypted source's), that no
  // definition wants there. Children from before the operator-namespace label are those in its own namespace.
  const wanted = new Set(desired.map((c) => `${c.deployment.metadata.namespace}/${c.deployment.metadata.name}`));
  const mine = (o: KubeObject) => {
    const home = o.metadata.labels?.[API_OPERATOR_NAMESPACE_LABEL];
    return home === undefined ? o.metadata.namespace === api.namespace : home === api.namespace;
  };
  for (const [type, cache] of [[Deployments, ctx.caches.deployments], [ConfigMaps, ctx.caches.configMaps]] as const) {
    for (const o of cache.list()) {
      const ns = o.metadata.namespace!;
      if (o.metadata.labels?.[API_DEFINITION_LABEL] !== kind || !mine(o) || wanted.has(`${ns}/${o.metadata.name}`) || o.metadata.deletionTimestamp) continue;
      ctx.log(`${kind} worker ${type.kind} ${ns}/${o.metadata.name}: its definition is gone or runs elsewhere; deleting`);
      await ctx.client.delete(type, ns, o.metadata.name, { propagationPolicy: 'Background' });
    }
  }
  return requeueAfterMs ? { requeueAfterMs } : {};
}
