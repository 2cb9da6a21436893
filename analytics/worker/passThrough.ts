// Pass-through applications on every replica (sql/passThrough.ts decides which
// are): each replica takes shards of each input through consumer-group leases
// (the same consumer groups as inputFeed.ts and partials.ts) and runs, per
// shard, an engine holding the whole application. Its rows are emitted by the
// replica itself, exactly once, as the runner does it (emitter.ts): the
// messages are planned with ids named by the shard and the position of the
// batch's first record, saved with the shard's state (position and the
// planned messages, a new object made current by a compare-and-set on its
// head, so a holder paused past its lease cannot write over its successor),
// then published. A holder taking a shard over publishes the saved messages it
// does not find in the output shards (scanned from the tips recorded at
// planning), then reads on after the saved position.
//
// ROWTIME is the record's arrival, clamped by the shard's ROWTIME watermark
// (Engine.pushInput): newest arrival read on the shard less
// idleWatermarkLagMs, and a caught-up shard follows the clock. A record is
// clamped only when stored more than the lag after a later-stamped record of
// its own shard (or, caught up, after the lag); the one active replica uses
// the least watermark over all shards, so the two give the same ROWTIME
// except for records appended slower than the lag.
import { createHash } from 'node:crypto';
import type { ApplicationDefinition, OutputDef } from '../../contract/analytics.js';
import { inAppStreamName } from '../../contract/analytics.js';
import type { Store } from '../../stream/connect.js';
import type { Consumer } from '../../consumer/index.js';
import type { Checkpointer, PackedRecordBatch, RecordBatch, RecordProcessor } from '../../consumer/types.js';
import { Engine, type EngineState, type ReferenceTable, type Row } from '../engine/engine.js';
import { RecordMapper } from '../mapping.js';
import type { PendingMessage, ShardPos } from './checkpoint.js';
import { planStreamEmit, publishPending } from './emitter.js';
import { planFirehoseEmit } from './firehoseOutput.js';
import { inAppIndexOf } from './inputFeed.js';
import { runEpoch } from './partials.js';
import { packedColumns, shardColumns, type ShardColumns } from './shardColumns.js';
import { ColumnDecoder } from '../columnDecoder.js';
import { ColumnBatch } from '../engine/columnBatch.js';
import { parseSqlType, type SqlType } from '../engine/types.js';
import { shardConsumer, shardStateKey, ShardStateStore, StateFencedError } from './shardState.js';
import { combinerSpec, outputStream } from './runner.js';
import { formatRows } from './outputRecords.js';

export interface PassThroughOptions {
  store: Store;
  definition: ApplicationDefinition;
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

/** A shard's saved state: position, ROWTIME watermark, and the messages of the emit last planned. */
interface ShardState { epoch: string; pos?: ShardPos; maxArrivalMs: number | null; engine: EngineState; pending: PendingMessage[] }

/** Every replica: one Consumer per input, a ShardPassThrough per leased shard. */
export class PassThroughWorkers {
  private consumers: Consumer[] = [];
  readonly epoch: string;

  constructor(readonly o: PassThroughOptions) {
    this.epoch = runEpoch(o.definition, o.runId);
  }

