// A tiny kubelet for operator tests that run a pod's process for real: what a
// kubelet would give the container (its Secret-backed key files, its resolved
// environment) read from the Pod the controller-manager created, and the
// status patch that makes the pod Running and Ready.
import type { KubeClient } from '../../operator/kube/client.js';
import { Pods, Secrets } from '../../operator/kube/resources.js';

/** The files a kubelet would put into the pod's kms-keys volume (a Secret or projected Secrets; optional ones may be absent). */
export async function podKeyFiles(client: KubeClient, ns: string, pod: any): Promise<Record<string, string>> {
  const vol = pod.spec.volumes?.find((v: any) => v.name.startsWith('kms-keys'));
  if (!vol) return {};
  const sources = vol.secret ? [{ name: vol.secret.secretName, items: vol.secret.items, optional: vol.secret.optional }]
    : vol.projected.sources.map((s: any) => s.secret);
  const out: Record<string, string> = {};
  for (const s of sources) {
    const secret = await client.get<any>(Secrets, ns, s.name);
    if (!secret) {
      if (s.optional) continue;
      throw new Error(`pod ${pod.metadata.name} would not start: Secret ${s.name} missing`);
    }
    for (const it of s.items) out[it.path] = Buffer.from(secret.data[it.key], 'base64').toString();
  }
  return out;
}

/** The container's environment as the kubelet resolves it: values, and Secret keys (valueFrom.secretKeyRef). */
export async function podEnv(client: KubeClient, ns: string, container: any): Promise<Record<string, string>> {
  const env: Record<string, string> = {};
  for (const e of container.env ?? []) {
    if (e.value !== undefined) { env[e.name] = e.value; continue; }
    const ref = e.valueFrom?.secretKeyRef;
    if (!ref) throw new Error(`env ${e.name}: only value and secretKeyRef are resolved here`);
    const secret = await client.get<any>(Secrets, ns, ref.name);
    if (!secret?.data?.[ref.key]) throw new Error(`env ${e.name}: Secret ${ref.name} has no key ${ref.key}`);
    env[e.name] = Buffer.from(secret.data[ref.key], 'base64').toString();
  }
  return env;
}

/** Marks one pod Running and Ready (its process is up). */
export async function markPodReady(client: KubeClient, ns: string, name: string): Promise<void> {
  const now = new Date().toISOString();
  await client.patch(Pods, ns, name, {
    status: { phase: 'Running', conditions: ['PodScheduled', 'Initialized', 'ContainersReady', 'Ready'].map((type) => ({ type, status: 'True', lastTransitionTime: now })) },
  }, 'status');
}
