// A batch as the Kinesis event a Lambda function receives, so a handler
// written for Lambda runs unchanged: handler: (b) => lambdaHandler(toLambdaEvent(b, …)).
import type { ConsumerRecord } from '../types.js';

export interface KinesisEventRecord {
  kinesis: {
    kinesisSchemaVersion: '1.0';
    partitionKey: string;
    sequenceNumber: string;
    /** base64 */
    data: string;
    /** Epoch seconds with millisecond decimals. */
    approximateArrivalTimestamp: number;
  };
  eventSource: 'aws:kinesis';
  eventVersion: '1.0';
  eventID: string;
  eventName: 'aws:kinesis:record';
  invokeIdentityArn: string;
  awsRegion: string;
  eventSourceARN: string;
}

export function toLambdaEvent(
  batch: { shardId: string; records: ConsumerRecord[] },
  o: { streamArn: string; invokeIdentityArn?: string },
): { Records: KinesisEventRecord[] } {
  const region = o.streamArn.split(':')[3] ?? 'us-east-1';
  return {
    Records: batch.records.map((r) => ({
      kinesis: {
        kinesisSchemaVersion: '1.0',
        partitionKey: r.partitionKey,
        sequenceNumber: r.sequenceNumber,
        data: r.data.toString('base64'),
        approximateArrivalTimestamp: r.approximateArrivalTimestamp.getTime() / 1000,
      },
      eventSource: 'aws:kinesis',
      eventVersion: '1.0',
      eventID: `${batch.shardId}:${r.sequenceNumber}`,
      eventName: 'aws:kinesis:record',
      invokeIdentityArn: o.invokeIdentityArn ?? 'arn:aws:iam::000000000000:role/shardline-consumer',
      awsRegion: region,
      eventSourceARN: o.streamArn,
    })),
  };
}
