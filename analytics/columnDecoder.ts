// Records decoded straight into a ColumnBatch, for the shard workers' hot
// path. JSON: a byte scanner validates the whole record as JSON.parse would
// and, on the way, notes where each mapped value sits; CSV: the record's one
// line is cut at the delimiters. Only the mapped values are converted
// (numbers from their digits, ASCII strings as latin1 slices or, when short
// and repeated, the column's earlier string; timestamps from a per-column
// cache of the last text). No document, no objects and no row array are made
// per record.
//
// It is a fast path, never a second definition of the mapping: a record it
// cannot be sure of (row paths other than `$`, escaped keys, CSV records of
// several lines, values coerce() would reject, anything not plain JSON or
// UTF-8) makes decode() return false with the batch unchanged, and the caller
// maps that record with RecordMapper (mapping.ts), the exact path that also
// reports the error.
import type { RecordColumn, RecordFormat } from '../contract/analytics.js';
import type { ColumnBatch } from './engine/columnBatch.js';
import { coerce, parseSqlType, type SqlType, type Value } from './engine/types.js';
import { parsePath, unescape } from './mapping.js';

// What a mapped column's path found in the record (the kind of JSON value).
const MISSING = 0; // key absent or a step through a non-object: undefined → NULL
const NUL = 1;
const NUM = 2;
const STR = 3; // ASCII, no escapes: its bytes are its characters
const STR8 = 4; // non-ASCII (valid UTF-8), no escapes
const STRESC = 5; // has backslash escapes
const TRUE = 6;
const FALSE = 7;
const OBJ = 8;
const ARR = 9;

// How a column's value is converted (coerce()'s cases, hot ones inlined).
const T_INT = 0;
const T_FLOAT = 1;
const T_TS = 2; // TIMESTAMP, DATE
const T_STR = 3; // VARCHAR, VARBINARY
const T_BOOL = 4;
const T_OTHER = 5; // TIME: always through coerce()

const INT_RANGE: Record<string, [number, number]> = {
  TINYINT: [-128, 127], SMALLINT: [-32768, 32767], INTEGER: [-2147483648, 2147483647],
  BIGINT: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
};

/** Key positions per object level whose key is predicted, unmapped keys kept per level to predict, and their longest. */
const MAX_PREDICTED = 32;
const MAX_OTHERS = 16;
const MAX_OTHER_BYTES = 64;
/** Nesting deeper than this returns false (the scanner recurses; JSON.parse does not). */
const MAX_DEPTH = 512;
/** Timestamp texts longer than this are not cached. */
const TS_CACHE_BYTES = 64;
const TWO_53 = 2 ** 53;
/** Powers of ten exactly representable as doubles (Clinger's fast path). */
const POW10 = [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22];

/** `yyyy-mm-dd[T ]hh:mm:ss.mmm` with an optional `Z`, the milliseconds at 20..22. */
function msForm(b: Buffer, len: number): boolean {
  if (len !== 23 && !(len === 24 && b[23] === 0x5a)) return false;
  for (let k = 0; k < 23; k++) {
    const c = b[k]!;
    const want = k === 4 || k === 7 ? 0x2d : k === 13 || k === 16 ? 0x3a : k === 19 ? 0x2e : k === 10 ? -1 : 0;
    if (want === -1 ? c !== 0x54 && c !== 0x20 : want ? c !== want : c < 0x30 || c > 0x39) return false;
  }
  return true;
}

/** Byte classes inside a string: 0 plain ASCII, 1 quote, 2 backslash, 3 control (invalid), 4 non-ASCII. */
const STR_CLASS = new Uint8Array(256);
for (let b = 0; b < 0x20; b++) STR_CLASS[b] = 3;
STR_CLASS[0x22] = 1;
STR_CLASS[0x5c] = 2;
for (let b = 0x80; b < 0x100; b++) STR_CLASS[b] = 4;
const ESC_OK = new Uint8Array(256);
for (const c of '"\\/bfnrtu') ESC_OK[c.charCodeAt(0)] = 1;
const HEX = new Uint8Array(256);
for (const c of '0123456789abcdefABCDEF') HEX[c.charCodeAt(0)] = 1;
const WS = new Uint8Array(256);
WS[0x20] = WS[0x09] = WS[0x0a] = WS[0x0d] = 1;

// String flags from str().
const F_U8 = 1;
const F_ESC = 2;

type Latin1 = Buffer & { latin1Slice(start: number, end: number): string };

