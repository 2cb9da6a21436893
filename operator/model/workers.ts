// Pure models of the delivery and analytics worker children: a ConfigMap with
// the resolved spec and a Deployment running `shardline delivery|analytics`.
import type { DeliveryStream, DeliveryStreamSpec } from '../../crds/schema/deliverystream.js';
import type { AnalyticsApp, AnalyticsAppSpec } from '../../crds/schema/analyticsapp.js';
import type { KubeObject } from '../kube/client.js';
import { ENV } from '../../contract/env.js';
import { CONFIG_DIR, KMS_KEYS_DIR, TMP_DIR, WORKER_CONFIG_FILE, WORKER_CONFIG_KEY } from '../../contract/mounts.js';
import { encryptionKeyId } from './datastream.js';
import { type AnalyticsWorkerConfig, type DeliveryWorkerConfig, type ResolvedStream } from '../../contract/workerConfig.js';
import { childMeta, childName, configHash, containerSecurity, selectorLabels, type Component, type OperatorSettings, type Owner } from './common.js';

export const deliveryName = (d: { metadata: { name: string } }) => childName(d.metadata.name, 'delivery');
export const analyticsName = (a: { metadata: { name: string } }) => childName(a.metadata.name, 'analytics');

export type { ResolvedStream };

function workerChildren(
  owner: Owner, component: Component, name: string, replicas: number, config: DeliveryWorkerConfig | AnalyticsWorkerConfig,
  env: unknown[], s: OperatorSettings, extra: { volumes?: unknown[]; mounts?: unknown[] } = {},
): { configMap: KubeObject; deployment: KubeObject } {
  const selector = selectorLabels(owner, component);
  const configJson = JSON.stringify(config, null, 2) + '\n';
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
              env: [{ name: ENV.natsUrl, value: s.natsUrl }, ...env],
              resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '512Mi' } },
              securityContext: containerSecurity,
              volumeMounts: [
                { name: 'config', mountPath: CONFIG_DIR, readOnly: true },
                { name: 'tmp', mountPath: TMP_DIR },
                ...(extra.mounts ?? []),
              ],
            }],
            volumes: [{ name: 'config', configMap: { name } }, { name: 'tmp', emptyDir: {} }, ...(extra.volumes ?? [])],
          },
        },
      },
    },
  };
}

/**
 * `sourceKey`: the encryption key Secret of an encrypted source DataStream;
 * the worker reads records sealed with it, so it gets that one key (mounted
 * as the key ring the stream library reads), and nothing else of the stream.
 */
export function deliveryChildren(d: DeliveryStream, spec: DeliveryStreamSpec, source: ResolvedStream | undefined, s: OperatorSettings, sourceKey?: { name: string; key: string }) {
  const env: unknown[] = [];
  const extra: { volumes: unknown[]; mounts: unknown[] } = { volumes: [], mounts: [] };
  if (sourceKey) {
    extra.volumes.push({ name: 'kms-keys', secret: { secretName: sourceKey.name, items: [{ key: sourceKey.key, path: encryptionKeyId(sourceKey) }] } });
    extra.mounts.push({ name: 'kms-keys', mountPath: KMS_KEYS_DIR, readOnly: true });
    env.push({ name: ENV.kmsKeysFile, value: KMS_KEYS_DIR });
  }
  if (spec.s3?.credentialsSecretRef) {
    for (const key of [ENV.awsAccessKeyId, ENV.awsSecretAccessKey]) {
      env.push({ name: key, valueFrom: { secretKeyRef: { name: spec.s3.credentialsSecretRef, key } } });
    }
  }
  if (spec.http?.accessKeySecretRef) {
    env.push({ name: ENV.httpAccessKey, valueFrom: { secretKeyRef: { name: spec.http.accessKeySecretRef.name, key: spec.http.accessKeySecretRef.key } } });
  }
  const config: DeliveryWorkerConfig = { deliveryStreamName: d.metadata.name, namespace: d.metadata.namespace, source: { ...spec.source, stream: source }, buffering: spec.buffering, s3: spec.s3, processing: spec.processing, http: spec.http };
  return workerChildren(d, 'delivery', deliveryName(d), spec.replicas, config, env, s, extra);
}

export function analyticsChildren(a: AnalyticsApp, spec: AnalyticsAppSpec, streams: Map<string, ResolvedStream>, s: OperatorSettings) {
  const config: AnalyticsWorkerConfig = {
    applicationName: a.metadata.name,
    namespace: a.metadata.namespace,
    sql: spec.sql,
    inputs: spec.inputs.map((i) => ({ ...i, stream: streams.get(i.dataStreamRef.name) })),
    outputs: spec.outputs.map((o) => ({ ...o, stream: o.dataStreamRef ? streams.get(o.dataStreamRef.name) : undefined })),
  };
  return workerChildren(a, 'analytics', analyticsName(a), spec.replicas, config, [], s);
}
