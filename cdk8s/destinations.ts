// Where a DeliveryStream delivers: S3 (any S3-protocol store, e.g. the install's
// MinIO) or an HTTP endpoint. Built with static factories, cdk8s-plus style.
import type { z } from 'zod';
import type { HttpEndpointDestination, S3Destination as S3Spec } from '../crds/schema/deliverystream.js';

type S3In = z.input<typeof S3Spec>;
type HttpIn = z.input<typeof HttpEndpointDestination>;

/** A bucket and how to reach it. */
export interface S3Bucket {
  readonly bucketName: string;
  /** S3 endpoint URL. @default AWS S3 for the region */
  readonly endpoint?: string;
  /** @default 'us-east-1' */
  readonly region?: string;
  /** Secret with AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY. @default the pod's ambient credentials */
  readonly credentialsSecretName?: string;
}

export type S3DestinationOptions = Omit<S3In, 'bucket' | 'endpoint' | 'region' | 'credentialsSecretRef'>;
export type HttpDestinationOptions = Omit<HttpIn, 'url'>;

export interface IDeliveryDestination {
  /** The DeliveryStream spec fields this destination sets. */
  bind(): { s3?: S3In; http?: HttpIn };
}

export class S3Destination implements IDeliveryDestination {
  /** Deliver to a bucket, e.g. `S3Destination.bucket(lake, { prefix: 'clicks/!{timestamp:yyyy/MM/dd}/' })`. */
  static bucket(bucket: S3Bucket | string, options: S3DestinationOptions = {}): S3Destination {
    return new S3Destination(typeof bucket === 'string' ? { bucketName: bucket } : bucket, options);
  }
  private constructor(readonly bucket: S3Bucket, private readonly options: S3DestinationOptions) {}
  bind() {
    const b = this.bucket;
    return { s3: { bucket: b.bucketName, endpoint: b.endpoint, region: b.region, credentialsSecretRef: b.credentialsSecretName, ...this.options } };
  }
}

export class HttpDestination implements IDeliveryDestination {
  /** Deliver to an HTTP endpoint speaking the Firehose HTTP endpoint delivery protocol. */
  static url(url: string, options: HttpDestinationOptions = {}): HttpDestination {
    return new HttpDestination(url, options);
  }
  private constructor(readonly url: string, private readonly options: HttpDestinationOptions) {}
  bind() { return { http: { url: this.url, ...this.options } }; }
}
