// The Glue Data Catalog subset (ops.ts) as a service on the shared endpoint
// (services.ts): X-Amz-Target AWSGlue.<Op>, signed for `glue`.
import type { Service } from '../service.js';
import { GLUE_OPERATIONS } from './ops.js';

export const glueService: Service = {
  signingName: 'glue',
  isKnown: (op) => Object.hasOwn(GLUE_OPERATIONS, op),
  call: (ctx, op, body) => GLUE_OPERATIONS[op]!(ctx, body),
};
