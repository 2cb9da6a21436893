// Firehose operations on the delivery stream definitions (stream/deliveryStreams.ts)
// and, for Direct PUT, the write path into the hidden backing stream.
import {
  activateDeliveryStream, createDeliveryStream, deleteDeliveryStream, DeliveryStreamExistsError, getDeliveryStream,
  listDeliveryStreams, openDeliveryStore, updateDeliveryStream, VersionMismatchError,
  type DeliveryStore, type DeliveryStreamRecord,
} from '../../../stream/deliveryStreams.js';
import { encodeSequence } from '../../../stream/kinesis/sequence.js';
import { jsSubject } from '../../../stream/names.js';
import { openShards } from '../../../stream/streamRecord.js';
import { KinesisError, invalidArgument, limitExceeded, resourceInUse, resourceNotFound } from '../errors.js';
import { keysOf, sealingKey } from '../ops/encryption.js';
import { setStreamEncryption } from '../../../stream/streamEncryption.js';
import { KeyError } from '../../../stream/keyring.js';
import type { ApiContext, Params } from '../context.js';
import { describeDestination, destinationFromConfig, destinationUpdate } from './destination.js';
import { tablesOf } from './conversion.js';
import { glueCatalogKv, glueTableNames } from '../../../stream/glueCatalog.js';

/** The Glue catalog's tables (`database.table`) a DataFormatConversionConfiguration may name. */
const catalogTables = async (ctx: ApiContext) => glueTableNames(await glueCatalogKv(ctx.store));
import { describeHttpDestination, httpDestinationFromConfig, httpDestinationUpdate } from './httpDestination.js';

const stores = new WeakMap<ApiContext, Promise<DeliveryStore>>();
/** The delivery buckets, opened once per API context. */
export function deliveryStore(ctx: ApiContext): Promise<DeliveryStore> {
  let s = stores.get(ctx);
  if (!s) {
    s = openDeliveryStore(ctx.store);
    s.catch(() => stores.delete(ctx));
    stores.set(ctx, s);
  }
  return s;
}

const MAX_DELIVERY_STREAMS = () => Number(process.env.SHARDLINE_FIREHOSE_LIMIT ?? 50);
const PUT_BATCH_MAX_BYTES = 4 * 1024 * 1024;
const MAX_TAGS = 50;
/** A definition still CREATING this long after creation was left by a process that died: finish it. */
const STALE_CREATING_MS = 5_000;

const concurrentModification = (m: string) => new KinesisError('ConcurrentModificationException', m);
const serviceUnavailable = (m: string) => new KinesisError('ServiceUnavailableException', m, 503);

export const deliveryStreamArn = (ctx: ApiContext, name: string) => `arn:aws:firehose:${ctx.config.region}:${ctx.config.accountId}:deliverystream/${name}`;
const notFound = (ctx: ApiContext, name: string) => resourceNotFound(`Firehose ${name} under account ${ctx.config.accountId} not found.`);

async function requireDeliveryStream(ctx: ApiContext, name: string): Promise<DeliveryStreamRecord> {
  const r = await getDeliveryStream(await deliveryStore(ctx), name);
  if (!r) throw notFound(ctx, name);
  return r;
}

const KINESIS_ARN = /^arn:aws[a-z-]*:kinesis:([a-z0-9-]+):(\d{12}):stream\/(.+)$/;

function finishCreation(ctx: ApiContext, ds: DeliveryStore, name: string): void {
  void (async () => {
    const rec = await activateDeliveryStream(ds, name);
    if (rec?.type === 'DirectPut' && rec.encryption.status === 'ENABLED') await applyEncryption(ctx, rec);
  })().catch((e) => console.error(`firehose: activating ${name}: ${(e as Error).message}`));
}

/**
 * Server-side encryption of a Direct PUT stream is its backing stream's: new
 * records are sealed with the key (the key ring stands in for KMS, as for
 * Kinesis streams). AWS_OWNED_CMK is the key ring's `alias/aws/firehose`.
 */
export const AWS_OWNED_KEY_ALIAS = 'alias/aws/firehose';
const keyRefOf = (enc: { keyType?: string; keyArn?: string }) => (enc.keyType === 'CUSTOMER_MANAGED_CMK' ? enc.keyArn! : AWS_OWNED_KEY_ALIAS);

