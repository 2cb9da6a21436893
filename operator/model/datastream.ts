// Pure model of a DataStream's Kubernetes children: spec in, desired objects
// out. No I/O, so every field is unit-tested (test/operator/model.test.ts).
import crypto from 'node:crypto';
import type { DataStream, DataStreamSpec } from '../../crds/schema/datastream.js';
import type { KubeObject } from '../kube/client.js';
import { parseKeyEntries } from '../../stream/keyring.js';
import { childMeta, natsAuthMount, childName, configHash, containerSecurity, selectorLabels, type OperatorSettings } from './common.js';
import { ENV } from '../../contract/env.js';
import { CREDENTIALS_DIR, KMS_KEYS_DIR, TLS_DIR } from '../../contract/mounts.js';
import { RUNTIME_PORT } from '../../contract/ports.js';

export const streamNameOf = (ds: DataStream) => ds.status?.streamName ?? ds.spec.streamName ?? ds.metadata.name;
export const runtimeName = (ds: DataStream) => childName(ds.metadata.name, 'stream');
/**
 * Whether the stream gets a runtime Deployment of its own: asked for, or
 * needed because its pods must mount the stream's Secrets (encryption key,
 * access keys), which a shared runtime in another namespace cannot.
 */
export const isDedicated = (spec: DataStreamSpec) => spec.runtime.dedicated || !!spec.encryption || !!spec.auth || !!spec.tls;
export const endpointOf = (ds: DataStream, spec: DataStreamSpec, s: Pick<OperatorSettings, 'sharedEndpoint'>) =>
  isDedicated(spec) ? `${spec.tls ? 'https' : 'http'}://${runtimeName(ds)}.${ds.metadata.namespace}.svc:${RUNTIME_PORT}` : s.sharedEndpoint;

/** The shard count the store should have: PROVISIONED takes spec.shards; ON_DEMAND only keeps it in bounds. */
export function desiredShardCount(spec: DataStreamSpec, current?: number): number {
  if (spec.mode === 'PROVISIONED') return spec.shards;
  const n = current ?? spec.shards;
  return Math.min(spec.onDemand.maxShards, Math.max(spec.onDemand.minShards, n));
}


const KEY_ID_MAX = 128; // the key ring's limit (stream/keyring.ts)

/**
 * The KMS key id spec.encryption.keySecretRef stands for: `<Secret name>_<key>`,
 * e.g. `orders-key_key`. `_` never occurs in a Secret name, so different refs
 * never share an id. Beyond 128 characters: the first 119, `-`, and 8 hex
 * digits of the SHA-256 of the whole. The runtime sees the key as the file of
 * that name in KMS_KEYS_DIR; the stream record names it (DescribeStream's KeyId).
 */
export function encryptionKeyId(ref: { name: string; key: string }): string {
  const id = `${ref.name}_${ref.key}`;
  if (id.length <= KEY_ID_MAX) return id;
  const h = crypto.createHash('sha256').update(id).digest('hex').slice(0, 8);
  return `${id.slice(0, KEY_ID_MAX - 9)}-${h}`;
}

export interface KeyRef { name: string; key: string }
/** A key Secret item a pod mounts; `optional`: the pod starts without it (a swap's previous key, whose Secret may be deleted). */
export interface MountedKeyRef extends KeyRef { optional?: boolean }

/**
 * The key Secret items every pod that seals or opens a DataStream's records
 * mounts: its runtime pods and the delivery and analytics workers that read
 * or write it. spec.encryption's key; during a key swap (`previousKey`, the
 * key the stream record still names: reconcile/streamKeys.ts) that one too,
 * optional. Records sealed under earlier keys (keyHistory) need no mount: a
 * holder of any of the stream's keys opens them through the kept copies in
 * the store (stream/storeKeys.ts, keptKeyGrant).
 */
export function streamKeyRefs(spec: DataStreamSpec, previousKey?: KeyRef): MountedKeyRef[] {
  if (!spec.encryption) return [];
  const ref = { name: spec.encryption.keySecretRef.name, key: spec.encryption.keySecretRef.key };
  if (!previousKey || encryptionKeyId(previousKey) === encryptionKeyId(ref)) return [ref];
  return [ref, { name: previousKey.name, key: previousKey.key, optional: true }];
}

/** One projected Secret source per key item, the file named by its key id (the key ring reads a directory of `<keyId>` files). */
export const keySources = (refs: MountedKeyRef[]) =>
  refs.map((r) => ({ secret: { name: r.name, items: [{ key: r.key, path: encryptionKeyId(r) }], ...(r.optional ? { optional: true } : {}) } }));

