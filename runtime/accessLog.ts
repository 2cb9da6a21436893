// One access-log line per request, so a client's error (which carries the
// x-amzn-RequestId) can be matched to the server's view of it.
import type { Logger } from '../common/log.js';
import { secondsSince, type RequestRecord } from './api/requestRecord.js';

export function accessLogger(logger: Logger, enabled: boolean): (r: RequestRecord) => void {
  if (!enabled) return () => undefined;
  const log = logger.child({ log: 'access' });
  return (r) => {
    log.info(
      {
        requestId: r.requestId,
        operation: r.operation,
        stream: r.stream,
        status: r.status,
        errorType: r.errorType,
        latencyMs: Math.round(secondsSince(r.startedAt) * 1e6) / 1000,
        accessKeyId: r.accessKeyId,
      },
      'request',
    );
  };
}
