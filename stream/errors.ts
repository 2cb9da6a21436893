// The stream library's typed errors. The library throws only these (and
// infrastructure errors from NATS it cannot interpret); callers decide what
// they mean to their users: the API layer (runtime/api/libraryErrors.ts)
// turns them into Kinesis errors, the operator into conditions, workers into
// log lines and retries. Fields carry what a caller needs to word a message.

/** Base class: `instanceof StreamLibraryError` tells library errors from the rest. */
export class StreamLibraryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

export class StreamNotFoundError extends StreamLibraryError {
  constructor(readonly stream: string) {
    super(`stream ${stream} not found`);
  }
}

export class StreamExistsError extends StreamLibraryError {
  constructor(readonly stream: string) {
    super(`stream ${stream} already exists`);
  }
}

/** A compare-and-set lost against another writer more times than allowed. */
export class ConflictError extends StreamLibraryError {}

/** No such shard in the stream (never was, or removed after its retention). */
export class ShardNotFoundError extends StreamLibraryError {
  constructor(readonly stream: string, readonly shardId: string) {
    super(`shard ${shardId} of stream ${stream} not found`);
  }
}

export type InvalidPositionReason =
  /** Not one of our sequence numbers. */
  | { kind: 'malformed'; sequenceNumber: string }
  /** A sequence number of another shard. */
  | { kind: 'other-shard'; sequenceNumber: string; encodedShardId: string }
  /** AT_TIMESTAMP later than now. */
  | { kind: 'future-timestamp'; timestampMs: number; nowMs: number };

/** A start position that names no place in the shard. */
export class InvalidPositionError extends StreamLibraryError {
  constructor(readonly stream: string, readonly shardId: string, readonly reason: InvalidPositionReason) {
    super(`invalid start position for ${stream}/${shardId}: ${reason.kind}`);
  }
}

export type KmsErrorCode =
  | 'KMSNotFoundException'
  | 'KMSDisabledException'
  | 'KMSInvalidStateException'
  | 'KMSAccessDeniedException';

/**
 * An encryption key cannot be used (missing, disabled, pending deletion, or
 * the ciphertext fails authentication). `code` is the name Kinesis gives the
 * matching KMS failure and `message` is worded as AWS words it, because the
 * key ring stands in for KMS and clients match on both.
 */
export class KeyUnavailableError extends StreamLibraryError {
  constructor(readonly code: KmsErrorCode, message: string) {
    super(message);
    this.name = code;
  }
}

/**
 * JetStream refused to make or grow a shard's storage for want of resources:
 * file descriptors (10049 "too many open files"), storage or memory limits
 * (10023, 10028, 10047), the stream-count limit (10027). Retryable: the
 * refusal says nothing about the request, only about the server right now.
 */
export class StorageRefusedError extends StreamLibraryError {
  constructor(readonly detail: string, readonly errCode?: number) {
    super(`storage refused: ${detail}`);
  }
}

// 10077: "error creating store for stream" — the file store could not be made (nats-server 2.9 answers this
// when it is out of descriptors: its log says "too many open files"; or out of disk space).
/** The JetStream refusals a caller may retry later. */
const REFUSAL_CODES = new Set([10023, 10027, 10028, 10047, 10077]);
const REFUSAL_TEXT = /too many open files|insufficient (storage )?resources|resources exceeded|maximum number of streams|no space left|error creating store/i;

/** A StorageRefusedError for a JetStream answer that is a resource refusal; undefined for anything else. */
export function storageRefusal(e: unknown): StorageRefusedError | undefined {
  if (e instanceof StorageRefusedError) return e;
  const api = (e as { api_error?: { err_code?: number; description?: string } })?.api_error;
  const text = `${api?.description ?? ''} ${(e as Error)?.message ?? ''}`;
  if ((api?.err_code !== undefined && REFUSAL_CODES.has(api.err_code)) || REFUSAL_TEXT.test(text)) {
    return new StorageRefusedError((api?.description ?? (e as Error)?.message ?? String(e)).trim(), api?.err_code);
  }
  return undefined;
}

/** Long work stopped between steps because its caller asked (e.g. it lost the lease that let it do the work). */
export class WorkInterruptedError extends StreamLibraryError {}
