// config/ renders with kustomize into the full install (skipped without kubectl).
import { execFileSync } from 'node:child_process';
import { parseAllDocuments } from 'yaml';

let kubectl = true;
try { execFileSync('kubectl', ['version', '--client'], { stdio: 'ignore' }); } catch { kubectl = false; }
const maybe = kubectl ? test : test.skip;

maybe('kubectl kustomize config/default: CRDs, RBAC, operator, 3-server NATS, one namespace', () => {
  const out = execFileSync('kubectl', ['kustomize', 'config/default'], { encoding: 'utf8' });
  const docs = parseAllDocuments(out).map((d) => d.toJSON());
  const byKind = (k: string) => docs.filter((d) => d.kind === k);
  expect(byKind('CustomResourceDefinition').map((d) => d.metadata.name).sort()).toEqual(
    ['analyticsapps.shardline.dev', 'datastreams.shardline.dev', 'deliverystreams.shardline.dev']);
  for (const d of docs.filter((x) => !['CustomResourceDefinition', 'Namespace', 'ClusterRole', 'ClusterRoleBinding'].includes(x.kind))) {
    expect(d.metadata.namespace).toBe('shardline-system');
  }
  const op = byKind('Deployment').find((d) => d.metadata.name === 'shardline-operator');
  expect(op.spec.template.spec.serviceAccountName).toBe('shardline-operator');
  expect(op.spec.template.spec.containers[0].args).toEqual(['operator']);
  const crb = byKind('ClusterRoleBinding')[0];
  expect(crb.subjects).toEqual([{ kind: 'ServiceAccount', name: 'shardline-operator', namespace: 'shardline-system' }]);
  const nats = byKind('StatefulSet')[0];
  expect(nats.spec.replicas).toBe(3);
  expect(nats.spec.volumeClaimTemplates[0].spec.resources.requests.storage).toBeDefined();
  const conf = byKind('ConfigMap').find((d) => d.metadata.name === 'nats-config').data['nats.conf'];
  expect(conf).toMatch(/jetstream/);
  expect(conf.match(/nats:\/\/nats-\d\.nats-cluster/g)).toHaveLength(3);
  // Least privilege: no wildcards; delete only for children no owner reference cleans up
  // (a stream moving to the shared endpoint, an API-created definition deleted); Secrets read one at a time.
  const rules = byKind('ClusterRole')[0].rules;
  for (const r of rules) {
    expect(r.verbs).not.toContain('*');
    // configmaps: the workers of an API-created definition (no owner for the GC) go with it.
    if (r.verbs.includes('delete')) expect(['deployments', 'services', 'poddisruptionbudgets', 'configmaps']).toEqual(expect.arrayContaining(r.resources));
    expect(r.resources).not.toContain('*');
  }
  expect(rules.find((r: any) => r.resources.includes('secrets')).verbs).toEqual(['get']);
});
