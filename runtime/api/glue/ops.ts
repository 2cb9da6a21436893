// The subset of the AWS Glue Data Catalog API (AWSGlue.<Op>, JSON 1.1) that
// Firehose users need for record format conversion: databases and tables,
// stored in the shardline_glue_catalog KV bucket (stream/glueCatalog.ts).
// Errors carry Glue's names: EntityNotFoundException, AlreadyExistsException,
// InvalidInputException, ConcurrentModificationException.
import type { KV } from 'nats';
import {
  CatalogConflictError, CatalogExistsError, CatalogNotFoundError, createGlueDatabase, createGlueTable, deleteGlueDatabase, deleteGlueTable,
  getGlueDatabase, getGlueTable, glueCatalogKv, listGlueTables, updateGlueTable, type GlueDatabase, type GlueTable,
} from '../../../stream/glueCatalog.js';
import { HiveTypeError, parseColumns } from '../../../stream/delivery/hiveType.js';
import type { ApiContext, Params } from '../context.js';
import { KinesisError } from '../errors.js';

const invalidInput = (m: string) => new KinesisError('InvalidInputException', m);

const kvs = new WeakMap<object, Promise<KV>>();
function kv(ctx: ApiContext): Promise<KV> {
  let k = kvs.get(ctx.store);
  if (!k) kvs.set(ctx.store, (k = glueCatalogKv(ctx.store)));
  return k;
}

/** Glue's name rule (single-line string, 1–255), checked on the members that name entities. */
function name(v: unknown, member: string): string {
  if (typeof v !== 'string' || v.length < 1 || v.length > 255 || /[\n\r\t]/.test(v)) {
    throw invalidInput(`${member} must be a single-line string of 1 to 255 characters.`);
  }
  return v;
}

function catalogId(ctx: ApiContext, p: Params) {
  if (p.CatalogId !== undefined && p.CatalogId !== ctx.config.accountId) throw new KinesisError('EntityNotFoundException', `Catalog ${String(p.CatalogId)} not found.`);
  return ctx.config.accountId;
}

/** The catalog's errors as Glue names them. */
async function glue<T>(f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    if (e instanceof CatalogNotFoundError) throw new KinesisError('EntityNotFoundException', e.message);
    if (e instanceof CatalogExistsError) throw new KinesisError('AlreadyExistsException', e.message);
    if (e instanceof CatalogConflictError) throw new KinesisError('ConcurrentModificationException', e.message);
    throw e;
  }
}

/** TableInput checked: a Name, and StorageDescriptor.Columns with Hive types the Parquet writer understands. */
function tableInput(p: Params): { name: string; input: GlueTable['input'] } {
  const t = p.TableInput as Params | undefined;
  if (!t || typeof t !== 'object') throw invalidInput('TableInput is required.');
  const n = name(t.Name, 'TableInput.Name');
  const columns = t.StorageDescriptor?.Columns as { Name?: unknown; Type?: unknown }[] | undefined;
  if (columns !== undefined) {
    if (!Array.isArray(columns)) throw invalidInput('StorageDescriptor.Columns must be a list.');
    for (const c of columns) name(c?.Name, 'Column.Name');
    try {
      // A type Firehose could not write is refused here rather than failing every record later.
      const typed = columns.filter((c) => c.Type !== undefined).map((c) => ({ Name: String(c.Name), Type: String(c.Type) }));
      if (typed.length) parseColumns(typed);
    } catch (e) {
      if (e instanceof HiveTypeError) throw invalidInput(e.message);
      throw e;
    }
  }
  const { Name: _name, ...rest } = t;
  return { name: n, input: rest };
}

const seconds = (ms: number) => ms / 1000;

function databaseOut(ctx: ApiContext, d: GlueDatabase) {
  return { Name: d.Name, Description: d.Description, LocationUri: d.LocationUri, Parameters: d.Parameters ?? {}, CreateTime: seconds(d.CreateTimeMs), CatalogId: ctx.config.accountId };
}

function tableOut(ctx: ApiContext, t: GlueTable) {
  return {
    ...t.input, Name: t.Name, DatabaseName: t.DatabaseName, CreateTime: seconds(t.CreateTimeMs), UpdateTime: seconds(t.UpdateTimeMs),
    VersionId: t.VersionId, CatalogId: ctx.config.accountId, IsRegisteredWithLakeFormation: false,
  };
}

