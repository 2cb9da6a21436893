// Enhanced fan-out consumers, kept in the stream record (`consumers`) and
// changed with the same compare-and-set as the rest of it.
//
// A consumer is written CREATING (or DELETING) with the time of that change;
// it is ACTIVE (or gone) once `transitionMs` have passed. Every reader derives
// the status the same way, so a runtime that crashes before persisting the
// transition leaves nothing stuck; writers persist it when they next touch the
// record (and register/deregister schedule that write).
import { StreamLibraryError } from './errors.js';
import type { Store } from './connect.js';
import { updateStream, StreamNotFoundError } from './streams.js';
import type { ConsumerRecord, ConsumerStatus, StreamRecord } from './streamRecord.js';

export const MAX_CONSUMERS_PER_STREAM = 20;

export interface ConsumerView {
  name: string;
  createdAtMs: number;
  status: ConsumerStatus;
}

/** The consumer's status now; undefined once a DELETING consumer is gone. */
export function effectiveStatus(c: ConsumerRecord, nowMs: number, transitionMs: number): ConsumerStatus | undefined {
  const done = nowMs - c.statusAtMs >= transitionMs;
  if (c.status === 'CREATING') return done ? 'ACTIVE' : 'CREATING';
  if (c.status === 'DELETING') return done ? undefined : 'DELETING';
  return c.status;
}

/** Consumers that still exist, with their current status, in registration order. */
export function liveConsumers(rec: StreamRecord, nowMs: number, transitionMs: number): ConsumerView[] {
  const out: ConsumerView[] = [];
  for (const c of rec.consumers ?? []) {
    const status = effectiveStatus(c, nowMs, transitionMs);
    if (status) out.push({ name: c.name, createdAtMs: c.createdAtMs, status });
  }
  return out;
}

/** Completed transitions written down; undefined when nothing changes. */
function settled(consumers: ConsumerRecord[], nowMs: number, transitionMs: number): ConsumerRecord[] | undefined {
  let changed = false;
  const out: ConsumerRecord[] = [];
  for (const c of consumers) {
    const status = effectiveStatus(c, nowMs, transitionMs);
    if (status === c.status) out.push(c);
    else {
      changed = true;
      if (status) out.push({ ...c, status, statusAtMs: c.statusAtMs + transitionMs });
    }
  }
  return changed ? out : undefined;
}

export class ConsumerError extends StreamLibraryError {
  constructor(readonly kind: 'ResourceInUse' | 'LimitExceeded' | 'ResourceNotFound', message: string) {
    super(message);
  }
}

export interface RegisterResult {
  stream: StreamRecord;
  consumer: ConsumerRecord;
}

export async function registerConsumer(
  store: Store,
  streamName: string,
  consumerName: string,
  opts: { transitionMs: number; tags?: Record<string, string>; messages: { exists: string; limit: string; streamNotActive: (status: string) => string } },
): Promise<RegisterResult> {
  let consumer!: ConsumerRecord;
  const stream = await updateStream(store, streamName, (r) => {
    if (r.status === 'CREATING' || r.status === 'DELETING') throw new ConsumerError('ResourceInUse', opts.messages.streamNotActive(r.status));
    const now = Date.now();
    const list = settled(r.consumers ?? [], now, opts.transitionMs) ?? r.consumers ?? [];
    if (list.some((c) => c.name === consumerName)) throw new ConsumerError('ResourceInUse', opts.messages.exists);
    if (list.length >= MAX_CONSUMERS_PER_STREAM) throw new ConsumerError('LimitExceeded', opts.messages.limit);
    consumer = { name: consumerName, createdAtMs: now, status: 'CREATING', statusAtMs: now, ...(opts.tags ? { tags: opts.tags } : {}) };
    return { ...r, consumers: [...list, consumer] };
  });
  scheduleSettle(store, streamName, opts.transitionMs);
  return { stream, consumer };
}

/**
 * Marks the consumer DELETING. `match` picks it (name and, for an ARN, its
 * creation second); undefined when no live consumer matches.
 */
export async function deregisterConsumer(
  store: Store,
  streamName: string,
  match: (c: ConsumerRecord) => boolean,
  opts: { transitionMs: number; notActive: (c: ConsumerRecord) => string },
): Promise<ConsumerRecord | undefined> {
  let found: ConsumerRecord | undefined;
  await updateStream(store, streamName, (r) => {
    const now = Date.now();
    const list = settled(r.consumers ?? [], now, opts.transitionMs) ?? r.consumers ?? [];
    const i = list.findIndex(match);
    found = list[i];
    if (!found) return undefined;
    if (found.status !== 'ACTIVE') throw new ConsumerError('ResourceInUse', opts.notActive(found));
    found = { ...found, status: 'DELETING', statusAtMs: now };
    const next = [...list];
    next[i] = found;
    return { ...r, consumers: next };
  });
  if (found) scheduleSettle(store, streamName, opts.transitionMs);
  return found;
}

/** Writes completed transitions down (best effort; readers derive them anyway). */
export async function settleConsumers(store: Store, streamName: string, transitionMs: number): Promise<void> {
  try {
    await updateStream(store, streamName, (r) => {
      const next = settled(r.consumers ?? [], Date.now(), transitionMs);
      return next ? { ...r, consumers: next } : undefined;
    });
  } catch (e) {
    if (!(e instanceof StreamNotFoundError)) throw e;
  }
}

function scheduleSettle(store: Store, streamName: string, transitionMs: number): void {
  const t = setTimeout(() => {
    if (store.nc.isClosed()) return;
    settleConsumers(store, streamName, transitionMs).catch(() => undefined);
  }, transitionMs + 50);
  t.unref();
}
