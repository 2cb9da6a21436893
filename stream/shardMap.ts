// How a stream record is laid out in the KV bucket: a header under
// `stream.<name>` and the shard map in pages of PAGE_SHARDS shards, each under
// its own immutable key `shards.<name>.<uid>.<page>.<id>`. A 1,000-shard map
// is about 270 KB of JSON; kept inside the record, every reshard (and every
// status or tag change) rewrote all of it. Paged, a write puts only the pages
// whose shards changed (a split: the parent's page and the last page) under
// new ids, then swaps the header with compare-and-set; the header names the
// page ids, so a reader that has a header has a consistent map (pages are
// never changed in place, only written anew and purged once unreferenced).
//
// Records written before the split carry `shards` in the header; they are
// read as they are and converted on their next write.
import { randomBytes } from 'node:crypto';
import type { KV, KvEntry } from 'nats';
import { streamKey } from './names.js';
import type { ShardRecord, StreamRecord } from './streamRecord.js';

/** Shards per page: ~9 KB of JSON, so a split writes ~18 KB plus the header. */
export const PAGE_SHARDS = 32;

const PAGE_PREFIX = 'shards.';

/** What the header holds instead of the shards. */
export interface StoredShardMap {
  /** Bumped by every write that changes the map. */
  version: number;
  /** Page ids in order: page i holds shards [i × PAGE_SHARDS, (i+1) × PAGE_SHARDS). */
  pages: string[];
}

/** The header as stored: the record without `shards` (or with them, as written before the split). */
export type StoredHeader = Omit<StreamRecord, 'shards'> & { shards?: ShardRecord[]; shardMap?: StoredShardMap };

/** The pages a record was read with, so a write can keep the unchanged ones. */
export interface PageLayout {
  version: number;
  ids: string[];
  /** The JSON of each page as stored. */
  json: string[];
}

const escName = (name: string) => streamKey(name).slice('stream.'.length);

/** KV key of one page of `name`'s map (the stream's uid keeps a re-created stream's pages apart). */
export const pageKey = (name: string, uid: string, page: number, id: string) => `${PAGE_PREFIX}${escName(name)}.${uid}.${page}.${id}`;

/** The stream name a page key belongs to, or undefined for other keys. */
export function streamOfPageKey(key: string): string | undefined {
  if (!key.startsWith(PAGE_PREFIX)) return undefined;
  const esc = key.slice(PAGE_PREFIX.length).split('.')[0]!;
  return esc.replace(/=2E/g, '.');
}

export const isPageKey = (key: string) => key.startsWith(PAGE_PREFIX);

/** Splits a record into its stored header (without shards) and its pages' JSON. */
export function splitRecord(rec: StreamRecord): { header: Omit<StreamRecord, 'shards'>; pages: string[] } {
  const { shards, ...header } = rec;
  const pages: string[] = [];
  for (let i = 0; i < shards.length; i += PAGE_SHARDS) pages.push(JSON.stringify(shards.slice(i, i + PAGE_SHARDS)));
  return { header, pages };
}

/** The record of a stored header whose pages are at hand (`page(key)` → its shards), or undefined when one is missing. */
export function assemble(h: StoredHeader, page: (key: string) => ShardRecord[] | undefined): StreamRecord | undefined {
  const { shardMap, ...rest } = h;
  if (!shardMap) return { ...rest, shards: h.shards ?? [] };
  const shards: ShardRecord[] = [];
  for (let i = 0; i < shardMap.pages.length; i++) {
    const p = page(pageKey(h.name, h.uid, i, shardMap.pages[i]!));
    if (!p) return undefined;
    for (const s of p) shards.push(s);
  }
  return { ...rest, shards };
}

export interface ReadRecord {
  record: StreamRecord;
  revision: number;
  /** Undefined for a record in the format before the split (all pages are written on its next write). */
  layout?: PageLayout;
}

/**
 * Reads the header, then its pages in parallel. A page can vanish between
 * the two reads only when a newer header replaced the one read (its writer
 * purges the pages it no longer uses): then the header is read again.
 */
