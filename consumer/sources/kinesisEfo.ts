// SubscribeToShard (enhanced fan-out) of one shard: records are pushed over an
// HTTP/2 event stream into a small queue the consumer drains. A subscription
// lasts at most 5 minutes; it is renewed from the last continuation sequence
// number. The shard ends with an event without a continuation.
import {
  DescribeStreamConsumerCommand, DescribeStreamSummaryCommand, RegisterStreamConsumerCommand, ResourceInUseException,
  SubscribeToShardCommand, type KinesisClient, type StartingPosition,
} from '@aws-sdk/client-kinesis';
import type { ShardReader, SourceBatch, SourceStart } from '../types.js';
import { fromKinesisRecord } from './kinesisRecord.js';

/** The ARN of the named consumer of the stream, registered (and waited ACTIVE) when it is not. */
export async function efoConsumerArn(client: KinesisClient, stream: string, name: string): Promise<string> {
  const streamArn = (await client.send(new DescribeStreamSummaryCommand({ StreamName: stream }))).StreamDescriptionSummary!.StreamARN!;
  try {
    await client.send(new RegisterStreamConsumerCommand({ StreamARN: streamArn, ConsumerName: name }));
  } catch (e) {
    if (!(e instanceof ResourceInUseException)) throw e;
  }
  for (let i = 0; ; i++) {
    const c = (await client.send(new DescribeStreamConsumerCommand({ StreamARN: streamArn, ConsumerName: name }))).ConsumerDescription!;
    if (c.ConsumerStatus === 'ACTIVE') return c.ConsumerARN!;
    if (i > 600) throw new Error(`consumer ${name} of ${stream} is still ${c.ConsumerStatus}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Batches held before the subscription is read no further (HTTP/2 flow control then holds the server). */
const MAX_QUEUED = 8;

export class EfoReader implements ShardReader {
  private readonly queue: (SourceBatch | Error)[] = [];
  private wake?: () => void;
  private room?: () => void;
  private continuation?: string;
  private ended = false;
  private closed = false;
  private readonly abort = new AbortController();

  constructor(
    private readonly client: KinesisClient,
    private readonly consumerArn: string,
    private readonly shardId: string,
    private readonly start: SourceStart,
  ) {
    void this.pump();
  }

  private position(): StartingPosition {
    if (this.continuation) return { Type: 'AFTER_SEQUENCE_NUMBER', SequenceNumber: this.continuation };
    const s = this.start;
    if (s.type === 'AT_TIMESTAMP') return { Type: s.type, Timestamp: new Date(s.timestampMs) };
    if (s.type === 'AT_SEQUENCE_NUMBER' || s.type === 'AFTER_SEQUENCE_NUMBER') return { Type: s.type, SequenceNumber: s.sequenceNumber };
    return { Type: s.type };
  }

  private push(item: SourceBatch | Error): void {
    this.queue.push(item);
    this.wake?.();
  }

  private async pump(): Promise<void> {
    while (!this.closed && !this.ended) {
      try {
        const res = await this.client.send(
          new SubscribeToShardCommand({ ConsumerARN: this.consumerArn, ShardId: this.shardId, StartingPosition: this.position() }),
          { abortSignal: this.abort.signal },
        );
        for await (const ev of res.EventStream ?? []) {
          if (this.closed) break;
          const e = ev.SubscribeToShardEvent;
          if (!e) continue;
          const records = (e.Records ?? []).map(fromKinesisRecord);
          this.ended = !e.ContinuationSequenceNumber;
          if (e.ContinuationSequenceNumber) this.continuation = e.ContinuationSequenceNumber;
          if (records.length > 0 || this.ended) this.push({ records, millisBehindLatest: e.MillisBehindLatest ?? 0, shardEnded: this.ended });
          while (this.queue.length >= MAX_QUEUED && !this.closed) await new Promise<void>((r) => (this.room = r));
        }
      } catch (e) {
        if (this.closed) return;
        // Another subscription still open on the shard, a network error, ...: surfaced once, then subscribed again.
        this.push(e as Error);
        await new Promise((r) => setTimeout(r, 1_000));
      }
    }
  }

  async next(opts: { limit: number; waitMs: number; signal: AbortSignal }): Promise<SourceBatch> {
    if (this.queue.length === 0 && !opts.signal.aborted) {
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(t);
          opts.signal.removeEventListener('abort', done);
          this.wake = undefined;
          resolve();
        };
        const t = setTimeout(done, opts.waitMs);
        opts.signal.addEventListener('abort', done);
        this.wake = done;
      });
    }
    const item = this.queue.shift();
    this.room?.();
    if (!item) return { records: [], millisBehindLatest: 0, shardEnded: false };
    if (item instanceof Error) throw item;
    // Pushed events are at most a few MB; a consumer asking for fewer records gets the rest next time.
    if (item.records.length > opts.limit) {
      this.queue.unshift({ ...item, records: item.records.slice(opts.limit) });
      return { ...item, records: item.records.slice(0, opts.limit), shardEnded: false };
    }
    return item;
  }

  close(): void {
    this.closed = true;
    this.abort.abort();
    this.room?.();
  }
}
