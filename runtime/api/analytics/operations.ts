// The Kinesis Data Analytics (SQL) API, KinesisAnalytics_20150814.<Op>: the
// application records live in the shardline_applications KV bucket; a
// `shardline analytics` worker runs what they describe. Every change is a
// compare-and-set against CurrentApplicationVersionId, as AWS does.
import type { KV } from 'nats';
import { randomUUID } from 'node:crypto';
import { ApplicationDefinition, inAppStreamNames } from '../../../contract/analytics.js';
import {
  applicationsKv, createApplication, deleteApplicationRecord, listApplications, readApplication, writeApplication,
  ApplicationConflictError, type ApplicationStatus,
} from '../../../stream/applications.js';
import { Engine, ApplicationSqlError } from '../../../analytics/engine/engine.js';
import { inferSchema } from '../../../analytics/mapping.js';
import { TypeError_, parseSqlType } from '../../../analytics/engine/types.js';
import { getStream } from '../../../stream/streams.js';
import { DeliveryStreamNotFoundError, deliveryStreamRecordsStream } from '../../../stream/deliveryStreams.js';
import { readBatch } from '../../../stream/shardReader.js';
import { openShards } from '../../../stream/streamRecord.js';
import type { ApiContext, Operation, Params } from '../context.js';
import { KinesisError, validationError } from '../errors.js';
import {
  columnsIn, detail, inputIn, parallelismIn, invalidArgument, nextId, outputIn, referenceIn, schemaOut, streamNameOfArn, deliveryStreamNameOfArn, isDeliveryStreamArn, type AppRecord,
} from './shapes.js';

const kvs = new WeakMap<object, Promise<KV>>();
function kv(ctx: ApiContext): Promise<KV> {
  let k = kvs.get(ctx.store);
  if (!k) kvs.set(ctx.store, (k = applicationsKv(ctx.store)));
  return k;
}

/** Writes the record at `revision` (compare-and-set); a concurrent change is answered with `onConflict()`. */
async function save(ctx: ApiContext, r: AppRecord, revision: number, onConflict: () => Error): Promise<void> {
  try {
    await writeApplication(await kv(ctx), r, revision);
  } catch (e) {
    throw e instanceof ApplicationConflictError ? onConflict() : e;
  }
}

const notFound = (ctx: ApiContext, name: string) =>
  new KinesisError('ResourceNotFoundException', `Application ${name} not found in account ${ctx.config.accountId}.`);
const inUse = (m: string) => new KinesisError('ResourceInUseException', m);
const concurrent = (name: string, have: number, given: unknown) =>
  new KinesisError('ConcurrentModificationException', `Provided application version id (${String(given)}) does not match the current version id (${have}) of application ${name}.`);

const NAME_RE = /^[a-zA-Z0-9_.-]{1,128}$/;

function requireName(p: Params, field = 'ApplicationName'): string {
  const v = p[field];
  if (v === undefined || v === null) throw validationError([`Value null at '${field[0]!.toLowerCase()}${field.slice(1)}' failed to satisfy constraint: Member must not be null`]);
  if (typeof v !== 'string' || !NAME_RE.test(v)) {
    throw validationError([`Value '${String(v)}' at '${field[0]!.toLowerCase()}${field.slice(1)}' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+`]);
  }
  return v;
}

async function load(ctx: ApiContext, name: string): Promise<{ record: AppRecord; revision: number }> {
  const r = await readApplication<ApplicationDefinition>(await kv(ctx), name);
  if (!r) throw notFound(ctx, name);
  return r;
}

