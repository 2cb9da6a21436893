// Lag-driven replicas of a worker Deployment (DeliveryStream, AnalyticsApp):
// what the user asks (spec.autoscaling) and what the operator decided
// (status.autoscaling). Decisions live in status only; spec is never written.
import { z } from 'zod';
import { cel } from './common.js';

export const WorkerAutoscaling = z.object({
  minReplicas: z.number().int().min(1).max(100).default(1)
    .describe('Fewest worker pods (default 1). A floor the user sets: it may exceed the shard count (extra pods stand by and take over a failed pod\'s shards at once).'),
  maxReplicas: z.number().int().min(1).max(100).default(10)
    .describe('Most worker pods (default 10). Lag never asks for more pods than the input has open shards: a shard is read by one pod at a time.'),
  targetLagSeconds: z.number().int().min(1).max(86400).default(60)
    .describe('Lag the workers should stay under (default 60): the largest MillisBehindLatest of the input shards, as the workers report it in their leases.'),
  scaleUpStabilizationSeconds: z.number().int().min(0).max(3600).default(30)
    .describe('Scale up once the lag has stayed above the target for this long and is not draining below it within as long again (default 30). At most doubles per step.'),
  scaleDownStabilizationSeconds: z.number().int().min(0).max(86400).default(300)
    .describe('Scale down once the lag has stayed under half the target for this long, with no scaling in that time (default 300). At most halves per step.'),
}).meta(cel({ rule: 'self.minReplicas <= self.maxReplicas', message: 'minReplicas must not exceed maxReplicas' }));
export type WorkerAutoscaling = z.infer<typeof WorkerAutoscaling>;

/** spec.autoscaling of a worker kind: absent means off (spec.replicas is the replica count). */
export const workerAutoscalingField = () => WorkerAutoscaling.optional()
  .describe('Lag-driven worker replicas. Set (even `{}`): the operator sizes the worker Deployment between minReplicas and maxReplicas from the consumer lag, starting from spec.replicas, and records each decision in status.autoscaling; spec.replicas is then only the starting point, and a change to it restarts from the new value. Unset: spec.replicas is the replica count (and HPA/KEDA can drive it through the scale subresource).');

export const WorkerScalingDecision = z.object({
  time: z.string().describe('When it was decided (RFC 3339).'),
  action: z.string().describe('scaleUp, scaleDown, bound (brought within min/max/shards) or spec (spec.replicas changed).'),
  fromReplicas: z.number().int().describe('Replicas before.'),
  toReplicas: z.number().int().describe('Replicas after.'),
  reason: z.string().describe('Why, in words.'),
  values: z.string().describe('The values that drove it (JSON): lag now and over the windows, shards reporting, open shards.'),
});

export const WorkerScalingStatus = z.object({
  desiredReplicas: z.number().int().min(0).describe('Replicas the worker Deployment is given (the last decision).'),
  specReplicas: z.number().int().min(0).describe('spec.replicas the decisions started from (a change to it restarts from it).'),
  workerRecordsPerSecond: z.number().int().min(0).optional().describe('Records/s one worker processed while the workers could not keep up (measured at the last scale-up): scaling down keeps enough workers for the current rate at 80% of it.'),
  lastDecision: WorkerScalingDecision.optional().describe('The newest decision.'),
  recentDecisions: z.array(WorkerScalingDecision).max(10).optional().describe('The last decisions, newest last.'),
});
export type WorkerScalingStatus = z.infer<typeof WorkerScalingStatus>;
