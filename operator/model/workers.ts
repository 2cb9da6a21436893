// Pure models of the delivery and analytics worker children: a ConfigMap with
// the resolved spec and a Deployment running `shardline delivery|analytics`.
import type { DeliveryStream, DeliveryStreamSpec } from '../../crds/schema/deliverystream.js';
import type { AnalyticsApp, AnalyticsAppSpec } from '../../crds/schema/analyticsapp.js';
import type { KubeObject } from '../kube/client.js';
import type { ApplicationDefinition } from '../../contract/analytics.js';
import { ENV } from '../../contract/env.js';
import { KMS_KEYS_DIR, TMP_DIR, WORKER_CONFIG_DIR, WORKER_CONFIG_FILE, WORKER_CONFIG_KEY } from '../../contract/mounts.js';
import { type AnalyticsWorkerConfig, type DeliveryWorkerConfig, type ResolvedStream } from '../../contract/workerConfig.js';
import { encryptionKeyId, keySources, type MountedKeyRef } from './datastream.js';
import { childMeta, natsAuthMount, childName, configHash, containerSecurity, selectorLabels, type Component, type OperatorSettings, type Owner } from './common.js';

export const deliveryName = (d: { metadata: { name: string } }) => childName(d.metadata.name, 'delivery');
export const analyticsName = (a: { metadata: { name: string } }) => childName(a.metadata.name, 'analytics');

export type { ResolvedStream };

/**
 * A key Secret item of an encrypted DataStream a worker reads or writes: its
 * streamKeyRefs (spec.encryption's key, plus during a key swap the key the
 * stream record still names, optional), the same set its runtime pods mount.
 */
export type KeySecretRef = MountedKeyRef;

/**
 * The key ring of a worker: every key Secret item of the encrypted DataStreams
 * it reads or writes, projected into one directory as the runtime has it
 * (file name = key id), so the worker opens and seals records itself. An item
 * two streams share is mounted once, and optional only if optional for both.
 */
function keyRing(refs: KeySecretRef[]): { env: unknown[]; volumes: unknown[]; mounts: unknown[] } {
  const byId = new Map<string, KeySecretRef>();
  for (const r of refs) {
    const id = encryptionKeyId(r);
    const had = byId.get(id);
    byId.set(id, had ? { ...had, optional: had.optional && r.optional } : r);
  }
  const unique = [...byId.values()].map((r) => (r.optional ? r : { name: r.name, key: r.key }));
  if (unique.length === 0) return { env: [], volumes: [], mounts: [] };
  return {
    env: [{ name: ENV.kmsKeysFile, value: KMS_KEYS_DIR }],
    volumes: [{ name: 'kms-keys', projected: { sources: keySources(unique) } }],
    mounts: [{ name: 'kms-keys', mountPath: KMS_KEYS_DIR, readOnly: true }],
  };
}

function workerChildren(
  owner: Owner, component: Component, name: string, replicas: number, config: DeliveryWorkerConfig | AnalyticsWorkerConfig,
  env: unknown[], s: OperatorSettings, keyRefs: KeySecretRef[],
): { configMap: KubeObject; deployment: KubeObject } {
  const selector = selectorLabels(owner, component);
  const keys = keyRing(keyRefs);
  const configJson = JSON.stringify(config, null, 2) + '\n';
  const nats = natsAuthMount(s);
  return {
    configMap: {
      apiVersion: 'v1', kind: 'ConfigMap',
      metadata: childMeta(owner, name, component),
      data: { [WORKER_CONFIG_KEY]: configJson },
    },
    deployment: {
      apiVersion: 'apps/v1', kind: 'Deployment',
      metadata: childMeta(owner, name, component),
      spec: {
        replicas,
        selector: { matchLabels: selector },
        template: {
          metadata: {
            labels: { ...selector, 'app.kubernetes.io/part-of': 'shardline' },
            annotations: { 'shardline.dev/config-hash': configHash(configJson) },
          },
          spec: {
            automountServiceAccountToken: false,
            securityContext: { runAsNonRoot: true, runAsUser: 1000, fsGroup: 1000 },
            containers: [{
              name: component,
              image: s.image,
              ...(s.imagePullPolicy ? { imagePullPolicy: s.imagePullPolicy } : {}),
              args: [component, '--config', WORKER_CONFIG_FILE],
              env: [{ name: ENV.natsUrl, value: s.natsUrl }, ...env, ...keys.env, ...nats.env],
              resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '512Mi' } },
              securityContext: containerSecurity,
              volumeMounts: [
                { name: 'config', mountPath: WORKER_CONFIG_DIR, readOnly: true },
                { name: 'tmp', mountPath: TMP_DIR },
                ...keys.mounts,
                ...nats.mounts,
              ],
            }],
            volumes: [{ name: 'config', configMap: { name } }, { name: 'tmp', emptyDir: {} }, ...keys.volumes, ...nats.volumes],
          },
        },
      },
    },
  };
}

/** `replicas`: spec.replicas, or the autoscaler's decision under spec.autoscaling (operator/reconcile/workerScaling.ts). */
export function deliveryChildren(d: DeliveryStream, spec: DeliveryStreamSpec, source: ResolvedStream | undefined, s: OperatorSettings, keyRefs: KeySecretRef[] = [], replicas = spec.replicas) {
  const env: unknown[] = [];
  if (spec.s3?.credentialsSecretRef) {
    for (const key of [ENV.awsAccessKeyId, ENV.awsSecretAccessKey]) {
      env.push({ name: key, valueFrom: { secretKeyRef: { name: spec.s3.credentialsSecretRef, key } } });
    }
  }
  if (spec.http?.accessKeySecretRef) {
    env.push({ name: ENV.httpAccessKey, valueFrom: { secretKeyRef: { name: spec.http.accessKeySecretRef.name, key: spec.http.accessKeySecretRef.key } } });
  }
  const config: DeliveryWorkerConfig = { deliveryStreamName: d.metadata.name, namespace: d.metadata.namespace, source: { ...spec.source, stream: source }, buffering: spec.buffering, s3: spec.s3, processing: spec.processing, http: spec.http };
  return workerChildren(d, 'delivery', deliveryName(d), replicas, config, env, s, keyRefs);
}

