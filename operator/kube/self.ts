// Where the operator runs: its namespace (the Lease's, and the default NATS
// URL's) and the image of its own container, which is the image it gives the
// pods it creates. Reading them from the environment rather than from flags
// baked into the manifests is what lets a kustomize overlay's `namespace:` and
// `images:` reach everything.
import type { KubeConfig } from '@kubernetes/client-node';
import type { KubeClient } from './client.js';
import { Pods } from './resources.js';

/**
 * The namespace the operator belongs to: an explicit flag, the pod's own
 * (POD_NAMESPACE from the downward API), else the kubeconfig context's
 * (out of cluster), else the service account's (in cluster).
 */
export function operatorNamespace(kc: KubeConfig, explicit?: string, podNamespace?: string): string | undefined {
  if (explicit) return explicit;
  if (podNamespace) return podNamespace;
  const ctx = kc.getContextObject(kc.getCurrentContext());
  return ctx?.namespace || undefined;
}

/** The image of the named container (else the first) of this Pod; undefined when the Pod cannot be read. */
export async function ownImage(client: KubeClient, namespace: string, podName: string, container = 'operator'): Promise<string | undefined> {
  const pod = await client.get<any>(Pods, namespace, podName);
  const containers: { name: string; image: string }[] = pod?.spec?.containers ?? [];
  return (containers.find((c) => c.name === container) ?? containers[0])?.image;
}
