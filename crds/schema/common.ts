// Building blocks shared by the three shardline.dev kinds. Every field carries a
// description: it ends up in the CRD and therefore in `kubectl explain`.
import { z } from 'zod';

export const GROUP = 'shardline.dev';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;

/** A CEL rule (honoured by apiservers >= 1.25; older ones ignore it, the operator re-checks). */
export interface CelRule { rule: string; message: string }
export const cel = (...rules: CelRule[]) => ({ 'x-kubernetes-validations': rules });

/** Rejects any change once set (CEL transition rule). */
export const immutable = (what: string): CelRule => ({ rule: 'self == oldSelf', message: `${what} is immutable` });

/** Kubernetes object name (DNS-1123 subdomain). */
export const objectName = () =>
  z.string().min(1).max(253).regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/);

export const LocalObjectRef = z.object({
  name: objectName().describe('Name of the object in the same namespace.'),
});

export const SecretKeyRef = z.object({
  name: objectName().describe('Name of the Secret in the same namespace.'),
  key: z.string().min(1).max(253).default('key').describe('Key inside the Secret.'),
});

export const HttpUrl = () => z.string().min(1).max(2048).regex(/^https?:\/\/.+/);

export const Replicas = (what: string, def: number) =>
  z.number().int().min(0).max(100).default(def).describe(`Number of ${what} pods.`);

export const ConditionStatus = z.enum(['True', 'False', 'Unknown']);

export const Condition = z.object({
  type: z.string().min(1).max(316).describe('Condition type: Ready, Reconciling or Stalled (kstatus).'),
  status: ConditionStatus.describe('True, False or Unknown.'),
  reason: z.string().max(1024).describe('CamelCase reason for the last transition.'),
  message: z.string().max(32768).describe('Human-readable detail.'),
  observedGeneration: z.number().int().min(0).optional().describe('metadata.generation the condition was computed from.'),
  lastTransitionTime: z.string().describe('When the status last changed (RFC 3339).').meta({ format: 'date-time' }),
});
export type Condition = z.infer<typeof Condition>;

export const Conditions = z
  .array(Condition)
  .optional()
  .describe('Current conditions (kstatus: Ready, Reconciling, Stalled).')
  .meta({ 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['type'] });

export const ObservedGeneration = z.number().int().min(0).optional()
  .describe('metadata.generation of the spec the status describes.');

export const Tags = z.record(z.string().min(1).max(128), z.string().max(256))
  .optional()
  .describe('Tags recorded on the stream (at most 50).')
  .meta({ maxProperties: 50 });

/** Minimal object metadata the operator reads (the apiserver owns the schema). */
export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  generation?: number;
  resourceVersion?: string;
  deletionTimestamp?: string;
  finalizers?: string[];
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: OwnerReference[];
  creationTimestamp?: string;
}

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}
