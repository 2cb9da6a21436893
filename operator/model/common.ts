// Names, labels and owner references shared by every child the operator creates.
import crypto from 'node:crypto';
import type { KubeObject } from '../kube/client.js';
import { ENV } from '../../contract/env.js';
import { NATS_AUTH_DIR } from '../../contract/mounts.js';
import { RUNTIME_PORT } from '../../contract/ports.js';

export const MANAGED_BY = 'shardline-operator';
export const FINALIZER = 'shardline.dev/jetstream';

export interface OperatorSettings {
  image: string;
  natsUrl: string;
  /** apiVersion for PodDisruptionBudgets on this cluster (policy/v1 or policy/v1beta1). */
  pdbApiVersion: string;
  imagePullPolicy?: string;
  /** JetStream replicas of the store's metadata KV buckets (3 on the default 3-server NATS). */
  storeReplicas?: number;
  /** Secret with NATS credentials, mounted into runtime and worker pods (natsAuthMount). */
  natsAuthSecret?: string;
  /** The install's shared Kinesis endpoint (config/runtime: Service `shardline` in the operator's namespace). */
  sharedEndpoint: string;
}


/**
 * The NATS credentials Secret as the runtime and workers read it: mounted
 * whole (kubelet updates reach the pod) at NATS_AUTH_DIR, named by
 * SHARDLINE_NATS_AUTH_DIR (common/natsAuth.ts lists the file names).
 */
export function natsAuthMount(s: OperatorSettings): { env: unknown[]; volumes: unknown[]; mounts: unknown[] } {
  if (!s.natsAuthSecret) return { env: [], volumes: [], mounts: [] };
  return {
    env: [{ name: ENV.natsAuthDir, value: NATS_AUTH_DIR }],
    volumes: [{ name: 'nats-auth', secret: { secretName: s.natsAuthSecret } }],
    mounts: [{ name: 'nats-auth', mountPath: NATS_AUTH_DIR, readOnly: true }],
  };
}

/** The shared runtime's in-cluster URL when the operator runs in `namespace`. */
export const sharedEndpointIn = (namespace: string) => `http://shardline.${namespace}.svc:${RUNTIME_PORT}`;

export type Component = 'runtime' | 'delivery' | 'analytics';

export interface Owner {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; uid?: string };
}

/** A DNS-1035 label (Service names need it): `<name>-<suffix>`, hashed when too long. */
export function childName(owner: string, suffix: string): string {
  const full = `${owner}-${suffix}`.replace(/\./g, '-');
  if (full.length <= 63 && /^[a-z]/.test(full)) return full;
  const h = crypto.createHash('sha256').update(full).digest('hex').slice(0, 8);
  return `s-${full.slice(0, 63 - suffix.length - 12)}-${h}-${suffix}`.replace(/-+/g, '-');
}

export function selectorLabels(owner: Owner, component: Component): Record<string, string> {
  return {
    'app.kubernetes.io/name': 'shardline',
    'app.kubernetes.io/component': component,
    'app.kubernetes.io/instance': truncateLabel(owner.metadata.name),
  };
}

export function labels(owner: Owner, component: Component): Record<string, string> {
  return { ...selectorLabels(owner, component), 'app.kubernetes.io/managed-by': MANAGED_BY, 'app.kubernetes.io/part-of': 'shardline' };
}

function truncateLabel(v: string): string {
  if (v.length <= 63) return v;
  return v.slice(0, 54) + '-' + crypto.createHash('sha256').update(v).digest('hex').slice(0, 8);
}

export function ownerReference(owner: Owner) {
  return {
    apiVersion: owner.apiVersion, kind: owner.kind, name: owner.metadata.name, uid: owner.metadata.uid!,
    controller: true, blockOwnerDeletion: true,
  };
}

export function childMeta(owner: Owner, name: string, component: Component, extra: Record<string, string> = {}): KubeObject['metadata'] {
  return {
    name,
    namespace: owner.metadata.namespace,
    labels: { ...labels(owner, component), ...extra },
    ownerReferences: [ownerReference(owner)],
  };
}

/** Hardened defaults for every container we run. */
export const containerSecurity = {
  runAsNonRoot: true,
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  capabilities: { drop: ['ALL'] },
};

export const configHash = (text: string) => crypto.createHash('sha256').update(text).digest('hex').slice(0, 16);
