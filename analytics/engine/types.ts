// SQL column types: declared as KDA users write them (VARCHAR(8), INTEGER,
// DOUBLE, TIMESTAMP…), held in JS as string | number | boolean | null
// (TIMESTAMP and DATE as epoch milliseconds, TIME as milliseconds since
// midnight), appended to DuckDB work tables.
import { DuckDBTimestampValue, DuckDBDateValue, DuckDBDecimalValue, DuckDBTimeValue, type DuckDBAppender, type DuckDBValue } from '@duckdb/node-api';

export type Base = 'VARCHAR' | 'BOOLEAN' | 'TINYINT' | 'SMALLINT' | 'INTEGER' | 'BIGINT' | 'DOUBLE' | 'REAL' | 'DECIMAL' | 'TIMESTAMP' | 'DATE' | 'TIME' | 'VARBINARY';

export interface SqlType { base: Base; length?: number; scale?: number; text: string }

export type Value = string | number | boolean | null;

const ALIASES: Record<string, Base> = {
  VARCHAR: 'VARCHAR', CHAR: 'VARCHAR', CHARACTER: 'VARCHAR', 'CHARACTER VARYING': 'VARCHAR', STRING: 'VARCHAR', TEXT: 'VARCHAR',
  BOOLEAN: 'BOOLEAN', BOOL: 'BOOLEAN', TINYINT: 'TINYINT', SMALLINT: 'SMALLINT', INTEGER: 'INTEGER', INT: 'INTEGER',
  BIGINT: 'BIGINT', DOUBLE: 'DOUBLE', 'DOUBLE PRECISION': 'DOUBLE', FLOAT: 'DOUBLE', REAL: 'REAL',
  DECIMAL: 'DECIMAL', NUMERIC: 'DECIMAL', TIMESTAMP: 'TIMESTAMP', DATE: 'DATE', TIME: 'TIME', VARBINARY: 'VARBINARY', BINARY: 'VARBINARY',
};

export class TypeError_ extends Error {}

export function parseSqlType(text: string): SqlType {
  const m = /^\s*([A-Za-z]+(?:\s+[A-Za-z]+)?)\s*(?:\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\))?\s*$/.exec(text);
  const base = m ? ALIASES[m[1]!.toUpperCase().replace(/\s+/g, ' ')] : undefined;
  if (!m || !base) throw new TypeError_(`unsupported SQL type '${text}'`);
  return { base, length: m[2] ? Number(m[2]) : undefined, scale: m[3] ? Number(m[3]) : undefined, text: text.trim().toUpperCase() };
}

/** The DuckDB column type for a work table. */
export function duckType(t: SqlType): string {
  switch (t.base) {
    case 'VARCHAR': return 'VARCHAR';
    case 'DECIMAL': return 'DOUBLE';
    case 'REAL': return 'FLOAT';
    case 'VARBINARY': return 'VARCHAR';
    default: return t.base;
  }
}

const INT_RANGE: Partial<Record<Base, [number, number]>> = {
  TINYINT: [-128, 127], SMALLINT: [-32768, 32767], INTEGER: [-2147483648, 2147483647],
  BIGINT: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
};

const DAY_MS = 86_400_000;

/** A TIME: "13:48:23[.456]" or milliseconds (a number past a day keeps its time of day) → ms since midnight. */
function timeMs(v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isFinite(v)) return ((Math.trunc(v) % DAY_MS) + DAY_MS) % DAY_MS;
  const m = typeof v === 'string' ? /^\s*(\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?\s*$/.exec(v) : null;
  if (!m || Number(m[1]) > 23 || Number(m[2]) > 59 || Number(m[3] ?? 0) > 59) return undefined;
  return ((Number(m[1]) * 60 + Number(m[2])) * 60 + Number(m[3] ?? 0)) * 1000 + Math.trunc(Number(`0.${m[4] ?? '0'}`) * 1000);
}

