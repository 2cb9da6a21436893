// One flush → the S3 objects it writes: processing (AppendDelimiterToRecord),
// the object key (evaluated prefix + Firehose's suffix) and the compressed body.
// A pure function of the records and the destination snapshot, so a flush
// replayed from its intent produces the same keys and the same bytes.
import type { S3DestinationDef } from '../../stream/deliveryStreams.js';
import { bucketOf } from '../api/firehose/destination.js';
import { compress } from './compress.js';
import { derivedRandomString, derivedUuid, extensionOf, objectSuffix } from './objectName.js';
import { evaluatePrefix, resolvePrefixes } from './prefix.js';
import type { RecordPos } from './state.js';

export interface BatchRecord { data: Buffer; arrivalMs: number }

export interface FlushInput {
  deliveryStreamName: string;
  uid: string;
  shardId: string;
  first: RecordPos;
  last: RecordPos;
  versionId: number;
  s3: S3DestinationDef;
  records: BatchRecord[];
}

export interface OutObject { bucket: string; key: string; body: Buffer; records: number; rawBytes: number }

const enabledProcessors = (s3: S3DestinationDef) => (s3.ProcessingConfiguration?.Enabled ? s3.ProcessingConfiguration.Processors ?? [] : []);

export function buildObjects(f: FlushInput): OutObject[] {
  const appendNewline = enabledProcessors(f.s3).some((p) => p.Type === 'AppendDelimiterToRecord');
  const parts: Buffer[] = [];
  for (const r of f.records) {
    parts.push(r.data);
    if (appendNewline) parts.push(NEWLINE);
  }
  const raw = Buffer.concat(parts);
  const pos = (p: RecordPos) => `${p.seq}.${p.sub ?? ''}`;
  const identity = `${f.uid}/${f.shardId}/${pos(f.first)}-${pos(f.last)}`;
  const arrivalMs = Math.min(...f.records.map((r) => r.arrivalMs));
  const { prefix } = resolvePrefixes(f.s3.Prefix, f.s3.ErrorOutputPrefix, false);
  const evaluated = evaluatePrefix(prefix, { arrivalMs, timeZone: f.s3.CustomTimeZone, randomString: derivedRandomString(identity) });
  const suffix = objectSuffix({
    name: f.deliveryStreamName, version: f.versionId, arrivalMs, timeZone: f.s3.CustomTimeZone,
    uuid: derivedUuid(identity), extension: '',
  });
  const ext = extensionOf(f.s3.CompressionFormat, f.s3.FileExtension);
  const body = compress(f.s3.CompressionFormat, raw, suffix);
  return [{ bucket: bucketOf(f.s3.BucketARN), key: evaluated + suffix + ext, body, records: f.records.length, rawBytes: raw.length }];
}

const NEWLINE = Buffer.from('\n');
