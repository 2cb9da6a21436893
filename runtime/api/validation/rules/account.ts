// Account-level operations (not in kinesalite; model order).

import { enumOf } from '../shapes.js';
import type { OperationRules } from '../types.js';

export const accountRules: Record<string, OperationRules> = {
  DescribeLimits: {},
  DescribeAccountSettings: {},
  UpdateAccountSettings: {
    MinimumThroughputBillingCommitment: {
      type: 'Structure',
      notNull: true,
      members: { Status: enumOf(['ENABLED', 'DISABLED'], { notNull: true }) },
    },
  },
};
