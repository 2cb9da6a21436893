// Pure model of what a DataStream asks of the store's autoscaler, and of how
// the autoscaler's decisions (stream/autoscaling.ts) read in its status.
import type { DataStream, DataStreamSpec, DataStreamStatus } from '../../crds/schema/datastream.js';
import type { AutoscalingSettings } from '../../stream/streamRecord.js';
import type { DecisionRecord, StreamScaling } from '../../stream/autoscaling.js';
import { selectorLabels } from './common.js';

type AutoscalingStatus = NonNullable<DataStreamStatus['autoscaling']>;
type DecisionStatus = NonNullable<AutoscalingStatus['lastDecision']>;

/** ON_DEMAND: the bounds and mode in the stream record; PROVISIONED: none (the autoscaler leaves it alone). */
export function desiredAutoscaling(spec: DataStreamSpec): AutoscalingSettings | undefined {
  if (spec.mode !== 'ON_DEMAND') return undefined;
  const o = spec.onDemand;
  return {
    minShards: o.minShards,
    maxShards: o.maxShards,
    ...(o.dryRun ? { dryRun: true } : {}),
    scaleDownStabilizationSeconds: o.scaleDownStabilizationSeconds,
  };
}

/** The scale subresource's status.selector: the pods serving the stream, as a label selector string. */
export function selectorOf(ds: DataStream): string {
  return Object.entries(selectorLabels(ds, 'runtime')).map(([k, v]) => `${k}=${v}`).join(',');
}

const decision = (d: DecisionRecord): DecisionStatus => ({
  time: new Date(d.atMs).toISOString(),
  action: d.action,
  fromShards: d.fromShards,
  toShards: d.toShards,
  outcome: d.outcome,
  reason: d.reason,
  values: JSON.stringify(d.metrics),
});

export function autoscalingStatus(s: StreamScaling | undefined): AutoscalingStatus | undefined {
  if (!s || (s.decisions.length === 0 && s.hotKeys.length === 0)) return undefined;
  const recent = s.decisions.slice(-10).map(decision);
  return {
    ...(recent.length ? { lastDecision: recent.at(-1), recentDecisions: recent } : {}),
    ...(s.hotKeys.length ? { hotKeys: s.hotKeys.map((h) => ({ shardId: h.shardId, hashKey: h.hashKey, share: h.share, utilization: h.utilization })) } : {}),
  };
}

/** Decisions in `next` newer than the last one `prev` showed: each becomes an Event once. */
export function newDecisions(prev: AutoscalingStatus | undefined, next: AutoscalingStatus | undefined): DecisionStatus[] {
  const seen = prev?.lastDecision?.time;
  return (next?.recentDecisions ?? []).filter((d) => seen === undefined || d.time > seen);
}