function checkKey(ctx: ApiContext, ref: string): void {
  try {
    keysOf(ctx).resolve(ref);
  } catch (e) {
    if (e instanceof KeyError) throw new KinesisError('InvalidKMSResourceException', `The key ${ref} cannot be used for server-side encryption: ${e.message}`);
    throw e;
  }
}

async function applyEncryption(ctx: ApiContext, rec: DeliveryStreamRecord): Promise<void> {
  const encryption = rec.encryption.status === 'ENABLED' ? { type: 'KMS' as const, keyId: keyRefOf(rec.encryption) } : { type: 'NONE' as const };
  await setStreamEncryption(ctx.store, rec.sourceStream, encryption);
  await ctx.cache.fresh(rec.sourceStream);
}

export async function createDeliveryStreamOp(ctx: ApiContext, p: Params) {
  const name = p.DeliveryStreamName as string;
  const type = (p.DeliveryStreamType as string | undefined) ?? 'DirectPut';
  if (type !== 'DirectPut' && type !== 'KinesisStreamAsSource') throw invalidArgument(`DeliveryStreamType ${type} is not supported by this Shardline version.`);
  const src = p.KinesisStreamSourceConfiguration as Params | undefined;
  if (type === 'KinesisStreamAsSource' && !src) throw invalidArgument('KinesisStreamSourceConfiguration is required when DeliveryStreamType is KinesisStreamAsSource.');
  if (type === 'DirectPut' && src) throw invalidArgument('KinesisStreamSourceConfiguration is only allowed when DeliveryStreamType is KinesisStreamAsSource.');
  const configs = Object.keys(p).filter((k) => k.endsWith('DestinationConfiguration'));
  if (configs.length !== 1) throw invalidArgument('Exactly one destination configuration must be specified.');
  if (!['S3DestinationConfiguration', 'ExtendedS3DestinationConfiguration', 'HttpEndpointDestinationConfiguration'].includes(configs[0]!)) {
    throw invalidArgument(`${configs[0]} is not supported by this Shardline version; use ExtendedS3DestinationConfiguration or HttpEndpointDestinationConfiguration.`);
  }
  const ds = await deliveryStore(ctx);
  const all = await listDeliveryStreams(ds);
  const { s3, http } = configs[0] === 'HttpEndpointDestinationConfiguration'
    ? httpDestinationFromConfig(p[configs[0]] as Params)
    : { s3: destinationFromConfig(p[configs[0]!] as Params, tablesOf(all, await catalogTables(ctx))), http: undefined };
  let sourceStream: string | undefined;
  if (src) {
    const m = KINESIS_ARN.exec(src.KinesisStreamARN as string);
    if (!m || m[1] !== ctx.config.region || m[2] !== ctx.config.accountId || !(await ctx.cache.lookup(m[3]!))) {
      throw invalidArgument(`Kinesis stream ${src.KinesisStreamARN} does not exist.`);
    }
    sourceStream = m[3];
  }
  const tags = tagsOf(p.Tags as Params[] | undefined);
  const enc = p.DeliveryStreamEncryptionConfigurationInput as Params | undefined;
  if (enc && type !== 'DirectPut') throw invalidArgument('Server-side encryption is only supported for DirectPut delivery streams.');
  if (enc) {
    if (enc.KeyType === 'CUSTOMER_MANAGED_CMK' && !enc.KeyARN) throw invalidArgument('KeyARN is required when KeyType is CUSTOMER_MANAGED_CMK.');
    checkKey(ctx, keyRefOf({ keyType: enc.KeyType, keyArn: enc.KeyARN }));
  }
  if (all.some((r) => r.name === name)) throw resourceInUse(`Firehose ${name} under accountId ${ctx.config.accountId} already exists`);
  if (all.length >= MAX_DELIVERY_STREAMS()) {
    throw limitExceeded(`You have already consumed your firehose quota of ${MAX_DELIVERY_STREAMS()} hoses. Firehose names: [${all.map((r) => r.name).join(', ')}]`);
  }
  try {
    await createDeliveryStream(ds, {
      name, type, sourceStream, s3, http, tags,
      kinesisSource: src ? { KinesisStreamARN: src.KinesisStreamARN, RoleARN: src.RoleARN, deliveryStartMs: Date.now() } : undefined,
      encryption: enc ? { status: 'ENABLED', keyType: enc.KeyType, keyArn: enc.KeyARN } : { status: 'DISABLED' },
      owner: { kind: 'api' },
    }, { mustBeNew: true });
  } catch (e) {
    if (e instanceof DeliveryStreamExistsError) throw resourceInUse(`Firehose ${name} under accountId ${ctx.config.accountId} already exists`);
    throw e;
  }
  finishCreation(ctx, ds, name);
  return { DeliveryStreamARN: deliveryStreamArn(ctx, name) };
}