export async function readRecord(kv: KV, name: string): Promise<ReadRecord | undefined> {
  for (let attempt = 0; ; attempt++) {
    const e = await kv.get(streamKey(name));
    if (!e || e.operation !== 'PUT' || e.length === 0) return undefined;
    const h = e.json<StoredHeader>();
    if (!h.shardMap) {
      const { shardMap: _m, ...rest } = h;
      return { record: { ...rest, shards: h.shards ?? [] }, revision: e.revision };
    }
    const ids = h.shardMap.pages;
    const entries = await Promise.all(ids.map((id, i) => kv.get(pageKey(h.name, h.uid, i, id))));
    if (entries.every((p) => p && p.operation === 'PUT' && p.length > 0)) {
      const json = (entries as KvEntry[]).map((p) => p.string());
      const byKey = new Map(ids.map((id, i) => [pageKey(h.name, h.uid, i, id), JSON.parse(json[i]!) as ShardRecord[]]));
      return { record: assemble(h, (k) => byKey.get(k))!, revision: e.revision, layout: { version: h.shardMap.version, ids, json } };
    }
    if (attempt >= 20) throw new Error(`stream ${name}: shard map pages missing for header revision ${e.revision}`);
  }
}

export interface Prepared {
  /** The header to store. */
  header: string;
  /** Keys of the pages written for it (purged if the header write loses). */
  written: string[];
  /** Keys of the previous layout's pages no longer used (purged once the header is stored). */
  replaced: string[];
}

const newId = () => randomBytes(4).toString('hex');

/**
 * Writes the pages of `next` that differ from `prev` under new ids and returns
 * the header to store. Unchanged pages keep their ids, so a reshard of a
 * 1,000-shard stream writes two or three pages, not the whole map.
 */
export async function writePages(kv: KV, next: StreamRecord, prev?: { uid: string; layout?: PageLayout }): Promise<Prepared> {
  const { header, pages } = splitRecord(next);
  const same = prev?.layout && prev.uid === next.uid ? prev.layout : undefined;
  const ids: string[] = [];
  const written: string[] = [];
  const puts: Promise<unknown>[] = [];
  pages.forEach((json, i) => {
    if (same && same.json[i] === json) {
      ids.push(same.ids[i]!);
      return;
    }
    const id = newId();
    ids.push(id);
    const key = pageKey(next.name, next.uid, i, id);
    written.push(key);
    puts.push(kv.put(key, json));
  });
  await Promise.all(puts);
  const changed = !same || written.length > 0 || same.ids.length !== ids.length;
  const version = (same?.version ?? 0) + (changed ? 1 : 0);
  const kept = new Set(ids);
  const replaced = same ? same.ids.map((id, i) => ({ id, i })).filter(({ id }) => !kept.has(id)).map(({ id, i }) => pageKey(next.name, next.uid, i, id)) : [];
  const stored: StoredHeader = { ...header, shardMap: { version, pages: ids } };
  return { header: JSON.stringify(stored), written, replaced };
}

/** The parts of nats.js's Bucket (the class behind every KV view) a purge by subject needs (as stream/kvKeys.ts reads them). */
interface BucketView {
  jsm: { streams: { purge(stream: string, o: { filter: string }): Promise<unknown> } };
  stream: string;
  prefix: string;
}

/**
 * Removes pages without leaving delete markers (a marker per page per reshard
 * would pile up in the bucket and in every watch's replay): a purge of the
 * key's subject on the bucket's stream. Best effort: a page left behind is
 * garbage no header names, removed with its stream.
 */
export async function purgePages(kv: KV, keys: string[]): Promise<void> {
  const b = kv as unknown as BucketView;
  await Promise.all(keys.map((k) => b.jsm.streams.purge(b.stream, { filter: `${b.prefix}.${k}` }).catch(() => undefined)));
}

/** Removes every page of one incarnation of a stream (after its header is gone). */
export async function purgeAllPages(kv: KV, name: string, uid: string): Promise<void> {
  const b = kv as unknown as BucketView;
  await b.jsm.streams.purge(b.stream, { filter: `${b.prefix}.${PAGE_PREFIX}${escName(name)}.${uid}.>` }).catch(() => undefined);
}
