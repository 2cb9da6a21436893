// Firehose's processing chain for one flush, in its order:
// RecordDeAggregation (JSON or Delimited) → Lambda transform → partition keys
// (MetadataExtraction by jq, and the transform's metadata) → grouping into
// partitions (≤ 500 active, the rest to the error prefix) → AppendDelimiterToRecord.
// Failed records become Firehose's error-output JSON lines.
import { createRequire } from 'node:module';
import type { S3DestinationDef } from '../../stream/deliveryStreams.js';
import { transform, type TransformInput } from './lambda.js';
import { splitJson } from '../../stream/delivery/jsonSplit.js';

const require = createRequire(import.meta.url);
type Jq = { json(input: unknown, filter: string): unknown };
let jqReady: Promise<Jq> | undefined;
/** jq-web (jq 1.6 compiled to wasm), loaded on first use. */
const jq = () => (jqReady ??= Promise.resolve(require('jq-web') as Jq | Promise<Jq>));

export const MAX_ACTIVE_PARTITIONS = 500;
const MAX_SUBRECORDS = 500;
const MiB = 1024 * 1024;

export interface InRecord {
  /** Stable across a replay: derived from the record's position. */
  recordId: string;
  data: Buffer;
  arrivalMs: number;
  kinesis?: TransformInput['kinesis'];
}

export interface ErrorRecord {
  /** The !{firehose:error-output-type} value. */
  type: string;
  line: Record<string, unknown>;
}

export interface Partition {
  keys: Record<string, string>;
  records: { data: Buffer; arrivalMs: number; kinesis?: InRecord['kinesis'] }[];
  /** AppendDelimiterToRecord: written after each record's data (not copied into each record: one copy for the object body). */
  delimiter?: Buffer;
}

/** Bytes of the partition's body: its records, each followed by the delimiter, if any. */
export function partitionBodySize(p: Partition): number {
  const records = p.records;
  let size = records.length * (p.delimiter ? p.delimiter.length : 0);
  for (let i = 0; i < records.length; i++) size += records[i]!.data.length;
  return size;
}

/**
 * The partition's records as one buffer (each followed by the delimiter, if
 * any), copied once, into `out` when given (partitionBodySize bytes).
 * Uint8Array#set and a byte store: Buffer#copy costs a few hundred ns of
 * argument checks per call, twice per record with a delimiter.
 */
export function partitionBody(p: Partition, out: Buffer = Buffer.allocUnsafe(partitionBodySize(p))): Buffer {
  const d = p.delimiter;
  const dl = d ? d.length : 0;
  const records = p.records;
  let at = 0;
  for (let i = 0; i < records.length; i++) {
    const data = records[i]!.data;
    out.set(data, at);
    at += data.length;
    if (dl === 1) out[at++] = d![0]!;
    else if (dl > 0) {
      out.set(d!, at);
      at += dl;
    }
  }
  return out;
}

export interface ProcessContext {
  deliveryStreamArn: string;
  sourceKinesisStreamArn?: string;
  region: string;
  /** Lambda ARN → URL (an ARN that is itself an http(s) URL is used as is). */
  functions: Record<string, string>;
  functionTimeoutMs: number;
  /** Every transform invocation, for the ExecuteProcessing metrics (the same for S3 and HTTP endpoint streams). */
  onInvocation?: (ok: boolean, ms: number) => void;
  /** Dynamic partitioning: the flush's active partitions, and whether records went over the limit (Firehose PartitionCount, PartitionCountExceeded). */
  onPartitions?: (count: number, exceeded: boolean) => void;
}

const param = (p: { Parameters?: { ParameterName: string; ParameterValue: string }[] } | undefined, name: string) =>
  p?.Parameters?.find((x) => x.ParameterName === name)?.ParameterValue;

/** What the chain reads from a destination: an S3 one, or an HTTP endpoint's (which has no dynamic partitioning). */
export type ProcessingDef = Pick<S3DestinationDef, 'ProcessingConfiguration' | 'DynamicPartitioningConfiguration'>;

function processors(s3: ProcessingDef) {
  const list = s3.ProcessingConfiguration?.Enabled ? s3.ProcessingConfiguration.Processors ?? [] : [];
  const of = (t: string) => list.find((p) => p.Type === t);
  return { deagg: of('RecordDeAggregation'), lambda: of('Lambda'), extraction: of('MetadataExtraction'), delimiter: of('AppendDelimiterToRecord') };
}

function failed(type: string, r: InRecord, errorCode: string, errorMessage: string, attemptsMade = 1, extra: Record<string, unknown> = {}): ErrorRecord {
  return {
    type,
    line: { attemptsMade, arrivalTimestamp: r.arrivalMs, errorCode, errorMessage, attemptEndingTimestamp: Date.now(), rawData: r.data.toString('base64'), ...extra },
  };
}

