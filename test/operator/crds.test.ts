// The zod schemas are the single source of truth for the CRDs: the committed
// YAML must be exactly what `npm run gen:crds` generates from them.
import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { renderCrds, renderKustomization } from '../../crds/generate.js';
import { buildCrds } from '../../crds/definitions.js';
import { DataStreamSpec, DeliveryStreamSpec, AnalyticsAppSpec } from '../../crds/index.js';

const crdDir = path.resolve('crds');
const configCrdDir = path.resolve('config/crd');

describe('CRD YAML', () => {
  test('committed crds/*.yaml equal what the schemas generate (run `npm run gen:crds`)', () => {
    const rendered = renderCrds();
    const committed = fs.readdirSync(crdDir).filter((f) => f.endsWith('.yaml')).sort();
    expect(committed).toEqual([...rendered.keys()].sort());
    for (const [name, text] of rendered) {
      expect(fs.readFileSync(path.join(crdDir, name), 'utf8')).toBe(text);
      expect(fs.readFileSync(path.join(configCrdDir, name), 'utf8')).toBe(text);
    }
    expect(fs.readFileSync(path.join(configCrdDir, 'kustomization.yaml'), 'utf8')).toBe(renderKustomization());
  });

  test('no CRD joins the `all` category: `kubectl delete all --all` must not delete streams (deletionPolicy Delete wipes their data)', () => {
    for (const crd of buildCrds() as any[]) expect(crd.spec.names.categories).toEqual(['shardline']);
  });

  test('every field has a description and a type (structural, kubectl explain)', () => {
    const missing: string[] = [];
    const walk = (node: any, at: string) => {
      if (!node.type) missing.push(`${at}: type`);
      if (at.split('.').length > 2 && !node.description && !at.endsWith('[]') && !at.endsWith('.metadata')) missing.push(`${at}: description`);
      for (const [k, v] of Object.entries(node.properties ?? {})) walk(v, `${at}.${k}`);
      if (node.items) walk(node.items, `${at}[]`);
    };
    for (const crd of buildCrds() as any[]) {
      walk(crd.spec.versions[0].schema.openAPIV3Schema, crd.spec.names.kind);
    }
    expect(missing).toEqual([]);
  });

  test('status and scale subresources, printer columns and short names', () => {
    for (const text of renderCrds().values()) {
      const crd = parse(text);
      const v = crd.spec.versions[0];
      expect(v.subresources.status).toEqual({});
      expect(v.subresources.scale.specReplicasPath).toMatch(/^\.spec\./);
      expect(v.additionalPrinterColumns.map((c: any) => c.name)).toEqual(expect.arrayContaining(['Ready', 'Age']));
      expect(crd.spec.names.shortNames.length).toBeGreaterThan(0);
    }
  });
});

describe('runtime validation with the same schemas', () => {
  test('DataStream defaults', () => {
    expect(DataStreamSpec.parse({})).toEqual({
      mode: 'PROVISIONED', shards: 1, onDemand: { minShards: 1, maxShards: 64, scaleDownStabilizationSeconds: 300, dryRun: false }, retentionHours: 24,
      replicas: 3, enforceQuotas: true, deletionPolicy: 'Delete', runtime: { dedicated: false, replicas: 2 },
    });
  });
  test('DataStream ranges and enums', () => {
    expect(DataStreamSpec.safeParse({ shards: 0 }).success).toBe(false);
    expect(DataStreamSpec.safeParse({ replicas: 2 }).success).toBe(false);
    expect(DataStreamSpec.safeParse({ mode: 'FAST' }).success).toBe(false);
    expect(DataStreamSpec.safeParse({ retentionHours: 1 }).success).toBe(false);
  });
  test('DeliveryStream and AnalyticsApp', () => {
    const d = DeliveryStreamSpec.parse({ source: { dataStreamRef: { name: 'orders' } }, s3: { bucket: 'lake' } });
    expect(d.buffering).toEqual({ sizeMiB: 5, intervalSeconds: 300 });
    expect(d.s3!.compression).toBe('UNCOMPRESSED');
    const a = AnalyticsAppSpec.parse({ inputs: [{ name: 'SRC', dataStreamRef: { name: 'orders' }, columns: [{ name: 'id', sqlType: 'INTEGER' }] }], sql: 'SELECT 1' });
    expect(a.replicas).toBe(1);
    expect(AnalyticsAppSpec.safeParse({ inputs: [], sql: 'x' }).success).toBe(false);
  });
});