/** The runtime's key volume while a key swap mounts two Secrets. */
export const KMS_KEYS_SWAP_VOLUME = 'kms-keys-swap';

/** The key Secret items a runtime or worker Deployment's pod template mounts in its kms-keys volume, with their key ids. */
export function mountedKeyRefs(deployment: KubeObject | undefined): (KeyRef & { id: string })[] {
  const vol = (deployment as any)?.spec?.template?.spec?.volumes?.find((v: any) => v.name === 'kms-keys' || v.name === KMS_KEYS_SWAP_VOLUME);
  if (!vol) return [];
  const sources: any[] = vol.secret ? [{ name: vol.secret.secretName, items: vol.secret.items }] : (vol.projected?.sources ?? []).map((x: any) => x.secret).filter(Boolean);
  return sources.flatMap((src) => (src.items ?? []).map((it: any) => ({ name: src.name, key: it.key, id: it.path })));
}

/** The stream record's encryption state spec.encryption asks for. */
export const desiredEncryption = (spec: DataStreamSpec): { type: 'NONE' | 'KMS'; keyId?: string } =>
  spec.encryption ? { type: 'KMS', keyId: encryptionKeyId(spec.encryption.keySecretRef) } : { type: 'NONE' };

/**
 * What the runtime container is configured with: environment variables the
 * runtime reads (runtime/config.ts) and the Secret volumes they point at.
 */
export function runtimeEnvAndVolumes(spec: DataStreamSpec, s: OperatorSettings, previousKey?: KeyRef): { env: unknown[]; volumes: unknown[]; mounts: unknown[] } {
  const env: unknown[] = [
    { name: ENV.natsUrl, value: s.natsUrl },
    { name: ENV.port, value: String(RUNTIME_PORT) },
    // Metadata bucket replicas: a property of the store, not of this stream.
    { name: ENV.replicas, value: String(s.storeReplicas ?? 1) },
  ];
  const volumes: unknown[] = [];
  const mounts: unknown[] = [];
  const keys = streamKeyRefs(spec, previousKey);
  if (keys.length > 1) {
    // A key swap in progress (reconcile/streamKeys.ts): the key the stream record still
    // names rides along until the record names the new one. Optional: a Secret deleted
    // meanwhile must not keep the rolled pods from starting. Another volume name:
    // server-side apply keeps the apiserver's secret.defaultMode under a same-named
    // volume, which would then hold two volume types (422).
    volumes.push({ name: KMS_KEYS_SWAP_VOLUME, projected: { sources: keySources(keys) } });
    mounts.push({ name: KMS_KEYS_SWAP_VOLUME, mountPath: KMS_KEYS_DIR, readOnly: true });
  } else if (keys.length === 1) {
    // One item, renamed to the key id. Mounted whole (no subPath), so a Secret update
    // reaches the pod and the key ring reloads.
    const ref = keys[0]!;
    volumes.push({ name: 'kms-keys', secret: { secretName: ref.name, items: [{ key: ref.key, path: encryptionKeyId(ref) }] } });
    mounts.push({ name: 'kms-keys', mountPath: KMS_KEYS_DIR, readOnly: true });
  }
  if (keys.length) env.push({ name: ENV.kmsKeysFile, value: KMS_KEYS_DIR });
  if (spec.auth) {
    // Every key of the Secret is a file named by the access key id, holding its secret.
    volumes.push({ name: 'credentials', secret: { secretName: spec.auth.credentialsSecretRef } });
    mounts.push({ name: 'credentials', mountPath: CREDENTIALS_DIR, readOnly: true });
    env.push({ name: ENV.credentialsFile, value: CREDENTIALS_DIR });
  }
  if (spec.tls) {
    // Mounted whole (no subPath), so a renewed certificate reaches the pod; the runtime polls the files.
    volumes.push({ name: 'tls', secret: { secretName: spec.tls.certificateSecretRef } });
    mounts.push({ name: 'tls', mountPath: TLS_DIR, readOnly: true });
    env.push({ name: ENV.tlsCertFile, value: `${TLS_DIR}/tls.crt` }, { name: ENV.tlsKeyFile, value: `${TLS_DIR}/tls.key` });
  }
  const nats = natsAuthMount(s);
  env.push(...nats.env);
  volumes.push(...nats.volumes);
  mounts.push(...nats.mounts);
  return { env, volumes, mounts };
}

