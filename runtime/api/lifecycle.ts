// How an API call hands lifecycle work (making or removing shard streams) on:
// small work is finished within the call, so a 4-shard stream is ACTIVE when
// CreateStream answers, as before; large work is left to the lifecycle worker
// (stream/lifecycleWorker.ts) and the call returns at once with the stream
// CREATING / UPDATING / DELETING. Either way the call's time is bounded: at
// most `inlineShards` shard streams, and only while the creation pacer has room.
import type { ApiContext } from './context.js';
import { sharedPacer } from '../../stream/creationPacer.js';
import type { WorkOptions } from '../../stream/streams.js';

/** True when `shards` shard-stream operations may run inside the call. */
export function inlineAllowed(ctx: ApiContext, shards: number, creates: boolean): boolean {
  if (shards > ctx.config.inlineShards) return false;
  const pacer = sharedPacer();
  return !creates || pacer.inWindow() + shards <= pacer.budget;
}

export const inlineWork = (): WorkOptions => ({ pace: () => sharedPacer().acquire() });

/**
 * Runs the inline part. A failure leaves the record in its transitional state
 * (every step is idempotent), which the lifecycle worker retries: the caller
 * has its answer (the stream is CREATING/UPDATING/DELETING), never a 500.
 */
export async function tryInline(ctx: ApiContext, what: string, f: () => Promise<unknown>, log?: (m: string) => void): Promise<void> {
  try {
    await f();
  } catch (e) {
    log?.(`${what}: left to the lifecycle worker: ${(e as Error)?.message ?? e}`);
    ctx.lifecycle?.nudge();
  }
}
