// L2 construct for an AnalyticsApp: continuous SQL over DataStreams or
// DeliveryStreams (wired by object), writing in-application streams to DataStreams, DeliveryStreams,
// HTTP endpoints or Lambda-contract functions.
import { ApiObject, type ApiObjectMetadata } from 'cdk8s';
import { Construct } from 'constructs';
import type { z } from 'zod';
import { API_VERSION } from '../crds/schema/common.js';
import { AnalyticsAppSpec, type AnalyticsInput, type ColumnMapping } from '../crds/schema/analyticsapp.js';
import { DataStream } from './dataStream.js';
import { DeliveryStream, sameNamespace } from './deliveryStream.js';
import { clean, validateWith } from './validate.js';

type In = z.input<typeof AnalyticsAppSpec>;

export interface AnalyticsInputProps {
  /** The DataStream read, or a DeliveryStream whose records are read (KDA KinesisFirehoseInput). */
  readonly stream: DataStream | DeliveryStream;
  /** In-application stream name. @default SOURCE_SQL_STREAM_001 (002, ... for further inputs) */
  readonly name?: string;
  /** Record format. @default 'JSON' */
  readonly format?: z.input<typeof AnalyticsInput>['format'];
  /** Where a new application starts reading. @default 'LATEST' */
  readonly startingPosition?: 'LATEST' | 'TRIM_HORIZON';
  /** In-application streams for this input (KDA InputParallelism, 1–64; default 1). */
  readonly parallelism?: number;
  /** Record fields mapped to SQL columns. */
  readonly columns: z.input<typeof ColumnMapping>[];
}

/** A function speaking the Kinesis Data Analytics Lambda output contract (KDA LambdaOutput). */
export interface AnalyticsFunctionTarget {
  /** URL the function is reached at. */
  readonly functionUrl: string;
  /** Lambda ARN the application description shows (LambdaOutput.ResourceARN). @default the URL */
  readonly functionArn?: string;
}

export interface AnalyticsOutputProps {
  /** In-application stream whose rows are emitted. @default 'DESTINATION_SQL_STREAM' */
  readonly name?: string;
  /** Where the rows go: a DataStream, a DeliveryStream, `{ url }` to POST them to, or `{ functionUrl }` for a Lambda-contract function. */
  readonly to: DataStream | DeliveryStream | { readonly url: string } | AnalyticsFunctionTarget;
  /** Row format. @default 'JSON' */
  readonly format?: 'JSON' | 'CSV';
}

export interface AnalyticsAppProps {
  /** Object metadata. @default name generated from the construct path */
  readonly metadata?: ApiObjectMetadata;
  /** Application SQL (CREATE STREAM / CREATE PUMP statements). */
  readonly sql: In['sql'];
  readonly inputs: AnalyticsInputProps[];
  /** @default none */
  readonly outputs?: AnalyticsOutputProps[];
  /** Analytics worker pods. @default 1 */
  readonly replicas?: In['replicas'];
}

export class AnalyticsApp extends Construct {
  readonly apiObject: ApiObject;
  readonly name: string;

  constructor(scope: Construct, id: string, props: AnalyticsAppProps) {
    super(scope, id);
    const spec = clean({
      sql: props.sql,
      // inputs and outputs are atomic lists: items carry the fields the CRD would
      // default, so the stored list equals the applied one and a re-apply is a
      // no-op (an apiserver before 1.22 otherwise rewrites managedFields each time).
      inputs: props.inputs.map((i, n) => ({
        name: i.name ?? `SOURCE_SQL_STREAM_${String(n + 1).padStart(3, '0')}`,
        ...(i.stream instanceof DeliveryStream ? { deliveryStreamRef: { name: i.stream.name } } : { dataStreamRef: { name: i.stream.name } }), format: i.format ?? 'JSON', startingPosition: i.startingPosition ?? 'LATEST', parallelism: i.parallelism ?? 1, columns: i.columns,
      })),
      outputs: (props.outputs ?? []).map((o) => ({
        name: o.name ?? 'DESTINATION_SQL_STREAM',
        format: o.format ?? 'JSON',
        ...(o.to instanceof DataStream ? { dataStreamRef: { name: o.to.name } }
          : o.to instanceof DeliveryStream ? { deliveryStreamRef: { name: o.to.name } }
          : 'functionUrl' in o.to ? { lambda: { functionUrl: o.to.functionUrl, ...(o.to.functionArn !== undefined ? { functionArn: o.to.functionArn } : {}) } }
          : { http: { url: o.to.url } }),
      })),
      replicas: props.replicas,
    });
    this.apiObject = new ApiObject(this, 'Resource', { apiVersion: API_VERSION, kind: 'AnalyticsApp', metadata: props.metadata, spec });
    this.name = this.apiObject.name;
    validateWith(this, AnalyticsAppSpec, () => spec, () => {
      const refs = [...props.inputs.map((i) => i.stream), ...(props.outputs ?? []).map((o) => o.to)]
        .filter((x): x is DataStream | DeliveryStream => x instanceof DataStream || x instanceof DeliveryStream);
      return refs.filter((r) => !sameNamespace(r.apiObject, this.apiObject)).map((r) => `${r.node.path} is in another namespace: an AnalyticsApp uses streams of its own namespace`);
    });
  }
}
