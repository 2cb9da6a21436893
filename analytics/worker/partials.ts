// Phase 1 of two-phase aggregation: every replica takes shards of each input
// through consumer-group leases (inputFeed.ts's application names) and runs,
// per shard, an engine holding only the partial pumps (sql/decompose.ts).
// When the shard's ROWTIME watermark passes a window, the window's partial
// rows go to the application's partials stream (JetStream) under a
// deterministic message id, then the shard's watermark; the shard's state
// (position, open windows) is saved every checkpoint interval, after what it
// covers is published, and the lease follows it.
// A replica killed mid-window leaves its shards to others, which resume from
// the saved state: partials published again carry the same ids (JetStream's
// duplicate window, and the combiner keeps one partial per window and shard).
import { createHash } from 'node:crypto';
import { nanos, StorageType } from 'nats';
import type { ApplicationDefinition } from '../../contract/analytics.js';
import { inAppStreamName } from '../../contract/analytics.js';
import type { Store } from '../../stream/connect.js';
import type { Consumer } from '../../consumer/index.js';
import type { Checkpointer, PackedRecordBatch, RecordBatch, RecordProcessor } from '../../consumer/types.js';
import { Engine, ERROR_STREAM, type EngineState, type ReferenceTable } from '../engine/engine.js';
import { parseSqlType, type SqlType, type Value } from '../engine/types.js';
import { ColumnBatch } from '../engine/columnBatch.js';
import { RecordMapper } from '../mapping.js';
import { ColumnDecoder } from '../columnDecoder.js';
import type { Decomposition } from '../sql/decompose.js';
import { inAppIndexOf, type ShardPos } from './inputFeed.js';
import { packedColumns, shardColumns, type BatchDecoder, type MappingErrors, type ShardColumns } from './shardColumns.js';
import { shardConsumer, shardStateKey, ShardStateStore, StateFencedError } from './shardState.js';
import { preAggregation } from './preAggregation.js';
import { encodePartialMessage } from './partialFrame.js';

/** What phase 1 publishes, in order per shard: partials of the windows a watermark closes, then the watermark. */
export type PartialMessage =
  | { type: 'partial'; input: string; shard: string; stream: string; t: number; chunk: number; rows?: Value[][]; cols?: Value[][] }
  | { type: 'errors'; input: string; shard: string; errors: [name: string, message: string, dataRowtime: number | null, dataRow: string, pump: string][] }
  | { type: 'watermark'; input: string; shard: string; wm: number; ewm?: Record<string, number>; idle?: boolean }
  | { type: 'end'; input: string; shard: string };

type ErrorRow = [name: string, message: string, dataRowtime: number | null, dataRow: string, pump: string];
interface RecordErrors { pos: ShardPos; message: PartialMessage & { type: 'errors' } }

/** Partial rows per message (a row is a few dozen bytes of JSON; NATS takes 1 MiB by default). Tests lower it to exercise chunks. */
const PARTIAL_CHUNK_ROWS = Number(process.env.SHARDLINE_TEST_PARTIAL_CHUNK_ROWS ?? 2000);

/** Most records a shard's batch holds (shardConsumer): five times GetRecords' limit. A read also stops at 10 MiB (consumer/sources/direct.ts): ~45,000 Nexmark records. */
const SHARD_BATCH_RECORDS = 50_000;

/** A caught-up shard without records this long stops holding event-time windows back (tests lower it). */
const EVENT_IDLE_MS = Number(process.env.SHARDLINE_EVENT_IDLE_MS ?? 5000);

const token = (app: string) => createHash('sha256').update(app).digest('hex').slice(0, 20);
export const partialsStreamName = (app: string) => `ANALYTICS_PARTIALS_${token(app)}`;
const partialsSubject = (app: string) => `shardline.analytics.partials.${token(app)}`;
/** The epoch of a definition: shard states and message ids of another definition are not reused. */
export const definitionEpoch = (d: ApplicationDefinition) => createHash('sha256').update(JSON.stringify(d)).digest('hex').slice(0, 16);

/**
 * The epoch of a definition's run: an API application's fresh StartApplication (a new runId) neither resumes
 * an earlier run's shard states nor has its messages dropped as duplicates of that run's. Without a run id
 * (AnalyticsApp resources) the definition's epoch, as before.
 */
export const runEpoch = (d: ApplicationDefinition, runId?: string) => (runId ? `${definitionEpoch(d)}.${runId}` : definitionEpoch(d));

