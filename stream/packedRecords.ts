// A read's records kept in their messages' bytes (shardRead.ts
// readShardPacked): per message the plain record batch and the range of
// records taken, so a reader that decodes the data itself (analytics' shard
// workers) makes no object per record. Sequence numbers, records as objects
// and the data of one record are made on demand.
import { sequenceIndex, sequencePrefix } from './kinesis/sequence.js';
import { RecordCursor } from './recordBatch.js';
import { recycleMessageBytes } from './natsSplitMessages.js';

export interface PackedMessage {
  jsSeq: number;
  arrivalMs: number;
  /** Stored encrypted (the payload here is the opened batch). */
  encrypted: boolean;
  /** The plain record batch (recordBatch.ts). */
  payload: Buffer;
  /** Records from..to-1 of the message were taken. */
  from: number;
  to: number;
  /** Byte offset of record `from` in the payload. */
  at: number;
  /** A record taken is a KPL aggregate (seen while packing). */
  aggregates: boolean;
  /** Data bytes of the records taken (the consumer's byte metric). */
  dataBytes: number;
}

/** What a packed read hands out in place of records (one shard). */
export class PackedRecords {
  readonly count: number;
  constructor(readonly shardIndex: number, readonly messages: PackedMessage[]) {
    let n = 0;
    for (const m of messages) n += m.to - m.from;
    this.count = n;
  }

  /** The sequence number of record `index` of message `m`. */
  sequenceNumber(m: PackedMessage, index: number): string {
    return sequencePrefix(this.shardIndex, m.jsSeq) + sequenceIndex(index);
  }

  /** The last record's sequence number (undefined when empty). */
  lastSequenceNumber(): string | undefined {
    const m = this.messages[this.messages.length - 1];
    return m ? this.sequenceNumber(m, m.to - 1) : undefined;
  }

  /** The last record's arrival (undefined when empty). */
  lastArrivalMs(): number | undefined {
    return this.messages[this.messages.length - 1]?.arrivalMs;
  }

  /** Walks every record: `visit(message, index, cursor)` with the cursor on the record's key and data. */
  forEach(visit: (m: PackedMessage, index: number, c: RecordCursor) => void): void {
    for (const m of this.messages) {
      const c = new RecordCursor(m.payload, m.at);
      for (let i = m.from; i < m.to; i++) {
        c.next();
        visit(m, i, c);
      }
    }
  }

  /** Data bytes of all records (the consumer's byte metric). */
  dataBytes(): number {
    let n = 0;
    for (const m of this.messages) n += m.dataBytes;
    return n;
  }

  /** The messages' buffers back to the connection's pool (natsSplitMessages.ts): nothing may read these records after. */
  recycle(): void {
    recycleMessageBytes(this.messages.map((m) => m.payload));
  }

  /** True when a record is a KPL aggregate (a consumer that de-aggregates takes the records as objects then). */
  hasAggregates(): boolean {
    return this.messages.some((m) => m.aggregates);
  }

  /** The records as the ordinary reads hand them out. */
  toRecords(): { sequenceNumber: string; partitionKey: string; data: Buffer; arrivalMs: number; encrypted: boolean }[] {
    const out: { sequenceNumber: string; partitionKey: string; data: Buffer; arrivalMs: number; encrypted: boolean }[] = [];
    this.forEach((m, i, c) => out.push({
      sequenceNumber: this.sequenceNumber(m, i),
      partitionKey: m.payload.toString('utf8', c.keyStart, c.keyEnd),
      data: m.payload.subarray(c.dataStart, c.dataEnd),
      arrivalMs: m.arrivalMs,
      encrypted: m.encrypted,
    }));
    return out;
  }
}
