// Runs one application: inputs → record mapping → engine → outputs, with the
// checkpoint-then-emit cycle that makes each window's rows reach a DataStream
// exactly once (emitter.ts), also when the process is killed mid-window.
import { randomUUID } from 'node:crypto';
import type { ApplicationDefinition, OutputDef } from '../../contract/analytics.js';
import { inAppStreamName } from '../../contract/analytics.js';
import type { Store } from '../../stream/connect.js';
import { Engine, ERROR_STREAM, type EngineSpec, type ReferenceTable } from '../engine/engine.js';
import type { Value } from '../engine/types.js';
import { RecordMapper } from '../mapping.js';
import { InputFeed, inAppIndexOf, inputStreamName } from './inputFeed.js';
import { checkpointStore, loadCheckpoint, saveCheckpoint, type Checkpoint, type PendingLambda, type PendingMessage } from './checkpoint.js';
import { planStreamEmit, publishPending } from './emitter.js';
import { planFirehoseEmit } from './firehoseOutput.js';
import { EmitRows, formatRows } from './outputRecords.js';
import { deliverToFunction, functionUrl } from './lambdaOutput.js';
import { httpEmit, postWithRetry, type PendingHttp } from './httpOutput.js';
import type { ObjectStore } from 'nats';
import type { ReferenceLoader } from './references.js';
import { combinerCode, type Decomposition } from '../sql/decompose.js';
import { Combiner } from './combiner.js';

export interface RunnerOptions {
  store: Store;
  definition: ApplicationDefinition;
  versionId: number;
  /** An API application's run: its inputs' consumer groups and the combiner's epoch (absent for AnalyticsApp resources). */
  runId?: string;
  /** Resume from the checkpoint (worker restart, LAST_STOPPED_POINT) or start afresh at `startingPositions`. */
  resume: boolean;
  startingPositions: Record<string, 'NOW' | 'TRIM_HORIZON'>;
  checkpointIntervalMs: number;
  idleWatermarkLagMs: number;
  loadReferences?: ReferenceLoader;
  /** Shard leases of this worker are taken over by others this long after it stops renewing. */
  leaseMs: number;
  /** Two-phase aggregation: this runner is the combiner; replicas' PartialWorkers read the inputs. */
  combine?: Extract<Decomposition, { decomposable: true }>;
  /** LambdaOutput: ARN → URL map, call timeout and the applicationArn the function is told. */
  lambda?: { functions: Record<string, string>; timeoutMs: number; applicationArn: string };
  log: (m: string) => void;
}

/** Rows of one emit for a LambdaOutput, kept in the checkpoint until the function has taken all of them. */
export type { PendingLambda };

export class ApplicationRunner {
  private engine!: Engine;
  private os!: ObjectStore;
  private readers = new Map<string, { feed: InputFeed; mapper: RecordMapper; inApp: string[] }>();
  private epoch: string = randomUUID();
  private combiner?: Combiner;
  private emitSeq = 0;
  private lastCheckpoint = 0;
  private stopping = false;
  private loop?: Promise<void>;
  private stopSignal = new AbortController();
  /** LambdaOutput emits not yet accepted by the function (at-least-once: they ride along in every checkpoint). */
  private undeliveredLambda: PendingLambda[] = [];
  /** Rows emitted so far per output (metrics, tests). */
  readonly emittedRows = new Map<string, number>();

  constructor(readonly o: RunnerOptions) {}

  get name(): string {
    return this.o.definition.name;
  }

  async start(): Promise<void> {
    const d = this.o.definition;
    this.os = await checkpointStore(this.o.store);
    const references = d.references.length ? await this.o.loadReferences!(d.references) : [];
    this.engine = await Engine.compile(combinerSpec(d, references, this.o.combine));
    // A LambdaOutput without a URL is a configuration error: refuse to start rather than hold rows forever.
    for (const o of d.outputs) if (o.destination.kind === 'lambda') functionUrl(o.destination.arn, this.o.lambda?.functions ?? {});
    const ckpt = this.o.resume ? await loadCheckpoint(this.os, this.name) : undefined;
    if (ckpt) {
      this.epoch = ckpt.epoch;
      this.emitSeq = ckpt.emitSeq;
      this.engine.restore(ckpt.engine);
      // The emit the previous run may have left half written: publish what is missing.
      if (ckpt.pending.length) {
        const r = await publishPending(this.o.store, ckpt.pending, true);
        this.o.log(`${this.name}: recovered emit ${ckpt.emitSeq - 1}: ${r.published} message(s) published, ${r.skipped} already stored`);
      }
      for (const h of ckpt.pendingHttp ?? []) await postWithRetry(h);
      this.undeliveredLambda = ckpt.pendingLambda ?? [];
    }
    if (this.o.combine) {
      this.combiner = new Combiner(this.o.store, d, this.o.combine, this.o.log, this.o.runId);
      this.combiner.restore(ckpt?.combiner);
      // A fresh API run: its replicas' partial workers start after this (once the application is RUNNING).
      if (!this.o.resume) await this.combiner.startAtEnd();
    }
    for (const i of this.o.combine ? [] : d.inputs) {
      const feed = new InputFeed({
        store: this.o.store, applicationName: this.name, inputId: i.id, runId: this.o.runId, streamName: await inputStreamName(this.o.store, i),
        start: this.o.startingPositions[i.id] ?? 'NOW', saved: { ...(ckpt?.sequences?.[i.id] ?? {}) }, fresh: !ckpt,
        failoverTimeMs: this.o.leaseMs, log: this.o.log,
      });
      await feed.start();
      this.readers.set(i.id, { feed, mapper: new RecordMapper(i.format, i.columns), inApp: Array.from({ length: i.parallelism }, (_, k) => inAppStreamName(i, k + 1)) });
    }
    // A fresh start is recorded at once, so a crash before the first window resumes from here, not from an older run.
    await this.commit();
    this.loop = this.run();
  }

