// Wires the controllers: informers (caches warm on every replica), one work
// queue per kind, event handlers mapping child changes to owner keys, periodic
// resync, and Lease leader election gating the workers.
import os from 'node:os';
import crypto from 'node:crypto';
import { KubeConfig } from '@kubernetes/client-node';
import { KubeClient, isNotFound, type KubeObject } from './kube/client.js';
import { Informer, keyOf } from './kube/informer.js';
import { LeaderElector } from './kube/leader.js';
import { WorkQueue } from './kube/workqueue.js';
import {
  AnalyticsApps, ConfigMaps, DataStreams, DeliveryStreams, Deployments, PodDisruptionBudgetsV1, PodDisruptionBudgetsV1beta1, Services,
} from './kube/resources.js';
import { MANAGED_BY, sharedEndpointIn, type OperatorSettings } from './model/common.js';
import { EventRecorder } from './status/events.js';
import { connectStreamStore, StoreNotReadyError, type StreamStore } from './store/streamStore.js';
import { reconcileDataStream, pdbType } from './reconcile/datastream.js';
import { reconcileAnalyticsApp, reconcileDeliveryStream } from './reconcile/workers.js';
import { reconcileApiWorkers } from './reconcile/apiWorkers.js';
import { API_DEFINITION_LABEL, API_SOURCE_STREAM_ANNOTATION } from './model/apiWorkers.js';
import { streamNameOf } from './model/datastream.js';
import { workerDataStreamRefs } from './model/workers.js';
import type { ApiWorkerSettings, Caches, Context, Result } from './reconcile/context.js';
import { OperatorMetrics, startHealthServer } from './health.js';
import { WorkerLagSampler } from './workerScaling/sampler.js';
import { createLogger } from '../common/log.js';

export interface OperatorOptions {
  kubeConfig: KubeConfig;
  natsUrl: string;
  /** NATS credentials and TLS for the operator's own connection (common/natsAuth.ts). */
  natsConnectOptions?: Partial<import('nats').ConnectionOptions>;
  /** Secret mounted into runtime and worker pods for their NATS credentials (model/common.ts). */
  natsAuthSecret?: string;
  image: string;
  imagePullPolicy?: string;
  /** URL of the install's shared runtime Service (default http://shardline.shardline-system.svc:4567). */
  sharedEndpoint?: string;
  /** Replicas of the store's metadata KV buckets (default 1; 3 on a 3-server NATS). */
  storeReplicas?: number;
  leaderElection?: { namespace: string; name?: string; leaseDurationSeconds?: number; renewDeadlineMs?: number; retryPeriodMs?: number } | false;
  identity?: string;
  resyncMs?: number;
  workers?: number;
  recheckMs?: number;
  /** Port for /healthz, /readyz and /metrics; unset: no server. */
  healthPort?: number;
  /** How often the lag of autoscaled workers' consumer groups is sampled (default 2 s); autoscaled resources are looked at again 2.5× as often as that. */
  workerLagSampleMs?: number;
  /**
   * Run workers for delivery streams and applications created through the Firehose and Kinesis
   * Analytics APIs, in this namespace (the operator's); unset: nothing runs them (logged once).
   */
  apiWorkers?: ApiWorkerSettings;
  /** Injected store (tests); default: the runtime's JetStream store at natsUrl. */
  store?: StreamStore;
  log?: (m: string) => void;
}

export interface OperatorHandle {
  client: KubeClient;
  caches: Caches;
  isLeader(): boolean;
  metrics: OperatorMetrics;
  /** Resolves when every primary cache has listed once. */
  synced: Promise<void>;
  stop(): Promise<void>;
}

async function detectPdbApiVersion(client: KubeClient): Promise<string> {
  try {
    await client.request({ method: 'GET', path: '/apis/policy/v1' });
    return PodDisruptionBudgetsV1.apiVersion;
  } catch (e) {
    if (isNotFound(e)) return PodDisruptionBudgetsV1beta1.apiVersion;
    throw e;
  }
}

/** How long a reconcile waits for a store still connecting before it reports StoreUnavailable and backs off. */
const STORE_WAIT_MS = 2_000;

/**
 * The stream store, connected once and shared. The connection waits for NATS
 * and JetStream with progress in the log (a nats-server restoring 10,000
 * shard streams does not listen for about a minute); a reconcile that needs
 * the store meanwhile waits briefly, then fails with StoreNotReadyError (its
 * object shows Ready=False, StoreUnavailable, and is retried) instead of
 * holding a worker. A real failure (TLS or credentials refused) ends the
 * wait; the next reconcile tries again.
 */
