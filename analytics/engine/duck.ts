// The DuckDB side of the engine: one in-memory database per application, work
// tables filled through the appender, queries read back as JS rows.
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { append, duckType, fromDuck, type SqlType, type Value } from './types.js';
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
      for (const r of rows) {
        for (let i = 0; i < columns.length; i++) append(a, columns[i]!.type, r[i] ?? null);
        a.endRow();
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
