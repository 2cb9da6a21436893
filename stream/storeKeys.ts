// Encryption keys kept in JetStream (KV bucket `shardline_keys`), next to the
// key ring's Secret-supplied keys (stream/keyring.ts):
//
//   managed.default   the store-managed default key behind `alias/aws/kinesis`
//                     (every AWS account has an AWS-managed key under that
//                     alias): 32 random bytes and a key id, created once by the
//                     first process (kv.create: first writer wins), never
//                     changed, never retired.
//   kept.<fingerprint> a copy of every key material a process loaded from its
//                     Secret. When the Secret changes (new material under the
//                     same id, or the id gone) records sealed with the old
//                     material stay readable: a reader tries the kept
//                     materials of the id a message names, if its own Secret
//                     holds or held that id (keyring.ts), or if the id is one
//                     the stream being read has sealed with and the reader
//                     holds another of that stream's keys (a DataStream moved
//                     to another key Secret; streamEncryption.ts keptKeyGrant). A material no process holds
//                     any more is marked retired, and deleted once no stored
//                     record can need it (every shard's oldest message arrived
//                     after the retirement plus a margin for processes still
//                     reading the old Secret). A process retires only
//                     materials of key ids it has itself loaded, or that a
//                     stream whose key it holds sealed with before (the old
//                     key of a DataStream moved to another Secret): runtimes
//                     of other DataStreams mount other Secrets, and their keys
//                     are not this process's to retire.
//
// A material is kept before the first message is sealed with it
// (`ensureKept`), so a crash cannot leave records nobody can open.
// Trade-off: key material in the KV bucket is readable by anyone who can read
// JetStream; protect NATS (auth, TLS, encrypted disks) as the data itself.
import { randomBytes, randomUUID } from 'node:crypto';
import type { KV } from 'nats';
import type { Store } from './connect.js';
import { defaultKeyRing, keyFingerprint, type DataKey, type KeyRing } from './keyring.js';
import { jsStreamName } from './names.js';
import { getStream, listStreamNames } from './streams.js';
import { kvKeys } from './kvKeys.js';
import { firstWriterValue } from './kvFirstWriter.js';

export const KEYS_BUCKET = 'shardline_keys';
export const DEFAULT_KEY_ALIAS = 'alias/aws/kinesis';
const DEFAULT_ENTRY = 'managed.default';
const KEPT_PREFIX = 'kept.';
/** How long after retirement a process may still seal with old material (kubelet Secret sync is ~1 min). */
export const RETIRE_MARGIN_MS = 15 * 60_000;

interface KeptEntry {
  id: string;
  /** base64 of the 32-byte material. */
  key: string;
  firstSeenMs: number;
  retiredAtMs?: number;
}

/** Which rings already have a store's keys attached (one attachment per ring and store). */
const attached = new WeakMap<Store, WeakMap<KeyRing, Promise<StoreKeys>>>();

/**
 * The ring a library reader decrypts with (`keys`, or the process's
 * environment ring), with the store's default key and kept materials
 * attached once: delivery, analytics and client-library readers open what
 * the runtime sealed without wiring anything themselves.
 */
export async function readerKeys(store: Store, keys?: KeyRing): Promise<KeyRing> {
  return (await writerKeys(store, keys)).ring;
}

/**
 * The same once-attached ring with its StoreKeys, for a library writer that
 * seals records itself (the analytics worker's emit): it keeps a material
 * (`ensureKept`) before sealing the first message with it, as the runtime's
 * write path does.
 */
export async function writerKeys(store: Store, keys?: KeyRing): Promise<{ ring: KeyRing; storeKeys: StoreKeys }> {
  const ring = keys ?? defaultKeyRing();
  let byRing = attached.get(store);
  if (!byRing) attached.set(store, (byRing = new WeakMap()));
  let p = byRing.get(ring);
  if (!p) {
    p = StoreKeys.attach(store, ring);
    byRing.set(ring, p);
    p.catch(() => byRing!.delete(ring)); // try again on the next read
  }
  return { ring, storeKeys: await p };
}

export async function keysBucket(store: Store): Promise<KV> {
  return store.js.views.kv(KEYS_BUCKET, { history: 1, replicas: store.replicas });
}

