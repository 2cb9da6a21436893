// DataStream reconcile: read everything, then a short chain of idempotent steps
//   finalizer -> validate -> references (Secrets) -> JetStream stream -> children
//   -> encryption on (once the runtime and worker pods mount the key) -> status
// Each step can be re-run at any point (crash, restart, resync) with the same result.
import { Secrets, DataStreams, Deployments, Services, type ResourceType } from '../kube/resources.js';
import type { KubeObject } from '../kube/client.js';
import { FINALIZER, type OperatorSettings } from '../model/common.js';
import { credentialsSecretProblem, dataStreamChildren, desiredEncryption, desiredShardCount, encryptionSecretProblem, endpointOf, isDedicated, runtimeName, streamNameOf } from '../model/datastream.js';
import { KEY_SWAP_WAITING, previousKeyRef, workersWithoutKey } from './streamKeys.js';
import { autoscalingStatus, desiredAutoscaling, newDecisions, selectorOf } from '../model/autoscaling.js';
import { validateDataStream } from '../model/validate.js';
import { conditionsFor, type Outcome } from '../status/conditions.js';
import { writeStatus } from '../status/write.js';
import { failureOutcome, reportFailure } from '../status/failure.js';
import { isReshardRejection, openShardsOf, type StreamRecord, type StreamStore } from '../store/streamStore.js';
import { sameEncryption } from '../../stream/streamEncryption.js';
import type { DataStream, DataStreamSpec, DataStreamStatus } from '../../crds/schema/datastream.js';
import { ensureChildren } from './children.js';
import { deploymentAvailable, failpoint, type Context, type Result } from './context.js';

const OWNER_TAG = 'shardline.dev/owner';
const ownerOf = (ds: DataStream) => `${ds.metadata.namespace}/${ds.metadata.name}`;

export async function reconcileDataStream(ctx: Context, key: string): Promise<Result> {
  const ds = ctx.caches.dataStreams.get(key);
  if (!ds) return {}; // gone: children are garbage-collected through owner references
  if (ds.metadata.deletionTimestamp) return finalize(ctx, ds);
  try {
    return await reconcileLive(ctx, key, ds);
  } catch (e) {
    // Any step that failed shows on the object: Stalled (a refusal retrying will not fix,
    // looked at again every recheck) or Reconciling (transient: rethrown for backoff).
    const outcome = failureOutcome(e);
    await reportFailure(ctx.client, DataStreams, ds, outcome, ctx.events);
    if (outcome.state === 'Stalled') {
      ctx.log(`${key}: ${outcome.reason}: ${outcome.message}`);
      return { requeueAfterMs: ctx.recheckMs };
    }
    throw e;
  }
}

