// In-memory lease store: one process (tests, single-worker apps, or several
// Consumers in one process sharing it).
import type { LeaseStore, Versioned } from '../types.js';

export function memoryLeaseStore(): LeaseStore {
  const entries = new Map<string, Versioned<string>>();
  let revision = 0;
  const copy = (e: Versioned<string>): Versioned<unknown> => ({ value: JSON.parse(e.value), revision: e.revision });
  return {
    async list(prefix) {
      const out = new Map<string, Versioned<unknown>>();
      for (const [k, e] of entries) if (k.startsWith(prefix)) out.set(k, copy(e));
      return out;
    },
    async get(key) {
      const e = entries.get(key);
      return e && copy(e);
    },
    async put(key, value, expectedRevision) {
      const cur = entries.get(key);
      if ((cur?.revision ?? 0) !== expectedRevision) return undefined;
      entries.set(key, { value: JSON.stringify(value), revision: ++revision });
      return revision;
    },
    async delete(key, expectedRevision) {
      const cur = entries.get(key);
      if (!cur || cur.revision !== expectedRevision) return false;
      entries.delete(key);
      return true;
    },
  };
}
