// The autoscaler's state in the store: the per-stream settings its owner asks
// for (in the stream record, so they change with the same compare-and-set as
// every other stream setting), and the decisions it made (KV bucket
// `shardline_autoscale`, one key per stream uid), which the operator reflects
// into a DataStream's status and Events. The decision function and the
// controller live in runtime/autoscale/.
import type { KV } from 'nats';
import type { Store } from './connect.js';
import { updateStream } from './streams.js';
import type { AutoscalingSettings, StreamRecord } from './streamRecord.js';

export const AUTOSCALE_BUCKET = 'shardline_autoscale';
/** Decisions kept per stream (newest last). */
export const DECISION_HISTORY = 20;

/** One decision as recorded: what was decided, why, from which values, and what came of it. */
export interface DecisionRecord {
  atMs: number;
  /** none | updateShardCount | split | merge */
  action: string;
  /** Shards before and after (after = before when nothing was done). */
  fromShards: number;
  toShards: number;
  reason: string;
  metrics: Record<string, unknown>;
  /** applied | dry-run | failed: <message> | none */
  outcome: string;
}

export interface HotKeyRecord {
  shardId: string;
  hashKey: string;
  share: number;
  utilization: number;
}

/** What the bucket holds for one stream. */
export interface StreamScaling {
  stream: string;
  uid: string;
  /** Newest last. */
  decisions: DecisionRecord[];
  /** Keys that alone exceed one shard's capacity, as last measured. */
  hotKeys: HotKeyRecord[];
  updatedAtMs: number;
}

export async function autoscaleBucket(store: Store): Promise<KV> {
  return store.js.views.kv(AUTOSCALE_BUCKET, { history: 1, replicas: store.replicas });
}

export async function readScaling(kv: KV, uid: string): Promise<StreamScaling | undefined> {
  const e = await kv.get(`stream.${uid}`);
  if (!e || e.operation !== 'PUT' || e.length === 0) return undefined;
  return e.json<StreamScaling>();
}

export async function writeScaling(kv: KV, s: StreamScaling): Promise<void> {
  await kv.put(`stream.${s.uid}`, JSON.stringify({ ...s, decisions: s.decisions.slice(-DECISION_HISTORY) }));
}

export async function deleteScaling(kv: KV, uid: string): Promise<void> {
  await kv.delete(`stream.${uid}`).catch(() => undefined);
}

const same = (a: AutoscalingSettings | undefined, b: AutoscalingSettings | undefined) => JSON.stringify(a ?? {}) === JSON.stringify(b ?? {});

/** Sets what the autoscaler may do with a stream; undefined fields fall back to the store-wide defaults. */
export async function setAutoscaling(store: Store, name: string, settings: AutoscalingSettings | undefined): Promise<StreamRecord> {
  const clean = settings && Object.fromEntries(Object.entries(settings).filter(([, v]) => v !== undefined));
  const next = clean && Object.keys(clean).length > 0 ? clean : undefined;
  return updateStream(store, name, (r) => (same(r.autoscaling, next) ? undefined : { ...r, autoscaling: next }));
}