/** The installation's default key, created by whichever process asks first (see kvFirstWriter.ts). */
export async function ensureDefaultKey(kv: KV, timeoutMs?: number): Promise<DataKey> {
  const e = await firstWriterValue(kv, DEFAULT_ENTRY, () => JSON.stringify({ id: randomUUID(), key: randomBytes(32).toString('base64'), createdAtMs: Date.now() }),
    `the default encryption key (${KEYS_BUCKET} ${DEFAULT_ENTRY})`, timeoutMs);
  const v = e.json<{ id: string; key: string }>();
  return { id: v.id, key: Buffer.from(v.key, 'base64'), state: 'Enabled' } satisfies DataKey;
}

/** True when some shard still stores a message that arrived at or before `t`. */
async function storedAtOrBefore(store: Store, t: number): Promise<boolean> {
  for (const name of await listStreamNames(store)) {
    const rec = await getStream(store, name);
    if (!rec) continue;
    for (const shard of rec.shards) {
      const info = await store.jsm.streams.info(jsStreamName(rec.uid, shard.index)).catch(() => undefined);
      if (!info || info.state.messages === 0) continue;
      const first = Date.parse(info.state.first_ts);
      if (!Number.isFinite(first) || first <= t) return true;
    }
  }
  return false;
}

export interface SweepResult {
  retired: number;
  restored: number;
  deleted: number;
}

/** A process's view of the kept keys: feeds the ring, keeps what it loads, retires what it dropped. */
export class StoreKeys {
  private kept = new Map<string, Promise<void>>();
  private watcher?: { stop(): void };
  private stopped = false;
  private unsubscribe?: () => void;

  private constructor(
    private readonly store: Store,
    private readonly ring: KeyRing,
    private readonly kv: KV,
    readonly defaultKey: DataKey,
    private readonly log: (m: string) => void,
  ) {}

  /**
   * Adds the default key (alias/aws/kinesis) and every kept material to
   * `ring`, keeps the ring's configured keys (now and after each reload), and
   * follows the bucket so materials kept by other processes are known here.
   */
  static async attach(store: Store, ring: KeyRing, log: (m: string) => void = () => undefined): Promise<StoreKeys> {
    const kv = await keysBucket(store);
    const defaultKey = await ensureDefaultKey(kv);
    if (store.nc.isClosed()) throw new Error('NATS connection closed');
    ring.addManagedKey(defaultKey, DEFAULT_KEY_ALIAS);
    const sk = new StoreKeys(store, ring, kv, defaultKey, log);
    await sk.reload();
    await Promise.all(ring.configuredKeys().map((k) => sk.ensureKept(k)));
    sk.unsubscribe = ring.onLoad((keys) => {
      for (const k of keys) sk.ensureKept(k).catch((e) => log(`keeping key ${k.id}: ${(e as Error).message}`));
    });
    await sk.follow();
    return sk;
  }

  /** Resolves once `key`'s material is stored in the bucket (at most one write per material and process). */
  ensureKept(key: DataKey): Promise<void> {
    if (key.id === this.defaultKey.id && key.key.equals(this.defaultKey.key)) return Promise.resolve();
    const fp = keyFingerprint(key);
    let p = this.kept.get(fp);
    if (!p) {
      const entry: KeptEntry = { id: key.id, key: key.key.toString('base64'), firstSeenMs: Date.now() };
      p = this.kv.create(KEPT_PREFIX + fp, JSON.stringify(entry)).then(
        () => undefined,
        async (e) => {
          // Already kept (by this or another process): fine. Anything else: try again next time.
          if ((await this.kv.get(KEPT_PREFIX + fp))?.operation === 'PUT') return;
          this.kept.delete(fp);
          throw e;
        },
      );
      this.kept.set(fp, p);
    }
    return p;
  }

  private async entries(): Promise<{ fp: string; entry: KeptEntry; revision: number }[]> {
    const out: { fp: string; entry: KeptEntry; revision: number }[] = [];
    for (const k of await kvKeys(this.kv, `${KEPT_PREFIX}>`)) {
      const e = await this.kv.get(k);
      if (!e || e.operation !== 'PUT' || e.length === 0) continue;
      out.push({ fp: k.slice(KEPT_PREFIX.length), entry: e.json<KeptEntry>(), revision: e.revision });
    }
    return out;
  }

  /** Re-reads every kept material into the ring. */
  async reload(): Promise<void> {
    const all = await this.entries();
    this.ring.setKeptMaterials(all.map(({ entry }) => ({ id: entry.id, key: Buffer.from(entry.key, 'base64') })));
  }

