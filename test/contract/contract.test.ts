// The operator↔pod contract (contract/): what the operator writes into the
// pods it creates is what the processes there accept. Both sides are taken
// from their real builders and parsers; the expectations are spelled out
// literally so a rename on both sides still shows up here.
import fs from 'node:fs';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { OPERATOR_HEALTH_PORT } from '../../contract/ports.js';
import { deliveryWorkerConfig, analyticsWorkerConfig } from '../../contract/workerConfig.js';
import { parseDeliveryConfig } from '../../contract/delivery.js';
import { ENV, runtimeEnv } from '../../contract/env.js';
import { WORKER_CONFIG_FILE } from '../../contract/mounts.js';
import os from 'node:os';
import { randomBytes } from 'node:crypto';
import { dataStreamChildren, desiredEncryption } from '../../operator/model/datastream.js';
import { KeyRing } from '../../stream/keyring.js';
import { analyticsChildren, deliveryChildren } from '../../operator/model/workers.js';
import { runtimeConfig } from '../../runtime/config.js';
import { AnalyticsAppSpec, DataStreamSpec, DeliveryStreamSpec, type DataStream } from '../../crds/index.js';

const settings = { image: 'shardline:1', natsUrl: 'nats://nats:4222', pdbApiVersion: 'policy/v1', storeReplicas: 3, sharedEndpoint: 'http://shardline.shardline-system.svc:4567' };
const owner = (kind: string) => ({ apiVersion: 'shardline.dev/v1alpha1', kind, metadata: { name: 'w', namespace: 'shop', uid: 'u-2' } });

/** Runs `fn` with exactly these SHARDLINE_* variables set. */
function withEnv<T>(vars: Record<string, string>, fn: () => T): T {
  const saved = { ...process.env };
  for (const k of Object.keys(process.env)) if (k.startsWith('SHARDLINE_')) delete process.env[k];
  Object.assign(process.env, vars);
  try {
    return fn();
  } finally {
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
    Object.assign(process.env, saved);
  }
}

const mountedFile = (pod: any, file: string) =>
  pod.containers[0].volumeMounts.some((m: { mountPath: string }) => file.startsWith(m.mountPath + '/'));

test('runtime pods: the env the operator sets is what the runtime reads, pointing at what it mounts', () => {
  const ds: DataStream = {
    apiVersion: 'shardline.dev/v1alpha1', kind: 'DataStream',
    metadata: { name: 'orders', namespace: 'shop', uid: 'u-1', generation: 1 },
    spec: DataStreamSpec.parse({ encryption: { keySecretRef: { name: 'k', key: 'key' } }, auth: { credentialsSecretRef: 'creds' } }),
  };
  const pod = (dataStreamChildren(ds, ds.spec, settings).deployment as any).spec.template.spec;
  const env = Object.fromEntries(pod.containers[0].env.map((e: { name: string; value: string }) => [e.name, e.value]));
  expect(runtimeEnv.safeParse(env).success).toBe(true);
  const config = withEnv(env, () => runtimeConfig([]));
  expect(config).toMatchObject({ natsUrl: 'nats://nats:4222', port: 4567, replicas: 3, kmsKeysFile: '/etc/shardline/kms-keys', credentialsFile: '/etc/shardline/credentials' });
  expect(pod.containers[0].ports).toEqual([expect.objectContaining({ containerPort: config.port })]);
  for (const dir of [config.kmsKeysFile!, config.credentialsFile!]) {
    expect(pod.containers[0].volumeMounts.map((m: { mountPath: string }) => m.mountPath)).toContain(dir);
  }
});

test('a malformed numeric setting fails the runtime at start with the variable named', () => {
  expect(() => withEnv({ [ENV.port]: '45x' }, () => runtimeConfig([]))).toThrow(/SHARDLINE_PORT: '45x' is invalid: expected a port number/);
  expect(withEnv({ [ENV.port]: '' }, () => runtimeConfig([])).port).toBe(4567);
});