type Op = (ctx: ApiContext, p: Params) => Promise<Record<string, unknown>>;

export const GLUE_OPERATIONS: Record<string, Op> = {
  async CreateDatabase(ctx, p) {
    catalogId(ctx, p);
    const d = p.DatabaseInput as Params | undefined;
    if (!d || typeof d !== 'object') throw invalidInput('DatabaseInput is required.');
    const n = name(d.Name, 'DatabaseInput.Name');
    await glue(async () => createGlueDatabase(await kv(ctx), { Name: n, Description: d.Description, LocationUri: d.LocationUri, Parameters: d.Parameters }));
    return {};
  },
  async GetDatabase(ctx, p) {
    catalogId(ctx, p);
    const n = name(p.Name, 'Name');
    const d = await getGlueDatabase(await kv(ctx), n);
    if (!d) throw new KinesisError('EntityNotFoundException', `Database ${n.toLowerCase()} not found.`);
    return { Database: databaseOut(ctx, d) };
  },
  async DeleteDatabase(ctx, p) {
    catalogId(ctx, p);
    const n = name(p.Name, 'Name');
    await glue(async () => deleteGlueDatabase(await kv(ctx), n));
    return {};
  },
  async CreateTable(ctx, p) {
    catalogId(ctx, p);
    const db = name(p.DatabaseName, 'DatabaseName');
    const t = tableInput(p);
    await glue(async () => createGlueTable(await kv(ctx), db, t.name, t.input));
    return {};
  },
  async GetTable(ctx, p) {
    catalogId(ctx, p);
    const db = name(p.DatabaseName, 'DatabaseName');
    const n = name(p.Name, 'Name');
    const k = await kv(ctx);
    if (!(await getGlueDatabase(k, db))) throw new KinesisError('EntityNotFoundException', `Database ${db.toLowerCase()} not found.`);
    const t = await getGlueTable(k, db, n);
    if (!t) throw new KinesisError('EntityNotFoundException', `Table ${n.toLowerCase()} not found.`);
    return { Table: tableOut(ctx, t) };
  },
  async GetTables(ctx, p) {
    catalogId(ctx, p);
    const db = name(p.DatabaseName, 'DatabaseName');
    const k = await kv(ctx);
    if (!(await getGlueDatabase(k, db))) throw new KinesisError('EntityNotFoundException', `Database ${db.toLowerCase()} not found.`);
    let match: RegExp | undefined;
    if (p.Expression !== undefined) {
      try {
        match = new RegExp(`^(?:${String(p.Expression)})$`, 'i');
      } catch {
        throw invalidInput(`Expression ${String(p.Expression)} is not a valid regular expression.`);
      }
    }
    const max = p.MaxResults === undefined ? 100 : Number(p.MaxResults);
    if (!Number.isInteger(max) || max < 1 || max > 100) throw invalidInput('MaxResults must be between 1 and 100.');
    const all = (await listGlueTables(k, db)).filter((t) => !match || match.test(t.Name));
    // NextToken: the name of the last table returned (names sort; a table created meanwhile is not skipped).
    const after = p.NextToken === undefined ? undefined : Buffer.from(String(p.NextToken), 'base64url').toString();
    const rest = after === undefined ? all : all.filter((t) => t.Name > after);
    const page = rest.slice(0, max);
    return { TableList: page.map((t) => tableOut(ctx, t)), ...(rest.length > max ? { NextToken: Buffer.from(page[page.length - 1]!.Name).toString('base64url') } : {}) };
  },
  async UpdateTable(ctx, p) {
    catalogId(ctx, p);
    const db = name(p.DatabaseName, 'DatabaseName');
    const t = tableInput(p);
    const k = await kv(ctx);
    if (!(await getGlueDatabase(k, db))) throw new KinesisError('EntityNotFoundException', `Database ${db.toLowerCase()} not found.`);
    await glue(async () => updateGlueTable(k, db, t.name, t.input, p.VersionId === undefined ? undefined : String(p.VersionId)));
    return {};
  },
  async DeleteTable(ctx, p) {
    catalogId(ctx, p);
    const db = name(p.DatabaseName, 'DatabaseName');
    const n = name(p.Name, 'Name');
    const k = await kv(ctx);
    if (!(await getGlueDatabase(k, db))) throw new KinesisError('EntityNotFoundException', `Database ${db.toLowerCase()} not found.`);
    await glue(async () => deleteGlueTable(k, db, n));
    return {};
  },
};
