// Services besides Kinesis Data Streams answered on the same endpoint, keyed by
// the X-Amz-Target prefix. Each brings its own operation table; the handler
// applies the same framing, auth and error shapes to all of them.
import type { Operation } from './context.js';
import { ANALYTICS_OPERATIONS } from './analytics/operations.js';

export const SERVICES: Record<string, Record<string, Operation>> = {
  KinesisAnalytics_20150814: ANALYTICS_OPERATIONS,
};
