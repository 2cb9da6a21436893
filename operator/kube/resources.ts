// The API resources the operator touches, with their REST paths. A static table
// (no discovery round-trips) except PodDisruptionBudget, whose version depends on
// the cluster (policy/v1 from 1.21, policy/v1beta1 before).
import { API_VERSION } from '../../crds/schema/common.js';

export interface ResourceType {
  apiVersion: string;
  kind: string;
  plural: string;
  namespaced: boolean;
}

const rt = (apiVersion: string, kind: string, plural: string, namespaced = true): ResourceType => ({ apiVersion, kind, plural, namespaced });

export const DataStreams = rt(API_VERSION, 'DataStream', 'datastreams');
export const DeliveryStreams = rt(API_VERSION, 'DeliveryStream', 'deliverystreams');
export const AnalyticsApps = rt(API_VERSION, 'AnalyticsApp', 'analyticsapps');
export const Deployments = rt('apps/v1', 'Deployment', 'deployments');
export const Services = rt('v1', 'Service', 'services');
export const ConfigMaps = rt('v1', 'ConfigMap', 'configmaps');
export const Secrets = rt('v1', 'Secret', 'secrets');
export const Pods = rt('v1', 'Pod', 'pods');
export const Namespaces = rt('v1', 'Namespace', 'namespaces', false);
export const Events = rt('v1', 'Event', 'events');
export const Leases = rt('coordination.k8s.io/v1', 'Lease', 'leases');
export const CustomResourceDefinitions = rt('apiextensions.k8s.io/v1', 'CustomResourceDefinition', 'customresourcedefinitions', false);
export const PodDisruptionBudgetsV1 = rt('policy/v1', 'PodDisruptionBudget', 'poddisruptionbudgets');
export const PodDisruptionBudgetsV1beta1 = rt('policy/v1beta1', 'PodDisruptionBudget', 'poddisruptionbudgets');

/** /api/v1/namespaces/ns/pods/name or /apis/apps/v1/... */
export function resourcePath(t: ResourceType, namespace?: string, name?: string, subresource?: string): string {
  const base = t.apiVersion.includes('/') ? `/apis/${t.apiVersion}` : `/api/${t.apiVersion}`;
  let p = base;
  if (t.namespaced && namespace) p += `/namespaces/${encodeURIComponent(namespace)}`;
  p += `/${t.plural}`;
  if (name) p += `/${encodeURIComponent(name)}`;
  if (subresource) p += `/${subresource}`;
  return p;
}