export async function processRecords(s3: ProcessingDef, input: InRecord[], ctx: ProcessContext): Promise<{ partitions: Partition[]; errors: ErrorRecord[] }> {
  const p = processors(s3);
  const errors: ErrorRecord[] = [];
  const dynamic = s3.DynamicPartitioningConfiguration?.Enabled === true;
  const newline = p.delimiter ? Buffer.from('\n') : undefined;
  // Nothing to de-aggregate, transform or partition: the flush is one partition of its records as they are (no object per record).
  if (!p.deagg && !p.lambda && !dynamic) return { partitions: input.length ? [{ keys: {}, records: input, delimiter: newline }] : [], errors };
  let records = input;

  // 1. RecordDeAggregation.
  if (p.deagg) {
    const type = param(p.deagg, 'SubRecordType') ?? 'JSON';
    const delimiter = Buffer.from(param(p.deagg, 'Delimiter') ?? '', 'base64').toString('utf8');
    const next: InRecord[] = [];
    for (const r of records) {
      const text = r.data.toString('utf8');
      const parts = type === 'DELIMITED' ? text.split(delimiter).filter((x) => x.length > 0) : splitJson(text);
      if (!parts) {
        errors.push(failed('processing-failed', r, 'RecordDeAggregation.InvalidJson', 'The record is not a sequence of JSON objects.'));
        continue;
      }
      if (parts.length > MAX_SUBRECORDS) {
        errors.push(failed('processing-failed', r, 'RecordDeAggregation.LimitExceeded', `The record holds ${parts.length} records; at most ${MAX_SUBRECORDS} are de-aggregated from one.`));
        continue;
      }
      // Explicit fields: the worker's records derive recordId and kinesis in getters, which a spread would not copy.
      parts.forEach((t, k) => next.push({ recordId: `${r.recordId}.${k}`, data: Buffer.from(t, 'utf8'), arrivalMs: r.arrivalMs, kinesis: r.kinesis }));
    }
    records = next;
  }

  // 2. Lambda transform, in invocations of at most BufferSizeInMBs.
  let keyed: { r: InRecord; data: Buffer; keys: Record<string, string> }[] = [];
  if (p.lambda) {
    const arn = param(p.lambda, 'LambdaArn') ?? '';
    const url = /^https?:\/\//.test(arn) ? arn : ctx.functions[arn];
    const retries = Number(param(p.lambda, 'NumberOfRetries') ?? 3);
    const chunkBytes = Number(param(p.lambda, 'BufferSizeInMBs') ?? 1) * MiB;
    if (!url) {
      for (const r of records) errors.push(failed('processing-failed', r, 'Lambda.FunctionNotFound', `No function URL is configured for ${arn}.`, 1, { lambdaArn: arn }));
      records = [];
    }
    for (let i = 0; i < records.length;) {
      let bytes = 0;
      let j = i;
      while (j < records.length && (j === i || bytes + records[j]!.data.length <= chunkBytes)) bytes += records[j++]!.data.length;
      const chunk = records.slice(i, j);
      i = j;
      const results = await transform({ url: url!, lambdaArn: arn, deliveryStreamArn: ctx.deliveryStreamArn, sourceKinesisStreamArn: ctx.sourceKinesisStreamArn, region: ctx.region, retries, timeoutMs: ctx.functionTimeoutMs, onInvocation: ctx.onInvocation }, chunk);
      results.forEach((o, k) => {
        const r = chunk[k]!;
        if (o.result === 'Ok') keyed.push({ r, data: o.data, keys: o.partitionKeys ?? {} });
        else if (o.result === 'ProcessingFailed') errors.push(failed('processing-failed', r, o.errorCode, o.errorMessage, o.attemptsMade, { lambdaArn: arn }));
      });
    }
  } else {
    keyed = records.map((r) => ({ r, data: r.data, keys: {} }));
  }

  // 3. Partition keys from the data (jq), merged over the transform's.
  const query = p.extraction ? param(p.extraction, 'MetadataExtractionQuery') : undefined;
  if (dynamic && query) {
    const parsed: unknown[] = keyed.map((k) => {
      try {
        return JSON.parse(k.data.toString('utf8'));
      } catch {
        return undefined;
      }
    });
    // One jq run for the whole flush: a per-record try keeps one bad record from failing the rest.
    const out = (await jq()).json(parsed, `map(if . == null then null else (try (${query}) catch null) end)`) as (Record<string, unknown> | null)[];
    const next: typeof keyed = [];
    keyed.forEach((k, i) => {
      const v = out[i];
      if (!v || typeof v !== 'object' || Object.values(v).some((x) => x === null || x === undefined || typeof x === 'object')) {
        errors.push(failed('processing-failed', k.r, 'DynamicPartitioning.MetadataExtractionFailed', parsed[i] === undefined ? 'Non JSON record provided' : 'The query did not give a string value for every partition key.'));
        return;
      }
      next.push({ ...k, keys: { ...k.keys, ...Object.fromEntries(Object.entries(v).map(([a, b]) => [a, String(b)])) } });
    });
    keyed = next;
  }

  // 4. Partitions (at most MAX_ACTIVE_PARTITIONS; the rest to the error prefix), 5. delimiter.
  const groups = new Map<string, Partition>();
  let exceeded = false;
  for (const k of keyed) {
    const id = dynamic ? JSON.stringify(Object.entries(k.keys).sort()) : '';
    let g = groups.get(id);
    if (!g) {
      if (groups.size >= MAX_ACTIVE_PARTITIONS) {
        exceeded = true;
        errors.push(failed('activePartitionExceeded', k.r, 'DynamicPartitioning.ActivePartitionsLimitExceeded', 'The number of active partitions has exceeded the configured limit'));
        continue;
      }
      groups.set(id, (g = { keys: dynamic ? k.keys : {}, records: [], delimiter: newline }));
    }
    g.records.push({ data: k.data, arrivalMs: k.r.arrivalMs, kinesis: k.r.kinesis });
  }
  if (dynamic) ctx.onPartitions?.(groups.size, exceeded);
  return { partitions: [...groups.values()], errors };
}