test('delivery workers: the transform timeout of spec.processing reaches the worker as its function timeout (the API\'s worker file sets functionTimeoutMs itself)', () => {
  const spec = DeliveryStreamSpec.parse({
    source: { type: 'DirectPut' }, s3: { bucket: 'lake' },
    processing: { transform: { functionUrl: 'http://fn.svc/x', timeoutSeconds: 7 } },
  });
  const kids = deliveryChildren(owner('DeliveryStream') as any, spec, undefined, settings);
  const run = parseDeliveryConfig(JSON.parse((kids.configMap as any).data['config.json']));
  expect(run.functionTimeoutMs).toBe(7000);
  expect(run.functions).toEqual({ 'http://fn.svc/x': 'http://fn.svc/x' });
  // Without a transform: 60 s; an API stream's standalone worker file sets its own.
  const plain = deliveryChildren(owner('DeliveryStream') as any, DeliveryStreamSpec.parse({ source: { type: 'DirectPut' }, s3: { bucket: 'lake' } }), undefined, settings);
  expect(parseDeliveryConfig(JSON.parse((plain.configMap as any).data['config.json'])).functionTimeoutMs).toBe(60_000);
  expect(parseDeliveryConfig({ deliveryStreamName: 'api-made', functionTimeoutMs: 5000 }).functionTimeoutMs).toBe(5000);
});

test('delivery workers: the config file the operator writes parses with the worker schema, at the path the args name', () => {
  const spec = DeliveryStreamSpec.parse({
    source: { dataStreamRef: { name: 'orders' }, startingPosition: 'TRIM_HORIZON' },
    s3: { bucket: 'lake', credentialsSecretRef: 'creds' },
    http: { url: 'https://example.com/in', accessKeySecretRef: { name: 'h', key: 'k' } },
  });
  const kids = deliveryChildren(owner('DeliveryStream') as any, spec, { name: 'orders', streamName: 'orders-s', endpoint: 'http://orders-stream.shop.svc:4567' }, settings);
  const pod = (kids.deployment as any).spec.template.spec;
  expect(pod.containers[0].args).toEqual(['delivery', '--config', WORKER_CONFIG_FILE]);
  expect(mountedFile(pod, WORKER_CONFIG_FILE)).toBe(true);
  const cfg = deliveryWorkerConfig.parse(JSON.parse((kids.configMap as any).data['config.json']));
  expect(cfg.source).toEqual({ type: 'DataStream', dataStreamRef: { name: 'orders' }, startingPosition: 'TRIM_HORIZON', stream: { name: 'orders', streamName: 'orders-s', endpoint: 'http://orders-stream.shop.svc:4567' } });
  expect(cfg.buffering).toEqual({ sizeMiB: 5, intervalSeconds: 300 });
  expect(cfg.s3?.bucket).toBe('lake');
  const names = pod.containers[0].env.map((e: { name: string }) => e.name);
  expect(names).toEqual(expect.arrayContaining(['SHARDLINE_NATS_URL', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'SHARDLINE_HTTP_ACCESS_KEY']));
  // A file without a destination block's required field is refused by the worker's schema.
  expect(deliveryWorkerConfig.safeParse({ ...cfg, s3: { region: 'x' } }).success).toBe(false);
});

test('analytics workers: the config file parses with the worker schema', () => {
  const spec = AnalyticsAppSpec.parse({
    inputs: [{ name: 'SOURCE_SQL_STREAM_001', dataStreamRef: { name: 'orders' }, columns: [{ name: 'a', sqlType: 'INTEGER' }] }],
    outputs: [{ name: 'DESTINATION_SQL_STREAM', dataStreamRef: { name: 'out' } }],
    sql: 'CREATE STREAM x (a INTEGER);',
  });
  const streams = new Map([
    ['orders', { name: 'orders', streamName: 'orders', endpoint: 'http://orders-stream.shop.svc:4567' }],
    ['out', { name: 'out', streamName: 'out', endpoint: 'http://out-stream.shop.svc:4567' }],
  ]);
  const kids = analyticsChildren(owner('AnalyticsApp') as any, spec, streams, settings);
  const pod = (kids.deployment as any).spec.template.spec;
  expect(pod.containers[0].args).toEqual(['analytics', '--config', WORKER_CONFIG_FILE]);
  const cfg = analyticsWorkerConfig.parse(JSON.parse((kids.configMap as any).data['config.json']));
  // The application model the API stores too (contract/analytics.ts); the worker reads the streams from NATS.
  expect(cfg.applicationName).toMatch(/^k8s\.[^.]+\.w$/);
  expect(cfg.application!.inputs[0]!.source).toEqual({ kind: 'stream', name: 'orders' });
  expect(cfg.application!.inputs[0]!.format.type).toBe('JSON');
  expect(cfg.application!.outputs[0]!.destination).toEqual({ kind: 'stream', name: 'out' });
});