/** A versioned change: the caller's version must be current, the status one that allows it. */
async function change(ctx: ApiContext, p: Params, allowed: ApplicationStatus[], edit: (r: AppRecord) => void): Promise<AppRecord> {
  const name = requireName(p);
  const cur = await load(ctx, name);
  const r = cur.record;
  if (p.CurrentApplicationVersionId === undefined) throw validationError(["Value null at 'currentApplicationVersionId' failed to satisfy constraint: Member must not be null"]);
  if (p.CurrentApplicationVersionId !== r.versionId) throw concurrent(name, r.versionId, p.CurrentApplicationVersionId);
  if (!allowed.includes(r.status)) throw inUse(`Application ${name} is in ${r.status} state; the operation needs ${allowed.join(' or ')}.`);
  edit(r);
  r.versionId++;
  r.updatedAtMs = Date.now();
  await validateCode(r.definition);
  await save(ctx, r, cur.revision, () => concurrent(name, r.versionId, p.CurrentApplicationVersionId));
  return r;
}

/** The code must compile against the inputs and reference tables (CodeValidationException with DuckDB's position and reason). */
async function validateCode(d: ApplicationDefinition): Promise<void> {
  if (!d.code.trim()) return;
  try {
    const e = await Engine.compile({
      code: d.code,
      inputs: d.inputs.flatMap((i) => inAppStreamNames(i).map((name) => ({ name, columns: i.columns }))),
      references: d.references.map((r) => ({ name: r.tableName, columns: r.columns, rows: [] })),
    });
    e.close();
  } catch (e) {
    if (e instanceof ApplicationSqlError) throw new KinesisError('CodeValidationException', e.message);
    if (e instanceof TypeError_) throw new KinesisError('CodeValidationException', e.message);
    throw e;
  }
  const outputs = new Set(d.outputs.map((o) => o.name.toUpperCase()));
  if (outputs.size !== d.outputs.length) throw invalidArgument('Output names must be unique.');
}

function checkColumnTypes(d: ApplicationDefinition): void {
  try {
    for (const c of [...d.inputs.flatMap((i) => i.columns), ...d.references.flatMap((r) => r.columns)]) parseSqlType(c.sqlType);
  } catch (e) {
    throw invalidArgument((e as Error).message);
  }
}

function tagsIn(t: unknown): Record<string, string> {
  if (t === undefined) return {};
  if (!Array.isArray(t)) throw invalidArgument('Tags must be a list.');
  if (t.length > 50) throw new KinesisError('TooManyTagsException', 'Application can have at most 50 tags.');
  return Object.fromEntries(t.map((x: Params) => [String(x.Key), String(x.Value ?? '')]));
}

const createApplicationOp: Operation = async (ctx, p) => {
  const name = requireName(p);
  const def: ApplicationDefinition = { name, code: typeof p.ApplicationCode === 'string' ? p.ApplicationCode : '', inputs: [], outputs: [], references: [] };
  if (Array.isArray(p.Inputs)) {
    if (p.Inputs.length > 1) throw invalidArgument('An application supports one input.');
    def.inputs = p.Inputs.map((x: Params, n: number) => inputIn(x, `${n + 1}.1`, `inputs.${n + 1}.member`));
  }
  if (Array.isArray(p.Outputs)) {
    if (p.Outputs.length > 3) throw new KinesisError('LimitExceededException', 'An application supports at most three outputs.');
    def.outputs = p.Outputs.map((x: Params, n: number) => outputIn(x, `${n + 1}.1`));
  }
  checkColumnTypes(def);
  await validateCode(def);
  const now = Date.now();
  const rec: AppRecord = {
    name, arn: arnOf(ctx, name), status: 'READY', versionId: 1, createdAtMs: now, updatedAtMs: now, definition: def,
    tags: tagsIn(p.Tags), owner: 'api', ...(p.ApplicationDescription !== undefined ? { description: String(p.ApplicationDescription) } : {}),
  };
  if (!(await createApplication(await kv(ctx), rec))) throw inUse(`Application ${name} already exists.`);
  return { ApplicationSummary: { ApplicationName: name, ApplicationARN: rec.arn, ApplicationStatus: rec.status } };
};

const arnOf = (ctx: ApiContext, name: string) => `arn:aws:kinesisanalytics:${ctx.config.region}:${ctx.config.accountId}:application/${name}`;