function tagsOf(list: Params[] | undefined): Record<string, string> {
  const tags: Record<string, string> = {};
  for (const t of list ?? []) tags[t.Key] = t.Value ?? '';
  return tags;
}

export async function deleteDeliveryStreamOp(ctx: ApiContext, p: Params) {
  const name = p.DeliveryStreamName as string;
  const rec = await requireDeliveryStream(ctx, name);
  if (rec.owner.kind === 'resource') {
    throw resourceInUse(`Firehose ${name} is managed by the DeliveryStream resource ${rec.owner.namespace}/${rec.owner.name}; delete the resource instead.`);
  }
  const ds = await deliveryStore(ctx);
  await updateDeliveryStream(ds, name, (r) => (r.status === 'DELETING' ? undefined : { ...r, status: 'DELETING' }));
  void deleteDeliveryStream(ds, name).catch((e) => console.error(`firehose: deleting ${name}: ${(e as Error).message}`));
  return {};
}

export async function describeDeliveryStreamOp(ctx: ApiContext, p: Params) {
  const name = p.DeliveryStreamName as string;
  let rec = await requireDeliveryStream(ctx, name);
  if (rec.status === 'CREATING' && Date.now() - rec.createdAtMs > STALE_CREATING_MS) {
    rec = (await activateDeliveryStream(await deliveryStore(ctx), name)) ?? rec;
  }
  const source = rec.kinesisSource
    ? { KinesisStreamSourceDescription: { KinesisStreamARN: rec.kinesisSource.KinesisStreamARN, RoleARN: rec.kinesisSource.RoleARN, DeliveryStartTimestamp: new Date(rec.kinesisSource.deliveryStartMs) } }
    : undefined;
  const encryption = rec.encryption.status === 'ENABLED'
    ? { KeyARN: rec.encryption.keyArn, KeyType: rec.encryption.keyType, Status: 'ENABLED' }
    : { Status: 'DISABLED' };
  return {
    DeliveryStreamDescription: {
      DeliveryStreamName: rec.name,
      DeliveryStreamARN: deliveryStreamArn(ctx, rec.name),
      DeliveryStreamStatus: rec.status,
      DeliveryStreamEncryptionConfiguration: encryption,
      DeliveryStreamType: rec.type,
      VersionId: String(rec.versionId),
      CreateTimestamp: new Date(rec.createdAtMs),
      LastUpdateTimestamp: rec.lastUpdateMs !== undefined ? new Date(rec.lastUpdateMs) : undefined,
      Source: source,
      Destinations: [{ DestinationId: rec.destinationId, ...(rec.http ? describeHttpDestination(rec.http, rec.s3) : describeDestination(rec.s3)) }],
      HasMoreDestinations: false,
    },
  };
}

export async function listDeliveryStreamsOp(ctx: ApiContext, p: Params) {
  const limit = (p.Limit as number | undefined) ?? 10;
  const after = p.ExclusiveStartDeliveryStreamName as string | undefined;
  const all = (await listDeliveryStreams(await deliveryStore(ctx)))
    .filter((r) => p.DeliveryStreamType === undefined || r.type === p.DeliveryStreamType)
    .filter((r) => after === undefined || r.name > after)
    .map((r) => r.name);
  return { DeliveryStreamNames: all.slice(0, limit), HasMoreDeliveryStreams: all.length > limit };
}

