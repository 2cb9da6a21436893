// Server-side encryption: StartStreamEncryption / StopStreamEncryption, and the
// key a write seals its message with. Keys come from the key ring (the
// operator's Secret, stream/keyring.ts) in place of AWS KMS; records are
// encrypted per JetStream message (stream/batchCipher.ts), so records
// written before Start stay readable and records written after Stop are plain.
import { defaultKeyRing, type DataKey, type KeyRing } from '../../../stream/keyring.js';
import { StreamNotFoundError } from '../../../stream/streams.js';
import { setStreamEncryption, streamDataKey, StreamNotActiveError } from '../../../stream/streamEncryption.js';
import { toKinesisError } from '../libraryErrors.js';
import type { StreamRecord } from '../../../stream/streamRecord.js';
import { invalidArgument, resourceInUse, streamNotFound } from '../errors.js';
import { streamNameOf, type ApiContext, NO_OUTPUT, type Operation } from '../context.js';

export const keysOf = (ctx: ApiContext): KeyRing => ctx.keys ?? defaultKeyRing();

/** The key new records of the stream are sealed with (stream library); the KMS* KinesisError when it cannot be used. */
export function sealingKey(ctx: ApiContext, rec: StreamRecord): DataKey | undefined {
  try {
    return streamDataKey(keysOf(ctx), rec);
  } catch (e) {
    throw toKinesisError(ctx, e, 'PutRecords');
  }
}

const notActive = (ctx: ApiContext, name: string, status: string) =>
  resourceInUse(`Stream ${name} under account ${ctx.config.accountId} not ACTIVE, instead in state ${status}`);

async function setEncryption(ctx: ApiContext, name: string, encryption: StreamRecord['encryption']): Promise<void> {
  try {
    await setStreamEncryption(ctx.store, name, encryption);
  } catch (e) {
    if (e instanceof StreamNotActiveError) throw notActive(ctx, name, e.status);
    if (e instanceof StreamNotFoundError) throw streamNotFound(name, ctx.config.accountId);
    throw e;
  }
  await ctx.cache.fresh(name);
}

export const startStreamEncryption: Operation = async (ctx, p) => {
  const name = streamNameOf(ctx, p);
  if (p.EncryptionType !== 'KMS') {
    throw invalidArgument(`Encryption type ${p.EncryptionType} is not supported by StartStreamEncryption. The only valid value is KMS.`);
  }
  const s = await ctx.cache.fresh(name);
  if (!s) throw streamNotFound(name, ctx.config.accountId);
  if (s.record.status !== 'ACTIVE') throw notActive(ctx, name, s.record.status);
  const keyId = p.KeyId as string;
  // The key must exist and be usable now, as KMS checks when Kinesis asks it.
  try {
    keysOf(ctx).resolve(keyId);
  } catch (e) {
    throw toKinesisError(ctx, e, 'StartStreamEncryption');
  }
  await setEncryption(ctx, name, { type: 'KMS', keyId });
  return NO_OUTPUT;
};

export const stopStreamEncryption: Operation = async (ctx, p) => {
  const name = streamNameOf(ctx, p);
  if (p.EncryptionType !== 'KMS') {
    throw invalidArgument(`Encryption type ${p.EncryptionType} is not supported by StopStreamEncryption. The only valid value is KMS.`);
  }
  const s = await ctx.cache.fresh(name);
  if (!s) throw streamNotFound(name, ctx.config.accountId);
  if (s.record.status !== 'ACTIVE') throw notActive(ctx, name, s.record.status);
  await setEncryption(ctx, name, { type: 'NONE' });
  return NO_OUTPUT;
};