  async start(): Promise<void> {
    for (const input of this.o.definition.inputs) {
      const c = await shardConsumer(this.o, input, (shardId) => new ShardPassThrough(this, input.id, shardId));
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
}

class ShardPassThrough implements RecordProcessor {
  private engine?: Engine;
  private pos?: ShardPos;
  private maxArrivalMs = Number.NEGATIVE_INFINITY;
  private savedPos?: ShardPos;
  private savedAt = 0;
  private leased?: ShardPos;
  private readonly state: ShardStateStore<ShardState>;
  private fenced = false;
  /** Rows drained from the engine and not yet planned into messages (kept across a failed plan). */
  private rows = new Map<string, Row[]>();
  private rowsFrom?: ShardPos;
  /** Planned and saved, not yet known to be published; `recover`: a publish failed part way, scan first. */
  private pending: PendingMessage[] = [];
  private recover = false;
  /** The saved state names an emit (a successor scans the output shards for it). */
  private savedPending = false;
  private readonly inApp: string[];
  private readonly mapper: RecordMapper;
  private readonly decoder: ColumnDecoder;
  /** Records decoded into every column (the pumps take rows), reused batch after batch. */
  private batch?: ColumnBatch;
  private readonly types: SqlType[];
  private readonly app: string;

  constructor(private readonly w: PassThroughWorkers, private readonly input: string, private readonly shard: string) {
    const def = w.o.definition.inputs.find((i) => i.id === input)!;
    this.inApp = Array.from({ length: def.parallelism }, (_, k) => inAppStreamName(def, k + 1));
    this.mapper = new RecordMapper(def.format, def.columns);
    this.decoder = new ColumnDecoder(def.format, def.columns);
    this.types = def.columns.map((c) => parseSqlType(c.sqlType));
    this.app = w.o.definition.name;
    this.state = new ShardStateStore(w.o.store, shardStateKey('pass', this.app, input, shard));
  }

  async initialize(): Promise<void> {
    const o = this.w.o;
    this.engine = await Engine.compile(combinerSpec(o.definition, o.references));
    this.batch = new ColumnBatch(this.types, this.types.map(() => true));
    // Claim the shard's state: from now on a write by an earlier holder fails its compare-and-set.
    const st = await this.state.claim();
    if (st && st.epoch === this.w.epoch) {
      this.engine.restore(st.engine);
      this.pos = this.savedPos = this.leased = st.pos;
      this.maxArrivalMs = st.maxArrivalMs ?? Number.NEGATIVE_INFINITY;
      // The previous holder's last emit may be half written: publish what the output shards lack.
      if (st.pending.length) {
        const r = await publishPending(o.store, st.pending, true);
        o.log(`shard ${this.input}/${this.shard}: recovered its last emit: ${r.published} message(s) published, ${r.skipped} already stored`);
      }
      o.log(`shard ${this.input}/${this.shard}: resumed at ${st.pos?.seq ?? 'its start'}`);
    }
  }

  async processRecords(batch: RecordBatch, cp: Checkpointer): Promise<void> {
    if (this.fenced || !this.engine) return;
    if (this.pending.length) await this.publish();
    const engine = this.engine;
    const cols = shardColumns(batch.records, this.pos, this.decoder, this.mapper, this.batch!, (e, t, data) => engine.error('MAPPING_ERROR', e, t, data.toString('utf8')));
    await this.process(cols, batch.records.length, batch.millisBehindLatest, batch.readAtMs ?? Date.now(), cp);
  }

  /** A backlog batch as stored: records decoded where they lie in their messages. */
  async processPackedRecords(batch: PackedRecordBatch, cp: Checkpointer): Promise<void> {
    if (this.fenced || !this.engine) return;
    if (this.pending.length) await this.publish();
    const engine = this.engine;
    const cols = packedColumns(batch.packed, this.pos, this.decoder, this.mapper, this.batch!, (e, t, data) => engine.error('MAPPING_ERROR', e, t, data.toString('utf8')));
    await this.process(cols, batch.packed.count, batch.millisBehindLatest, batch.readAtMs ?? Date.now(), cp);
  }

  /** `readAtMs`: when the batch was read (RecordBatch.readAtMs), the clock a caught-up shard's watermark follows. */
  private async process(cols: ShardColumns, records: number, millisBehindLatest: number, readAtMs: number, cp: Checkpointer): Promise<void> {
    const engine = this.engine!;
    const o = this.w.o;
    // A shard feeds one in-application stream.
    const k = this.inApp.length === 1 ? 0 : inAppIndexOf(this.shard, this.inApp.length) - 1;
    const { first, last, maxArrivalMs, fullRow } = cols;
    if (first) this.rowsFrom ??= first;
    if (last) this.pos = last;
    if (maxArrivalMs > this.maxArrivalMs) this.maxArrivalMs = maxArrivalMs;
    if (this.batch!.n) await engine.pushColumns(this.inApp[k]!, this.batch!, fullRow);
    const idle = records === 0 && millisBehindLatest === 0;
    const wm = (idle ? Math.max(this.maxArrivalMs, readAtMs) : this.maxArrivalMs) - o.idleWatermarkLagMs;
    if (Number.isFinite(wm)) await engine.advance(wm);
    for (const [s, list] of engine.drain()) {
      const l = this.rows.get(s);
      if (l) for (const r of list) l.push(r); // not a spread: a batch's rows can overflow the call stack
      else this.rows.set(s, list);
    }
    const out = o.definition.outputs.filter((x) => (this.rowsOf(x)?.length ?? 0) > 0);
    if (out.length) {
      await this.emit(out, cp);
    } else if (this.pos && (this.pos !== this.savedPos || this.savedPending) && !this.pending.length && Date.now() - this.savedAt >= o.checkpointIntervalMs) {
      // Rows that reach no output: the position moves on without an emit. A state still naming an emit
      // that has been published is saved without it, so a successor's scan of the output shards stays short.
      this.rows.clear();
      this.rowsFrom = undefined;
      await this.save(cp, []);
    }
  }

  private rowsOf(o: OutputDef): Row[] | undefined {
    const s = outputStream(o, this.rows.keys());
    return s === undefined ? undefined : this.rows.get(s);
  }

  private streamOf(o: OutputDef): string {
    return outputStream(o, this.rows.keys()) ?? o.name;
  }

  /** Plans the messages (a failure keeps the rows for the next call), saves them with the state, publishes them. */
  private async emit(outputs: OutputDef[], cp: Checkpointer): Promise<void> {
    const from = this.rowsFrom ?? this.pos!;
    // Named by the shard and the position of the first record the rows came from: the same after a restart.
    const idPrefix = `${this.w.epoch}:t:${this.input}:${this.shard}:${from.seq}.${from.sub ?? ''}`;
    const pkBase = createHash('sha256').update(idPrefix).digest('hex').slice(0, 16);
    const msgs: PendingMessage[] = [];
    for (const x of outputs) {
      const rows = this.rowsOf(x)!;
      const cols = this.engine!.columns(this.streamOf(x)) ?? [];
      const records = formatRows(rows, cols, x.format, pkBase);
      if (x.destination.kind === 'stream') for (const m of await planStreamEmit(this.w.o.store, x.id, x.destination.name, idPrefix, records)) msgs.push(m);
      else if (x.destination.kind === 'firehose') for (const m of await planFirehoseEmit(this.w.o.store, x.id, x.destination.name, idPrefix, records)) msgs.push(m);
    }
    this.rows.clear();
    this.rowsFrom = undefined;
    await this.save(cp, msgs);
    this.pending = msgs;
    this.recover = false;
    // Fault injection for the exactly-once tests, as in runner.ts: die right after the save, or after the emit's
    // first message; SHARDLINE_TEST_CRASH_AFTER_EMITS: only from that many emits on.
    const crash = msgs.length && ++emits >= Number(process.env.SHARDLINE_TEST_CRASH_AFTER_EMITS ?? 0) ? process.env.SHARDLINE_TEST_CRASH_AT : undefined;
    if (crash === 'before-emit') process.kill(process.pid, 'SIGKILL');
    if (crash === 'mid-emit' && msgs.length > 1) {
      await publishPending(this.w.o.store, msgs.slice(0, 1), false);
      process.kill(process.pid, 'SIGKILL');
    }
    await this.publish();
  }

  /**
   * Publishes the saved emit, message by message, each after checking that the shard's state head is still
   * this holder's: a holder paused past its lease (SIGSTOP, a long GC) and resumed finds its successor's head
   * and leaves the emit to it (the successor publishes what the output lacks). What remains is a pause between
   * that check and the message reaching the server, longer than the lease: that one message could be stored twice.
   */
  private async publish(): Promise<void> {
    const recover = this.recover;
    this.recover = true;
    while (this.pending.length) {
      if (!(await this.state.isCurrent())) {
        this.fenced = true;
        throw new Error(`shard ${this.input}/${this.shard}: another worker holds its state now; its emit is left to it`);
      }
      await publishPending(this.w.o.store, this.pending.slice(0, 1), recover);
      this.pending.shift();
    }
    this.recover = false;
  }

  private async save(cp: Checkpointer, pending: PendingMessage[]): Promise<void> {
    const st: ShardState = { epoch: this.w.epoch, pos: this.pos, maxArrivalMs: Number.isFinite(this.maxArrivalMs) ? this.maxArrivalMs : null, engine: this.engine!.snapshot(), pending };
    try {
      await this.state.save(st);
    } catch (e) {
      if (!(e instanceof StateFencedError)) throw e;
      this.fenced = true;
      throw new Error(`shard ${this.input}/${this.shard}: ${e.message}`);
    }
    this.savedAt = Date.now();
    this.savedPos = this.pos;
    this.savedPending = pending.length > 0;
    const p = this.pos;
    // The lease trails the saved state (a successor without the state resumes there).
    if (p && (!this.leased || p.seq !== this.leased.seq || p.sub !== this.leased.sub)) {
      await cp.checkpoint(p.seq, p.sub);
      this.leased = p;
    }
  }

  async shardEnded(cp: Checkpointer): Promise<void> {
    if (this.engine && !this.fenced) {
      if (this.pending.length) await this.publish();
      const out = this.w.o.definition.outputs.filter((x) => (this.rowsOf(x)?.length ?? 0) > 0);
      if (out.length) await this.emit(out, cp);
      else if (this.pos !== this.savedPos) await this.save(cp, []);
    }
    await cp.checkpoint();
    this.engine?.close();
    this.engine = undefined;
  }

  async shutdownRequested(cp: Checkpointer): Promise<void> {
    if (!this.engine) return;
    try {
      if (!this.fenced) {
        if (this.pending.length) await this.publish();
        const out = this.w.o.definition.outputs.filter((x) => (this.rowsOf(x)?.length ?? 0) > 0);
        if (out.length) await this.emit(out, cp);
        else if (this.pos !== this.savedPos) await this.save(cp, []);
      }
    } catch (e) {
      this.w.o.log(`shard ${this.input}/${this.shard}: final save: ${(e as Error).message}`);
    }
    this.engine.close();
    this.engine = undefined;
  }

  leaseLost(): void {
    this.w.o.log(`shard ${this.input}/${this.shard}: lease lost`);
    this.engine?.close();
    this.engine = undefined;
  }
}

let emits = 0;