/** One object level of the mapped key paths: its keys (UTF-8 bytes), each with the columns ending there and the level under it. */
class PathNode {
  readonly names: Uint8Array[] = [];
  /** Columns whose path ends at this key. */
  readonly leaf: number[][] = [];
  readonly child: (PathNode | null)[] = [];
  /** Columns whose path goes on under this key: reset when the key appears again (JSON.parse keeps the last). */
  readonly below: number[][] = [];
  /** Plain ASCII keys seen at this level that no column maps (a few), so they can be predicted too. */
  readonly others: Uint8Array[] = [];
  /**
   * Per key position in an object at this level, the key last seen there: k < names.length a name,
   * names.length + j others[j], -1 none. A stream's records put their keys in the same order, so a key
   * is mostly compared with the one expected instead of scanned, then looked up among the names.
   */
  readonly lastAt = new Int32Array(MAX_PREDICTED).fill(-1);

  add(keys: string[], col: number): void {
    let node: PathNode = this;
    for (let s = 0; s < keys.length; s++) {
      const bytes = Buffer.from(keys[s]!, 'utf8');
      let k = node.names.findIndex((n) => Buffer.compare(n, bytes) === 0);
      if (k < 0) {
        k = node.names.push(bytes) - 1;
        node.leaf.push([]);
        node.child.push(null);
        node.below.push([]);
      }
      if (s === keys.length - 1) node.leaf[k]!.push(col);
      else {
        node.below[k]!.push(col);
        node = node.child[k] ??= new PathNode();
      }
    }
  }

  /**
   * The key expected at position `pos` when d[s…] spells it and ends with a quote: its length (the key's
   * index is then keyIndex(pos)); -1 when there is no expectation or it does not match.
   */
  predicted(pos: number, d: Buffer, s: number, end: number): number {
    if (pos >= MAX_PREDICTED) return -1;
    const c = this.lastAt[pos]!;
    if (c < 0) return -1;
    const n = c < this.names.length ? this.names[c]! : this.others[c - this.names.length]!;
    const len = n.length;
    if (s + len >= end) return -1;
    for (let j = 0; j < len; j++) if (n[j] !== d[s + j]) return -1;
    return d[s + len] === 0x22 ? len : -1;
  }

  /** The names index of the key predicted at `pos` (-1: a key no column maps). */
  keyIndex(pos: number): number {
    const c = this.lastAt[pos]!;
    return c < this.names.length ? c : -1;
  }

  /** Key bytes d[s, e) (plain ASCII, names index k or -1) were at position `pos`: the next record's expectation there. */
  saw(pos: number, k: number, d: Buffer, s: number, e: number): void {
    if (pos >= MAX_PREDICTED) return;
    if (k >= 0) { this.lastAt[pos] = k; return; }
    const others = this.others;
    const len = e - s;
    outer: for (let j = 0; j < others.length; j++) {
      const n = others[j]!;
      if (n.length !== len) continue;
      for (let i = 0; i < len; i++) if (n[i] !== d[s + i]) continue outer;
      this.lastAt[pos] = this.names.length + j;
      return;
    }
    if (others.length >= MAX_OTHERS || len > MAX_OTHER_BYTES) { this.lastAt[pos] = -1; return; }
    others.push(Uint8Array.from(d.subarray(s, e)));
    this.lastAt[pos] = this.names.length + others.length - 1;
  }

  /** The index of key bytes d[s, e), or -1. */
  find(d: Buffer, s: number, e: number): number {
    const len = e - s;
    const names = this.names;
    outer: for (let k = 0; k < names.length; k++) {
      const n = names[k]!;
      if (n.length !== len) continue;
      for (let j = 0; j < len; j++) if (n[j] !== d[s + j]) continue outer;
      return k;
    }
    return -1;
  }
}

export class ColumnDecoder {
  private readonly types: SqlType[];
  /** False: every record goes the exact path (other row paths, indexes or wildcards in a mapping). */
  private readonly fast: boolean;
  private readonly root = new PathNode();
  /** CSV: the delimiters' bytes (columns are positional). */
  private readonly rowDelim?: Buffer;
  private readonly colDelim?: Buffer;
  private readonly conv: Uint8Array;
  private readonly lo: Float64Array;
  private readonly hi: Float64Array;
  /** VARCHAR(n): n; unbounded: Infinity. */
  private readonly maxLen: Float64Array;

  // Per record: what each column's path found.
  private readonly kind: Uint8Array;
  private readonly vs: Int32Array;
  private readonly ve: Int32Array;
  private readonly num: Float64Array;

  // TIMESTAMP/DATE columns: the last text's bytes and its value.
  private readonly tsBytes: Buffer[];
  private readonly tsLen: Int32Array;
  private readonly tsVal: Float64Array;
  /** TIMESTAMP columns whose last text is `yyyy-mm-dd[T ]hh:mm:ss.mmm[Z]`: where its milliseconds are (-1: another form, or DATE). */
  private readonly tsMsAt: Int32Array;
  /** VARCHAR columns: their recent short texts, so a repeated symbol or category is not a new string each record. */
  private readonly shortStrings: StringCache[];

