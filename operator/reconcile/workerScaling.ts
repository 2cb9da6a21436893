// Step: the replicas of a worker Deployment under spec.autoscaling. Reads the
// sampler's window (never waits for NATS), asks the pure decider, records a
// decision in status.autoscaling with one Event, and returns the replicas the
// Deployment gets. No decision: the status is left as it is (no writes once
// converged). Decisions live in status only; spec is never written.
import type { WorkerAutoscaling, WorkerScalingStatus } from '../../crds/schema/workerAutoscaling.js';
import type { KubeObject } from '../kube/client.js';
import { decideReplicas } from '../workerScaling/decide.js';
import type { ConsumerGroup } from '../workerScaling/sampler.js';
import type { Context } from './context.js';

type Decision = NonNullable<WorkerScalingStatus['lastDecision']>;

export interface WorkerScale {
  replicas: number;
  /** status.autoscaling as it should be (undefined: autoscaling is off). */
  status?: WorkerScalingStatus;
  /** Look again after this long while autoscaling is on (the sampler's window moves without any watch event). */
  requeueAfterMs?: number;
}

const clamp = (n: number, a: WorkerAutoscaling) => Math.min(a.maxReplicas, Math.max(a.minReplicas, n));

function record(prev: WorkerScalingStatus | undefined, d: Decision, specReplicas: number): WorkerScalingStatus {
  const recent = [...(prev?.recentDecisions ?? []), d].slice(-10);
  return { ...prev, desiredReplicas: d.toReplicas, specReplicas, lastDecision: d, recentDecisions: recent };
}

export async function scaleWorkers(
  ctx: Context, obj: KubeObject & { status?: { autoscaling?: WorkerScalingStatus } }, key: string,
  a: WorkerAutoscaling | undefined, specReplicas: number, group: ConsumerGroup | undefined,
): Promise<WorkerScale> {
  if (!a) {
    ctx.workerLag?.untrack(key);
    return { replicas: specReplicas };
  }
  const prev = obj.status?.autoscaling;
  const now = Date.now();
  const decision = (action: string, from: number, to: number, reason: string, values: Record<string, number>): Decision => ({
    time: new Date(now).toISOString(), action, fromReplicas: from, toReplicas: to, reason, values: JSON.stringify(values),
  });
  let next = prev;
  let made: Decision | undefined;
  if (!prev || prev.specReplicas !== specReplicas) {
    // First look, or the user changed spec.replicas: the user wins, decisions restart from it.
    const to = clamp(specReplicas, a);
    const from = prev?.desiredReplicas ?? specReplicas;
    if (to !== from) {
      made = decision('spec', from, to, `spec.replicas is ${specReplicas}${to !== specReplicas ? `, brought within ${a.minReplicas}..${a.maxReplicas}` : ''}`, { specReplicas });
      next = record(prev, made, specReplicas);
    } else {
      next = { ...prev, desiredReplicas: to, specReplicas };
    }
  } else {
    // No group (workers that cannot split their work): no lag is read, only the bounds and spec.replicas apply.
    if (!group) ctx.workerLag?.untrack(key);
    const samples = group && ctx.workerLag ? ctx.workerLag.track(key, group, Math.max(a.scaleUpStabilizationSeconds, a.scaleDownStabilizationSeconds) * 1000 + 10_000) : [];
    const last = prev.lastDecision ? Date.parse(prev.lastDecision.time) : undefined;
    const d = decideReplicas({
      nowMs: now, current: prev.desiredReplicas, samples, lastChangeMs: last, workerCapacity: prev.workerRecordsPerSecond,
      policy: {
        minReplicas: a.minReplicas, maxReplicas: a.maxReplicas, targetLagMs: a.targetLagSeconds * 1000,
        upWindowMs: a.scaleUpStabilizationSeconds * 1000, downWindowMs: a.scaleDownStabilizationSeconds * 1000,
      },
    });
    if (d.action !== 'none' && d.replicas !== prev.desiredReplicas) {
      made = decision(d.action, prev.desiredReplicas, d.replicas, d.reason, d.values);
      next = record(prev, made, specReplicas);
      if (d.workerCapacity !== undefined) next.workerRecordsPerSecond = Math.max(1, Math.round(d.workerCapacity));
    }
  }
  if (made) {
    await ctx.events.emit(obj as any, 'Normal', 'WorkersScaled', `${made.fromReplicas} → ${made.toReplicas} replicas (${made.action}): ${made.reason}`);
  }
  return { replicas: next!.desiredReplicas, status: next, requeueAfterMs: ctx.workerScaleIntervalMs ?? 5000 };
}
