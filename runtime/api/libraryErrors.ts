// The stream library's typed errors (stream/errors.ts) as the Kinesis errors
// clients expect. The only place they are translated; operations wrap their
// library calls with `asKinesis(ctx, op)`.
import {
  InvalidPositionError, KeyUnavailableError, ShardNotFoundError, StreamNotFoundError,
} from '../../stream/errors.js';
import { invalidArgument, KinesisError, resourceNotFound, streamNotFound } from './errors.js';
import type { ApiContext } from './context.js';

export function shardNotFound(ctx: ApiContext, stream: string, shardId: string): KinesisError {
  return resourceNotFound(`Shard ${shardId} in stream ${stream} under account ${ctx.config.accountId} does not exist`);
}

/** The Kinesis error for a library error; anything else unchanged. `op` names the operation in messages that say it. */
export function toKinesisError(ctx: ApiContext, e: unknown, op: string): unknown {
  if (e instanceof KeyUnavailableError) return new KinesisError(e.code, e.message);
  if (e instanceof ShardNotFoundError) return shardNotFound(ctx, e.stream, e.shardId);
  if (e instanceof StreamNotFoundError) return streamNotFound(e.stream, ctx.config.accountId);
  if (e instanceof InvalidPositionError) {
    const r = e.reason;
    switch (r.kind) {
      case 'malformed':
        return invalidArgument(`StartingSequenceNumber ${r.sequenceNumber} used in ${op} on shard ${e.shardId} in stream ${e.stream} under account ${ctx.config.accountId} is invalid.`);
      case 'other-shard':
        return invalidArgument(`Invalid StartingSequenceNumber. It encodes ${r.encodedShardId}, while it was used in a call to a shard with ${e.shardId}`);
      case 'future-timestamp':
        return invalidArgument(`The timestampInMillis parameter cannot be greater than the currentTimestampInMillis. timestampInMillis: ${r.timestampMs}, currentTimestampInMillis: ${r.nowMs}`);
    }
  }
  return e;
}

/** For promise chains: `.catch(asKinesis(ctx, 'GetRecords'))`. */
export const asKinesis = (ctx: ApiContext, op: string) => (e: unknown): never => {
  throw toKinesisError(ctx, e, op);
};