export interface SecretProblem { reason: 'SecretKeyNotFound' | 'SecretKeyInvalid'; message: string }
type SecretData = Record<string, string> | undefined;
const fromData = (b64: string) => Buffer.from(b64, 'base64').toString('utf8').trim();

/**
 * Whether the key Secret's data holds what the runtime's key ring can load
 * (stream/keyring.ts; a bad file would stop the runtime from starting).
 * Messages never carry the value.
 */
export function encryptionSecretProblem(data: SecretData, ref: { name: string; key: string }): SecretProblem | undefined {
  const b64 = data?.[ref.key];
  if (!b64) return { reason: 'SecretKeyNotFound', message: `Secret ${ref.name} has no key ${ref.key}.` };
  const text = fromData(b64);
  try {
    if (/[\s:]/.test(text)) throw new Error('not a bare key');
    parseKeyEntries(`${encryptionKeyId(ref)}:${text}`, `Secret ${ref.name}`);
  } catch {
    return { reason: 'SecretKeyInvalid', message: `Secret ${ref.name} key ${ref.key} must hold the base64 of exactly 32 bytes (openssl rand -base64 32).` };
  }
  return undefined;
}

/**
 * Whether every entry of the credentials Secret is what the runtime's
 * credentials directory reader accepts (runtime/auth/credentials.ts): a
 * non-empty secret without whitespace. Keys starting with `.` are not read.
 */
export function credentialsSecretProblem(data: SecretData, name: string): SecretProblem | undefined {
  for (const [id, b64] of Object.entries(data ?? {})) {
    if (id.startsWith('.')) continue;
    const secret = fromData(b64);
    if (!secret || /\s/.test(secret)) {
      return { reason: 'SecretKeyInvalid', message: `Secret ${name} key ${id} must hold only the secret access key of access key id ${id}.` };
    }
  }
  return undefined;
}

export function dataStreamChildren(ds: DataStream, spec: DataStreamSpec, s: OperatorSettings, previousKey?: KeyRef): {
  deployment: KubeObject; service: KubeObject; pdb: KubeObject;
} {
  const name = runtimeName(ds);
  const selector = selectorLabels(ds, 'runtime');
  // Everything else the runtime needs (stream settings, shard map) it reads from the store.
  const { env, volumes, mounts } = runtimeEnvAndVolumes(spec, s, previousKey);
  return {
    deployment: {
      apiVersion: 'apps/v1', kind: 'Deployment',
      metadata: childMeta(ds, name, 'runtime'),
      spec: {
        replicas: spec.runtime.replicas,
        selector: { matchLabels: selector },
        template: {
          metadata: {
            labels: { ...selector, 'app.kubernetes.io/part-of': 'shardline' },
            // What the pods are configured with (env, Secret refs); changes to it roll them.
            annotations: { 'shardline.dev/config-hash': configHash(JSON.stringify({ env, volumes })) },
          },
          spec: {
            automountServiceAccountToken: false,
            securityContext: { runAsNonRoot: true, runAsUser: 1000, fsGroup: 1000 },
            containers: [{
              name: 'runtime',
              image: s.image,
              ...(s.imagePullPolicy ? { imagePullPolicy: s.imagePullPolicy } : {}),
              args: ['runtime'],
              env,
              ports: [{ name: 'http', containerPort: RUNTIME_PORT, protocol: 'TCP' }],
              // Ready only while JetStream answers (/readyz is a round trip); alive while the process serves HTTP.
              readinessProbe: { httpGet: { path: '/readyz', port: 'http', scheme: spec.tls ? 'HTTPS' : 'HTTP' }, periodSeconds: 5, timeoutSeconds: 3 },
              livenessProbe: { httpGet: { path: '/healthz', port: 'http', scheme: spec.tls ? 'HTTPS' : 'HTTP' }, periodSeconds: 10, timeoutSeconds: 3, failureThreshold: 6 },
              // The runtime serves HTTP only once NATS answers; a nats-server restoring 10,000 shard
              // streams takes about a minute, which the liveness probe alone would punish with restarts.
              startupProbe: { httpGet: { path: '/healthz', port: 'http', scheme: spec.tls ? 'HTTPS' : 'HTTP' }, periodSeconds: 5, timeoutSeconds: 3, failureThreshold: 120 },
              resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '512Mi' } },
              securityContext: containerSecurity,
              // Empty lists are left out: the apiserver drops them, and the stored object must match.
              ...(mounts.length ? { volumeMounts: mounts } : {}),
            }],
            ...(volumes.length ? { volumes } : {}),
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
