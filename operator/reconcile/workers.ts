// DeliveryStream and AnalyticsApp reconcile: validate -> resolve references
// (DataStreams from the cache, Secrets by GET) -> children -> status. They hold
// no external state, so no finalizer: owner references clean up the children.
import { AnalyticsApps, ConfigMaps, DeliveryStreams, Deployments, Secrets, type ResourceType } from '../kube/resources.js';
import type { KubeObject } from '../kube/client.js';
import { endpointOf, streamNameOf } from '../model/datastream.js';
import { analyticsChildren, analyticsDefinition, deliveryChildren, type KeySecretRef, type ResolvedStream } from '../model/workers.js';
import { analyticsSqlError } from '../model/analyticsSql.js';
import { usableByWorkers, workerKeyRefs } from './streamKeys.js';
import { replicasSplitShards, scaleOutMode } from '../../analytics/sql/decompose.js';
import { selectorLabels, type Component } from '../model/common.js';
import { validateAnalyticsApp, validateDataStream, validateDeliveryStream } from '../model/validate.js';
import { conditionsFor, type Outcome } from '../status/conditions.js';
import { writeStatus } from '../status/write.js';
import { failureOutcome, reportFailure } from '../status/failure.js';
import type { DeliveryStreamSpec, WorkerStatus } from '../../crds/schema/deliverystream.js';
import { ensureChildren } from './children.js';
import { scaleWorkers } from './workerScaling.js';
import { deliveryDefinitionOf } from '../model/deliveryDefinition.js';
import { DefinitionOwnerError, type DeliveryStats, type DeliveryStreamRecord } from '../../stream/deliveryStreams.js';
import { backingStreamName } from '../../stream/names.js';
import { deploymentAvailable, type Context, type Result } from './context.js';
import { analyticsConsumerGroup } from '../../contract/analytics.js';
import { deliveryConsumerGroup } from '../../contract/delivery.js';

/** The status block of a DeliveryStream from its workers' reports (no volatile fields when nothing changed: no writes once converged). */
function deliveryProgress(s: DeliveryStats) {
  return {
    deliveredRecords: s.deliveredRecords,
    ...(s.lastDeliveryMs !== undefined ? { lastDeliveryTime: new Date(s.lastDeliveryMs).toISOString() } : {}),
    dataFreshnessSeconds: s.dataFreshnessSeconds,
    ...(Object.keys(s.failures).length ? { failures: s.failures } : {}),
    ...(s.destinationError ? { destinationError: s.destinationError } : {}),
  };
}

/** A failed step shows on the object (operator/status/failure.ts); transient ones are rethrown for backoff. */
async function withFailureStatus(ctx: Context, type: ResourceType, key: string, fn: (ctx: Context, key: string) => Promise<Result>): Promise<Result> {
  try {
    return await fn(ctx, key);
  } catch (e) {
    const cache = type === DeliveryStreams ? ctx.caches.deliveryStreams : ctx.caches.analyticsApps;
    const obj = cache.get(key);
    if (!obj) throw e;
    const outcome = failureOutcome(e);
    await reportFailure(ctx.client, type, obj as any, outcome, ctx.events);
    if (outcome.state === 'Stalled') return { requeueAfterMs: ctx.recheckMs };
    throw e;
  }
}

type Ref = { ok: true; stream: ResolvedStream; keyRefs: KeySecretRef[] } | { ok: false; reason: string; message: string; progressing?: boolean };

/**
 * A referenced DataStream must exist and be Ready before a worker can use it
 * (or be only waiting for its workers to roll to a new key: streamKeys.ts).
 */
async function resolveDataStream(ctx: Context, namespace: string, name: string): Promise<Ref> {
  const ds = ctx.caches.dataStreams.getByName(namespace, name);
  if (!ds || ds.metadata.deletionTimestamp) return { ok: false, reason: 'DataStreamNotFound', message: `DataStream ${name} not found in namespace ${namespace}.` };
  if (!usableByWorkers(ds)) {
    return { ok: false, reason: 'DataStreamNotReady', message: `DataStream ${name} is not Ready yet.`, progressing: true };
  }
  const v = validateDataStream(ds);
  const endpoint = ds.status?.endpoint ?? (v.ok ? endpointOf(ds, v.spec, ctx.settings) : ctx.settings.sharedEndpoint);
  // An encrypted stream's keys go to the workers too, the set its runtime pods hold: they read (and write) records themselves.
  const keyRefs = v.ok ? await workerKeyRefs(ctx, ds, v.spec) : [];
  return { ok: true, stream: { name, streamName: streamNameOf(ds), endpoint }, keyRefs };
}

