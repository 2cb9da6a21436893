// The DuckDB side of the engine: one in-memory database per application, work
// tables filled through the appender, queries read back as JS rows.
import {
  DuckDBBigIntVector, DuckDBDataChunk, DuckDBDateVector, DuckDBDoubleVector, DuckDBInstance, DuckDBIntegerVector, DuckDBTimestampVector,
  type DuckDBConnection, type DuckDBValue, type DuckDBVector,
} from '@duckdb/node-api';
import { duckType, fromDuck, toDuck, type SqlType, type Value } from './types.js';

const CHUNK_ROWS = 2048;
import { quote } from '../sql/pump.js';

export interface TableColumn { name: string; type: SqlType }

export class Duck {
  private constructor(readonly instance: DuckDBInstance, readonly conn: DuckDBConnection) {}

  static async open(): Promise<Duck> {
    // One thread: the worker runs one application per process and the
    // streaming layer feeds small batches; parallel scans only add overhead.
    // integer_division: KDA SQL (SQLstream, the SQL standard) divides
    // INTEGER by INTEGER into an INTEGER truncated toward zero, where DuckDB's
    // `/` gives a DOUBLE. With the setting DuckDB's binder picks its integer
    // division (which truncates toward zero) whenever both operands are of an
    // integer type, at any depth of an expression; DECIMAL (a DOUBLE column
    // here, a DECIMAL literal like 2.0), REAL and DOUBLE operands still divide
    // exactly.
    const instance = await DuckDBInstance.create(':memory:', { threads: '1', integer_division: 'true' });
    return new Duck(instance, await instance.connect());
  }

  async createTable(name: string, columns: TableColumn[]): Promise<void> {
    const cols = columns.map((c) => `${quote(c.name)} ${duckType(c.type)}`).join(', ');
    await this.conn.run(`CREATE OR REPLACE TABLE ${quote(name)} (${cols})`);
  }

  /**
   * Which of the table's columns `sql` reads, as DuckDB's own plan says (the
   * table scans' projections and filters, after projection pushdown). A work
   * table then holds only those (engine.ts narrows it), so a column nobody
   * reads is never converted or copied. All columns when the plan is not understood.
   */
  async columnsRead(sql: string, table: string, columns: TableColumn[]): Promise<boolean[]> {
    const all = columns.map(() => true);
    try {
      // Statistics propagation plans a query over an empty table as EMPTY_RESULT, with no scan to
      // read the projections from; a work table is empty when the pump is compiled.
      await this.conn.run(`SET disabled_optimizers = 'statistics_propagation'`);
      let r;
      try {
        r = await this.conn.runAndReadAll(`EXPLAIN (FORMAT JSON) ${sql}`);
      } finally {
        await this.conn.run('RESET disabled_optimizers');
      }
      const plan = JSON.parse(String(r.getRows()[0]?.[1] ?? 'null')) as unknown;
      const scans: Record<string, unknown>[] = [];
      const walk = (n: unknown) => {
        if (Array.isArray(n)) return n.forEach(walk);
        if (!n || typeof n !== 'object') return;
        const o = n as { extra_info?: Record<string, unknown>; children?: unknown };
        const t = o.extra_info?.Table;
        if (typeof t === 'string' && (t === table || t.endsWith(`.${table}`))) scans.push(o.extra_info!);
        walk(o.children);
      };
      walk(plan);
      // One projection is a string, several an array.
      if (!scans.length || scans.some((x) => !Array.isArray(x.Projections) && typeof x.Projections !== 'string')) return all;
      const text = scans.map((x) => JSON.stringify({ ...x, Table: undefined })).join('\n');
      return columns.map((c) => new RegExp(`(^|[^A-Za-z0-9_])${c.name.replace(/[^A-Za-z0-9_]/g, '\\$&')}($|[^A-Za-z0-9_])`).test(text));
    } catch {
      return all;
    }
  }

  /** Replaces the table's rows; `index[k]`: where table column k is in a row (default k). */
  async fill(name: string, columns: TableColumn[], rows: Value[][], index?: number[]): Promise<void> {
    await this.conn.run(`DELETE FROM ${quote(name)}`);
    if (rows.length === 0) return;
    const a = await this.conn.createAppender(name);
    try {
      // Column-wise, one data chunk (DuckDB's vector size) at a time: a call per
      // value through the appender cost more than the query itself.
      const types = columns.map((_, i) => a.columnType(i));
      for (let from = 0; from < rows.length; from += CHUNK_ROWS) {
        const n = Math.min(CHUNK_ROWS, rows.length - from);
        const chunk = DuckDBDataChunk.create(types, n);
        columns.forEach((c, i) => {
          const col = index ? index[i]! : i;
          writeColumn(chunk.getColumnVector(i) as unknown as RawVector, c.type, (k) => rows[k]![col], from, n);
        });
        a.appendDataChunk(chunk);
      }
      a.flushSync();
    } finally {
      a.closeSync();
    }
  }