  // The scan in progress (fields, so the recursive scanner makes no closures).
  private d: Buffer = Buffer.alloc(0);
  private end = 0;
  private p = 0;
  /** The last value's span (strings: between the quotes) and number. */
  private s0 = 0;
  private s1 = 0;
  private n0 = 0;

  constructor(readonly format: RecordFormat, readonly columns: RecordColumn[]) {
    const n = columns.length;
    this.types = columns.map((c) => parseSqlType(c.sqlType));
    const paths = columns.map((c) => parsePath(c.mapping ?? `$.${c.name}`));
    // A key or delimiter with a lone surrogate has no UTF-8 form to compare bytes with.
    const utf8 = (k: string) => (Buffer.from(k, 'utf8').toString('utf8') === k ? Buffer.from(k, 'utf8') : undefined);
    let fast = true;
    if (format.type === 'CSV') {
      this.rowDelim = utf8(unescape(format.rowDelimiter));
      this.colDelim = utf8(unescape(format.columnDelimiter));
      fast = this.rowDelim !== undefined && this.colDelim !== undefined;
    } else {
      fast = parsePath(format.rowPath).length === 0;
      paths.forEach((p, i) => {
        const keys = p.map((s) => ('key' in s ? s.key : undefined));
        if (p.length === 0 || keys.some((k) => k === undefined || utf8(k) === undefined)) fast = false;
        else this.root.add(keys as string[], i);
      });
    }
    this.fast = fast;
    this.conv = new Uint8Array(n);
    this.lo = new Float64Array(n);
    this.hi = new Float64Array(n);
    this.maxLen = new Float64Array(n).fill(Infinity);
    this.types.forEach((t, i) => {
      const range = INT_RANGE[t.base];
      if (range) { this.conv[i] = T_INT; this.lo[i] = range[0]; this.hi[i] = range[1]; }
      else if (t.base === 'DOUBLE' || t.base === 'REAL' || t.base === 'DECIMAL') this.conv[i] = T_FLOAT;
      else if (t.base === 'TIMESTAMP' || t.base === 'DATE') this.conv[i] = T_TS;
      else if (t.base === 'VARCHAR' || t.base === 'VARBINARY') { this.conv[i] = T_STR; if (t.length !== undefined) this.maxLen[i] = t.length; }
      else if (t.base === 'BOOLEAN') this.conv[i] = T_BOOL;
      else this.conv[i] = T_OTHER;
    });
    this.kind = new Uint8Array(n);
    this.vs = new Int32Array(n);
    this.ve = new Int32Array(n);
    this.num = new Float64Array(n);
    this.tsBytes = this.types.map((t) => Buffer.alloc(t.base === 'TIMESTAMP' || t.base === 'DATE' ? TS_CACHE_BYTES : 0));
    this.tsLen = new Int32Array(n).fill(-1);
    this.tsVal = new Float64Array(n);
    this.tsMsAt = new Int32Array(n).fill(-1);
    this.shortStrings = columns.map(() => new StringCache());
  }

  /**
   * Decodes one record's bytes data[start, end) as ONE row appended to
   * `batch`, with ROWTIME t. True only when RecordMapper.map of the same
   * bytes gives exactly this row and no errors; false (batch.n unchanged)
   * whenever it cannot be sure: the caller then maps the record exactly.
   */
  decode(data: Buffer, start: number, end: number, batch: ColumnBatch, t: number): boolean {
    if (!this.fast) return false;
    this.d = data;
    this.end = end;
    const kind = this.kind;
    for (let i = 0; i < kind.length; i++) kind[i] = MISSING;
    if (this.colDelim !== undefined) return this.csv(start, end) && this.commit(batch, t);
    let p = start;
    while (p < end && WS[data[p]!]) p++;
    // A top-level array or scalar maps to a row of NULLs in RecordMapper; rare enough to leave to it.
    if (p >= end || data[p] !== 0x7b) return false;
    this.p = p;
    if (!this.obj(this.root, 1)) return false;
    p = this.p;
    while (p < end && WS[data[p]!]) p++;
    if (p !== end) return false;
    return this.commit(batch, t);
  }

  /** put(), or the batch as it was. */
  private commit(batch: ColumnBatch, t: number): boolean {
    if (this.put(batch, t)) return true;
    // A value column may have got row n's slot before a later column failed: drop it, so the batch is as it was.
    for (const c of batch.cols) if (c?.kind === 'value' && c.values.length > batch.n) c.values.length = batch.n;
    return false;
  }