/** Parses "2024-01-02 03:04:05.678", ISO 8601 or epoch milliseconds into epoch ms (UTC). */
export function timestampMs(v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isFinite(v)) return Math.trunc(v);
  if (typeof v !== 'string') return undefined;
  const s = v.trim();
  if (/^-?\d+$/.test(s)) return Number(s);
  const iso = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$/.test(s);
  if (!iso) return undefined;
  const withT = s.replace(' ', 'T');
  const ms = Date.parse(/(Z|[+-]\d{2}:?\d{2})$/.test(withT) || withT.length === 10 ? withT : withT + 'Z');
  return Number.isNaN(ms) ? undefined : ms;
}

/**
 * A pump's value assigned to an integer column of its target: SQL's INSERT casts a fractional number
 * (e.g. EXTRACT(SECOND …), a DECIMAL(5,3), into the developer guide's INTEGER column), truncating toward
 * zero as Java's BigDecimal does. Input records never pass here: a fraction in an INTEGER input field
 * stays a mapping error.
 */
export function assignNumeric(v: unknown, t: SqlType): unknown {
  return typeof v === 'number' && !Number.isInteger(v) && Number.isFinite(v) && INT_RANGE[t.base] !== undefined ? Math.trunc(v) : v;
}

/** Number `x` is already a value of numeric type `t`: coerce(assignNumeric(x, t), t) gives it back as it is. */
export function numberFits(x: number, t: SqlType): boolean {
  if (!Number.isFinite(x)) return false;
  const range = INT_RANGE[t.base];
  if (range) return Number.isInteger(x) && x >= range[0] && x <= range[1];
  return t.base === 'DOUBLE' || t.base === 'REAL' || t.base === 'DECIMAL' || (t.base === 'TIMESTAMP' && Number.isInteger(x));
}

/**
 * The first of the column's `n` values that is neither NULL nor a number numberFits() takes as `t`;
 * `n` when every one is. One loop with no call per value: numberFits() called per value boxed each
 * double it was given (a window's start, a sum), ~40 bytes a value.
 */
export function firstUnfit(col: readonly unknown[], n: number, t: SqlType): number {
  const range = INT_RANGE[t.base];
  const integer = range !== undefined || t.base === 'TIMESTAMP';
  const numeric = integer || t.base === 'DOUBLE' || t.base === 'REAL' || t.base === 'DECIMAL';
  const lo = range ? range[0] : Number.NEGATIVE_INFINITY;
  const hi = range ? range[1] : Number.POSITIVE_INFINITY;
  for (let r = 0; r < n; r++) {
    const x = col[r];
    if (x === null) continue;
    // x - x is 0 for a finite number only.
    if (!numeric || typeof x !== 'number' || x - x !== 0) return r;
    if (integer && (Math.floor(x) !== x || x < lo || x > hi)) return r;
  }
  return n;
}

/** A mapped value converted to the column's type, or a TypeError_ with the reason. */
export function coerce(v: unknown, t: SqlType, column: string): Value {
  if (v === null || v === undefined) return null;
  // bad() is a plain function, not a closure over v: coerce runs for every value of every record.
  switch (t.base) {
    case 'VARCHAR':
    case 'VARBINARY': {
      const s = typeof v === 'string' ? v : typeof v === 'object' ? JSON.stringify(v) : String(v);
      if (t.length !== undefined && s.length > t.length) {
        throw new TypeError_(`value of column ${column} is ${s.length} characters long, longer than ${t.text}`);
      }
      return s;
    }
    case 'BOOLEAN':
      if (typeof v === 'boolean') return v;
      if (v === 'true' || v === 'TRUE') return true;
      if (v === 'false' || v === 'FALSE') return false;
      return bad(v, t, column);
    case 'TINYINT': case 'SMALLINT': case 'INTEGER': case 'BIGINT': {
      const n = typeof v === 'number' ? v : typeof v === 'string' && /^\s*-?\d+\s*$/.test(v) ? Number(v) : NaN;
      const [lo, hi] = INT_RANGE[t.base]!;
      if (!Number.isInteger(n) || n < lo || n > hi) return bad(v, t, column);
      return n;
    }
    case 'DOUBLE': case 'REAL': case 'DECIMAL': {
      const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
      if (!Number.isFinite(n)) return bad(v, t, column);
      return n;
    }
    case 'TIME': {
      const ms = timeMs(v);
      return ms === undefined ? bad(v, t, column) : ms;
    }
    case 'TIMESTAMP': case 'DATE': {
      const ms = timestampMs(v);
      if (ms === undefined) return bad(v, t, column);
      return t.base === 'DATE' ? Math.floor(ms / 86_400_000) * 86_400_000 : ms;
    }
  }
}

