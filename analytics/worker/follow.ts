// An application created through the Kinesis Data Analytics API: every
// replica follows its record in the application store. The replica holding
// the application lease moves the statuses (STARTING → RUNNING, UPDATING →
// RUNNING, STOPPING → READY) and runs the combiner of two-phase aggregation,
// or the whole application when its plan neither decomposes nor passes
// through (then the other replicas stand by). While the record is RUNNING,
// every replica, the lease holder included, runs the shard workers of the
// record's version and run (partials.ts or passThrough.ts) over the shards it
// leases; it stops them when the record leaves RUNNING, changes version or
// run, or is deleted. A replica started later joins at its next look.
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { ApplicationDefinition, type AnalyticsWorkerConfig } from '../../contract/analytics.js';
import type { Store } from '../../stream/connect.js';
import { applicationsKv, readApplication, updateApplication, type ApplicationRecord } from '../../stream/applications.js';
import { getStream } from '../../stream/streams.js';
import { kvLeaseStore } from '../../consumer/index.js';
import { keyToken } from '../../consumer/leaseRecords.js';
import type { ReferenceTable } from '../engine/engine.js';
import type { Decomposition } from '../sql/decompose.js';
import { passThroughPlan } from '../sql/passThrough.js';
import { ApplicationLease } from './lease.js';
import type { ApplicationRunner } from './runner.js';
import { verifiedPlan } from './twoPhase.js';
import { s3ReferenceLoader } from './s3.js';
import { definitionEpoch, PartialWorkers } from './partials.js';
import { PassThroughWorkers } from './passThrough.js';
import { InputFeed, inputStreamName } from './inputFeed.js';

type TwoPhase = Extract<Decomposition, { decomposable: true }>;

/** How a definition runs on several replicas. */
type Plan =
  | { kind: 'two-phase'; plan: TwoPhase; references: ReferenceTable[] }
  | { kind: 'pass-through'; references: ReferenceTable[] }
  | { kind: 'one'; reason: string };

export type NewRunner = (o: {
  definition: ApplicationDefinition; versionId: number; resume: boolean; positions: Record<string, 'NOW' | 'TRIM_HORIZON'>;
  combine?: TwoPhase; runId?: string;
}) => ApplicationRunner;

const LOOK_MS = 250;
const runKey = (r: ApplicationRecord) => `${r.versionId}/${r.runId ?? ''}`;

export class ApplicationFollower {
  private leader = false;
  private runner?: ApplicationRunner;
  /** The version and run the lease holder last started (its runner, if the plan has one, runs it). */
  private running?: string;
  private shards?: { key: string; workers: PartialWorkers | PassThroughWorkers };
  private readonly plans = new Map<string, Promise<Plan>>();
  private readonly reported = new Set<string>();

  constructor(private readonly o: { store: Store; config: AnalyticsWorkerConfig; log: (m: string) => void; signal: AbortSignal; newRunner: NewRunner }) {}

  async run(): Promise<void> {
    const { store, config, log, signal } = this.o;
    const lease = await ApplicationLease.open(store, config.applicationName, `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`, config.leaseMs);
    // The lease is sought beside the follow loop: a replica without it still runs its shard workers.
    const leading = lease.acquire(signal, () => {
      // Another replica holds the application now: stop at once, without a last checkpoint or emit.
      log('lease lost; exiting');
      process.exit(3);
    }).then((ok) => {
      if (ok) { this.leader = true; log('holds the application lease'); }
    });
    const kv = await applicationsKv(store);
    try {
      while (!signal.aborted) {
        try {
          const r = (await readApplication<ApplicationDefinition>(kv, config.applicationName))?.record;
          if (this.leader) await this.lead(kv, r);
          await this.follow(r);
        } catch (e) {
          log(`following the application: ${(e as Error).message}`);
        }
        await new Promise<void>((res) => {
          const done = () => { clearTimeout(t); signal.removeEventListener('abort', done); res(); };
          const t = setTimeout(done, LOOK_MS);
          signal.addEventListener('abort', done, { once: true });
        });
      }
    } finally {
      await this.stopShards();
      await this.runner?.stop();
      await leading;
      if (this.leader) await lease.release();
    }
  }

