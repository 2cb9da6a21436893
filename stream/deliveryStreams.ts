// Delivery stream definitions (Firehose): one JSON record per delivery stream
// in a JetStream KV bucket, written by the Firehose API and by the operator
// (for DeliveryStream resources) and read by the delivery workers. Same
// compare-and-set discipline as stream records.
import { randomBytes } from 'node:crypto';
import type { KV } from 'nats';
import type { Store } from './connect.js';
import { backingStreamName } from './names.js';
import { deleteStream, ensureStream } from './streams.js';
import { kvKeys } from './kvKeys.js';

export const DELIVERY_BUCKET = 'shardline_delivery';
/** Worker progress: checkpoints and flush intents, keyed by delivery stream uid. */
export const DELIVERY_STATE_BUCKET = 'shardline_delivery_state';

export type DeliveryStreamStatus = 'CREATING' | 'ACTIVE' | 'DELETING';
export type DeliveryStreamType = 'DirectPut' | 'KinesisStreamAsSource';

/**
 * The destination, in the Firehose API's ExtendedS3DestinationConfiguration
 * shape (as given, defaults filled in), so DescribeDeliveryStream and the
 * worker read the same thing.
 */
export interface S3DestinationDef {
  BucketARN: string;
  RoleARN?: string;
  Prefix?: string;
  ErrorOutputPrefix?: string;
  BufferingHints: { SizeInMBs: number; IntervalInSeconds: number };
  CompressionFormat: 'UNCOMPRESSED' | 'GZIP' | 'ZIP' | 'Snappy' | 'HADOOP_SNAPPY';
  FileExtension?: string;
  CustomTimeZone?: string;
  EncryptionConfiguration?: Record<string, unknown>;
  CloudWatchLoggingOptions?: Record<string, unknown>;
  ProcessingConfiguration?: { Enabled?: boolean; Processors?: { Type: string; Parameters?: { ParameterName: string; ParameterValue: string }[] }[] };
  DynamicPartitioningConfiguration?: { Enabled?: boolean; RetryOptions?: { DurationInSeconds?: number } };
  S3BackupMode?: 'Disabled' | 'Enabled';
  DataFormatConversionConfiguration?: DataFormatConversionDef;
}

/**
 * Firehose's record format conversion (JSON → Parquet), in the API's shape.
 * There is no Glue here: SchemaConfiguration.Columns holds the table's columns
 * (Glue/Hive type strings), taken from a DeliveryStream resource's inline
 * schema, or resolved by DatabaseName/TableName when the API creates one.
 */
export interface DataFormatConversionDef {
  Enabled?: boolean;
  SchemaConfiguration?: {
    RoleARN?: string; CatalogId?: string; DatabaseName?: string; TableName?: string; Region?: string; VersionId?: string;
    /**
     * Shardline: the table's columns, in Glue's StorageDescriptor.Columns shape.
     * Absent in a stored definition that names a Glue catalog table: the worker
     * fills them in (and VersionId) when it forms a flush.
     */
    Columns?: { Name: string; Type: string }[];
    /** Set by the worker instead of Columns when the catalog table cannot be used: its records go to the error prefix. */
    CatalogError?: { ErrorCode: string; ErrorMessage: string };
  };
  InputFormatConfiguration?: {
    Deserializer?: {
      OpenXJsonSerDe?: { ConvertDotsInJsonKeysToUnderscores?: boolean; CaseInsensitive?: boolean; ColumnToJsonKeyMappings?: Record<string, string> };
      HiveJsonSerDe?: { TimestampFormats?: string[] };
    };
  };
  OutputFormatConfiguration?: {
    Serializer?: {
      ParquetSerDe?: {
        BlockSizeBytes?: number; PageSizeBytes?: number; Compression?: 'UNCOMPRESSED' | 'GZIP' | 'SNAPPY';
        EnableDictionaryCompression?: boolean; MaxPaddingBytes?: number; WriterVersion?: 'V1' | 'V2';
      };
      OrcSerDe?: Record<string, unknown>;
    };
  };
}

