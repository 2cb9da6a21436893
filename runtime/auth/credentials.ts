// Where access keys come from.
//
// Sources (merged; the file wins on a clash):
//   inline  SHARDLINE_CREDENTIALS="AKID1:secret1,AKID2:secret2"
//   file    --credentials-file PATH / SHARDLINE_CREDENTIALS_FILE=PATH, where PATH is
//     * a file of `ACCESS_KEY_ID:SECRET_ACCESS_KEY` entries, one a line (commas
//       or spaces also separate entries; `#` starts a comment line). A Secret
//       `stringData: {credentials: "AKID1:secret1\nAKID2:secret2"}` mounted at
//       /etc/shardline gives PATH=/etc/shardline/credentials; or
//     * a directory of files each named by an access key id and holding its
//       secret, i.e. a Secret whose keys are the ids, mounted whole. Dot files
//       (the kubelet's ..data links) are skipped.
//   The first `:` splits id from secret. Secrets may not contain whitespace or
//   commas (AWS-style secrets never do).
//
// Secrets rotate: the file (or directory) is stat'ed at most once a second
// and re-read when anything changed. The kubelet swaps a mounted Secret
// atomically, which changes the inode and mtime we look at. (A `subPath`
// mount is never updated by Kubernetes, so don't mount it that way.) A reload
// that fails keeps the last good keys and emits a process warning; a file
// that is missing or malformed at start-up throws.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { MountedSource } from '../../stream/secrets/mountedSource.js';
import { ENV } from '../../contract/env.js';

export interface CredentialStore {
  secretFor(accessKeyId: string): string | undefined;
  readonly enabled: boolean;
}

/** Parses `ID:SECRET` entries; throws on a malformed one, naming where it came from. */
export function parseCredentials(text: string, source: string): Map<string, string> {
  const keys = new Map<string, string>();
  const body = text
    .split(/\r?\n/)
    .filter((line) => !line.trimStart().startsWith('#'))
    .join('\n');
  for (const entry of body.split(/[\s,]+/)) {
    if (entry === '') continue;
    const colon = entry.indexOf(':');
    const id = colon > 0 ? entry.slice(0, colon) : '';
    const secret = colon > 0 ? entry.slice(colon + 1) : '';
    // Never echo the entry: it may be a secret missing its id.
    if (!id || !secret || id.includes('/')) {
      throw new Error(`${source}: malformed credential entry (want ACCESS_KEY_ID:SECRET_ACCESS_KEY)`);
    }
    keys.set(id, secret);
  }
  return keys;
}

function readDirectory(dir: string): Map<string, string> {
  const keys = new Map<string, string>();
  for (const name of readdirSync(dir).sort()) {
    if (name.startsWith('.')) continue;
    const path = join(dir, name);
    if (!statSync(path).isFile()) continue;
    const secret = readFileSync(path, 'utf8').trim();
    if (!secret || /\s/.test(secret) || name.includes(':')) {
      throw new Error(`${path}: want a file named by the access key id holding only its secret`);
    }
    keys.set(name, secret);
  }
  return keys;
}

function readSource(path: string): Map<string, string> {
  return statSync(path).isDirectory() ? readDirectory(path) : parseCredentials(readFileSync(path, 'utf8'), path);
}

export interface StoreOptions {
  file?: string;
  inline?: string;
  /** How often, at most, the file is stat'ed for changes. */
  checkIntervalMs?: number;
  now?: () => number;
}

class Store implements CredentialStore {
  readonly enabled: boolean;
  private keys: Map<string, string>;
  private readonly source?: MountedSource<Map<string, string>>;

  constructor(opts: StoreOptions) {
    this.enabled = opts.file !== undefined || opts.inline !== undefined;
    const inline = opts.inline !== undefined ? parseCredentials(opts.inline, ENV.credentials) : new Map<string, string>();
    this.keys = inline;
    if (opts.file !== undefined) {
      this.source = new MountedSource({
        path: opts.file,
        read: readSource,
        onLoad: (fromFile) => (this.keys = new Map([...inline, ...fromFile])),
        label: 'credentials',
        checkIntervalMs: opts.checkIntervalMs,
        now: opts.now,
      });
    }
  }

  secretFor(accessKeyId: string): string | undefined {
    this.source?.refresh();
    return this.keys.get(accessKeyId);
  }
}

/** Auth is enabled when either source is given, even if it holds no keys (then nothing is accepted). */
export function loadCredentialStore(opts: { file?: string; inline?: string }): CredentialStore {
  return new Store(opts);
}

/** The same, with the reload interval and clock exposed for tests. */
export function createCredentialStore(opts: StoreOptions): CredentialStore {
  return new Store(opts);
}

/** The store's options from the environment; a --credentials-file flag, when given, overrides the file. */
export function credentialOptionsFromEnv(
  env: NodeJS.ProcessEnv = process.env,
  credentialsFile?: string,
): { file?: string; inline?: string } {
  const file = credentialsFile ?? (env[ENV.credentialsFile] || undefined);
  const inline = env[ENV.credentials] || undefined;
  return { ...(file !== undefined && { file }), ...(inline !== undefined && { inline }) };
}
