// L2 construct for a DeliveryStream: Firehose-style delivery of a DataStream
// (wired by object) to one or more destinations.
import { ApiObject, type ApiObjectMetadata } from 'cdk8s';
import { Construct } from 'constructs';
import type { z } from 'zod';
import { API_VERSION } from '../crds/schema/common.js';
import { DeliveryStreamSpec } from '../crds/schema/deliverystream.js';
import type { DataStream } from './dataStream.js';
import type { IDeliveryDestination } from './destinations.js';
import { clean, validateWith } from './validate.js';

type In = z.input<typeof DeliveryStreamSpec>;

export interface DeliveryStreamProps {
  /** Object metadata. @default name generated from the construct path */
  readonly metadata?: ApiObjectMetadata;
  /** The DataStream whose records are delivered. @default none: producers put records directly (DirectPut) */
  readonly source?: DataStream;
  /** Where a new delivery stream starts reading its source. @default 'LATEST' */
  readonly startingPosition?: 'LATEST' | 'TRIM_HORIZON';
  /**
   * Where records go: S3Destination.bucket(...) or HttpDestination.url(...); several are allowed (one of each kind).
   * Parquet: `S3Destination.bucket(b, { format: 'PARQUET', parquet: { schema: { columns } } })` declares the table inline,
   * `parquet: { catalogTable: { databaseName, tableName } }` names a Glue catalog table instead (exactly one of the two).
   */
  readonly destination: IDeliveryDestination | IDeliveryDestination[];
  /** Deliver when either limit is reached. @default { sizeMiB: 5, intervalSeconds: 300 } */
  readonly buffering?: In['buffering'];
  /** Transform records before delivery. @default none */
  readonly processing?: In['processing'];
  /** Delivery worker pods. @default 1 */
  readonly replicas?: In['replicas'];
}

export class DeliveryStream extends Construct {
  readonly apiObject: ApiObject;
  readonly name: string;

  constructor(scope: Construct, id: string, props: DeliveryStreamProps) {
    super(scope, id);
    const dests = Array.isArray(props.destination) ? props.destination : [props.destination];
    const bound = dests.map((d) => d.bind());
    const spec = clean({
      source: props.source
        ? { type: 'DataStream', dataStreamRef: { name: props.source.name }, startingPosition: props.startingPosition }
        : { type: 'DirectPut', startingPosition: props.startingPosition },
      ...Object.assign({}, ...bound),
      buffering: props.buffering,
      processing: props.processing,
      replicas: props.replicas,
    });
    this.apiObject = new ApiObject(this, 'Resource', { apiVersion: API_VERSION, kind: 'DeliveryStream', metadata: props.metadata, spec });
    this.name = this.apiObject.name;
    validateWith(this, DeliveryStreamSpec, () => spec, () => {
      const kinds = bound.flatMap((b) => Object.keys(b).filter((k) => (b as Record<string, unknown>)[k] !== undefined));
      const errors: string[] = [];
      if (!kinds.length) errors.push('destination: at least one (S3Destination or HttpDestination) is required');
      if (new Set(kinds).size !== kinds.length) errors.push('destination: at most one S3 and one HTTP destination');
      const parquet = (spec as { s3?: In['s3'] }).s3?.parquet;
      // The CRD's CEL rule, checked at synth (zod does not run CEL).
      if (parquet && !parquet.schema === !parquet.catalogTable) errors.push('destination: S3 parquet needs exactly one of schema (inline columns) and catalogTable (a Glue catalog table)');
      if (props.source && !sameNamespace(props.source.apiObject, this.apiObject)) errors.push(`source ${props.source.node.path} is in another namespace: a DeliveryStream reads DataStreams of its own namespace`);
      return errors;
    });
  }
}

export const sameNamespace = (a: ApiObject, b: ApiObject) => (a.metadata.namespace ?? '') === (b.metadata.namespace ?? '');
