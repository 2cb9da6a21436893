// Which open shard a record goes to, predicted the way Kinesis routes it: the 128-bit hash key
// (MD5 of the partition key, or the explicit hash key) inside the shard's hash key range. The
// prediction lets the producer rate-limit and aggregate per shard; PutRecords' answer tells us when
// the map went stale (a reshard), and the producer reloads it.
import { ListShardsCommand, type KinesisClient, type ListShardsCommandInput } from '@aws-sdk/client-kinesis';
import { hashKeyHexOf } from '../stream/kinesis/hashKeys.js';

export interface OpenShard {
  shardId: string;
  start: bigint;
  end: bigint;
}

export interface StreamRef {
  streamName?: string;
  streamARN?: string;
}

export class ShardMap {
  /** Sorted by range start; open shards partition the key space. */
  constructor(readonly shards: OpenShard[]) {}

  static async load(client: KinesisClient, stream: StreamRef): Promise<ShardMap> {
    const open: OpenShard[] = [];
    let nextToken: string | undefined;
    do {
      // ListShards takes either the stream or a NextToken, never both.
      const input: ListShardsCommandInput = nextToken
        ? { NextToken: nextToken }
        : { StreamName: stream.streamName, StreamARN: stream.streamARN };
      const out = await client.send(new ListShardsCommand(input));
      for (const s of out.Shards ?? []) {
        if (s.SequenceNumberRange?.EndingSequenceNumber !== undefined) continue; // closed by a reshard
        open.push({ shardId: s.ShardId!, start: BigInt(s.HashKeyRange!.StartingHashKey!), end: BigInt(s.HashKeyRange!.EndingHashKey!) });
      }
      nextToken = out.NextToken;
    } while (nextToken);
    if (open.length === 0) throw new Error(`stream ${stream.streamName ?? stream.streamARN} has no open shards`);
    open.sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
    return new ShardMap(open);
  }

  shardOf(hashKey: bigint): OpenShard {
    const s = this.shards;
    let lo = 0;
    let hi = s.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (s[mid]!.start <= hashKey) lo = mid;
      else hi = mid - 1;
    }
    return s[lo]!;
  }
}

/** The hash key Kinesis routes a record by. */
export function hashKeyOf(partitionKey: string, explicitHashKey?: string): bigint {
  return explicitHashKey !== undefined ? BigInt(explicitHashKey) : BigInt('0x' + hashKeyHexOf(partitionKey));
}
