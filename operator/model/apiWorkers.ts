// Pure models of the worker children for definitions created through the
// Firehose and Kinesis Analytics APIs (owner 'api' in the store). There is no
// resource to own them: they live in the operator's namespace, named from the
// definition (name + uid hash), labelled with the kind and the definition's
// uid, and their worker config is "store mode" (contract/delivery.ts
// standaloneDeliveryConfig, contract/analytics.ts without `application`): the
// worker reads the definition from the store by name, as `shardline dev`'s do.
import crypto from 'node:crypto';
import type { KubeObject } from '../kube/client.js';
import { ENV } from '../../contract/env.js';
import type { Component, OperatorSettings } from './common.js';
import { workerChildren } from './workers.js';

/** Label every API worker child carries: which kind of definition (delivery | analytics). */
export const API_DEFINITION_LABEL = 'shardline.dev/api-definition';
/** Label with the definition's uid (a re-created definition with the same name gets new children). */
export const API_DEFINITION_UID_LABEL = 'shardline.dev/definition-uid';

/** Install-level settings for API-created delivery streams (operator flags --api-delivery-s3-*). */
export interface ApiDeliveryS3 {
  endpoint: string;
  region: string;
  /** Secret in the operator's namespace with AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY. */
  secret?: string;
}

/** A definition as far as its children depend on it. */
export interface ApiDefinition { name: string; uid: string }

const labelValue = (v: string) => v.replace(/[^A-Za-z0-9._-]/g, '-').replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, '').slice(0, 63) || 'x';

/** `api-<component>-<name, DNS-1123>-<hash of name and uid>`, at most 63 characters. */
export function apiWorkerName(component: Component, d: ApiDefinition): string {
  const h = crypto.createHash('sha256').update(`${d.name}\0${d.uid}`).digest('hex').slice(0, 10);
  const prefix = `api-${component}-`;
  const body = d.name.toLowerCase().replace(/[^a-z0-9-]/g, '-').replace(/-+/g, '-').replace(/^-|-$/g, '')
    .slice(0, 63 - prefix.length - h.length - 1).replace(/-$/, '');
  return `${prefix}${body ? `${body}-` : ''}${h}`;
}

function children(component: 'delivery' | 'analytics', d: ApiDefinition, namespace: string, config: Record<string, unknown>, env: unknown[], s: OperatorSettings) {
  const name = apiWorkerName(component, d);
  // The pseudo-owner only names the selector's instance label (the child's own name: unique per definition).
  const owner = { apiVersion: 'v1', kind: 'ApiDefinition', metadata: { name, namespace } };
  const labels = { [API_DEFINITION_LABEL]: component, [API_DEFINITION_UID_LABEL]: labelValue(d.uid) };
  // One replica: API applications run one active replica (docs/analytics.md); a delivery stream's one worker takes every shard.
  return workerChildren(owner, component, name, 1, config, env, s, [], { labels });
}

/** ConfigMap + Deployment running `shardline delivery` for an ACTIVE API-created delivery stream. */
export function apiDeliveryChildren(d: ApiDefinition, namespace: string, s3: ApiDeliveryS3, s: OperatorSettings): { configMap: KubeObject; deployment: KubeObject } {
  const env = s3.secret
    ? [ENV.awsAccessKeyId, ENV.awsSecretAccessKey].map((key) => ({ name: key, valueFrom: { secretKeyRef: { name: s3.secret, key } } }))
    : [];
  const config = { deliveryStreamName: d.name, s3: { endpoint: s3.endpoint, region: s3.region, forcePathStyle: true } };
  return children('delivery', d, namespace, config, env, s);
}

/** ConfigMap + Deployment running `shardline analytics` for an API-created application (the worker follows the record's status). */
export function apiAnalyticsChildren(d: ApiDefinition, namespace: string, s: OperatorSettings, s3?: ApiDeliveryS3): { configMap: KubeObject; deployment: KubeObject } {
  // Reference data (AddApplicationReferenceDataSource) is read from the same object storage, when one is configured.
  const env = s3?.secret
    ? [ENV.awsAccessKeyId, ENV.awsSecretAccessKey].map((key) => ({ name: key, valueFrom: { secretKeyRef: { name: s3.secret, key } } }))
    : [];
  const config = { applicationName: d.name, ...(s3 ? { s3Endpoint: s3.endpoint } : {}) };
  return children('analytics', d, namespace, config, env, s);
}