  /**
   * fill() from columns instead of rows (engine pushColumns): `m` rows, each
   * table column given as numbers (a Float64Array, with a null flag per row),
   * values, or one value for every row. Numbers go into the vectors' typed
   * arrays as writeColumn() puts them, without a row array per record.
   */
  async fillColumns(name: string, columns: TableColumn[], m: number, data: FillColumn[]): Promise<void> {
    // A new table rather than DELETE: appending behind deleted rows cost ~50% more (~175 vs ~117 ns a row of 5 columns here).
    await this.createTable(name, columns);
    if (m === 0) return;
    const a = await this.conn.createAppender(name);
    try {
      const types = columns.map((_, i) => a.columnType(i));
      for (let from = 0; from < m; from += CHUNK_ROWS) {
        const n = Math.min(CHUNK_ROWS, m - from);
        const chunk = DuckDBDataChunk.create(types, n);
        columns.forEach((c, i) => writeFillColumn(chunk.getColumnVector(i) as unknown as RawVector, c.type, data[i]!, from, n));
        a.appendDataChunk(chunk);
      }
      a.flushSync();
    } finally {
      a.closeSync();
    }
  }

  /** Result rows, read chunk by chunk and column by column (readColumn). */
  async query(sql: string): Promise<{ names: string[]; rows: Value[][] }> {
    const { names, cols, n } = await this.queryColumns(sql);
    const rows: Value[][] = new Array(n);
    for (let r = 0; r < n; r++) {
      const v: Value[] = new Array(names.length);
      for (let c = 0; c < names.length; c++) v[c] = cols[c]![r]!;
      rows[r] = v;
    }
    return { names, rows };
  }

  /** The result column by column (`n` rows): no array per row, and numbers stay unboxed in their columns. */
  async queryColumns(sql: string): Promise<{ names: string[]; cols: Value[][]; n: number }> {
    const res = await this.conn.run(sql);
    const names = res.columnNames();
    // Sized once (a materialised result knows its rows): no growing copies of 100k-row columns.
    const cols: Value[][] = names.map(() => new Array(res.rowCount));
    let at = 0;
    for (;;) {
      const chunk = await res.fetchChunk();
      if (!chunk || chunk.rowCount === 0) break;
      const n = chunk.rowCount;
      for (let c = 0; c < names.length; c++) readColumn(chunk.getColumnVector(c), cols[c]!, at, n);
      at += n;
    }
    for (const c of cols) c.length = at;
    return { names, cols, n: at };
  }

  close(): void {
    this.conn.closeSync();
    this.instance.closeSync();
  }
}

/** One table column for fillColumns(). */
export type FillColumn =
  | { numbers: Float64Array; nulls?: Uint8Array }
  | { values: readonly Value[] }
  | { constant: Value };

/** What writeColumn uses of @duckdb/node-api's vector classes: their typed array over the vector's data, validity and flush. */
interface RawVector {
  items?: ArrayLike<unknown> & { buffer: ArrayBufferLike; byteOffset: number; length: number };
  validity: { data: BigUint64Array | null; flush(vector: unknown): void };
  vector: unknown;
  setItem(i: number, v: DuckDBValue): void;
  flush(): void;
}

/**
 * One result chunk's column into `out` from index `at`: int64 (BIGINT, TIMESTAMP µs) from its two
 * 32-bit halves, other numbers straight from the typed array, validity from
 * its bits; no BigInt or value object per item while the value fits a double
 * exactly. Everything else through getItem and fromDuck.
 */
