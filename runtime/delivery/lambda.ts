// The data-transformation call, speaking the Lambda contract Firehose uses
// (https://docs.aws.amazon.com/firehose/latest/dev/data-transformation.html)
// to an HTTP function: POST the invocation event as JSON, read the records
// back with result Ok / Dropped / ProcessingFailed, retried NumberOfRetries
// times on errors and timeouts.
import { randomUUID } from 'node:crypto';

export interface TransformInput {
  recordId: string;
  arrivalMs: number;
  data: Buffer;
  kinesis?: { shardId: string; partitionKey: string; sequenceNumber: string; subsequenceNumber?: number };
}

export type TransformOutcome =
  | { recordId: string; result: 'Ok'; data: Buffer; partitionKeys?: Record<string, string> }
  | { recordId: string; result: 'Dropped' }
  | { recordId: string; result: 'ProcessingFailed'; errorCode: string; errorMessage: string; attemptsMade: number };

export interface TransformOptions {
  url: string;
  lambdaArn: string;
  deliveryStreamArn: string;
  sourceKinesisStreamArn?: string;
  region: string;
  retries: number;
  timeoutMs: number;
  /** Each invocation (every retry is one): whether it gave a usable response, and how long it took (Firehose ExecuteProcessing.*). */
  onInvocation?: (ok: boolean, ms: number) => void;
}

class InvokeError extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
  }
}

async function invokeOnce(o: TransformOptions, body: string): Promise<unknown> {
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), o.timeoutMs);
  try {
    const res = await fetch(o.url, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body, signal: ctl.signal });
    const text = await res.text();
    if (res.status !== 200) throw new InvokeError('Lambda.FunctionError', `The Lambda function was successfully invoked but it returned an error result (HTTP ${res.status}).`);
    try {
      return JSON.parse(text);
    } catch {
      throw new InvokeError('Lambda.JsonProcessingException', 'The response of the Lambda function is not valid JSON.');
    }
  } catch (e) {
    if (e instanceof InvokeError) throw e;
    if (ctl.signal.aborted) throw new InvokeError('Lambda.FunctionTimedOut', `The Lambda function did not answer within ${o.timeoutMs} ms.`);
    throw new InvokeError('Lambda.InvokeAccessDenied', `The Lambda function could not be invoked: ${(e as Error).message}`);
  } finally {
    clearTimeout(timer);
  }
}

/** Transforms one invocation's worth of records; every input gets exactly one outcome. */
export async function transform(o: TransformOptions, records: TransformInput[]): Promise<TransformOutcome[]> {
  const event: Record<string, unknown> = {
    invocationId: randomUUID(),
    deliveryStreamArn: o.deliveryStreamArn,
    ...(o.sourceKinesisStreamArn ? { sourceKinesisStreamArn: o.sourceKinesisStreamArn } : {}),
    region: o.region,
    records: records.map((r) => ({
      recordId: r.recordId,
      approximateArrivalTimestamp: r.arrivalMs,
      data: r.data.toString('base64'),
      ...(r.kinesis ? {
        kinesisRecordMetadata: {
          shardId: r.kinesis.shardId,
          partitionKey: r.kinesis.partitionKey,
          approximateArrivalTimestamp: r.arrivalMs,
          sequenceNumber: r.kinesis.sequenceNumber,
          subsequenceNumber: r.kinesis.subsequenceNumber ?? '',
        },
      } : {}),
    })),
  };
  const body = JSON.stringify(event);
  let last: InvokeError | undefined;
  for (let attempt = 0; attempt <= o.retries; attempt++) {
    const started = Date.now();
    try {
      const out = await invokeOnce(o, body);
      const result = outcomes(records, out, attempt + 1);
      o.onInvocation?.(true, Date.now() - started);
      return result;
    } catch (e) {
      o.onInvocation?.(false, Date.now() - started);
      last = e instanceof InvokeError ? e : new InvokeError('Lambda.FunctionError', String((e as Error)?.message ?? e));
      if (last.code === 'Lambda.MissingRecordId' || last.code === 'Lambda.InvalidResponse') break;
    }
  }
  return records.map((r) => ({ recordId: r.recordId, result: 'ProcessingFailed', errorCode: last!.code, errorMessage: last!.message, attemptsMade: o.retries + 1 }));
}

function outcomes(records: TransformInput[], out: unknown, attempts: number): TransformOutcome[] {
  const list = (out as { records?: unknown })?.records;
  if (!Array.isArray(list)) throw new InvokeError('Lambda.InvalidResponse', 'The response of the Lambda function has no records array.');
  const byId = new Map<string, Record<string, unknown>>();
  for (const r of list) if (r && typeof r === 'object' && typeof (r as { recordId?: unknown }).recordId === 'string') byId.set((r as { recordId: string }).recordId, r as Record<string, unknown>);
  const missing = records.find((r) => !byId.has(r.recordId));
  if (missing) throw new InvokeError('Lambda.MissingRecordId', `The response of the Lambda function is missing record ${missing.recordId}.`);
  return records.map((r): TransformOutcome => {
    const x = byId.get(r.recordId)!;
    switch (x.result) {
      case 'Ok': {
        const keys = (x.metadata as { partitionKeys?: Record<string, unknown> } | undefined)?.partitionKeys;
        const partitionKeys = keys ? Object.fromEntries(Object.entries(keys).map(([k, v]) => [k, String(v)])) : undefined;
        return { recordId: r.recordId, result: 'Ok', data: Buffer.from(String(x.data ?? ''), 'base64'), partitionKeys };
      }
      case 'Dropped':
        return { recordId: r.recordId, result: 'Dropped' };
      case 'ProcessingFailed':
        return { recordId: r.recordId, result: 'ProcessingFailed', errorCode: 'Lambda.ProcessingFailedStatus', errorMessage: 'ProcessingFailed status set for record', attemptsMade: attempts };
      default:
        return { recordId: r.recordId, result: 'ProcessingFailed', errorCode: 'Lambda.InvalidResultStatus', errorMessage: `Invalid result status ${String(x.result)} for record`, attemptsMade: attempts };
    }
  });
}