export async function ensurePartialsStream(store: Store, app: string): Promise<string> {
  const name = partialsStreamName(app);
  let info;
  try {
    info = await store.jsm.streams.info(name);
  } catch {
    await store.jsm.streams.add({
      name, subjects: [partialsSubject(app)], storage: StorageType.File, num_replicas: store.replicas,
      // Longer than any restart: a partial published again after a crash is dropped by id.
      duplicate_window: nanos(10 * 60_000), max_age: nanos(24 * 3600_000),
      // The combiner reads it with direct gets (messagesInRange).
      allow_direct: true,
    }).catch(async (e) => { await store.jsm.streams.info(name).catch(() => { throw e; }); });
    return name;
  }
  // A stream an earlier worker created without direct gets.
  if (!info.config.allow_direct) await store.jsm.streams.update(name, { ...info.config, allow_direct: true });
  return name;
}

/** Messages carry the definition's epoch: the combiner ignores those of an earlier definition. */
const encode = (epoch: string, m: PartialMessage, from?: number, to?: number) => encodePartialMessage({ ...m, epoch }, from, to);

async function publish(store: Store, app: string, epoch: string, m: PartialMessage): Promise<void> {
  await store.js.publish(partialsSubject(app), encode(epoch, m));
}

/** A message of the shard's outbox: encoded when planned, published under its id. */
interface Planned { id: string; payload: Buffer }

/** `pending`: the outbox as it was when a batch's engine errors were planned (see process()). */
interface ShardState { epoch: string; pos?: ShardPos; maxArrivalMs: number | null; engine: EngineState; pending?: Planned[] }

export interface PartialWorkersOptions {
  store: Store;
  definition: ApplicationDefinition;
  decomposition: Extract<Decomposition, { decomposable: true }>;
  references: ReferenceTable[];
  start: 'NOW' | 'TRIM_HORIZON';
  /** With NOW: where an API run starts (shardState.ts ShardConsumerOptions). */
  startAtMs?: number;
  failoverTimeMs: number;
  idleWatermarkLagMs: number;
  checkpointIntervalMs: number;
  /** An API application's run (absent for AnalyticsApp resources): the epoch and consumer group are the run's. */
  runId?: string;
  log: (m: string) => void;
}

/** Phase 1 on this replica: one Consumer per input; a ShardAggregator per leased shard. */
export class PartialWorkers {
  private consumers: Consumer[] = [];
  readonly epoch: string;

  constructor(private readonly o: PartialWorkersOptions) {
    this.epoch = runEpoch(o.definition, o.runId);
  }

  async start(): Promise<void> {
    await ensurePartialsStream(this.o.store, this.o.definition.name);
    for (const input of this.o.definition.inputs) {
      const c = await shardConsumer(this.o, input, (shardId) => new ShardAggregator(this, input.id, shardId), SHARD_BATCH_RECORDS);
      this.consumers.push(c);
      await c.start();
    }
  }

  async stop(): Promise<void> {
    for (const c of this.consumers) await c.stop();
  }

  heldShards(): string[] {
    return this.consumers.flatMap((c) => c.heldShards());
  }

  /** @internal */ get opts() { return this.o; }
}

class ShardAggregator implements RecordProcessor {
  private engine?: Engine;
  private pos?: ShardPos;
  private maxArrivalMs = Number.NEGATIVE_INFINITY;
  private sentWm = Number.NEGATIVE_INFINITY;
  private sentWmAt = 0;
  private savedAt = 0;
  private leased?: ShardPos;
  private readonly state: ShardStateStore<ShardState>;
  private rowsAt = Date.now();
  private fenced = false;
  private outbox: Planned[] = [];
  private inApp: string[];
  private mapper: RecordMapper;
  /** Records are decoded into this batch's columns (those the partial pumps read), reused batch after batch. */
  private batch?: ColumnBatch;
  private readonly types: SqlType[];
  private decoder?: BatchDecoder;
  private readonly app: string;

  constructor(private readonly w: PartialWorkers, private readonly input: string, private readonly shard: string) {
    const def = w.opts.definition.inputs.find((i) => i.id === input)!;
    this.inApp = Array.from({ length: def.parallelism }, (_, k) => inAppStreamName(def, k + 1));
    this.mapper = new RecordMapper(def.format, def.columns);
    this.decoder = new ColumnDecoder(def.format, def.columns);
    this.types = def.columns.map((c) => parseSqlType(c.sqlType));
    this.app = w.opts.definition.name;
    this.state = new ShardStateStore(w.opts.store, shardStateKey('part', this.app, input, shard));
  }

