// Pure model of a DataStream's Kubernetes children: spec in, desired objects
// out. No I/O, so every field is unit-tested (test/operator/model.test.ts).
import type { DataStream, DataStreamSpec } from '../../crds/schema/datastream.js';
import type { KubeObject } from '../kube/client.js';
import { CONFIG_DIR, RUNTIME_PORT, childMeta, childName, configHash, containerSecurity, selectorLabels, type OperatorSettings } from './common.js';

export const streamNameOf = (ds: DataStream) => ds.status?.streamName ?? ds.spec.streamName ?? ds.metadata.name;
export const runtimeName = (ds: DataStream) => childName(ds.metadata.name, 'stream');
export const endpointOf = (ds: DataStream) => `http://${runtimeName(ds)}.${ds.metadata.namespace}.svc:${RUNTIME_PORT}`;

/** The shard count the store should have: PROVISIONED takes spec.shards; ON_DEMAND only keeps it in bounds. */
export function desiredShardCount(spec: DataStreamSpec, current?: number): number {
  if (spec.mode === 'PROVISIONED') return spec.shards;
  const n = current ?? spec.shards;
  return Math.min(spec.onDemand.maxShards, Math.max(spec.onDemand.minShards, n));
}

/** What the runtime pods read from /etc/shardline/config.json. */
export function runtimeConfig(ds: DataStream, spec: DataStreamSpec) {
  return {
    streamName: streamNameOf(ds),
    mode: spec.mode,
    shards: spec.shards,
    onDemand: spec.onDemand,
    retentionHours: spec.retentionHours,
    replicas: spec.replicas,
    enforceQuotas: spec.enforceQuotas,
    consumers: (spec.consumers ?? []).map((c) => c.name),
    encryption: spec.encryption ? { keyFile: `${CONFIG_DIR}/encryption/key` } : undefined,
  };
}

export function dataStreamChildren(ds: DataStream, spec: DataStreamSpec, s: OperatorSettings): {
  configMap: KubeObject; deployment: KubeObject; service: KubeObject; pdb: KubeObject;
} {
  const name = runtimeName(ds);
  const selector = selectorLabels(ds, 'runtime');
  const configJson = JSON.stringify(runtimeConfig(ds, spec), null, 2) + '\n';
  const volumes: unknown[] = [{ name: 'config', configMap: { name } }];
  const mounts: unknown[] = [{ name: 'config', mountPath: CONFIG_DIR, readOnly: true }];
  if (spec.encryption) {
    const ref = spec.encryption.keySecretRef;
    volumes.push({ name: 'encryption', secret: { secretName: ref.name, items: [{ key: ref.key, path: 'key' }] } });
    mounts.push({ name: 'encryption', mountPath: `${CONFIG_DIR}/encryption`, readOnly: true });
  }
  return {
    configMap: {
      apiVersion: 'v1', kind: 'ConfigMap',
      metadata: childMeta(ds, name, 'runtime'),
      data: { 'config.json': configJson },
    },
    deployment: {
      apiVersion: 'apps/v1', kind: 'Deployment',
      metadata: childMeta(ds, name, 'runtime'),
      spec: {
        replicas: spec.runtime.replicas,
        selector: { matchLabels: selector },
        template: {
          metadata: {
            labels: { ...selector, 'app.kubernetes.io/part-of': 'shardline' },
            // A config change rolls the pods.
            annotations: { 'shardline.dev/config-hash': configHash(configJson) },
          },
          spec: {
            automountServiceAccountToken: false,
            securityContext: { runAsNonRoot: true, runAsUser: 1000, fsGroup: 1000 },
            containers: [{
              name: 'runtime',
              image: s.image,
              ...(s.imagePullPolicy ? { imagePullPolicy: s.imagePullPolicy } : {}),
              args: ['runtime'],
              env: [
                { name: 'SHARDLINE_NATS_URL', value: s.natsUrl },
                { name: 'SHARDLINE_PORT', value: String(RUNTIME_PORT) },
                // Metadata bucket replicas: a property of the store, not of this stream.
                { name: 'SHARDLINE_REPLICAS', value: String(s.storeReplicas ?? 1) },
                { name: 'SHARDLINE_STREAM_CONFIG', value: `${CONFIG_DIR}/config.json` },
              ],
              ports: [{ name: 'http', containerPort: RUNTIME_PORT, protocol: 'TCP' }],
              readinessProbe: { tcpSocket: { port: 'http' }, periodSeconds: 5 },
              livenessProbe: { tcpSocket: { port: 'http' }, periodSeconds: 10, failureThreshold: 6 },
              resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '512Mi' } },
              securityContext: containerSecurity,
              volumeMounts: mounts,
            }],
            volumes,
          },
        },
      },
    },
    service: {
      apiVersion: 'v1', kind: 'Service',
      metadata: childMeta(ds, name, 'runtime'),
      spec: {
        type: 'ClusterIP',
        selector,
        ports: [{ name: 'http', port: RUNTIME_PORT, targetPort: 'http', protocol: 'TCP' }],
      },
    },
    pdb: {
      apiVersion: s.pdbApiVersion, kind: 'PodDisruptionBudget',
      metadata: childMeta(ds, name, 'runtime'),
      spec: { maxUnavailable: 1, selector: { matchLabels: selector } },
    },
  };
}
