// What the producer retries, and the error a put() rejects with.

/** Entry- or request-level error codes worth another attempt (throttling, transient server trouble). */
const RETRYABLE = new Set([
  'ProvisionedThroughputExceededException',
  'InternalFailure',
  'InternalFailureException',
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'LimitExceededException',
  'KMSThrottlingException',
  'ThrottlingException',
  'RequestTimeout',
  'RequestTimeoutException',
  'TimeoutError',
]);

const NETWORK = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN', 'ENOTFOUND', 'UND_ERR_SOCKET']);

export function isRetryableCode(code: string | undefined): boolean {
  return code !== undefined && RETRYABLE.has(code);
}

/** A whole PutRecords call failed: retry on throttling, 5xx and connection trouble; not on validation or missing streams. */
export function isRetryableRequestError(e: unknown): boolean {
  const err = e as { name?: string; code?: string; $metadata?: { httpStatusCode?: number } };
  if (isRetryableCode(err.name)) return true;
  if (err.code !== undefined && NETWORK.has(err.code)) return true;
  const status = err.$metadata?.httpStatusCode;
  if (status !== undefined) return status >= 500;
  // No HTTP answer at all: a connection-level failure (refused, reset, timed out) rather than a bad request.
  return !(e instanceof TypeError);
}

export interface AttemptFailure {
  code: string;
  message: string;
}

/** Why a put() was rejected: `code` is the last Kinesis error code, or RecordExpired / ProducerClosed / ValidationError. */
export class ProducerError extends Error {
  override readonly name = 'ProducerError';
  constructor(
    readonly code: string,
    message: string,
    /** PutRecords attempts made for this record. */
    readonly attempts: number,
    /** Every failed attempt's error, oldest first. */
    readonly failures: AttemptFailure[] = [],
  ) {
    super(message);
  }
}

/** Exponential backoff with jitter: uniformly in [d/2, d] where d = base·2^(attempt-1), capped. */
export function backoffMs(attempt: number, baseMs: number, maxMs: number): number {
  const d = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return d / 2 + Math.random() * (d / 2);
}
