// Worker checkpoints: shard positions, the engine's state and the emit in
// flight, as one object in a JetStream object store (window state can
// outgrow a KV value): JSON, the emit's bytes after it (stateBlob.ts).
// One object per application, replaced atomically.
import type { ObjectStore } from 'nats';
import type { Store } from '../../stream/connect.js';
import type { EngineState } from '../engine/engine.js';
import type { PendingHttp } from './httpOutput.js';
import { putObject } from './objectPut.js';
import { decodeState, encodeStateParts } from './stateBlob.js';
import type { Value } from '../engine/types.js';

export const CHECKPOINT_BUCKET = 'shardline_analytics_state';

/** A record's position in a shard (sub: inside a KPL aggregate). */
export interface ShardPos { seq: string; sub?: number }

/**
 * A chunk of a window's partial rows: rows, or column by column (what shard engines publish), or the partial
 * message as it came (the combiner decodes it when the window closes: a checkpoint writes its bytes, not
 * JSON of its columns). `blob`: a message's place in a saved checkpoint's blobs.
 */
export type PartialRows = Value[][] | { cols: Value[][] } | { message: Uint8Array } | { blob: number };

export interface CombinerState {
  /** Last partials-stream sequence applied. */
  seq: number;
  /** partial stream → window end → shard#chunk → partial rows. */
  windows: Record<string, Record<string, Record<string, PartialRows>>>;
  closedUpTo: Record<string, number>;
  /** input/shard → its watermark; shards that ended. */
  wms: Record<string, number>;
  ended: string[];
  /** input/shard → partial stream → the shard's event-time watermark (event-time pumps). */
  ewms?: Record<string, Record<string, number>>;
  /** input/shard → caught up and without records for a while: it does not hold event-time windows back. */
  idle?: Record<string, boolean>;
}

/** Records for a Lambda output not yet delivered (runner.ts, lambdaOutput.ts). */
export interface PendingLambda { outputId: string; arn: string; records: import('./lambdaOutput.js').LambdaRecord[] }

export interface PendingMessage { outputId: string; stream: string; jsStream: string; subject: string; msgId: string; fromSeq: number; payload: Buffer }

export interface Checkpoint {
  /** Changes each time the application is (re)started from NOW/TRIM_HORIZON: older checkpoints are not resumed. */
  epoch: string;
  /** Definition version the state belongs to. */
  versionId: number;
  /** input id → shard id → the last record whose row is in `engine` (inputFeed.ts; shard leases trail it). */
  sequences: Record<string, Record<string, ShardPos>>;
  engine: EngineState;
  /** Two-phase aggregation: the combiner's position in the partials stream and its open windows. */
  combiner?: CombinerState;
  /** Emits so far; names the messages of the next one. */
  emitSeq: number;
  /** Messages of the emit that was being written when this checkpoint was taken (their payloads after the JSON, stateBlob.ts). */
  pending: PendingMessage[];
  /** HTTP rows not yet acknowledged (at-least-once). */
  pendingHttp?: PendingHttp[];
  /** LambdaOutput records the function has not accepted yet (at-least-once, runner.ts). */
  pendingLambda?: PendingLambda[];
}

export async function checkpointStore(store: Store): Promise<ObjectStore> {
  return store.js.views.os(CHECKPOINT_BUCKET, { replicas: store.replicas });
}

const objectName = (app: string) => `app-${Buffer.from(app).toString('base64url')}`;

export async function loadCheckpoint(os: ObjectStore, app: string): Promise<Checkpoint | undefined> {
  const data = await os.getBlob(objectName(app));
  if (!data) return undefined;
  const { blobs, ...c } = decodeState<Checkpoint & { blobs?: Uint8Array[] }>(data);
  if (!blobs || !c.combiner) return c;
  // The combiner's partial messages back in their windows.
  const windows = mapEntries(c.combiner.windows, (e) => ('blob' in e ? { message: blobs[e.blob]! } : e));
  return { ...c, combiner: { ...c.combiner, windows } };
}

/**
 * Written with putObject (node:crypto's SHA-256), read back by nats.js's ObjectStore. The combiner's
 * partial messages go as bytes after the JSON (stateBlob.ts blobs): at 100k keys JSON text of their
 * columns was ~2 MB a checkpoint, ~0.2 s of JSON.stringify per 3M events.
 */
export async function saveCheckpoint(store: Store, app: string, c: Checkpoint): Promise<void> {
  const blobs: Uint8Array[] = [];
  const combiner = c.combiner && { ...c.combiner, windows: mapEntries(c.combiner.windows, (e) => ('message' in e ? { blob: blobs.push(e.message) - 1 } : e)) };
  const saved: Checkpoint & { blobs?: Uint8Array[] } = combiner ? { ...c, combiner, blobs } : c;
  await putObject(store, CHECKPOINT_BUCKET, objectName(app), encodeStateParts(saved));
}

/** The combiner's windows with each entry replaced by `f` of it. */
function mapEntries(windows: CombinerState['windows'], f: (e: PartialRows) => PartialRows): CombinerState['windows'] {
  const out: CombinerState['windows'] = {};
  for (const [stream, ends] of Object.entries(windows)) {
    const o: Record<string, Record<string, PartialRows>> = (out[stream] = {});
    for (const [end, entries] of Object.entries(ends)) {
      const x: Record<string, PartialRows> = (o[end] = {});
      for (const [id, e] of Object.entries(entries)) x[id] = f(e);
    }
  }
  return out;
}

export async function deleteCheckpoint(os: ObjectStore, app: string): Promise<void> {
  await os.delete(objectName(app)).catch(() => undefined);
}
