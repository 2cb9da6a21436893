// Encryption at rest of one JetStream message (a record batch, recordBatch.ts)
// with AES-256-GCM under a key from the key ring. A sealed batch keeps the
// plain header fields that storage-level code reads without decrypting
// (arrival time for AT_TIMESTAMP searches, record count for reshards) and
// names the key, so a reader needs no stream metadata to open it:
//
//   u8 version=2 | f64 arrival ms | u32 count | u8 key id len | key id | 12 IV
//   | AES-256-GCM(records section of the version-1 batch) | 16 tag
//
// Everything before the ciphertext is authenticated as additional data.
// Partition keys and data are inside the ciphertext. A fresh random IV per
// message; one key seals at most 2^32 messages before it should be rotated
// (StartStreamEncryption with a new key id).
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { KeyError, type DataKey, type KeyRing } from './keyring.js';

export const SEALED_VERSION = 2;
const PLAIN_VERSION = 1;
/** version + arrival + count: identical in both versions. */
const HEADER = 13;
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** Bytes a sealed message adds to the plain batch. */
export const sealOverhead = (key: DataKey) => 1 + Buffer.byteLength(key.id) + IV_BYTES + TAG_BYTES;

export function isSealed(buf: Uint8Array): boolean {
  return buf.length > 0 && buf[0] === SEALED_VERSION;
}

/** Encrypts an encoded version-1 batch. */
export function sealBatch(plain: Buffer, key: DataKey): Buffer {
  const id = Buffer.from(key.id, 'utf8');
  const head = Buffer.allocUnsafe(HEADER + 1 + id.length + IV_BYTES);
  plain.copy(head, 0, 0, HEADER);
  head.writeUInt8(SEALED_VERSION, 0);
  head.writeUInt8(id.length, HEADER);
  id.copy(head, HEADER + 1);
  const iv = randomBytes(IV_BYTES);
  iv.copy(head, HEADER + 1 + id.length);
  const cipher = createCipheriv('aes-256-gcm', key.key, iv);
  cipher.setAAD(head);
  const body = cipher.update(plain.subarray(HEADER));
  const last = cipher.final();
  return Buffer.concat([head, body, last, cipher.getAuthTag()]);
}

/** The key id a sealed message names. */
export function sealedKeyId(buf: Uint8Array): string {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  return b.toString('utf8', HEADER + 1, HEADER + 1 + b.readUInt8(HEADER));
}

/**
 * Decrypts a sealed message back into a version-1 batch (`granted`: key ids
 * whose kept materials may be tried, KeyRing.decryptionKeys); throws KeyError when
 * its key is not configured or not usable, or when it fails authentication.
 */
export function openBatch(buf: Uint8Array, keys: KeyRing, granted?: ReadonlySet<string>): Buffer {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  const idLen = b.readUInt8(HEADER);
  const headEnd = HEADER + 1 + idLen + IV_BYTES;
  if (b.length < headEnd + TAG_BYTES) throw new Error('truncated sealed record batch');
  const id = b.toString('utf8', HEADER + 1, HEADER + 1 + idLen);
  const head = Buffer.allocUnsafe(HEADER);
  b.copy(head, 0, 0, HEADER);
  head.writeUInt8(PLAIN_VERSION, 0);
  // The current material first; after a Secret change the same id may name
  // kept earlier material, which GCM's tag tells apart.
  for (const key of keys.decryptionKeys(id, granted)) {
    const decipher = createDecipheriv('aes-256-gcm', key.key, b.subarray(HEADER + 1 + idLen, headEnd));
    decipher.setAAD(b.subarray(0, headEnd));
    decipher.setAuthTag(b.subarray(b.length - TAG_BYTES));
    try {
      const body = decipher.update(b.subarray(headEnd, b.length - TAG_BYTES));
      return Buffer.concat([head, body, decipher.final()]);
    } catch {
      // not this material
    }
  }
  throw new KeyError(
    'KMSAccessDeniedException',
    `The ciphertext refers to a customer master key that does not exist, does not exist in this region, or you are not allowed to access: records cannot be decrypted with the configured key ${keys.keyArn(id)}.`,
  );
}
