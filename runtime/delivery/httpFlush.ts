// One flush to an HTTP endpoint destination, as Firehose does it:
//   - the processing chain (RecordDeAggregation → Lambda → AppendDelimiterToRecord;
//     no dynamic partitioning, which is S3's) runs on the source records;
//   - transformed records (Ok) go in one request; Dropped ones nowhere;
//     ProcessingFailed ones to the backup bucket's error prefix as
//     processing-failed JSON lines;
//   - S3BackupMode AllData copies the source records (untransformed, as
//     Firehose's source record backup) to the backup bucket's prefix;
//   - a request that fails past RetryOptions sends what it carried to the
//     error prefix as http-endpoint-failed.
// Every name derives from the flush's record range, and the request id too,
// so a replayed flush sends the same request id and writes the same keys.
import type { HttpDestinationDef } from '../../stream/deliveryStreams.js';
import { deliverHttp } from './httpEndpoint.js';
import type { DeliveryMetrics } from './metrics.js';
import { derivedUuid } from './objectName.js';
import { buildObjects, failedToS3, type FlushInput, type OutObject } from './objects.js';
import { processRecords, type ErrorRecord, type ProcessContext } from './processing.js';

export interface HttpFlushDeps {
  processing: ProcessContext;
  signal: AbortSignal;
  log: (m: string) => void;
  metrics?: DeliveryMetrics;
  /** Tests shorten the retry backoff (1 s·2ⁿ). */
  backoffUnitMs?: number;
  /** The access key from the worker's environment; the definition's own wins. */
  accessKey?: string;
}

/** The request id of a flush: the same on every retry and on a replay after a crash. */
export function httpRequestId(f: Pick<FlushInput, 'uid' | 'shardId' | 'first' | 'last'>): string {
  return derivedUuid(`${f.uid}/${f.shardId}/${f.first.seq}.${f.first.sub ?? ''}-${f.last.seq}.${f.last.sub ?? ''}/http`);
}

/** What the processing chain makes of a flush: the records to send, and the error-output lines. */
async function processForEndpoint(f: FlushInput, http: HttpDestinationDef, ctx: ProcessContext) {
  if (!http.ProcessingConfiguration?.Enabled) return { send: f.records.map((r) => ({ data: r.data, arrivalMs: r.arrivalMs })), errors: [] as ErrorRecord[] };
  const { partitions, errors } = await processRecords({ ProcessingConfiguration: http.ProcessingConfiguration }, f.records, ctx);
  const send: { data: Buffer; arrivalMs: number }[] = [];
  // Without dynamic partitioning there is one partition; the delimiter ends each record's data.
  for (const p of partitions) {
    for (const r of p.records) send.push({ data: p.delimiter ? Buffer.concat([r.data, p.delimiter]) : r.data, arrivalMs: r.arrivalMs });
  }
  return { send, errors };
}

/** Delivers the flush to the endpoint and returns the S3 objects it leaves (backup copies, error output). */
export async function httpFlush(f: FlushInput, http: HttpDestinationDef, deps: HttpFlushDeps): Promise<OutObject[]> {
  const { send, errors } = await processForEndpoint(f, http, deps.processing);
  // AllData: the source records, as the backup bucket's own destination writes them.
  const objects: OutObject[] = http.S3BackupMode === 'AllData' ? (await buildObjects(f, deps.processing)).map((o) => ({ ...o, backup: true })) : [];

  const byType = new Map<string, Record<string, unknown>[]>();
  for (const e of errors) {
    let l = byType.get(e.type);
    if (!l) byType.set(e.type, (l = []));
    l.push(e.line);
  }
  for (const [type, lines] of byType) objects.push(...failedToS3(f, type, lines));

  // Every record dropped or failed: there is nothing to send (Firehose sends no empty request).
  if (send.length === 0) return objects;
  const started = Date.now();
  const endpoint = { ...http, AccessKey: http.AccessKey ?? deps.accessKey };
  const outcome = await deliverHttp(endpoint, send, { requestId: httpRequestId(f), sourceArn: deps.processing.deliveryStreamArn, signal: deps.signal, log: deps.log, backoffUnitMs: deps.backoffUnitMs });
  if (outcome.ok) {
    deps.metrics?.deliveredHttp(send.length, Date.now() - started);
    return objects;
  }
  deps.metrics?.failed(outcome.errorCode, 0, `${http.Url}: ${outcome.errorMessage}`);
  const ended = Date.now();
  objects.push(...failedToS3(f, 'http-endpoint-failed', send.map((r) => ({
    attemptsMade: outcome.attempts, arrivalTimestamp: r.arrivalMs, errorCode: outcome.errorCode, errorMessage: outcome.errorMessage,
    attemptEndingTimestamp: ended, rawData: r.data.toString('base64'), EndpointUrl: http.Url, EndpointName: http.Name,
  }))));
  return objects;
}
