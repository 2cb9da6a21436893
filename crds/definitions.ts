// The three CustomResourceDefinitions, built from the zod schemas. This is the
// only place CRD YAML comes from: `npm run gen:crds` writes it to crds/*.yaml.
import { z } from 'zod';
import { GROUP, VERSION } from './schema/common.js';
import { DataStreamSpec, DataStreamStatus } from './schema/datastream.js';
import { DeliveryStreamSpec, WorkerStatus } from './schema/deliverystream.js';
import { AnalyticsAppSpec, AnalyticsAppStatus } from './schema/analyticsapp.js';
import { toStructural, type JsonSchema } from './structural.js';

export interface KindInfo {
  kind: string;
  plural: string;
  singular: string;
  shortNames: string[];
  description: string;
  spec: z.ZodType;
  status: z.ZodType;
  scale: { specReplicasPath: string; statusReplicasPath: string; labelSelectorPath?: string };
  columns: { name: string; type: string; jsonPath: string; description: string; priority?: number }[];
}

const readyColumn = { name: 'Ready', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].status', description: 'Ready condition status.' };
const reasonColumn = { name: 'Reason', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].reason', description: 'Ready condition reason.', priority: 1 };
const ageColumn = { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp', description: 'Time since creation.' };

export const KINDS: KindInfo[] = [
  {
    kind: 'DataStream', plural: 'datastreams', singular: 'datastream', shortNames: ['kds', 'dstream'],
    description: 'DataStream is a Kinesis-style stream of ordered shards, stored in NATS JetStream and served by the install\'s shared Kinesis endpoint or a dedicated runtime.',
    spec: DataStreamSpec, status: DataStreamStatus,
    scale: { specReplicasPath: '.spec.shards', statusReplicasPath: '.status.shardCount', labelSelectorPath: '.status.selector' },
    columns: [
      readyColumn,
      { name: 'Mode', type: 'string', jsonPath: '.spec.mode', description: 'Capacity mode.' },
      { name: 'Shards', type: 'integer', jsonPath: '.status.shardCount', description: 'Open shards.' },
      { name: 'Retention', type: 'integer', jsonPath: '.spec.retentionHours', description: 'Retention in hours.' },
      { name: 'Endpoint', type: 'string', jsonPath: '.status.endpoint', description: 'In-cluster Kinesis API endpoint.', priority: 1 },
      reasonColumn,
      ageColumn,
    ],
  },
  {
    kind: 'DeliveryStream', plural: 'deliverystreams', singular: 'deliverystream', shortNames: ['kdf', 'dlv'],
    description: 'DeliveryStream delivers the records of a DataStream (or records put directly) to S3 and/or an HTTP endpoint, Firehose style.',
    spec: DeliveryStreamSpec, status: WorkerStatus,
    scale: { specReplicasPath: '.spec.replicas', statusReplicasPath: '.status.replicas', labelSelectorPath: '.status.selector' },
    columns: [
      readyColumn,
      { name: 'Source', type: 'string', jsonPath: '.spec.source.dataStreamRef.name', description: 'Source DataStream.' },
      { name: 'Bucket', type: 'string', jsonPath: '.spec.s3.bucket', description: 'S3 bucket.' },
      { name: 'Replicas', type: 'integer', jsonPath: '.status.replicas', description: 'Ready worker pods.' },
      reasonColumn,
      ageColumn,
    ],
  },
  {
    kind: 'AnalyticsApp', plural: 'analyticsapps', singular: 'analyticsapp', shortNames: ['kda'],
    description: 'AnalyticsApp runs continuous SQL over DataStreams and writes the results to streams or endpoints.',
    spec: AnalyticsAppSpec, status: AnalyticsAppStatus,
    scale: { specReplicasPath: '.spec.replicas', statusReplicasPath: '.status.replicas', labelSelectorPath: '.status.selector' },
    columns: [
      readyColumn,
      { name: 'Inputs', type: 'string', jsonPath: '.spec.inputs[*].dataStreamRef.name', description: 'Input DataStreams.' },
      { name: 'Replicas', type: 'integer', jsonPath: '.status.replicas', description: 'Ready worker pods.' },
      reasonColumn,
      ageColumn,
    ],
  },
];

function schemaOf(t: z.ZodType): JsonSchema {
  return toStructural(z.toJSONSchema(t, { io: 'input', unrepresentable: 'throw' }) as JsonSchema);
}

export function buildCrd(k: KindInfo): Record<string, unknown> {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${k.plural}.${GROUP}`, labels: { 'app.kubernetes.io/part-of': 'shardline' } },
    spec: {
      group: GROUP,
      scope: 'Namespaced',
      names: { kind: k.kind, listKind: `${k.kind}List`, plural: k.plural, singular: k.singular, shortNames: k.shortNames, categories: ['shardline'] },
      versions: [{
        name: VERSION,
        served: true,
        storage: true,
        schema: {
          openAPIV3Schema: {
            type: 'object',
            description: k.description,
            required: ['spec'],
            properties: {
              apiVersion: { type: 'string', description: 'APIVersion of this object: shardline.dev/v1alpha1.' },
              kind: { type: 'string', description: `Kind of this object: ${k.kind}.` },
              metadata: { type: 'object' },
              spec: { ...schemaOf(k.spec), description: `Desired state of the ${k.kind}.` },
              status: { ...schemaOf(k.status), description: `Observed state of the ${k.kind}, written by the operator.` },
            },
          },
        },
        subresources: { status: {}, scale: k.scale },
        additionalPrinterColumns: k.columns,
      }],
    },
  };
}

export const buildCrds = () => KINDS.map(buildCrd);
