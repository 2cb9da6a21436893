// A stream's server-side encryption state in its record: the one implementation
// of switching it, used by StartStreamEncryption / StopStreamEncryption
// (runtime/api/ops/encryption.ts) and by the operator (DataStream
// spec.encryption, operator/store/streamStore.ts). Which key seals a message is
// decided per write from this state; see stream/batchCipher.ts.
import { StreamLibraryError } from './errors.js';
import type { Store } from './connect.js';
import type { DataKey, KeyRing } from './keyring.js';
import { retentionMs } from './retention.js';
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

/**
 * Key ids whose kept materials (stream/storeKeys.ts) a reader of `rec` may
 * decrypt with: every key id the stream has sealed with (current and
 * history), when the reader's own key ring holds or held one of them (the
 * pods of the DataStream after its key Secret changed, its delivery and
 * analytics workers), or when the stream is no longer encrypted (after
 * StopStreamEncryption, records written encrypted stay readable, as in
 * Kinesis). Empty otherwise: pods of other DataStreams, holding none of this
 * stream's keys, get nothing from the kept copies.
 */
export function keptKeyGrant(keys: KeyRing, rec: StreamRecord): ReadonlySet<string> {
  const ids = new Set((rec.keyHistory ?? []).map((h) => h.keyId));
  if (rec.encryption.type === 'KMS' && rec.encryption.keyId !== undefined) ids.add(rec.encryption.keyId);
  if (ids.size === 0) return NONE;
  if (rec.encryption.type !== 'KMS') return ids;
  for (const id of ids) if (keys.hasLoaded(id)) return ids;
  return NONE;
}
const NONE: ReadonlySet<string> = new Set();

/** How long past retention a replaced key id stays in the history (records may arrive slightly after the switch). */
const HISTORY_MARGIN_MS = 60 * 60_000;

/**
 * The key history after the stream's encryption goes from `prev` to `next` at
 * `now`: the key id it stops sealing with is added (or its time moved on),
 * and ids whose last sealed record is past retention are dropped.
 */
export function nextKeyHistory(rec: StreamRecord, next: StreamEncryption, now: number): StreamRecord['keyHistory'] {
  const prevId = rec.encryption.type === 'KMS' ? rec.encryption.keyId : undefined;
  const keep = retentionMs(rec) + HISTORY_MARGIN_MS;
  const nextId = next.type === 'KMS' ? next.keyId : undefined;
  // The current key is named by `encryption`; each id appears once.
  const out = (rec.keyHistory ?? []).filter((h) => h.keyId !== prevId && h.keyId !== nextId && h.replacedAtMs + keep > now);
  if (prevId !== undefined && prevId !== nextId) out.push({ keyId: prevId, replacedAtMs: now });
  return out.length > 0 ? out : undefined;
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
    const { keyHistory: _, ...rest } = r;
    const keyHistory = nextKeyHistory(r, next, Date.now());
    return keyHistory ? { ...rest, encryption: next, keyHistory } : { ...rest, encryption: next };
  });
}
