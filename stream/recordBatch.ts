// The payload of one JetStream message: the records one or more requests sent
// to one shard within the same tick, packed together so that the per-message
// ceiling of JetStream does not bound records per second.
//
//   u8 version | f64 arrival ms | u32 count | count × (u16 key len | key | u32 data len | data)

const VERSION = 1;
const HEADER = 1 + 8 + 4;

export interface StoredRecord {
  partitionKey: string;
  data: Buffer;
}

export interface DecodedBatch {
  arrivalMs: number;
  records: StoredRecord[];
}

export function encodedSize(r: { partitionKeyBytes: number; data: Buffer }): number {
  return 2 + r.partitionKeyBytes + 4 + r.data.length;
}

export function encodeBatch(arrivalMs: number, records: { partitionKey: string; partitionKeyBytes: number; data: Buffer }[]): Buffer {
  let size = HEADER;
  for (const r of records) size += encodedSize(r);
  const out = batchHeader(size, arrivalMs, records.length);
  let at = HEADER;
  for (const r of records) {
    at = writeRecordHead(out, at, r.partitionKey, r.partitionKeyBytes, r.data.length);
    out.set(r.data, at);
    at += r.data.length;
  }
  return out;
}

/** A batch's buffer of `size` bytes with its header written. */
function batchHeader(size: number, arrivalMs: number, count: number): Buffer {
  const out = Buffer.allocUnsafe(size);
  out.writeUInt8(VERSION, 0);
  out.writeDoubleBE(arrivalMs, 1);
  out.writeUInt32BE(count, 9);
  return out;
}

/** A record's key length, key and data length at `at`; where its data goes. */
function writeRecordHead(out: Buffer, at: number, pk: string, kl: number, dl: number): number {
  out.writeUInt16BE(kl, at);
  at += 2;
  // ASCII (any other character takes more UTF-8 bytes than UTF-16 units):
  // the bytes are the char codes. Cheaper than a native write per record.
  if (kl === pk.length) for (let i = 0; i < kl; i++) out[at++] = pk.charCodeAt(i);
  else at += out.write(pk, at, 'utf8');
  out.writeUInt32BE(dl, at);
  return at + 4;
}

/** Records whose data lie back to back in one buffer, record i ending at ends[i] (the analytics emitter's formatted rows). */
export interface PackedRecordSource {
  readonly bytes: Uint8Array;
  readonly ends: Int32Array;
  start(i: number): number;
  /** UTF-8 bytes of record i's partition key, and those bytes written at `at`: no string per record. */
  keyBytes(i: number): number;
  writeKey(i: number, out: Uint8Array, at: number): void;
}

/** encodeBatch of the source's records idx[from], …, idx[to - 1]: each record's bytes copied once, no object per record. */
export function encodePackedBatch(arrivalMs: number, src: PackedRecordSource, idx: ArrayLike<number>, from: number, to: number): Buffer {
  const out = batchHeader(packedSize(src, idx, from, to), arrivalMs, to - from);
  writePacked(out, src, idx, from, to);
  return out;
}

/**
 * encodePackedBatch's loops, each a function of its own: V8 compiled the first while it ran (on-stack
 * replacement), and the second, not run yet, threw that code away at every message (four compiles a
 * million events).
 */
function packedSize(src: PackedRecordSource, idx: ArrayLike<number>, from: number, to: number): number {
  let size = HEADER;
  for (let k = from; k < to; k++) {
    const i = idx[k]!;
    size += 6 + src.keyBytes(i) + src.ends[i]! - src.start(i);
  }
  return size;
}

function writePacked(out: Buffer, src: PackedRecordSource, idx: ArrayLike<number>, from: number, to: number): void {
  let at = HEADER;
  const b = src.bytes;
  for (let k = from; k < to; k++) {
    const i = idx[k]!;
    const s = src.start(i);
    const dl = src.ends[i]! - s;
    const kl = src.keyBytes(i);
    out.writeUInt16BE(kl, at);
    src.writeKey(i, out, at + 2);
    at += 2 + kl;
    out.writeUInt32BE(dl, at);
    at += 4;
    // A row is tens of bytes: a loop costs less than a view and a native copy.
    if (dl > 64) out.set(b.subarray(s, s + dl), at);
    else for (let j = 0; j < dl; j++) out[at + j] = b[s + j]!;
    at += dl;
  }
}

/** Builds a caller's record from a stored one (its index in the message): readers make their own shape in one step. */
export type MakeRecord<T> = (partitionKey: string, data: Buffer, index: number) => T;

const stored: MakeRecord<StoredRecord> = (partitionKey, data) => ({ partitionKey, data });