export async function updateDestinationOp(ctx: ApiContext, p: Params) {
  const name = p.DeliveryStreamName as string;
  const want = Number(p.CurrentDeliveryStreamVersionId);
  const cur = await requireDeliveryStream(ctx, name);
  if (p.DestinationId !== cur.destinationId) throw invalidArgument(`Destination ${p.DestinationId} not found for Firehose ${name}.`);
  const updates = Object.keys(p).filter((k) => k.endsWith('DestinationUpdate'));
  if (updates.length !== 1) throw invalidArgument('Exactly one destination update must be specified.');
  const wanted = cur.http ? ['HttpEndpointDestinationUpdate'] : ['S3DestinationUpdate', 'ExtendedS3DestinationUpdate'];
  if (!wanted.includes(updates[0]!)) {
    throw invalidArgument(`Changing the destination type to ${updates[0]!.replace('Update', '')} is not supported by this Shardline version.`);
  }
  if (cur.status !== 'ACTIVE') throw resourceInUse(`Firehose ${name} under account ${ctx.config.accountId} is not ACTIVE: it is ${cur.status}.`);
  const ds = await deliveryStore(ctx);
  const tables = tablesOf(await listDeliveryStreams(ds), await catalogTables(ctx));
  try {
    await updateDeliveryStream(ds, name, (r) => {
      if (r.versionId !== want) throw new VersionMismatchError(String(r.versionId));
      const next = r.http ? httpDestinationUpdate({ s3: r.s3, http: r.http }, p[updates[0]!] as Params) : { s3: destinationUpdate(r.s3, p[updates[0]!] as Params, tables) };
      return { ...r, ...next, versionId: r.versionId + 1, lastUpdateMs: Date.now() };
    });
  } catch (e) {
    if (e instanceof VersionMismatchError) {
      throw concurrentModification(`Cannot update Firehose ${name} under account ${ctx.config.accountId}: the current version id is ${e.message}, but the request named version id ${p.CurrentDeliveryStreamVersionId}.`);
    }
    throw e;
  }
  return {};
}

type PutResult = { id: string } | { error: string; message: string };

/** Firehose's answer to a record over the delivery stream's quota. */
const SLOW_DOWN = 'Slow down.';

/**
 * Stores Direct PUT records in the backing stream; resolves once JetStream has
 * them. Records over the delivery stream's quota, or that cannot be stored, are
 * answered ServiceUnavailableException (per record) and counted as
 * ThrottledRecords.
 */
async function putDirect(ctx: ApiContext, rec: DeliveryStreamRecord, datas: Buffer[]): Promise<PutResult[]> {
  if (rec.type !== 'DirectPut') throw invalidArgument('This operation is not permitted on KinesisStreamAsSource type delivery stream.');
  if (rec.status !== 'ACTIVE') throw notFound(ctx, rec.name);
  const out: PutResult[] = new Array(datas.length);
  const admitted: number[] = [];
  const fits = ctx.directPut?.admit(rec.name, datas.map((d) => d.length));
  datas.forEach((_, i) => {
    if (!fits || fits[i]) admitted.push(i);
    else out[i] = { error: 'ServiceUnavailableException', message: SLOW_DOWN };
  });
  if (admitted.length > 0) await storeDirect(ctx, rec, datas, admitted, out);
  ctx.metrics?.throttledRecords(rec.name, out.reduce((n, r) => n + ('error' in r ? 1 : 0), 0));
  return out;
}

/** Appends the admitted records (indices into `datas`) and fills their results in `out`. */
async function storeDirect(ctx: ApiContext, rec: DeliveryStreamRecord, datas: Buffer[], admitted: number[], out: PutResult[]): Promise<void> {
  const s = await ctx.cache.lookup(rec.sourceStream);
  if (!s) {
    // The backing stream is not visible to this process yet: retryable, as a throttle is.
    for (const i of admitted) out[i] = { error: 'ServiceUnavailableException', message: SLOW_DOWN };
    return;
  }
  const shards = openShards(s.record);
  // Sealed with the backing stream's key when encryption is on (a KMS* error when the key cannot be used).
  const key = sealingKey(ctx, s.record);
  // Spread over the backing stream's shards; the order within one request is kept per shard.
  const groups = new Map<number, number[]>();
  admitted.forEach((i, k) => {
    const shard = shards[k % shards.length]!;
    let g = groups.get(shard.index);
    if (!g) groups.set(shard.index, (g = []));
    g.push(i);
  });
  await Promise.all([...groups.entries()].map(async ([index, at]) => {
    try {
      const r = await ctx.appender.append(jsSubject(s.record.uid, index), at.map((i) => ({ partitionKey: '', partitionKeyBytes: 0, data: datas[i]! })), key);
      at.forEach((i, k) => (out[i] = { id: encodeSequence({ shardIndex: index, jsSeq: r.jsSeq, index: r.firstIndex + k }) }));
    } catch (e) {
      for (const i of at) out[i] = { error: 'ServiceUnavailableException', message: `Write to storage failed: ${(e as Error).message}` };
    }
  }));
}

export async function putRecordOp(ctx: ApiContext, p: Params) {
  const rec = await requireDeliveryStream(ctx, p.DeliveryStreamName as string);
  const [r] = await putDirect(ctx, rec, [(p.Record as Params).Data as Buffer]);
  if ('error' in r!) throw serviceUnavailable(r.message);
  return { RecordId: r!.id, Encrypted: rec.encryption.status === 'ENABLED' };
}