  private async follow(): Promise<void> {
    const w = await this.kv.watch({ key: `${KEPT_PREFIX}>`, include: 'updates' as never });
    this.watcher = w;
    (async () => {
      for await (const _ of w) {
        if (this.stopped) return;
        await this.reload().catch((e) => this.log(`kept keys reload: ${(e as Error).message}`));
      }
    })().catch(() => undefined);
  }

  /**
   * One retirement pass: a kept material this process no longer loads is
   * marked retired (once); one it loads again is restored; a retired one is
   * deleted when no stored record can have been sealed with it.
   */
  async sweep(now = Date.now()): Promise<SweepResult> {
    const configured = this.ring.configuredKeys();
    const current = new Set(configured.map(keyFingerprint));
    const result: SweepResult = { retired: 0, restored: 0, deleted: 0 };
    const all = await this.entries();
    // A current material whose entry is gone (deleted by a sweep that could not
    // know this process still uses it) is kept again.
    const present = new Set(all.map((x) => x.fp));
    for (const k of configured) {
      const fp = keyFingerprint(k);
      if (present.has(fp)) continue;
      this.kept.delete(fp);
      await this.ensureKept(k).catch((e) => this.log(`keeping key ${k.id}: ${(e as Error).message}`));
    }
    const adopted = await this.adoptedKeyIds();
    for (const { fp, entry, revision } of all) {
      const key = KEPT_PREFIX + fp;
      try {
        if (!current.has(fp) && !this.ring.hasLoaded(entry.id) && !adopted.has(entry.id)) continue; // another Secret's key
        if (current.has(fp)) {
          if (entry.retiredAtMs === undefined) continue;
          const { retiredAtMs: _, ...rest } = entry;
          await this.kv.update(key, JSON.stringify(rest), revision);
          result.restored++;
        } else if (entry.retiredAtMs === undefined) {
          await this.kv.update(key, JSON.stringify({ ...entry, retiredAtMs: now }), revision);
          result.retired++;
        } else if (now >= entry.retiredAtMs + RETIRE_MARGIN_MS && !(await storedAtOrBefore(this.store, entry.retiredAtMs + RETIRE_MARGIN_MS))) {
          await this.kv.delete(key, { previousSeq: revision });
          this.kept.delete(fp);
          result.deleted++;
        }
      } catch (e) {
        // Lost a compare-and-set to another process's sweep: its change stands.
        this.log(`kept key ${entry.id} (${fp}) sweep: ${(e as Error).message}`);
      }
    }
    return result;
  }

  /**
   * Earlier key ids of the streams whose current or earlier key this process
   * holds: after a DataStream moves to another key Secret no process loads
   * the old id any more, so the new key's holders retire its materials.
   */
  private async adoptedKeyIds(): Promise<Set<string>> {
    const out = new Set<string>();
    for (const name of await listStreamNames(this.store)) {
      const rec = await getStream(this.store, name);
      if (!rec?.keyHistory) continue;
      const ids = [...rec.keyHistory.map((h) => h.keyId), ...(rec.encryption.keyId ? [rec.encryption.keyId] : [])];
      if (!ids.some((id) => this.ring.hasLoaded(id))) continue;
      for (const id of ids) if (!this.ring.hasLoaded(id)) out.add(id);
    }
    return out;
  }

  stop(): void {
    this.stopped = true;
    this.unsubscribe?.();
    this.watcher?.stop();
  }
}

/** Attaches the store's keys to `ring` (StoreKeys.attach), registered so library readers on the same ring reuse it. */
export async function attachStoreKeys(store: Store, ring: KeyRing, log: (m: string) => void = () => undefined): Promise<StoreKeys> {
  let byRing = attached.get(store);
  if (!byRing) attached.set(store, (byRing = new WeakMap()));
  const p = StoreKeys.attach(store, ring, log);
  byRing.set(ring, p);
  return p;
}

/** Runs `sweep` every `everyMs` (default 10 minutes); returns the stop function. */
export function startKeyJanitor(keys: StoreKeys, log: (m: string) => void, everyMs = 10 * 60_000): () => void {
  const t = setInterval(() => {
    keys.sweep().catch((e) => log(`kept keys sweep: ${(e as Error).message}`));
  }, everyMs);
  t.unref();
  return () => clearInterval(t);
}
