// Firehose's record format conversion, JSON → Apache Parquet, for one
// partition of one flush (after the processing chain). Each record is one or
// more JSON objects (`{..}{..}` is several rows, as Firehose reads it); each
// object becomes a row of the table's columns through the chosen
// deserializer's rules (OpenX or Hive JSON SerDe). A record that does not
// parse or whose values do not fit the column types fails as a whole and goes
// to the error prefix as `format-conversion-failed`.
//
// The bytes depend only on the records and the configuration (hyparquet-writer
// writes no clock or random value; createdBy is fixed), so a flush replayed
// after a crash writes the same object.
import zlib from 'node:zlib';
import { ByteWriter, parquetWrite } from 'hyparquet-writer';
import type { DataFormatConversionDef } from '../deliveryStreams.js';
import { parseColumns, type HiveType } from './hiveType.js';
import { splitJson } from './jsonSplit.js';

type SchemaElement = Parameters<typeof parquetWrite>[0]['schema'] extends (infer E)[] | undefined ? E : never;

export const PARQUET_CREATED_BY = 'shardline (hyparquet-writer)';
const DEFAULT_BLOCK_SIZE = 256 * 1024 * 1024;
const DEFAULT_PAGE_SIZE = 1024 * 1024;

/** Why a record failed: its JSON does not parse (ParseError), or a value does not fit its column (MalformedData). */
export class ConversionError extends Error {
  constructor(message: string, readonly code = 'DataFormatConversion.MalformedData') {
    super(message);
  }
}

interface Compiled {
  columns: { name: string; type: HiveType }[];
  schema: SchemaElement[];
  /** Column name → the (normalized) JSON key it reads. */
  keyOf: Map<string, string>;
  normalizeKey: (k: string) => string;
  timestamp: (v: unknown) => bigint;
  codec: 'SNAPPY' | 'GZIP' | 'UNCOMPRESSED';
  dictionary: boolean;
  pageSize: number;
  blockSize: number;
}

const compiledCache = new Map<string, Compiled>();

/** The conversion for a configuration (validated by checkConversion when it was stored). */
function compile(conv: DataFormatConversionDef): Compiled {
  const cacheKey = JSON.stringify(conv);
  const hit = compiledCache.get(cacheKey);
  if (hit) return hit;
  const columns = parseColumns(conv.SchemaConfiguration?.Columns ?? []);
  const openx = conv.InputFormatConfiguration?.Deserializer?.OpenXJsonSerDe;
  const hive = conv.InputFormatConfiguration?.Deserializer?.HiveJsonSerDe;
  // OpenX lower-cases keys unless CaseInsensitive is false; Hive column names are lower case anyway.
  const lower = openx ? openx.CaseInsensitive !== false : true;
  const dots = openx?.ConvertDotsInJsonKeysToUnderscores === true;
  const normalizeKey = (k: string) => {
    const d = dots ? k.replace(/\./g, '_') : k;
    return lower ? d.toLowerCase() : d;
  };
  const keyOf = new Map<string, string>();
  const mappings = Object.fromEntries(Object.entries(openx?.ColumnToJsonKeyMappings ?? {}).map(([c, k]) => [c.toLowerCase(), k]));
  for (const c of columns) keyOf.set(c.name, normalizeKey(mappings[c.name] ?? c.name));
  const p = conv.OutputFormatConfiguration?.Serializer?.ParquetSerDe ?? {};
  const compiled: Compiled = {
    columns,
    schema: [{ name: 'schema', num_children: columns.length }, ...columns.flatMap((c) => schemaOf(c.name, c.type))],
    keyOf,
    normalizeKey,
    timestamp: hive ? hiveTimestamp(hive.TimestampFormats ?? []) : openxTimestamp,
    codec: p.Compression ?? 'SNAPPY',
    dictionary: p.EnableDictionaryCompression !== false,
    pageSize: p.PageSizeBytes ?? DEFAULT_PAGE_SIZE,
    blockSize: p.BlockSizeBytes ?? DEFAULT_BLOCK_SIZE,
  };
  if (compiledCache.size > 100) compiledCache.clear();
  compiledCache.set(cacheKey, compiled);
  return compiled;
}

