// Object compression as Firehose's CompressionFormat names it. Every encoder
// here is deterministic (fixed timestamps, no random salt): a flush replayed
// after a crash writes byte-identical objects.
import zlib from 'node:zlib';
import { promisify } from 'node:util';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const snappy = require('snappyjs') as { compress(b: Uint8Array): Uint8Array; uncompress(b: Uint8Array): Uint8Array };

export type Compression = 'UNCOMPRESSED' | 'GZIP' | 'ZIP' | 'Snappy' | 'HADOOP_SNAPPY';

/**
 * GZIP at zlib's fastest level. Firehose documents no level; level 6 (zlib's
 * default) compresses 1 KB JSON records about 5.1:1 at ~25k records/s per
 * core, level 1 about 4.0:1 at ~150k/s: at 6 gzip alone capped a drain far
 * below 100k records/s on two cores. Fixed, so a replayed flush writes the
 * same bytes.
 */
export const GZIP_LEVEL = 1;
const gzipAsync = promisify(zlib.gzip);
const deflateRawAsync = promisify(zlib.deflateRaw);

/**
 * The output buffer of an async deflate. zlib's default (16 KiB) returns to
 * the event loop once per 16 KiB of output (a 10 MB flush: ~160 callbacks,
 * each allocating the next chunk) and concatenates the chunks at the end.
 * Sized near the expected output (JSON deflates about 4:1 at level 1) it is
 * one or two pieces. The compressed bytes do not depend on it.
 */
const outputChunk = (inputBytes: number) => Math.min(32 * 1024 * 1024, Math.max(64 * 1024, Math.ceil(inputBytes / 3)));

/**
 * compress() off the main thread where it costs: GZIP and ZIP deflate on
 * libuv's thread pool, so several shards' flushes compress on all cores while
 * the event loop keeps reading. The same bytes as compress().
 */
export async function compressAsync(format: Compression, body: Buffer, entryName: string): Promise<Buffer> {
  if (format === 'GZIP') return gzipAsync(body, { level: GZIP_LEVEL, chunkSize: outputChunk(body.length) });
  if (format === 'ZIP') return zipEntry(entryName, body, await deflateRawAsync(body, { chunkSize: outputChunk(body.length) }));
  return compress(format, body, entryName);
}

export function compress(format: Compression, body: Buffer, entryName: string): Buffer {
  switch (format) {
    case 'UNCOMPRESSED':
      return body;
    case 'GZIP':
      // Node writes MTIME 0 and OS 'unknown'/'unix' fixed: deterministic.
      return zlib.gzipSync(body, { level: GZIP_LEVEL });
    case 'ZIP':
      return zipOne(entryName, body);
    case 'Snappy':
      return snappyFramed(body);
    case 'HADOOP_SNAPPY':
      return hadoopSnappy(body);
  }
}

// ---- ZIP: one deflated entry, DOS time fixed at 1980-01-01 00:00. ----

function zipOne(name: string, data: Buffer): Buffer {
  return zipEntry(name, data, zlib.deflateRawSync(data));
}

function zipEntry(name: string, data: Buffer, deflated: Buffer): Buffer {
  const fname = Buffer.from(name, 'utf8');
  const crc = zlib.crc32(data) >>> 0;
  const DOS_DATE = (0 << 9) | (1 << 5) | 1; // 1980-01-01
  const local = Buffer.alloc(30);
  local.writeUInt32LE(0x04034b50, 0);
  local.writeUInt16LE(20, 4); // version needed
  local.writeUInt16LE(0x0800, 6); // UTF-8 names
  local.writeUInt16LE(8, 8); // deflate
  local.writeUInt16LE(0, 10);
  local.writeUInt16LE(DOS_DATE, 12);
  local.writeUInt32LE(crc, 14);
  local.writeUInt32LE(deflated.length, 18);
  local.writeUInt32LE(data.length, 22);
  local.writeUInt16LE(fname.length, 26);
  local.writeUInt16LE(0, 28);
  const central = Buffer.alloc(46);
  central.writeUInt32LE(0x02014b50, 0);
  central.writeUInt16LE(20, 4);
  central.writeUInt16LE(20, 6);
  central.writeUInt16LE(0x0800, 8);
  central.writeUInt16LE(8, 10);
  central.writeUInt16LE(0, 12);
  central.writeUInt16LE(DOS_DATE, 14);
  central.writeUInt32LE(crc, 16);
  central.writeUInt32LE(deflated.length, 20);
  central.writeUInt32LE(data.length, 24);
  central.writeUInt16LE(fname.length, 28);
  central.writeUInt32LE(0, 42); // local header offset
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(1, 8);
  end.writeUInt16LE(1, 10);
  end.writeUInt32LE(central.length + fname.length, 12);
  end.writeUInt32LE(local.length + fname.length + deflated.length, 16);
  return Buffer.concat([local, fname, deflated, central, fname, end]);
}

