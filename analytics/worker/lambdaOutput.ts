// A LambdaOutput: result rows POSTed to an HTTP function speaking the Kinesis
// Data Analytics "Lambda as output" contract
// (https://docs.aws.amazon.com/kinesisanalytics/latest/dev/how-it-works-output-lambda.html):
//   request  {invocationId, applicationArn, records: [{recordId, lambdaDeliveryRecordMetadata: {retryHint}, data (base64)}]}
//   response {records: [{recordId, result: "Ok" | "DeliveryFailed"}]}
// Records answered DeliveryFailed (or not answered at all, or the whole call
// failing) are sent again in a new invocation with retryHint raised by one,
// until the function takes them. Like KDA, this is at-least-once: the
// function may see a record twice (after a worker restart, or when it failed
// after doing the work); recordIds stay the same across retries and restarts,
// so a function can drop repeats.
import { randomUUID } from 'node:crypto';

/** One record as the function receives it; `data` is the formatted row (JSON or CSV). */
export interface LambdaRecord { recordId: string; data: string /* base64 */ }

export interface LambdaTarget { url: string; applicationArn: string; timeoutMs: number }

/** The function's URL: the destination itself when it is an http(s) URL, otherwise the worker config's ARN → URL map. */
export function functionUrl(arnOrUrl: string, functions: Record<string, string>): string {
  if (/^https?:\/\//.test(arnOrUrl)) return arnOrUrl;
  const url = functions[arnOrUrl] ?? functions[arnOrUrl.replace(/:(\$LATEST|\d+|[A-Za-z0-9_-]+)$/, '')];
  if (!url) throw new Error(`no URL for Lambda function ${arnOrUrl}: map it under "functions" in the analytics worker config`);
  return url;
}

/** KDA sends at most 500 records and 6 MB (Lambda's synchronous payload limit) per invocation. */
const MAX_RECORDS = 500;
const MAX_BYTES = 5 * 1024 * 1024;

export function invocations(records: LambdaRecord[]): LambdaRecord[][] {
  const out: LambdaRecord[][] = [];
  let cur: LambdaRecord[] = [];
  let bytes = 0;
  for (const r of records) {
    const size = r.data.length + r.recordId.length + 80;
    if (cur.length && (cur.length >= MAX_RECORDS || bytes + size > MAX_BYTES)) {
      out.push(cur);
      cur = [];
      bytes = 0;
    }
    cur.push(r);
    bytes += size;
  }
  if (cur.length) out.push(cur);
  return out;
}

/**
 * One invocation; resolves with the recordIds the function did not accept
 * (DeliveryFailed or missing from its answer). A transport error, a non-200
 * status, a timeout or a malformed answer fails every record of the call.
 */
export async function invokeOutput(t: LambdaTarget, records: LambdaRecord[], retryHint: Map<string, number>): Promise<{ failed: string[]; error?: string }> {
  const body = JSON.stringify({
    invocationId: randomUUID(),
    applicationArn: t.applicationArn,
    records: records.map((r) => ({ recordId: r.recordId, lambdaDeliveryRecordMetadata: { retryHint: retryHint.get(r.recordId) ?? 0 }, data: r.data })),
  });
  const all = records.map((r) => r.recordId);
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), t.timeoutMs);
  try {
    const res = await fetch(t.url, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body, signal: ctl.signal });
    const text = await res.text();
    if (res.status !== 200) return { failed: all, error: `function answered HTTP ${res.status}` };
    let answer: { records?: { recordId?: unknown; result?: unknown }[] };
    try {
      answer = JSON.parse(text);
    } catch {
      return { failed: all, error: 'function response is not valid JSON' };
    }
    const ok = new Set((answer.records ?? []).filter((r) => r.result === 'Ok').map((r) => String(r.recordId)));
    return { failed: all.filter((id) => !ok.has(id)) };
  } catch (e) {
    return { failed: all, error: ctl.signal.aborted ? `function did not answer within ${t.timeoutMs} ms` : `function could not be invoked: ${(e as Error).message}` };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Delivers every record, retrying the failed ones (retryHint + 1 each time,
 * backoff up to 5 s) until the function accepts them or `signal` aborts (then
 * it throws, and the records stay in the checkpoint for the next run).
 */
export async function deliverToFunction(
  t: LambdaTarget, records: LambdaRecord[], signal: AbortSignal, log: (m: string) => void,
): Promise<{ invocations: number; retried: number }> {
  const retryHint = new Map<string, number>();
  let left = records;
  let calls = 0;
  let retried = 0;
  for (let round = 0; left.length; round++) {
    if (signal.aborted) throw new Error('stopped with Lambda output records undelivered');
    const failed = new Set<string>();
    for (const batch of invocations(left)) {
      calls++;
      const r = await invokeOutput(t, batch, retryHint);
      if (r.error) log(`Lambda output ${t.url}: ${r.error}; ${r.failed.length} record(s) will be retried`);
      for (const id of r.failed) failed.add(id);
    }
    left = left.filter((r) => failed.has(r.recordId));
    for (const r of left) retryHint.set(r.recordId, (retryHint.get(r.recordId) ?? 0) + 1);
    retried += left.length;
    if (left.length) await abortableSleep(Math.min(5000, 100 * 2 ** Math.min(round, 6)), signal);
  }
  return { invocations: calls, retried };
}

const abortableSleep = (ms: number, signal: AbortSignal) => new Promise<void>((resolve) => {
  const t = setTimeout(resolve, ms);
  signal.addEventListener('abort', () => { clearTimeout(t); resolve(); }, { once: true });
});
