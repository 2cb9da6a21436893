// The Firehose API (X-Amz-Target Firehose_20150804.<Op>, JSON 1.1) served on
// the Kinesis endpoint: its operation table and validation, plugged into the
// shared handler through runtime/api/services.ts.
import { coerceMembers } from '../validation/coerce.js';
import { checkConstraints } from '../validation/constraints.js';
import { validationError } from '../errors.js';
import type { ApiContext, Params } from '../context.js';
import type { Wire } from '../../http/wire.js';
import { FIREHOSE_RULES } from './rules.js';
import * as ops from './ops.js';

type Op = (ctx: ApiContext, p: Params) => Promise<Record<string, unknown>>;

const OPERATIONS: Record<string, Op> = {
  CreateDeliveryStream: ops.createDeliveryStreamOp,
  DeleteDeliveryStream: ops.deleteDeliveryStreamOp,
  DescribeDeliveryStream: ops.describeDeliveryStreamOp,
  ListDeliveryStreams: ops.listDeliveryStreamsOp,
  UpdateDestination: ops.updateDestinationOp,
  PutRecord: ops.putRecordOp,
  PutRecordBatch: ops.putRecordBatchOp,
  TagDeliveryStream: ops.tagDeliveryStreamOp,
  UntagDeliveryStream: ops.untagDeliveryStreamOp,
  ListTagsForDeliveryStream: ops.listTagsForDeliveryStreamOp,
  StartDeliveryStreamEncryption: ops.startEncryptionOp,
  StopDeliveryStreamEncryption: ops.stopEncryptionOp,
};

export const firehoseService = {
  signingName: 'firehose',
  isKnown: (op: string) => Object.hasOwn(OPERATIONS, op),
  async call(ctx: ApiContext, op: string, body: Record<string, unknown>, wire: Wire): Promise<Record<string, unknown>> {
    const rules = FIREHOSE_RULES[op]!;
    const params = coerceMembers(body, rules, wire);
    const errors = checkConstraints(params, rules);
    if (errors.length) throw validationError(errors);
    return OPERATIONS[op]!(ctx, params);
  },
};
