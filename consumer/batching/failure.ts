// What a Lambda event source mapping sends its on-failure destination when it
// discards a batch: metadata only (shard and sequence range), no records —
// the shape AWS documents for Kinesis ("invocation record").
import { randomUUID } from 'node:crypto';
import { PutRecordCommand, type KinesisClient } from '@aws-sdk/client-kinesis';
import type { ConsumerRecord } from '../types.js';

export type FailureCondition = 'RetryAttemptsExhausted' | 'RecordAgeExceeded';

export interface OnFailureRecord {
  requestContext: { requestId: string; functionArn: string; condition: FailureCondition; approximateInvokeCount: number };
  /** Present when the function was invoked (and failed). */
  responseContext?: { statusCode: number; executedVersion: string; functionError: string };
  version: '1.0';
  timestamp: string;
  KinesisBatchInfo: {
    shardId: string;
    startSequenceNumber: string;
    endSequenceNumber: string;
    approximateArrivalOfFirstRecord: string;
    approximateArrivalOfLastRecord: string;
    batchSize: number;
    streamArn: string;
  };
}

/** Receives the record of every discarded batch. */
export type FailureDestination = (record: OnFailureRecord) => Promise<void>;

export function onFailureRecord(o: {
  shardId: string;
  records: ConsumerRecord[];
  condition: FailureCondition;
  invokeCount: number;
  functionArn: string;
  streamArn: string;
  nowMs: number;
}): OnFailureRecord {
  const first = o.records[0]!;
  const last = o.records[o.records.length - 1]!;
  return {
    requestContext: { requestId: randomUUID(), functionArn: o.functionArn, condition: o.condition, approximateInvokeCount: o.invokeCount },
    ...(o.invokeCount > 0 ? { responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' } } : {}),
    version: '1.0',
    timestamp: new Date(o.nowMs).toISOString(),
    KinesisBatchInfo: {
      shardId: o.shardId,
      startSequenceNumber: first.sequenceNumber,
      endSequenceNumber: last.sequenceNumber,
      approximateArrivalOfFirstRecord: first.approximateArrivalTimestamp.toISOString(),
      approximateArrivalOfLastRecord: last.approximateArrivalTimestamp.toISOString(),
      batchSize: o.records.length,
      streamArn: o.streamArn,
    },
  };
}

/** A data stream as the failure destination: one JSON record per discarded batch, keyed by its shard. */
export function dataStreamDestination(client: KinesisClient, streamName: string): FailureDestination {
  return async (record) => {
    await client.send(new PutRecordCommand({
      StreamName: streamName,
      PartitionKey: record.KinesisBatchInfo.shardId,
      Data: Buffer.from(JSON.stringify(record)),
    }));
  };
}