function storeConnection(opts: OperatorOptions, log: (m: string) => void): { get: () => Promise<StreamStore>; close: () => Promise<void> } {
  if (opts.store) {
    const ready = Promise.resolve(opts.store);
    return { get: () => ready, close: () => opts.store!.close().catch(() => undefined) };
  }
  let pending: Promise<StreamStore> | undefined;
  let connected: StreamStore | undefined;
  let closed = false;
  let since = 0;
  let lastProgress = '';
  const get = () => {
    if (closed) return Promise.reject(new Error('operator stopping'));
    if (connected) return Promise.resolve(connected);
    if (!pending) {
      since = Date.now();
      lastProgress = '';
      log(`stream store: connecting to NATS at ${opts.natsUrl}`);
      pending = connectStreamStore(opts.natsUrl, opts.storeReplicas, opts.natsConnectOptions, (m) => {
        lastProgress = m;
        log(`stream store: ${m}`);
      }).then(
        (s) => {
          if (closed) {
            void s.close().catch(() => undefined);
            throw new Error('operator stopping');
          }
          connected = s;
          log(`stream store: connected to NATS and JetStream after ${Math.round((Date.now() - since) / 100) / 10} s`);
          return s;
        },
        (e) => {
          pending = undefined;
          log(`stream store: giving up on this connection attempt: ${(e as Error)?.message ?? e}`);
          throw e;
        },
      );
      pending.catch(() => undefined);
    }
    const p = pending;
    return new Promise<StreamStore>((resolve, reject) => {
      const t = setTimeout(() => reject(new StoreNotReadyError(opts.natsUrl, Date.now() - since, lastProgress)), STORE_WAIT_MS);
      p.then((s) => (clearTimeout(t), resolve(s)), (e) => (clearTimeout(t), reject(e)));
    });
  };
  return {
    get,
    // A connection still waiting for NATS is not waited for: it closes itself if it ever connects.
    close: async () => {
      closed = true;
      await connected?.close().catch(() => undefined);
    },
  };
}

