// A leased shard's own state, for the workers that keep one per shard
// (two-phase partials, pass-through): an object in the checkpoint object
// store, a new one each save, made current by a compare-and-set of the
// shard's head in KV. A holder claims the head when it takes the shard, so a
// holder paused past its lease and resumed finds its next save (or, with
// isCurrent, its next emit) refused instead of overwriting its successor's.
// Also the consumer both read their shards through.
import type { KV, ObjectStore } from 'nats';
import type { ApplicationDefinition } from '../../contract/analytics.js';
import type { Store } from '../../stream/connect.js';
import { Consumer, directSource, kvLeaseStore } from '../../consumer/index.js';
import type { RecordProcessor } from '../../consumer/types.js';
import { checkpointStore, CHECKPOINT_BUCKET } from './checkpoint.js';
import { putObject } from './objectPut.js';
import { decodeState, encodeStateParts } from './stateBlob.js';
import type { PendingMessage } from './checkpoint.js';
import { InputFeed, inputStreamName } from './inputFeed.js';

export const SHARD_HEADS_BUCKET = 'shardline_analytics_shards';

/** Which state object is a shard's current one, and who writes it. */
interface StateHead { object?: string; holder: string }

/** A save refused: another worker holds the shard's state now. */
export class StateFencedError extends Error {}

/** The store's heads bucket and checkpoint object store, opened once per Store. */
const opened = new WeakMap<Store, Promise<{ heads: KV; objects: ObjectStore }>>();
function buckets(store: Store): Promise<{ heads: KV; objects: ObjectStore }> {
  let b = opened.get(store);
  if (!b) {
    b = (async () => ({ heads: await store.js.views.kv(SHARD_HEADS_BUCKET, { history: 1, replicas: store.replicas }), objects: await checkpointStore(store) }))();
    b.catch(() => opened.delete(store));
    opened.set(store, b);
  }
  return b;
}

/** `<kind>.<app, input and shard, base64url>`: part (two-phase partials) or pass (pass-through). */
export const shardStateKey = (kind: 'part' | 'pass', app: string, input: string, shard: string) =>
  `${kind}.${Buffer.from(`${app}\u0000${input}\u0000${shard}`).toString('base64url')}`;

export class ShardStateStore<T extends object> {
  private head?: { revision: number; value: StateHead };
  private readonly holder = `${process.pid}-${Math.random().toString(36).slice(2, 10)}`;
  private writes = 0;

  constructor(private readonly store: Store, readonly key: string) {}

  /** Makes this holder the shard's (an earlier holder's saves fail from now on) and reads the current state. */
  async claim(): Promise<T | undefined> {
    const { heads, objects } = await buckets(this.store);
    const e = await heads.get(this.key);
    const cur = e && e.operation === 'PUT' && e.length > 0 ? e.json<StateHead>() : undefined;
    const value: StateHead = { object: cur?.object, holder: this.holder };
    const revision = e && e.operation === 'PUT' ? await heads.update(this.key, JSON.stringify(value), e.revision) : await heads.create(this.key, JSON.stringify(value));
    this.head = { revision, value };
    const blob = cur?.object ? await objects.getBlob(cur.object) : null;
    return blob ? decodeState<T & { pending?: PendingMessage[] }>(blob) : undefined;
  }

  /** Writes `state` as a new object and makes it current; StateFencedError when another holder claimed the shard. */
  async save(state: T): Promise<void> {
    const { heads, objects } = await buckets(this.store);
    const object = `${this.key}.${this.holder}.${++this.writes}`;
    await putObject(this.store, CHECKPOINT_BUCKET, object, encodeStateParts(state), { fresh: true });
    const head = this.head!;
    const value: StateHead = { object, holder: this.holder };
    try {
      this.head = { revision: await heads.update(this.key, JSON.stringify(value), head.revision), value };
    } catch (e) {
      await objects.delete(object).catch(() => undefined);
      throw new StateFencedError(`another worker holds its state now (${(e as Error).message})`);
    }
    if (head.value.object) await objects.delete(head.value.object).catch(() => undefined);
  }

  /** The head is still this holder's last write (no successor claimed the shard). */
  async isCurrent(): Promise<boolean> {
    const { heads } = await buckets(this.store);
    const e = await heads.get(this.key);
    return !!e && e.revision === this.head?.revision;
  }
}

export interface ShardConsumerOptions {
  store: Store;
  definition: ApplicationDefinition;
  start: 'NOW' | 'TRIM_HORIZON';
  /** With NOW: records arrived from this time on (an API run's StartApplication), not only those after the shard is taken. */
  startAtMs?: number;
  failoverTimeMs: number;
  /** An API application's run: its consumer group (contract/analytics.ts analyticsConsumerGroup). */
  runId?: string;
  log: (m: string) => void;
}

/** How long a live batch waits for more records (well inside the workers' 1 s ROWTIME watermark lag). */
const LIVE_LINGER_MS = 100;

/**
 * The consumer over one input whose shards a replica leases, with a processor per leased shard.
 * `maxRecords`: most records per batch. Each batch costs DuckDB a table, an appender's flush and a
 * query (~2 ms whatever its size), so fewer, larger ones for the partial workers (50,000 rather than
 * 10,000 took ~10% off the tumbling aggregation's CPU per event, bench/README); pass-through workers
 * keep GetRecords' 10,000 (at 50,000 q0 cost ~15% more per event: each batch's output rows are held at once).
 */
export async function shardConsumer(o: ShardConsumerOptions, input: ApplicationDefinition['inputs'][number], processor: (shardId: string) => RecordProcessor, maxRecords = 10_000): Promise<Consumer> {
  return new Consumer({
    applicationName: InputFeed.consumerName(o.definition.name, input.id, o.runId),
    streamName: await inputStreamName(o.store, input),
    // Live, a batch waits up to 100 ms for more records: each batch costs a DuckDB fill and query (~1.5 ms
    // whatever its size), which at 20k events/s in batches of a message or two took most of a core.
    source: directSource(o.store, { lingerMs: LIVE_LINGER_MS }),
    leaseStore: kvLeaseStore(o.store),
    processorFactory: processor,
    initialPosition: o.start === 'TRIM_HORIZON' ? { type: 'TRIM_HORIZON' } : o.startAtMs !== undefined ? { type: 'AT_TIMESTAMP', timestampMs: o.startAtMs } : { type: 'LATEST' },
    failoverTimeMs: o.failoverTimeMs,
    idleTimeBetweenReadsMs: 200,
    shardSyncIntervalMs: 2000,
    maxRecords,
    // A caught-up shard's ROWTIME watermark follows the clock.
    callProcessRecordsEvenForEmptyRecordList: true,
    log: (m) => o.log(`input ${input.id}: ${m}`),
  });
}