const describeApplication: Operation = async (ctx, p) => {
  const { record } = await load(ctx, requireName(p));
  return { ApplicationDetail: detail(record, ctx.config.region, ctx.config.accountId) };
};

const listApplicationsOp: Operation = async (ctx, p) => {
  const limit = p.Limit ?? 50;
  if (!Number.isInteger(limit) || limit < 1 || limit > 50) throw validationError([`Value '${limit}' at 'limit' failed to satisfy constraint: Member must have value between 1 and 50`]);
  const all = await listApplications<ApplicationDefinition>(await kv(ctx));
  const after = typeof p.ExclusiveStartApplicationName === 'string' ? all.filter((a) => a.name > p.ExclusiveStartApplicationName) : all;
  return {
    ApplicationSummaries: after.slice(0, limit).map((a) => ({ ApplicationName: a.name, ApplicationARN: a.arn, ApplicationStatus: a.status })),
    HasMoreApplications: after.length > limit,
  };
};

const startApplication: Operation = async (ctx, p) => {
  const name = requireName(p);
  const { record: r, revision } = await load(ctx, name);
  if (!Array.isArray(p.InputConfigurations)) throw validationError(["Value null at 'inputConfigurations' failed to satisfy constraint: Member must not be null"]);
  if (r.status !== 'READY') throw inUse(`Application ${name} is in ${r.status} state; it can be started only when READY.`);
  if (r.definition.inputs.length === 0) throw new KinesisError('InvalidApplicationConfigurationException', `Application ${name} has no input.`);
  if (!r.definition.code.trim()) throw new KinesisError('InvalidApplicationConfigurationException', `Application ${name} has no application code.`);
  const positions: Record<string, string> = {};
  for (const c of p.InputConfigurations as Params[]) {
    if (!r.definition.inputs.some((i) => i.id === c.Id)) throw invalidArgument(`Input id ${String(c.Id)} is not an input of application ${name}.`);
    const pos = c.InputStartingPositionConfiguration?.InputStartingPosition ?? 'NOW';
    if (!['NOW', 'TRIM_HORIZON', 'LAST_STOPPED_POINT'].includes(pos)) throw invalidArgument(`InputStartingPosition ${pos} is not NOW, TRIM_HORIZON or LAST_STOPPED_POINT.`);
    positions[c.Id] = pos;
  }
  for (const i of r.definition.inputs) {
    if (i.source.kind === 'stream' && !(await getStream(ctx.store, i.source.name))) {
      throw new KinesisError('InvalidApplicationConfigurationException', `Input stream ${i.source.name} does not exist.`);
    }
    if (i.source.kind === 'firehose' && !(await deliveryStreamRecordsStream(ctx.store, i.source.name).catch((e) => { if (e instanceof DeliveryStreamNotFoundError) return undefined; throw e; }))) {
      throw new KinesisError('InvalidApplicationConfigurationException', `Input delivery stream ${i.source.name} does not exist.`);
    }
  }
  r.status = 'STARTING';
  r.startingPositions = positions;
  // A fresh start (any input from NOW or TRIM_HORIZON) is a new run; LAST_STOPPED_POINT resumes the last one.
  if (r.definition.inputs.some((i) => (positions[i.id] ?? 'NOW') !== 'LAST_STOPPED_POINT')) {
    r.runId = randomUUID().replace(/-/g, '').slice(0, 16);
    r.runStartedAtMs = Date.now();
  }
  r.updatedAtMs = Date.now();
  await save(ctx, r, revision, () => inUse(`Application ${name} is being changed.`));
  return {};
};

const stopApplication: Operation = async (ctx, p) => {
  const name = requireName(p);
  const { record: r, revision } = await load(ctx, name);
  if (r.status === 'READY' || r.status === 'STOPPING') return {};
  if (r.status !== 'RUNNING' && r.status !== 'STARTING') throw inUse(`Application ${name} is in ${r.status} state.`);
  r.status = 'STOPPING';
  r.updatedAtMs = Date.now();
  await save(ctx, r, revision, () => inUse(`Application ${name} is being changed.`));
  return {};
};