/** An HTTP endpoint destination (Firehose HTTP endpoint delivery request/response spec v1.0); `s3` is then its backup bucket. */
export interface HttpDestinationDef {
  Url: string;
  Name?: string;
  AccessKey?: string;
  ContentEncoding: 'NONE' | 'GZIP';
  CommonAttributes: { AttributeName: string; AttributeValue: string }[];
  RetryDurationInSeconds: number;
  S3BackupMode: 'FailedDataOnly' | 'AllData';
  /**
   * Firehose's processing chain before the endpoint (RecordDeAggregation,
   * Lambda, AppendDelimiterToRecord; no dynamic partitioning, which is S3's).
   * The backup bucket's `s3` never carries it: AllData backs up source records.
   */
  ProcessingConfiguration?: S3DestinationDef['ProcessingConfiguration'];
}

export interface DeliveryStreamRecord {
  name: string;
  /** New for every creation: keys the worker's checkpoints so a re-created stream starts afresh. */
  uid: string;
  status: DeliveryStreamStatus;
  type: DeliveryStreamType;
  /** The stream the worker reads: the Kinesis source, or the hidden backing stream of a Direct PUT one. */
  sourceStream: string;
  kinesisSource?: { KinesisStreamARN: string; RoleARN?: string; deliveryStartMs: number };
  /** Goes up by one with every UpdateDestination; it is also the version in object names. */
  versionId: number;
  createdAtMs: number;
  lastUpdateMs?: number;
  destinationId: string;
  /** The S3 destination, or the backup bucket of an HTTP endpoint destination. */
  s3: S3DestinationDef;
  http?: HttpDestinationDef;
  tags: Record<string, string>;
  encryption: { status: 'ENABLED' | 'DISABLED'; keyType?: 'AWS_OWNED_CMK' | 'CUSTOMER_MANAGED_CMK'; keyArn?: string };
  /** Who owns the definition: the API, or a DeliveryStream resource (namespace/name). */
  owner: { kind: 'api' } | { kind: 'resource'; namespace: string; name: string };
}

export class DeliveryStreamExistsError extends Error {}
export class DeliveryStreamNotFoundError extends Error {}
export class VersionMismatchError extends Error {}

const key = (name: string) => 'ds.' + name.replace(/\./g, '=2E');
const nameOfKey = (k: string) => (k.startsWith('ds.') ? k.slice(3).replace(/=2E/g, '.') : undefined);

export interface DeliveryStore {
  store: Store;
  defs: KV;
  state: KV;
}

export async function openDeliveryStore(store: Store): Promise<DeliveryStore> {
  const defs = await store.js.views.kv(DELIVERY_BUCKET, { history: 1, replicas: store.replicas });
  const state = await store.js.views.kv(DELIVERY_STATE_BUCKET, { history: 1, replicas: store.replicas });
  return { store, defs, state };
}

export async function readDeliveryStream(ds: DeliveryStore, name: string): Promise<{ record: DeliveryStreamRecord; revision: number } | undefined> {
  const e = await ds.defs.get(key(name));
  if (!e || e.operation !== 'PUT' || e.length === 0) return undefined;
  return { record: e.json<DeliveryStreamRecord>(), revision: e.revision };
}

export async function getDeliveryStream(ds: DeliveryStore, name: string): Promise<DeliveryStreamRecord | undefined> {
  return (await readDeliveryStream(ds, name))?.record;
}

export async function listDeliveryStreams(ds: DeliveryStore): Promise<DeliveryStreamRecord[]> {
  const names: string[] = [];
  for (const k of await kvKeys(ds.defs, 'ds.>')) {
    const n = nameOfKey(k);
    if (n !== undefined) names.push(n);
  }
  const out: DeliveryStreamRecord[] = [];
  for (const n of names.sort()) {
    const r = await getDeliveryStream(ds, n);
    if (r) out.push(r);
  }
  return out;
}

/** Compare-and-set update; `change` returns undefined to leave the record as it is. */
export async function updateDeliveryStream(
  ds: DeliveryStore,
  name: string,
  change: (r: DeliveryStreamRecord) => DeliveryStreamRecord | undefined,
): Promise<DeliveryStreamRecord> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const cur = await readDeliveryStream(ds, name);
    if (!cur) throw new DeliveryStreamNotFoundError(name);
    const next = change(structuredClone(cur.record));
    if (!next) return cur.record;
    try {
      await ds.defs.update(key(name), JSON.stringify(next), cur.revision);
      return next;
    } catch (e) {
      if (!/wrong last sequence|10071/.test(String((e as Error)?.message ?? e))) throw e;
    }
  }
  throw new Error(`delivery stream ${name} is being changed concurrently`);
}