/** The Parquet schema elements of one column (Hive's mapping; timestamps as INT64 microseconds). */
function schemaOf(name: string, t: HiveType, repetition: 'OPTIONAL' | 'REQUIRED' = 'OPTIONAL'): SchemaElement[] {
  const leaf = (e: Partial<SchemaElement>): SchemaElement[] => [{ name, repetition_type: repetition, ...e } as SchemaElement];
  switch (t.kind) {
    case 'string': case 'char': case 'varchar': return leaf({ type: 'BYTE_ARRAY', converted_type: 'UTF8' });
    case 'boolean': return leaf({ type: 'BOOLEAN' });
    case 'tinyint': return leaf({ type: 'INT32', converted_type: 'INT_8' });
    case 'smallint': return leaf({ type: 'INT32', converted_type: 'INT_16' });
    case 'int': return leaf({ type: 'INT32' });
    case 'bigint': return leaf({ type: 'INT64' });
    case 'float': return leaf({ type: 'FLOAT' });
    case 'double': return leaf({ type: 'DOUBLE' });
    case 'date': return leaf({ type: 'INT32', converted_type: 'DATE' });
    case 'timestamp': return leaf({ type: 'INT64', converted_type: 'TIMESTAMP_MICROS' });
    case 'binary': return leaf({ type: 'BYTE_ARRAY' });
    case 'decimal':
      return leaf(t.precision <= 9 ? { type: 'INT32', converted_type: 'DECIMAL', precision: t.precision, scale: t.scale }
        : t.precision <= 18 ? { type: 'INT64', converted_type: 'DECIMAL', precision: t.precision, scale: t.scale }
          : { type: 'FIXED_LEN_BYTE_ARRAY', type_length: decimalBytes(t.precision), converted_type: 'DECIMAL', precision: t.precision, scale: t.scale });
    case 'array':
      return [
        { name, repetition_type: repetition, converted_type: 'LIST', num_children: 1 } as SchemaElement,
        { name: 'list', repetition_type: 'REPEATED', num_children: 1 } as SchemaElement,
        ...schemaOf('element', t.element),
      ];
    case 'map':
      return [
        { name, repetition_type: repetition, converted_type: 'MAP', num_children: 1 } as SchemaElement,
        { name: 'key_value', repetition_type: 'REPEATED', num_children: 2 } as SchemaElement,
        ...schemaOf('key', t.key, 'REQUIRED'),
        ...schemaOf('value', t.value),
      ];
    case 'struct':
      return [{ name, repetition_type: repetition, num_children: t.fields.length } as SchemaElement, ...t.fields.flatMap((f) => schemaOf(f.name, f.type))];
  }
}

/** Bytes of a two's-complement integer holding any `precision`-digit number. */
const decimalBytes = (precision: number) => Math.ceil((Math.log2(10 ** precision) + 1) / 8);

const RANGES: Record<string, [number, number]> = { tinyint: [-128, 127], smallint: [-32768, 32767], int: [-2147483648, 2147483647] };

