// What is known about one request when it ends: the access-log line and the
// request metrics are both made from it.
import type { Params } from './context.js';

export interface RequestRecord {
  /** The x-amzn-RequestId the client received. */
  requestId: string;
  startedAt: bigint;
  /** X-Amz-Target operation, or `GET /path` for the health and metrics routes. */
  operation?: string;
  stream?: string;
  /** HTTP status sent; 0 when the client went away before an answer was complete. */
  status: number;
  /** `__type` of the error answered (or RequestTimeout / ClientAborted). */
  errorType?: string;
  /** SigV4 access key id of the caller, when auth is on and the signature checked out. */
  accessKeyId?: string;
}

const ARN_NAME = /:(?:stream|deliverystream)\/([^/]+)/;

/** The stream a validated request names (StreamName, or the name part of StreamARN / ConsumerARN). */
export function streamLabel(p: Params): string | undefined {
  if (typeof p.StreamName === 'string') return p.StreamName;
  for (const k of ['StreamARN', 'ResourceARN', 'ConsumerARN']) {
    const v = p[k];
    if (typeof v === 'string') return ARN_NAME.exec(v)?.[1];
  }
  return undefined;
}

export const secondsSince = (startedAt: bigint) => Number(process.hrtime.bigint() - startedAt) / 1e9;