/**
 * Decodes a batch; records before `fromIndex` are skipped without copying.
 * `make` shapes each record (default StoredRecord): a reader builds what it
 * hands out directly, without an intermediate object per record. At most
 * `max` records are decoded (a reader that can take only that many more).
 */
export function decodeBatch(buf: Uint8Array, fromIndex?: number): DecodedBatch;
export function decodeBatch<T>(buf: Uint8Array, fromIndex: number, make: MakeRecord<T>, max?: number): { arrivalMs: number; records: T[] };
export function decodeBatch<T>(buf: Uint8Array, fromIndex = 0, make?: MakeRecord<T>, max = Infinity): { arrivalMs: number; records: (T | StoredRecord)[] } {
  const mk = (make ?? stored) as MakeRecord<T | StoredRecord>;
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  if (b.length < HEADER || b.readUInt8(0) !== VERSION) throw new Error('unsupported record batch');
  const arrivalMs = b.readDoubleBE(1);
  const count = b.readUInt32BE(9);
  const records: (T | StoredRecord)[] = [];
  const end = Math.min(count, fromIndex + max);
  let at = HEADER;
  for (let i = 0; i < end; i++) {
    const kl = b.readUInt16BE(at);
    at += 2;
    const keyAt = at;
    at += kl;
    const dl = b.readUInt32BE(at);
    at += 4;
    if (i >= fromIndex) {
      records.push(mk(b.toString('utf8', keyAt, keyAt + kl), b.subarray(at, at + dl), i));
    }
    at += dl;
  }
  return { arrivalMs, records };
}

/**
 * The records from `fromIndex` on (at most `max`) without decoding them:
 * their sizes as read limits count them (data plus partition key bytes), the
 * byte offset of record `fromIndex` (packed reads walk from there), and
 * which of them (counted from `fromIndex`) `isAggregate` says are KPL aggregates.
 */
export function walkBatch(buf: Buffer, fromIndex: number, max: number, isAggregate?: (buf: Buffer, start: number, end: number) => boolean): { count: number; sizes: number[]; at: number; aggregates?: Set<number> } {
  if (buf.length < HEADER || (buf[0] !== VERSION)) throw new Error('unsupported record batch');
  const count = buf.readUInt32BE(9);
  const end = Math.min(count, fromIndex + max);
  const sizes: number[] = [];
  let aggregates: Set<number> | undefined;
  let at = HEADER;
  let start = HEADER;
  for (let i = 0; i < end; i++) {
    if (i === fromIndex) start = at;
    const kl = buf.readUInt16BE(at);
    const dl = buf.readUInt32BE(at + 2 + kl);
    if (i >= fromIndex) {
      sizes.push(kl + dl);
      if (isAggregate?.(buf, at + 6 + kl, at + 6 + kl + dl)) (aggregates ??= new Set()).add(i - fromIndex);
    }
    at += 6 + kl + dl;
  }
  return { count: sizes.length, sizes, at: fromIndex < end ? start : at, aggregates };
}

/**
 * Steps through a plain batch's records from the byte offset of one record
 * (walkBatch's `at`): each call of next() moves to the next record and sets
 * where its partition key and data are. No object per record.
 */
export class RecordCursor {
  keyStart = 0;
  keyEnd = 0;
  dataStart = 0;
  dataEnd = 0;
  constructor(readonly buf: Buffer, private at: number) {}

  next(): void {
    const b = this.buf;
    const kl = b.readUInt16BE(this.at);
    this.keyStart = this.at + 2;
    this.keyEnd = this.keyStart + kl;
    const dl = b.readUInt32BE(this.keyEnd);
    this.dataStart = this.keyEnd + 4;
    this.dataEnd = this.dataStart + dl;
    this.at = this.dataEnd;
  }
}

/**
 * Data bytes of `count` records from byte offset `at` (walkBatch's): their length fields only, read as
 * bytes (a cursor step per record made a packed batch's byte metric ~3% of an analytics worker's CPU).
 */
export function recordsDataBytes(b: Uint8Array, at: number, count: number): number {
  let n = 0;
  for (let i = 0; i < count; i++) {
    const p = at + 2 + ((b[at]! << 8) | b[at + 1]!);
    const dl = b[p]! * 0x1000000 + ((b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!);
    n += dl;
    at = p + 4 + dl;
  }
  return n;
}

/** Arrival time without decoding the records (AT_TIMESTAMP search). */
export function batchArrivalMs(buf: Uint8Array): number {
  return Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength).readDoubleBE(1);
}

export function batchCount(buf: Uint8Array): number {
  return Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength).readUInt32BE(9);
}
