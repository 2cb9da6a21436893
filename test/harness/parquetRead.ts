// An independent Parquet reader for tests: DuckDB's read_parquet over the
// bytes (written to a temp file), giving the column types DuckDB sees and the
// rows as JSON-friendly values.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';

export interface ParquetTable {
  types: Record<string, string>;
  rows: Record<string, unknown>[];
  /** Codecs of the column chunks (parquet_metadata). */
  codecs: string[];
  rowGroups: number;
}

export async function readParquet(body: Buffer, sql = 'SELECT * FROM t'): Promise<ParquetTable> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shardline-parquet-'));
  const file = path.join(dir, 'f.parquet');
  fs.writeFileSync(file, body);
  const db = await DuckDBInstance.create(':memory:', { threads: '1' });
  const conn = await db.connect();
  try {
    const lit = `'${file.replace(/'/g, "''")}'`;
    await conn.run(`CREATE VIEW t AS SELECT * FROM read_parquet(${lit})`);
    const described = await conn.runAndReadAll('DESCRIBE t');
    const types = Object.fromEntries(described.getRowObjectsJson().map((r) => [String(r.column_name), String(r.column_type)]));
    const rows = (await conn.runAndReadAll(sql)).getRowObjectsJson() as Record<string, unknown>[];
    const codecs = (await conn.runAndReadAll(`SELECT DISTINCT compression FROM parquet_metadata(${lit})`)).getRowObjectsJson().map((r) => String(r.compression));
    const rowGroups = Number((await conn.runAndReadAll(`SELECT count(DISTINCT row_group_id)::INT AS n FROM parquet_metadata(${lit})`)).getRowObjectsJson()[0]!.n);
    return { types, rows, codecs, rowGroups };
  } finally {
    conn.closeSync();
    db.closeSync();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
