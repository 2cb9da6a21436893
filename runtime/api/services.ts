// Services other than Kinesis answered on the same endpoint, by X-Amz-Target
// prefix. Each brings its own operations and validation; the handler keeps
// framing, authentication and error encoding common.
import type { Service } from './service.js';
import { firehoseService } from './firehose/service.js';
import { analyticsService } from './analytics/service.js';
import { glueService } from './glue/service.js';

export type { Service };

export const SERVICES: Record<string, Service> = {
  Firehose_20150804: firehoseService,
  KinesisAnalytics_20150814: analyticsService,
  AWSGlue: glueService,
};
