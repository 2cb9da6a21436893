// Kinesis Data Analytics API shapes ↔ the application model (contract/analytics.ts).
import type { ApplicationDefinition, InputDef, OutputDef, RecordColumn, RecordFormat, ReferenceDef } from '../../../contract/analytics.js';
import { inAppStreamName } from '../../../contract/analytics.js';
import type { ApplicationRecord } from '../../../stream/applications.js';
import { KinesisError, validationError } from '../errors.js';
import type { Params } from '../context.js';

export type AppRecord = ApplicationRecord<ApplicationDefinition>;

export const invalidArgument = (m: string) => new KinesisError('InvalidArgumentException', m);

const STREAM_ARN = /^arn:aws[a-z-]*:kinesis:[a-z0-9-]+:\d{12}:stream\/([a-zA-Z0-9_.-]{1,128})$/;
const FIREHOSE_ARN = /^arn:aws[a-z-]*:firehose:[a-z0-9-]+:\d{12}:deliverystream\/([a-zA-Z0-9_.-]{1,64})$/;

export const streamArn = (region: string, account: string, name: string) => `arn:aws:kinesis:${region}:${account}:stream/${name}`;
export const firehoseArn = (region: string, account: string, name: string) => `arn:aws:firehose:${region}:${account}:deliverystream/${name}`;

export function streamNameOfArn(arn: unknown, what: string): string {
  const m = typeof arn === 'string' ? STREAM_ARN.exec(arn) : null;
  if (!m) throw invalidArgument(`${what} ${String(arn)} is not a valid Kinesis stream ARN.`);
  return m[1]!;
}

export const isDeliveryStreamArn = (arn: unknown) => typeof arn === 'string' && FIREHOSE_ARN.test(arn);

export function deliveryStreamNameOfArn(arn: unknown, what: string): string {
  const m = typeof arn === 'string' ? FIREHOSE_ARN.exec(arn) : null;
  if (!m) throw invalidArgument(`${what} ${String(arn)} is not a valid delivery stream ARN.`);
  return m[1]!;
}

function recordFormatIn(f: Params | undefined): RecordFormat {
  if (!f || (f.RecordFormatType !== 'JSON' && f.RecordFormatType !== 'CSV')) throw invalidArgument('RecordFormat.RecordFormatType must be JSON or CSV.');
  if (f.RecordFormatType === 'JSON') return { type: 'JSON', rowPath: f.MappingParameters?.JSONMappingParameters?.RecordRowPath ?? '$' };
  const csv = f.MappingParameters?.CSVMappingParameters;
  return { type: 'CSV', rowDelimiter: csv?.RecordRowDelimiter ?? '\n', columnDelimiter: csv?.RecordColumnDelimiter ?? ',' };
}

function recordFormatOut(f: RecordFormat): Params {
  return f.type === 'JSON'
    ? { RecordFormatType: 'JSON', MappingParameters: { JSONMappingParameters: { RecordRowPath: f.rowPath } } }
    : { RecordFormatType: 'CSV', MappingParameters: { CSVMappingParameters: { RecordRowDelimiter: f.rowDelimiter, RecordColumnDelimiter: f.columnDelimiter } } };
}

export function columnsIn(cols: unknown): RecordColumn[] {
  if (!Array.isArray(cols) || cols.length === 0) throw invalidArgument('InputSchema.RecordColumns must hold at least one column.');
  const seen = new Set<string>();
  return cols.map((c: Params) => {
    if (typeof c?.Name !== 'string' || typeof c?.SqlType !== 'string') throw invalidArgument('Each RecordColumn needs Name and SqlType.');
    if (seen.has(c.Name.toUpperCase())) throw invalidArgument(`Duplicate column name ${c.Name}.`);
    seen.add(c.Name.toUpperCase());
    return { name: c.Name, sqlType: c.SqlType, ...(c.Mapping !== undefined ? { mapping: c.Mapping } : {}) };
  });
}