export async function startOperator(opts: OperatorOptions): Promise<OperatorHandle> {
  const log = opts.log ?? ((m: string) => createLogger('operator').info(m));
  const client = new KubeClient(opts.kubeConfig);
  // A separate client for the Lease, so its renewals are not counted as reconcile writes.
  const leaseClient = new KubeClient(opts.kubeConfig);
  const settings: OperatorSettings = {
    image: opts.image, natsUrl: opts.natsUrl, natsAuthSecret: opts.natsAuthSecret, imagePullPolicy: opts.imagePullPolicy, storeReplicas: opts.storeReplicas,
    pdbApiVersion: await detectPdbApiVersion(client),
    sharedEndpoint: opts.sharedEndpoint ?? sharedEndpointIn('shardline-system'),
  };
  const managed = { labelSelector: `app.kubernetes.io/managed-by=${MANAGED_BY}`, log };
  const caches: Caches = {
    dataStreams: new Informer(client, DataStreams, { log }) as Caches['dataStreams'],
    deliveryStreams: new Informer(client, DeliveryStreams, { log }) as Caches['deliveryStreams'],
    analyticsApps: new Informer(client, AnalyticsApps, { log }) as Caches['analyticsApps'],
    deployments: new Informer(client, Deployments, managed),
    services: new Informer(client, Services, managed),
    configMaps: new Informer(client, ConfigMaps, managed),
    pdbs: new Informer(client, pdbType(settings), managed),
  };

  const storeConn = storeConnection(opts, log);
  const store = storeConn.get;
  const sampleMs = opts.workerLagSampleMs ?? 2000;
  // A lease the consumer library renews every failover/3 (10 s / 3 for the workers) is stale after missing a few renewals.
  const workerLag = new WorkerLagSampler(async (g) => {
    const st = await store();
    if (!st.consumerLag) throw new Error('the stream store cannot read consumer leases');
    return st.consumerLag(g);
  }, { intervalMs: sampleMs, staleMs: Math.max(15_000, 3 * sampleMs), log });
  const ctx: Context = {
    client, caches, store, settings, events: new EventRecorder(client, log), log, recheckMs: opts.recheckMs ?? 15_000,
    workerLag, workerScaleIntervalMs: Math.round(sampleMs * 2.5), apiWorkers: opts.apiWorkers,
  };
  if (!opts.apiWorkers) log('workers for API-created delivery streams and applications: off (no operator namespace)');

  const workers = opts.workers ?? 4;
  const metrics = new OperatorMetrics();
  const queue = (kind: string, fn: (c: Context, k: string) => Promise<Result>) => new WorkQueue(async (k) => {
    const end = metrics.duration.startTimer({ kind });
    try {
      const r = await fn(ctx, k);
      metrics.reconciles.inc({ kind, result: r.requeueAfterMs ? 'requeue' : 'success' });
      return r;
    } catch (e) {
      metrics.reconciles.inc({ kind, result: 'error' });
      throw e;
    } finally {
      end();
    }
  }, { workers }, log);
  const queues = {
    DataStream: queue('DataStream', reconcileDataStream),
    DeliveryStream: queue('DeliveryStream', reconcileDeliveryStream),
    AnalyticsApp: queue('AnalyticsApp', reconcileAnalyticsApp),
    // Keys `delivery` and `analytics`: one pass over all API-created definitions of that kind.
    ApiWorkers: queue('ApiWorkers', reconcileApiWorkers),
  };

  // Primary objects: any change (spec, metadata, deletion) is a reason to look.
  caches.dataStreams.on((_ev, obj) => {
    queues.DataStream.add(keyOf(obj));
    // Dependents of a DataStream (its readiness gates theirs).
    const ns = obj.metadata.namespace;
    for (const d of caches.deliveryStreams.list(ns)) if (workerDataStreamRefs('DeliveryStream', d.spec).includes(obj.metadata.name)) queues.DeliveryStream.add(keyOf(d));
    const deliverySpec = (n: string) => caches.deliveryStreams.getByName(ns, n)?.spec;
    for (const a of caches.analyticsApps.list(ns)) if (workerDataStreamRefs('AnalyticsApp', a.spec, deliverySpec).includes(obj.metadata.name)) queues.AnalyticsApp.add(keyOf(a));
    // API-created delivery streams reading it: where their workers run and which keys they mount follow its encryption.
    if (opts.apiWorkers) queues.ApiWorkers.add('delivery');
  });
  caches.deliveryStreams.on((_ev, obj) => {
    queues.DeliveryStream.add(keyOf(obj));
    for (const a of caches.analyticsApps.list(obj.metadata.namespace)) {
      const sp = a.spec as any;
      if ([...(sp?.inputs ?? []), ...(sp?.outputs ?? [])].some((o: any) => o?.deliveryStreamRef?.name === obj.metadata.name)) queues.AnalyticsApp.add(keyOf(a));
    }
  });
  caches.analyticsApps.on((_ev, obj) => queues.AnalyticsApp.add(keyOf(obj)));
  // Children: map to the controlling owner (drift, deletion, rollout progress).
  const toOwner = (_ev: string, obj: KubeObject) => {
    const ref = obj.metadata.ownerReferences?.find((r) => r.controller && r.apiVersion === DataStreams.apiVersion);
    if (!ref) return;
    const q = queues[ref.kind as keyof typeof queues];
    q?.add(`${obj.metadata.namespace}/${ref.name}`);
  };
  for (const c of [caches.deployments, caches.services, caches.configMaps, caches.pdbs]) c.on(toOwner);
  // API workers' children have no owner: their label names the pass that keeps them (drift, deletion).
  for (const c of [caches.deployments, caches.configMaps]) {
    c.on((_ev, obj) => {
      const kind = obj.metadata.labels?.[API_DEFINITION_LABEL];
      if (kind) queues.ApiWorkers.add(kind);
    });
  }
  // A worker Deployment's roll gates the key swaps of the DataStreams its pods use (reconcile/streamKeys.ts).
  caches.deployments.on((_ev, obj) => {
    const ref = obj.metadata.ownerReferences?.find((r) => r.controller && r.apiVersion === DataStreams.apiVersion);
    const ns = obj.metadata.namespace;
    const owner = ref?.kind === 'DeliveryStream' ? caches.deliveryStreams.getByName(ns, ref.name) : ref?.kind === 'AnalyticsApp' ? caches.analyticsApps.getByName(ns, ref.name) : undefined;
    if (owner) for (const n of workerDataStreamRefs(ref!.kind as 'DeliveryStream' | 'AnalyticsApp', owner.spec, (d) => caches.deliveryStreams.getByName(ns, d)?.spec)) queues.DataStream.add(`${ns}/${n}`);
    // An API delivery worker beside the encrypted DataStream it reads (reconcile/apiWorkers.ts).
    const source = obj.metadata.labels?.[API_DEFINITION_LABEL] === 'delivery' ? obj.metadata.annotations?.[API_SOURCE_STREAM_ANNOTATION] : undefined;
    if (source) for (const ds of caches.dataStreams.list(ns)) if (streamNameOf(ds) === source) queues.DataStream.add(keyOf(ds));
  });

  // The store's autoscaler records decisions in the store: reflect them into the owning DataStream's status.
  let stopScalingWatch: (() => void) | undefined;
  // API-created definitions: watched in the store (create, delete, status), each change one pass of its kind.
  let stopApiWatch: (() => void) | undefined;
  const watchApi = () => {
    if (!opts.apiWorkers) return;
    void store().then((st) => st.watchApiDefinitions?.((kind) => queues.ApiWorkers.add(kind))).then(
      (stop) => {
        if (!stop) return;
        if (!leading || stopApiWatch) return stop();
        stopApiWatch = stop;
      },
      (e) => {
        if (!(e instanceof StoreNotReadyError)) log(`API definitions watch: ${(e as Error).message}; retrying`);
        setTimeout(() => { if (leading && !stopApiWatch) watchApi(); }, 2_000).unref?.();
      },
    );
  };
  const watchScaling = () => void store().then((st) => st.watchScaling((stream) => {
    for (const k of caches.dataStreams.keys()) {
      const ds = caches.dataStreams.get(k);
      if (ds && ((ds.status as any)?.streamName ?? (ds.spec as any)?.streamName ?? ds.metadata.name) === stream) queues.DataStream.add(k);
    }
  })).then(
    (stop) => {
      if (!leading || stopScalingWatch) return stop(); // leadership lost meanwhile, or a watch already running
      stopScalingWatch = stop;
    },
    (e) => {
      // The store may still be waiting for NATS (its progress is logged): try again until it is up.
      if (!(e instanceof StoreNotReadyError)) log(`autoscaler watch: ${(e as Error).message}; retrying`);
      setTimeout(() => { if (leading && !stopScalingWatch) watchScaling(); }, 2_000).unref?.();
    },
  );

  const all = Object.values(caches) as Informer[];
  all.forEach((i) => i.start());
  let isSynced = false;
  const synced = Promise.all(all.map((i) => i.synced)).then(() => { isSynced = true; });

  // Resync: periodically re-reconcile everything (level-triggered safety net).
  let resyncTimer: NodeJS.Timeout | undefined;
  let leading = false;
  const startWorkers = async () => {
    await synced;
    leading = true;
    Object.values(queues).forEach((q) => q.start());
    const enqueueAll = () => {
      caches.dataStreams.keys().forEach((k) => queues.DataStream.add(k));
      caches.deliveryStreams.keys().forEach((k) => queues.DeliveryStream.add(k));
      caches.analyticsApps.keys().forEach((k) => queues.AnalyticsApp.add(k));
      if (opts.apiWorkers) { queues.ApiWorkers.add('delivery'); queues.ApiWorkers.add('analytics'); }
    };
    enqueueAll();
    watchScaling();
    watchApi();
    workerLag.start();
    resyncTimer = setInterval(enqueueAll, opts.resyncMs ?? 10 * 60_000);
    resyncTimer.unref?.();
  };
  let stopping = false;
  const stopWorkers = async () => {
    leading = false;
    if (resyncTimer) clearInterval(resyncTimer);
    stopScalingWatch?.();
    stopScalingWatch = undefined;
    stopApiWatch?.();
    stopApiWatch = undefined;
    await workerLag.stop();
    await Promise.all(Object.values(queues).map((q) => q.stop()));
  };

  const identity = opts.identity ?? `${os.hostname()}-${crypto.randomBytes(4).toString('hex')}`;
  let elector: LeaderElector | undefined;
  if (opts.leaderElection) {
    const le = opts.leaderElection;
    elector = new LeaderElector(leaseClient, {
      namespace: le.namespace, name: le.name ?? 'shardline-operator', identity,
      leaseDurationSeconds: le.leaseDurationSeconds, renewDeadlineMs: le.renewDeadlineMs, retryPeriodMs: le.retryPeriodMs,
      onStartedLeading: () => { void startWorkers(); },
      onStoppedLeading: async () => {
        await stopWorkers();
        // Like client-go: a replica that lost the lease exits and restarts clean.
        if (!stopping) { log('lost leadership: exiting'); process.exit(1); }
      },
      log,
    });
    elector.start();
    try {
      await elector.firstAttempt;
    } catch (e) {
      await Promise.all(all.map((i) => i.stop()));
      throw e;
    }
  } else {
    void startWorkers();
  }

  const health = opts.healthPort !== undefined
    ? await startHealthServer(opts.healthPort, { ready: () => isSynced, writes: () => client.writes.total, leader: () => leading }, metrics)
    : undefined;

  return {
    client, caches, synced, metrics,
    isLeader: () => leading,
    async stop() {
      stopping = true;
      health?.close();
      if (elector) await elector.stop();
      await stopWorkers();
      await Promise.all(all.map((i) => i.stop()));
      await storeConn.close();
    },
  };
}