  async initialize(): Promise<void> {
    const o = this.w.opts;
    this.engine = await Engine.compile({
      code: o.decomposition.partialCode,
      inputs: o.definition.inputs.flatMap((i) => Array.from({ length: i.parallelism }, (_, k) => ({
        name: inAppStreamName(i, k + 1), columns: i.columns,
        ...(i.watermark ? { watermark: { column: i.watermark.column, delayMs: i.watermark.delaySeconds * 1000 } } : {}),
      }))),
      references: o.references,
      preAggregate: Object.fromEntries(o.decomposition.pumps.flatMap((p) => {
        const pre = preAggregation(p);
        return pre ? [[p.name, pre]] : [];
      })),
    });
    this.batch = new ColumnBatch(this.types, this.engine.inputColumnsRead(this.inApp[this.inAppIndex()]!));
    // Claim the shard's state: from now on a write by an earlier holder fails its compare-and-set.
    const st = await this.state.claim();
    if (st && st.epoch === this.w.epoch) {
      this.engine.restore(st.engine);
      this.pos = st.pos;
      this.leased = st.pos;
      this.maxArrivalMs = st.maxArrivalMs ?? Number.NEGATIVE_INFINITY;
      // What its holder had planned when it saved: published first (JetStream drops what it already has).
      this.outbox = st.pending ?? [];
      o.log(`shard ${this.input}/${this.shard}: resumed at ${st.pos?.seq ?? 'its start'}`);
    }
  }

  async processRecords(batch: RecordBatch, cp: Checkpointer): Promise<void> {
    if (this.fenced || !this.engine) return;
    const mapping: RecordErrors[] = [];
    const cols = shardColumns(batch.records, this.pos, this.decoder, this.mapper, this.batch!, this.mappingError(mapping));
    await this.process(cols, batch.records.length, batch.millisBehindLatest, batch.readAtMs ?? Date.now(), mapping, cp);
  }

  /** Decoded into columns (strings copied out, mapping errors' data as text): the bytes are not read after processing. */
  readonly packedBytesDuringCallOnly = true;

  /** A backlog batch as stored: records decoded where they lie in their messages. */
  async processPackedRecords(batch: PackedRecordBatch, cp: Checkpointer): Promise<void> {
    if (this.fenced || !this.engine) return;
    const mapping: RecordErrors[] = [];
    const cols = packedColumns(batch.packed, this.pos, this.decoder, this.mapper, this.batch!, this.mappingError(mapping));
    await this.process(cols, batch.packed.count, batch.millisBehindLatest, batch.readAtMs ?? Date.now(), mapping, cp);
  }

  private errorsMessage(): PartialMessage & { type: 'errors' } {
    return { type: 'errors', input: this.input, shard: this.shard, errors: [] };
  }

  /** A record's mapping errors, one message per record (named by its position, however reads batch it). */
  private mappingError(list: RecordErrors[]): MappingErrors {
    return (e, t, data, pos) => {
      const row: ErrorRow = ['MAPPING_ERROR', e, t, data.toString('utf8').slice(0, 49152), ''];
      const last = list[list.length - 1];
      if (last && last.pos.seq === pos.seq && last.pos.sub === pos.sub) last.message.errors.push(row);
      else list.push({ pos, message: { ...this.errorsMessage(), errors: [row] } });
    };
  }

