// The Shardline install as a construct: CRDs, operator (RBAC + Deployment), the
// 3-server NATS JetStream cluster and the shared Kinesis endpoint, and
// optionally MinIO for a quick start. Built from the very manifests
// `kubectl apply -k config/default` (or config/quickstart) uses, with the
// transformations a kustomize overlay's `namespace:` and `images:` make;
// test/cdk8s/install.test.ts checks the result equals kustomize's.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ApiObject } from 'cdk8s';
import { Construct } from 'constructs';
import { parse, parseAllDocuments } from 'yaml';
import type { S3Bucket } from './destinations.js';

export interface ShardlineInstallProps {
  /** Namespace of everything installed. @default 'shardline-system' */
  readonly namespace?: string;
  /** Image of the operator and the runtimes (the operator gives pods its own image). @default 'shardline:0.1.0' */
  readonly image?: string;
  /** Deploy MinIO (config/quickstart) as an S3 store for DeliveryStreams; not for production. @default false */
  readonly minio?: boolean;
}

type Obj = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string> }; [k: string]: any };

const CLUSTER_SCOPED = new Set(['Namespace', 'CustomResourceDefinition', 'ClusterRole', 'ClusterRoleBinding']);

/** The repository (or installed package) root holding config/. */
function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!fs.existsSync(path.join(dir, 'config', 'default', 'kustomization.yaml'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error('shardline config/ not found next to the cdk8s module');
    dir = up;
  }
  return dir;
}

/** The resources of a kustomization, recursively, in kustomize's order, and the labels it adds. */
function resourcesOf(dir: string): { objects: Obj[]; labels: Record<string, string> } {
  const k = parse(fs.readFileSync(path.join(dir, 'kustomization.yaml'), 'utf8')) as {
    resources?: string[]; labels?: { pairs: Record<string, string> }[];
    patches?: { target: { kind: string; name: string }; patch: string }[];
  };
  const objects: Obj[] = [];
  let labels: Record<string, string> = {};
  for (const r of k.resources ?? []) {
    const p = path.join(dir, r);
    if (fs.statSync(p).isDirectory()) {
      const sub = resourcesOf(p);
      objects.push(...sub.objects);
      labels = { ...labels, ...sub.labels };
    } else {
      for (const d of parseAllDocuments(fs.readFileSync(p, 'utf8'))) { const o = d.toJSON(); if (o) objects.push(o as Obj); }
    }
  }
  for (const l of k.labels ?? []) labels = { ...labels, ...l.pairs };
  for (const p of k.patches ?? []) {
    for (const o of objects) if (o.kind === p.target.kind && o.metadata.name === p.target.name) applyAdds(o, parse(p.patch) as JsonPatchOp[], dir);
  }
  return { objects, labels };
}

type JsonPatchOp = { op: string; path: string; value: unknown };

/** The JSON 6902 `add` operations config/ uses in `patches:` (kustomize applies the same); anything else is refused. */
function applyAdds(obj: Obj, ops: JsonPatchOp[], dir: string): void {
  for (const op of ops) {
    if (op.op !== 'add') throw new Error(`${dir}/kustomization.yaml: patch op ${op.op} is not supported by ShardlineInstall`);
    const parts = op.path.split('/').slice(1).map((x) => x.replace(/~1/g, '/').replace(/~0/g, '~'));
    const last = parts.pop()!;
    let at: any = obj;
    for (const part of parts) at = Array.isArray(at) ? at[Number(part)] : at[part];
    if (Array.isArray(at)) {
      if (last === '-') at.push(op.value);
      else at.splice(Number(last), 0, op.value);
    } else at[last] = op.value;
  }
}

const imageName = (image: string) => image.replace(/@.*$/, '').replace(/:[^/:]*$/, '');

export class ShardlineInstall extends Construct {
  readonly namespace: string;
  /** In-cluster URL of the shared Kinesis endpoint. */
  readonly endpoint: string;
  /** The MinIO bucket factory, with minio: true. */
  readonly minio?: { bucket(name: string): S3Bucket };

  constructor(scope: Construct, id: string, props: ShardlineInstallProps = {}) {
    super(scope, id);
    const ns = this.namespace = props.namespace ?? 'shardline-system';
    this.endpoint = `http://shardline.${ns}.svc:4567`;
    const root = packageRoot();
    const { objects, labels } = resourcesOf(path.join(root, 'config', props.minio ? 'quickstart' : 'default'));
    for (const o of objects) {
      const obj = structuredClone(o);
      obj.metadata.labels = { ...obj.metadata.labels, ...labels };
      if (obj.kind === 'Namespace') obj.metadata.name = ns;
      else if (!CLUSTER_SCOPED.has(obj.kind)) obj.metadata.namespace = ns;
      for (const s of obj.subjects ?? []) if (s.kind === 'ServiceAccount') s.namespace = ns;
      if (props.image) {
        for (const c of obj.spec?.template?.spec?.containers ?? []) if (imageName(c.image) === 'shardline') c.image = props.image;
      }
      new ApiObject(this, `${obj.kind}-${obj.metadata.name}`, obj);
    }
    if (props.minio) {
      this.minio = {
        bucket: (name: string) => ({ bucketName: name, endpoint: `http://minio.${ns}.svc:9000`, credentialsSecretName: 'minio-credentials' }),
      };
    }
  }
}
