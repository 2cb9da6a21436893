// List+watch informer with an in-memory cache. Survives disconnects (re-watch
// from the last resourceVersion with backoff) and 410 Gone (relist, diffing
// the cache so deletions missed while away are still delivered). Watches are
// closed by the server after a random 5-10 minutes, as client-go does.
import { ApiError, type KubeClient, type KubeObject, type WatchHandle } from './client.js';
import type { ResourceType } from './resources.js';

export type InformerEvent = 'add' | 'update' | 'delete';
export type InformerHandler<T> = (event: InformerEvent, obj: T, old?: T) => void;

export interface InformerOptions {
  namespace?: string;
  labelSelector?: string;
  /** Server-side watch timeout range in seconds (default 300-600). */
  watchTimeoutSeconds?: [number, number];
  log?: (m: string) => void;
}

export const keyOf = (o: { metadata: { namespace?: string; name: string } }) =>
  o.metadata.namespace ? `${o.metadata.namespace}/${o.metadata.name}` : o.metadata.name;

export class Informer<T extends KubeObject = KubeObject> {
  private cache = new Map<string, T>();
  private handlers: InformerHandler<T>[] = [];
  private resourceVersion = '';
  private watchHandle?: WatchHandle;
  private stopped = false;
  private loop?: Promise<void>;
  private syncedResolve!: () => void;
  readonly synced = new Promise<void>((r) => (this.syncedResolve = r));
  /** Relists and watch restarts, for tests and metrics. */
  readonly stats = { lists: 0, watches: 0, errors: 0 };

  constructor(private readonly client: KubeClient, readonly type: ResourceType, private readonly opts: InformerOptions = {}) {}

  on(handler: InformerHandler<T>): void { this.handlers.push(handler); }

  get(key: string): T | undefined { return this.cache.get(key); }
  getByName(namespace: string | undefined, name: string): T | undefined {
    return this.cache.get(namespace ? `${namespace}/${name}` : name);
  }
  list(namespace?: string): T[] {
    const all = [...this.cache.values()];
    return namespace ? all.filter((o) => o.metadata.namespace === namespace) : all;
  }
  keys(): string[] { return [...this.cache.keys()]; }

  start(): void {
    if (!this.loop) this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.watchHandle?.stop();
    await this.loop;
  }

  private emit(event: InformerEvent, obj: T, old?: T) {
    for (const h of this.handlers) {
      try { h(event, obj, old); } catch (e) { this.opts.log?.(`informer handler failed: ${e}`); }
    }
  }

  private async relist(): Promise<void> {
    this.stats.lists++;
    const list = await this.client.list<T>(this.type, this.opts.namespace, { labelSelector: this.opts.labelSelector });
    const seen = new Set<string>();
    for (const item of list.items) {
      // Lists omit apiVersion/kind on items; put them back for consumers.
      const obj = { apiVersion: this.type.apiVersion, kind: this.type.kind, ...item } as T;
      const key = keyOf(obj);
      seen.add(key);
      const old = this.cache.get(key);
      this.cache.set(key, obj);
      if (!old) this.emit('add', obj);
      else if (old.metadata.resourceVersion !== obj.metadata.resourceVersion) this.emit('update', obj, old);
    }
    for (const [key, old] of this.cache) {
      if (!seen.has(key)) { this.cache.delete(key); this.emit('delete', old); }
    }
    this.resourceVersion = list.metadata.resourceVersion;
    this.syncedResolve();
  }

  private async run(): Promise<void> {
    let failures = 0;
    const [lo, hi] = this.opts.watchTimeoutSeconds ?? [300, 600];
    while (!this.stopped) {
      try {
        if (!this.resourceVersion) await this.relist();
        if (this.stopped) break;
        this.stats.watches++;
        let gone = false;
        this.watchHandle = await this.client.watch(this.type, this.opts.namespace, {
          resourceVersion: this.resourceVersion,
          timeoutSeconds: Math.round(lo + Math.random() * (hi - lo)),
          labelSelector: this.opts.labelSelector,
        }, (type, obj) => {
          if (type === 'ERROR') {
            if (obj?.code === 410) gone = true;
            return;
          }
          if (obj?.metadata?.resourceVersion) this.resourceVersion = obj.metadata.resourceVersion;
          if (type === 'BOOKMARK') return;
          const key = keyOf(obj);
          const old = this.cache.get(key);
          if (type === 'DELETED') {
            this.cache.delete(key);
            this.emit('delete', obj as T);
          } else {
            this.cache.set(key, obj as T);
            this.emit(old ? 'update' : 'add', obj as T, old);
          }
        });
        if (this.stopped) { this.watchHandle.stop(); break; }
        await this.watchHandle.done;
        if (gone) this.resourceVersion = '';
        failures = 0;
      } catch (e) {
        if (this.stopped) break;
        this.stats.errors++;
        if (e instanceof ApiError && e.statusCode === 410) this.resourceVersion = '';
        const delay = Math.min(10_000, 100 * 2 ** failures++);
        this.opts.log?.(`${this.type.plural} watch failed (retry in ${delay} ms): ${(e as Error).message}`);
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }
}