  /** `readAtMs`: when the batch was read (RecordBatch.readAtMs), the clock a caught-up shard's watermarks follow. */
  private async process(cols: ShardColumns, records: number, millisBehindLatest: number, readAtMs: number, mapping: RecordErrors[], cp: Checkpointer): Promise<void> {
    const errors = this.errorsMessage();
    const engine = this.engine!;
    const o = this.w.opts;
    const { first: firstPos, last, maxArrivalMs, fullRow } = cols;
    if (last) this.pos = last;
    if (maxArrivalMs > this.maxArrivalMs) this.maxArrivalMs = maxArrivalMs;
    if (this.batch!.n) await engine.pushColumns(this.inApp[this.inAppIndex()]!, this.batch!, fullRow);
    const idle = records === 0 && millisBehindLatest === 0;
    if (records) this.rowsAt = readAtMs;
    // Caught up, the watermark follows the time of the read, not of now: a replica paused past its lease
    // (SIGSTOP, a long GC) and resumed would otherwise close, with the clock, windows whose later records
    // it never read, and publish them first under the ids its successor's complete partials then take.
    const wm = (idle ? Math.max(this.maxArrivalMs, readAtMs) : this.maxArrivalMs) - o.idleWatermarkLagMs;
    if (Number.isFinite(wm)) await engine.advance(wm);
    // Idle (caught up, no records for EVENT_IDLE_MS): the shard's event-time windows close now, so that the
    // combiner can leave it out of its event-time watermark without losing its rows; later rows for them are late.
    const eventIdle = idle && readAtMs - this.rowsAt >= EVENT_IDLE_MS;
    if (eventIdle) await engine.closeEventTimeWindows();
    // Engine errors are named by their batch, and which rows are late or fail depends on the batches: a
    // successor resuming from an earlier state reads other batches and would report them again, otherwise.
    // So the state after such a batch is saved, with the outbox, before anything of it is published: a
    // successor publishes the same messages and never evaluates those records again.
    const errorsPlanned = this.collect(errors, firstPos, mapping);
    if (errorsPlanned) await this.save(cp, true);
    crashForTest(errorsPlanned, 'errors-saved');
    const published = await this.publishOutbox();
    crashForTest(errorsPlanned, 'errors-published');
    // Watermarks at most every 250 ms (they only matter at window ends), and with every partial.
    if (Number.isFinite(wm) && wm > this.sentWm && (published || Date.now() - this.sentWmAt >= 250)) {
      this.sentWmAt = Date.now();
      await publish(o.store, this.app, this.w.epoch, { type: 'watermark', input: this.input, shard: this.shard, wm, ...this.eventTime(eventIdle) });
      this.sentWm = wm;
    }
    // Partials and mapping errors are named by what they hold: a successor resuming from an older state
    // publishes them again under the same ids, which JetStream drops (its duplicate window outlasts any
    // checkpoint interval, and a purge keeps it). So the state is saved every checkpointIntervalMs (saving
    // at every window close wrote each shard's open windows, 20k rows at 100k keys, once a second).
    if (Date.now() - this.savedAt >= o.checkpointIntervalMs) await this.save(cp);
  }

  /** The in-application stream this shard feeds (one per shard), as an index of inApp. */
  private inAppIndex(): number {
    return this.inApp.length === 1 ? 0 : inAppIndexOf(this.shard, this.inApp.length) - 1;
  }

  /**
   * Event-time pumps: each one's watermark on this shard (its greatest event time less the allowed
   * lateness, where its engine closed windows), and whether the shard is idle (caught up and without
   * records for EVENT_IDLE_MS), so that it does not hold the other shards' windows back.
   */
  private eventTime(idle: boolean): { ewm?: Record<string, number>; idle?: boolean } {
    const pumps = this.w.opts.decomposition.pumps.filter((p) => p.eventTime);
    if (!pumps.length) return {};
    const ewm: Record<string, number> = {};
    for (const p of pumps) {
      const c = this.engine!.closedUpTo(p.name);
      if (c !== null && c !== undefined) ewm[p.partialStream] = c;
    }
    return { ewm, idle };
  }

  /** Messages for the windows the engine closed (one per window) and error rows, into the outbox; true when it planned engine errors. */
  private collect(errors: PartialMessage & { type: 'errors' }, firstPos: ShardPos | undefined, mapping: RecordErrors[] = []): boolean {
    // Pre-aggregated windows come as columns, in key order: chunks of them, column by column.
    for (const [stream, list] of this.engine!.drainFolded()) {
      for (const w of list) {
        // Each chunk encoded from the window's columns (rows i…), not from slices of them.
        for (let c = 0, i = 0; i < w.n; c++, i += PARTIAL_CHUNK_ROWS) {
          const m: PartialMessage = { type: 'partial', input: this.input, shard: this.shard, stream, t: w.t, chunk: c, cols: w.cols };
          this.outbox.push({ id: this.partialId(stream, w.t, c), payload: encode(this.w.epoch, m, i, Math.min(w.n, i + PARTIAL_CHUNK_ROWS)) });
        }
      }
    }
    for (const [stream, list] of this.engine!.drain()) {
      if (stream === ERROR_STREAM) {
        for (const r of list) errors.errors.push([String(r.v[2]), String(r.v[3]), r.v[4] as number | null, String(r.v[5]), String(r.v[6] ?? '')]);
        continue;
      }
      const byT = new Map<number, Value[][]>();
      for (const r of list) {
        let l = byT.get(r.t);
        if (!l) byT.set(r.t, (l = []));
        l.push(r.v);
      }
      for (const [t, rows] of [...byT].sort((a, b) => a[0] - b[0])) {
        // Chunks keep each message under NATS's payload limit (many keys in one window).
        for (let c = 0, i = 0; i < rows.length; c++, i += PARTIAL_CHUNK_ROWS) {
          this.plan({ type: 'partial', input: this.input, shard: this.shard, stream, t, chunk: c, rows: rows.slice(i, i + PARTIAL_CHUNK_ROWS) }, this.partialId(stream, t, c));
        }
      }
    }
    // A record's mapping errors are named by the record: reported once even when a successor reads it again in other batches.
    for (const x of mapping) this.plan(x.message, `${this.w.epoch}:m:${this.input}:${this.shard}:${x.pos.seq}:${x.pos.sub ?? ''}`);
    // The engine's (late rows, evaluation errors) are named by the batch's records.
    if (!errors.errors.length) return false;
    this.plan(errors, `${this.w.epoch}:e:${this.input}:${this.shard}:${firstPos?.seq ?? 'x'}:${firstPos?.sub ?? ''}:${this.pos?.seq ?? ''}`);
    return true;
  }

