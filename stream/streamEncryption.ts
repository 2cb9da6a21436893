// A stream's server-side encryption state in its record: the one implementation
// of switching it, used by StartStreamEncryption / StopStreamEncryption
// (runtime/api/ops/encryption.ts) and by the operator (DataStream
// spec.encryption, operator/store/streamStore.ts). Which key seals a message is
// decided per write from this state; see stream/batchCipher.ts.
import { StreamLibraryError } from './errors.js';
import type { Store } from './connect.js';
import type { DataKey, KeyRing } from './keyring.js';
import { updateStream } from './streams.js';
import type { StreamRecord, StreamStatus } from './streamRecord.js';

export type StreamEncryption = StreamRecord['encryption'];

/** Encryption changes only on an ACTIVE stream, as in Kinesis. */
export class StreamNotActiveError extends StreamLibraryError {
  constructor(readonly stream: string, readonly status: StreamStatus) {
    super(`Stream ${stream} is ${status}, not ACTIVE`);
  }
}

/**
 * The key new records of the stream are sealed with, looked up in the key
 * ring; undefined when the stream is not encrypted. Throws KeyUnavailableError
 * when the key cannot be used (writes then fail rather than store plain text).
 */
export function streamDataKey(keys: KeyRing, rec: StreamRecord): DataKey | undefined {
  if (rec.encryption.type !== 'KMS' || rec.encryption.keyId === undefined) return undefined;
  return keys.resolve(rec.encryption.keyId);
}

export const sameEncryption = (a: StreamEncryption, b: StreamEncryption): boolean =>
  a.type === b.type && a.keyId === b.keyId;

/**
 * Sets the stream's encryption (compare-and-set on its record). No write when
 * it already is so. Throws StreamNotActiveError when the stream is not ACTIVE,
 * StreamNotFoundError when there is no such stream.
 */
export async function setStreamEncryption(store: Store, name: string, encryption: StreamEncryption): Promise<StreamRecord> {
  const next: StreamEncryption = encryption.type === 'KMS' ? { type: 'KMS', keyId: encryption.keyId } : { type: 'NONE' };
  return updateStream(store, name, (r) => {
    if (r.status !== 'ACTIVE') throw new StreamNotActiveError(name, r.status);
    if (sameEncryption(r.encryption, next)) return undefined;
    return { ...r, encryption: next };
  });
}
