// The encryption keys StartStreamEncryption names, standing in for AWS KMS.
// The operator supplies them from a Kubernetes Secret; every runtime (and every
// worker that reads shards) loads the same Secret, so any process can decrypt
// what another wrote.
//
// Sources (merged; the file wins on a clash):
//   inline  SHARDLINE_KMS_KEYS="id1:BASE64KEY,alias/orders:id1" (newlines or commas)
//   file    --kms-keys-file PATH / SHARDLINE_KMS_KEYS_FILE=PATH, where PATH is
//     * a file of entries, one a line (`#` starts a comment line):
//         <keyId>:<base64 of 32 random bytes> [enabled|disabled|pending-deletion]
//         alias/<name>:<keyId or key ARN>
//       <keyId> may also be written as a key ARN
//       (arn:aws:kms:<region>:<account>:key/<keyId>); only the id is kept. The
//       optional state makes the key answer like a disabled key or one pending
//       deletion in KMS (KMSDisabledException / KMSInvalidStateException). Or
//     * a directory (a Secret mounted whole): each file is either named by a key
//       id and holds only its base64 key, or holds entries as above. Dot files
//       (the kubelet's ..data links) are skipped.
//   Generate a key with `openssl rand -base64 32`.
//
// Two more sources live in JetStream (stream/storeKeys.ts attaches them):
//   * store-managed keys: the default key behind `alias/aws/kinesis`, created
//     once per installation, as every AWS account has an AWS-managed key;
//   * kept materials: every key material the file ever held, kept after the
//     Secret changes (a new value under the same id, or the id gone) so that
//     records sealed with it stay readable until none is stored any more.
// The file and inline entries win over store-managed ones on a clash.
//
// A stream's KeyId may be given as a key id, a key ARN, an alias name
// (alias/<name>) or an alias ARN (arn:aws:kms:<region>:<account>:alias/<name>).
// ARNs are matched by their key id or alias name whatever region/account they
// carry. Like the credentials file, the source is stat'ed at most once a second
// and re-read when it changed (Secret rotation); a reload that fails keeps the
// previous keys and warns. Without the kept materials (no store attached),
// removing a key makes data written with it unreadable (GetRecords answers
// KMSNotFoundException) until it is restored.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { KeyUnavailableError as KeyError } from './errors.js';
import { MountedSource } from './secrets/mountedSource.js';
import { ENV } from '../contract/env.js';

export type KeyState = 'Enabled' | 'Disabled' | 'PendingDeletion';

export interface DataKey {
  /** The key id, as written in each encrypted message's header. */
  id: string;
  /** 32 bytes: AES-256. */
  key: Buffer;
  state: KeyState;
}

/** A key cannot be used: the library's KeyUnavailableError (stream/errors.ts), under its older name. */
export { KeyUnavailableError as KeyError, type KmsErrorCode } from './errors.js';

interface Parsed {
  keys: Map<string, DataKey>;
  /** alias/<name> → key id. */
  aliases: Map<string, string>;
}

const ID_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
const ALIAS_RE = /^alias\/[A-Za-z0-9/_-]{1,250}$/;
const KEY_ARN_RE = /^arn:aws[a-z-]*:kms:[a-z0-9-]*:\d*:key\/(.+)$/;
const ALIAS_ARN_RE = /^arn:aws[a-z-]*:kms:[a-z0-9-]*:\d*:(alias\/.+)$/;
const STATES: Record<string, KeyState> = { enabled: 'Enabled', disabled: 'Disabled', 'pending-deletion': 'PendingDeletion' };

/** Key id from a bare id or key ARN; undefined when neither. */
function keyIdOf(ref: string): string | undefined {
  const m = KEY_ARN_RE.exec(ref);
  const id = m ? m[1]! : ref;
  return ID_RE.test(id) ? id : undefined;
}

function decodeKey(b64: string, where: string): Buffer {
  const key = Buffer.from(b64, 'base64');
  // Never echo the value: it is secret.
  if (key.length !== 32 || key.toString('base64').replace(/=+$/, '') !== b64.replace(/=+$/, '')) {
    throw new Error(`${where}: key material must be the base64 of exactly 32 bytes`);
  }
  return key;
}

