// ShardlineInstall synthesizes exactly what kustomize renders from the same
// manifests with an overlay of the same namespace and image (and with MinIO,
// what config/quickstart renders): one source of truth for both ways in.
import { Chart, Testing } from 'cdk8s';
import { ShardlineInstall } from '../../cdk8s/index.js';
import { renderKustomize, writeOverlay, type Doc } from '../harness/kustomize.js';

const key = (d: Doc) => `${d.kind}/${d.metadata.namespace ?? ''}/${d.metadata.name}`;
const byKey = (docs: Doc[]) => new Map(docs.map((d) => [key(d), d]));

function kustomized(base: string, namespace: string, image?: string): Doc[] {
  const [name, tag] = image ? [image.slice(0, image.lastIndexOf(':')), image.slice(image.lastIndexOf(':') + 1)] : [];
  const ov = writeOverlay({ namespace, resources: [base], ...(image ? { images: [{ name: 'shardline', newName: name, newTag: tag }] } : {}) });
  try { return renderKustomize(ov.dir); } finally { ov.remove(); }
}

test.each([
  ['config/default', 'shardline-system', undefined, false],
  ['config/default', 'streaming', 'registry.example.com/shardline:2.0.0', false],
  ['config/quickstart', 'demo', undefined, true],
] as const)('%s in %s (image %s) equals kustomize', (base, namespace, image, minio) => {
  const chart = new Chart(Testing.app(), 'install');
  const install = new ShardlineInstall(chart, 'shardline', { namespace, image, minio });
  const synthesized = byKey(Testing.synth(chart));
  const expected = byKey(kustomized(base, namespace, image));
  expect([...synthesized.keys()].sort()).toEqual([...expected.keys()].sort());
  for (const [k, d] of expected) expect({ [k]: synthesized.get(k) }).toEqual({ [k]: d });
  expect(install.endpoint).toBe(`http://shardline.${namespace}.svc:4567`);
  if (minio) expect(install.minio!.bucket('lake')).toEqual({ bucketName: 'lake', endpoint: `http://minio.${namespace}.svc:9000`, credentialsSecretName: 'minio-credentials' });
});
