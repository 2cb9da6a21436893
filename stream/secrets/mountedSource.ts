// A file or directory mounted from a Kubernetes Secret, re-read when it
// changes. The kubelet swaps a mounted Secret atomically (new inode and
// mtime); a `subPath` mount is never updated, so don't mount it that way.
// Shared by the SigV4 credentials and the encryption key ring.
import { readdirSync, statSync, type Stats } from 'node:fs';
import { join } from 'node:path';

const stamp = (s: Stats) => `${s.ino}:${s.size}:${s.mtimeMs}:${s.ctimeMs}`;

// What changes when the source is edited or swapped. For a directory that is
// the directory itself plus every entry (a file edited in place leaves the
// directory's own mtime alone). Dot files (the kubelet's ..data links) are skipped.
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

export interface MountedSourceOptions<T> {
  path: string;
  /** Parses the file or directory; throws when it is malformed. */
  read(path: string): T;
  /** Called with each successfully read value (the first one included). */
  onLoad(value: T): void;
  /** Names the source in warnings, e.g. "credentials". */
  label: string;
  /** How often, at most, the source is stat'ed for changes. */
  checkIntervalMs?: number;
  now?: () => number;
}

/**
 * Reads the source now (throwing if it is missing or malformed at start-up);
 * later `refresh()` calls re-read it at most once per interval when it
 * changed. A reload that fails keeps the last good value and warns once per
 * distinct failure.
 */
export class MountedSource<T> {
  private stamp = '';
  private checkedAt = 0;
  private lastFailure = '';
  private readonly interval: number;
  private readonly now: () => number;

  constructor(private readonly opts: MountedSourceOptions<T>) {
    this.interval = opts.checkIntervalMs ?? 1000;
    this.now = opts.now ?? Date.now;
    this.load();
  }

  private load(): void {
    const s = fingerprint(this.opts.path);
    this.opts.onLoad(this.opts.read(this.opts.path));
    this.stamp = s;
    this.checkedAt = this.now();
  }

  refresh(): void {
    if (this.now() - this.checkedAt < this.interval) return;
    this.checkedAt = this.now();
    try {
      if (fingerprint(this.opts.path) !== this.stamp) this.load();
      this.lastFailure = '';
    } catch (err) {
      const failure = (err as Error).message;
      if (failure !== this.lastFailure) {
        process.emitWarning(`${this.opts.label} reload from ${this.opts.path} failed, keeping previous keys: ${failure}`);
      }
      this.lastFailure = failure;
    }
  }
}