export type NewDeliveryStream = Omit<DeliveryStreamRecord, 'uid' | 'status' | 'versionId' | 'createdAtMs' | 'destinationId' | 'sourceStream'> & {
  sourceStream?: string;
};

/**
 * Creates the definition (CREATING), then for Direct PUT its backing stream,
 * then marks it ACTIVE. A crash in between is finished by ensureDeliveryStream
 * being called again (the operator does so every reconcile).
 */
export async function createDeliveryStream(ds: DeliveryStore, def: NewDeliveryStream, opts: { mustBeNew?: boolean } = {}): Promise<DeliveryStreamRecord> {
  const rec: DeliveryStreamRecord = {
    ...def,
    uid: randomBytes(6).toString('hex'),
    status: 'CREATING',
    versionId: 1,
    createdAtMs: Date.now(),
    destinationId: 'destinationId-000000000001',
    sourceStream: def.type === 'DirectPut' ? backingStreamName(def.name) : def.sourceStream!,
  };
  try {
    await ds.defs.create(key(def.name), JSON.stringify(rec));
  } catch (e) {
    if (opts.mustBeNew) throw new DeliveryStreamExistsError(def.name);
    throw e;
  }
  return rec;
}

/** Finishes creation: the backing stream of a Direct PUT delivery stream, then ACTIVE. Idempotent. */
export async function activateDeliveryStream(ds: DeliveryStore, name: string, backingShards = 1): Promise<DeliveryStreamRecord | undefined> {
  const cur = await getDeliveryStream(ds, name);
  if (!cur || cur.status !== 'CREATING') return cur;
  if (cur.type === 'DirectPut') {
    // ON_DEMAND: a backing stream is not throttled per shard; Firehose's own limits apply at PutRecordBatch.
    await ensureStream(ds.store, { name: cur.sourceStream, shardCount: backingShards, mode: 'ON_DEMAND', retentionHours: 24, replicas: ds.store.replicas === 3 ? 3 : 1 });
  }
  return updateDeliveryStream(ds, name, (r) => (r.uid === cur.uid && r.status === 'CREATING' ? { ...r, status: 'ACTIVE' } : undefined));
}

/** Marks DELETING, removes the backing stream and the worker state, then the definition. Idempotent. */
export async function deleteDeliveryStream(ds: DeliveryStore, name: string): Promise<void> {
  let rec: DeliveryStreamRecord;
  try {
    rec = await updateDeliveryStream(ds, name, (r) => (r.status === 'DELETING' ? undefined : { ...r, status: 'DELETING' }));
  } catch (e) {
    if (e instanceof DeliveryStreamNotFoundError) return;
    throw e;
  }
  if (rec.type === 'DirectPut') await deleteStream(ds.store, rec.sourceStream);
  for (const k of await kvKeys(ds.state, `${rec.uid}.>`)) await ds.state.purge(k).catch(() => undefined);
  const cur = await readDeliveryStream(ds, name);
  if (cur && cur.record.uid === rec.uid) await ds.defs.delete(key(name), { previousSeq: cur.revision }).catch(() => undefined);
}

export class DefinitionOwnerError extends Error {}

/**
 * The operator's write: creates the resource's definition, or brings its
 * destination up to date (a new version, as UpdateDestination makes), and
 * finishes creation. A definition owned by someone else is not touched.
 */
export async function ensureDeliveryDefinition(ds: DeliveryStore, def: NewDeliveryStream): Promise<DeliveryStreamRecord> {
  const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
  let cur = await getDeliveryStream(ds, def.name);
  if (!cur) {
    try {
      await createDeliveryStream(ds, def, { mustBeNew: true });
    } catch (e) {
      if (!(e instanceof DeliveryStreamExistsError)) throw e;
    }
    cur = await getDeliveryStream(ds, def.name);
    if (!cur) throw new DeliveryStreamNotFoundError(def.name);
  }
  if (!same(cur.owner, def.owner)) {
    const by = cur.owner.kind === 'api' ? 'the Firehose API' : `DeliveryStream ${cur.owner.namespace}/${cur.owner.name}`;
    throw new DefinitionOwnerError(`Delivery stream ${def.name} already exists, created by ${by}.`);
  }
  if (cur.status === 'CREATING') cur = (await activateDeliveryStream(ds, def.name)) ?? cur;
  if (cur.status === 'ACTIVE' && (!same(cur.s3, def.s3) || !same(cur.http, def.http) || (def.sourceStream !== undefined && cur.sourceStream !== def.sourceStream))) {
    cur = await updateDeliveryStream(ds, def.name, (r) => {
      const { http: _old, ...rest } = r;
      return {
        ...rest, s3: def.s3, ...(def.http ? { http: def.http } : {}),
        sourceStream: def.type === 'DirectPut' ? r.sourceStream : def.sourceStream!, versionId: r.versionId + 1, lastUpdateMs: Date.now(),
      };
    });
  }
  return cur;
}