/** Parses key and alias entries; throws naming the source and line, never the key. */
export function parseKeyEntries(text: string, source: string, into: Parsed = { keys: new Map(), aliases: new Map() }): Parsed {
  const aliasTargets: [string, string, string][] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const where = `${source}:${i + 1}`;
    if (line.startsWith('alias/')) {
      const colon = line.indexOf(':');
      const name = colon > 0 ? line.slice(0, colon) : '';
      const target = colon > 0 ? line.slice(colon + 1).trim() : '';
      if (!ALIAS_RE.test(name) || !target) throw new Error(`${where}: malformed alias entry (want alias/<name>:<keyId>)`);
      aliasTargets.push([name, target, where]);
      return;
    }
    const [entry, stateWord, ...extra] = line.split(/\s+/);
    const colon = entry!.lastIndexOf(':');
    const id = colon > 0 ? keyIdOf(entry!.slice(0, colon)) : undefined;
    const state = stateWord === undefined ? 'Enabled' : STATES[stateWord.toLowerCase()];
    if (!id || Buffer.byteLength(id) > 255 || !state || extra.length > 0) {
      throw new Error(`${where}: malformed key entry (want <keyId>:<base64 32-byte key> [enabled|disabled|pending-deletion])`);
    }
    into.keys.set(id, { id, key: decodeKey(entry!.slice(colon + 1), where), state });
  });
  for (const [name, target, where] of aliasTargets) {
    const id = keyIdOf(target);
    if (!id) throw new Error(`${where}: alias ${name} must name a key id or key ARN`);
    into.aliases.set(name, id);
  }
  return into;
}

function readSource(path: string, into: Parsed): void {
  if (!statSync(path).isDirectory()) {
    parseKeyEntries(readFileSync(path, 'utf8'), path, into);
    return;
  }
  for (const name of readdirSync(path).sort()) {
    if (name.startsWith('.')) continue;
    const file = join(path, name);
    if (!statSync(file).isFile()) continue;
    const text = readFileSync(file, 'utf8').trim();
    if (!text.includes(':') && !text.includes('\n')) {
      const id = keyIdOf(name);
      if (!id) throw new Error(`${file}: file name is not a valid key id`);
      into.keys.set(id, { id, key: decodeKey(text, file), state: 'Enabled' });
    } else {
      parseKeyEntries(text, file, into);
    }
  }
}

export interface KeyRingOptions {
  file?: string;
  inline?: string;
  /** For the ARNs in error messages. */
  region?: string;
  accountId?: string;
  checkIntervalMs?: number;
  now?: () => number;
}

/** Fingerprint of a key material under its id (names a kept material; never reveals it). */
export const keyFingerprint = (k: { id: string; key: Buffer }): string =>
  createHash('sha256').update(k.id).update('\0').update(k.key).digest('hex').slice(0, 32);

export class KeyRing {
  private parsed: Parsed = { keys: new Map(), aliases: new Map() };
  /** Store-managed keys and their aliases (alias/aws/kinesis), below the file's. */
  private managed: Parsed = { keys: new Map(), aliases: new Map() };
  /** Key id → materials kept from earlier loads, for decryption only. */
  private kept = new Map<string, Buffer[]>();
  /**
   * Key ids this ring has loaded from its own sources during its lifetime.
   * Kept materials are used for these, and for the key ids a stream being
   * read grants (decryptionKeys): a process decrypts with old material of a
   * key its Secret holds (or held) or of a key its stream used before, never
   * with another DataStream's keys that happen to be kept in the same store.
   */
  private seen = new Set<string>();
  private loadListeners = new Set<(keys: DataKey[]) => void>();
  private readonly inline: Parsed;
  /** KeyId as clients give it → key (or why not); cleared on reload. */
  private resolved = new Map<string, DataKey | KeyError>();
  private readonly source?: MountedSource<Parsed>;
  private readonly region: string;
  private readonly account: string;

  constructor(private readonly opts: KeyRingOptions = {}) {
    this.region = opts.region ?? 'us-east-1';
    this.account = opts.accountId ?? '000000000000';
    // Inline entries may also be separated by commas (one-line env values).
    this.inline = opts.inline
      ? parseKeyEntries(opts.inline.replace(/,/g, '\n'), ENV.kmsKeys)
      : { keys: new Map(), aliases: new Map() };
    this.parsed = this.inline;
    for (const id of this.inline.keys.keys()) this.seen.add(id);
    if (opts.file !== undefined) {
      const inline = this.inline;
      this.source = new MountedSource({
        path: opts.file,
        read: (path) => {
          const next: Parsed = { keys: new Map(inline.keys), aliases: new Map(inline.aliases) };
          readSource(path, next);
          return next;
        },
        onLoad: (next) => {
          this.parsed = next;
          this.resolved = new Map();
          for (const id of next.keys.keys()) this.seen.add(id);
          for (const l of this.loadListeners) l([...next.keys.values()]);
        },
        label: 'KMS keys',
        checkIntervalMs: opts.checkIntervalMs,
        now: opts.now,
      });
    }
  }

  /** Number of configured keys (0: StartStreamEncryption can never succeed). */
  get size(): number {
    this.source?.refresh();
    return this.parsed.keys.size + this.managed.keys.size;
  }

  /** The keys the file and inline entries hold now (what a store keeps a copy of). */
  configuredKeys(): DataKey[] {
    this.source?.refresh();
    return [...this.parsed.keys.values()];
  }

  /** True when this ring's own sources have held key `id` at some point. */
  hasLoaded(id: string): boolean {
    this.source?.refresh();
    return this.seen.has(id);
  }

