// KPL record aggregation, the wire format every KPL/KCL speaks:
//   magic F3 89 9A C2 | protobuf AggregatedRecord | MD5(protobuf) (16 bytes)
// with (proto2)
//   message AggregatedRecord { repeated string partition_key_table = 1; repeated string explicit_hash_key_table = 2;
//                              repeated Record records = 3; }
//   message Record { required uint64 partition_key_index = 1; optional uint64 explicit_hash_key_index = 2;
//                    required bytes data = 3; repeated Tag tags = 4; }
//   message Tag { required string key = 1; optional string value = 2; }
//
// The codec is hand-written rather than protobufjs: three fixed messages with five field kinds are ~150
// lines, the encoder sizes the output exactly and writes it into one allocation (the producer sizes
// aggregates incrementally with the same arithmetic, see AggregateBuilder), the decoder hands out
// zero-copy slices of the input, and there is no reflection or per-message object churn on the
// consumer's hot path. Interop with protobufjs (through aws-kinesis-agg) is tested both ways.
import { createHash } from 'node:crypto';

export const KPL_MAGIC = Buffer.from([0xf3, 0x89, 0x9a, 0xc2]);
const DIGEST_BYTES = 16;
/** Magic + MD5 trailer around the protobuf body. */
export const AGGREGATION_OVERHEAD_BYTES = KPL_MAGIC.length + DIGEST_BYTES;

export interface UserRecord {
  partitionKey: string;
  explicitHashKey?: string;
  data: Uint8Array;
}

export interface DeaggregatedRecord {
  partitionKey: string;
  explicitHashKey?: string;
  /** A view into the aggregated record's bytes (not a copy). */
  data: Buffer;
}

/** True when the blob starts with the KPL magic and is long enough to carry a digest; the MD5 is not checked here. */
export function isAggregated(data: Uint8Array): boolean {
  return isAggregatedAt(data, 0, data.length);
}

/** isAggregated() of buf[start, end), without a view of it. */
export function isAggregatedAt(buf: Uint8Array, start: number, end: number): boolean {
  return end - start >= AGGREGATION_OVERHEAD_BYTES && buf[start] === 0xf3 && buf[start + 1] === 0x89 && buf[start + 2] === 0x9a && buf[start + 3] === 0xc2;
}

export function varintSize(n: number): number {
  let size = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 128);
    size++;
  }
  return size;
}

/** Bytes of a length-delimited field (1-byte tag: field numbers < 16) whose payload is `len` bytes. */
function fieldSize(len: number): number {
  return 1 + varintSize(len) + len;
}

/**
 * Builds one aggregated record incrementally and knows its exact encoded size at every step, so a
 * caller can pack user records up to a byte limit (the producer: 1 MiB per Kinesis record).
 */
export class AggregateBuilder {
  private readonly pkIndex = new Map<string, number>();
  private readonly ehkIndex = new Map<string, number>();
  private readonly pkBytes: Buffer[] = [];
  private readonly ehkBytes: Buffer[] = [];
  private readonly entries: { pk: number; ehk: number; data: Uint8Array; size: number }[] = [];
  private bodyBytes = 0;

  get count(): number {
    return this.entries.length;
  }

  /** Total size of build()'s output, magic and digest included. */
  get sizeBytes(): number {
    return this.bodyBytes + AGGREGATION_OVERHEAD_BYTES;
  }

  /** The size build() would return after add(record). */
  sizeWith(record: UserRecord): number {
    return this.sizeBytes + this.growth(record);
  }

  add(record: UserRecord): void {
    const growth = this.growth(record);
    let pk = this.pkIndex.get(record.partitionKey);
    if (pk === undefined) {
      pk = this.pkBytes.length;
      this.pkIndex.set(record.partitionKey, pk);
      this.pkBytes.push(Buffer.from(record.partitionKey, 'utf8'));
    }
    let ehk = -1;
    if (record.explicitHashKey !== undefined) {
      const known = this.ehkIndex.get(record.explicitHashKey);
      if (known === undefined) {
        ehk = this.ehkBytes.length;
        this.ehkIndex.set(record.explicitHashKey, ehk);
        this.ehkBytes.push(Buffer.from(record.explicitHashKey, 'utf8'));
      } else ehk = known;
    }
    this.entries.push({ pk, ehk, data: record.data, size: recordBodySize(pk, ehk, record.data.length) });
    this.bodyBytes += growth;
  }

  build(): Buffer {
    const out = Buffer.allocUnsafe(this.sizeBytes);
    KPL_MAGIC.copy(out, 0);
    let o = KPL_MAGIC.length;
    for (const pk of this.pkBytes) o = writeBytesField(out, o, 0x0a, pk);
    for (const ehk of this.ehkBytes) o = writeBytesField(out, o, 0x12, ehk);
    for (const e of this.entries) {
      out[o++] = 0x1a;
      o = writeVarint(out, o, e.size);
      out[o++] = 0x08;
      o = writeVarint(out, o, e.pk);
      if (e.ehk >= 0) {
        out[o++] = 0x10;
        o = writeVarint(out, o, e.ehk);
      }
      o = writeBytesField(out, o, 0x1a, e.data);
    }
    const body = out.subarray(KPL_MAGIC.length, o);
    createHash('md5').update(body).digest().copy(out, o);
    return out;
  }