/** The application an AnalyticsApp declares, in the model the API and the worker share (contract/analytics.ts). */
export function analyticsDefinition(a: AnalyticsApp, spec: AnalyticsAppSpec, streams: Map<string, ResolvedStream>): ApplicationDefinition {
  const streamName = (ref: string) => streams.get(ref)?.streamName ?? ref;
  return {
    name: analyticsAppName(a),
    code: spec.sql,
    inputs: spec.inputs.map((i, n) => ({
      id: `${n + 1}.1`,
      namePrefix: i.name.replace(/_\d{3}$/, '').slice(0, 32) || i.name.slice(0, 32),
      inAppName: i.name,
      parallelism: i.parallelism,
      // A DeliveryStream's definition is stored under the resource's name (deliveryDefinition.ts); the worker reads the stream holding its records.
      source: i.deliveryStreamRef ? { kind: 'firehose' as const, name: i.deliveryStreamRef.name } : { kind: 'stream' as const, name: streamName(i.dataStreamRef!.name) },
      format: i.format === 'CSV' ? { type: 'CSV' as const, rowDelimiter: '\n', columnDelimiter: ',' } : { type: 'JSON' as const, rowPath: '$' },
      encoding: 'UTF-8' as const,
      columns: i.columns.map((c) => ({ name: c.name, sqlType: c.sqlType, ...(c.mapping !== undefined ? { mapping: c.mapping } : {}) })),
      ...(i.watermark ? { watermark: { column: i.watermark.column, delaySeconds: i.watermark.delaySeconds } } : {}),
    })),
    outputs: spec.outputs.map((o, n) => ({
      id: `${n + 1}.1`,
      name: o.name,
      destination: o.dataStreamRef ? { kind: 'stream' as const, name: streamName(o.dataStreamRef.name) }
        : o.deliveryStreamRef ? { kind: 'firehose' as const, name: o.deliveryStreamRef.name }
          // The ARN (or the URL when none is given) is what DescribeApplication shows; analyticsFunctions maps it to the URL.
          : o.lambda ? { kind: 'lambda' as const, arn: o.lambda.functionArn ?? o.lambda.functionUrl }
            : { kind: 'http' as const, url: o.http!.url },
      format: o.format,
    })),
    references: [],
  };
}

/** The worker config's Lambda ARN → URL map for spec.outputs[].lambda that name an ARN (a URL is called as is). */
export function analyticsFunctions(spec: AnalyticsAppSpec): Record<string, string> | undefined {
  const entries = spec.outputs.flatMap((o) => (o.lambda?.functionArn ? [[o.lambda.functionArn, o.lambda.functionUrl] as const] : []));
  return entries.length ? Object.fromEntries(entries) : undefined;
}

/** Store name of an AnalyticsApp's application (namespaced, so two namespaces never share one). */
export const analyticsAppName = (a: { metadata: { name: string; namespace?: string } }) => `k8s.${a.metadata.namespace ?? 'default'}.${a.metadata.name}`;

export function analyticsChildren(a: AnalyticsApp, spec: AnalyticsAppSpec, streams: Map<string, ResolvedStream>, s: OperatorSettings, keyRefs: KeySecretRef[] = [], replicas = spec.replicas) {
  const startingPosition = spec.inputs.some((i) => i.startingPosition === 'TRIM_HORIZON') ? 'TRIM_HORIZON' : 'NOW';
  const config: AnalyticsWorkerConfig = {
    applicationName: analyticsAppName(a),
    namespace: a.metadata.namespace,
    application: analyticsDefinition(a, spec, streams),
    startingPosition,
    checkpointIntervalMs: 5000,
    idleWatermarkLagMs: 1000,
    leaseMs: 10000,
  };
  const functions = analyticsFunctions(spec);
  if (functions) config.functions = functions;
  return workerChildren(a, 'analytics', analyticsName(a), replicas, config, [], s, keyRefs);
}

/**
 * The DataStreams (by name, in the resource's namespace) a DeliveryStream or
 * AnalyticsApp reads or writes, from its unvalidated spec: which resources
 * depend on a DataStream (its readiness, its key swaps) and whose worker pods
 * hold its keys. deliverySpec (a DeliveryStream's spec by name) adds the
 * source DataStreams of the DeliveryStreams an AnalyticsApp's inputs read.
 */
export function workerDataStreamRefs(kind: 'DeliveryStream' | 'AnalyticsApp', spec: unknown, deliverySpec?: (name: string) => unknown): string[] {
  const sp = spec as any;
  const names = kind === 'DeliveryStream'
    ? [sp?.source?.dataStreamRef?.name]
    : [...(sp?.inputs ?? []), ...(sp?.outputs ?? [])].map((x: any) => x?.dataStreamRef?.name);
  // An input reading a DeliveryStream with a DataStream source reads that DataStream (and needs its keys).
  if (kind === 'AnalyticsApp' && deliverySpec) {
    for (const i of sp?.inputs ?? []) {
      const d = typeof i?.deliveryStreamRef?.name === 'string' ? (deliverySpec(i.deliveryStreamRef.name) as any) : undefined;
      if (d?.source?.type !== 'DirectPut') names.push(d?.source?.dataStreamRef?.name);
    }
  }
  return [...new Set(names.filter((n): n is string => typeof n === 'string'))];
}
