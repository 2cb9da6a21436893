// A small typed REST client over client-node's KubeConfig (which handles
// kubeconfig files, in-cluster config, tokens and TLS). We talk HTTP ourselves
// so that every write is visible (counted for the zero-writes-on-resync
// guarantee) and watches have the timeouts we choose.
import https from 'node:https';
import http from 'node:http';
import { createInterface } from 'node:readline';
import type { KubeConfig } from '@kubernetes/client-node';
import { resourcePath, type ResourceType } from './resources.js';

export const FIELD_MANAGER = 'shardline-operator';

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    generation?: number;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: Array<{ apiVersion: string; kind: string; name: string; uid: string; controller?: boolean; blockOwnerDeletion?: boolean }>;
    finalizers?: string[];
    deletionTimestamp?: string;
    creationTimestamp?: string;
    managedFields?: unknown[];
    [k: string]: unknown;
  };
  [k: string]: unknown;
}

export interface KubeList<T = KubeObject> {
  items: T[];
  metadata: { resourceVersion: string; continue?: string };
}

export class ApiError extends Error {
  constructor(readonly statusCode: number, readonly reason: string, message: string) {
    super(message);
    this.name = 'ApiError';
  }
}

export const isNotFound = (e: unknown) => e instanceof ApiError && e.statusCode === 404;
export const isConflict = (e: unknown) => e instanceof ApiError && e.statusCode === 409;
export const isGone = (e: unknown) => e instanceof ApiError && e.statusCode === 410;

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
export interface WatchHandle { stop(): void; done: Promise<void> }

interface RequestOptions {
  method: string;
  path: string;
  query?: Record<string, string | undefined>;
  body?: unknown;
  contentType?: string;
  timeoutMs?: number;
}

export class KubeClient {
  /** Writes issued (create/apply/patch/update/delete), by verb. Tests assert on it. */
  readonly writes = { total: 0, byKey: new Map<string, number>() };

  constructor(readonly kc: KubeConfig) {}

  private async send(opts: RequestOptions): Promise<http.IncomingMessage> {
    const cluster = this.kc.getCurrentCluster();
    if (!cluster) throw new Error('no current cluster in kubeconfig');
    const url = new URL(cluster.server.replace(/\/$/, '') + opts.path);
    for (const [k, v] of Object.entries(opts.query ?? {})) if (v !== undefined) url.searchParams.set(k, v);
    const reqOpts: https.RequestOptions = { method: opts.method, headers: { Accept: 'application/json' } };
    await this.kc.applyToHTTPSOptions(reqOpts);
    const body = opts.body === undefined ? undefined : JSON.stringify(opts.body);
    if (body !== undefined) {
      (reqOpts.headers as Record<string, string>)['Content-Type'] = opts.contentType ?? 'application/json';
    }
    const mod = url.protocol === 'http:' ? http : https;
    return new Promise((resolve, reject) => {
      const req = mod.request(url, reqOpts, resolve);
      req.on('error', reject);
      if (opts.timeoutMs) req.setTimeout(opts.timeoutMs, () => req.destroy(new Error(`request timed out: ${opts.method} ${opts.path}`)));
      if (body !== undefined) req.write(body);
      req.end();
    });
  }

  async request<T>(opts: RequestOptions): Promise<T> {
    const res = await this.send({ timeoutMs: 30_000, ...opts });
    const chunks: Buffer[] = [];
    for await (const c of res) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const parsed = text ? safeJson(text) : undefined;
    if ((res.statusCode ?? 500) >= 300) {
      const reason = (parsed as any)?.reason ?? res.statusMessage ?? 'Unknown';
      const msg = (parsed as any)?.message ?? text;
      throw new ApiError(res.statusCode ?? 500, reason, `${opts.method} ${opts.path}: ${res.statusCode} ${msg}`);
    }
    return parsed as T;
  }

  private countWrite(verb: string, t: ResourceType, ns: string | undefined, name: string, sub?: string) {
    this.writes.total++;
    const key = `${verb} ${t.kind}${sub ? '/' + sub : ''} ${ns ? ns + '/' : ''}${name}`;
    this.writes.byKey.set(key, (this.writes.byKey.get(key) ?? 0) + 1);
  }

