// Batching mode: Lambda's event source mapping for Kinesis, as a consumer
// application. The Consumer underneath does leases, lineage and checkpoints;
// each shard's RecordProcessor is a ShardBatcher that turns records into
// function invocations with Lambda's batching, retry and failure semantics.
import { Consumer } from '../consumer.js';
import type { ConsumerOptions } from '../types.js';
import { ShardBatcher, type BatchHandler } from './shardBatcher.js';
import { validateSettings, type EventSourceMappingSettings } from './settings.js';

export interface EventSourceMappingOptions extends Omit<ConsumerOptions, 'processorFactory'>, EventSourceMappingSettings {
  /** The function: resolves when the batch is processed; throws to fail it. */
  handler: BatchHandler;
  /** Clock for batching windows and record age (tests). */
  now?: () => number;
}

export class EventSourceMapping {
  private readonly consumer: Consumer;
  private readonly batchers = new Set<ShardBatcher>();

  constructor(o: EventSourceMappingOptions) {
    validateSettings(o);
    const functionArn = o.functionArn ?? `arn:aws:lambda:us-east-1:000000000000:function:${o.applicationName}`;
    const streamArn = o.streamArn ?? `arn:aws:kinesis:us-east-1:000000000000:stream/${o.streamName}`;
    const log = o.log ?? (() => undefined);
    this.consumer = new Consumer({
      ...o,
      // Reads are bounded so back-pressure stays close to BatchSize × ParallelizationFactor.
      maxRecords: Math.min(o.maxRecords ?? 10_000, Math.max(100, (o.batchSize ?? 100) * (o.parallelizationFactor ?? 1))),
      processorFactory: (shardId) => {
        const b = new ShardBatcher({ shardId, handler: o.handler, settings: o, functionArn, streamArn, now: o.now ?? Date.now, log, onClose: () => this.batchers.delete(b) });
        this.batchers.add(b);
        return b;
      },
    });
  }

  get workerId(): string {
    return this.consumer.workerId;
  }

  heldShards(): string[] {
    return this.consumer.heldShards();
  }

  start(): Promise<void> {
    return this.consumer.start();
  }

  /** Batches in flight finish (failing ones are not retried any more), the done prefix is checkpointed, leases are released. */
  async stop(): Promise<void> {
    for (const b of this.batchers) b.halt();
    await this.consumer.stop();
  }
}

export type { BatchHandler } from './shardBatcher.js';
export { eventBytes } from './shardBatcher.js';