  /**
   * A CSV record's fields into the columns' spans (empty or absent: NULL),
   * as RecordMapper splits the text: at the row delimiter (empty lines
   * skipped), then each line at the column delimiter, left to right. False
   * unless there is exactly one line and the record is valid UTF-8.
   */
  private csv(start: number, end: number): boolean {
    const d = this.d;
    const rd = this.rowDelim!;
    const cd = this.colDelim!;
    let ls = -1;
    let le = -1;
    let lineStart = start;
    for (let q = start; ;) {
      if (q === end || (d[q] === rd[0] && delimiterAt(d, q, end, rd))) {
        if (q > lineStart) {
          if (ls >= 0) return false;
          ls = lineStart;
          le = q;
        }
        if (q === end) break;
        q += rd.length;
        lineStart = q;
      } else if (d[q]! < 0x80) q++;
      else {
        const n = utf8Sequence(d, q, end);
        if (n === 0) return false;
        q += n;
      }
    }
    if (ls < 0) return false;
    const ncol = this.kind.length;
    let j = 0;
    let fs = ls;
    let u8 = false;
    for (let q = ls; ;) {
      if (q === le || (d[q] === cd[0] && delimiterAt(d, q, le, cd))) {
        if (j < ncol && q > fs) {
          this.kind[j] = u8 ? STR8 : STR;
          this.vs[j] = fs;
          this.ve[j] = q;
        }
        if (q === le || ++j >= ncol) return true;
        q += cd.length;
        fs = q;
        u8 = false;
      } else {
        if (d[q]! >= 0x80) u8 = true;
        q++;
      }
    }
  }

  /** Converts and validates every mapped column as coerce() would, writing the materialised ones into row batch.n. */
  private put(batch: ColumnBatch, t: number): boolean {
    batch.reserve();
    const r = batch.n;
    const d = this.d as Latin1;
    const cols = batch.cols;
    const n = this.kind.length;
    for (let i = 0; i < n; i++) {
      const col = cols[i];
      const k = this.kind[i]!;
      if (k <= NUL) {
        if (col !== undefined) {
          if (col.kind === 'number') { col.nulls[r] = 1; col.values[r] = 0; } else col.values[r] = null;
        }
        continue;
      }
      let v: Value | undefined;
      switch (this.conv[i]) {
        case T_INT:
        case T_FLOAT: {
          // A number, or text of plain digits (CSV fields, quoted JSON numbers) read as Number(text) would.
          const x = k === NUM ? this.num[i]! : k === STR ? textNumber(d, this.vs[i]!, this.ve[i]!, this.conv[i] === T_INT) : NaN;
          if (x !== x) v = this.slow(i, k);
          else if (this.conv[i] === T_INT ? !Number.isInteger(x) || x < this.lo[i]! || x > this.hi[i]! : !Number.isFinite(x)) return false;
          else if (col === undefined) continue;
          else if (col.kind === 'number') {
            // Straight into the column: through `v` a fraction or a large integer became a heap number per value.
            col.nulls[r] = 0;
            col.values[r] = x;
            continue;
          } else v = x;
          break;
        }
        case T_TS:
          if (k === STR && col?.kind !== 'value') {
            // The usual case, a text like the last one: straight into the column (no heap number per value),
            // or only validated when no pump reads it.
            const x = this.timestampFast(i);
            if (x === x) {
              if (col) {
                col.nulls[r] = 0;
                col.values[r] = x;
              }
              continue;
            }
          }
          v = k === STR ? this.timestamp(i) : this.slow(i, k);
          break;
        case T_STR:
          if (k === STR) {
            if (this.ve[i]! - this.vs[i]! > this.maxLen[i]!) return false;
            if (col === undefined) continue;
            v = this.shortStrings[i]!.get(d, this.vs[i]!, this.ve[i]!);
          } else if (k === STR8 && col === undefined) {
            // Only the length matters: UTF-16 units of valid UTF-8, counted without decoding.
            if (this.maxLen[i] !== Infinity && utf16Length(d, this.vs[i]!, this.ve[i]!) > this.maxLen[i]!) return false;
            continue;
          } else v = this.slow(i, k);
          break;
        case T_BOOL:
          v = k === TRUE ? true : k === FALSE ? false : this.slow(i, k);
          break;
        default:
          v = this.slow(i, k);
      }
      if (v === undefined) return false;
      if (col === undefined) continue;
      if (col.kind === 'number') {
        col.nulls[r] = v === null ? 1 : 0;
        col.values[r] = v === null ? 0 : (v as number);
      } else col.values[r] = v;
    }
    batch.t[r] = t;
    batch.n = r + 1;
    return true;
  }