async function reconcileLive(ctx: Context, key: string, ds: DataStream & KubeObject): Promise<Result> {

  await ensureFinalizer(ctx, ds);

  const v = validateDataStream(ds);
  if (!v.ok) return stalled(ctx, ds, v.reason, v.message);
  const spec = v.spec;

  // Secrets the runtime pods mount: present, and loadable by the runtime (a bad one would crash-loop it).
  if (spec.encryption) {
    const ref = spec.encryption.keySecretRef;
    const secret = await ctx.client.get(Secrets, ds.metadata.namespace, ref.name);
    if (!secret) return stalled(ctx, ds, 'SecretNotFound', `Secret ${ref.name} (encryption key) not found.`, ctx.recheckMs);
    const p = encryptionSecretProblem((secret as any).data, ref);
    if (p) return stalled(ctx, ds, p.reason, p.message, ctx.recheckMs);
  }
  if (spec.auth) {
    const name = spec.auth.credentialsSecretRef;
    const secret = await ctx.client.get(Secrets, ds.metadata.namespace, name);
    if (!secret) return stalled(ctx, ds, 'SecretNotFound', `Secret ${name} (access keys) not found.`, ctx.recheckMs);
    const p = credentialsSecretProblem((secret as any).data, name);
    if (p) return stalled(ctx, ds, p.reason, p.message, ctx.recheckMs);
  }

  // External state first (NACK style): the JetStream streams and KV shard map.
  const sync = await syncStream(ctx, ds, spec);
  if (sync.problem && !sync.problem.reason.startsWith('Reshard')) return stalled(ctx, ds, sync.problem.reason, sync.problem.message);
  failpoint('after-ensure-stream', key);

  // A dedicated runtime is this stream's own Deployment + Service + PDB; otherwise
  // the install's shared runtime serves it and a former dedicated one goes away.
  const dedicated = isDedicated(spec);
  let dep: ReturnType<typeof deploymentAvailable>;
  if (dedicated) {
    const kids = dataStreamChildren(ds, spec, ctx.settings, await previousKeyRef(ctx, ds, spec, sync.record));
    const stored = await ensureChildren(ctx, [
      { type: Deployments, cache: ctx.caches.deployments, desired: kids.deployment },
      { type: Services, cache: ctx.caches.services, desired: kids.service },
      { type: pdbType(ctx.settings), cache: ctx.caches.pdbs, desired: kids.pdb },
    ]);
    dep = deploymentAvailable(stored.get('Deployment'));
  } else {
    await removeDedicatedRuntime(ctx, ds);
    dep = { available: true, ready: 0, message: `served by the shared endpoint ${ctx.settings.sharedEndpoint}` };
  }
  failpoint('after-children', key);

  // Encryption on (or onto another key) only once every runtime pod mounts the key, and
  // every pod of the stream's delivery and analytics workers: a pod without it would
  // refuse writes with KMSNotFoundException, and a reader could not open new records.
  const want = desiredEncryption(spec);
  const waiting = want.type === 'KMS' && !sameEncryption(sync.record.encryption, want) ? workersWithoutKey(ctx, ds, want.keyId!) : [];
  if (!sync.problem && !sync.more && dep.available && waiting.length === 0) sync.record = await startEncryption(ctx, ds, spec, sync.record);
  let outcome: Outcome;
  if (sync.problem) outcome = { state: 'Stalled', ...sync.problem };
  else if (sync.more) outcome = { state: 'Progressing', reason: 'Resharding', message: `Resharding towards ${spec.shards} shards.` };
  else if (sync.record.status !== 'ACTIVE') outcome = { state: 'Progressing', reason: 'StreamNotActive', message: `Stream is ${sync.record.status}.` };
  else if (!dep.available) outcome = { state: 'Progressing', reason: 'RuntimeNotAvailable', message: `Dedicated runtime Deployment: ${dep.message}.` };
  else if (waiting.length) outcome = { state: 'Progressing', reason: KEY_SWAP_WAITING, message: `Encryption with key ${want.keyId} waits for the worker Deployments ${waiting.join(', ')} to roll out with it.` };
  else outcome = { state: 'Ready', reason: 'StreamActive', message: `Stream ${sync.record.name} is ACTIVE with ${openShardsOf(sync.record).length} open shards; runtime ${dep.message}.` };
  const scalingState = sync.record.mode === 'ON_DEMAND' ? await (await ctx.store()).scaling(sync.record.uid) : undefined;
  const autoscaling = autoscalingStatus(scalingState);
  await emitScalingEvents(ctx, ds, autoscaling);
  await writeStatus(ctx.client, DataStreams, ds, { ...statusFor(ds, spec, ctx, sync.record, dedicated ? dep.ready : undefined, outcome), selector: selectorOf(ds), ...(autoscaling ? { autoscaling } : {}) }, ctx.events);
  // The store is not watched: look again while it is still moving.
  return sync.more || sync.record.status !== 'ACTIVE' ? { requeueAfterMs: 500 } : {};
}