const deleteApplication: Operation = async (ctx, p) => {
  const name = requireName(p);
  const { record: r } = await load(ctx, name);
  const ts = p.CreateTimestamp;
  const ms = ts instanceof Date ? ts.getTime() : typeof ts === 'number' ? ts * 1000 : NaN;
  if (Number.isNaN(ms)) throw validationError(["Value null at 'createTimestamp' failed to satisfy constraint: Member must not be null"]);
  if (Math.floor(ms / 1000) !== Math.floor(r.createdAtMs / 1000)) throw invalidArgument(`CreateTimestamp does not match the creation time of application ${name}.`);
  await deleteApplicationRecord(await kv(ctx), name);
  return {};
};

const updateApplication: Operation = async (ctx, p) => {
  const u = p.ApplicationUpdate;
  if (!u || typeof u !== 'object') throw validationError(["Value null at 'applicationUpdate' failed to satisfy constraint: Member must not be null"]);
  await change(ctx, p, ['READY', 'RUNNING'], (r) => {
    const d = r.definition;
    if (typeof u.ApplicationCodeUpdate === 'string') d.code = u.ApplicationCodeUpdate;
    for (const iu of (u.InputUpdates ?? []) as Params[]) {
      const i = d.inputs.find((x) => x.id === iu.InputId);
      if (!i) throw invalidArgument(`Input id ${String(iu.InputId)} not found.`);
      if (iu.NamePrefixUpdate) i.namePrefix = iu.NamePrefixUpdate;
      if (iu.KinesisStreamsInputUpdate) i.source = { kind: 'stream', name: streamNameOfArn(iu.KinesisStreamsInputUpdate.ResourceARNUpdate, 'ResourceARNUpdate') };
      if (iu.KinesisFirehoseInputUpdate) i.source = { kind: 'firehose', name: deliveryStreamNameOfArn(iu.KinesisFirehoseInputUpdate.ResourceARNUpdate, 'ResourceARNUpdate') };
      if (iu.InputParallelismUpdate?.CountUpdate !== undefined) i.parallelism = parallelismIn(iu.InputParallelismUpdate.CountUpdate, 'applicationUpdate.inputUpdates.member.inputParallelismUpdate.countUpdate');
      const s = iu.InputSchemaUpdate;
      if (s?.RecordColumnUpdates) i.columns = columnsIn(s.RecordColumnUpdates);
      if (s?.RecordFormatUpdate) i.format = inputIn({ NamePrefix: 'x', KinesisStreamsInput: { ResourceARN: `arn:aws:kinesis:x:000000000000:stream/x` }, InputSchema: { RecordFormat: s.RecordFormatUpdate, RecordColumns: [{ Name: 'X', SqlType: 'INTEGER' }] } }, 'x').format;
    }
    for (const ou of (u.OutputUpdates ?? []) as Params[]) {
      const k = d.outputs.findIndex((x) => x.id === ou.OutputId);
      if (k < 0) throw invalidArgument(`Output id ${String(ou.OutputId)} not found.`);
      const o = d.outputs[k]!;
      if (ou.NameUpdate) o.name = ou.NameUpdate;
      if (ou.KinesisStreamsOutputUpdate) o.destination = { kind: 'stream', name: streamNameOfArn(ou.KinesisStreamsOutputUpdate.ResourceARNUpdate, 'ResourceARNUpdate') };
      if (ou.DestinationSchemaUpdate?.RecordFormatType) o.format = ou.DestinationSchemaUpdate.RecordFormatType;
    }
    for (const ru of (u.ReferenceDataSourceUpdates ?? []) as Params[]) {
      const ref = d.references.find((x) => x.id === ru.ReferenceId);
      if (!ref) throw invalidArgument(`Reference id ${String(ru.ReferenceId)} not found.`);
      if (ru.TableNameUpdate) ref.tableName = ru.TableNameUpdate;
      if (ru.S3ReferenceDataSourceUpdate?.FileKeyUpdate) ref.s3.key = ru.S3ReferenceDataSourceUpdate.FileKeyUpdate;
      if (ru.ReferenceSchemaUpdate?.RecordColumns) ref.columns = columnsIn(ru.ReferenceSchemaUpdate.RecordColumns);
    }
    checkColumnTypes(d);
    if (r.status === 'RUNNING') r.status = 'UPDATING';
  });
  return {};
};