  /**
   * A TIMESTAMP text's value when it repeats the last text of its column, or differs from it only in
   * the milliseconds of the form `yyyy-mm-dd[T ]hh:mm:ss.mmm[Z]` (the last value moved by the
   * difference: the form is UTC, as timestampMs reads it); NaN otherwise (timestamp() then).
   */
  private timestampFast(i: number): number {
    const d = this.d;
    const s = this.vs[i]!;
    const len = this.ve[i]! - s;
    if (len !== this.tsLen[i]) return NaN;
    const last = this.tsBytes[i]!;
    let j = len - 1;
    while (j >= 0 && last[j] === d[s + j]) j--;
    if (j < 0) return this.tsVal[i]!;
    const at = this.tsMsAt[i]!;
    if (at < 0 || j < at || j >= at + 3) return NaN;
    for (let k = 0; k < at; k++) if (last[k] !== d[s + k]) return NaN;
    let ms = 0;
    let was = 0;
    for (let k = at; k < at + 3; k++) {
      const c = d[s + k]!;
      if (c < 0x30 || c > 0x39) return NaN;
      ms = ms * 10 + c - 0x30;
      was = was * 10 + last[k]! - 0x30;
      last[k] = c;
    }
    return (this.tsVal[i] = this.tsVal[i]! + ms - was);
  }

  /** A TIMESTAMP/DATE given as ASCII text: the cached value when the bytes repeat the last text's. */
  private timestamp(i: number): Value | undefined {
    const d = this.d;
    const s = this.vs[i]!;
    const len = this.ve[i]! - s;
    const last = this.tsBytes[i]!;
    if (len === this.tsLen[i]) {
      // From the end: a stream's timestamps differ in their last digits.
      let j = len - 1;
      while (j >= 0 && last[j] === d[s + j]) j--;
      if (j < 0) return this.tsVal[i]!;
    }
    const v = this.slow(i, STR);
    if (typeof v === 'number' && len <= TS_CACHE_BYTES) {
      d.copy(last, 0, s, s + len);
      this.tsLen[i] = len;
      this.tsVal[i] = v;
      this.tsMsAt[i] = this.types[i]!.base === 'TIMESTAMP' && msForm(last, len) ? 20 : -1;
    }
    return v;
  }

  /** The value JSON.parse gives at column i's span, through coerce(); undefined when coerce() rejects it. */
  private slow(i: number, k: number): Value | undefined {
    const d = this.d as Latin1;
    const s = this.vs[i]!;
    const e = this.ve[i]!;
    // Any throw (coerce()'s reason, or a JSON.parse the scanner should have ruled out) means: not sure.
    try {
      let js: unknown;
      switch (k) {
        case NUM: js = this.num[i]; break;
        case STR: js = d.latin1Slice(s, e); break;
        case STR8: js = d.toString('utf8', s, e); break;
        // Escapes (lone surrogates included) and nested values: JSON.parse of the span is exactly the whole parse's part.
        case STRESC: js = JSON.parse(d.toString('utf8', s - 1, e + 1)); break;
        case TRUE: js = true; break;
        case FALSE: js = false; break;
        case OBJ: case ARR: js = JSON.parse(d.toString('utf8', s, e)); break;
        default: return null;
      }
      return coerce(js, this.types[i]!, this.columns[i]!.name);
    } catch {
      return undefined;
    }
  }

  // ---- The scanner: each method starts at this.p and leaves this.p after what it read; false/-1: not valid JSON.

