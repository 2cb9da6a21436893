// Delivery to an HTTP endpoint as Firehose's "HTTP endpoint delivery request
// and response specifications" (v1.0) describe it: one POST per flush with
// {requestId, timestamp, records:[{data}]} (optionally gzip), the
// X-Amz-Firehose-* headers, the same request id on every retry (receivers can
// de-duplicate), success only on 200 echoing the request id, 413 permanent,
// other failures retried with backoff 1 s·2ⁿ ±15 % (at most 120 s) while the
// retry duration lasts.
import zlib from 'node:zlib';
import type { HttpDestinationDef } from '../../stream/deliveryStreams.js';

export type HttpOutcome =
  | { ok: true; attempts: number }
  | { ok: false; attempts: number; errorCode: string; errorMessage: string };

const MAX_BACKOFF_MS = 120_000;
const REQUEST_TIMEOUT_MS = 180_000;

export async function deliverHttp(
  h: HttpDestinationDef,
  records: { data: Buffer }[],
  o: { requestId: string; sourceArn: string; signal: AbortSignal; log: (m: string) => void; backoffUnitMs?: number },
): Promise<HttpOutcome> {
  const started = Date.now();
  const unit = o.backoffUnitMs ?? 1000;
  const headers: Record<string, string> = {
    'Content-Type': 'application/json',
    'X-Amz-Firehose-Protocol-Version': '1.0',
    'X-Amz-Firehose-Request-Id': o.requestId,
    'X-Amz-Firehose-Source-Arn': o.sourceArn,
  };
  if (h.AccessKey) headers['X-Amz-Firehose-Access-Key'] = h.AccessKey;
  if (h.CommonAttributes.length) {
    headers['X-Amz-Firehose-Common-Attributes'] = JSON.stringify({ commonAttributes: Object.fromEntries(h.CommonAttributes.map((a) => [a.AttributeName, a.AttributeValue])) });
  }
  if (h.ContentEncoding === 'GZIP') headers['Content-Encoding'] = 'gzip';
  let last: { code: string; message: string } = { code: 'HttpEndpoint.RequestTimeout', message: 'no attempt made' };
  for (let attempt = 0; ; attempt++) {
    const json = JSON.stringify({ requestId: o.requestId, timestamp: Date.now(), records: records.map((r) => ({ data: r.data.toString('base64') })) });
    const body = h.ContentEncoding === 'GZIP' ? zlib.gzipSync(json) : Buffer.from(json);
    try {
      const res = await fetch(h.Url, { method: 'POST', headers, body, signal: AbortSignal.any([o.signal, AbortSignal.timeout(REQUEST_TIMEOUT_MS)]) });
      const text = await res.text();
      if (res.status === 200) {
        let echoed: unknown;
        try {
          echoed = (JSON.parse(text) as { requestId?: unknown }).requestId;
        } catch {
          echoed = undefined;
        }
        if (echoed === o.requestId) return { ok: true, attempts: attempt + 1 };
        last = { code: 'HttpEndpoint.InvalidResponseFromDestination', message: `The response did not echo request id ${o.requestId}.` };
      } else if (res.status === 413) {
        return { ok: false, attempts: attempt + 1, errorCode: 'HttpEndpoint.PayloadTooLarge', errorMessage: `The endpoint answered 413: ${text.slice(0, 200)}` };
      } else {
        last = { code: 'HttpEndpoint.ResponseFailed', message: `The endpoint answered ${res.status}: ${text.slice(0, 200)}` };
      }
    } catch (e) {
      if (o.signal.aborted) throw e;
      last = { code: 'HttpEndpoint.RequestTimeout', message: `The endpoint could not be reached: ${(e as Error).message}` };
    }
    const jitter = 1 + (Math.random() * 0.3 - 0.15);
    const delay = Math.min(MAX_BACKOFF_MS, unit * 2 ** attempt) * jitter;
    if (Date.now() + delay - started > h.RetryDurationInSeconds * 1000) {
      return { ok: false, attempts: attempt + 1, errorCode: last.code, errorMessage: last.message };
    }
    o.log(`http ${h.Url}: ${last.message} (attempt ${attempt + 1}); retrying in ${Math.round(delay)} ms`);
    await new Promise((r) => setTimeout(r, delay));
  }
}
