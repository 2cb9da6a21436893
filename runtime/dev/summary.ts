// The start-up summary of `shardline dev`: what runs where, which streams
// exist, and two AWS CLI lines to try it.
import type { StreamRecord } from '../../operator/store/streamStore.js';
import { hashKeyOf } from '../../stream/kinesis/hashKeys.js';

const TRY_KEY = 'k1';

/** The open shard a partition key goes to, so the "try it" read finds the record just put. */
function shardFor(r: StreamRecord, key: string): string {
  const h = hashKeyOf(key);
  const s = r.shards.find((x) => x.endingSequenceNumber === undefined && BigInt(x.hashKeyRange.startingHashKey) <= h && h <= BigInt(x.hashKeyRange.endingHashKey));
  return s?.shardId ?? 'shardId-000000000000';
}

export interface SummaryInput {
  endpoint: string;
  natsUrl: string;
  dataDir: string;
  streams: StreamRecord[];
  workers: string[];
  notes: string[];
}

export function startupSummary(s: SummaryInput): string {
  const open = (r: StreamRecord) => r.shards.filter((x) => x.endingSequenceNumber === undefined).length;
  const aws = `aws --endpoint-url ${s.endpoint} kinesis`;
  const active = s.streams.find((r) => r.status === 'ACTIVE');
  const stream = active?.name;
  const lines = [
    '',
    'shardline dev is running',
    `  Kinesis API  ${s.endpoint}   (AWS SDKs and CLI: endpoint URL; any region, any credentials)`,
    `  NATS         ${s.natsUrl}   (JetStream data in ${s.dataDir})`,
    `  streams      ${s.streams.length ? s.streams.map((r) => `${r.name} (${r.status}, ${open(r)} shard${open(r) === 1 ? '' : 's'})`).join(', ') : 'none yet'}`,
    ...s.workers.map((w) => `  ${w}`),
    ...s.notes.map((n) => `  note: ${n}`),
    '',
    'try it:',
    ...(stream
      ? [
        `  ${aws} put-record --stream-name ${stream} --partition-key ${TRY_KEY} --data "hello" --cli-binary-format raw-in-base64-out`,
        `  ${aws} get-records --shard-iterator $(${aws} get-shard-iterator --stream-name ${stream} --shard-id ${shardFor(active!, TRY_KEY)} --shard-iterator-type TRIM_HORIZON --query ShardIterator --output text)`,
      ]
      : [
        `  ${aws} create-stream --stream-name demo --shard-count 1`,
        `  ${aws} put-record --stream-name demo --partition-key ${TRY_KEY} --data "hello" --cli-binary-format raw-in-base64-out`,
      ]),
    '',
    'Ctrl-C stops everything (data is kept in the data directory).',
    '',
  ];
  return lines.join('\n');
}