  /** An object at this.p ('{'); `node`: the mapped keys at this level (null: none, only validate). */
  private obj(node: PathNode | null, depth: number): boolean {
    const d = this.d;
    const end = this.end;
    let p = this.p + 1;
    while (p < end && WS[d[p]!]) p++;
    if (p < end && d[p] === 0x7d) { this.p = p + 1; return true; }
    for (let pos = 0; ; pos++) {
      if (p >= end || d[p] !== 0x22) return false;
      const ks = p + 1;
      let ke: number;
      let k: number;
      // The key this position had last time, when it spells it (its bytes are plain ASCII, so it is valid as it is).
      const len = node === null ? -1 : node.predicted(pos, d, ks, end);
      if (len >= 0) {
        ke = ks + len;
        p = ke + 1;
        k = node!.keyIndex(pos);
      } else {
        // The key: plain ASCII is the rule, scanned here; anything else through str().
        ke = ks;
        while (ke < end && STR_CLASS[d[ke]!] === 0) ke++;
        const plain = ke < end && d[ke] === 0x22;
        if (plain) p = ke + 1;
        else {
          this.p = p;
          const f = this.str();
          if (f < 0) return false;
          // An escaped key might spell a mapped one: comparing it would need decoding; rare, so the exact path.
          if (node !== null && f & F_ESC) return false;
          ke = this.s1;
          p = this.p;
        }
        k = node === null ? -1 : node.find(d, ks, ke);
        if (node !== null && plain) node.saw(pos, k, d, ks, ke);
      }
      while (p < end && WS[d[p]!]) p++;
      if (p >= end || d[p] !== 0x3a) return false;
      p++;
      while (p < end && WS[d[p]!]) p++;
      if (k >= 0) {
        this.p = p;
        const below = node!.below[k]!;
        for (let j = 0; j < below.length; j++) this.kind[below[j]!] = MISSING;
        const leaf = node!.leaf[k]!;
        // Numbers and plain strings, the usual mapped values, without value()'s dispatch.
        const c = p < end ? d[p]! : -1;
        let kind: number;
        let q = end;
        if (c === 0x22) {
          q = p + 1;
          while (q < end && STR_CLASS[d[q]!] === 0) q++;
        }
        if (q < end && d[q] === 0x22) {
          kind = STR;
          this.s0 = p + 1;
          this.s1 = q;
          this.p = q + 1;
        } else if (c === 0x2d || (c >= 0x30 && c <= 0x39)) kind = this.number(leaf.length > 0) ? NUM : -1;
        else kind = this.value(node!.child[k]!, depth, leaf.length > 0);
        if (kind < 0) return false;
        for (let j = 0; j < leaf.length; j++) {
          const c = leaf[j]!;
          this.kind[c] = kind;
          this.vs[c] = this.s0;
          this.ve[c] = this.s1;
          this.num[c] = this.n0;
        }
        p = this.p;
      } else {
        // A value no column reads, validated only: plain strings scanned here.
        const c = p < end ? d[p]! : -1;
        let q = end;
        if (c === 0x22) {
          q = p + 1;
          while (q < end && STR_CLASS[d[q]!] === 0) q++;
        }
        if (q < end && d[q] === 0x22) p = q + 1;
        else if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
          p = skipNumber(d, p, end);
          if (p < 0) return false;
        } else {
          this.p = p;
          if (this.value(null, depth, false) < 0) return false;
          p = this.p;
        }
      }
      while (p < end && WS[d[p]!]) p++;
      if (p >= end) return false;
      if (d[p] === 0x2c) {
        p++;
        while (p < end && WS[d[p]!]) p++;
        continue;
      }
      if (d[p] === 0x7d) { this.p = p + 1; return true; }
      return false;
    }
  }

  /** An array at this.p ('['), validated only. */
  private arr(depth: number): boolean {
    const d = this.d;
    const end = this.end;
    let p = this.p + 1;
    while (p < end && WS[d[p]!]) p++;
    if (p < end && d[p] === 0x5d) { this.p = p + 1; return true; }
    for (;;) {
      this.p = p;
      if (this.value(null, depth, false) < 0) return false;
      p = this.p;
      while (p < end && WS[d[p]!]) p++;
      if (p >= end) return false;
      if (d[p] === 0x2c) {
        p++;
        while (p < end && WS[d[p]!]) p++;
        continue;
      }
      if (d[p] === 0x5d) { this.p = p + 1; return true; }
      return false;
    }
  }

  /** Any value at this.p: its kind (s0/s1 its span, n0 its number when `want`), or -1. */
  private value(node: PathNode | null, depth: number, want: boolean): number {
    const d = this.d;
    const p = this.p;
    if (p >= this.end) return -1;
    const c = d[p]!;
    switch (c) {
      case 0x22: {
        const f = this.str();
        return f < 0 ? -1 : f & F_ESC ? STRESC : f & F_U8 ? STR8 : STR;
      }
      case 0x7b:
        if (depth >= MAX_DEPTH || !this.obj(node, depth + 1)) return -1;
        this.s0 = p;
        this.s1 = this.p;
        return OBJ;
      case 0x5b:
        if (depth >= MAX_DEPTH || !this.arr(depth + 1)) return -1;
        this.s0 = p;
        this.s1 = this.p;
        return ARR;
      case 0x74: // true
        if (p + 4 > this.end || d[p + 1] !== 0x72 || d[p + 2] !== 0x75 || d[p + 3] !== 0x65) return -1;
        this.p = p + 4;
        return TRUE;
      case 0x66: // false
        if (p + 5 > this.end || d[p + 1] !== 0x61 || d[p + 2] !== 0x6c || d[p + 3] !== 0x73 || d[p + 4] !== 0x65) return -1;
        this.p = p + 5;
        return FALSE;
      case 0x6e: // null
        if (p + 4 > this.end || d[p + 1] !== 0x75 || d[p + 2] !== 0x6c || d[p + 3] !== 0x6c) return -1;
        this.p = p + 4;
        return NUL;
      default:
        if (c === 0x2d || (c >= 0x30 && c <= 0x39)) return this.number(want) ? NUM : -1;
        return -1;
    }
  }

  /**
   * A string at this.p ('"'): F_U8/F_ESC flags, or -1 (raw control
   * character, bad escape, invalid UTF-8 — which JSON.parse would see as
   * U+FFFD; rejecting it keeps every decoded string exact).
   */
  private str(): number {
    const d = this.d;
    const end = this.end;
    let p = this.p + 1;
    this.s0 = p;
    let flags = 0;
    for (;;) {
      while (p < end && STR_CLASS[d[p]!] === 0) p++;
      if (p >= end) return -1;
      const b = d[p]!;
      switch (STR_CLASS[b]) {
        case 1:
          this.s1 = p;
          this.p = p + 1;
          return flags;
        case 2: {
          flags |= F_ESC;
          if (p + 1 >= end || !ESC_OK[d[p + 1]!]) return -1;
          if (d[p + 1] === 0x75) {
            if (p + 6 > end || !HEX[d[p + 2]!] || !HEX[d[p + 3]!] || !HEX[d[p + 4]!] || !HEX[d[p + 5]!]) return -1;
            p += 6;
          } else p += 2;
          break;
        }
        case 3:
          return -1;
        default: {
          flags |= F_U8;
          const n = utf8Sequence(d, p, end);
          if (n === 0) return -1;
          p += n;
        }
      }
    }
  }

  /** A number at this.p, per JSON's grammar; when `want`, its value in n0 equal to Number(text). */
  private number(want: boolean): boolean {
    const d = this.d;
    const end = this.end;
    const s = this.p;
    let p = s;
    const neg = d[p] === 0x2d;
    if (neg) p++;
    if (p >= end) return false;
    let m = 0;
    let c = d[p]!;
    if (c === 0x30) p++;
    else if (c >= 0x31 && c <= 0x39) {
      while (p < end && (c = d[p]!) >= 0x30 && c <= 0x39) { m = m * 10 + (c - 0x30); p++; }
    } else return false;
    let frac = 0;
    if (p < end && d[p] === 0x2e) {
      p++;
      const f0 = p;
      while (p < end && (c = d[p]!) >= 0x30 && c <= 0x39) { m = m * 10 + (c - 0x30); p++; }
      frac = p - f0;
      if (frac === 0) return false;
    }
    let exp = 0;
    if (p < end && (d[p] === 0x65 || d[p] === 0x45)) {
      p++;
      let eneg = false;
      if (p < end && (d[p] === 0x2b || d[p] === 0x2d)) { eneg = d[p] === 0x2d; p++; }
      const e0 = p;
      // Past a million the exponent only needs to stay out of the fast path's range.
      while (p < end && (c = d[p]!) >= 0x30 && c <= 0x39) { exp = exp < 1e6 ? exp * 10 + (c - 0x30) : Infinity; p++; }
      if (p === e0) return false;
      if (eneg) exp = -exp;
    }
    this.p = p;
    if (!want) return true;
    // m is exact while below 2^53 (and once past it stays past it); then m·10^e10 is one correctly rounded operation.
    const e10 = exp - frac;
    let v: number;
    if (m < TWO_53 && e10 >= -22 && e10 <= 22) v = e10 >= 0 ? m * POW10[e10]! : m / POW10[-e10]!;
    else return (this.n0 = Number((d as Latin1).latin1Slice(s, p))), true;
    this.n0 = neg ? -v : v;
    return true;
  }
}