  /** Called with the configured keys after each (re)load of the file; returns an unsubscribe. */
  onLoad(listener: (keys: DataKey[]) => void): () => void {
    this.loadListeners.add(listener);
    return () => this.loadListeners.delete(listener);
  }

  /** Adds a store-managed key, optionally under an alias (alias/aws/kinesis). */
  addManagedKey(key: DataKey, alias?: string): void {
    this.managed.keys.set(key.id, key);
    if (alias !== undefined) this.managed.aliases.set(alias, key.id);
    this.resolved = new Map();
  }

  /** Replaces the kept (retired or earlier) materials, for decryption only. */
  setKeptMaterials(materials: { id: string; key: Buffer }[]): void {
    const next = new Map<string, Buffer[]>();
    for (const m of materials) next.set(m.id, [...(next.get(m.id) ?? []), m.key]);
    this.kept = next;
  }

  keyArn(id: string): string {
    return `arn:aws:kms:${this.region}:${this.account}:key/${id}`;
  }

  /**
   * The usable key a stream's KeyId (id, key ARN, alias or alias ARN) names;
   * throws KeyError as KMS would answer (not found, disabled, pending deletion).
   */
  resolve(ref: string): DataKey {
    this.source?.refresh();
    let r = this.resolved.get(ref);
    if (r === undefined) {
      try {
        r = this.lookup(ref);
      } catch (e) {
        if (!(e instanceof KeyError)) throw e;
        r = e;
      }
      if (this.resolved.size > 10_000) this.resolved.clear();
      this.resolved.set(ref, r);
    }
    if (r instanceof KeyError) throw r;
    return r;
  }

  /** The key an encrypted message names, for decryption; throws KeyError. */
  forDecrypt(id: string): DataKey {
    return this.resolve(id);
  }

  /**
   * Every material that may have sealed a message naming `id`: the current
   * key first, then kept ones (the same id may have held other material
   * before a Secret change). Kept materials are used for ids this ring has
   * loaded, and for those in `granted` (the key ids of the stream being read,
   * when the reader may use them: streamEncryption.ts keptKeyGrant). Throws the current key's KeyError when it is
   * unusable (disabled, pending deletion), or KMSNotFoundException when
   * nothing is known for the id.
   */
  decryptionKeys(id: string, granted?: ReadonlySet<string>): DataKey[] {
    let current: DataKey | undefined;
    const kept = this.hasLoaded(id) || granted?.has(id) ? (this.kept.get(id) ?? []) : [];
    try {
      current = this.resolve(id);
    } catch (e) {
      if (!(e instanceof KeyError) || e.code !== 'KMSNotFoundException') throw e;
      if (kept.length === 0) throw e;
    }
    const out: DataKey[] = current ? [current] : [];
    for (const key of kept) {
      if (!current || !key.equals(current.key)) out.push({ id, key, state: 'Enabled' });
    }
    return out;
  }

  private lookup(ref: string): DataKey {
    const aliasArn = ALIAS_ARN_RE.exec(ref);
    const alias = aliasArn ? aliasArn[1]! : ref.startsWith('alias/') ? ref : undefined;
    let id: string | undefined;
    if (alias !== undefined) {
      id = this.parsed.aliases.get(alias) ?? this.managed.aliases.get(alias);
      if (id === undefined) throw new KeyError('KMSNotFoundException', `Alias arn:aws:kms:${this.region}:${this.account}:${alias} is not found.`);
    } else {
      id = keyIdOf(ref);
      if (id === undefined) throw new KeyError('KMSNotFoundException', `Invalid keyId '${ref}'`);
    }
    const key = this.parsed.keys.get(id) ?? this.managed.keys.get(id);
    if (!key) throw new KeyError('KMSNotFoundException', `Key '${this.keyArn(id)}' does not exist`);
    if (key.state === 'Disabled') throw new KeyError('KMSDisabledException', `${this.keyArn(id)} is disabled.`);
    if (key.state === 'PendingDeletion') throw new KeyError('KMSInvalidStateException', `${this.keyArn(id)} is pending deletion.`);
    return key;
  }

}

/** Keys from the environment (SHARDLINE_KMS_KEYS_FILE, SHARDLINE_KMS_KEYS), or from explicit sources. */
export function loadKeyRing(opts: KeyRingOptions = {}): KeyRing {
  return new KeyRing(opts);
}

let envRing: KeyRing | undefined;

/**
 * The process-wide key ring from the environment, for readers that are not
 * handed one (delivery and analytics workers mount the same Secret).
 */
export function defaultKeyRing(): KeyRing {
  envRing ??= new KeyRing({
    file: process.env[ENV.kmsKeysFile] || undefined,
    inline: process.env[ENV.kmsKeys] || undefined,
    region: process.env[ENV.region],
    accountId: process.env[ENV.accountId],
  });
  return envRing;
}
