// GetRecords polling of one shard, within Kinesis' 5 calls/s/shard: calls are
// spaced at least minIntervalMs apart, an empty answer waits before the next,
// throttling backs off, and an expired iterator is re-acquired after the last
// record returned.
import {
  ExpiredIteratorException, GetRecordsCommand, GetShardIteratorCommand, ProvisionedThroughputExceededException,
  type GetShardIteratorCommandInput, type KinesisClient,
} from '@aws-sdk/client-kinesis';
import type { ShardReader, SourceBatch, SourceStart } from '../types.js';
import { fromKinesisRecord } from './kinesisRecord.js';

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((r) => {
    if (signal?.aborted) return r();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      r();
    }
    signal?.addEventListener('abort', done);
  });

export class PollingReader implements ShardReader {
  private iterator?: string;
  private lastSequence?: string;
  private lastCallAt = 0;
  private backoffMs = 0;
  private ended = false;

  constructor(
    private readonly client: KinesisClient,
    private readonly stream: string,
    private readonly shardId: string,
    private readonly start: SourceStart,
    private readonly minIntervalMs: number,
  ) {}

  private async acquire(): Promise<string | undefined> {
    const input: GetShardIteratorCommandInput = { StreamName: this.stream, ShardId: this.shardId, ShardIteratorType: 'TRIM_HORIZON' };
    const s: SourceStart = this.lastSequence ? { type: 'AFTER_SEQUENCE_NUMBER', sequenceNumber: this.lastSequence } : this.start;
    input.ShardIteratorType = s.type;
    if (s.type === 'AT_TIMESTAMP') input.Timestamp = new Date(s.timestampMs);
    if (s.type === 'AT_SEQUENCE_NUMBER' || s.type === 'AFTER_SEQUENCE_NUMBER') input.StartingSequenceNumber = s.sequenceNumber;
    return (await this.client.send(new GetShardIteratorCommand(input))).ShardIterator;
  }

  async next(opts: { limit: number; waitMs: number; signal: AbortSignal }): Promise<SourceBatch> {
    if (this.ended) return { records: [], millisBehindLatest: 0, shardEnded: true };
    for (let waited = false; ; ) {
      await sleep(Math.max(this.backoffMs, this.lastCallAt + this.minIntervalMs - Date.now()), opts.signal);
      if (opts.signal.aborted) return { records: [], millisBehindLatest: 0, shardEnded: false };
      this.iterator ??= await this.acquire();
      this.lastCallAt = Date.now();
      let res;
      try {
        res = await this.client.send(new GetRecordsCommand({ ShardIterator: this.iterator, Limit: Math.min(10_000, opts.limit) }), { abortSignal: opts.signal });
      } catch (e) {
        if (e instanceof ExpiredIteratorException) {
          this.iterator = undefined;
          continue;
        }
        if (e instanceof ProvisionedThroughputExceededException) {
          this.backoffMs = Math.min(5_000, Math.max(250, this.backoffMs * 2));
          continue;
        }
        throw e;
      }
      this.backoffMs = 0;
      const records = (res.Records ?? []).map(fromKinesisRecord);
      if (records.length > 0) this.lastSequence = records[records.length - 1]!.sequenceNumber;
      this.iterator = res.NextShardIterator;
      this.ended = !res.NextShardIterator;
      if (records.length > 0 || this.ended || waited || opts.signal.aborted) {
        return { records, millisBehindLatest: res.MillisBehindLatest ?? 0, shardEnded: this.ended };
      }
      // Caught up: the next call after the idle time (never sooner than the per-shard limit allows).
      await sleep(Math.max(0, opts.waitMs - this.minIntervalMs), opts.signal);
      waited = true;
    }
  }

  close(): void {}
}
