// Pure models of the worker children for definitions created through the
// Firehose and Kinesis Analytics APIs (owner 'api' in the store). There is no
// resource to own them: they live in the operator's namespace (a delivery
// stream reading an encrypted DataStream: in that DataStream's namespace, with
// its key set), named from the definition (name + uid hash), labelled with the
// kind, the definition's uid and the operator's namespace, and their worker config is "store mode" (contract/delivery.ts
// standaloneDeliveryConfig, contract/analytics.ts without `application`): the
// worker reads the definition from the store by name, as `shardline dev`'s do.
import crypto from 'node:crypto';
import type { KubeObject } from '../kube/client.js';
import { ENV } from '../../contract/env.js';
import type { Component, OperatorSettings } from './common.js';
import { workerChildren, type KeySecretRef } from './workers.js';
import type { WorkerScalingStatus } from '../../crds/schema/workerAutoscaling.js';

/** Label every API worker child carries: which kind of definition (delivery | analytics). */
export const API_DEFINITION_LABEL = 'shardline.dev/api-definition';
/** Label with the definition's uid (a re-created definition with the same name gets new children). */
export const API_DEFINITION_UID_LABEL = 'shardline.dev/definition-uid';
/** Label with the namespace of the operator that keeps the child (children may live in other namespaces; its sweep lists by this). */
export const API_OPERATOR_NAMESPACE_LABEL = 'shardline.dev/operator-namespace';

/** Install-level settings for API-created delivery streams (operator flags --api-delivery-s3-*). */
export interface ApiDeliveryS3 {
  endpoint: string;
  region: string;
  /** Secret in the operator's namespace with AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY. */
  secret?: string;
}

/** A definition as far as its children depend on it. */
export interface ApiDefinition { name: string; uid: string }

/**
 * Annotation on an API delivery (or analytics) worker Deployment under --api-delivery-autoscaling
 * (--api-analytics-autoscaling):
 * the autoscaler's state and decisions (JSON, the shape of a DeliveryStream's
 * status.autoscaling), since there is no resource status to hold them.
 */
export const API_AUTOSCALING_ANNOTATION = 'shardline.dev/autoscaling';

/** Annotation on an API delivery worker Deployment: the stream it reads (a key swap of that stream waits for its roll, reconcile/streamKeys.ts). */
export const API_SOURCE_STREAM_ANNOTATION = 'shardline.dev/source-stream';

/**
 * Where an API delivery stream's children live and which keys they mount.
 * A Kinesis source that is an encrypted DataStream puts them in that
 * DataStream's namespace, where its key Secrets are (a pod mounts only
 * Secrets of its own namespace), with the same key set its resource workers
 * mount (reconcile/streamKeys.ts workerKeyRefs); otherwise the operator's
 * namespace and no keys.
 */
export interface ApiDeliveryPlacement {
  namespace: string;
  /** The operator's namespace (labelled on the children). */
  operatorNamespace: string;
  keyRefs: KeySecretRef[];
  /** The Kinesis source's stream name, annotated on the Deployment. */
  sourceStream?: string;
  /** The operator's Lambda ARN → URL map, narrowed to the ARNs this definition's processors name. */
  functions?: Record<string, string>;
  /** Worker replicas (default 1): the autoscaler's decision under --api-delivery-autoscaling. */
  replicas?: number;
  /** The autoscaler's state, annotated on the Deployment (API_AUTOSCALING_ANNOTATION). */
  autoscaling?: WorkerScalingStatus;
}

const labelValue = (v: string) => v.replace(/[^A-Za-z0-9._-]/g, '-').replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, '').slice(0, 63) || 'x';

/** `api-<component>-<name, DNS-1123>-<hash of name and uid>`, at most 63 characters. */
export function apiWorkerName(component: Component, d: ApiDefinition): string {
  const h = crypto.createHash('sha256').update(`${d.name}\0${d.uid}`).digest('hex').slice(0, 10);
  const prefix = `api-${component}-`;
  const body = d.name.toLowerCase().replace(/[^a-z0-9-]/g, '-').replace(/-+/g, '-').replace(/^-|-$/g, '')
    .slice(0, 63 - prefix.length - h.length - 1).replace(/-$/, '');
  return `${prefix}${body ? `${body}-` : ''}${h}`;
}

