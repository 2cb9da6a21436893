// The public contract of the consumer library (KCL equivalent): what an
// application implements (RecordProcessor) and the two seams it plugs in
// (ShardSource: where records come from; LeaseStore: where leases and
// checkpoints live). Other packages (delivery, analytics) build on these.
import type { PackedRecords } from '../stream/packedRecords.js';

/** One user record handed to processRecords (a de-aggregated KPL record carries its subSequenceNumber). */
export interface ConsumerRecord {
  shardId: string;
  sequenceNumber: string;
  subSequenceNumber?: number;
  partitionKey: string;
  explicitHashKey?: string;
  data: Buffer;
  approximateArrivalTimestamp: Date;
  encryptionType?: 'NONE' | 'KMS';
}

export interface RecordBatch {
  shardId: string;
  records: ConsumerRecord[];
  millisBehindLatest: number;
  /**
   * When the read that returned this batch was issued (epoch ms). A caught-up batch
   * (millisBehindLatest 0) holds every record stored before then: a watermark that
   * follows the clock takes this time, not the time the batch is processed, which
   * can be much later (a process paused past its lease, a long GC).
   */
  readAtMs?: number;
}

/** A batch as stored: records not made into objects (RecordProcessor.processPackedRecords). */
export interface PackedRecordBatch {
  shardId: string;
  packed: PackedRecords;
  millisBehindLatest: number;
  /** As RecordBatch.readAtMs. */
  readAtMs?: number;
}

export interface Checkpointer {
  /** No argument: the last record handed out (SHARD_END inside shardEnded). Rejects with LeaseLostError when the lease is gone. */
  checkpoint(sequenceNumber?: string, subSequenceNumber?: number): Promise<void>;
}

export interface RecordProcessor {
  initialize?(input: { shardId: string; checkpoint?: string }): Promise<void> | void;
  processRecords(batch: RecordBatch, checkpointer: Checkpointer): Promise<void>;
  /**
   * Optional, for processors that decode the data themselves: a batch the
   * source read without an object per record (the in-cluster source, while
   * it reads a backlog) comes here instead of processRecords. Never a batch
   * that needs de-aggregation or lies partly before a sub-sequence checkpoint.
   */
  processPackedRecords?(batch: PackedRecordBatch, checkpointer: Checkpointer): Promise<void>;
  /**
   * True when nothing (the processor, or anything it handed them to) reads a packed batch's bytes once
   * processPackedRecords has resolved: the runner then gives the batch's message buffers back to the
   * connection for later reads (stream/natsSplitMessages.ts), and a backlog is read into the same memory.
   */
  readonly packedBytesDuringCallOnly?: boolean;
  /** The shard is closed and fully read: must checkpoint() to let its children start. */
  shardEnded(checkpointer: Checkpointer): Promise<void>;
  /** Graceful hand-off (stop() or rebalance): the place for a final checkpoint. */
  shutdownRequested?(checkpointer: Checkpointer): Promise<void>;
  /** Another worker took the lease; checkpointing is no longer possible. */
  leaseLost?(): Promise<void> | void;
}

export type InitialPosition = { type: 'TRIM_HORIZON' } | { type: 'LATEST' } | { type: 'AT_TIMESTAMP'; timestampMs: number };

/** Where a source starts reading a shard. */
export type SourceStart =
  | InitialPosition
  | { type: 'AT_SEQUENCE_NUMBER'; sequenceNumber: string }
  | { type: 'AFTER_SEQUENCE_NUMBER'; sequenceNumber: string };

export interface SourceShard {
  shardId: string;
  parentShardId?: string;
  adjacentParentShardId?: string;
  /** Closed by a reshard: it ends once read to its end. */
  closed: boolean;
}

/** A record as stored (possibly a KPL aggregate: the consumer de-aggregates). */
export interface SourceRecord {
  sequenceNumber: string;
  partitionKey: string;
  explicitHashKey?: string;
  data: Buffer;
  arrivalMs: number;
  encrypted?: boolean;
}

export interface SourceBatch {
  /** Empty when `packed` holds the records. */
  records: SourceRecord[];
  /** The records left in their stored messages (a reader asked for packed batches may give them so). */
  packed?: PackedRecords;
  millisBehindLatest: number;
  /** The shard is closed and everything in it has been returned. */
  shardEnded: boolean;
}

export interface ShardReader {
  /**
   * The next records after the previous call. When none are there yet, waits
   * up to `waitMs` for some (a push source returns as soon as they arrive) and
   * then returns an empty batch. Rejects only on errors the consumer should
   * log and retry after a pause.
   */
  next(opts: { limit: number; waitMs: number; signal: AbortSignal; packed?: boolean }): Promise<SourceBatch>;
  close(): Promise<void> | void;
}

/** Where records come from: the stream library directly (directSource) or any Kinesis endpoint (kinesisSource). */
export interface ShardSource {
  /** Every shard of the stream still in retention, with its lineage. */
  listShards(streamName: string): Promise<SourceShard[]>;
  openShard(streamName: string, shardId: string, start: SourceStart): Promise<ShardReader>;
  close?(): Promise<void> | void;
}

/** A stored value with the revision compare-and-set is made against. */
export interface Versioned<T> {
  value: T;
  revision: number;
}

/**
 * A small compare-and-set key/value store holding one application's leases,
 * checkpoints and worker heartbeats (kvLeaseStore: a JetStream KV bucket;
 * memoryLeaseStore / fileLeaseStore for tests and single-host use). Keys are
 * [A-Za-z0-9_=.-] tokens joined by '.'.
 */
export interface LeaseStore {
  list(prefix: string): Promise<Map<string, Versioned<unknown>>>;
  get(key: string): Promise<Versioned<unknown> | undefined>;
  /** Creates when `expectedRevision` is 0; undefined when the key exists / the revision moved on. */
  put(key: string, value: unknown, expectedRevision: number): Promise<number | undefined>;
  delete(key: string, expectedRevision: number): Promise<boolean>;
  close?(): Promise<void> | void;
}

export interface ConsumerOptions {
  applicationName: string;
  streamName: string;
  source: ShardSource;
  leaseStore: LeaseStore;
  processorFactory: (shardId: string) => RecordProcessor;
  workerId?: string;
  initialPosition?: InitialPosition;
  /** A lease not renewed for this long is taken over by another worker (KCL's failoverTimeMillis). */
  failoverTimeMs?: number;
  /** De-aggregate KPL records into user records with sub-sequence numbers. */
  deaggregate?: boolean;
  /** Records per read (≤ 10000). */
  maxRecords?: number;
  /** How long a read waits for new records before returning empty (KCL's idleTimeBetweenReadsInMillis). */
  idleTimeBetweenReadsMs?: number;
  /** How often the shard list is refreshed (new children after a reshard). */
  shardSyncIntervalMs?: number;
  /** Call processRecords with an empty batch when a read returned nothing. */
  callProcessRecordsEvenForEmptyRecordList?: boolean;
  /** Prometheus registry for the consumer metrics (default: prom-client's global registry). */
  metricsRegistry?: import('prom-client').Registry;
  /** Diagnostic lines (default: none). */
  log?: (msg: string) => void;
}
