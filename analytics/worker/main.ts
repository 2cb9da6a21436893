// `shardline analytics --config <file>`: runs one analytics application. The
// definition is in the config file (AnalyticsApp resources) or in the
// application store (applications created through the Kinesis Data Analytics
// API), where every replica follows StartApplication, StopApplication,
// UpdateApplication and DeleteApplication through the record (follow.ts).
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { AnalyticsWorkerConfig, ApplicationDefinition } from '../../contract/analytics.js';
import type { ConnectionOptions } from 'nats';
import { connectStore, type Store } from '../../stream/connect.js';
import { createLogger } from '../../common/log.js';
import { ApplicationLease } from './lease.js';
import { ApplicationFollower } from './follow.js';
import { ApplicationRunner } from './runner.js';
import { verifiedPlan } from './twoPhase.js';
import { s3ReferenceLoader } from './s3.js';
import type { Decomposition } from '../sql/decompose.js';
import { PartialWorkers } from './partials.js';
import { PassThroughWorkers } from './passThrough.js';
import { passThroughPlan } from '../sql/passThrough.js';
import { ENV } from '../../contract/env.js';

export function analyticsConfig(argv: string[]): AnalyticsWorkerConfig {
  const i = argv.indexOf('--config');
  if (i < 0 || !argv[i + 1]) throw new Error('usage: shardline analytics --config <file>');
  const parsed = AnalyticsWorkerConfig.safeParse(JSON.parse(readFileSync(argv[i + 1]!, 'utf8')));
  if (!parsed.success) throw new Error(`invalid analytics config ${argv[i + 1]}: ${parsed.error.issues.map((x) => `${x.path.join('.')}: ${x.message}`).join('; ')}`);
  return parsed.data;
}

/** `shardline analytics`; `connectOptions`: NATS credentials and TLS from the CLI's NATS options (common/natsAuth.ts). */
export async function runAnalytics(argv: string[], opts: { connectOptions?: Partial<ConnectionOptions> } = {}): Promise<void> {
  const config = analyticsConfig(argv);
  // JSON log lines (common/log.ts), as the runtime and the operator write them.
  const logger = createLogger('analytics').child({ application: config.applicationName });
  const log = (m: string) => logger.info(m);
  const natsUrl = config.natsUrl ?? process.env.SHARDLINE_NATS_URL ?? 'nats://127.0.0.1:4222';
  const store = await connectStore({ natsUrl, name: `shardline-analytics-${config.applicationName}`, connectOptions: opts.connectOptions });
  log(`connected to NATS at ${natsUrl}`);
  const stop = new AbortController();
  const worker = new Worker(store, config, log, stop.signal);
  const shutdown = () => {
    stop.abort();
    void worker.done.finally(async () => {
      await store.close();
      process.exit(0);
    });
  };
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
  // Started by `shardline dev`: end with it, also when it is SIGKILLed (no orphaned workers).
  if (process.env.SHARDLINE_EXIT_WITH_PARENT === '1') {
    const parent = process.ppid;
    setInterval(() => { if (process.ppid !== parent) process.exit(0); }, 500).unref();
  }
  await worker.done;
}

class Worker {
  readonly done: Promise<void>;
  private runner?: ApplicationRunner;

  constructor(private readonly store: Store, private readonly config: AnalyticsWorkerConfig, private readonly log: (m: string) => void, private readonly signal: AbortSignal) {
    this.done = this.main();
  }