/**
 * A column's recent short ASCII strings by their bytes (direct-mapped, 16
 * slots): KDA streams carry ticker symbols, sectors, channels, event names,
 * few distinct values repeated every record. A hit costs a byte compare
 * instead of a string (and its garbage). A column whose strings rarely
 * repeat turns the cache off for a while (a miss costs a copy on top).
 */
class StringCache {
  static readonly SLOTS = 16;
  static readonly MAX = 32;
  private readonly bytes = new Uint8Array(StringCache.SLOTS * StringCache.MAX);
  private readonly lens = new Int32Array(StringCache.SLOTS).fill(-1);
  private readonly strings: string[] = new Array<string>(StringCache.SLOTS).fill('');
  private tries = 0;
  private hits = 0;
  /** Records left to go uncached after a poor run. */
  private off = 0;

  get(d: Buffer, s: number, e: number): string {
    const len = e - s;
    if (len === 0) return '';
    if (len > StringCache.MAX || this.off > 0) {
      if (this.off > 0) this.off--;
      return (d as Latin1).latin1Slice(s, e);
    }
    const slot = (len * 7 + d[s]! * 3 + d[e - 1]! + d[s + (len >> 1)]!) & (StringCache.SLOTS - 1);
    const at = slot * StringCache.MAX;
    const bytes = this.bytes;
    if (++this.tries === 4096) {
      if (this.hits < 2048) this.off = 65536;
      this.tries = this.hits = 0;
    }
    if (this.lens[slot] === len) {
      let j = 0;
      while (j < len && bytes[at + j] === d[s + j]) j++;
      if (j === len) {
        this.hits++;
        return this.strings[slot]!;
      }
    }
    const str = (d as Latin1).latin1Slice(s, e);
    for (let j = 0; j < len; j++) bytes[at + j] = d[s + j]!;
    this.lens[slot] = len;
    this.strings[slot] = str;
    return str;
  }
}

/** Whether delimiter `delim` starts at d[q] (before `end`). */
function delimiterAt(d: Buffer, q: number, end: number, delim: Buffer): boolean {
  if (q + delim.length > end) return false;
  for (let j = 1; j < delim.length; j++) if (d[q + j] !== delim[j]) return false;
  return true;
}