export async function putRecordBatchOp(ctx: ApiContext, p: Params) {
  const rec = await requireDeliveryStream(ctx, p.DeliveryStreamName as string);
  const datas = (p.Records as Params[]).map((r) => r.Data as Buffer);
  const total = datas.reduce((n, d) => n + d.length, 0);
  if (total > PUT_BATCH_MAX_BYTES) throw invalidArgument('Records size exceeds 4 MB limit'); // AWS's wording (4 MiB is the limit it enforces)
  const results = await putDirect(ctx, rec, datas);
  let failed = 0;
  const RequestResponses = results.map((r) => {
    if ('error' in r) {
      failed++;
      return { ErrorCode: r.error, ErrorMessage: r.message };
    }
    return { RecordId: r.id };
  });
  return { FailedPutCount: failed, Encrypted: rec.encryption.status === 'ENABLED', RequestResponses };
}

export async function tagDeliveryStreamOp(ctx: ApiContext, p: Params) {
  const name = p.DeliveryStreamName as string;
  await requireDeliveryStream(ctx, name);
  const add = tagsOf(p.Tags as Params[]);
  await updateDeliveryStream(await deliveryStore(ctx), name, (r) => {
    const tags = { ...r.tags, ...add };
    if (Object.keys(tags).length > MAX_TAGS) throw limitExceeded(`A Firehose stream cannot have more than ${MAX_TAGS} tags.`);
    return { ...r, tags };
  });
  return {};
}

export async function untagDeliveryStreamOp(ctx: ApiContext, p: Params) {
  const name = p.DeliveryStreamName as string;
  await requireDeliveryStream(ctx, name);
  await updateDeliveryStream(await deliveryStore(ctx), name, (r) => {
    const tags = { ...r.tags };
    for (const k of p.TagKeys as string[]) delete tags[k];
    return { ...r, tags };
  });
  return {};
}

export async function listTagsForDeliveryStreamOp(ctx: ApiContext, p: Params) {
  const rec = await requireDeliveryStream(ctx, p.DeliveryStreamName as string);
  const limit = (p.Limit as number | undefined) ?? 50;
  const after = p.ExclusiveStartTagKey as string | undefined;
  const keys = Object.keys(rec.tags).sort().filter((k) => after === undefined || k > after);
  return { Tags: keys.slice(0, limit).map((k) => ({ Key: k, Value: rec.tags[k] })), HasMoreTags: keys.length > limit };
}

export async function startEncryptionOp(ctx: ApiContext, p: Params) {
  const name = p.DeliveryStreamName as string;
  const rec = await requireDeliveryStream(ctx, name);
  if (rec.type !== 'DirectPut') throw invalidArgument('Server-side encryption is only supported for DirectPut delivery streams.');
  const input = (p.DeliveryStreamEncryptionConfigurationInput as Params | undefined) ?? { KeyType: 'AWS_OWNED_CMK' };
  if (input.KeyType === 'CUSTOMER_MANAGED_CMK' && !input.KeyARN) throw invalidArgument('KeyARN is required when KeyType is CUSTOMER_MANAGED_CMK.');
  if (input.KeyType === 'AWS_OWNED_CMK' && input.KeyARN) throw invalidArgument('KeyARN must not be specified when KeyType is AWS_OWNED_CMK.');
  checkKey(ctx, keyRefOf({ keyType: input.KeyType, keyArn: input.KeyARN }));
  const next = await updateDeliveryStream(await deliveryStore(ctx), name, (r) => ({ ...r, encryption: { status: 'ENABLED', keyType: input.KeyType, keyArn: input.KeyARN } }));
  if (next.status === 'ACTIVE') await applyEncryption(ctx, next);
  return {};
}

export async function stopEncryptionOp(ctx: ApiContext, p: Params) {
  const name = p.DeliveryStreamName as string;
  const rec = await requireDeliveryStream(ctx, name);
  if (rec.type !== 'DirectPut') throw invalidArgument('Server-side encryption is only supported for DirectPut delivery streams.');
  const next = await updateDeliveryStream(await deliveryStore(ctx), name, (r) => (r.encryption.status === 'DISABLED' ? undefined : { ...r, encryption: { status: 'DISABLED' } }));
  if (next.status === 'ACTIVE') await applyEncryption(ctx, next);
  return {};
}
