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
