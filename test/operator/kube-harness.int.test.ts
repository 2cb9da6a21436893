import { startControlPlane, CRD_FILES, markPodsReady, until, type ControlPlane } from '../harness/kube.js';
import { Deployments, Pods } from '../../operator/kube/resources.js';

let cp: ControlPlane;
beforeAll(async () => { cp = await startControlPlane({ crdFiles: CRD_FILES }); console.log('control plane up', cp.timings); }, 120_000);
afterAll(async () => { await cp?.stop(); });

test('deployment controller creates pods; marking them ready makes the deployment available', async () => {
  const ns = await cp.namespace();
  await cp.client.apply(Deployments, {
    metadata: { name: 'web', namespace: ns },
    spec: { replicas: 2, selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image: 'nginx' }] } } },
  });
  await until('pods', async () => (await cp.client.list(Pods, ns)).items.length === 2, 30_000);
  await markPodsReady(cp.client, ns, 'app=web');
  await until('available', async () => ((await cp.client.get<any>(Deployments, ns, 'web'))?.status?.availableReplicas ?? 0) === 2, 30_000);
});