function bad(v: unknown, t: SqlType, column: string): never {
  throw new TypeError_(`value ${JSON.stringify(v)} of column ${column} is not a valid ${t.text}`);
}

export function append(a: DuckDBAppender, t: SqlType, v: Value): void {
  if (v === null) return a.appendNull();
  switch (t.base) {
    case 'VARCHAR': case 'VARBINARY': return a.appendVarchar(String(v));
    case 'BOOLEAN': return a.appendBoolean(Boolean(v));
    case 'TINYINT': return a.appendTinyInt(v as number);
    case 'SMALLINT': return a.appendSmallInt(v as number);
    case 'INTEGER': return a.appendInteger(v as number);
    case 'BIGINT': return a.appendBigInt(BigInt(v as number));
    case 'DOUBLE': case 'DECIMAL': return a.appendDouble(v as number);
    case 'REAL': return a.appendFloat(v as number);
    case 'TIMESTAMP': return a.appendTimestamp(new DuckDBTimestampValue(BigInt(v as number) * 1000n));
    case 'DATE': return a.appendDate(new DuckDBDateValue(Math.floor((v as number) / 86_400_000)));
    case 'TIME': return a.appendTime(new DuckDBTimeValue(BigInt(v as number) * 1000n));
  }
}

/** Converts a JS value of the column type to the DuckDB value a data chunk takes. */
export function toDuck(t: SqlType): (v: Value) => DuckDBValue {
  switch (t.base) {
    case 'BIGINT': return (v) => (v === null ? null : BigInt(v as number));
    case 'TIMESTAMP': return (v) => (v === null ? null : new DuckDBTimestampValue(BigInt(v as number) * 1000n));
    case 'DATE': return (v) => (v === null ? null : new DuckDBDateValue(Math.floor((v as number) / 86_400_000)));
    case 'TIME': return (v) => (v === null ? null : new DuckDBTimeValue(BigInt(v as number) * 1000n));
    case 'VARCHAR': case 'VARBINARY': return (v) => (v === null ? null : String(v));
    default: return (v) => v;
  }
}

/** A DuckDB result value in the JS representation (timestamps → epoch ms). */
export function fromDuck(v: DuckDBValue): Value {
  if (v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return v;
  if (typeof v === 'bigint') return Number(v);
  if (v instanceof DuckDBTimestampValue) return Number(v.micros / 1000n);
  if (v instanceof DuckDBDateValue) return v.days * 86_400_000;
  if (v instanceof DuckDBDecimalValue) return v.toDouble();
  if (typeof (v as { micros?: unknown }).micros === 'bigint') return Number((v as { micros: bigint }).micros / 1000n);
  return String(v);
}

let lastTimestamp = Number.NaN;
let lastTimestampText = '';

/** How a value is written in an output record (TIMESTAMP as 'YYYY-MM-DD HH:MM:SS.mmm', as KDA writes it). */
export function render(v: Value, t: SqlType | undefined): string | number | boolean | null {
  if (v === null || t === undefined) return v;
  if (t.base === 'TIMESTAMP' && typeof v === 'number') {
    // A window's output rows share its timestamps: the last one's text is kept (a Date and two copies per row before).
    if (v !== lastTimestamp) {
      lastTimestampText = new Date(v).toISOString().replace('T', ' ').replace('Z', '');
      lastTimestamp = v;
    }
    return lastTimestampText;
  }
  if (t.base === 'DATE' && typeof v === 'number') return new Date(v).toISOString().slice(0, 10);
  // TIME as 'HH:MM:SS', with '.mmm' only when there are milliseconds.
  if (t.base === 'TIME' && typeof v === 'number') return new Date(v).toISOString().slice(11, v % 1000 ? 23 : 19);
  return v;
}
