// Watches a bucket on the S3 server the delivery worker writes to: when each
// object first appeared (in a listing, by this process's clock, or as the S3
// server's object-created event: `created()`), and, read back
// (gunzipped NDJSON, or Parquet read by DuckDB's read_parquet), how many
// records each holds, which (`i`) and the oldest send time among them. The
// benchmark's oracle: records are counted from S3, not from the worker's own
// figures, and Parquet by a reader independent of the worker's writer.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import type { S3Server } from '../../test/harness/s3.js';

/** What the worker writes: GZIP NDJSON, or Parquet with (at least) the columns `i` and `sentms`. */
export type TallyFormat = 'gzip-ndjson' | 'parquet';

export interface SeenObject {
  key: string;
  firstSeenMs: number;
  records?: number;
  oldestSentMs?: number;
  bytes?: number;
  /** The record indices it holds. */
  ids?: Int32Array;
}

export class S3Tally {
  readonly objects = new Map<string, SeenObject>();
  /** Per record index: how many times it was read back. */
  private readonly hits: Uint8Array;
  records = 0;
  compressedBytes = 0;

  constructor(private readonly s3: S3Server, private readonly bucket: string, private readonly prefix: string, expected: number, private readonly format: TallyFormat = 'gzip-ndjson') {
    this.hits = new Uint8Array(expected);
  }

  private duck?: { db: DuckDBInstance; conn: DuckDBConnection; dir: string };

  /** Listings that failed (s3rver answers 500 now and then to a listing racing a PUT); the next one is tried at the next poll. */
  listErrors = 0;

  /** One listing; new keys get their first-seen time. Returns the number of new keys (0 when the listing failed). */
  async list(): Promise<number> {
    const now = Date.now();
    let fresh = 0;
    let keys: string[];
    try {
      keys = await this.s3.list(this.bucket, this.prefix);
    } catch {
      this.listErrors++;
      return 0;
    }
    for (const key of keys) {
      if (this.objects.has(key)) continue;
      this.objects.set(key, { key, firstSeenMs: now });
      fresh++;
    }
    return fresh;
  }

  /** An object the S3 server reports stored at `atMs` (its object-created event); keys outside the prefix are ignored. */
  created(key: string, atMs: number): void {
    if (!key.startsWith(this.prefix)) return;
    const o = this.objects.get(key);
    if (!o) this.objects.set(key, { key, firstSeenMs: atMs });
    // A retried flush overwrites its object: the first time it was stored is when it arrived.
    else if (atMs < o.firstSeenMs) o.firstSeenMs = atMs;
  }

  /** A listing that must succeed (the final one): tried up to 10 times. */
  async listFinal(): Promise<void> {
    for (let i = 0; i < 10; i++) {
      const before = this.listErrors;
      await this.list();
      if (this.listErrors === before) return;
      await new Promise((r) => setTimeout(r, 500));
    }
    throw new Error(`listing ${this.bucket}/${this.prefix} failed 10 times`);
  }

  /** Reads back every listed object not read yet. */
  async readNew(): Promise<void> {
    for (const o of this.objects.values()) {
      if (o.records !== undefined) continue;
      const gz = await this.s3.get(this.bucket, o.key);
      let n = 0;
      let oldest = Infinity;
      const ids: number[] = [];
      for (const r of this.format === 'parquet' ? await this.parquetRows(gz) : ndjsonRows(gz)) {
        ids.push(r.i);
        if (r.i < this.hits.length && this.hits[r.i]! < 255) this.hits[r.i]!++;
        oldest = Math.min(oldest, r.sentMs);
        n++;
      }
      o.records = n;
      o.ids = Int32Array.from(ids);
      o.oldestSentMs = oldest;
      o.bytes = gz.length;
      this.records += n;
      this.compressedBytes += gz.length;
    }
  }

  /** `i` and `sentms` of every row of a Parquet object, read by DuckDB from a temp file. */
  private async parquetRows(body: Buffer): Promise<{ i: number; sentMs: number }[]> {
    if (!this.duck) {
      const db = await DuckDBInstance.create(':memory:', { threads: '1' });
      this.duck = { db, conn: await db.connect(), dir: fs.mkdtempSync(path.join(os.tmpdir(), 'bench-tally-')) };
    }
    const file = path.join(this.duck.dir, 'o.parquet');
    fs.writeFileSync(file, body);
    const rows = (await this.duck.conn.runAndReadAll(`SELECT i::DOUBLE AS i, sentms::DOUBLE AS s FROM read_parquet('${file.replace(/'/g, "''")}')`)).getRows();
    return rows.map((r) => ({ i: Number(r[0]), sentMs: Number(r[1]) }));
  }

  /** Frees the Parquet reader, if one was opened. */
  close(): void {
    if (!this.duck) return;
    this.duck.conn.closeSync();
    this.duck.db.closeSync();
    fs.rmSync(this.duck.dir, { recursive: true, force: true });
    this.duck = undefined;
  }

  /** Records of 0..expected−1 never read back, and read back more than once. */
  check(): { lost: number; duplicated: number } {
    let lost = 0;
    let duplicated = 0;
    for (const h of this.hits) {
      if (h === 0) lost++;
      else if (h > 1) duplicated++;
    }
    return { lost, duplicated };
  }

  /** When the last object appeared. */
  lastSeenMs(): number {
    let t = 0;
    for (const o of this.objects.values()) t = Math.max(t, o.firstSeenMs);
    return t;
  }
}

function ndjsonRows(gz: Buffer): { i: number; sentMs: number }[] {
  const out: { i: number; sentMs: number }[] = [];
  for (const line of zlib.gunzipSync(gz).toString('utf8').split('\n')) {
    if (line) out.push(JSON.parse(line) as { i: number; sentMs: number });
  }
  return out;
}