function readColumn(vec: DuckDBVector, out: Value[], at: number, n: number): void {
  const raw = vec as unknown as RawVector;
  const data = raw.validity.data;
  const bits = data ? new Uint32Array(data.buffer, data.byteOffset, Math.ceil(n / 32)) : undefined;
  const valid = (r: number) => !bits || (bits[r >>> 5]! & (1 << (r & 31))) !== 0;
  const timestamp = vec instanceof DuckDBTimestampVector;
  if (LITTLE_ENDIAN && (timestamp || vec instanceof DuckDBBigIntVector)) {
    const items = raw.items as BigInt64Array;
    const lo = new Uint32Array(items.buffer, items.byteOffset, n * 2);
    const hi = new Int32Array(items.buffer, items.byteOffset, n * 2);
    for (let r = 0; r < n; r++) {
      if (!valid(r)) { out[at + r] = null; continue; }
      const h = hi[2 * r + 1]!;
      // |value| < 2^52: exact as a double; beyond, the BigInt path (as fromDuck does it).
      if (h >= -0x100000 && h < 0x100000) {
        const x = h * TWO32 + lo[2 * r]!;
        out[at + r] = timestamp ? Math.trunc(x / 1000) : x;
      } else out[at + r] = fromDuck(vec.getItem(r));
    }
    return;
  }
  if (vec instanceof DuckDBDoubleVector || vec instanceof DuckDBIntegerVector || vec instanceof DuckDBDateVector) {
    const items = raw.items as unknown as { [i: number]: number };
    const scale = vec instanceof DuckDBDateVector ? 86_400_000 : 1;
    for (let r = 0; r < n; r++) out[at + r] = valid(r) ? items[r]! * scale : null;
    return;
  }
  for (let r = 0; r < n; r++) out[at + r] = fromDuck(vec.getItem(r));
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const TWO32 = 4294967296;

/**
 * One column of a data chunk. Numbers go straight into the vector's typed
 * array — int64 (BIGINT, TIMESTAMP in µs) as two 32-bit halves, so no BigInt
 * or DuckDBTimestampValue is made per value — and NULLs into a validity mask
 * built here (the library's per-item validity update costs BigInt shifts).
 * Other types go through the vector's setItem.
 */
function writeColumn(vec: RawVector, t: SqlType, at: (i: number) => Value | undefined, from: number, n: number): void {
  const words = Math.ceil(n / 64);
  let mask: Uint32Array | undefined;
  const isNull = (r: number) => {
    if (!mask) mask = new Uint32Array(words * 2).fill(0xffffffff);
    mask[r >>> 5]! &= ~(1 << (r & 31));
  };
  const items = vec.items;
  const base = t.base;
  if (items && LITTLE_ENDIAN && (base === 'BIGINT' || base === 'TIMESTAMP') && items instanceof BigInt64Array) {
    const lo = new Uint32Array(items.buffer, items.byteOffset, n * 2);
    const hi = new Int32Array(items.buffer, items.byteOffset, n * 2);
    const scale = base === 'TIMESTAMP' ? 1000 : 1;
    for (let r = 0; r < n; r++) {
      const v = at(from + r);
      if (v === null || v === undefined) { isNull(r); continue; }
      const x = (v as number) * scale;
      const h = Math.floor(x / TWO32);
      lo[2 * r] = x - h * TWO32;
      hi[2 * r + 1] = h;
    }
  } else if (items && (base === 'DOUBLE' || base === 'DECIMAL' || base === 'REAL' || base === 'INTEGER' || base === 'SMALLINT' || base === 'TINYINT') &&
    (items instanceof Float64Array || items instanceof Float32Array || items instanceof Int32Array || items instanceof Int16Array || items instanceof Int8Array)) {
    const arr = items as unknown as { [i: number]: number };
    for (let r = 0; r < n; r++) {
      const v = at(from + r);
      if (v === null || v === undefined) { isNull(r); continue; }
      arr[r] = v as number;
    }
  } else {
    const conv = toDuck(t);
    for (let r = 0; r < n; r++) {
      const v = at(from + r) ?? null;
      if (v === null) { isNull(r); continue; }
      vec.setItem(r, conv(v));
    }
  }
  if (mask) vec.validity.data = new BigUint64Array(mask.buffer);
  vec.flush();
}

/** writeColumn() for a FillColumn: rows from..from+n of it into the vector. */
function writeFillColumn(vec: RawVector, t: SqlType, d: FillColumn, from: number, n: number): void {
  if ('values' in d) {
    const values = d.values;
    writeColumn(vec, t, (i) => values[i], from, n);
    return;
  }
  if ('constant' in d) {
    const v = d.constant;
    writeColumn(vec, t, () => v, from, n);
    return;
  }
  const { numbers, nulls } = d;
  const items = vec.items;
  const base = t.base;
  // Doubles and 32-bit integers without NULLs: one copy of the typed array; anything else as writeColumn writes it.
  if (!nulls?.subarray(from, from + n).includes(1) && items && (items instanceof Float64Array || items instanceof Float32Array || items instanceof Int32Array || items instanceof Int16Array || items instanceof Int8Array) &&
    (base === 'DOUBLE' || base === 'DECIMAL' || base === 'REAL' || base === 'INTEGER' || base === 'SMALLINT' || base === 'TINYINT')) {
    (items as unknown as { set(a: ArrayLike<number>): void }).set(numbers.subarray(from, from + n));
    vec.flush();
    return;
  }
  writeColumn(vec, t, nulls ? (i) => (nulls[i] ? null : numbers[i]!) : (i) => numbers[i]!, from, n);
}
