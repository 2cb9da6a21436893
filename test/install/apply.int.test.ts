// The quick-start install (config/quickstart: config/default plus MinIO) as
// kustomize renders it, applied with server-side apply to the real apiserver
// of the operator tests: every object is accepted as written (schema, RBAC
// references). API versions this apiserver does not serve (policy/v1 and
// autoscaling/v2 are newer than the 1.20 test control plane) are reported and
// checked by version only; CRDs come from crds/ (identical to config/crd).
import { startControlPlane, CRD_FILES, type ControlPlane } from '../harness/kube.js';
import { renderKustomize, find } from '../harness/kustomize.js';
import { resourcePath, type ResourceType } from '../../operator/kube/resources.js';

let cp: ControlPlane;
beforeAll(async () => { cp = await startControlPlane({ crdFiles: CRD_FILES }); }, 120_000);
afterAll(async () => { await cp?.stop(); });

const PLURAL: Record<string, string> = {
  Namespace: 'namespaces', ServiceAccount: 'serviceaccounts', Role: 'roles', ClusterRole: 'clusterroles', RoleBinding: 'rolebindings',
  ClusterRoleBinding: 'clusterrolebindings', ConfigMap: 'configmaps', Service: 'services', Deployment: 'deployments', StatefulSet: 'statefulsets',
  PodDisruptionBudget: 'poddisruptionbudgets', HorizontalPodAutoscaler: 'horizontalpodautoscalers', Secret: 'secrets', PersistentVolumeClaim: 'persistentvolumeclaims',
};
const CLUSTER = new Set(['Namespace', 'ClusterRole', 'ClusterRoleBinding']);

test('every object of config/quickstart is accepted by the apiserver', async () => {
  const docs = renderKustomize('config/quickstart').filter((d) => d.kind !== 'CustomResourceDefinition');
  const served = new Map<string, boolean>();
  const isServed = async (gv: string) => {
    if (!served.has(gv)) {
      const ok = await cp.client.request({ method: 'GET', path: gv.includes('/') ? `/apis/${gv}` : `/api/${gv}` }).then(() => true, () => false);
      served.set(gv, ok);
    }
    return served.get(gv)!;
  };
  const skipped: string[] = [];
  // Namespace first, as kubectl apply orders it.
  for (const d of [...docs.filter((x) => x.kind === 'Namespace'), ...docs.filter((x) => x.kind !== 'Namespace')]) {
    const plural = PLURAL[d.kind];
    expect(`${d.kind} known`).toBe(plural ? `${d.kind} known` : `${d.kind} unknown`);
    if (!(await isServed(d.apiVersion))) { skipped.push(`${d.kind} ${d.apiVersion}`); continue; }
    const t: ResourceType = { apiVersion: d.apiVersion, kind: d.kind, plural: plural!, namespaced: !CLUSTER.has(d.kind) };
    await cp.client.request({
      method: 'PATCH', path: resourcePath(t, d.metadata.namespace, d.metadata.name),
      query: { fieldManager: 'kubectl', force: 'true' }, body: d, contentType: 'application/apply-patch+yaml',
    });
    const live = await cp.client.get<any>(t, d.metadata.namespace, d.metadata.name);
    expect(live?.metadata.uid).toBeDefined();
  }
  console.log('not served by this apiserver (checked by version only):', skipped);
  // On 1.20, exactly the newer API versions are skipped; everything else went in.
  for (const s of skipped) expect(['PodDisruptionBudget policy/v1', 'HorizontalPodAutoscaler autoscaling/v2']).toContain(s);
  // The Deployments the apiserver took reference what the install created.
  const op = await cp.client.get<any>({ apiVersion: 'apps/v1', kind: 'Deployment', plural: 'deployments', namespaced: true }, 'shardline-system', 'shardline-operator');
  expect(op.spec.template.spec.serviceAccountName).toBe(find(docs, 'ServiceAccount', 'shardline-operator').metadata.name);
}, 60_000);
