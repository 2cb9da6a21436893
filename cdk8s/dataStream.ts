// L2 construct for a DataStream (shardline.dev/v1alpha1): one Kinesis stream.
import { ApiObject, type ApiObjectMetadata } from 'cdk8s';
import { Construct } from 'constructs';
import type { z } from 'zod';
import { API_VERSION } from '../crds/schema/common.js';
import { DataStreamSpec } from '../crds/schema/datastream.js';
import { clean, validateWith } from './validate.js';

type In = z.input<typeof DataStreamSpec>;

export interface DataStreamProps {
  /** Object metadata. @default name generated from the construct path (stable across synths) */
  readonly metadata?: ApiObjectMetadata;
  /** Stream name Kinesis clients use; unique per install. Immutable. @default metadata.name */
  readonly streamName?: In['streamName'];
  /** Capacity mode. @default 'PROVISIONED' */
  readonly mode?: In['mode'];
  /** PROVISIONED: open shards; ON_DEMAND: the initial count. @default 1 */
  readonly shards?: In['shards'];
  /** ON_DEMAND shard bounds. @default { minShards: 1, maxShards: 64 } */
  readonly onDemand?: In['onDemand'];
  /** Hours records stay readable (24 to 8760). @default 24 */
  readonly retentionHours?: In['retentionHours'];
  /** JetStream replicas of each shard: 1 or 3 (needs the 3-server NATS). Immutable. @default 3 */
  readonly replicas?: In['replicas'];
  /** Enforce Kinesis per-shard quotas. @default true */
  readonly enforceQuotas?: In['enforceQuotas'];
  /** Enhanced fan-out consumers to register. @default none */
  readonly consumers?: In['consumers'];
  /** Server-side encryption with a key held in a Secret. @default unencrypted */
  readonly encryption?: In['encryption'];
  /** SigV4 authentication with access keys held in a Secret. @default unauthenticated */
  readonly auth?: In['auth'];
  /** Tags recorded on the stream. @default none */
  readonly tags?: In['tags'];
  /** What deleting the DataStream does to its data. @default 'Delete' */
  readonly deletionPolicy?: In['deletionPolicy'];
  /** Which runtime serves the stream. @default the install's shared endpoint */
  readonly runtime?: In['runtime'];
}

export class DataStream extends Construct {
  readonly apiObject: ApiObject;
  /** metadata.name of the DataStream object. */
  readonly name: string;
  /** The stream name Kinesis clients use. */
  readonly streamName: string;

  constructor(scope: Construct, id: string, props: DataStreamProps = {}) {
    super(scope, id);
    const { metadata, ...spec } = props;
    this.apiObject = new ApiObject(this, 'Resource', { apiVersion: API_VERSION, kind: 'DataStream', metadata, spec: clean(spec) });
    this.name = this.apiObject.name;
    this.streamName = props.streamName ?? this.name;
    validateWith(this, DataStreamSpec, () => spec);
  }
}