  private growth(record: UserRecord): number {
    let growth = 0;
    let pk = this.pkIndex.get(record.partitionKey);
    if (pk === undefined) {
      pk = this.pkBytes.length;
      growth += fieldSize(Buffer.byteLength(record.partitionKey, 'utf8'));
    }
    let ehk = -1;
    if (record.explicitHashKey !== undefined) {
      const known = this.ehkIndex.get(record.explicitHashKey);
      if (known === undefined) {
        ehk = this.ehkBytes.length;
        growth += fieldSize(Buffer.byteLength(record.explicitHashKey, 'utf8'));
      } else ehk = known;
    }
    return growth + fieldSize(recordBodySize(pk, ehk, record.data.length));
  }
}

function recordBodySize(pk: number, ehk: number, dataLen: number): number {
  return 1 + varintSize(pk) + (ehk >= 0 ? 1 + varintSize(ehk) : 0) + fieldSize(dataLen);
}

function writeVarint(out: Buffer, o: number, n: number): number {
  while (n >= 0x80) {
    out[o++] = (n & 0x7f) | 0x80;
    n = Math.floor(n / 128);
  }
  out[o++] = n;
  return o;
}

function writeBytesField(out: Buffer, o: number, tag: number, bytes: Uint8Array): number {
  out[o++] = tag;
  o = writeVarint(out, o, bytes.length);
  out.set(bytes, o);
  return o + bytes.length;
}

/** Packs user records into one KPL aggregated record (no size limit applied: see AggregateBuilder). */
export function aggregate(records: UserRecord[]): Buffer {
  const b = new AggregateBuilder();
  for (const r of records) b.add(r);
  return b.build();
}

class Malformed extends Error {}

/** A forward-only protobuf reader over one byte range; throws Malformed on anything truncated or unknown-wired. */
class Reader {
  constructor(readonly buf: Buffer, public pos: number, readonly end: number) {}
  get done(): boolean {
    return this.pos >= this.end;
  }
  varint(): number {
    let result = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new Malformed('truncated varint');
      const b = this.buf[this.pos++]!;
      result += (b & 0x7f) * mul;
      if (b < 0x80) {
        if (!Number.isSafeInteger(result)) throw new Malformed('varint too large');
        return result;
      }
      mul *= 128;
    }
    throw new Malformed('varint too long');
  }
  /** Start/end of a length-delimited payload; advances past it. */
  span(): [number, number] {
    const len = this.varint();
    const start = this.pos;
    if (start + len > this.end) throw new Malformed('truncated field');
    this.pos = start + len;
    return [start, this.pos];
  }
  skip(wireType: number): void {
    if (wireType === 0) this.varint();
    else if (wireType === 1) this.advance(8);
    else if (wireType === 2) this.span();
    else if (wireType === 5) this.advance(4);
    else throw new Malformed(`unsupported wire type ${wireType}`);
  }
  private advance(n: number): void {
    if (this.pos + n > this.end) throw new Malformed('truncated field');
    this.pos += n;
  }
}

/**
 * The user records of a KPL aggregated record, in order (the index is the sub-sequence number).
 * undefined when the blob is not an aggregated record: no magic, a digest that does not match (the KCL
 * rule: such a blob is an ordinary record that happens to start with the magic), or a body that does
 * not parse or points outside its key tables. Callers then treat the blob as one plain record.
 */
export function deaggregate(data: Uint8Array): DeaggregatedRecord[] | undefined {
  if (!isAggregated(data)) return undefined;
  const buf = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const bodyEnd = buf.length - DIGEST_BYTES;
  const body = buf.subarray(KPL_MAGIC.length, bodyEnd);
  const digest = createHash('md5').update(body).digest();
  if (!digest.equals(buf.subarray(bodyEnd))) return undefined;
  try {
    return parseBody(buf, KPL_MAGIC.length, bodyEnd);
  } catch (e) {
    if (e instanceof Malformed) return undefined;
    throw e;
  }
}

function parseBody(buf: Buffer, start: number, end: number): DeaggregatedRecord[] {
  const pks: string[] = [];
  const ehks: string[] = [];
  const raw: { pk: number; ehk: number; data: Buffer }[] = [];
  const r = new Reader(buf, start, end);
  while (!r.done) {
    const key = r.varint();
    const field = Math.floor(key / 8);
    const wire = key & 7;
    if (wire === 2 && (field === 1 || field === 2)) {
      const [s, e] = r.span();
      (field === 1 ? pks : ehks).push(buf.toString('utf8', s, e));
    } else if (wire === 2 && field === 3) {
      const [s, e] = r.span();
      raw.push(parseRecord(buf, s, e));
    } else r.skip(wire);
  }
  return raw.map(({ pk, ehk, data }) => {
    const partitionKey = pks[pk];
    if (partitionKey === undefined) throw new Malformed('partition key index out of range');
    if (ehk < 0) return { partitionKey, data };
    const explicitHashKey = ehks[ehk];
    if (explicitHashKey === undefined) throw new Malformed('explicit hash key index out of range');
    return { partitionKey, explicitHashKey, data };
  });
}

function parseRecord(buf: Buffer, start: number, end: number): { pk: number; ehk: number; data: Buffer } {
  let pk = -1;
  let ehk = -1;
  let data: Buffer | undefined;
  const r = new Reader(buf, start, end);
  while (!r.done) {
    const key = r.varint();
    const field = Math.floor(key / 8);
    const wire = key & 7;
    if (field === 1 && wire === 0) pk = r.varint();
    else if (field === 2 && wire === 0) ehk = r.varint();
    else if (field === 3 && wire === 2) {
      const [s, e] = r.span();
      data = buf.subarray(s, e);
    } else r.skip(wire); // tags (field 4) carry nothing a Kinesis consumer reads
  }
  // Both are proto2 `required`: a record without them is not a KPL record.
  if (pk < 0 || data === undefined) throw new Malformed('record lacks partition_key_index or data');
  return { pk, ehk, data };
}