  async get<T extends KubeObject = KubeObject>(t: ResourceType, namespace: string | undefined, name: string): Promise<T | undefined> {
    try {
      return await this.request<T>({ method: 'GET', path: resourcePath(t, namespace, name) });
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }

  list<T extends KubeObject = KubeObject>(t: ResourceType, namespace?: string, opts: { labelSelector?: string; resourceVersion?: string } = {}): Promise<KubeList<T>> {
    return this.request({ method: 'GET', path: resourcePath(t, namespace), query: { labelSelector: opts.labelSelector, resourceVersion: opts.resourceVersion } });
  }

  create<T extends KubeObject>(t: ResourceType, obj: T): Promise<T> {
    this.countWrite('create', t, obj.metadata.namespace, obj.metadata.name);
    return this.request({ method: 'POST', path: resourcePath(t, obj.metadata.namespace), body: obj });
  }

  update<T extends KubeObject>(t: ResourceType, obj: T, subresource?: string): Promise<T> {
    this.countWrite('update', t, obj.metadata.namespace, obj.metadata.name, subresource);
    return this.request({ method: 'PUT', path: resourcePath(t, obj.metadata.namespace, obj.metadata.name, subresource), body: obj });
  }

  /** Server-side apply with our one field manager; force takes ownership of conflicting fields. */
  apply<T extends KubeObject>(t: ResourceType, obj: T, subresource?: string): Promise<T> {
    this.countWrite('apply', t, obj.metadata.namespace, obj.metadata.name, subresource);
    return this.request({
      method: 'PATCH',
      path: resourcePath(t, obj.metadata.namespace, obj.metadata.name, subresource),
      query: { fieldManager: FIELD_MANAGER, force: 'true' },
      body: { apiVersion: t.apiVersion, kind: t.kind, ...obj },
      contentType: 'application/apply-patch+yaml',
    });
  }

  /** JSON merge patch (or JSON patch when given an array). */
  patch<T extends KubeObject>(t: ResourceType, namespace: string | undefined, name: string, patch: unknown, subresource?: string): Promise<T> {
    this.countWrite('patch', t, namespace, name, subresource);
    return this.request({
      method: 'PATCH',
      path: resourcePath(t, namespace, name, subresource),
      query: { fieldManager: FIELD_MANAGER },
      body: patch,
      contentType: Array.isArray(patch) ? 'application/json-patch+json' : 'application/merge-patch+json',
    });
  }

  async delete(t: ResourceType, namespace: string | undefined, name: string, opts: { propagationPolicy?: 'Foreground' | 'Background' | 'Orphan'; uid?: string } = {}): Promise<boolean> {
    this.countWrite('delete', t, namespace, name);
    try {
      await this.request({
        method: 'DELETE',
        path: resourcePath(t, namespace, name),
        body: { kind: 'DeleteOptions', apiVersion: 'v1', propagationPolicy: opts.propagationPolicy ?? 'Background', ...(opts.uid ? { preconditions: { uid: opts.uid } } : {}) },
      });
      return true;
    } catch (e) {
      if (isNotFound(e)) return false;
      throw e;
    }
  }

  /**
   * One watch request. Calls onEvent for each event; `done` settles when the
   * server closes the stream (timeoutSeconds), on error (rejects), or on stop().
   */
  async watch(
    t: ResourceType,
    namespace: string | undefined,
    opts: { resourceVersion: string; timeoutSeconds: number; labelSelector?: string },
    onEvent: (type: WatchEventType, obj: any) => void,
  ): Promise<WatchHandle> {
    const res = await this.send({
      method: 'GET',
      path: resourcePath(t, namespace),
      query: {
        watch: 'true',
        resourceVersion: opts.resourceVersion,
        allowWatchBookmarks: 'true',
        timeoutSeconds: String(opts.timeoutSeconds),
        labelSelector: opts.labelSelector,
      },
    });
    if (res.statusCode !== 200) {
      const chunks: Buffer[] = [];
      for await (const c of res) chunks.push(c as Buffer);
      const parsed = safeJson(Buffer.concat(chunks).toString('utf8')) as any;
      throw new ApiError(res.statusCode ?? 500, parsed?.reason ?? 'Unknown', `watch ${t.plural}: ${res.statusCode} ${parsed?.message ?? ''}`);
    }
    let stopped = false;
    const done = new Promise<void>((resolve, reject) => {
      const lines = createInterface({ input: res });
      lines.on('line', (line) => {
        if (!line.trim()) return;
        const ev = safeJson(line) as { type: WatchEventType; object: any } | undefined;
        if (ev) onEvent(ev.type, ev.object);
      });
      res.on('error', (e) => (stopped ? resolve() : reject(e)));
      // readline re-emits input errors on the interface: without a listener they would be uncaught.
      lines.on('error', (e) => (stopped ? resolve() : reject(e)));
      res.on('aborted', () => (stopped ? resolve() : reject(new Error('watch aborted'))));
      lines.on('close', () => resolve());
    });
    done.catch(() => undefined);
    return {
      stop: () => { stopped = true; res.destroy(); },
      done,
    };
  }
}

function safeJson(text: string): unknown {
  try { return JSON.parse(text); } catch { return undefined; }
}