const addApplicationInput: Operation = async (ctx, p) => {
  await change(ctx, p, ['READY', 'RUNNING'], (r) => {
    if (r.definition.inputs.length >= 1) throw invalidArgument('An application supports one input.');
    r.definition.inputs.push(inputIn(p.Input, nextId(r.definition.inputs)));
    checkColumnTypes(r.definition);
  });
  return {};
};

const addApplicationOutput: Operation = async (ctx, p) => {
  await change(ctx, p, ['READY', 'RUNNING'], (r) => {
    if (r.definition.outputs.length >= 3) throw new KinesisError('LimitExceededException', 'An application supports at most three outputs.');
    r.definition.outputs.push(outputIn(p.Output, nextId(r.definition.outputs)));
  });
  return {};
};

/** Removes the entry with that id (outputs, reference data sources), or answers ResourceNotFoundException. */
function removeById(list: { id: string }[], id: unknown, what: string): void {
  const k = list.findIndex((o) => o.id === id);
  if (k < 0) throw new KinesisError('ResourceNotFoundException', `${what} id ${String(id)} not found.`);
  list.splice(k, 1);
}

const deleteApplicationOutput: Operation = async (ctx, p) => {
  await change(ctx, p, ['READY', 'RUNNING'], (r) => {
    removeById(r.definition.outputs, p.OutputId, 'Output');
  });
  return {};
};

const addApplicationReferenceDataSource: Operation = async (ctx, p) => {
  await change(ctx, p, ['READY', 'RUNNING'], (r) => {
    if (r.definition.references.length >= 1) throw invalidArgument('An application supports one reference data source.');
    r.definition.references.push(referenceIn(p.ReferenceDataSource, nextId(r.definition.references)));
  });
  return {};
};

const deleteApplicationReferenceDataSource: Operation = async (ctx, p) => {
  await change(ctx, p, ['READY', 'RUNNING'], (r) => {
    removeById(r.definition.references, p.ReferenceId, 'Reference');
  });
  return {};
};

const discoverInputSchema: Operation = async (ctx, p) => {
  // A delivery stream is sampled from the stream holding its records (the same one an input reads).
  let stream;
  if (isDeliveryStreamArn(p.ResourceARN)) {
    const name = deliveryStreamNameOfArn(p.ResourceARN, 'ResourceARN');
    const notFound = () => new KinesisError('ResourceNotFoundException', `Delivery stream ${name} under account ${ctx.config.accountId} not found.`);
    const held = await deliveryStreamRecordsStream(ctx.store, name).catch((e) => { throw e instanceof DeliveryStreamNotFoundError ? notFound() : e; });
    stream = await getStream(ctx.store, held);
    if (!stream) throw notFound();
  } else {
    const name = streamNameOfArn(p.ResourceARN, 'ResourceARN');
    stream = await getStream(ctx.store, name);
    if (!stream) throw new KinesisError('ResourceNotFoundException', `Stream ${name} under account ${ctx.config.accountId} not found.`);
  }
  const pos = p.InputStartingPositionConfiguration?.InputStartingPosition ?? 'NOW';
  // NOW on a quiet stream would sample nothing: sample the newest records instead of waiting.
  const samples: Buffer[] = [];
  for (const shard of openShards(stream)) {
    const read = await readBatch(ctx.store, stream, shard.shardId, { jsSeq: 0, index: 0 }, { limit: 100, maxBytes: 1 << 20, keys: ctx.keys });
    const recs = pos === 'TRIM_HORIZON' ? read.records : read.records.slice(-100);
    for (const r of recs) samples.push(r.data);
    if (samples.length >= 100) break;
  }
  const inferred = inferSchema(samples.slice(0, 100));
  if (!inferred) {
    throw new KinesisError('UnableToDetectSchemaException', 'Unable to detect the schema: the stream holds no records to sample.');
  }
  return {
    InputSchema: schemaOut(inferred.format, inferred.columns),
    ParsedInputRecords: inferred.parsed,
    ProcessedInputRecords: samples.map((s) => s.toString('utf8')),
    RawInputRecords: samples.map((s) => s.toString('utf8')),
  };
};