/** What one delivery worker process reports (its lifetime totals), under <uid>.stats.<worker>. */
export interface WorkerStats {
  deliveredRecords: number;
  lastDeliveryMs?: number;
  /** Arrival of the oldest record this worker holds undelivered; absent when it holds none. */
  oldestPendingMs?: number;
  failures: Record<string, number>;
  destinationError?: { kind: string; message: string; atMs: number };
  updatedMs: number;
}

/** A delivery stream's progress over all its workers, for the operator's status. */
export interface DeliveryStats {
  deliveredRecords: number;
  lastDeliveryMs?: number;
  /** Age of the oldest undelivered record held by a live worker when it last reported (0 when none). */
  dataFreshnessSeconds: number;
  failures: Record<string, number>;
  destinationError?: string;
  liveWorkers: number;
}

const statsToken = (s: string) => s.replace(/[^A-Za-z0-9_-]/g, (c) => '=' + c.charCodeAt(0).toString(16).padStart(2, '0').toUpperCase());

export async function publishWorkerStats(ds: DeliveryStore, uid: string, workerId: string, stats: WorkerStats): Promise<void> {
  await ds.state.put(`${uid}.stats.${statsToken(workerId)}`, JSON.stringify(stats));
}

/**
 * Sums every worker's totals (a dead worker's last report still counts, so
 * the total survives restarts); freshness and errors come from live workers
 * only (reported within `liveMs`).
 */
export async function readDeliveryStats(ds: DeliveryStore, name: string, liveMs = 30_000, nowMs = Date.now()): Promise<DeliveryStats | undefined> {
  const rec = await getDeliveryStream(ds, name);
  if (!rec) return undefined;
  const out: DeliveryStats = { deliveredRecords: 0, dataFreshnessSeconds: 0, failures: {}, liveWorkers: 0 };
  for (const k of await kvKeys(ds.state, `${rec.uid}.stats.>`)) {
    const e = await ds.state.get(k);
    if (!e || e.operation !== 'PUT' || e.length === 0) continue;
    const s = e.json<WorkerStats>();
    out.deliveredRecords += s.deliveredRecords;
    if (s.lastDeliveryMs !== undefined) out.lastDeliveryMs = Math.max(out.lastDeliveryMs ?? 0, s.lastDeliveryMs);
    for (const [kind, n] of Object.entries(s.failures)) out.failures[kind] = (out.failures[kind] ?? 0) + n;
    if (nowMs - s.updatedMs > liveMs) continue;
    out.liveWorkers++;
    // As of the report (not of now): an unchanged report gives an unchanged status, so a converged operator writes nothing.
    if (s.oldestPendingMs !== undefined) out.dataFreshnessSeconds = Math.max(out.dataFreshnessSeconds, Math.round((s.updatedMs - s.oldestPendingMs) / 1000));
    if (s.destinationError) out.destinationError = `${s.destinationError.kind}: ${s.destinationError.message}`;
  }
  return out;
}

/**
 * The stream holding the records of a delivery stream, as a reader of its
 * records sees them (Kinesis Data Analytics' KinesisFirehoseInput): the hidden
 * backing stream PutRecord/PutRecordBatch write for Direct PUT, the source
 * stream for KinesisStreamAsSource. A delivery stream that does not exist (or
 * is being deleted) is DeliveryStreamNotFoundError.
 */
export async function deliveryStreamRecordsStream(store: Store, name: string): Promise<string> {
  const rec = await getDeliveryStream(await openDeliveryStore(store), name);
  if (!rec || rec.status === 'DELETING') throw new DeliveryStreamNotFoundError(`delivery stream ${name} does not exist`);
  return rec.sourceStream;
}