  /** Graceful: a last checkpoint (and emit) with everything read so far. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.stopSignal.abort();
    await this.loop?.catch(() => undefined);
    // After the last checkpoint: the leases take its positions and are released.
    for (const r of this.readers.values()) await r.feed.stop().catch((e) => this.o.log(`${this.name}: stopping input: ${(e as Error).message}`));
    this.engine?.close();
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (!this.stopping) {
      try {
        const n = await this.step();
        failures = 0;
        if (n === 0) await sleep(100);
      } catch (e) {
        failures++;
        this.o.log(`${this.name}: ${(e as Error).message}`);
        await sleep(Math.min(5000, 200 * failures));
      }
    }
    await this.commit().catch((e) => this.o.log(`${this.name}: final checkpoint failed: ${(e as Error).message}`));
  }

  /** One round: read every shard, evaluate, advance the watermark, emit when there is something to emit. */
  async step(): Promise<number> {
    let n = 0;
    let wm = Number.POSITIVE_INFINITY;
    let ending = false;
    if (this.combiner) {
      const r = await this.combiner.step(this.engine);
      n += r.n;
      wm = r.wm;
    }
    for (const { feed, mapper, inApp } of this.readers.values()) {
      const recs = await feed.take();
      n += recs.length;
      const rows = inApp.map(() => [] as { t: number; seq: number; v: Value[] }[]);
      const reasons: string[] = [];
      let t = 0;
      const make = (v: Value[]) => ({ t, seq: 0, v });
      for (const r of recs) {
        const k = inApp.length === 1 ? 0 : inAppIndexOf(r.shardId, inApp.length) - 1;
        t = r.arrivalMs;
        mapper.mapTo(r.data, rows[k]!, reasons, make);
        if (reasons.length) {
          for (const err of reasons) this.engine.error('MAPPING_ERROR', err, r.arrivalMs, r.data.toString('utf8'));
          reasons.length = 0;
        }
      }
      for (let k = 0; k < inApp.length; k++) await this.engine.pushInput(inApp[k]!, rows[k]!);
      wm = Math.min(wm, feed.watermark(this.o.idleWatermarkLagMs));
      ending ||= feed.endWaiting();
    }
    if (Number.isFinite(wm)) await this.engine.advance(wm);
    if (this.hasOutputRows() || ending || Date.now() - this.lastCheckpoint >= this.o.checkpointIntervalMs) await this.commit();
    return n;
  }

  private pendingRows = new Map<string, EmitRows>();

  private hasOutputRows(): boolean {
    const pending = (s: string) => {
      let list = this.pendingRows.get(s);
      if (!list) this.pendingRows.set(s, (list = new EmitRows()));
      return list;
    };
    // Windows the combiner emitted as columns, then rows (the order drain() would give them in).
    for (const [s, windows] of this.engine.drainFolded()) for (const w of windows) pending(s).window(w);
    for (const [s, rows] of this.engine.drain()) pending(s).rows(rows);
    return this.o.definition.outputs.some((o) => (this.rowsFor(o)?.length ?? 0) > 0);
  }

  private rowsFor(o: OutputDef): EmitRows | undefined {
    const s = outputStream(o, this.pendingRows.keys());
    return s === undefined ? undefined : this.pendingRows.get(s);
  }

  private streamOf(o: OutputDef): string {
    return outputStream(o, this.pendingRows.keys()) ?? o.name;
  }

