// CORS for browser apps using the AWS SDK for JavaScript, as Kinesis answers
// them: any origin may call (requests are authorised by SigV4, not by origin),
// a preflight is answered before any other check, and every response to a
// request with an Origin exposes the x-amz* headers the SDK reads.
import type { Request, Response } from './server.js';

const EXPOSE = 'x-amzn-RequestId,x-amzn-ErrorType,x-amz-request-id,x-amz-id-2,x-amzn-ErrorMessage,Date';
const ALLOW_HEADERS =
  'authorization,content-type,content-length,x-amz-content-sha256,x-amz-date,x-amz-security-token,x-amz-target,x-amz-user-agent,amz-sdk-invocation-id,amz-sdk-request';
/** Two days, as AWS sends it. */
const MAX_AGE = '172800';

/**
 * Adds the CORS headers a request with an Origin gets; answers a preflight
 * (OPTIONS with an Origin) itself and returns true then.
 */
export function applyCors(req: Request, res: Response): boolean {
  if (!req.headers.origin) return false;
  res.setHeader('Access-Control-Allow-Origin', '*');
  if (req.method !== 'OPTIONS') {
    res.setHeader('Access-Control-Expose-Headers', EXPOSE);
    return false;
  }
  const askedHeaders = req.headers['access-control-request-headers'];
  const askedMethod = req.headers['access-control-request-method'];
  res.setHeader('Access-Control-Allow-Headers', typeof askedHeaders === 'string' && askedHeaders !== '' ? askedHeaders : ALLOW_HEADERS);
  res.setHeader('Access-Control-Allow-Methods', typeof askedMethod === 'string' && askedMethod !== '' ? askedMethod : 'POST');
  res.setHeader('Access-Control-Expose-Headers', EXPOSE);
  res.setHeader('Access-Control-Max-Age', MAX_AGE);
  res.setHeader('Content-Length', '0');
  res.statusCode = 200;
  res.end();
  return true;
}
