// `npx cdk8s synth` (cdk8s-cli, issue 11) in examples/cdk8s with its
// cdk8s.yaml, against the built dist/ (jest's globalSetup builds it): the CLI
// runs the app with CDK8S_OUTDIR and lists what it wrote. The files must hold
// exactly what the app synthesizes in process (the path the construct tests,
// install.test.ts against kustomize and apply.int.test.ts against a real
// apiserver check), and the objects the example promises. Offline: the CLI's
// upgrade check (an npm registry call) is turned off.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { Testing } from 'cdk8s';
import { buildApp } from '../../examples/cdk8s/main.js';

const dir = path.resolve('examples/cdk8s');
let out: string;
beforeAll(() => {
  out = fs.mkdtempSync(path.join(os.tmpdir(), 'shardline-cdk8s-cli-'));
});
afterAll(() => fs.rmSync(out, { recursive: true, force: true }));

type Obj = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string } };
const docs = (file: string): Obj[] => parseAllDocuments(fs.readFileSync(file, 'utf8')).map((d) => d.toJS() as Obj).filter(Boolean);

test('npx cdk8s synth writes the example app\'s two charts, identical to the in-process synth', () => {
  const log = execFileSync('npx', ['cdk8s', 'synth', '--no-check-upgrade', '--output', out], {
    cwd: dir,
    encoding: 'utf8',
    env: { ...process.env, CDK8S_CHECK_UPGRADE: 'false' },
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 120_000,
  });
  expect(log).toMatch(/clickstream\.k8s\.yaml/);
  expect(fs.readdirSync(out).sort()).toEqual(['clickstream.k8s.yaml', 'shardline-install.k8s.yaml']);

  // The same app synthesized in this process, chart by chart.
  const app = buildApp({ outdir: fs.mkdtempSync(path.join(out, 'unused-')) });
  const inProcess = new Map(app.charts.map((c) => [c.node.id, Testing.synth(c) as Obj[]]));
  expect(docs(path.join(out, 'clickstream.k8s.yaml'))).toEqual(inProcess.get('clickstream'));
  expect(docs(path.join(out, 'shardline-install.k8s.yaml'))).toEqual(inProcess.get('shardline-install'));

  // What the example promises, named as the README names it.
  const names = docs(path.join(out, 'clickstream.k8s.yaml')).map((o) => `${o.kind}/${o.metadata.namespace ?? '-'}/${o.metadata.name}`);
  expect(names).toEqual(expect.arrayContaining([
    'Namespace/-/shop', 'DataStream/shop/clicks', 'DeliveryStream/shop/clicks-archive', 'DataStream/shop/page-counts', 'AnalyticsApp/shop/page-views-per-minute',
  ]));
  const install = docs(path.join(out, 'shardline-install.k8s.yaml'));
  expect(install.filter((o) => o.kind === 'CustomResourceDefinition').map((o) => o.metadata.name).sort())
    .toEqual(['analyticsapps.shardline.dev', 'datastreams.shardline.dev', 'deliverystreams.shardline.dev']);
  expect(install.some((o) => o.kind === 'Deployment')).toBe(true);
}, 180_000);