export const pdbType = (s: OperatorSettings): ResourceType =>
  ({ apiVersion: s.pdbApiVersion, kind: 'PodDisruptionBudget', plural: 'poddisruptionbudgets', namespaced: true });

interface StreamSync { record: StreamRecord; problem?: { reason: string; message: string }; more?: boolean }

/** Step: the stream exists in the store with the spec's retention and shard count. */
async function syncStream(ctx: Context, ds: DataStream, spec: DataStreamSpec): Promise<StreamSync> {
  const store = await ctx.store();
  const name = streamNameOf(ds);
  const existing = await store.get(name);
  const owner = existing?.tags?.[OWNER_TAG];
  if (existing && owner && owner !== ownerOf(ds)) {
    return { record: existing, problem: { reason: 'StreamNameConflict', message: `Stream ${name} already belongs to DataStream ${owner}.` } };
  }
  if (existing && existing.replicas !== spec.replicas) {
    // A CEL rule on >= 1.25; JetStream replicas are fixed at creation here.
    return { record: existing, problem: { reason: 'ImmutableFieldChanged', message: `spec.replicas is immutable: the stream was created with ${existing.replicas} replicas.` } };
  }
  let record = existing;
  if (!record || record.status === 'CREATING') {
    // Creates, or finishes a creation a crashed operator left half done.
    record = await store.ensure({
      name, shardCount: desiredShardCount(spec), mode: spec.mode, retentionHours: spec.retentionHours,
      replicas: spec.replicas, tags: { ...spec.tags, [OWNER_TAG]: ownerOf(ds) }, autoscaling: desiredAutoscaling(spec),
    });
    if (!existing) await ctx.events.emit(ds, 'Normal', 'StreamCreated', `Created stream ${name} with ${openShardsOf(record).length} shards.`);
  }
  if (record.retentionHours !== spec.retentionHours) {
    record = await store.setRetention(name, spec.retentionHours);
    await ctx.events.emit(ds, 'Normal', 'RetentionChanged', `Retention of ${name} set to ${spec.retentionHours} hours.`);
  }
  // Bounds before the mode: a stream never is ON_DEMAND under the store-wide defaults instead of its own.
  const scaling = desiredAutoscaling(spec);
  if (JSON.stringify(record.autoscaling ?? null) !== JSON.stringify(scaling ?? null)) record = await store.setAutoscaling(name, scaling);
  if (record.mode !== spec.mode && record.status === 'ACTIVE') {
    record = await store.setMode(name, spec.mode);
    await ctx.events.emit(ds, 'Normal', 'ModeChanged', `Stream ${name} is now ${spec.mode}.`);
  }
  const tags = { ...spec.tags, [OWNER_TAG]: ownerOf(ds) };
  if (Object.entries(tags).some(([k, v]) => record!.tags?.[k] !== v)) record = await store.mergeTags(name, tags);
  if (spec.mode === 'PROVISIONED' && (record.quotaEnforcement !== false) !== spec.enforceQuotas) {
    record = await store.setQuotaEnforcement(name, spec.enforceQuotas);
  }

  if (!spec.encryption && record.encryption.type !== 'NONE' && record.status === 'ACTIVE') {
    // Off before the pods lose the key (children step): StopStreamEncryption semantics.
    record = await store.setEncryption(name, { type: 'NONE' });
    if (record.encryption.type === 'NONE') await ctx.events.emit(ds, 'Normal', 'EncryptionStopped', `Records written to ${name} from now on are stored unencrypted.`);
  }
  const consumerProblem = await syncConsumers(ctx, store, record, spec);
  if (consumerProblem) return { record, problem: consumerProblem };
  if (record.status === 'UPDATING' && store.finishReshard) record = await store.finishReshard(record);
  const open = openShardsOf(record).length;
  const want = desiredShardCount(spec, open);
  if (open !== want) {
    if (!store.updateShardCount) {
      return { record, problem: { reason: 'ReshardingUnavailable', message: `Stream has ${open} open shards, spec asks for ${want}; resharding is not available in this version. The stream keeps serving with ${open} shards.` } };
    }
    // Kinesis allows at most doubling or halving per UpdateShardCount: step there.
    const step = want > open ? Math.min(want, open * 2) : Math.max(want, Math.ceil(open / 2));
    try {
      record = await store.updateShardCount(name, step);
    } catch (e) {
      if (!isReshardRejection(e)) throw e;
      return { record, problem: { reason: 'ReshardRejected', message: `Resharding ${name} from ${open} to ${step} shards was rejected: ${e.message}` } };
    }
    await ctx.events.emit(ds, 'Normal', 'Resharded', `Resharded ${name} from ${open} to ${openShardsOf(record).length} shards.`);
    if (step !== want) return { record, more: true };
  }
  return { record };
}

