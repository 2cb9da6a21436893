// Writing result rows into a DataStream exactly once. Rows are encoded as the
// write path stores them (recordBatch, one JetStream message per output shard
// and chunk) and each message carries a deterministic id. The messages of an
// emit are put into the checkpoint BEFORE they are published, with each output
// shard's tip at that moment; after a crash the worker scans each shard from
// that tip for the ids already stored and publishes only the missing ones. (The
// shard streams' JetStream duplicate window is 2 min — it drops a late publish
// by a worker paused past its lease, but not every restart is that quick — so
// the ids are also checked by this scan, not by JetStream alone.)
//
// Encrypted outputs (StartStreamEncryption, DataStream spec.encryption, or a
// Direct PUT delivery stream's server-side encryption, which is its backing
// stream's): each message is sealed (stream/batchCipher.ts) with the key the
// stream record names when the emit is PLANNED, and the checkpoint holds the
// sealed bytes. So no result row is at rest in plain text in the checkpoint
// either, and a recovering worker republishes exactly the bytes it planned,
// even if the key changed or its Secret left the pod since (the message names
// its key id; readers open it through the key history / kept materials). The
// restart scan compares message ids (a header outside the ciphertext), never
// payload bytes, so the random IV of each seal does not matter to it.
// A worker without the key cannot plan the emit: KeyUnavailableError
// (KMSNotFoundException, ...) is thrown, the runner logs it and retries the
// commit with the rows still held — nothing is lost, nothing written in plain.
import { headers as natsHeaders } from 'nats';
import type { Store } from '../../stream/connect.js';
import { encodePackedBatch } from '../../stream/recordBatch.js';
import { MAX_RECORDS_PER_MESSAGE } from '../../stream/kinesis/sequence.js';
import { hashKeyHexOf } from '../../stream/kinesis/hashKeys.js';
import { jsStreamName, jsSubject } from '../../stream/names.js';
import { getStream } from '../../stream/streams.js';
import { routeOfHex, toCached } from '../../stream/streamCache.js';
import { shardTip } from '../../stream/shardRead.js';
import { sealBatch, sealOverhead } from '../../stream/batchCipher.js';
import { KeyUnavailableError } from '../../stream/errors.js';
import type { DataKey, KeyRing } from '../../stream/keyring.js';
import { streamDataKey } from '../../stream/streamEncryption.js';
import type { StreamRecord } from '../../stream/streamRecord.js';
import { writerKeys } from '../../stream/storeKeys.js';
import { ENV } from '../../contract/env.js';
import type { PendingMessage } from './checkpoint.js';
import type { OutputRecords } from './outputRecords.js';

export const EMIT_HEADER = 'Shardline-Emit-Id';
const MAX_MESSAGE_BYTES = 900 * 1024;

/** The messages an emit writes into one DataStream output. */
export async function planStreamEmit(
  store: Store, outputId: string, streamName: string, idPrefix: string, records: OutputRecords,
  opts: { spread?: boolean; label?: string; keys?: KeyRing } = {},
): Promise<PendingMessage[]> {
  const label = opts.label ?? `output stream ${streamName}`;
  const rec = await getStream(store, streamName);
  if (!rec || rec.status === 'DELETING') throw new Error(`${label} does not exist`);
  const key = await sealingKey(store, rec, label, opts.keys);
  const cached = toCached(rec, 0);
  const open = cached.routes.map((x) => x.shard).sort((a, b) => a.index - b.index);
  if (!open.length && records.length) throw new Error(`no open shard of ${label}`);
  // Record indexes by shard. One open shard holds the whole hash key range: no MD5 per record (100k-key windows emit ~0.5 rows per event).
  const byShard = new Map<number, number[]>();
  if (open.length === 1) byShard.set(open[0]!.index, Array.from({ length: records.length }, (_, i) => i));
  else {
    for (let i = 0; i < records.length; i++) {
      // `spread`: Direct PUT's placement (runtime/api/firehose/ops.ts putDirect), round robin over the open shards.
      const shard = opts.spread ? open[i % open.length] : routeOfHex(cached, hashKeyHexOf(records.partitionKey(i)));
      if (!shard) throw new Error(`no open shard of ${label} for partition key ${records.partitionKey(i)}`);
      let list = byShard.get(shard.index);
      if (!list) byShard.set(shard.index, (list = []));
      list.push(i);
    }
  }
  const out: PendingMessage[] = [];
  const overhead = key ? sealOverhead(key) : 0;
  for (const [index, list] of [...byShard].sort((a, b) => a[0] - b[0])) {
    if (!list.length) continue;
    const jsStream = jsStreamName(rec.uid, index);
    const tip = await shardTip(store, jsStream);
    const cuts = messageCuts(records, list, overhead);
    for (let m = 0; m + 1 < cuts.length; m++) {
      const plain = encodePackedBatch(Date.now(), records, list, cuts[m]!, cuts[m + 1]!);
      const payload = key ? sealBatch(plain, key) : plain;
      out.push({ outputId, stream: streamName, jsStream, subject: jsSubject(rec.uid, index), msgId: `${idPrefix}:${outputId}:${index}:${m}`, fromSeq: tip.lastSeq + 1, payload });
    }
  }
  return out;
}

