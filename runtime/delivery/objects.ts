// One flush → the S3 objects it writes: the processing chain (processing.ts),
// then per partition the object key (evaluated prefix + Firehose's suffix)
// and the compressed body, and the error-output objects. Names derive from
// the flush's record range (and partition), so a flush replayed from its
// intent writes the same keys.
import type { S3DestinationDef } from '../../stream/deliveryStreams.js';
import { bucketOf } from '../api/firehose/destination.js';
import { compress, compressAsync } from '../../stream/delivery/compress.js';
import { derivedRandomString, derivedUuid, extensionOf, objectSuffix } from './objectName.js';
import { evaluatePrefix, partitionKeysOf, resolvePrefixes } from '../../stream/delivery/prefix.js';
import { withScratch } from './scratch.js';
import { partitionBody, partitionBodySize, processRecords, type ErrorRecord, type InRecord, type Partition, type ProcessContext } from './processing.js';
import { convertToParquet } from '../../stream/delivery/parquet.js';
import type { RecordPos } from './state.js';

export interface FlushInput {
  deliveryStreamName: string;
  uid: string;
  shardId: string;
  first: RecordPos;
  last: RecordPos;
  versionId: number;
  s3: S3DestinationDef;
  records: InRecord[];
}

/** The smallest value (a loop: spreading a flush's worth of records into Math.min overflows the stack). */
export function minOf<T>(items: readonly T[], f: (x: T) => number): number {
  let m = Infinity;
  for (const x of items) {
    const v = f(x);
    if (v < m) m = v;
  }
  return m;
}

export interface OutObject { bucket: string; key: string; body: Buffer; records: number; error?: string; /** An S3 backup copy (AllData): its records count as delivered elsewhere. */ backup?: boolean }

/** Error-output objects for records that failed after the processing chain (e.g. the HTTP endpoint's). */
export function failedToS3(f: Omit<FlushInput, 'records'>, type: string, lines: Record<string, unknown>[]): OutObject[] {
  const pos = (p: RecordPos) => `${p.seq}.${p.sub ?? ''}`;
  const id = `${f.uid}/${f.shardId}/${pos(f.first)}-${pos(f.last)}/error/${type}`;
  const { errorPrefix } = resolvePrefixes(f.s3.Prefix, f.s3.ErrorOutputPrefix, f.s3.DynamicPartitioningConfiguration?.Enabled === true);
  const arrivalMs = minOf(lines, (l) => l.arrivalTimestamp as number);
  const evaluated = evaluatePrefix(errorPrefix, { arrivalMs, timeZone: f.s3.CustomTimeZone, randomString: derivedRandomString(id), errorOutputType: type });
  const suffix = objectSuffix({ name: f.deliveryStreamName, version: f.versionId, arrivalMs, timeZone: f.s3.CustomTimeZone, uuid: derivedUuid(id), extension: '' });
  const raw = Buffer.from(lines.map((l) => JSON.stringify(l) + '\n').join(''));
  return [{ bucket: bucketOf(f.s3.BucketARN), key: evaluated + suffix + extensionOf(f.s3.CompressionFormat, f.s3.FileExtension), body: compress(f.s3.CompressionFormat, raw, suffix), records: lines.length, error: type }];
}