/** Step (shared runtime): delete the dedicated runtime's children this DataStream owns, if any. */
async function removeDedicatedRuntime(ctx: Context, ds: DataStream & KubeObject): Promise<void> {
  const name = runtimeName(ds);
  const ns = ds.metadata.namespace;
  for (const [type, cache] of [[Deployments, ctx.caches.deployments], [Services, ctx.caches.services], [pdbType(ctx.settings), ctx.caches.pdbs]] as const) {
    const child = cache.getByName(ns, name);
    if (!child || child.metadata.deletionTimestamp) continue;
    if (!child.metadata.ownerReferences?.some((r) => r.controller && r.uid === ds.metadata.uid)) continue;
    // uid precondition: never delete a same-named object created since the cache saw it.
    await ctx.client.delete(type, ns, name, { uid: child.metadata.uid });
    await ctx.events.emit(ds, 'Normal', 'DedicatedRuntimeRemoved', `Deleted ${type.kind} ${name}: the stream is served by the shared endpoint ${ctx.settings.sharedEndpoint}.`);
  }
}

/** Step (after the runtime pods mount the key): the stream record encrypts with spec.encryption's key. */
async function startEncryption(ctx: Context, ds: DataStream, spec: DataStreamSpec, record: StreamRecord): Promise<StreamRecord> {
  const want = desiredEncryption(spec);
  if (want.type !== 'KMS' || sameEncryption(record.encryption, want) || record.status !== 'ACTIVE') return record;
  const store = await ctx.store();
  const next = await store.setEncryption(record.name, want);
  if (sameEncryption(next.encryption, want)) {
    await ctx.events.emit(ds, 'Normal', 'EncryptionStarted', `Records written to ${record.name} from now on are encrypted with key ${want.keyId}.`);
  }
  return next;
}

/** Step: registered EFO consumers match spec.consumers (only consumers the operator registered are removed). */
async function syncConsumers(ctx: Context, store: StreamStore, record: StreamRecord, spec: DataStreamSpec): Promise<{ reason: string; message: string } | undefined> {
  const live = store.liveConsumers(record);
  const wanted = new Set((spec.consumers ?? []).map((c) => c.name));
  for (const name of wanted) {
    if (live.some((c) => c.name === name)) continue;
    try {
      await store.registerConsumer(record.name, name);
    } catch (e) {
      const kind = (e as { kind?: string }).kind;
      if (kind === 'ResourceInUse') continue; // registered meanwhile, or DELETING: next pass
      if (kind === 'LimitExceeded') return { reason: 'ConsumerLimitExceeded', message: (e as Error).message };
      throw e;
    }
    ctx.log(`registered consumer ${name} on ${record.name}`);
  }
  for (const c of live) {
    if (c.managed && c.status === 'ACTIVE' && !wanted.has(c.name)) await store.deregisterConsumer(record.name, c.name);
  }
  return undefined;
}

