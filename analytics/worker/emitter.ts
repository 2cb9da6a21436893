// Writing result rows into a DataStream exactly once. Rows are encoded as the
// write path stores them (recordBatch, one JetStream message per output shard
// and chunk) and each message carries a deterministic id. The messages of an
// emit are put into the checkpoint BEFORE they are published, with each output
// shard's tip at that moment; after a crash the worker scans each shard from
// that tip for the ids already stored and publishes only the missing ones. (The
// shard streams' JetStream duplicate window is 1 s — too short to cover a
// restart — so the ids are also checked by this scan, not by JetStream alone.)
import { headers as natsHeaders } from 'nats';
import type { Store } from '../../stream/connect.js';
import { encodeBatch } from '../../stream/recordBatch.js';
import { MAX_RECORDS_PER_MESSAGE } from '../../stream/kinesis/sequence.js';
import { hashKeyHexOf } from '../../stream/kinesis/hashKeys.js';
import { jsStreamName, jsSubject } from '../../stream/names.js';
import { getStream } from '../../stream/streams.js';
import { routeOfHex, toCached } from '../../stream/streamCache.js';
import { shardTip } from '../../stream/shardRead.js';
import type { PendingMessage } from './checkpoint.js';

export const EMIT_HEADER = 'Shardline-Emit-Id';
const MAX_MESSAGE_BYTES = 900 * 1024;

export interface OutRecord { partitionKey: string; data: Buffer }

/** The messages an emit writes into one DataStream output. */
export async function planStreamEmit(
  store: Store, outputId: string, streamName: string, idPrefix: string, records: OutRecord[],
  opts: { spread?: boolean; label?: string } = {},
): Promise<PendingMessage[]> {
  const label = opts.label ?? `output stream ${streamName}`;
  const rec = await getStream(store, streamName);
  if (!rec || rec.status === 'DELETING') throw new Error(`${label} does not exist`);
  if (rec.encryption.type !== 'NONE') throw new Error(`${label} is encrypted; encrypted outputs are not supported yet`);
  const cached = toCached(rec, 0);
  const open = cached.routes.map((x) => x.shard).sort((a, b) => a.index - b.index);
  const byShard = new Map<number, OutRecord[]>();
  let i = 0;
  for (const r of records) {
    // `spread`: Direct PUT's placement (runtime/api/firehose/ops.ts putDirect), round robin over the open shards.
    const shard = opts.spread ? open[i++ % open.length] : routeOfHex(cached, hashKeyHexOf(r.partitionKey));
    if (!shard) throw new Error(`no open shard of ${label} for partition key ${r.partitionKey}`);
    let list = byShard.get(shard.index);
    if (!list) byShard.set(shard.index, (list = []));
    list.push(r);
  }
  const out: PendingMessage[] = [];
  for (const [index, list] of [...byShard].sort((a, b) => a[0] - b[0])) {
    const jsStream = jsStreamName(rec.uid, index);
    const tip = await shardTip(store, jsStream);
    let chunk: OutRecord[] = [];
    let bytes = 0;
    let n = 0;
    const flush = () => {
      if (!chunk.length) return;
      const payload = encodeBatch(Date.now(), chunk.map((r) => ({ partitionKey: r.partitionKey, partitionKeyBytes: Buffer.byteLength(r.partitionKey), data: r.data })));
      out.push({ outputId, stream: streamName, jsStream, subject: jsSubject(rec.uid, index), msgId: `${idPrefix}:${outputId}:${index}:${n++}`, fromSeq: tip.lastSeq + 1, payload: payload.toString('base64') });
      chunk = [];
      bytes = 0;
    };
    for (const r of list) {
      const size = r.data.length + Buffer.byteLength(r.partitionKey) + 16;
      if (chunk.length && (bytes + size > MAX_MESSAGE_BYTES || chunk.length >= MAX_RECORDS_PER_MESSAGE)) flush();
      chunk.push(r);
      bytes += size;
    }
    flush();
  }
  return out;
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
    await store.js.publish(m.subject, Buffer.from(m.payload, 'base64'), { msgID: m.msgId, headers: h });
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