  /** The plan of a definition, worked out once (a failure is retried after 10 s). */
  private planFor(def: ApplicationDefinition): Promise<Plan> {
    const k = definitionEpoch(def);
    let p = this.plans.get(k);
    if (!p) {
      p = (async (): Promise<Plan> => {
        const references = def.references.length ? await s3ReferenceLoader(this.o.config.s3Endpoint)(def.references) : [];
        const d = await verifiedPlan(def, references);
        if (d.decomposable) return { kind: 'two-phase', plan: d, references };
        const pt = passThroughPlan(def);
        if (pt.passThrough) return { kind: 'pass-through', references };
        return { kind: 'one', reason: `${d.reason} (not pass-through: ${pt.reason})` };
      })();
      if (this.plans.size > 8) this.plans.clear();
      this.plans.set(k, p);
      p.catch(() => setTimeout(() => this.plans.delete(k), 10_000).unref());
    }
    return p;
  }

  /** Any replica: the shard workers of the record's version and run while it is RUNNING, none otherwise. */
  private async follow(r: ApplicationRecord<ApplicationDefinition> | undefined): Promise<void> {
    const want = r?.status === 'RUNNING' ? runKey(r) : undefined;
    if (this.shards && this.shards.key !== want) await this.stopShards();
    if (!r || !want || this.shards) return;
    const def = ApplicationDefinition.parse(r.definition);
    let plan: Plan;
    try {
      plan = await this.planFor(def);
    } catch (e) {
      this.once(`${want}/plan`, `version ${r.versionId}: cannot work out how replicas share it: ${(e as Error).message}`);
      return;
    }
    if (plan.kind === 'one') {
      this.once(`${want}/one`, `version ${r.versionId}: one active replica (the application lease holder): ${plan.reason}`);
      return;
    }
    const c = this.o.config;
    const first = def.inputs[0];
    const common = {
      store: this.o.store, definition: def, references: plan.references,
      start: first && r.startingPositions?.[first.id] === 'TRIM_HORIZON' ? 'TRIM_HORIZON' as const : 'NOW' as const,
      failoverTimeMs: c.leaseMs, idleWatermarkLagMs: c.idleWatermarkLagMs, checkpointIntervalMs: c.checkpointIntervalMs,
      // NOW is the StartApplication's time: the shards are taken after the application is RUNNING.
      startAtMs: r.runStartedAtMs, runId: r.runId, log: this.o.log,
    };
    const workers = plan.kind === 'two-phase' ? new PartialWorkers({ ...common, decomposition: plan.plan }) : new PassThroughWorkers(common);
    try {
      await workers.start();
    } catch (e) {
      // E.g. an input stream deleted: what started is stopped, and the next look tries again.
      await workers.stop().catch(() => undefined);
      this.once(`${want}/start/${(e as Error).message}`, `version ${r.versionId}: cannot start the shard workers: ${(e as Error).message}`);
      return;
    }
    this.shards = { key: want, workers };
    this.o.log(plan.kind === 'two-phase'
      ? `version ${r.versionId}, run ${r.runId ?? '-'}: two-phase aggregation: this replica aggregates the shards it leases (${plan.plan.pumps.map((p) => p.name).join(', ')}); the application lease holder combines`
      : `version ${r.versionId}, run ${r.runId ?? '-'}: pass-through: every pump is stateless; this replica runs the application over the shards it leases and emits their rows`);
  }

  private async stopShards(): Promise<void> {
    const s = this.shards;
    if (!s) return;
    this.shards = undefined;
    await s.workers.stop();
    this.o.log(`shard workers of version/run ${s.key} stopped`);
  }

  private once(key: string, m: string): void {
    if (this.reported.has(key)) return;
    this.reported.add(key);
    this.o.log(m);
  }

