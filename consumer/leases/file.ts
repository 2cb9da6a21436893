// A lease store in one JSON file, for workers on one host without NATS (for
// example against another Kinesis implementation). Compare-and-set holds
// across processes: every change takes an exclusive lock file, re-reads the
// file, and replaces it atomically (write to a temp file, rename).
import fs from 'node:fs/promises';
import type { LeaseStore, Versioned } from '../types.js';

interface FileState {
  revision: number;
  entries: Record<string, Versioned<unknown>>;
}

export function fileLeaseStore(path: string): LeaseStore {
  const lock = `${path}.lock`;
  const read = async (): Promise<FileState> => {
    try {
      return JSON.parse(await fs.readFile(path, 'utf8')) as FileState;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { revision: 0, entries: {} };
      throw e;
    }
  };
  const locked = async <T>(fn: (s: FileState) => T | Promise<T>, write: boolean): Promise<T> => {
    for (let i = 0; ; i++) {
      try {
        await fs.writeFile(lock, String(process.pid), { flag: 'wx' });
        break;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
        // A holder that died leaves the lock behind: break it once it is stale.
        const st = await fs.stat(lock).catch(() => undefined);
        if (st && Date.now() - st.mtimeMs > 5_000) await fs.rm(lock, { force: true });
        await new Promise((r) => setTimeout(r, 2 + Math.random() * 8));
      }
    }
    try {
      const s = await read();
      const out = await fn(s);
      if (write) {
        const tmp = `${path}.${process.pid}.tmp`;
        await fs.writeFile(tmp, JSON.stringify(s));
        await fs.rename(tmp, path);
      }
      return out;
    } finally {
      await fs.rm(lock, { force: true });
    }
  };
  return {
    async list(prefix) {
      const s = await read();
      return new Map(Object.entries(s.entries).filter(([k]) => k.startsWith(prefix)));
    },
    async get(key) {
      return (await read()).entries[key];
    },
    put(key, value, expectedRevision) {
      return locked((s) => {
        if ((s.entries[key]?.revision ?? 0) !== expectedRevision) return undefined;
        s.entries[key] = { value, revision: ++s.revision };
        return s.revision;
      }, true);
    },
    delete(key, expectedRevision) {
      return locked((s) => {
        if (s.entries[key]?.revision !== expectedRevision) return false;
        delete s.entries[key];
        return true;
      }, true);
    },
  };
}
