// Any Kinesis endpoint through @aws-sdk/client-kinesis (AWS, Shardline's API,
// kinesalite): the same application code runs against each. Shards come from
// ListShards; records from GetRecords polling or SubscribeToShard (EFO).
import { ListShardsCommand, type KinesisClient, type ListShardsCommandOutput } from '@aws-sdk/client-kinesis';
import type { ShardSource } from '../types.js';
import { PollingReader } from './kinesisPolling.js';
import { EfoReader, efoConsumerArn } from './kinesisEfo.js';

export interface KinesisSourceOptions {
  mode?: 'polling' | 'efo';
  /** EFO: the registered consumer's name (registered when missing). Default: shardline-consumer. */
  consumerName?: string;
  /** Polling: least time between two GetRecords calls on one shard (Kinesis allows 5 per second per shard). */
  minPollIntervalMs?: number;
}

export function kinesisSource(client: KinesisClient, opts: KinesisSourceOptions = {}): ShardSource {
  const arns = new Map<string, Promise<string>>();
  const consumerArn = (stream: string) => {
    let p = arns.get(stream);
    if (!p) {
      arns.set(stream, (p = efoConsumerArn(client, stream, opts.consumerName ?? 'shardline-consumer')));
      p.catch(() => arns.delete(stream));
    }
    return p;
  };
  return {
    async listShards(streamName) {
      const out = [];
      let token: string | undefined;
      do {
        const res: ListShardsCommandOutput = await client.send(new ListShardsCommand(token ? { NextToken: token } : { StreamName: streamName }));
        for (const s of res.Shards ?? []) {
          out.push({
            shardId: s.ShardId!,
            parentShardId: s.ParentShardId,
            adjacentParentShardId: s.AdjacentParentShardId,
            closed: s.SequenceNumberRange?.EndingSequenceNumber !== undefined,
          });
        }
        token = res.NextToken;
      } while (token);
      return out;
    },
    async openShard(streamName, shardId, start) {
      if (opts.mode === 'efo') return new EfoReader(client, await consumerArn(streamName), shardId, start);
      return new PollingReader(client, streamName, shardId, start, opts.minPollIntervalMs ?? 200);
    },
  };
}
