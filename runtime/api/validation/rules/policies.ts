// Resource-policy operations (not in kinesalite; model order).

import { resourceArn, streamId, string } from '../shapes.js';
import type { OperationRules } from '../types.js';

const target = (): OperationRules => ({
  ResourceARN: resourceArn({ notNull: true }),
  StreamId: streamId(),
});

export const policyRules: Record<string, OperationRules> = {
  GetResourcePolicy: target(),
  DeleteResourcePolicy: target(),
  PutResourcePolicy: {
    ResourceARN: resourceArn({ notNull: true }),
    Policy: string(undefined, undefined, { notNull: true }),
    StreamId: streamId(),
  },
};
