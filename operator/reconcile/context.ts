// Everything a reconcile step needs: the API client, the informer caches it
// reads from, the stream store, settings and the event recorder.
import type { KubeClient, KubeObject } from '../kube/client.js';
import type { Informer } from '../kube/informer.js';
import type { OperatorSettings } from '../model/common.js';
import type { EventRecorder } from '../status/events.js';
import type { StreamStore } from '../store/streamStore.js';
import type { DataStream } from '../../crds/schema/datastream.js';
import type { DeliveryStream } from '../../crds/schema/deliverystream.js';
import type { AnalyticsApp } from '../../crds/schema/analyticsapp.js';
import { ENV } from '../../contract/env.js';
import type { WorkerLagSampler } from '../workerScaling/sampler.js';

export interface Caches {
  dataStreams: Informer<DataStream & KubeObject>;
  deliveryStreams: Informer<DeliveryStream & KubeObject>;
  analyticsApps: Informer<AnalyticsApp & KubeObject>;
  deployments: Informer;
  services: Informer;
  configMaps: Informer;
  pdbs: Informer;
}

export interface Context {
  client: KubeClient;
  caches: Caches;
  /** The stream store, connected on first use; rejects while NATS is unreachable. */
  store: () => Promise<StreamStore>;
  settings: OperatorSettings;
  events: EventRecorder;
  log: (m: string) => void;
  /** How long to wait before re-checking something we do not watch (Secrets). */
  recheckMs: number;
  /** Lag of the consumer groups whose workers are autoscaled (operator/workerScaling/). */
  workerLag?: WorkerLagSampler;
  /** How often an autoscaled worker resource is looked at again (default 5 s). */
  workerScaleIntervalMs?: number;
  /** Where and how the workers of API-created definitions run (reconcile/apiWorkers.ts); unset: they are not run. */
  apiWorkers?: ApiWorkerSettings;
}

export interface ApiWorkerSettings {
  /** The operator's namespace: the children live there. */
  namespace: string;
  /** Object storage for API-created delivery streams; unset: they get no worker (logged). */
  deliveryS3?: import('../model/apiWorkers.js').ApiDeliveryS3;
  /** Lambda ARN → http(s) URL for the transforms of API-created delivery streams (--api-lambda-functions). */
  lambdaFunctions?: Record<string, string>;
  /** Lag-driven replicas of API-created delivery streams' workers (--api-delivery-autoscaling); unset: one replica. */
  deliveryAutoscaling?: import('../../crds/schema/workerAutoscaling.js').WorkerAutoscaling;
  /** Lag-driven replicas of API-created analytics applications whose plan splits shards (--api-analytics-autoscaling); unset: one replica. */
  analyticsAutoscaling?: import('../../crds/schema/workerAutoscaling.js').WorkerAutoscaling;
}

export interface Result { requeueAfterMs?: number }

/**
 * Test failpoints: SHARDLINE_FAILPOINTS=after-ensure-stream@ns/name SIGKILLs the
 * process at that step of that object's reconcile (an operator killed mid-reconcile).
 */
export function failpoint(name: string, key: string): void {
  const fps = (process.env[ENV.failpoints] ?? '').split(',');
  if (fps.includes(name) || fps.includes(`${name}@${key}`)) {
    process.stderr.write(`failpoint ${name}: SIGKILL\n`);
    process.kill(process.pid, 'SIGKILL');
  }
}

/** A Deployment whose current spec is fully rolled out and available. */
export function deploymentAvailable(dep: KubeObject | undefined): { available: boolean; ready: number; message: string } {
  if (!dep) return { available: false, ready: 0, message: 'Deployment not created yet.' };
  const st = (dep as any).status ?? {};
  const want = (dep as any).spec?.replicas ?? 1;
  const ready = st.readyReplicas ?? 0;
  const observed = (st.observedGeneration ?? 0) >= (dep.metadata.generation ?? 0);
  const availableCond = (st.conditions ?? []).find((c: any) => c.type === 'Available')?.status === 'True';
  const updated = (st.updatedReplicas ?? 0) >= want && (st.replicas ?? 0) <= want;
  const available = observed && availableCond && updated && (st.availableReplicas ?? 0) >= want;
  return { available, ready, message: `${ready}/${want} pods ready` };
}
