// What a Consumer keeps in its LeaseStore, per application and stream:
//   <app>.<stream>.lease.<shardId>   one per shard: owner, checkpoint, load
//   <app>.<stream>.worker.<workerId> one per worker: its heartbeat
// Liveness is judged as the KCL does, by the observer's own clock: an entry
// whose revision has not moved for failoverTimeMs is expired, so clock skew
// between hosts does not matter.
import type { InitialPosition } from './types.js';

export const SHARD_END = 'SHARD_END';

export interface LeaseValue {
  shardId: string;
  owner?: string;
  /** TRIM_HORIZON | LATEST | AT_TIMESTAMP:<ms> | SHARD_END | the sequence number of the last record processed. */
  checkpoint: string;
  /** With a sequence-number checkpoint: the last user record processed inside a KPL aggregate. */
  subSequenceNumber?: number;
  parents: string[];
  /** A worker asked for this lease: the owner checkpoints and hands it over. */
  handoffTo?: string;
  /** Records per second the owner processed (balance by load). */
  ratePerSec: number;
  /** The owner's lag on the shard at its last renewal: MillisBehindLatest of its last read (0: caught up). Absent before the first renewal. */
  millisBehindLatest?: number;
  /** Age of the last record the owner processed at its last renewal (IteratorAgeMilliseconds as the KCL publishes it). */
  iteratorAgeMs?: number;
  /** Times the lease changed hands (KCL's ownerSwitchesSinceCheckpoint, but never reset). */
  ownerSwitches: number;
}

export interface WorkerValue {
  workerId: string;
  startedAtMs: number;
}

/** A key token: [A-Za-z0-9_-] kept, anything else escaped as =XX. */
export function keyToken(s: string): string {
  return Buffer.from(s, 'utf8').toString('latin1').replace(/[^A-Za-z0-9_-]/g, (c) => '=' + c.charCodeAt(0).toString(16).padStart(2, '0').toUpperCase());
}

export function keys(applicationName: string, streamName: string) {
  const base = `${keyToken(applicationName)}.${keyToken(streamName)}.`;
  return {
    all: base,
    lease: (shardId: string) => `${base}lease.${keyToken(shardId)}`,
    worker: (workerId: string) => `${base}worker.${keyToken(workerId)}`,
    isLease: (k: string) => k.startsWith(`${base}lease.`),
    isWorker: (k: string) => k.startsWith(`${base}worker.`),
  };
}

export function initialCheckpoint(p: InitialPosition): string {
  return p.type === 'AT_TIMESTAMP' ? `AT_TIMESTAMP:${p.timestampMs}` : p.type;
}
