// Pure unit test of the delivery RecordProcessor (stand-in intent store and
// object store): when processRecords throws after taking records in (here the
// intent write fails once), the consumer hands the same batch again; those
// records must reach S3 once, not twice.
import { describe, expect, it } from '@jest/globals';
import zlib from 'node:zlib';
import { DeliveryProcessor } from '../../runtime/delivery/processor.js';
import type { IntentStore, FlushIntent } from '../../runtime/delivery/state.js';
import type { DeliveryStreamRecord } from '../../stream/deliveryStreams.js';
import type { Checkpointer, ConsumerRecord } from '../../consumer/types.js';

const def = {
  name: 'ds', uid: 'u1', status: 'ACTIVE', type: 'KinesisStreamAsSource', sourceStream: 's', versionId: 1, createdAtMs: 0, destinationId: 'd',
  s3: { BucketARN: 'arn:aws:s3:::b', Prefix: 'p/', BufferingHints: { SizeInMBs: 5, IntervalInSeconds: 0 }, CompressionFormat: 'GZIP', ProcessingConfiguration: { Enabled: true, Processors: [{ Type: 'AppendDelimiterToRecord' }] } },
  tags: {}, encryption: { status: 'DISABLED' }, owner: { kind: 'api' },
} as unknown as DeliveryStreamRecord;

const rec = (i: number): ConsumerRecord => ({
  shardId: 'shardId-000000000000', sequenceNumber: String(1000 + i), partitionKey: 'k', data: Buffer.from(`r${i}`), approximateArrivalTimestamp: new Date(1_700_000_000_000),
});

describe('DeliveryProcessor', () => {
  it('a batch handed again after a failed intent write is delivered once', async () => {
    const puts = new Map<string, Buffer>();
    let failIntent = 1;
    let intent: FlushIntent | undefined;
    const intents = {
      get: async () => intent,
      set: async (i: FlushIntent) => {
        if (failIntent-- > 0) throw new Error('KV unavailable');
        intent = i;
      },
      clear: async () => void (intent = undefined),
    } as unknown as IntentStore;
    const checkpoints: string[] = [];
    const cp: Checkpointer = { checkpoint: async (seq?: string) => void checkpoints.push(seq ?? 'last') };
    const p = new DeliveryProcessor({
      objects: { put: async (_b, key, body) => void puts.set(key, body) }, intents, log: () => undefined, definition: () => def,
      processing: { deliveryStreamArn: 'arn', region: 'us-east-1', functions: {}, functionTimeoutMs: 1000 }, signal: new AbortController().signal,
    });
    await p.initialize({ shardId: 'shardId-000000000000' });
    const batch = { shardId: 'shardId-000000000000', records: [rec(0), rec(1), rec(2)], millisBehindLatest: 0 };
    await expect(p.processRecords(batch, cp)).rejects.toThrow('KV unavailable');
    await p.processRecords(batch, cp); // the consumer's retry of the same batch
    await p.processRecords({ ...batch, records: [rec(2), rec(3)] }, cp); // overlapping: only r3 is new
    const lines = [...puts.values()].flatMap((b) => zlib.gunzipSync(b).toString().split('\n').filter(Boolean)).sort();
    expect(lines).toEqual(['r0', 'r1', 'r2', 'r3']);
    expect(checkpoints).toEqual(['1002', '1003']);
  });
});