// ---- Snappy framing format (github.com/google/snappy/framing_format.txt). ----

const CRC32C_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

export function crc32c(b: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < b.length; i++) c = CRC32C_TABLE[(c ^ b[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

const maskedCrc = (b: Uint8Array) => {
  const c = crc32c(b);
  return (((c >>> 15) | (c << 17)) + 0xa282ead8) >>> 0;
};

const FRAME_CHUNK = 65536;

function snappyFramed(data: Buffer): Buffer {
  const parts: Buffer[] = [Buffer.from([0xff, 0x06, 0x00, 0x00, 0x73, 0x4e, 0x61, 0x50, 0x70, 0x59])];
  for (let at = 0; at < data.length; at += FRAME_CHUNK) {
    const chunk = data.subarray(at, at + FRAME_CHUNK);
    const packed = Buffer.from(snappy.compress(chunk));
    const useRaw = packed.length >= chunk.length;
    const payload = useRaw ? chunk : packed;
    const head = Buffer.alloc(8);
    head[0] = useRaw ? 0x01 : 0x00;
    head.writeUIntLE(payload.length + 4, 1, 3);
    head.writeUInt32LE(maskedCrc(chunk), 4);
    parts.push(head, payload);
  }
  return Buffer.concat(parts);
}

// ---- Hadoop's BlockCompressorStream framing of snappy blocks. ----

const HADOOP_BLOCK = 256 * 1024;

function hadoopSnappy(data: Buffer): Buffer {
  const parts: Buffer[] = [];
  for (let at = 0; at < data.length; at += HADOOP_BLOCK) {
    const chunk = data.subarray(at, at + HADOOP_BLOCK);
    const packed = Buffer.from(snappy.compress(chunk));
    const head = Buffer.alloc(8);
    head.writeUInt32BE(chunk.length, 0);
    head.writeUInt32BE(packed.length, 4);
    parts.push(head, packed);
  }
  return Buffer.concat(parts);
}

/** Reads back what compress() wrote (tests, and the error path's diagnostics). */
export function decompress(format: Compression, body: Buffer): Buffer {
  switch (format) {
    case 'UNCOMPRESSED':
      return body;
    case 'GZIP':
      return zlib.gunzipSync(body);
    case 'ZIP': {
      const size = body.readUInt32LE(18);
      const nameLen = body.readUInt16LE(26);
      return zlib.inflateRawSync(body.subarray(30 + nameLen, 30 + nameLen + size));
    }
    case 'Snappy': {
      const out: Buffer[] = [];
      for (let at = 10; at < body.length; ) {
        const type = body[at]!;
        const len = body.readUIntLE(at + 1, 3);
        const payload = body.subarray(at + 8, at + 4 + len);
        out.push(type === 0x00 ? Buffer.from(snappy.uncompress(payload)) : payload);
        at += 4 + len;
      }
      return Buffer.concat(out);
    }
    case 'HADOOP_SNAPPY': {
      const out: Buffer[] = [];
      for (let at = 0; at < body.length; ) {
        const packedLen = body.readUInt32BE(at + 4);
        out.push(Buffer.from(snappy.uncompress(body.subarray(at + 8, at + 8 + packedLen))));
        at += 8 + packedLen;
      }
      return Buffer.concat(out);
    }
  }
}
