// Leases and checkpoints in a JetStream KV bucket: every change is a
// compare-and-set on the key's revision (KV update/create), so two workers can
// never both believe they won a lease. History 1: the entry is the state.
import type { KV } from 'nats';
import type { Store } from '../../stream/connect.js';
import type { LeaseStore, Versioned } from '../types.js';
import { kvEntries } from '../../stream/kvKeys.js';

export const LEASES_BUCKET = 'shardline_leases';

function isConflict(e: unknown): boolean {
  const m = String((e as Error)?.message ?? e);
  // wrong last sequence (10071) on update, key exists on create
  return m.includes('wrong last sequence') || m.includes('10071') || m.includes('key exists');
}

export function kvLeaseStore(store: Store, opts: { bucket?: string } = {}): LeaseStore {
  let bucket: Promise<KV> | undefined;
  const kv = () => (bucket ??= store.js.views.kv(opts.bucket ?? LEASES_BUCKET, { history: 1, replicas: store.replicas }));
  const decode = (value: Uint8Array): unknown => JSON.parse(Buffer.from(value).toString('utf8'));
  const get = async (key: string): Promise<Versioned<unknown> | undefined> => {
    const e = await (await kv()).get(key);
    if (!e || e.operation !== 'PUT' || e.length === 0) return undefined;
    return { value: decode(e.value), revision: e.revision };
  };
  return {
    async list(prefix) {
      const out = new Map<string, Versioned<unknown>>();
      for (const e of await kvEntries(await kv(), `${prefix}>`)) out.set(e.key, { value: decode(e.value), revision: e.revision });
      return out;
    },
    get,
    async put(key, value, expectedRevision) {
      const b = await kv();
      const data = JSON.stringify(value);
      try {
        if (expectedRevision !== 0) return await b.update(key, data, expectedRevision);
        // create() also succeeds over a deleted key, as wanted.
        return await b.create(key, data);
      } catch (e) {
        if (isConflict(e)) return undefined;
        throw e;
      }
    },
    async delete(key, expectedRevision) {
      try {
        await (await kv()).delete(key, { previousSeq: expectedRevision });
        return true;
      } catch (e) {
        if (isConflict(e)) return false;
        throw e;
      }
    },
  };
}
