// Event source mapping settings, with Lambda's names, defaults and ranges.
import type { FailureDestination } from './failure.js';

export interface EventSourceMappingSettings {
  /** Records per invocation, 1–10,000 (default 100). */
  batchSize?: number;
  /** How long to gather records before invoking, 0–300 s (default 0: invoke with what is there). */
  maximumBatchingWindowInSeconds?: number;
  /** Concurrent batches per shard, 1–10 (default 1); records of one partition key stay in order. */
  parallelizationFactor?: number;
  /** Split a failed batch in two and retry the halves (does not count against the retries). */
  bisectBatchOnFunctionError?: boolean;
  /** -1 (default: until the records expire) or 0–10,000. */
  maximumRetryAttempts?: number;
  /** -1 (default) or 60–604,800 s: older records are discarded, not sent to the function. */
  maximumRecordAgeInSeconds?: number;
  /** Receives the shard and sequence range of every discarded batch. */
  onFailure?: FailureDestination;
  /** Shown in the failure records' requestContext. */
  functionArn?: string;
  /** Shown in the failure records' KinesisBatchInfo. */
  streamArn?: string;
  /** Pause before a retry, doubled each time up to 30 s (default 1000 ms). */
  retryDelayMs?: number;
}

/** Invocation payload limit: the Lambda event of a batch stays below it. */
export const MAX_PAYLOAD_BYTES = 6 * 1024 * 1024;

export class InvalidSettingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidParameterValueException';
  }
}

function check(name: string, v: number | undefined, ok: (v: number) => boolean, range: string): void {
  if (v !== undefined && (!Number.isInteger(v) || !ok(v))) throw new InvalidSettingError(`${name} must be ${range}, got ${v}`);
}

export function validateSettings(s: EventSourceMappingSettings): void {
  check('BatchSize', s.batchSize, (v) => v >= 1 && v <= 10_000, 'between 1 and 10000');
  check('MaximumBatchingWindowInSeconds', s.maximumBatchingWindowInSeconds, (v) => v >= 0 && v <= 300, 'between 0 and 300');
  check('ParallelizationFactor', s.parallelizationFactor, (v) => v >= 1 && v <= 10, 'between 1 and 10');
  check('MaximumRetryAttempts', s.maximumRetryAttempts, (v) => v >= -1 && v <= 10_000, '-1 or between 0 and 10000');
  check('MaximumRecordAgeInSeconds', s.maximumRecordAgeInSeconds, (v) => v === -1 || (v >= 60 && v <= 604_800), '-1 or between 60 and 604800');
}