test('the shipped manifests set only variables the contract names, and the operator listens where its probes look', () => {
  const known = new Set<string>(Object.values(ENV));
  const files: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.ya?ml$/.test(e.name) && !p.includes(`${path.sep}crd${path.sep}`)) files.push(p);
    }
  };
  walk('config');
  const set: string[] = [];
  let operatorPorts: number[] = [];
  for (const f of files) {
    for (const doc of parseAllDocuments(fs.readFileSync(f, 'utf8'))) {
      const o = doc.toJS() as any;
      for (const c of o?.spec?.template?.spec?.containers ?? []) {
        if (c.image?.startsWith('shardline')) set.push(...(c.env ?? []).map((e: { name: string }) => e.name));
        if (c.args?.[0] === 'operator') operatorPorts = (c.ports ?? []).map((p: { containerPort: number }) => p.containerPort);
      }
    }
  }
  expect(set).toEqual(expect.arrayContaining(['SHARDLINE_NATS_URL', 'POD_NAME']));
  expect(set.filter((n) => !known.has(n))).toEqual([]);
  expect(operatorPorts).toEqual([OPERATOR_HEALTH_PORT]);
});

test('workers of an encrypted DataStream get its key where their key ring looks, under the id the stream record names', () => {
  const dsSpec = DataStreamSpec.parse({ encryption: { keySecretRef: { name: 'orders-key', key: 'key' } } });
  const keyId = desiredEncryption(dsSpec).keyId!;
  const spec = DeliveryStreamSpec.parse({ source: { dataStreamRef: { name: 'orders' } }, s3: { bucket: 'lake' } });
  const kids = deliveryChildren(owner('DeliveryStream') as any, spec, { name: 'orders', streamName: 'orders', endpoint: 'http://x' }, settings, [dsSpec.encryption!.keySecretRef]);
  const pod = (kids.deployment as any).spec.template.spec;
  const c = pod.containers[0];
  const keysFile = c.env.find((e: { name: string }) => e.name === ENV.kmsKeysFile)?.value;
  expect(keysFile).toBe('/etc/shardline/kms-keys');
  expect(c.volumeMounts).toContainEqual({ name: 'kms-keys', mountPath: keysFile, readOnly: true });
  // The config file still has its own directory (no mount inside a ConfigMap volume).
  expect(mountedFile(pod, WORKER_CONFIG_FILE)).toBe(true);
  expect(keysFile.startsWith(path.dirname(WORKER_CONFIG_FILE))).toBe(false);
  const vol = pod.volumes.find((v: { name: string }) => v.name === 'kms-keys');
  expect(vol.projected.sources).toEqual([{ secret: { name: 'orders-key', items: [{ key: 'key', path: keyId }] } }]);
  // Lay the volume out as the kubelet would and let the worker's key ring read it.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shardline-keys-'));
  try {
    fs.writeFileSync(path.join(dir, keyId), randomBytes(32).toString('base64'));
    const ring = new KeyRing({ file: dir });
    expect(ring.resolve(keyId).id).toBe(keyId);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  // No encrypted stream: no key volume.
  const plain = deliveryChildren(owner('DeliveryStream') as any, spec, undefined, settings);
  expect((plain.deployment as any).spec.template.spec.volumes.map((v: { name: string }) => v.name)).toEqual(['config', 'tmp']);
});
