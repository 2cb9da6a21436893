// A Kinesis API record as a source record (shared by the polling and EFO readers).
import type { _Record as KinesisRecord } from '@aws-sdk/client-kinesis';
import type { SourceRecord } from '../types.js';

export function fromKinesisRecord(r: KinesisRecord): SourceRecord {
  return {
    sequenceNumber: r.SequenceNumber!,
    partitionKey: r.PartitionKey!,
    data: Buffer.from(r.Data ?? new Uint8Array()),
    arrivalMs: r.ApproximateArrivalTimestamp?.getTime() ?? Date.now(),
    encrypted: r.EncryptionType === 'KMS',
  };
}
