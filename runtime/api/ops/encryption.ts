// Server-side encryption: StartStreamEncryption / StopStreamEncryption, and the
// key a write seals its message with. Keys come from the key ring (the
// operator's Secret, stream/keyring.ts) in place of AWS KMS; records are
// encrypted per JetStream message (stream/batchCipher.ts), so records
// written before Start stay readable and records written after Stop are plain.
import { defaultKeyRing, KeyError, type DataKey, type KeyRing } from '../../../stream/keyring.js';
import { StreamNotFoundError } from '../../../stream/streams.js';
import { setStreamEncryption, StreamNotActiveError } from '../../../stream/streamEncryption.js';
import type { StreamRecord } from '../../../stream/streamRecord.js';
import { KinesisError, invalidArgument, resourceInUse, streamNotFound } from '../errors.js';
import { streamNameOf, type ApiContext, NO_OUTPUT, type Operation } from '../context.js';

export const keysOf = (ctx: ApiContext): KeyRing => ctx.keys ?? defaultKeyRing();

/** The Kinesis error for a key that cannot be used (KMSNotFoundException, …). */
export const kmsError = (e: KeyError) => new KinesisError(e.code, e.message);

/**
 * The key new records of the stream are sealed with; undefined when the stream
 * is not encrypted. Throws the KMS* KinesisError when the key cannot be used.
 */
export function streamDataKey(ctx: ApiContext, rec: StreamRecord): DataKey | undefined {
  if (rec.encryption.type !== 'KMS' || rec.encryption.keyId === undefined) return undefined;
  try {
    return keysOf(ctx).resolve(rec.encryption.keyId);
  } catch (e) {
    if (e instanceof KeyError) throw kmsError(e);
    throw e;
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
    if (e instanceof KeyError) throw kmsError(e);
    throw e;
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

/** Rethrows a KeyError from reading encrypted records as its KMS* KinesisError. */
export function kmsFailure(e: unknown): never {
  throw e instanceof KeyError ? kmsError(e) : e;
}