  /** The lease holder: statuses, and the combiner or the whole application. */
  private async lead(kv: Awaited<ReturnType<typeof applicationsKv>>, r: ApplicationRecord<ApplicationDefinition> | undefined): Promise<void> {
    const name = this.o.config.applicationName;
    const toReady = () => updateApplication(kv, name, (x) => (x.status === 'STOPPING' ? { ...x, status: 'READY', updatedAtMs: Date.now() } : undefined));
    if (!r) {
      if (this.runner || this.running) { await this.runner?.stop(); this.runner = undefined; this.running = undefined; this.o.log('application deleted'); }
      return;
    }
    if (r.status === 'STOPPING') {
      const was = this.running;
      await this.runner?.stop();
      this.runner = undefined;
      this.running = undefined;
      await toReady();
      if (was) this.o.log('stopped');
      return;
    }
    const key = runKey(r);
    if (!(r.status === 'STARTING' || r.status === 'UPDATING' || (r.status === 'RUNNING' && this.running !== key))) return;
    if (this.runner) { await this.runner.stop(); this.runner = undefined; }
    this.running = undefined;
    const starting = r.status === 'STARTING';
    const pos = r.startingPositions ?? {};
    // A new StartApplication from NOW or TRIM_HORIZON starts afresh (a new run); LAST_STOPPED_POINT, an update or a new lease holder resumes.
    const resume = !starting || Object.values(pos).every((p) => p === 'LAST_STOPPED_POINT');
    try {
      const def = ApplicationDefinition.parse(r.definition);
      const plan = await this.planFor(def);
      // The combiner and pass-through read no input themselves: a missing one is reported here, as the runner would.
      if (plan.kind !== 'one') await this.checkInputs(def);
      const positions = Object.fromEntries(def.inputs.map((i) => [i.id, (pos[i.id] === 'TRIM_HORIZON' ? 'TRIM_HORIZON' : 'NOW') as 'NOW' | 'TRIM_HORIZON']));
      if (plan.kind !== 'pass-through') {
        const runner = this.o.newRunner({ definition: def, versionId: r.versionId, resume, positions, combine: plan.kind === 'two-phase' ? plan.plan : undefined, runId: r.runId });
        await runner.start();
        this.runner = runner;
      }
      if (!resume) await this.dropEarlierRuns(def, r.runId);
      this.running = key;
      await updateApplication(kv, name, (x) => (x.status === 'STARTING' || x.status === 'UPDATING' ? { ...x, status: 'RUNNING', updatedAtMs: Date.now(), lastError: undefined } : undefined));
      const mode = plan.kind === 'two-phase' ? 'two-phase aggregation; this replica combines' : plan.kind === 'pass-through' ? 'pass-through' : `one active replica: ${plan.reason}`;
      this.o.log(`running version ${r.versionId}, run ${r.runId ?? '-'} (${mode})`);
    } catch (e) {
      this.o.log(`cannot run: ${(e as Error).message}`);
      await updateApplication(kv, name, (x) => ({ ...x, status: 'READY', updatedAtMs: Date.now(), lastError: (e as Error).message }));
    }
  }

  private async checkInputs(def: ApplicationDefinition): Promise<void> {
    for (const i of def.inputs) {
      const stream = await inputStreamName(this.o.store, i);
      if (!(await getStream(this.o.store, stream))) throw new Error(`input ${i.id}: stream ${stream} does not exist`);
    }
  }

  /**
   * A fresh run: the leases of earlier runs' consumer groups are of no further use (best effort; a replica
   * still stopping an earlier run may write one again, which the next fresh start removes).
   */
  private async dropEarlierRuns(def: ApplicationDefinition, runId: string | undefined): Promise<void> {
    const leases = kvLeaseStore(this.o.store);
    for (const i of def.inputs) {
      const base = keyToken(InputFeed.consumerName(def.name, i.id));
      const current = keyToken(InputFeed.consumerName(def.name, i.id, runId));
      // Keys are <group>.<stream>.…: every group's over the input's stream, then this application's input's other runs.
      const stream = await inputStreamName(this.o.store, i).catch(() => undefined);
      if (!stream) continue;
      const found = await leases.list(`*.${keyToken(stream)}.`).catch(() => new Map<string, { revision: number }>());
      for (const [k, v] of found) {
        const group = k.slice(0, k.indexOf('.'));
        if ((group === base || group.startsWith(`${base}=23`)) && group !== current) await leases.delete(k, v.revision).catch(() => false);
      }
    }
  }
}