function children(component: 'delivery' | 'analytics', d: ApiDefinition, namespace: string, operatorNamespace: string, config: Record<string, unknown>, env: unknown[], s: OperatorSettings, keyRefs: KeySecretRef[] = [], replicas = 1) {
  const name = apiWorkerName(component, d);
  // The pseudo-owner only names the selector's instance label (the child's own name: unique per definition).
  const owner = { apiVersion: 'v1', kind: 'ApiDefinition', metadata: { name, namespace } };
  const labels = { [API_DEFINITION_LABEL]: component, [API_DEFINITION_UID_LABEL]: labelValue(d.uid), [API_OPERATOR_NAMESPACE_LABEL]: operatorNamespace };
  // One replica unless autoscaled: a delivery stream's one worker takes every shard, more split them through the
  // consumer group's leases (--api-delivery-autoscaling); so do an application's when its plan splits shards
  // (--api-analytics-autoscaling; docs/analytics.md).
  return workerChildren(owner, component, name, replicas, config, env, s, keyRefs, { labels });
}

/**
 * ConfigMap + Deployment running `shardline delivery` for an ACTIVE API-created
 * delivery stream. The S3 credentials Secret is looked up by name in the
 * placement's namespace (the operator's, or the encrypted source's).
 */
export function apiDeliveryChildren(d: ApiDefinition, place: ApiDeliveryPlacement, s3: ApiDeliveryS3, s: OperatorSettings): { configMap: KubeObject; deployment: KubeObject } {
  const env = s3.secret
    ? [ENV.awsAccessKeyId, ENV.awsSecretAccessKey].map((key) => ({ name: key, valueFrom: { secretKeyRef: { name: s3.secret, key } } }))
    : [];
  const functions = place.functions && Object.keys(place.functions).length ? { functions: place.functions } : {};
  const config = { deliveryStreamName: d.name, s3: { endpoint: s3.endpoint, region: s3.region, forcePathStyle: true }, ...functions };
  const kids = children('delivery', d, place.namespace, place.operatorNamespace, config, env, s, place.keyRefs, place.replicas);
  const annotations = {
    ...(place.sourceStream ? { [API_SOURCE_STREAM_ANNOTATION]: place.sourceStream } : {}),
    ...(place.autoscaling ? { [API_AUTOSCALING_ANNOTATION]: JSON.stringify(place.autoscaling) } : {}),
  };
  if (Object.keys(annotations).length) kids.deployment.metadata.annotations = { ...kids.deployment.metadata.annotations, ...annotations };
  return kids;
}

/** An API application's worker replicas (default 1) and the autoscaler's state, annotated (--api-analytics-autoscaling). */
export interface ApiAnalyticsScale { replicas?: number; autoscaling?: WorkerScalingStatus }

/** ConfigMap + Deployment running `shardline analytics` for an API-created application (every replica follows the record's status). */
export function apiAnalyticsChildren(d: ApiDefinition, namespace: string, s: OperatorSettings, s3?: ApiDeliveryS3, functions?: Record<string, string>, scale: ApiAnalyticsScale = {}): { configMap: KubeObject; deployment: KubeObject } {
  // Reference data (AddApplicationReferenceDataSource) is read from the same object storage, when one is configured.
  const env = s3?.secret
    ? [ENV.awsAccessKeyId, ENV.awsSecretAccessKey].map((key) => ({ name: key, valueFrom: { secretKeyRef: { name: s3.secret, key } } }))
    : [];
  // LambdaOutput ARNs → URLs (the operator's map, narrowed to the ARNs its outputs name).
  const config = { applicationName: d.name, ...(s3 ? { s3Endpoint: s3.endpoint } : {}), ...(functions && Object.keys(functions).length ? { functions } : {}) };
  const kids = children('analytics', d, namespace, namespace, config, env, s, [], scale.replicas);
  if (scale.autoscaling) kids.deployment.metadata.annotations = { ...kids.deployment.metadata.annotations, [API_AUTOSCALING_ANNOTATION]: JSON.stringify(scale.autoscaling) };
  return kids;
}
