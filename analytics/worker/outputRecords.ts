// Result rows as output records: each row a JSON object of its stream's
// columns or a CSV line, written back to back into one buffer, record i ending
// at ends[i]. A 100k-key tumbling window emits ~0.5 rows per input event and a
// pass-through query one: a string per row, one more per column and a Buffer
// per row (~0.6 KB allocated a row) kept the collector busy, so the JSON form
// writes each row's bytes straight into the batch's buffer.
import type { FoldedWindow, Row } from '../engine/engine.js';
import { render, type SqlType, type Value } from '../engine/types.js';

type Columns = { name: string; type: SqlType }[];

/** An emit's records: data back to back in `bytes`; partition keys `<keyPrefix>-<i>`, or empty (Firehose). */
export class OutputRecords {
  /** `<keyPrefix>-` in UTF-8: emits write keys as bytes (a string per key, made twice, was ~0.1 KB allocated per row). */
  private readonly keyHead: Buffer | null;

  constructor(readonly bytes: Buffer, readonly ends: Int32Array, readonly length: number, private readonly keyPrefix: string | null) {
    this.keyHead = keyPrefix === null ? null : Buffer.from(`${keyPrefix}-`);
  }

  start(i: number): number {
    return i === 0 ? 0 : this.ends[i - 1]!;
  }

  partitionKey(i: number): string {
    return this.keyPrefix === null ? '' : `${this.keyPrefix}-${i}`;
  }

  /** UTF-8 bytes of partitionKey(i). */
  keyBytes(i: number): number {
    return this.keyHead === null ? 0 : this.keyHead.length + decimalDigits(i);
  }

  /** partitionKey(i)'s UTF-8 bytes at `at`. */
  writeKey(i: number, out: Uint8Array, at: number): void {
    const head = this.keyHead;
    if (head === null) return;
    for (let j = 0; j < head.length; j++) out[at + j] = head[j]!;
    let end = at + head.length + decimalDigits(i);
    do {
      out[--end] = 48 + (i % 10);
      i = Math.floor(i / 10);
    } while (i > 0);
  }

  data(i: number): Buffer {
    return this.bytes.subarray(this.start(i), this.ends[i]);
  }

  /** The same records with empty partition keys (a Direct PUT delivery stream's records have none). */
  withoutKeys(): OutputRecords {
    return new OutputRecords(this.bytes, this.ends, this.length, null);
  }
}

/**
 * A stream's rows awaiting an emit, in order: row objects, and windows' rows
 * held as columns (the combiner's, Engine.emitColumns), which are formatted
 * from their columns with no object per row.
 */
export class EmitRows {
  readonly parts: (Row[] | FoldedWindow)[] = [];
  length = 0;

  rows(rows: Row[]): void {
    if (!rows.length) return;
    this.parts.push(rows);
    this.length += rows.length;
  }

  window(w: FoldedWindow): void {
    if (!w.n) return;
    this.parts.push(w);
    this.length += w.n;
  }
}

/** The rows as records, keys `<keyPrefix>-<row index>`. */
export function formatRows(rows: Row[] | EmitRows, cols: Columns, format: 'JSON' | 'CSV', keyPrefix: string | null): OutputRecords {
  const parts = Array.isArray(rows) ? [rows] : rows.parts;
  const total = rows.length;
  // ~80 bytes a row of a few columns: one buffer, seldom grown.
  const w = new ByteWriter(Buffer.allocUnsafe(total * 80 + 256));
  const ends = new Int32Array(total);
  let i = 0;
  for (const part of parts) {
    if (!Array.isArray(part)) {
      i = formatWindow(w, ends, i, part, cols, format);
      continue;
    }
    const keys = format === 'JSON' ? jsonKeys(cols, part[0]?.v.length ?? 0) : null;
    for (const r of part) {
      const v = r.v;
      if (keys && v.length === keys.length) writeJsonRow(w, v, cols, keys);
      else w.bytes(formatRow(r, cols, format));
      ends[i++] = w.at;
    }
  }
  return new OutputRecords(w.buf, ends, total, keyPrefix);
}

/**
 * A window's rows from its columns, records ends[i…]; the next record's index. A value equal to the
 * one above it in its column is copied from the bytes written for that one (a window's start, small
 * counts): no text made for it again.
 */