function statusFor(ds: DataStream, spec: DataStreamSpec | undefined, ctx: Context, rec: StreamRecord | undefined, readyReplicas: number | undefined, outcome: Outcome): DataStreamStatus {
  const { readyReplicas: _stale, ...prev } = ds.status ?? {};
  const open = rec ? openShardsOf(rec) : undefined;
  return {
    ...prev,
    observedGeneration: ds.metadata.generation,
    conditions: conditionsFor(outcome, ds.metadata.generation ?? 0, prev.conditions),
    ...(rec ? {
      streamName: rec.name,
      streamStatus: rec.status,
      mode: rec.mode,
      shardCount: open!.length,
      shards: open!.slice(0, 64).map((s) => ({ shardId: s.shardId, startingHashKey: s.hashKeyRange.startingHashKey, endingHashKey: s.hashKeyRange.endingHashKey })),
      retentionHours: rec.retentionHours,
      ...(spec ? { endpoint: endpointOf(ds, spec, ctx.settings) } : {}),
    } : {}),
    ...(readyReplicas !== undefined ? { readyReplicas } : _stale !== undefined && !rec ? { readyReplicas: _stale } : {}),
  };
}

/** Step: one Event per autoscaler decision the status has not shown yet (status.autoscaling.lastDecision marks what was). */
async function emitScalingEvents(ctx: Context, ds: DataStream, next: DataStreamStatus['autoscaling']): Promise<void> {
  for (const d of newDecisions(ds.status?.autoscaling, next)) {
    const kind = d.outcome === 'applied' ? 'Normal' : 'Warning';
    const reason = d.outcome === 'applied' ? 'Autoscaled' : d.outcome === 'dry-run' ? 'AutoscaleDryRun' : 'AutoscaleFailed';
    await ctx.events.emit(ds, kind, reason, `${d.action} ${d.fromShards} → ${d.toShards} shards (${d.outcome}): ${d.reason}`);
  }
}

async function stalled(ctx: Context, ds: DataStream & KubeObject, reason: string, message: string, requeueAfterMs?: number): Promise<Result> {
  await writeStatus(ctx.client, DataStreams, ds, statusFor(ds, undefined, ctx, undefined, undefined, { state: 'Stalled', reason, message }), ctx.events);
  return requeueAfterMs ? { requeueAfterMs } : {};
}

async function ensureFinalizer(ctx: Context, ds: DataStream & KubeObject): Promise<void> {
  const f = ds.metadata.finalizers ?? [];
  if (f.includes(FINALIZER)) return;
  // resourceVersion makes this a compare-and-set: a concurrent change is a 409 and a retry.
  await ctx.client.patch(DataStreams, ds.metadata.namespace, ds.metadata.name, {
    metadata: { finalizers: [...f, FINALIZER], resourceVersion: ds.metadata.resourceVersion },
  });
}

/** Deletion: remove the JetStream data unless Retain, then release the finalizer. */
async function finalize(ctx: Context, ds: DataStream & KubeObject): Promise<Result> {
  const f = ds.metadata.finalizers ?? [];
  if (!f.includes(FINALIZER)) return {};
  const name = streamNameOf(ds);
  const retain = (ds.spec as Partial<DataStreamSpec>)?.deletionPolicy === 'Retain';
  const store = await ctx.store();
  const rec = await store.get(name);
  const owner = rec?.tags?.[OWNER_TAG];
  if (rec && (!owner || owner === ownerOf(ds))) {
    if (retain) {
      await ctx.events.emit(ds, 'Normal', 'StreamRetained', `deletionPolicy Retain: stream ${name} and its data are kept.`);
    } else {
      await store.delete(name);
      await ctx.events.emit(ds, 'Normal', 'StreamDeleted', `Deleted stream ${name} and its JetStream data.`);
    }
  }
  await ctx.client.patch(DataStreams, ds.metadata.namespace, ds.metadata.name, {
    metadata: { finalizers: f.filter((x) => x !== FINALIZER), resourceVersion: ds.metadata.resourceVersion },
  });
  return {};
}
