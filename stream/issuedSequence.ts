// Whether a sequence number is one this stream has issued: PutRecord's
// SequenceNumberForOrdering must be, for its ordering promise to be kept.
import type { Store } from './connect.js';
import { decodeSequence } from './kinesis/sequence.js';
import { jsStreamName } from './names.js';
import { batchCount } from './recordBatch.js';
import { shardTip } from './shardRead.js';
import type { StreamRecord } from './streamRecord.js';

/**
 * True when `seq` decodes to a shard of `rec` and lies at or below that
 * shard's last stored record (a shard's StartingSequenceNumber included).
 * Any record stored afterwards gets a greater sequence number: a later
 * storage position in the same shard, or a higher shard index in a child.
 */
export async function isIssuedSequence(store: Store, rec: StreamRecord, seq: string): Promise<boolean> {
  const pos = decodeSequence(seq);
  const shard = pos && rec.shards.find((x) => x.index === pos.shardIndex);
  if (!pos || !shard) return false;
  if (pos.jsSeq === 0) return pos.index === 0;
  const js = jsStreamName(rec.uid, shard.index);
  const tip = await shardTip(store, js);
  if (pos.jsSeq > tip.lastSeq) return false;
  if (pos.jsSeq < tip.lastSeq) return true;
  const last = await store.jsm.streams.getMessage(js, { seq: tip.lastSeq }).catch(() => undefined);
  return last !== undefined && pos.index < batchCount(last.data);
}