/** One JSON value as the column type wants it (what hyparquet-writer takes), or ConversionError. */
function coerce(v: unknown, t: HiveType, c: Compiled, path: string): unknown {
  if (v === null || v === undefined) return null;
  const bad = (why = `expected ${t.kind}`): never => {
    throw new ConversionError(`Cannot convert ${JSON.stringify(v)?.slice(0, 100)} at ${path}: ${why}.`);
  };
  switch (t.kind) {
    case 'string':
      return typeof v === 'string' ? v : JSON.stringify(v);
    case 'char': case 'varchar': {
      // Hive truncates char/varchar values to their length.
      const s = typeof v === 'string' ? v : JSON.stringify(v);
      return [...s].slice(0, t.length).join('');
    }
    case 'boolean':
      if (typeof v === 'boolean') return v;
      if (typeof v === 'string' && /^(true|false)$/i.test(v)) return v.toLowerCase() === 'true';
      return bad();
    case 'tinyint': case 'smallint': case 'int': {
      const n = typeof v === 'number' ? v : typeof v === 'string' && /^\s*[-+]?\d+\s*$/.test(v) ? Number(v) : NaN;
      const [lo, hi] = RANGES[t.kind]!;
      if (!Number.isInteger(n)) return bad();
      if (n < lo || n > hi) return bad(`out of range for ${t.kind}`);
      return n;
    }
    case 'bigint': {
      let n: bigint;
      if (typeof v === 'number' && Number.isInteger(v)) n = BigInt(v);
      else if (typeof v === 'string' && /^\s*[-+]?\d+\s*$/.test(v)) n = BigInt(v.trim());
      else return bad();
      if (n < -(2n ** 63n) || n >= 2n ** 63n) return bad('out of range for bigint');
      return n;
    }
    case 'float': case 'double': {
      const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
      if (Number.isNaN(n)) return bad();
      return n;
    }
    case 'decimal':
      if (typeof v !== 'number' && typeof v !== 'string') return bad();
      return decimalOf(String(v).trim(), t.precision, t.scale) ?? bad(`not a decimal(${t.precision},${t.scale})`);
    case 'date': {
      const m = typeof v === 'string' ? /^(\d{4})-(\d{1,2})-(\d{1,2})$/.exec(v.trim()) : null;
      if (!m) return bad('expected a date as yyyy-MM-dd');
      const ms = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
      const d = new Date(ms);
      if (d.getUTCMonth() !== Number(m[2]) - 1 || d.getUTCDate() !== Number(m[3])) return bad('not a calendar date');
      return ms / 86_400_000;
    }
    case 'timestamp':
      try {
        return c.timestamp(v);
      } catch (e) {
        return bad((e as Error).message);
      }
    case 'binary':
      // Hive's JSON SerDes read binary columns as base64 text.
      if (typeof v !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(v.replace(/\s/g, ''))) return bad('expected base64 text');
      return new Uint8Array(Buffer.from(v, 'base64'));
    case 'array':
      if (!Array.isArray(v)) return bad();
      return v.map((x, i) => coerce(x, t.element, c, `${path}[${i}]`));
    case 'map': {
      if (typeof v !== 'object' || Array.isArray(v)) return bad();
      return Object.entries(v as Record<string, unknown>).map(([k, x]) => ({ key: coerce(k, t.key, c, `${path} key`), value: coerce(x, t.value, c, `${path}.${k}`) }));
    }
    case 'struct': {
      if (typeof v !== 'object' || Array.isArray(v)) return bad();
      const byKey = normalized(v as Record<string, unknown>, c);
      return Object.fromEntries(t.fields.map((f) => [f.name, coerce(byKey.get(c.normalizeKey(f.name)), f.type, c, `${path}.${f.name}`)]));
    }
  }
}

function normalized(o: Record<string, unknown>, c: Compiled): Map<string, unknown> {
  const m = new Map<string, unknown>();
  for (const [k, v] of Object.entries(o)) m.set(c.normalizeKey(k), v);
  return m;
}

/** "12.345" → the unscaled value at `scale` (half-up), or undefined when it does not fit. */
export function decimalOf(text: string, precision: number, scale: number): bigint | undefined {
  const m = /^([-+]?)(\d*)(?:\.(\d*))?(?:[eE]([-+]?\d+))?$/.exec(text);
  if (!m || (m[2] === '' && (m[3] ?? '') === '')) return undefined;
  const exp = Number(m[4] ?? 0) - (m[3] ?? '').length;
  let digits = BigInt((m[2] || '0') + (m[3] ?? ''));
  const shift = exp + scale;
  if (shift >= 0) digits *= 10n ** BigInt(shift);
  else {
    const div = 10n ** BigInt(-shift);
    digits = (digits + div / 2n) / div;
  }
  if (digits >= 10n ** BigInt(precision)) return undefined;
  return m[1] === '-' ? -digits : digits;
}

