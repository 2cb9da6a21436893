// A batch of input rows held column by column, for the shard workers' hot
// path: records are decoded straight into these columns (columnDecoder.ts)
// and a pre-aggregated tumbling pump copies them straight into DuckDB's
// vectors (engine pushColumns), so no object or array is made per record.
// Numbers, timestamps, dates and times sit unboxed in a Float64Array with a
// null flag per row; strings and booleans in a plain array. A column no pump
// reads is not materialised (undefined): its values read as NULL.
import type { SqlType, Value } from './types.js';

export interface NumberColumn { kind: 'number'; values: Float64Array; nulls: Uint8Array }
export interface ValueColumn { kind: 'value'; values: Value[] }
export type Column = NumberColumn | ValueColumn;

/** Types held as numbers (TIMESTAMP, DATE: epoch ms; TIME: ms since midnight), as coerce() gives them. */
export function isNumberType(t: SqlType): boolean {
  switch (t.base) {
    case 'TINYINT': case 'SMALLINT': case 'INTEGER': case 'BIGINT':
    case 'DOUBLE': case 'REAL': case 'DECIMAL':
    case 'TIMESTAMP': case 'DATE': case 'TIME':
      return true;
    default:
      return false;
  }
}

export class ColumnBatch {
  /** Rows held. */
  n = 0;
  /** Each row's ROWTIME (the record's arrival, epoch ms). */
  t: Float64Array;
  /** By input column; undefined: not materialised (no pump reads it). */
  readonly cols: (Column | undefined)[];

  constructor(readonly types: SqlType[], materialise: readonly boolean[], private capacity = 1024) {
    this.t = new Float64Array(capacity);
    this.cols = types.map((t, i) => (!materialise[i] ? undefined
      : isNumberType(t) ? { kind: 'number', values: new Float64Array(capacity), nulls: new Uint8Array(capacity) } : { kind: 'value', values: [] }));
  }

  /** Room for row `n` (call before writing it). */
  reserve(): void {
    if (this.n < this.capacity) return;
    const cap = this.capacity * 2;
    const grow = <A extends Float64Array | Uint8Array>(a: A, make: (n: number) => A): A => {
      const b = make(cap);
      b.set(a);
      return b;
    };
    this.t = grow(this.t, (n) => new Float64Array(n));
    for (const c of this.cols) {
      if (c?.kind === 'number') {
        c.values = grow(c.values, (n) => new Float64Array(n));
        c.nulls = grow(c.nulls, (n) => new Uint8Array(n));
      }
    }
    this.capacity = cap;
  }

  /** Appends one row given as values in input column order (the fallback path: RecordMapper's rows). */
  pushRow(t: number, v: readonly Value[]): void {
    this.reserve();
    const r = this.n;
    this.t[r] = t;
    for (let i = 0; i < this.cols.length; i++) {
      const c = this.cols[i];
      if (!c) continue;
      const x = v[i] ?? null;
      if (c.kind === 'number') {
        c.nulls[r] = x === null ? 1 : 0;
        c.values[r] = x === null ? 0 : (x as number);
      } else c.values[r] = x;
    }
    this.n++;
  }

  /** Row `r`'s value of column `c`. */
  get(r: number, c: number): Value {
    const col = this.cols[c];
    if (!col) return null;
    if (col.kind === 'number') return col.nulls[r] ? null : col.values[r]!;
    return col.values[r] ?? null;
  }

  /** Row `r` as values in input column order (unmaterialised columns NULL). */
  row(r: number): Value[] {
    const out: Value[] = new Array(this.cols.length);
    for (let c = 0; c < this.cols.length; c++) out[c] = this.get(r, c);
    return out;
  }

  /** Empties the batch, keeping its buffers. */
  clear(): void {
    this.n = 0;
    for (const c of this.cols) if (c?.kind === 'value') c.values.length = 0;
  }
}