export function schemaOut(format: RecordFormat, columns: RecordColumn[]): Params {
  return {
    RecordFormat: recordFormatOut(format),
    RecordEncoding: 'UTF-8',
    RecordColumns: columns.map((c) => ({ Name: c.name, SqlType: c.sqlType, ...(c.mapping !== undefined ? { Mapping: c.mapping } : {}) })),
  };
}

/** InputParallelism.Count: 1–64, as AWS validates it (a ValidationException naming the member). */
export function parallelismIn(count: unknown, at: string): number {
  if (count === undefined || count === null) return 1;
  if (typeof count !== 'number' || !Number.isInteger(count)) throw validationError([`Value '${String(count)}' at '${at}' failed to satisfy constraint: Member must be an integer`]);
  if (count < 1) throw validationError([`Value '${count}' at '${at}' failed to satisfy constraint: Member must have value greater than or equal to 1`]);
  if (count > 64) throw validationError([`Value '${count}' at '${at}' failed to satisfy constraint: Member must have value less than or equal to 64`]);
  return count;
}

export function inputIn(p: Params, id: string, at = 'input'): InputDef {
  if (typeof p?.NamePrefix !== 'string') throw invalidArgument('Input.NamePrefix is required.');
  const streamIn = p.KinesisStreamsInput;
  const fhIn = p.KinesisFirehoseInput;
  if (!!streamIn === !!fhIn) throw invalidArgument('Exactly one of KinesisStreamsInput or KinesisFirehoseInput is required.');
  let source: InputDef['source'];
  if (streamIn) source = { kind: 'stream', name: streamNameOfArn(streamIn.ResourceARN, 'KinesisStreamsInput.ResourceARN') };
  else source = { kind: 'firehose', name: deliveryStreamNameOfArn(fhIn.ResourceARN, 'KinesisFirehoseInput.ResourceARN') };
  const schema = p.InputSchema;
  if (!schema) throw invalidArgument('Input.InputSchema is required.');
  if (schema.RecordEncoding !== undefined && schema.RecordEncoding !== 'UTF-8') throw invalidArgument('RecordEncoding must be UTF-8.');
  return {
    id, namePrefix: p.NamePrefix, parallelism: parallelismIn(p.InputParallelism?.Count, `${at}.inputParallelism.count`), source,
    format: recordFormatIn(schema.RecordFormat), encoding: 'UTF-8', columns: columnsIn(schema.RecordColumns),
  };
}

export function outputIn(p: Params, id: string): OutputDef {
  if (typeof p?.Name !== 'string') throw invalidArgument('Output.Name is required.');
  const kinds = [p.KinesisStreamsOutput, p.KinesisFirehoseOutput, p.LambdaOutput].filter((x) => x !== undefined);
  if (kinds.length !== 1) throw invalidArgument('Exactly one of KinesisStreamsOutput, KinesisFirehoseOutput or LambdaOutput is required.');
  const fmt = p.DestinationSchema?.RecordFormatType;
  if (fmt !== 'JSON' && fmt !== 'CSV') throw invalidArgument('DestinationSchema.RecordFormatType must be JSON or CSV.');
  let destination: OutputDef['destination'];
  if (p.KinesisStreamsOutput) destination = { kind: 'stream', name: streamNameOfArn(p.KinesisStreamsOutput.ResourceARN, 'KinesisStreamsOutput.ResourceARN') };
  else if (p.KinesisFirehoseOutput) {
    const m = FIREHOSE_ARN.exec(String(p.KinesisFirehoseOutput.ResourceARN));
    if (!m) throw invalidArgument('KinesisFirehoseOutput.ResourceARN is not a valid delivery stream ARN.');
    destination = { kind: 'firehose', name: m[1]! };
  } else destination = { kind: 'lambda', arn: String(p.LambdaOutput.ResourceARN) };
  return { id, name: p.Name, destination, format: fmt };
}