export async function buildObjects(f: FlushInput, ctx: ProcessContext): Promise<OutObject[]> {
  const pos = (p: RecordPos) => `${p.seq}.${p.sub ?? ''}`;
  const identity = `${f.uid}/${f.shardId}/${pos(f.first)}-${pos(f.last)}`;
  const dynamic = f.s3.DynamicPartitioningConfiguration?.Enabled === true;
  const { prefix, errorPrefix } = resolvePrefixes(f.s3.Prefix, f.s3.ErrorOutputPrefix, dynamic);
  const needed = partitionKeysOf(prefix);
  const { partitions, errors } = await processRecords(f.s3, f.records, ctx);
  const bucket = bucketOf(f.s3.BucketARN);
  const conversion = f.s3.DataFormatConversionConfiguration?.Enabled ? f.s3.DataFormatConversionConfiguration : undefined;
  const ext = extensionOf(f.s3.CompressionFormat, f.s3.FileExtension, conversion !== undefined);
  const out: OutObject[] = [];

  // Error output stays JSON lines: no .parquet (or FileExtension naming Parquet) on it.
  const errorExt = conversion ? extensionOf(f.s3.CompressionFormat) : ext;
  const object = async (id: string, prefixOut: string, arrivalMs: number, raw: Buffer, records: number, error?: string) => {
    const suffix = objectSuffix({ name: f.deliveryStreamName, version: f.versionId, arrivalMs, timeZone: f.s3.CustomTimeZone, uuid: derivedUuid(id), extension: '' });
    out.push({ bucket, key: prefixOut + suffix + (error ? errorExt : ext), body: await compressAsync(f.s3.CompressionFormat, raw, suffix), records, error });
  };

  for (const p of partitions) {
    if (p.records.length === 0) continue;
    const missing = [...needed.query, ...needed.lambda].filter((k) => p.keys[k] === undefined);
    if (missing.length) {
      for (const r of p.records) {
        errors.push({ type: 'processing-failed', line: { attemptsMade: 1, arrivalTimestamp: r.arrivalMs, errorCode: 'DynamicPartitioning.MetadataExtractionFailed', errorMessage: `Partition keys ${missing.join(', ')} are missing`, attemptEndingTimestamp: Date.now(), rawData: r.data.toString('base64') } });
      }
      continue;
    }
    const id = dynamic ? `${identity}/${JSON.stringify(Object.entries(p.keys).sort())}` : identity;
    const arrivalMs = minOf(p.records, (r) => r.arrivalMs);
    const evaluated = evaluatePrefix(prefix, { arrivalMs, timeZone: f.s3.CustomTimeZone, randomString: derivedRandomString(id), partitionKeys: p.keys });
    if (conversion) {
      // The catalog table could not be used (runtime/delivery/catalogTable.ts): every record to the error prefix.
      const catalogError = conversion.SchemaConfiguration?.CatalogError;
      if (catalogError || !conversion.SchemaConfiguration?.Columns) {
        const why = catalogError ?? { ErrorCode: 'DataFormatConversion.EntityNotFound', ErrorMessage: 'The table\'s columns could not be resolved.' };
        for (const r of p.records) errors.push(conversionFailed(f, r, why.ErrorCode, why.ErrorMessage));
        continue;
      }
      // Format conversion comes after the processing chain: one Parquet object per partition, failures to the error prefix.
      const converted = convertToParquet(conversion, p.records);
      for (const x of converted.failed) errors.push(conversionFailed(f, p.records[x.index]!, x.code, x.message));
      if (converted.body) await object(id, evaluated, arrivalMs, converted.body, p.records.length - converted.failed.length);
      continue;
    }
    if (f.s3.CompressionFormat === 'UNCOMPRESSED') await object(id, evaluated, arrivalMs, partitionBody(p), p.records.length);
    // Compressed: the body is needed only until the compressor has read it (every compressor returns a buffer of its own).
    else await withScratch(partitionBodySize(p), (body) => object(id, evaluated, arrivalMs, partitionBody(p, body), p.records.length));
  }

  const byType = new Map<string, ErrorRecord[]>();
  for (const e of errors) {
    let l = byType.get(e.type);
    if (!l) byType.set(e.type, (l = []));
    l.push(e);
  }
  for (const [type, list] of byType) {
    const id = `${identity}/error/${type}`;
    const arrivalMs = minOf(list, (e) => e.line.arrivalTimestamp as number);
    const evaluated = evaluatePrefix(errorPrefix, { arrivalMs, timeZone: f.s3.CustomTimeZone, randomString: derivedRandomString(id), errorOutputType: type });
    await object(id, evaluated, arrivalMs, Buffer.from(list.map((e) => JSON.stringify(e.line) + '\n').join('')), list.length, type);
  }
  return out;
}

/** Firehose's documented error document for a record that failed format conversion. */
function conversionFailed(f: FlushInput, r: Partition['records'][number], code: string, message: string): ErrorRecord {
  const schema = f.s3.DataFormatConversionConfiguration?.SchemaConfiguration ?? {};
  const region = schema.Region ?? /^arn:[^:]+:[^:]+:([^:]*):/.exec(f.s3.RoleARN ?? '')?.[1] ?? 'us-east-1';
  const catalogId = schema.CatalogId ?? /^arn:[^:]+:iam::(\d{12}):/.exec(schema.RoleARN ?? f.s3.RoleARN ?? '')?.[1];
  return {
    type: 'format-conversion-failed',
    line: {
      attemptsMade: 1,
      arrivalTimestamp: r.arrivalMs,
      ErrorCode: code,
      ErrorMessage: message,
      attemptEndingTimestamp: Date.now(),
      rawData: r.data.toString('base64'),
      ...(r.kinesis ? { sequenceNumber: r.kinesis.sequenceNumber, subSequenceNumber: r.kinesis.subsequenceNumber ?? 0 } : {}),
      dataCatalogTable: {
        catalogId, databaseName: schema.DatabaseName, tableName: schema.TableName, region, versionId: schema.VersionId ?? 'LATEST',
        catalogArn: catalogId ? `arn:aws:glue:${region}:${catalogId}:catalog` : undefined,
      },
    },
  };
}
