// The DuckDB side of the engine: one in-memory database per application, work
// tables filled through the appender, queries read back as JS rows.
import { DuckDBDataChunk, DuckDBInstance, type DuckDBConnection, type DuckDBValue } from '@duckdb/node-api';
import { duckType, fromDuck, toDuck, type SqlType, type Value } from './types.js';

const CHUNK_ROWS = 2048;
import { quote } from '../sql/pump.js';

export interface TableColumn { name: string; type: SqlType }

export class Duck {
  private constructor(readonly instance: DuckDBInstance, readonly conn: DuckDBConnection) {}

  static async open(): Promise<Duck> {
    // One thread: the worker runs one application per process and the
    // streaming layer feeds small batches; parallel scans only add overhead.
    const instance = await DuckDBInstance.create(':memory:', { threads: '1' });
    return new Duck(instance, await instance.connect());
  }

  async createTable(name: string, columns: TableColumn[]): Promise<void> {
    const cols = columns.map((c) => `${quote(c.name)} ${duckType(c.type)}`).join(', ');
    await this.conn.run(`CREATE OR REPLACE TABLE ${quote(name)} (${cols})`);
  }

  /** Replaces the table's rows. */
  async fill(name: string, columns: TableColumn[], rows: Value[][]): Promise<void> {
    await this.conn.run(`DELETE FROM ${quote(name)}`);
    if (rows.length === 0) return;
    const a = await this.conn.createAppender(name);
    try {
      // Column-wise, one data chunk (DuckDB's vector size) at a time: a call per
      // value through the appender cost more than the query itself.
      const types = columns.map((_, i) => a.columnType(i));
      for (let from = 0; from < rows.length; from += CHUNK_ROWS) {
        const n = Math.min(CHUNK_ROWS, rows.length - from);
        const cols: DuckDBValue[][] = columns.map((c, i) => {
          const conv = toDuck(c.type);
          const out = new Array<DuckDBValue>(n);
          for (let r = 0; r < n; r++) out[r] = conv(rows[from + r]![i] ?? null);
          return out;
        });
        const chunk = DuckDBDataChunk.create(types, n);
        chunk.setColumns(cols);
        a.appendDataChunk(chunk);
      }
      a.flushSync();
    } finally {
      a.closeSync();
    }
  }

  async query(sql: string): Promise<{ names: string[]; rows: Value[][] }> {
    const r = await this.conn.runAndReadAll(sql);
    return { names: r.columnNames(), rows: r.getRows().map((row) => row.map(fromDuck)) };
  }

  close(): void {
    this.conn.closeSync();
    this.instance.closeSync();
  }
}