function formatWindow(w: ByteWriter, ends: Int32Array, i: number, b: FoldedWindow, cols: Columns, format: 'JSON' | 'CSV'): number {
  const width = b.cols.length;
  const keys = format === 'JSON' ? jsonKeys(cols, width) : null;
  if (!keys) {
    for (let r = 0; r < b.n; r++) {
      w.bytes(formatRow({ t: b.t, seq: 0, v: b.cols.map((c) => c[r] ?? null) }, cols, format));
      ends[i++] = w.at;
    }
    return i;
  }
  const last: Value[] = new Array(width).fill(undefined);
  const lastAt = new Int32Array(width);
  const lastLen = new Int32Array(width);
  for (let r = 0; r < b.n; r++) {
    for (let c = 0; c < width; c++) {
      w.bytes(keys[c]!);
      const x = b.cols[c]![r] ?? null;
      if (r > 0 && x === last[c]) {
        w.within(lastAt[c]!, lastLen[c]!);
        continue;
      }
      const from = w.at;
      writeJsonValue(w, x, cols[c]?.type);
      last[c] = x;
      lastAt[c] = from;
      lastLen[c] = w.at - from;
    }
    w.ascii('}');
    ends[i++] = w.at;
  }
  return i;
}

/** One output record: a JSON object of the stream's columns, or a CSV line. */
export function formatRow(r: Row, cols: Columns, format: 'JSON' | 'CSV'): Buffer {
  if (format === 'CSV') {
    return Buffer.from(r.v.map((v, i) => {
      const x = render(v, cols[i]?.type);
      const s = x === null ? '' : String(x);
      return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
    }).join(',') + '\n');
  }
  const obj: Record<string, unknown> = {};
  r.v.forEach((v, i) => { obj[cols[i]?.name ?? `COL${i}`] = render(v, cols[i]?.type); });
  return Buffer.from(JSON.stringify(obj));
}

function writeJsonRow(w: ByteWriter, v: Value[], cols: Columns, keys: Buffer[]): void {
  for (let c = 0; c < v.length; c++) {
    w.bytes(keys[c]!);
    writeJsonValue(w, v[c]!, cols[c]?.type);
  }
  w.ascii('}');
}

/** TIMESTAMPs toISOString() writes with a four-digit year: 0000-01-01 to 9999-12-31. */
const FIRST_MS = -62_167_219_200_000;
const LAST_MS = 253_402_300_799_999;

/** A value as JSON.stringify writes render() of it. */
function writeJsonValue(w: ByteWriter, v: Value, type: SqlType | undefined): void {
  if (type?.base === 'TIMESTAMP' && typeof v === 'number' && Number.isInteger(v) && v >= FIRST_MS && v <= LAST_MS) {
    w.timestamp(v);
    return;
  }
  const x = render(v, type);
  if (typeof x === 'number') {
    if (Number.isSafeInteger(x)) w.integer(x);
    else if (!w.decimal(x)) w.ascii(Number.isFinite(x) ? String(x) : 'null');
  } else if (typeof x === 'string') w.jsonString(x);
  else w.ascii(x === null ? 'null' : x ? 'true' : 'false');
}

const keyTexts = new WeakMap<object, Buffer[] | null>();

/**
 * `{"NAME":` for the first column, `,"NAME":` for the others, once per stream's columns; null when an
 * object would not keep the columns in order (a name twice, an array-index-like name): JSON.stringify
 * of the object, formatRow's form, differs then.
 */
function jsonKeys(cols: Columns, n: number): Buffer[] | null {
  let k = keyTexts.get(cols);
  if (k === undefined || (k !== null && k.length !== n)) {
    const names = Array.from({ length: n }, (_, i) => cols[i]?.name ?? `COL${i}`);
    k = n === 0 || new Set(names).size !== n || names.some((x) => /^(0|[1-9]\d*)$/.test(x)) ? null
      : names.map((x, i) => Buffer.from(`${i ? ',' : '{'}${JSON.stringify(x)}:`));
    keyTexts.set(cols, k);
  }
  return k;
}

/** A growing buffer written at `at`. Short ASCII text byte by byte: cheaper than a native write per value. */
class ByteWriter {
  at = 0;
  constructor(public buf: Buffer) {}

