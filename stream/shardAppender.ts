// Coalesces the records that concurrent requests send to one shard within the
// same event-loop turn into one JetStream message. Each caller learns the
// message's sequence and its records' offsets, which make their sequence numbers.
import { encodeBatch, encodedSize } from './recordBatch.js';
import { sealBatch, sealOverhead } from './batchCipher.js';
import type { DataKey } from './keyring.js';
import { MAX_RECORDS_PER_MESSAGE } from './kinesis/sequence.js';
import type { PubAck, WindowedPublisher } from './publisher.js';

export interface AppendRecord {
  partitionKey: string;
  partitionKeyBytes: number;
  data: Buffer;
}

export interface AppendResult {
  jsSeq: number;
  /** Index of the caller's first record inside the message. */
  firstIndex: number;
  arrivalMs: number;
}

interface Waiter {
  count: number;
  firstIndex: number;
  resolve(r: AppendResult): void;
  reject(e: Error): void;
}

interface Batch {
  subject: string;
  records: AppendRecord[];
  bytes: number;
  waiters: Waiter[];
  /** Set when the stream is encrypted: the message is sealed with it. */
  key?: DataKey;
}

const HEADER_BYTES = 13;

export class ShardAppender {
  private readonly open = new Map<string, Batch>();
  private scheduled = false;

  constructor(
    private readonly publisher: WindowedPublisher,
    /** Largest message payload to build (below the server's max_payload). */
    private readonly maxMessageBytes: number,
  ) {}

  /** Appends records (all for one shard subject) and resolves once stored; sealed with `key` when given. */
  append(subject: string, records: AppendRecord[], key?: DataKey): Promise<AppendResult> {
    let bytes = 0;
    for (const r of records) bytes += encodedSize(r);
    let batch = this.open.get(subject);
    if (
      batch &&
      (batch.key !== key ||
        batch.bytes + bytes > this.maxMessageBytes || batch.records.length + records.length > MAX_RECORDS_PER_MESSAGE)
    ) {
      this.flush(batch);
      batch = undefined;
    }
    if (!batch) {
      batch = { subject, records: [], bytes: HEADER_BYTES + (key ? sealOverhead(key) : 0), waiters: [], key };
      this.open.set(subject, batch);
    }
    const b = batch;
    const p = new Promise<AppendResult>((resolve, reject) => {
      b.waiters.push({ count: records.length, firstIndex: b.records.length, resolve, reject });
    });
    for (const r of records) b.records.push(r);
    b.bytes += bytes;
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flushAll());
    }
    return p;
  }

  private flushAll(): void {
    this.scheduled = false;
    for (const b of [...this.open.values()]) this.flush(b);
  }

  private flush(b: Batch): void {
    if (this.open.get(b.subject) === b) this.open.delete(b.subject);
    const arrivalMs = Date.now();
    const plain = encodeBatch(arrivalMs, b.records);
    const payload = b.key ? sealBatch(plain, b.key) : plain;
    this.publisher.publish(b.subject, payload).then(
      (ack: PubAck) => {
        for (const w of b.waiters) w.resolve({ jsSeq: ack.seq, firstIndex: w.firstIndex, arrivalMs });
      },
      (err: Error) => {
        for (const w of b.waiters) w.reject(err);
      },
    );
  }
}
