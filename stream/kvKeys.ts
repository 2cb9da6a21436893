// The keys of a JetStream KV bucket, read from the stream's subject index
// (STREAM.INFO with subjects_filter, paged by nats.js): bounded requests that
// always answer.
//
// Why not nats.js's kv.keys(): it reads an ordered last-per-subject consumer
// until a message says 0 pending. On nats-server 2.9 that count can stay above
// 0 on a history-1 bucket whose entries are being rewritten (nats-server#3481),
// and the iteration then never ends once writes stop — a consumer's stop()
// hung on it in CI. Entries read while iterating were also seen to be lost.
import type { JetStreamManager, KV, KvEntry } from 'nats';

/** The parts of nats.js's Bucket (the class behind every KV view) used here. */
interface BucketView {
  jsm: JetStreamManager;
  stream: string;
  prefix: string;
}

/**
 * Keys under `filter` (a KV key pattern, e.g. `stream.>`), sorted. Deleted
 * and purged keys are included while their markers last: read them through
 * kvEntries() when only live ones matter.
 */
export async function kvKeys(kv: KV, filter = '>'): Promise<string[]> {
  const b = kv as unknown as BucketView;
  const info = await b.jsm.streams.info(b.stream, { subjects_filter: `${b.prefix}.${filter}` });
  const from = b.prefix.length + 1;
  return Object.keys(info.state.subjects ?? {}).map((s) => s.slice(from)).sort();
}

/** The live entries under `filter` (deleted and purged keys left out), in key order. */
export async function kvEntries(kv: KV, filter = '>', concurrency = 64): Promise<KvEntry[]> {
  const keys = await kvKeys(kv, filter);
  const out: (KvEntry | undefined)[] = new Array(keys.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < keys.length; i = next++) {
      const e = await kv.get(keys[i]!);
      out[i] = e && e.operation === 'PUT' && e.length > 0 ? e : undefined;
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, keys.length) }, worker));
  return out.filter((e): e is KvEntry => e !== undefined);
}
