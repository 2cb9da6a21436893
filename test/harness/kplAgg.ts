// aws-kinesis-agg (the AWS-published JS KPL codec, protobufjs inside) as an independent oracle for
// our aggregation format. Its 4.x typings import the v2 SDK, so it is loaded untyped and given the
// narrow types of the pure functions we use.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

export interface AggUserRecord {
  partitionKey: string;
  explicitPartitionKey?: string;
  sequenceNumber?: string;
  subSequenceNumber?: number;
  /** base64 */
  data: string;
}

interface AggLib {
  deaggregateSync(
    record: { partitionKey: string; sequenceNumber?: string; data: string },
    computeChecksums: boolean,
    done: (err: Error | null | undefined, records?: AggUserRecord[]) => void,
  ): void;
  aggregate(
    records: { partitionKey: string; explicitHashKey?: string; data: Buffer }[],
    onEncoded: (encoded: { partitionKey: string; data: Buffer }, cb: (err?: Error) => void) => void,
    afterAll: () => void,
    onError: (err: Error) => void,
  ): void;
}

interface ProtoType {
  encode(msg: unknown): { finish(): Uint8Array };
  decode(bytes: Uint8Array): unknown;
}

const lib = require('aws-kinesis-agg') as AggLib;
/** The library's protobufjs message type, for crafting blobs (tags, odd layouts) our encoder never writes. */
export const AggregatedRecordProto = (require('aws-kinesis-agg/lib/common.js') as { AggregatedRecord: ProtoType }).AggregatedRecord;

/** aws-kinesis-agg's deaggregation of one Kinesis record, checksums verified. */
export function aggDeaggregate(data: Buffer, partitionKey = 'outer', sequenceNumber = '1'): AggUserRecord[] {
  let out: AggUserRecord[] | undefined;
  let error: Error | undefined;
  lib.deaggregateSync({ partitionKey, sequenceNumber, data: data.toString('base64') }, true, (err, recs) => {
    if (err) error = err;
    else out = recs;
  });
  if (error) throw error;
  return out!;
}

/** aws-kinesis-agg's aggregation: the encoded Kinesis records it emits (it splits at its 1 MiB limit). */
export function aggAggregate(records: { partitionKey: string; explicitHashKey?: string; data: Buffer }[]): Promise<{ partitionKey: string; data: Buffer }[]> {
  return new Promise((resolve, reject) => {
    const encoded: { partitionKey: string; data: Buffer }[] = [];
    lib.aggregate(
      records.map((r) => ({ ...r })),
      (e, cb) => {
        encoded.push(e);
        cb();
      },
      () => resolve(encoded),
      reject,
    );
  });
}