  /** Checkpoint (with the emit about to be written), then write the emit. */
  private async commit(): Promise<void> {
    this.hasOutputRows();
    const pending: PendingMessage[] = [];
    const pendingHttp: PendingHttp[] = [];
    const lambda: PendingLambda[] = [];
    const seq = this.emitSeq;
    for (const o of this.o.definition.outputs) {
      const rows = this.rowsFor(o);
      if (!rows?.length) continue;
      const cols = this.engine.columns(this.streamOf(o)) ?? [];
      const records = formatRows(rows, cols, o.format, String(seq));
      this.emittedRows.set(o.id, (this.emittedRows.get(o.id) ?? 0) + rows.length);
      const idPrefix = `${this.epoch}:${seq}`;
      if (o.destination.kind === 'stream') for (const m of await planStreamEmit(this.o.store, o.id, o.destination.name, idPrefix, records)) pending.push(m);
      else if (o.destination.kind === 'firehose') for (const m of await planFirehoseEmit(this.o.store, o.id, o.destination.name, idPrefix, records)) pending.push(m);
      else if (o.destination.kind === 'lambda') {
        lambda.push({ outputId: o.id, arn: o.destination.arn, records: Array.from({ length: records.length }, (_, i) => ({ recordId: `${idPrefix}:${o.id}:${i}`, data: records.data(i).toString('base64') })) });
      } else pendingHttp.push(httpEmit(o.destination.url, Array.from({ length: records.length }, (_, i) => records.data(i)), o.format));
    }
    for (const l of lambda) this.undeliveredLambda.push(l);
    this.pendingRows.clear();
    const ckpt: Checkpoint = {
      epoch: this.epoch,
      versionId: this.o.versionId,
      sequences: Object.fromEntries([...this.readers].map(([id, r]) => [id, r.feed.positions()])),
      combiner: this.combiner?.state,
      engine: this.engine.snapshot(),
      emitSeq: pending.length || pendingHttp.length || lambda.length ? seq + 1 : seq,
      pending,
      pendingHttp,
      pendingLambda: this.undeliveredLambda,
    };
    await saveCheckpoint(this.o.store, this.name, ckpt);
    for (const [id, r] of this.readers) r.feed.saved(ckpt.sequences[id] ?? {});
    if (ckpt.combiner) await this.combiner?.committed(ckpt.combiner.seq);
    this.lastCheckpoint = Date.now();
    this.emitSeq = ckpt.emitSeq;
    // Fault injection for the exactly-once tests: die right after the checkpoint, or after the emit's first message.
    const crash = pending.length ? process.env.SHARDLINE_TEST_CRASH_AT : undefined;
    if (crash === 'before-emit') process.kill(process.pid, 'SIGKILL');
    if (crash === 'mid-emit' && pending.length > 1) {
      await publishPending(this.o.store, pending.slice(0, 1), false);
      process.kill(process.pid, 'SIGKILL');
    }
    if (pending.length) await publishPending(this.o.store, pending, false);
    for (const h of pendingHttp) await postWithRetry(h);
    await this.deliverLambda();
  }

  /** Hands each undelivered LambdaOutput emit to its function, oldest first, retrying DeliveryFailed records. */
  private async deliverLambda(): Promise<void> {
    const l = this.o.lambda ?? { functions: {}, timeoutMs: 60_000, applicationArn: `arn:aws:kinesisanalytics:us-east-1:000000000000:application/${this.name}` };
    while (this.undeliveredLambda.length) {
      const p = this.undeliveredLambda[0]!;
      const url = functionUrl(p.arn, l.functions);
      const r = await deliverToFunction({ url, applicationArn: l.applicationArn, timeoutMs: l.timeoutMs }, p.records, this.stopSignal.signal, (m) => this.o.log(`${this.name}: ${m}`));
      if (r.retried) this.o.log(`${this.name}: output ${p.outputId}: ${p.records.length} record(s) delivered to ${url} after ${r.retried} retried record(s)`);
      this.undeliveredLambda.shift();
    }
  }
}

/**
 * The engine of the application's runner. For the combiner of two-phase aggregation: simple-form pumps
 * are left out (combine() fills their targets), general-form ones replaced by their final pumps, which
 * read the combined partial rows as inputs of their own.
 */
export function combinerSpec(d: ApplicationDefinition, references: ReferenceTable[], combine?: Extract<Decomposition, { decomposable: true }>): EngineSpec {
  return {
    code: combine ? combinerCode(d.code, combine) : d.code,
    // InputParallelism n: in-application streams <prefix>_001 … _00n, each fed a subset of the shards.
    inputs: [
      ...d.inputs.flatMap((i) => Array.from({ length: i.parallelism }, (_, k) => ({
        name: inAppStreamName(i, k + 1), columns: i.columns,
        ...(i.watermark ? { watermark: { column: i.watermark.column, delayMs: i.watermark.delaySeconds * 1000 } } : {}),
      }))),
      ...(combine?.pumps.flatMap((p) => (p.general ? [{ name: p.general.combineStream, columns: p.general.combineColumns }] : [])) ?? []),
    ],
    references,
    skipPumps: combine?.pumps.filter((p) => !p.general).map((p) => p.name),
  };
}

/** The in-application stream among `streams` an output names (case-insensitively; error_stream by any case). */
export function outputStream(o: OutputDef, streams: Iterable<string>): string | undefined {
  if (o.name.toLowerCase() === ERROR_STREAM) return ERROR_STREAM;
  for (const s of streams) if (s === o.name || s.toUpperCase() === o.name.toUpperCase()) return s;
  return undefined;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