  private plan(m: PartialMessage, id: string): void {
    this.outbox.push({ id, payload: encode(this.w.epoch, m) });
  }

  /** A partial chunk's message id: what it holds, whoever publishes it. */
  private partialId(stream: string, t: number, chunk: number): string {
    return `${this.w.epoch}:p:${this.input}:${this.shard}:${stream}:${t}:${chunk}`;
  }

  /** Publishes the outbox in order; what fails stays for the next call (the engine has already let go of it). */
  private async publishOutbox(): Promise<boolean> {
    const n = this.outbox.length;
    while (this.outbox.length) {
      const { payload, id } = this.outbox[0]!;
      await this.w.opts.store.js.publish(partialsSubject(this.app), payload, { msgID: id });
      this.outbox.shift();
    }
    return n > 0;
  }

  /** `withOutbox`: the messages planned and not yet published go into the state (see process()). */
  private async save(cp: Checkpointer, withOutbox = false): Promise<void> {
    const st: ShardState = { epoch: this.w.epoch, pos: this.pos, maxArrivalMs: Number.isFinite(this.maxArrivalMs) ? this.maxArrivalMs : null, engine: this.engine!.snapshot() };
    if (withOutbox && this.outbox.length) st.pending = [...this.outbox];
    try {
      await this.state.save(st);
    } catch (e) {
      if (!(e instanceof StateFencedError)) throw e;
      // A shard holder cut off past its lease (a long pause) finds its state write refused and stops.
      this.fenced = true;
      throw new StateFencedError(`shard ${this.input}/${this.shard}: ${e.message}`);
    }
    this.savedAt = Date.now();
    const p = this.pos;
    if (p && (!this.leased || p.seq !== this.leased.seq || p.sub !== this.leased.sub)) {
      await cp.checkpoint(p.seq, p.sub);
      this.leased = p;
    }
  }

  async shardEnded(cp: Checkpointer): Promise<void> {
    if (!this.engine) { await cp.checkpoint(); return; }
    // Every window of a finished shard is complete.
    await this.engine.advance(Number.MAX_SAFE_INTEGER);
    await this.engine.closeEventTimeWindows();
    if (this.collect({ type: 'errors', input: this.input, shard: this.shard, errors: [] }, undefined)) await this.save(cp, true);
    await this.publishOutbox();
    await this.save(cp);
    await publish(this.w.opts.store, this.app, this.w.epoch, { type: 'end', input: this.input, shard: this.shard });
    await cp.checkpoint();
    this.engine!.close();
    this.engine = undefined;
  }

  async shutdownRequested(cp: Checkpointer): Promise<void> {
    if (!this.engine) return;
    // Partials first: a state saved past windows whose partials were never published would lose them.
    await this.publishOutbox().then(() => this.save(cp)).catch((e) => this.w.opts.log(`shard ${this.shard}: final save: ${(e as Error).message}`));
    this.engine.close();
    this.engine = undefined;
  }

  leaseLost(): void {
    this.w.opts.log(`shard ${this.input}/${this.shard}: lease lost`);
    this.engine?.close();
    this.engine = undefined;
  }
}

/** Fault injection for the exactly-once tests (SHARDLINE_TEST_CRASH_AT): die at a named point of a batch with engine errors. */
function crashForTest(errorsPlanned: boolean, at: 'errors-saved' | 'errors-published'): void {
  if (errorsPlanned && process.env.SHARDLINE_TEST_CRASH_AT === at) process.kill(process.pid, 'SIGKILL');
}