  private room(n: number): void {
    if (this.at + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.at + n));
    this.buf.copy(next, 0, 0, this.at);
    this.buf = next;
  }

  bytes(b: Uint8Array): void {
    this.room(b.length);
    if (b.length > 32) this.buf.set(b, this.at);
    else for (let i = 0; i < b.length; i++) this.buf[this.at + i] = b[i]!;
    this.at += b.length;
  }

  /** `n` bytes written before, from `from`, again. */
  within(from: number, n: number): void {
    this.room(n);
    const b = this.buf;
    if (n > 32) b.copy(b, this.at, from, from + n);
    else for (let i = 0; i < n; i++) b[this.at + i] = b[from + i]!;
    this.at += n;
  }

  /** A safe integer's digits, as String() writes them (-0 as 0), with no string made. */
  integer(x: number): void {
    this.room(17);
    const b = this.buf;
    let at = this.at;
    let n = x;
    if (n < 0) {
      b[at++] = 0x2d;
      n = -n;
    }
    let len = 1;
    for (let p = 10; p <= n; p *= 10) len++;
    at += len;
    this.at = at;
    do {
      const q = Math.floor(n / 10);
      b[--at] = 0x30 + (n - q * 10);
      n = q;
    } while (n > 0);
  }

  /**
   * A number of one or two decimals (a price, a sum of prices: four in five SUMs of the Nexmark bench's
   * prices) as String() writes it, with no string made (String() was ~0.1 µs a value); false for any other
   * number. The text m / 10^d is x's when that division gives x back (IEEE division rounds as reading the
   * text does), and it is the shortest (String()'s) when no fewer decimals give x back: integers are
   * integer()'s, one decimal is tried before two, and below 10^12 one step of 0.01 spans many doubles, so
   * at most one m of a given d gives x back.
   */
  decimal(x: number): boolean {
    const a = x < 0 ? -x : x;
    if (!(a >= 0.01 && a < 1e12)) return false;
    for (let d = 1, p = 10; d <= 2; d++, p *= 10) {
      const m0 = Math.round(a * p);
      for (let m = m0 - 1; m <= m0 + 1; m++) {
        if (m / p !== a) continue;
        const whole = Math.floor(m / p);
        if (x < 0) this.ascii('-');
        this.integer(whole);
        this.room(3);
        const b = this.buf;
        b[this.at++] = 0x2e;
        const frac = m - whole * p;
        if (d === 2) b[this.at++] = 0x30 + Math.floor(frac / 10);
        b[this.at++] = 0x30 + (frac % 10);
        return true;
      }
    }
    return false;
  }

  /** Text known to be ASCII. */
  ascii(s: string): void {
    this.room(s.length);
    for (let i = 0; i < s.length; i++) this.buf[this.at + i] = s.charCodeAt(i);
    this.at += s.length;
  }

  // The day of the last timestamp written, and its "YYYY-MM-DD " bytes.
  private day = Number.NaN;
  private readonly dayText = Buffer.alloc(11);

  /**
   * Epoch ms as render() gives a TIMESTAMP (`"YYYY-MM-DD HH:MM:SS.mmm"`, toISOString's text), its digits
   * written here: a Date and three strings per value before, for rows that each have their own (q0's
   * DATETIME). The date part is made once a day.
   */
  timestamp(ms: number): void {
    const day = Math.floor(ms / 86_400_000);
    if (day !== this.day) {
      this.dayText.write(new Date(day * 86_400_000).toISOString().slice(0, 10), 0, 'latin1');
      this.dayText[10] = 0x20;
      this.day = day;
    }
    this.room(25);
    const b = this.buf;
    let at = this.at;
    b[at++] = 0x22;
    for (let i = 0; i < 11; i++) b[at++] = this.dayText[i]!;
    let t = ms - day * 86_400_000;
    const milli = t % 1000;
    t = (t - milli) / 1000;
    const sec = t % 60;
    t = (t - sec) / 60;
    const min = t % 60;
    const hour = (t - min) / 60;
    at = two(b, at, hour);
    b[at++] = 0x3a;
    at = two(b, at, min);
    b[at++] = 0x3a;
    at = two(b, at, sec);
    b[at++] = 0x2e;
    b[at++] = 0x30 + Math.floor(milli / 100);
    at = two(b, at, milli % 100);
    b[at++] = 0x22;
    this.at = at;
  }

  // The last plain string written, as it was written: a window's rows share their timestamps' text (render()).
  private last = '';
  private lastAt = -1;

  /** A string as JSON.stringify writes it: printable ASCII without `"` or `\` as it is, anything else through JSON.stringify. */
  jsonString(s: string): void {
    const n = s.length;
    if (s === this.last && n > 8) {
      this.room(n + 2);
      this.buf.copy(this.buf, this.at, this.lastAt, this.lastAt + n + 2);
      this.at += n + 2;
      return;
    }
    let plain = true;
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) { plain = false; break; }
    }
    if (!plain) {
      const j = JSON.stringify(s);
      this.room(j.length * 3);
      this.at += this.buf.write(j, this.at, 'utf8');
      return;
    }
    this.room(n + 2);
    const b = this.buf;
    let at = this.at;
    this.last = s;
    this.lastAt = at;
    b[at++] = 0x22;
    for (let i = 0; i < n; i++) b[at++] = s.charCodeAt(i);
    b[at++] = 0x22;
    this.at = at;
  }
}

/** n (0–99) as two digits at `at`; where they end. */
function two(b: Buffer, at: number, n: number): number {
  b[at] = 0x30 + Math.floor(n / 10);
  b[at + 1] = 0x30 + (n % 10);
  return at + 2;
}

/** Digits of a non-negative integer written in decimal. */
function decimalDigits(i: number): number {
  let d = 1;
  for (let x = i; x >= 10; x = Math.floor(x / 10)) d++;
  return d;
}