// ---- timestamps (microseconds since the epoch, UTC) ----

const FRACTION = (f: string | undefined) => BigInt(((f ?? '') + '000000').slice(0, 6));
const civil = (y: string, mo: string, d: string, h: string, mi: string, s: string) => {
  const ms = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s));
  if (Number.isNaN(ms)) throw new Error('not a valid date and time');
  return BigInt(ms) * 1000n;
};
const HIVE_DEFAULT = /^(\d{4})-(\d{1,2})-(\d{1,2})[ T](\d{1,2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?$/;

/** OpenX: yyyy-MM-dd'T'HH:mm:ss[.S]'Z', yyyy-[M]M-[d]d HH:mm:ss[.S], epoch seconds or milliseconds, fractional epoch seconds. */
function openxTimestamp(v: unknown): bigint {
  if (typeof v === 'number' || (typeof v === 'string' && /^\s*\d+(\.\d+)?\s*$/.test(v))) {
    const text = String(v).trim();
    const [whole, frac] = text.split('.') as [string, string | undefined];
    // 13+ digits is epoch milliseconds (1518033528123), fewer is seconds (1518033528[.123]).
    if (!frac && whole.length >= 13) return BigInt(whole) * 1000n;
    return BigInt(whole) * 1_000_000n + FRACTION(frac);
  }
  if (typeof v !== 'string') throw new Error('expected a timestamp');
  const iso = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?Z$/.exec(v.trim());
  const m = iso ?? HIVE_DEFAULT.exec(v.trim());
  if (!m) throw new Error('not a timestamp OpenX JSON SerDe reads');
  return civil(m[1]!, m[2]!, m[3]!, m[4]!, m[5]!, m[6]!) + FRACTION(m[7]);
}

/** Hive: yyyy-MM-dd HH:mm:ss[.S], or the TimestampFormats (Joda patterns, or `millis` for epoch milliseconds). */
function hiveTimestamp(formats: string[]): (v: unknown) => bigint {
  const parsers = formats.map((f) => (f === 'millis' ? millisParser : jodaParser(f)));
  return (v) => {
    if (typeof v === 'number' || typeof v === 'string') {
      for (const p of parsers) {
        const r = p(String(v).trim());
        if (r !== undefined) return r;
      }
      const m = typeof v === 'string' ? HIVE_DEFAULT.exec(v.trim()) : null;
      if (m) return civil(m[1]!, m[2]!, m[3]!, m[4]!, m[5]!, m[6]!) + FRACTION(m[7]);
    }
    throw new Error(formats.length ? `matches neither yyyy-MM-dd HH:mm:ss nor ${formats.join(', ')}` : 'expected yyyy-MM-dd HH:mm:ss[.S]');
  };
}

const millisParser = (s: string) => (/^-?\d+$/.test(s) ? BigInt(s) * 1000n : undefined);

/** The Joda letters Hive users put in timestamp.formats: y M d H m s S, quoted literals, Z (offset). */
export function jodaParser(pattern: string): (s: string) => bigint | undefined {
  const fields: string[] = [];
  let re = '';
  for (let i = 0; i < pattern.length;) {
    const ch = pattern[i]!;
    if (ch === "'") {
      const end = pattern.indexOf("'", i + 1);
      if (end < 0) throw new Error(`unterminated quote in ${pattern}`);
      re += end === i + 1 ? "'" : escape(pattern.slice(i + 1, end));
      i = end + 1;
      continue;
    }
    let n = 1;
    while (pattern[i + n] === ch) n++;
    i += n;
    if ('yMdHms'.includes(ch)) {
      fields.push(ch);
      re += ch === 'y' ? '(\\d{4})' : n >= 2 ? '(\\d{2})' : '(\\d{1,2})';
    } else if (ch === 'S') {
      fields.push('S');
      re += `(\\d{1,${Math.max(n, 9)}})`;
    } else if (ch === 'Z') {
      fields.push('Z');
      re += '(Z|[-+]\\d{2}:?\\d{2})';
    } else if (/[A-Za-z]/.test(ch)) {
      throw new Error(`pattern letter ${ch} is not supported in ${pattern}`);
    } else re += escape(ch.repeat(n));
  }
  const rx = new RegExp(`^${re}$`);
  return (s) => {
    const m = rx.exec(s);
    if (!m) return undefined;
    const f: Record<string, string> = { y: '1970', M: '1', d: '1', H: '0', m: '0', s: '0' };
    fields.forEach((k, i) => (f[k] = m[i + 1]!));
    let us = civil(f.y!, f.M!, f.d!, f.H!, f.m!, f.s!) + FRACTION(f.S);
    if (f.Z && f.Z !== 'Z') {
      const z = /([-+])(\d{2}):?(\d{2})/.exec(f.Z)!;
      const off = BigInt((Number(z[2]) * 60 + Number(z[3])) * 60_000_000);
      us += z[1] === '+' ? -off : off;
    }
    return us;
  };
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

// ---- the file ----

const PARSE_ERROR = 'DataFormatConversion.ParseError';

export interface ConversionFailure { index: number; code: string; message: string }

/**
 * Converts the records of one partition. Returns the Parquet body (undefined
 * when no record converted) and the records that failed, by index.
 */
export function convertToParquet(conv: DataFormatConversionDef, records: { data: Buffer }[]): { body?: Buffer; rows: number; failed: ConversionFailure[] } {
  const c = compile(conv);
  const columns: unknown[][] = c.columns.map(() => []);
  const failed: ConversionFailure[] = [];
  let rows = 0;
  let inputBytes = 0;
  records.forEach((r, index) => {
    try {
      const text = r.data.toString('utf8').trim();
      const docs = text.startsWith('{') ? splitJson(text) : undefined;
      if (!docs || docs.length === 0) throw new ConversionError('Encountered malformed JSON: the record is not a JSON object (or a sequence of JSON objects).', PARSE_ERROR);
      const out: unknown[][] = [];
      for (const doc of docs) {
        let obj: unknown;
        try {
          obj = JSON.parse(doc);
        } catch (e) {
          throw new ConversionError(`Encountered malformed JSON: ${(e as Error).message}`, PARSE_ERROR);
        }
        const byKey = normalized(obj as Record<string, unknown>, c);
        out.push(c.columns.map((col) => coerce(byKey.get(c.keyOf.get(col.name)!), col.type, c, col.name)));
      }
      // All rows of a record, or none.
      for (const row of out) row.forEach((v, i) => columns[i]!.push(v));
      rows += out.length;
      inputBytes += r.data.length;
    } catch (e) {
      if (!(e instanceof ConversionError)) throw e;
      failed.push({ index, code: e.code, message: e.message });
    }
  });
  if (rows === 0) return { rows, failed };
  const writer = new ByteWriter();
  // BlockSizeBytes is the row group size Hive's writer aims at; rows per group follow from the input's size per row.
  const rowGroupSize = Math.max(1, Math.floor(c.blockSize / Math.max(1, inputBytes / rows)));
  parquetWrite({
    writer,
    schema: c.schema,
    columnData: c.columns.map((col, i) => ({ name: col.name, data: columns[i]!, ...(c.dictionary ? {} : { encoding: 'PLAIN' as const }) })),
    codec: c.codec,
    compressors: { GZIP: (b: Uint8Array) => new Uint8Array(zlib.gzipSync(b)) },
    pageSize: c.pageSize,
    rowGroupSize,
    createdBy: PARQUET_CREATED_BY,
  });
  return { body: Buffer.from(writer.getBuffer()), rows, failed };
}
