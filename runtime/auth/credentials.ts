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
import { readdirSync, readFileSync, statSync, type Stats } from 'node:fs';
import { join } from 'node:path';

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

const stamp = (s: Stats) => `${s.ino}:${s.size}:${s.mtimeMs}:${s.ctimeMs}`;

// What changes when the source is edited or swapped. For a directory that is
// the directory itself plus every entry (a file edited in place leaves the
// directory's own mtime alone).
function fingerprint(path: string): string {
  const top = statSync(path);
  if (!top.isDirectory()) return stamp(top);
  const parts = [stamp(top)];
  for (const name of readdirSync(path).sort()) {
    if (name.startsWith('.')) continue;
    try {
      parts.push(`${name}=${stamp(statSync(join(path, name)))}`);
    } catch {
      parts.push(`${name}=gone`);
    }
  }
  return parts.join('|');
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
  private readonly inline: Map<string, string>;
  private keys: Map<string, string>;
  private stamp = '';
  private checkedAt = 0;
  private lastFailure = '';
  private readonly interval: number;
  private readonly now: () => number;

  constructor(private readonly opts: StoreOptions) {
    this.enabled = opts.file !== undefined || opts.inline !== undefined;
    this.interval = opts.checkIntervalMs ?? 1000;
    this.now = opts.now ?? Date.now;
    this.inline = opts.inline !== undefined ? parseCredentials(opts.inline, 'SHARDLINE_CREDENTIALS') : new Map();
    this.keys = this.inline;
    if (opts.file !== undefined) this.load(opts.file);
  }

  secretFor(accessKeyId: string): string | undefined {
    this.refresh();
    return this.keys.get(accessKeyId);
  }

  private load(file: string): void {
    const stamp = fingerprint(file);
    this.keys = new Map([...this.inline, ...readSource(file)]);
    this.stamp = stamp;
    this.checkedAt = this.now();
  }

  private refresh(): void {
    const file = this.opts.file;
    if (file === undefined || this.now() - this.checkedAt < this.interval) return;
    this.checkedAt = this.now();
    try {
      if (fingerprint(file) !== this.stamp) this.load(file);
      this.lastFailure = '';
    } catch (err) {
      // Mid-rotation or broken: keep serving the keys we had; warn once per distinct failure.
      const failure = (err as Error).message;
      if (failure !== this.lastFailure) {
        process.emitWarning(`credentials reload from ${file} failed, keeping previous keys: ${failure}`);
      }
      this.lastFailure = failure;
    }
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
  const file = credentialsFile ?? (env.SHARDLINE_CREDENTIALS_FILE || undefined);
  const inline = env.SHARDLINE_CREDENTIALS || undefined;
  return { ...(file !== undefined && { file }), ...(inline !== undefined && { inline }) };
}
