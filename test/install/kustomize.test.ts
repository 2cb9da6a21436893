// The kustomize base re-namespaced and re-imaged by a plain overlay
// (`namespace:`, `images:`), rendered by the real kustomize in kubectl: every
// reference follows, the RBAC subjects, the NATS URL the operator derives and
// the image it runs (which is the image it gives the pods it creates).
import { find, renderKustomize, writeOverlay, type Doc } from '../harness/kustomize.js';

const NS = 'streaming-prod';
const IMAGE = 'registry.example.com/platform/shardline';
const TAG = '9.8.7';
let docs: Doc[];
let base: Doc[];

beforeAll(() => {
  const ov = writeOverlay({
    namespace: NS,
    resources: ['config/default'],
    images: [{ name: 'shardline', newName: IMAGE, newTag: TAG }],
  });
  try { docs = renderKustomize(ov.dir); } finally { ov.remove(); }
  base = renderKustomize('config/default');
});

const CLUSTER_SCOPED = new Set(['Namespace', 'CustomResourceDefinition', 'ClusterRole', 'ClusterRoleBinding']);

/** The kubelet's $(VAR) expansion of env values from earlier entries (fieldRefs resolved for this pod). */
function expandEnv(env: any[], pod: { name: string; namespace: string }): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of env) {
    if (e.valueFrom?.fieldRef) out[e.name] = e.valueFrom.fieldRef.fieldPath === 'metadata.namespace' ? pod.namespace : e.valueFrom.fieldRef.fieldPath === 'metadata.name' ? pod.name : '?';
    else if (e.value !== undefined) out[e.name] = String(e.value).replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (m, v) => (v in out ? out[v]! : m));
  }
  return out;
}

test('every namespaced object moves to the overlay namespace; nothing names the base namespace any more', () => {
  for (const d of docs) {
    if (CLUSTER_SCOPED.has(d.kind)) expect(d.metadata.namespace).toBeUndefined();
    else expect(`${d.kind}/${d.metadata.name} in ${d.metadata.namespace}`).toBe(`${d.kind}/${d.metadata.name} in ${NS}`);
  }
  // The base namespace only survives as the name of... nothing: no string anywhere carries it.
  const text = JSON.stringify(docs.filter((d) => d.kind !== 'CustomResourceDefinition'));
  expect(text).not.toContain('shardline-system');
  expect(find(docs, 'Namespace', NS)).toBeDefined();
});

test('RBAC subjects follow the ServiceAccount into the new namespace', () => {
  const sa = find(docs, 'ServiceAccount', 'shardline-operator');
  const bindings = docs.filter((d) => d.kind === 'RoleBinding' || d.kind === 'ClusterRoleBinding');
  expect(bindings.length).toBeGreaterThanOrEqual(2);
  for (const b of bindings) {
    for (const s of b.subjects) expect(s).toEqual({ kind: 'ServiceAccount', name: sa.metadata.name, namespace: NS });
    const role = find(docs, b.roleRef.kind, b.roleRef.name);
    if (b.kind === 'RoleBinding') expect(role.metadata.namespace).toBe(b.metadata.namespace);
  }
  const dep = find(docs, 'Deployment', 'shardline-operator');
  expect(dep.spec.template.spec.serviceAccountName).toBe(sa.metadata.name);
});

test.each(['shardline-operator', 'shardline-runtime'])('the NATS URL %s uses (and the operator hands to pods) names the NATS Service in the new namespace', (name) => {
  const dep = find(docs, 'Deployment', name);
  const c = dep.spec.template.spec.containers[0];
  const env = expandEnv(c.env, { name: `${name}-abc`, namespace: dep.metadata.namespace! });
  const url = new URL(env.SHARDLINE_NATS_URL!);
  const [svcName, svcNs, svc] = url.hostname.split('.');
  expect(svc).toBe('svc');
  expect(svcNs).toBe(NS);
  const natsSvc = find(docs, 'Service', svcName!);
  expect(natsSvc.metadata.namespace).toBe(NS);
  expect(natsSvc.spec.ports.map((p: any) => p.port)).toContain(Number(url.port));
  // It selects the NATS StatefulSet's pods.
  const sts = find(docs, 'StatefulSet', 'nats');
  for (const [k, v] of Object.entries(natsSvc.spec.selector)) expect(sts.spec.template.metadata.labels[k]).toBe(v);
});

test('the overlay image is the operator image, and no other copy of the old image remains', () => {
  const dep = find(docs, 'Deployment', 'shardline-operator');
  const c = dep.spec.template.spec.containers.find((x: any) => x.name === 'operator');
  expect(c.image).toBe(`${IMAGE}:${TAG}`);
  // The operator gives pods its own image (operator/kube/self.ts), so no env var may pin another.
  expect(c.env.find((e: any) => e.name === 'SHARDLINE_IMAGE')).toBeUndefined();
  expect(find(docs, 'Deployment', 'shardline-runtime').spec.template.spec.containers[0].image).toBe(`${IMAGE}:${TAG}`);
  const baseImage = find(base, 'Deployment', 'shardline-operator').spec.template.spec.containers[0].image;
  expect(JSON.stringify(docs)).not.toContain(baseImage);
  // It may read its own Pod for that: get pods in its namespace, bound to its ServiceAccount.
  const roles = docs.filter((d) => d.kind === 'Role');
  expect(roles.some((r) => r.metadata.namespace === NS && r.rules.some((x: any) => x.resources.includes('pods') && x.verbs.includes('get')))).toBe(true);
});

test('the base renders in shardline-system with the same structure', () => {
  expect(base.map((d) => `${d.kind}/${d.metadata.name}`).sort()).toEqual(docs.map((d) => `${d.kind}/${d.metadata.name === NS ? 'shardline-system' : d.metadata.name}`).sort());
  for (const d of base) if (!CLUSTER_SCOPED.has(d.kind)) expect(d.metadata.namespace).toBe('shardline-system');
});
