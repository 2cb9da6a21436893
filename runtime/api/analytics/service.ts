// The Kinesis Data Analytics (SQL) API as a service on the shared endpoint
// (services.ts): its operation table, validated inside each operation, and the
// SigV4 name its clients sign with.
import type { Service } from '../service.js';
import { NO_OUTPUT } from '../context.js';
import { ANALYTICS_OPERATIONS } from './operations.js';

export const analyticsService: Service = {
  signingName: 'kinesisanalytics',
  isKnown: (op) => Object.hasOwn(ANALYTICS_OPERATIONS, op),
  async call(ctx, op, body) {
    const out = await ANALYTICS_OPERATIONS[op]!(ctx, body);
    // Void operations of this API answer an empty JSON object.
    return out === NO_OUTPUT ? {} : out;
  },
};
