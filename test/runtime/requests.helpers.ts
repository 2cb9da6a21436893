// Raw Kinesis calls (JSON 1.1 or CBOR 1.1 over HTTP/1.1, unsigned) and one
// valid request body per operation, for tests that need the wire itself:
// status, headers, empty bodies, and requests no SDK would send.
import { decodeBody, encodeBody } from '../../runtime/http/wire.js';

export interface RawAnswer {
  status: number;
  headers: Headers;
  body: Buffer;
  /** The decoded body ({} when empty). */
  json: Record<string, any>;
}

export type Protocol = 'json' | 'cbor';

const CONTENT_TYPE: Record<Protocol, string> = { json: 'application/x-amz-json-1.1', cbor: 'application/x-amz-cbor-1.1' };

/** POSTs one operation; `body` is encoded in the protocol unless it is already bytes. */
export async function call(
  endpoint: string,
  op: string,
  body: unknown,
  opts: { protocol?: Protocol; headers?: Record<string, string>; target?: string } = {},
): Promise<RawAnswer> {
  const protocol = opts.protocol ?? 'json';
  const payload = Buffer.isBuffer(body) ? body : encodeBody(protocol, body as Record<string, unknown>);
  const res = await fetch(endpoint, {
    method: 'POST',
    headers: { 'content-type': CONTENT_TYPE[protocol], 'x-amz-target': opts.target ?? `Kinesis_20131202.${op}`, ...opts.headers },
    body: payload,
  });
  const buf = Buffer.from(await res.arrayBuffer());
  let json: Record<string, any> = {};
  if (buf.length > 0 && (res.headers.get('content-type') ?? '').includes('amz')) {
    try {
      json = decodeBody(protocol, buf) as Record<string, any>;
    } catch {
      json = {};
    }
  }
  return { status: res.status, headers: res.headers, body: buf, json };
}

export const ACCOUNT = '000000000000';
export const arnOf = (stream: string) => `arn:aws:kinesis:us-east-1:${ACCOUNT}:stream/${stream}`;

export interface Fixture {
  stream: string;
  consumerArn: string;
  iterator: string;
}

/**
 * A valid request for every operation against `f.stream` (one open shard
 * `shardId-000000000000` is enough). Destructive ones (DeleteStream, reshards,
 * consumer deregistration) act on what `f` names, so callers pick what to send.
 */
export function validRequests(f: Fixture): Record<string, Record<string, unknown>> {
  const s = f.stream;
  const arn = arnOf(s);
  return {
    CreateStream: { StreamName: `${s}-new`, ShardCount: 1 },
    DeleteStream: { StreamName: s },
    DescribeStream: { StreamName: s, Limit: 10 },
    DescribeStreamSummary: { StreamName: s },
    ListStreams: { Limit: 10 },
    ListShards: { StreamName: s, MaxResults: 10 },
    PutRecord: { StreamName: s, PartitionKey: 'pk', Data: Buffer.from('hello') },
    PutRecords: { StreamName: s, Records: [{ PartitionKey: 'a', Data: Buffer.from('x') }, { PartitionKey: 'b', Data: Buffer.from('y') }] },
    GetShardIterator: { StreamName: s, ShardId: 'shardId-000000000000', ShardIteratorType: 'TRIM_HORIZON' },
    GetRecords: { ShardIterator: f.iterator, Limit: 10 },
    IncreaseStreamRetentionPeriod: { StreamName: s, RetentionPeriodHours: 48 },
    DecreaseStreamRetentionPeriod: { StreamName: s, RetentionPeriodHours: 24 },
    DescribeLimits: {},
    AddTagsToStream: { StreamName: s, Tags: { team: 'data' } },
    RemoveTagsFromStream: { StreamName: s, TagKeys: ['team'] },
    ListTagsForStream: { StreamName: s },
    TagResource: { ResourceARN: arn, Tags: { env: 'test' } },
    UntagResource: { ResourceARN: arn, TagKeys: ['env'] },
    ListTagsForResource: { ResourceARN: arn },
    SplitShard: { StreamName: s, ShardToSplit: 'shardId-000000000000', NewStartingHashKey: (1n << 127n).toString() },
    MergeShards: { StreamName: s, ShardToMerge: 'shardId-000000000001', AdjacentShardToMerge: 'shardId-000000000002' },
    UpdateShardCount: { StreamName: s, TargetShardCount: 2, ScalingType: 'UNIFORM_SCALING' },
    UpdateStreamMode: { StreamARN: arn, StreamModeDetails: { StreamMode: 'ON_DEMAND' } },
    StartStreamEncryption: { StreamName: s, EncryptionType: 'KMS', KeyId: 'alias/aws/kinesis' },
    StopStreamEncryption: { StreamName: s, EncryptionType: 'KMS', KeyId: 'alias/aws/kinesis' },
    EnableEnhancedMonitoring: { StreamName: s, ShardLevelMetrics: ['IncomingBytes'] },
    DisableEnhancedMonitoring: { StreamName: s, ShardLevelMetrics: ['IncomingBytes'] },
    PutResourcePolicy: {
      ResourceARN: arn,
      Policy: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Deny', Principal: { AWS: 'arn:aws:iam::000000000000:user/nobody' }, Action: 'kinesis:PutRecord' }] }),
    },
    GetResourcePolicy: { ResourceARN: arn },
    DeleteResourcePolicy: { ResourceARN: arn },
    UpdateMaxRecordSize: { StreamARN: arn, MaxRecordSizeInKiB: 2048 },
    DescribeAccountSettings: {},
    UpdateAccountSettings: { MinimumThroughputBillingCommitment: { Status: 'DISABLED' } },
    RegisterStreamConsumer: { StreamARN: arn, ConsumerName: 'fz-consumer' },
    DeregisterStreamConsumer: { ConsumerARN: f.consumerArn },
    DescribeStreamConsumer: { ConsumerARN: f.consumerArn },
    ListStreamConsumers: { StreamARN: arn },
    SubscribeToShard: { ConsumerARN: f.consumerArn, ShardId: 'shardId-000000000000', StartingPosition: { Type: 'LATEST' } },
  };
}