  private async main(): Promise<void> {
    // An API application: every replica follows the record (follow.ts).
    if (!this.config.application) {
      await new ApplicationFollower({
        store: this.store, config: this.config, log: this.log, signal: this.signal,
        newRunner: (o) => this.newRunner(o.definition, o.versionId, o.resume, o.positions, o.combine, o.runId),
      }).run();
      return;
    }
    // An AnalyticsApp whose aggregates decompose runs on every replica: shards split by lease, partials
    // combined by the replica holding the application lease. Anything else: one active replica.
    let partials: PartialWorkers | undefined;
    let plan: Extract<Decomposition, { decomposable: true }> | undefined;
    const def = this.config.application;
    let pt: ReturnType<typeof passThroughPlan> | undefined;
    if (def) {
      const refs = def.references.length ? await s3ReferenceLoader(this.config.s3Endpoint)(def.references) : [];
      const d = await verifiedPlan(def, refs);
      if (d.decomposable) {
        plan = d;
        partials = new PartialWorkers({
          store: this.store, definition: def, decomposition: d, references: refs, start: this.config.startingPosition,
          failoverTimeMs: this.config.leaseMs, idleWatermarkLagMs: this.config.idleWatermarkLagMs,
          checkpointIntervalMs: this.config.checkpointIntervalMs, log: this.log,
        });
        // Before any shard is read: the benchmark's start-up ends here (bench/analyticsE2e.ts).
        this.log('reading inputs: two-phase aggregation');
        await partials.start();
        this.log(`two-phase aggregation: this replica aggregates the shards it leases (${d.pumps.map((p) => p.name).join(', ')}); the application lease holder combines`);
      } else if ((pt = passThroughPlan(def)).passThrough) {
        // Every pump is stateless: each replica runs the application over the shards it leases and emits
        // their rows itself; nothing is left for one active replica to do.
        const pass = new PassThroughWorkers({
          store: this.store, definition: def, references: refs, start: this.config.startingPosition,
          failoverTimeMs: this.config.leaseMs, idleWatermarkLagMs: this.config.idleWatermarkLagMs,
          checkpointIntervalMs: this.config.checkpointIntervalMs, log: this.log,
        });
        this.log('reading inputs: pass-through');
        await pass.start();
        this.log(`running (${def.inputs.length} input(s), ${def.outputs.length} output(s)); pass-through: every pump is stateless; this replica runs the application over the shards it leases and emits their rows`);
        await new Promise<void>((r) => (this.signal.aborted ? r() : this.signal.addEventListener('abort', () => r(), { once: true })));
        await pass.stop();
        return;
      } else this.log(`one active replica: ${d.reason}${pt && !pt.passThrough ? ` (not pass-through: ${pt.reason})` : ''}`);
    }
    try {
      await this.holdAndRun(plan);
    } finally {
      await partials?.stop();
    }
  }

  private async holdAndRun(plan: Extract<Decomposition, { decomposable: true }> | undefined): Promise<void> {
    const lease = await ApplicationLease.open(this.store, this.config.applicationName, `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`, this.config.leaseMs);
    const lost = new AbortController();
    const ok = await lease.acquire(this.signal, () => {
      // Another replica holds the application now: stop at once, without a last checkpoint or emit.
      this.log('lease lost; exiting');
      process.exit(3);
    });
    if (!ok) return;
    this.log('holds the application lease');
    try {
      await this.runInline(this.config.application!, plan);
    } finally {
      lost.abort();
      await lease.release();
    }
  }

  private newRunner(definition: ApplicationDefinition, versionId: number, resume: boolean, positions: Record<string, 'NOW' | 'TRIM_HORIZON'>, combine?: Extract<Decomposition, { decomposable: true }>, runId?: string) {
    return new ApplicationRunner({
      combine, runId,
      store: this.store, definition, versionId, resume, startingPositions: positions,
      checkpointIntervalMs: this.config.checkpointIntervalMs, idleWatermarkLagMs: this.config.idleWatermarkLagMs, leaseMs: this.config.leaseMs,
      loadReferences: s3ReferenceLoader(this.config.s3Endpoint), log: this.log,
      lambda: {
        functions: this.config.functions ?? {}, timeoutMs: this.config.functionTimeoutMs ?? 60_000,
        applicationArn: `arn:aws:kinesisanalytics:${process.env[ENV.region] ?? 'us-east-1'}:${process.env[ENV.accountId] ?? '000000000000'}:application/${definition.name}`,
      },
    });
  }

  /** AnalyticsApp: the definition is the config; resume from the checkpoint when there is one. */
  private async runInline(def: ApplicationDefinition, plan?: Extract<Decomposition, { decomposable: true }>): Promise<void> {
    const positions = Object.fromEntries(def.inputs.map((i) => [i.id, this.config.startingPosition]));
    this.runner = this.newRunner(def, 0, true, positions, plan);
    if (!plan) this.log('reading inputs: one active replica');
    await this.runner.start();
    this.log(`running (${def.inputs.length} input(s), ${def.outputs.length} output(s))`);
    await new Promise<void>((r) => this.signal.addEventListener('abort', () => r(), { once: true }));
    await this.runner.stop();
  }
}

