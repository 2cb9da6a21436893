// Services other than Kinesis answered on the same endpoint, by X-Amz-Target
// prefix. Each brings its own operations and validation; the handler keeps
// framing, authentication and error encoding common.
import type { Wire } from '../http/wire.js';
import type { ApiContext } from './context.js';
import { firehoseService } from './firehose/service.js';
import { analyticsService } from './analytics/service.js';

export interface Service {
  /** The SigV4 service name the credential scope must name. */
  signingName: string;
  isKnown(op: string): boolean;
  call(ctx: ApiContext, op: string, body: Record<string, unknown>, wire: Wire): Promise<Record<string, unknown>>;
}

export const SERVICES: Record<string, Service> = {
  Firehose_20150804: firehoseService,
  KinesisAnalytics_20150814: analyticsService,
};