export function referenceIn(p: Params, id: string): ReferenceDef {
  if (typeof p?.TableName !== 'string') throw invalidArgument('ReferenceDataSource.TableName is required.');
  const s3 = p.S3ReferenceDataSource;
  const bucket = /^arn:aws[a-z-]*:s3:::([a-z0-9.-]{3,63})$/.exec(String(s3?.BucketARN ?? ''));
  if (!bucket || typeof s3?.FileKey !== 'string') throw invalidArgument('S3ReferenceDataSource needs a BucketARN (arn:aws:s3:::bucket) and a FileKey.');
  const schema = p.ReferenceSchema;
  if (!schema) throw invalidArgument('ReferenceDataSource.ReferenceSchema is required.');
  return {
    id, tableName: p.TableName, s3: { bucket: bucket[1]!, key: s3.FileKey, roleArn: s3.ReferenceRoleARN },
    format: recordFormatIn(schema.RecordFormat), encoding: 'UTF-8', columns: columnsIn(schema.RecordColumns),
  };
}

/** Next id in the "n.1" form KDA uses. */
export const nextId = (existing: { id: string }[]) => `${existing.reduce((m, x) => Math.max(m, Number(x.id.split('.')[0]) || 0), 0) + 1}.1`;

export function detail(r: AppRecord, region: string, account: string): Params {
  const d = r.definition;
  return {
    ApplicationName: r.name,
    ...(r.description !== undefined ? { ApplicationDescription: r.description } : {}),
    ApplicationARN: r.arn,
    ApplicationStatus: r.status,
    CreateTimestamp: new Date(r.createdAtMs),
    LastUpdateTimestamp: new Date(r.updatedAtMs),
    InputDescriptions: d.inputs.map((i) => ({
      InputId: i.id,
      NamePrefix: i.namePrefix,
      InAppStreamNames: Array.from({ length: i.parallelism }, (_, n) => inAppStreamName(i, n + 1)),
      ...(i.source.kind === 'stream'
        ? { KinesisStreamsInputDescription: { ResourceARN: streamArn(region, account, i.source.name), RoleARN: roleArn(account) } }
        : { KinesisFirehoseInputDescription: { ResourceARN: firehoseArn(region, account, i.source.name), RoleARN: roleArn(account) } }),
      InputSchema: schemaOut(i.format, i.columns),
      InputParallelism: { Count: i.parallelism },
      ...(r.startingPositions?.[i.id] ? { InputStartingPositionConfiguration: { InputStartingPosition: r.startingPositions[i.id] } } : {}),
    })),
    OutputDescriptions: d.outputs.map((o) => ({
      OutputId: o.id,
      Name: o.name,
      ...(o.destination.kind === 'stream' ? { KinesisStreamsOutputDescription: { ResourceARN: streamArn(region, account, o.destination.name), RoleARN: roleArn(account) } }
        : o.destination.kind === 'firehose' ? { KinesisFirehoseOutputDescription: { ResourceARN: firehoseArn(region, account, o.destination.name), RoleARN: roleArn(account) } }
          : o.destination.kind === 'lambda' ? { LambdaOutputDescription: { ResourceARN: o.destination.arn, RoleARN: roleArn(account) } } : {}),
      DestinationSchema: { RecordFormatType: o.format },
    })),
    ReferenceDataSourceDescriptions: d.references.map((x) => ({
      ReferenceId: x.id,
      TableName: x.tableName,
      S3ReferenceDataSourceDescription: { BucketARN: `arn:aws:s3:::${x.s3.bucket}`, FileKey: x.s3.key, ReferenceRoleARN: x.s3.roleArn ?? roleArn(account) },
      ReferenceSchema: schemaOut(x.format, x.columns),
    })),
    CloudWatchLoggingOptionDescriptions: [],
    ...(d.code ? { ApplicationCode: d.code } : {}),
    ApplicationVersionId: r.versionId,
  };
}

/** Shardline needs no IAM role; descriptions echo a placeholder when the caller gave none. */
const roleArn = (account: string) => `arn:aws:iam::${account}:role/shardline`;