/**
 * Where a shard's records (`list`, indexes into `records`) split into messages: 0, each message's end, the
 * last at list.length. A function of its own, apart from the async planStreamEmit: V8 optimized the loop
 * there on stack anew at almost every emit (16 compiles, ~0.25 s of a 3M-event worker at 100k keys).
 */
function messageCuts(records: OutputRecords, list: readonly number[], overhead: number): number[] {
  const cuts = [0];
  let from = 0;
  let bytes = overhead;
  for (let k = 0; k < list.length; k++) {
    const i = list[k]!;
    // 16 for the lengths and a sealed message's share.
    const size = records.ends[i]! - records.start(i) + records.keyBytes(i) + 16;
    if (k > from && (bytes + size > MAX_MESSAGE_BYTES || k - from >= MAX_RECORDS_PER_MESSAGE)) {
      cuts.push(k);
      from = k;
      bytes = overhead;
    }
    bytes += size;
  }
  if (list.length > 0) cuts.push(list.length);
  return cuts;
}

/**
 * The key new messages of the output are sealed with (undefined: not
 * encrypted): the stream record's current key, from the worker's key ring
 * (its mounted key files, SHARDLINE_KMS_KEYS_FILE, plus the store-managed
 * default key behind alias/aws/kinesis). Its material is kept in the store
 * before the first message is sealed with it, as the runtime's write path does.
 */
async function sealingKey(store: Store, rec: StreamRecord, label: string, keys?: KeyRing): Promise<DataKey | undefined> {
  if (rec.encryption.type !== 'KMS') return undefined;
  const { ring, storeKeys } = await writerKeys(store, keys);
  let key: DataKey | undefined;
  try {
    key = streamDataKey(ring, rec);
  } catch (e) {
    if (!(e instanceof KeyUnavailableError)) throw e;
    throw new KeyUnavailableError(e.code, `${label} is encrypted with key ${rec.encryption.keyId}, which this worker cannot use (the key files at ${ENV.kmsKeysFile} must hold it); rows are held and retried: ${e.message}`);
  }
  if (key) await storeKeys.ensureKept(key);
  return key;
}

/** Publishes the messages, skipping those a previous attempt already stored (`recovering`: scan first). */
export async function publishPending(store: Store, msgs: PendingMessage[], recovering: boolean): Promise<{ published: number; skipped: number }> {
  let present = new Set<string>();
  if (recovering) present = await storedIds(store, msgs);
  let published = 0;
  for (const m of msgs) {
    if (present.has(m.msgId)) continue;
    const h = natsHeaders();
    h.set(EMIT_HEADER, m.msgId);
    await store.js.publish(m.subject, m.payload, { msgID: m.msgId, headers: h });
    published++;
  }
  return { published, skipped: present.size };
}

/** Ids of the pending messages already stored: each shard scanned from its tip as of the checkpoint. */
async function storedIds(store: Store, msgs: PendingMessage[]): Promise<Set<string>> {
  const present = new Set<string>();
  const wanted = new Set(msgs.map((m) => m.msgId));
  const byStream = new Map<string, number>();
  for (const m of msgs) byStream.set(m.jsStream, Math.min(byStream.get(m.jsStream) ?? Infinity, m.fromSeq));
  for (const [jsStream, from] of byStream) {
    const tip = await shardTip(store, jsStream);
    for (let seq = Math.max(from, tip.firstSeq); seq <= tip.lastSeq; seq++) {
      try {
        const sm = await store.jsm.streams.getMessage(jsStream, { seq });
        const id = sm.header?.get(EMIT_HEADER);
        if (id && wanted.has(id)) present.add(id);
      } catch {
        // expired or deleted: not ours to find
      }
    }
  }
  return present;
}
