// Analytics application records (Kinesis Data Analytics applications and
// AnalyticsApp resources alike), one JSON value per application in a JetStream
// KV bucket; revisions give compare-and-set, as for stream records.
import type { KV } from 'nats';
import type { Store } from './connect.js';
import { kvKeys } from './kvKeys.js';

export const APPLICATIONS_BUCKET = 'shardline_applications';
const PREFIX = 'app.';

export type ApplicationStatus = 'DELETING' | 'STARTING' | 'STOPPING' | 'READY' | 'RUNNING' | 'UPDATING';

/** The stored application: the definition (contract/analytics.ts) plus what the API reports about it. */
export interface ApplicationRecord<D = unknown> {
  name: string;
  arn: string;
  description?: string;
  status: ApplicationStatus;
  versionId: number;
  createdAtMs: number;
  updatedAtMs: number;
  definition: D;
  tags: Record<string, string>;
  /** Set by StartApplication: where each input starts (input id → NOW | TRIM_HORIZON | LAST_STOPPED_POINT). */
  startingPositions?: Record<string, string>;
  /**
   * The run StartApplication began: a new id whenever it starts afresh (NOW or TRIM_HORIZON), kept for
   * LAST_STOPPED_POINT and across UpdateApplication. Workers key per-shard state, message ids and the input's
   * consumer group on it, so a fresh start never resumes an earlier run. Absent: never started (or started
   * before run ids existed), and AnalyticsApp resources.
   */
  runId?: string;
  /** When StartApplication began the run: where a run from NOW starts reading (the replicas' shard workers join later). */
  runStartedAtMs?: number;
  /** Where it came from: the API, or an AnalyticsApp resource (namespace/name). */
  owner?: string;
  /** The last reason the worker could not run it (bad reference data, missing stream). */
  lastError?: string;
}

export class ApplicationConflictError extends Error {}

const key = (name: string) => PREFIX + Buffer.from(name).toString('base64url');

export const applicationsKv = (store: Store): Promise<KV> =>
  store.js.views.kv(APPLICATIONS_BUCKET, { history: 1, replicas: store.replicas });

export async function readApplication<D>(kv: KV, name: string): Promise<{ record: ApplicationRecord<D>; revision: number } | undefined> {
  const e = await kv.get(key(name));
  if (!e || e.operation !== 'PUT' || e.length === 0) return undefined;
  return { record: e.json<ApplicationRecord<D>>(), revision: e.revision };
}

/** Creates the record; false when one by that name exists. */
export async function createApplication(kv: KV, rec: ApplicationRecord): Promise<boolean> {
  try {
    await kv.create(key(rec.name), JSON.stringify(rec));
    return true;
  } catch (e) {
    if (isWrongRevision(e)) return false;
    throw e;
  }
}

/**
 * Compare-and-set from the record as read at `revision`: an ApplicationConflictError
 * when another writer got there first (the API answers ConcurrentModificationException).
 */
export async function writeApplication(kv: KV, rec: ApplicationRecord, revision: number): Promise<number> {
  try {
    return await kv.update(key(rec.name), JSON.stringify(rec), revision);
  } catch (e) {
    if (isWrongRevision(e)) throw new ApplicationConflictError(rec.name);
    throw e;
  }
}

/** Applies `change` with compare-and-set, rereading on conflict; undefined from `change` leaves it be. */
export async function updateApplication<D>(kv: KV, name: string, change: (r: ApplicationRecord<D>) => ApplicationRecord<D> | undefined): Promise<ApplicationRecord<D> | undefined> {
  for (let i = 0; i < 20; i++) {
    const cur = await readApplication<D>(kv, name);
    if (!cur) return undefined;
    const next = change(structuredClone(cur.record));
    if (!next) return cur.record;
    try {
      await writeApplication(kv, next as ApplicationRecord, cur.revision);
      return next;
    } catch (e) {
      if (!(e instanceof ApplicationConflictError)) throw e;
    }
  }
  throw new ApplicationConflictError(name);
}

export async function deleteApplicationRecord(kv: KV, name: string): Promise<void> {
  await kv.purge(key(name));
}

export async function listApplications<D>(kv: KV): Promise<ApplicationRecord<D>[]> {
  const keys = await kvKeys(kv, `${PREFIX}>`);
  const out: ApplicationRecord<D>[] = [];
  for (const k of keys) {
    const r = await readApplication<D>(kv, Buffer.from(k.slice(PREFIX.length), 'base64url').toString());
    if (r) out.push(r.record);
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

function isWrongRevision(e: unknown): boolean {
  const m = String((e as Error)?.message ?? e);
  return m.includes('wrong last sequence') || m.includes('10071') || m.includes('key exists');
}