/**
 * Number(text) of ASCII text d[s, e) in the plain forms coerce() takes for
 * number columns — integers `-?digits` (`int`), else also a sign, a point and
 * an exponent as Number() reads them ("1.", ".5", "+1", "007") — or NaN for
 * anything else (spaces, hex, Infinity…), which then goes through coerce().
 */
function textNumber(d: Buffer, s: number, e: number, int: boolean): number {
  let p = s;
  let neg = false;
  if (p < e && (d[p] === 0x2d || (!int && d[p] === 0x2b))) { neg = d[p] === 0x2d; p++; }
  let m = 0;
  let digits = 0;
  let c = 0;
  while (p < e && (c = d[p]!) >= 0x30 && c <= 0x39) { m = m * 10 + (c - 0x30); p++; digits++; }
  let frac = 0;
  let exp = 0;
  if (!int) {
    if (p < e && d[p] === 0x2e) {
      p++;
      while (p < e && (c = d[p]!) >= 0x30 && c <= 0x39) { m = m * 10 + (c - 0x30); p++; frac++; }
    }
    if (p < e && (d[p] === 0x65 || d[p] === 0x45)) {
      p++;
      let eneg = false;
      if (p < e && (d[p] === 0x2b || d[p] === 0x2d)) { eneg = d[p] === 0x2d; p++; }
      const e0 = p;
      while (p < e && (c = d[p]!) >= 0x30 && c <= 0x39) { exp = exp < 1e6 ? exp * 10 + (c - 0x30) : Infinity; p++; }
      if (p === e0) return NaN;
      if (eneg) exp = -exp;
    }
  }
  if (p !== e || digits + frac === 0) return NaN;
  const e10 = exp - frac;
  if (m >= TWO_53 || e10 < -22 || e10 > 22) return Number((d as Latin1).latin1Slice(s, e));
  const v = e10 >= 0 ? m * POW10[e10]! : m / POW10[-e10]!;
  return neg ? -v : v;
}

/** The end of the JSON number at d[p] ('-' or a digit), or -1: number()'s grammar without the value. */
function skipNumber(d: Buffer, p: number, end: number): number {
  if (d[p] === 0x2d) p++;
  if (p >= end) return -1;
  let c = d[p]!;
  if (c === 0x30) p++;
  else if (c >= 0x31 && c <= 0x39) { p++; while (p < end && (c = d[p]!) >= 0x30 && c <= 0x39) p++; }
  else return -1;
  if (p < end && d[p] === 0x2e) {
    const f0 = ++p;
    while (p < end && (c = d[p]!) >= 0x30 && c <= 0x39) p++;
    if (p === f0) return -1;
  }
  if (p < end && (d[p] === 0x65 || d[p] === 0x45)) {
    p++;
    if (p < end && (d[p] === 0x2b || d[p] === 0x2d)) p++;
    const e0 = p;
    while (p < end && (c = d[p]!) >= 0x30 && c <= 0x39) p++;
    if (p === e0) return -1;
  }
  return p;
}

/** The length of the valid UTF-8 sequence at d[p] (a non-ASCII lead byte), or 0. */
function utf8Sequence(d: Buffer, p: number, end: number): number {
  const b = d[p]!;
  const cont = (i: number) => i < end && (d[i]! & 0xc0) === 0x80;
  if (b >= 0xc2 && b <= 0xdf) return cont(p + 1) ? 2 : 0;
  if (b >= 0xe0 && b <= 0xef) {
    if (p + 1 >= end) return 0;
    const b1 = d[p + 1]!;
    // No overlongs (E0 80–9F) and no surrogates (ED A0–BF).
    if ((b === 0xe0 && b1 < 0xa0) || (b === 0xed && b1 > 0x9f)) return 0;
    return cont(p + 1) && cont(p + 2) ? 3 : 0;
  }
  if (b >= 0xf0 && b <= 0xf4) {
    if (p + 1 >= end) return 0;
    const b1 = d[p + 1]!;
    // No overlongs (F0 80–8F) and nothing past U+10FFFF (F4 90–BF).
    if ((b === 0xf0 && b1 < 0x90) || (b === 0xf4 && b1 > 0x8f)) return 0;
    return cont(p + 1) && cont(p + 2) && cont(p + 3) ? 4 : 0;
  }
  return 0;
}

/** JS string length (UTF-16 units) of valid UTF-8 d[s, e): one per sequence, two for four-byte ones. */
function utf16Length(d: Buffer, s: number, e: number): number {
  let n = 0;
  for (let i = s; i < e; i++) {
    const b = d[i]!;
    if ((b & 0xc0) !== 0x80) n += b >= 0xf0 ? 2 : 1;
  }
  return n;
}
