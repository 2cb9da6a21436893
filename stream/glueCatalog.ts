// The small Glue Data Catalog that Firehose's record format conversion reads:
// databases and tables, one JSON value each in a JetStream KV bucket, with
// compare-and-set as for the other definitions. A table's VersionId goes up
// by one with every update; the delivery worker resolves a delivery stream's
// table (DatabaseName/TableName) from here when it forms a flush.
// Names are stored lower-cased, as Glue stores them.
import type { KV } from 'nats';
import type { Store } from './connect.js';
import { kvKeys } from './kvKeys.js';

export const GLUE_CATALOG_BUCKET = 'shardline_glue_catalog';

export interface GlueColumn { Name: string; Type?: string; Comment?: string; Parameters?: Record<string, string> }

export interface GlueDatabase {
  Name: string;
  Description?: string;
  LocationUri?: string;
  Parameters?: Record<string, string>;
  CreateTimeMs: number;
}

/** A table as Glue's TableInput gives it (the members kept as given), plus what the catalog adds. */
export interface GlueTable {
  DatabaseName: string;
  Name: string;
  /** TableInput without Name: Description, StorageDescriptor (Columns, Location, SerdeInfo, …), PartitionKeys, TableType, Parameters, … */
  input: Record<string, unknown> & { StorageDescriptor?: { Columns?: GlueColumn[] } & Record<string, unknown> };
  /** "0" at creation, one up with every UpdateTable (Glue's table VersionId). */
  VersionId: string;
  CreateTimeMs: number;
  UpdateTimeMs: number;
}

export class CatalogNotFoundError extends Error {}
export class CatalogExistsError extends Error {}
export class CatalogConflictError extends Error {}

const seg = (s: string) => Buffer.from(s.toLowerCase()).toString('base64url');
const dbKey = (db: string) => `db.${seg(db)}`;
const tableKey = (db: string, t: string) => `table.${seg(db)}.${seg(t)}`;

export const glueCatalogKv = (store: Store): Promise<KV> => store.js.views.kv(GLUE_CATALOG_BUCKET, { history: 1, replicas: store.replicas });

async function read<T>(kv: KV, key: string): Promise<{ value: T; revision: number } | undefined> {
  const e = await kv.get(key);
  if (!e || e.operation !== 'PUT' || e.length === 0) return undefined;
  return { value: e.json<T>(), revision: e.revision };
}

const wrongRevision = (e: unknown) => /wrong last sequence|10071|key exists/.test(String((e as Error)?.message ?? e));

export async function getGlueDatabase(kv: KV, name: string): Promise<GlueDatabase | undefined> {
  return (await read<GlueDatabase>(kv, dbKey(name)))?.value;
}

export async function createGlueDatabase(kv: KV, db: Omit<GlueDatabase, 'CreateTimeMs'>): Promise<GlueDatabase> {
  const rec: GlueDatabase = { ...db, Name: db.Name.toLowerCase(), CreateTimeMs: Date.now() };
  try {
    await kv.create(dbKey(db.Name), JSON.stringify(rec));
  } catch (e) {
    if (wrongRevision(e)) throw new CatalogExistsError(`Database already exists.`);
    throw e;
  }
  return rec;
}

/** Deletes the database and its tables (as Glue does). */
export async function deleteGlueDatabase(kv: KV, name: string): Promise<void> {
  if (!(await getGlueDatabase(kv, name))) throw new CatalogNotFoundError(`Database ${name.toLowerCase()} not found.`);
  for (const k of await kvKeys(kv, `table.${seg(name)}.>`)) await kv.purge(k);
  await kv.purge(dbKey(name));
}

export async function getGlueTable(kv: KV, db: string, name: string): Promise<GlueTable | undefined> {
  return (await read<GlueTable>(kv, tableKey(db, name)))?.value;
}

export async function listGlueTables(kv: KV, db: string): Promise<GlueTable[]> {
  const out: GlueTable[] = [];
  for (const k of await kvKeys(kv, `table.${seg(db)}.>`)) {
    const r = await read<GlueTable>(kv, k);
    if (r) out.push(r.value);
  }
  return out.sort((a, b) => (a.Name < b.Name ? -1 : a.Name > b.Name ? 1 : 0));
}

/** Every table as `database.table` (lower case). */
export async function glueTableNames(kv: KV): Promise<Set<string>> {
  const out = new Set<string>();
  for (const k of await kvKeys(kv, 'table.>')) {
    const [, db, t] = k.split('.');
    if (db && t) out.add(`${Buffer.from(db, 'base64url').toString()}.${Buffer.from(t, 'base64url').toString()}`);
  }
  return out;
}

export async function createGlueTable(kv: KV, db: string, name: string, input: GlueTable['input']): Promise<GlueTable> {
  if (!(await getGlueDatabase(kv, db))) throw new CatalogNotFoundError(`Database ${db.toLowerCase()} not found.`);
  const now = Date.now();
  const rec: GlueTable = { DatabaseName: db.toLowerCase(), Name: name.toLowerCase(), input, VersionId: '0', CreateTimeMs: now, UpdateTimeMs: now };
  try {
    await kv.create(tableKey(db, name), JSON.stringify(rec));
  } catch (e) {
    if (wrongRevision(e)) throw new CatalogExistsError('Table already exists.');
    throw e;
  }
  return rec;
}

/** Replaces the table's definition; `expectedVersion` (UpdateTable's VersionId) must be the current one when given. */
export async function updateGlueTable(kv: KV, db: string, name: string, input: GlueTable['input'], expectedVersion?: string): Promise<GlueTable> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const cur = await read<GlueTable>(kv, tableKey(db, name));
    if (!cur) throw new CatalogNotFoundError(`Table ${name.toLowerCase()} not found.`);
    if (expectedVersion !== undefined && expectedVersion !== cur.value.VersionId) {
      throw new CatalogConflictError(`Table ${name.toLowerCase()} is at version ${cur.value.VersionId}, not ${expectedVersion}.`);
    }
    const next: GlueTable = { ...cur.value, input, VersionId: String(Number(cur.value.VersionId) + 1), UpdateTimeMs: Date.now() };
    try {
      await kv.update(tableKey(db, name), JSON.stringify(next), cur.revision);
      return next;
    } catch (e) {
      if (!wrongRevision(e)) throw e;
    }
  }
  throw new CatalogConflictError(`Table ${name.toLowerCase()} is being changed concurrently.`);
}

export async function deleteGlueTable(kv: KV, db: string, name: string): Promise<void> {
  if (!(await getGlueTable(kv, db, name))) throw new CatalogNotFoundError(`Table ${name.toLowerCase()} not found.`);
  await kv.purge(tableKey(db, name));
}