/** A Secret item a worker pod gets: the Secret must exist and hold the key, or the pod could not start (CreateContainerConfigError). */
interface SecretNeed { name: string; keys: string[]; field: string }

async function secretProblem(ctx: Context, namespace: string, needs: SecretNeed[]): Promise<{ reason: string; message: string } | undefined> {
  for (const n of needs) {
    const secret = await ctx.client.get(Secrets, namespace, n.name) as { data?: Record<string, string>; stringData?: Record<string, string> } | undefined;
    if (!secret) return { reason: 'SecretNotFound', message: `Secret ${n.name} (${n.field}) not found.` };
    const have = new Set([...Object.keys(secret.data ?? {}), ...Object.keys(secret.stringData ?? {})]);
    const absent = n.keys.filter((k) => !have.has(k));
    if (absent.length) return { reason: 'SecretKeyNotFound', message: `Secret ${n.name} (${n.field}) has no key ${absent.join(', ')}.` };
  }
  return undefined;
}

async function finish(
  ctx: Context, type: ResourceType, obj: KubeObject & { status?: WorkerStatus }, component: Component,
  outcome: Outcome, dep?: KubeObject, requeueAfterMs?: number, extra: Record<string, unknown> = {},
): Promise<Result> {
  let prev = obj.status ?? {};
  if (prev.autoscaling && 'autoscaling' in extra && extra.autoscaling === undefined) {
    // Autoscaling turned off: its status goes. A merge patch, because the 1.20 apiserver's server-side apply
    // leaves the emptied object behind (null fields, missing required ones) when a nested object is dropped.
    await ctx.client.patch(type, obj.metadata.namespace, obj.metadata.name, { status: { autoscaling: null } }, 'status');
    const { autoscaling: _gone, ...rest } = prev;
    prev = rest;
  }
  const ready = deploymentAvailable(dep).ready;
  const sel = Object.entries(selectorLabels(obj as any, component)).map(([k, v]) => `${k}=${v}`).join(',');
  const status: WorkerStatus = {
    ...prev,
    observedGeneration: obj.metadata.generation,
    conditions: conditionsFor(outcome, obj.metadata.generation ?? 0, prev.conditions),
    replicas: dep ? ready : prev.replicas,
    selector: sel,
    ...extra,
  };
  await writeStatus(ctx.client, type, obj, status as any, ctx.events);
  return requeueAfterMs ? { requeueAfterMs } : {};
}

function outcomeFor(dep: KubeObject | undefined, what: string): Outcome {
  const d = deploymentAvailable(dep);
  return d.available
    ? { state: 'Ready', reason: 'WorkersAvailable', message: `${what} workers available: ${d.message}.` }
    : { state: 'Progressing', reason: 'WorkersNotAvailable', message: `${what} worker Deployment: ${d.message}.` };
}

export const reconcileDeliveryStream = (ctx: Context, key: string) => withFailureStatus(ctx, DeliveryStreams, key, reconcileDeliveryStreamLive);

