// A KinesisFirehoseOutput: result rows written into a Direct PUT delivery
// stream the way PutRecordBatch stores them — appended to the delivery
// stream's hidden backing stream, one record per row with an empty partition
// key, spread over its shards — so the delivery worker picks them up like any
// Firehose record. They go through the emitter's checkpointed messages with
// deterministic ids (emitter.ts), so each row is stored exactly once, also
// when the analytics worker is killed mid-emit.
import type { Store } from '../../stream/connect.js';
import { getDeliveryStream, openDeliveryStore } from '../../stream/deliveryStreams.js';
import type { PendingMessage } from './checkpoint.js';
import { planStreamEmit } from './emitter.js';
import type { OutputRecords } from './outputRecords.js';

export async function planFirehoseEmit(store: Store, outputId: string, deliveryStream: string, idPrefix: string, rows: OutputRecords): Promise<PendingMessage[]> {
  const rec = await getDeliveryStream(await openDeliveryStore(store), deliveryStream);
  if (!rec || rec.status === 'DELETING') throw new Error(`output delivery stream ${deliveryStream} does not exist`);
  if (rec.type !== 'DirectPut') throw new Error(`output delivery stream ${deliveryStream} reads a Kinesis stream (KinesisStreamAsSource); only Direct PUT delivery streams take records`);
  if (rec.status !== 'ACTIVE') throw new Error(`output delivery stream ${deliveryStream} is ${rec.status}, not ACTIVE`);
  return planStreamEmit(store, outputId, rec.sourceStream, idPrefix, rows.withoutKeys(), { spread: true, label: `output delivery stream ${deliveryStream}` });
}
