// The keys of an encrypted DataStream that pods mount during and after a key
// swap: one key set (model/datastream.ts streamKeyRefs) for its runtime pods
// and for the delivery and analytics workers that read or write it, and the
// gate that lets the stream record name a new key only once all of them hold it.
import { Secrets } from '../kube/resources.js';
import { analyticsName, deliveryName, workerDataStreamRefs } from '../model/workers.js';
import { API_DEFINITION_LABEL, API_SOURCE_STREAM_ANNOTATION } from '../model/apiWorkers.js';
import { desiredEncryption, encryptionSecretProblem, mountedKeyRefs, runtimeName, streamKeyRefs, streamNameOf, type KeyRef, type MountedKeyRef } from '../model/datastream.js';
import { readyCondition } from '../status/conditions.js';
import type { StreamRecord } from '../store/streamStore.js';
import type { DataStream, DataStreamSpec } from '../../crds/schema/datastream.js';
import type { Context } from './context.js';

/**
 * During a key swap (spec.encryption names another Secret than the key the
 * stream record names), the key Secret item the record names, which the
 * stream's pods keep mounting beside the new one. The sequence, each step
 * level-triggered from the record and the Deployments:
 *   1. runtime pods, then worker pods, roll to hold both keys; the record
 *      still names the old one, which every pod, old or rolled, holds;
 *   2. once the runtime Deployment and every worker Deployment of the stream
 *      are fully rolled out (workersWithoutKey), the record names the new key
 *      (reconcile/datastream.ts startEncryption), which every pod now holds;
 *   3. the record no longer names the old key, so it leaves the templates and
 *      the pods roll to the new key only; records sealed under the old key are
 *      read through the kept copies (keyHistory, stream/storeKeys.ts).
 * So at every moment each pod that writes holds the key the record names,
 * and each pod that reads holds a key of the stream, whatever the number of
 * pods and however the rolls interleave. The alternative, writers falling
 * back to a history key they hold, would have old pods seal with a retired
 * key after the switch, and make every pod read the other generation's
 * records through kept copies written moments before.
 * The ref comes from the runtime Deployment's current kms-keys volume (exact,
 * also for hashed ids): only a key the runtime pods mount now is kept, never
 * a Secret a StartStreamEncryption caller names. Undefined when its Secret is
 * gone (pods without the key then refuse writes until step 2, as before).
 */
export async function previousKeyRef(ctx: Context, ds: DataStream, spec: DataStreamSpec, record: StreamRecord | undefined): Promise<KeyRef | undefined> {
  const want = desiredEncryption(spec);
  if (!record || want.type !== 'KMS' || record.encryption.type !== 'KMS' || record.encryption.keyId === undefined) return undefined;
  const id = record.encryption.keyId;
  if (id === want.keyId) return undefined;
  const mounted = mountedKeyRefs(ctx.caches.deployments.getByName(ds.metadata.namespace, runtimeName(ds))).find((r) => r.id === id);
  if (!mounted) return undefined;
  const ref = { name: mounted.name, key: mounted.key };
  const secret = await ctx.client.get(Secrets, ds.metadata.namespace, ref.name);
  return secret && !encryptionSecretProblem((secret as any).data, ref) ? ref : undefined;
}

/** The key items a worker pod mounts for DataStream `ds` (validated `spec`): the same set as the stream's runtime pods. */
export async function workerKeyRefs(ctx: Context, ds: DataStream, spec: DataStreamSpec): Promise<MountedKeyRef[]> {
  if (!spec.encryption) return [];
  const record = await (await ctx.store()).get(streamNameOf(ds));
  return streamKeyRefs(spec, await previousKeyRef(ctx, ds, spec, record));
}

/**
 * The worker Deployments (by their resource) that read or write DataStream
 * `ds`, and those of API-created delivery streams reading it (they run in
 * its namespace when it is encrypted: reconcile/apiWorkers.ts).
 */
export function workersOf(ctx: Context, ds: DataStream): { kind: 'DeliveryStream' | 'AnalyticsApp' | 'api'; name: string; deployment: string; stalled: boolean }[] {
  const ns = ds.metadata.namespace;
  const out: ReturnType<typeof workersOf> = [];
  const stalled = (o: { status?: unknown }) => (o.status as any)?.conditions?.some((c: any) => c.type === 'Stalled' && c.status === 'True') ?? false;
  for (const d of ctx.caches.deliveryStreams.list(ns)) {
    if (!d.metadata.deletionTimestamp && workerDataStreamRefs('DeliveryStream', d.spec).includes(ds.metadata.name)) out.push({ kind: 'DeliveryStream', name: d.metadata.name, deployment: deliveryName(d), stalled: stalled(d) });
  }
  for (const a of ctx.caches.analyticsApps.list(ns)) {
    if (!a.metadata.deletionTimestamp && workerDataStreamRefs('AnalyticsApp', a.spec, (n) => ctx.caches.deliveryStreams.getByName(ns, n)?.spec).includes(ds.metadata.name)) out.push({ kind: 'AnalyticsApp', name: a.metadata.name, deployment: analyticsName(a), stalled: stalled(a) });
  }
  // No resource, so never Stalled: the Deployment's own roll is what is waited for.
  for (const d of ctx.caches.deployments.list(ns)) {
    if (d.metadata.labels?.[API_DEFINITION_LABEL] === 'delivery' && d.metadata.annotations?.[API_SOURCE_STREAM_ANNOTATION] === streamNameOf(ds)) {
      out.push({ kind: 'api', name: d.metadata.name, deployment: d.metadata.name, stalled: false });
    }
  }
  return out;
}

/** A Deployment whose current template every pod runs (no pod of an earlier template is left). */
function rolledOut(dep: any): boolean {
  const st = dep.status ?? {};
  const want = dep.spec?.replicas ?? 1;
  return (st.observedGeneration ?? 0) >= (dep.metadata.generation ?? 0) && (st.updatedReplicas ?? 0) >= want && (st.replicas ?? 0) <= want;
}

/**
 * Step 2's gate for the workers: the names of the worker Deployments of `ds`
 * whose pods do not all hold key `keyId` yet (template without it, or a roll
 * not finished). A worker resource without a Deployment has no pods to wait
 * for; a Stalled one (its reconcile cannot update its Deployment until its
 * user acts) would hold the swap forever, so it is not waited for: its pods,
 * holding the old key, read the new key's records through the kept copies
 * (the old id is then in keyHistory). Analytics workers also seal their
 * emits with the key the record names (analytics/worker/emitter.ts), so a
 * worker pod without the new key would hold its rows until it has it.
 */
export function workersWithoutKey(ctx: Context, ds: DataStream, keyId: string): string[] {
  const waiting: string[] = [];
  for (const w of workersOf(ctx, ds)) {
    if (w.stalled) continue;
    const dep = ctx.caches.deployments.getByName(ds.metadata.namespace, w.deployment);
    if (!dep || dep.metadata.deletionTimestamp) continue;
    if (!mountedKeyRefs(dep).some((r) => r.id === keyId) || !rolledOut(dep)) waiting.push(w.deployment);
  }
  return waiting;
}

/** The DataStream's Ready reason while its key switch waits for worker Deployments to roll. */
export const KEY_SWAP_WAITING = 'KeySwapWaitingForWorkers';
/** Whether a dependent worker may use `ds`: Ready, or only waiting for the workers' own roll to its new key. */
export const usableByWorkers = (ds: DataStream) => {
  const c = readyCondition(ds.status?.conditions);
  return c?.status === 'True' || c?.reason === KEY_SWAP_WAITING;
};