async function reconcileDeliveryStreamLive(ctx: Context, key: string): Promise<Result> {
  const d = ctx.caches.deliveryStreams.get(key);
  if (!d) {
    // Gone: its definition goes too (only one this resource owns; a Direct PUT one takes its backing stream with it).
    const [namespace, name] = key.split('/');
    const store = await ctx.store();
    if (namespace && name) await store.removeDelivery?.({ kind: 'resource', namespace, name }, name);
    return {};
  }
  if (d.metadata.deletionTimestamp) return {};
  const ns = d.metadata.namespace!;
  const v = validateDeliveryStream(d.spec);
  if (!v.ok) return finish(ctx, DeliveryStreams, d, 'delivery', { state: 'Stalled', reason: v.reason, message: v.message });
  const spec = v.spec;

  let source: ResolvedStream | undefined;
  const keyRefs: KeySecretRef[] = [];
  if (spec.source.type === 'DataStream') {
    const r = await resolveDataStream(ctx, ns, spec.source.dataStreamRef!.name);
    if (!r.ok) return finish(ctx, DeliveryStreams, d, 'delivery', { state: r.progressing ? 'Progressing' : 'Stalled', reason: r.reason, message: r.message });
    source = r.stream;
    keyRefs.push(...r.keyRefs);
  }
  const needs: SecretNeed[] = [];
  if (spec.s3?.credentialsSecretRef) needs.push({ name: spec.s3.credentialsSecretRef, keys: ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY'], field: 'spec.s3.credentialsSecretRef' });
  if (spec.http?.accessKeySecretRef) needs.push({ name: spec.http.accessKeySecretRef.name, keys: [spec.http.accessKeySecretRef.key], field: 'spec.http.accessKeySecretRef' });
  const secretIssue = await secretProblem(ctx, ns, needs);
  if (secretIssue) return finish(ctx, DeliveryStreams, d, 'delivery', { state: 'Stalled', ...secretIssue }, undefined, ctx.recheckMs);

  // The definition in the store, the one model the Firehose API and the workers share.
  const defn = deliveryDefinitionOf(d, spec, source?.streamName, process.env.SHARDLINE_REGION ?? 'us-east-1', process.env.SHARDLINE_ACCOUNT_ID ?? '000000000000');
  if (!defn.ok) return finish(ctx, DeliveryStreams, d, 'delivery', { state: 'Stalled', reason: defn.reason, message: defn.message });
  const store = await ctx.store();
  let definition: DeliveryStreamRecord | undefined;
  try {
    definition = store.ensureDelivery ? await store.ensureDelivery(defn.def) : undefined;
  } catch (e) {
    if (e instanceof DefinitionOwnerError) return finish(ctx, DeliveryStreams, d, 'delivery', { state: 'Stalled', reason: 'DeliveryStreamNameConflict', message: e.message });
    throw e;
  }

  // The consumer group the workers form over the source.
  const group = definition ? { application: deliveryConsumerGroup(definition.uid), stream: definition.sourceStream } : undefined;
  const scale = await scaleWorkers(ctx, d, key, spec.autoscaling, spec.replicas, group);
  const scaled = { autoscaling: scale.status };
  const kids = deliveryChildren(d, spec, source, ctx.settings, keyRefs, scale.replicas);
  const stored = await ensureChildren(ctx, [
    { type: ConfigMaps, cache: ctx.caches.configMaps, desired: kids.configMap },
    { type: Deployments, cache: ctx.caches.deployments, desired: kids.deployment },
  ]);
  const dep = stored.get('Deployment');
  if (definition?.status !== 'ACTIVE') {
    return finish(ctx, DeliveryStreams, d, 'delivery', { state: 'Progressing', reason: 'DefinitionNotActive', message: `The delivery stream definition is ${definition?.status ?? 'not in the store'} yet.` }, dep, ctx.recheckMs, scaled);
  }
  const stats = await store.deliveryStats?.(defn.def.name);
  const progress = stats ? { delivery: deliveryProgress(stats) } : {};
  const outcome = outcomeFor(dep, 'Delivery');
  // Workers run but cannot write: Ready stays as the pods say; the reason is in status.delivery.destinationError
  // and, while the workers are otherwise available, in the Ready message.
  if (outcome.state === 'Ready' && stats?.destinationError) outcome.message += ` Destination failing: ${stats.destinationError}`;
  return finish(ctx, DeliveryStreams, d, 'delivery', outcome, dep, scale.requeueAfterMs, { ...progress, ...scaled });
}

export const reconcileAnalyticsApp = (ctx: Context, key: string) => withFailureStatus(ctx, AnalyticsApps, key, reconcileAnalyticsAppLive);

async function reconcileAnalyticsAppLive(ctx: Context, key: string): Promise<Result> {
  const a = ctx.caches.analyticsApps.get(key);
  if (!a || a.metadata.deletionTimestamp) return {};
  const ns = a.metadata.namespace!;
  const v = validateAnalyticsApp(a.spec);
  if (!v.ok) return finish(ctx, AnalyticsApps, a, 'analytics', { state: 'Stalled', reason: v.reason, message: v.message });
  const spec = v.spec;

  const streams = new Map<string, ResolvedStream>();
  const keyRefs: KeySecretRef[] = [];
  const refs = [...spec.inputs.flatMap((i) => (i.dataStreamRef ? [i.dataStreamRef.name] : [])), ...spec.outputs.flatMap((o) => (o.dataStreamRef ? [o.dataStreamRef.name] : []))];
  // An input reading a DeliveryStream reads the stream holding its records: its source DataStream (whose
  // readiness gates this app and whose keys the pods need), or the hidden backing stream of a DirectPut one.
  const recordsStream = new Map<string, () => string | undefined>();
  for (const i of spec.inputs) {
    if (!i.deliveryStreamRef) continue;
    const d = ctx.caches.deliveryStreams.getByName(ns, i.deliveryStreamRef.name);
    if (!d) return finish(ctx, AnalyticsApps, a, 'analytics', { state: 'Stalled', reason: 'DeliveryStreamNotFound', message: `DeliveryStream ${i.deliveryStreamRef.name} not found in namespace ${ns}.` });
    const src = (d.spec as DeliveryStreamSpec | undefined)?.source;
    if (src?.type === 'DirectPut') recordsStream.set(i.deliveryStreamRef.name, () => backingStreamName(i.deliveryStreamRef!.name));
    else if (src?.dataStreamRef) {
      const ref = src.dataStreamRef.name;
      refs.push(ref);
      recordsStream.set(i.deliveryStreamRef.name, () => streams.get(ref)?.streamName);
    }
  }
  for (const name of refs) {
    const r = await resolveDataStream(ctx, ns, name);
    if (!r.ok) return finish(ctx, AnalyticsApps, a, 'analytics', { state: r.progressing ? 'Progressing' : 'Stalled', reason: r.reason, message: r.message });
    streams.set(name, r.stream);
    keyRefs.push(...r.keyRefs);
  }
  for (const o of spec.outputs) {
    if (o.deliveryStreamRef && !ctx.caches.deliveryStreams.getByName(ns, o.deliveryStreamRef.name)) {
      return finish(ctx, AnalyticsApps, a, 'analytics', { state: 'Stalled', reason: 'DeliveryStreamNotFound', message: `DeliveryStream ${o.deliveryStreamRef.name} not found in namespace ${ns}.` });
    }
  }

  // The SQL must compile (DuckDB binds it against the input columns) before a worker runs it.
  const sqlError = await analyticsSqlError(analyticsDefinition(a, spec, streams));
  if (sqlError) return finish(ctx, AnalyticsApps, a, 'analytics', { state: 'Stalled', reason: 'InvalidSQL', message: sqlError });

  // Replicas split the shards only when the application's aggregates decompose (two-phase) or every pump is
  // stateless (pass-through); otherwise one
  // replica is active and more would stand by, so no lag is tracked and only the bounds and spec.replicas apply.
  // The lag is the first input's group (KDA SQL applications have one streaming input).
  const def = analyticsDefinition(a, spec, streams);
  const first = def.inputs[0];
  const firstStream = first?.source.kind === 'firehose' ? recordsStream.get(first.source.name)?.() : first?.source.name;
  const group = replicasSplitShards(def) && first && firstStream ? { application: analyticsConsumerGroup(def.name, first.id), stream: firstStream } : undefined;
  const scale = await scaleWorkers(ctx, a, key, spec.autoscaling, spec.replicas, group);
  const kids = analyticsChildren(a, spec, streams, ctx.settings, keyRefs, scale.replicas);
  const stored = await ensureChildren(ctx, [
    { type: ConfigMaps, cache: ctx.caches.configMaps, desired: kids.configMap },
    { type: Deployments, cache: ctx.caches.deployments, desired: kids.deployment },
  ]);
  const dep = stored.get('Deployment');
  const outcome = outcomeFor(dep, 'Analytics');
  // Whether replicas split the work or stand by (the worker logs the same).
  if (outcome.state === 'Ready') outcome.message += ` Scale-out: ${scaleOutMode(def)}.`;
  return finish(ctx, AnalyticsApps, a, 'analytics', outcome, dep, undefined, { autoscaling: scale.status });
}