async function byArn(ctx: ApiContext, arn: unknown): Promise<{ record: AppRecord; revision: number }> {
  const m = typeof arn === 'string' ? /^arn:aws[a-z-]*:kinesisanalytics:[a-z0-9-]+:(\d{12}):application\/([a-zA-Z0-9_.-]{1,128})$/.exec(arn) : null;
  if (!m) throw invalidArgument(`ResourceARN ${String(arn)} is not a valid application ARN.`);
  return load(ctx, m[2]!);
}

const tagResource: Operation = async (ctx, p) => {
  const { record: r, revision } = await byArn(ctx, p.ResourceARN);
  const tags = { ...r.tags, ...tagsIn(p.Tags) };
  if (Object.keys(tags).length > 50) throw new KinesisError('TooManyTagsException', 'Application can have at most 50 tags.');
  r.tags = tags;
  await save(ctx, r, revision, () => concurrent(r.name, r.versionId, r.versionId));
  return {};
};

const untagResource: Operation = async (ctx, p) => {
  const { record: r, revision } = await byArn(ctx, p.ResourceARN);
  for (const k of (p.TagKeys ?? []) as string[]) delete r.tags[k];
  await save(ctx, r, revision, () => concurrent(r.name, r.versionId, r.versionId));
  return {};
};

const listTagsForResource: Operation = async (ctx, p) => {
  const { record: r } = await byArn(ctx, p.ResourceARN);
  return { Tags: Object.entries(r.tags).map(([Key, Value]) => ({ Key, Value })) };
};

const cloudWatchUnsupported: Operation = async () => {
  throw new KinesisError('UnsupportedOperationException', 'CloudWatch logging options are not supported by Shardline; application errors go to error_stream.');
};

const inputProcessingUnsupported: Operation = async () => {
  throw new KinesisError('UnsupportedOperationException', 'Input preprocessing with a Lambda function is not supported by Shardline.');
};

export const ANALYTICS_OPERATIONS: Record<string, Operation> = {
  CreateApplication: createApplicationOp,
  DescribeApplication: describeApplication,
  ListApplications: listApplicationsOp,
  StartApplication: startApplication,
  StopApplication: stopApplication,
  UpdateApplication: updateApplication,
  DeleteApplication: deleteApplication,
  AddApplicationInput: addApplicationInput,
  AddApplicationOutput: addApplicationOutput,
  DeleteApplicationOutput: deleteApplicationOutput,
  AddApplicationReferenceDataSource: addApplicationReferenceDataSource,
  DeleteApplicationReferenceDataSource: deleteApplicationReferenceDataSource,
  DiscoverInputSchema: discoverInputSchema,
  TagResource: tagResource,
  UntagResource: untagResource,
  ListTagsForResource: listTagsForResource,
  AddApplicationCloudWatchLoggingOption: cloudWatchUnsupported,
  DeleteApplicationCloudWatchLoggingOption: cloudWatchUnsupported,
  AddApplicationInputProcessingConfiguration: inputProcessingUnsupported,
  DeleteApplicationInputProcessingConfiguration: inputProcessingUnsupported,
};
