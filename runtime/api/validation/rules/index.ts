// Every operation's input rules, keyed by the X-Amz-Target operation name.

import type { OperationRules } from '../types.js';
import { accountRules } from './account.js';
import { consumerRules } from './consumers.js';
import { policyRules } from './policies.js';
import { recordRules } from './records.js';
import { shardRules } from './shards.js';
import { streamRules } from './streams.js';
import { tagRules } from './tags.js';

export const RULES: Readonly<Record<string, OperationRules>> = Object.freeze({
  ...streamRules,
  ...shardRules,
  ...recordRules,
  ...consumerRules,
  ...tagRules,
  ...policyRules,
  ...accountRules,
});
