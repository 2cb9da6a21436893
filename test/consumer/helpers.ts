// Shared by the consumer suites: numbered test records, and a processor that
// records what it saw and checkpoints after every batch.
import { PutRecordsCommand, type KinesisClient } from '@aws-sdk/client-kinesis';
import type { Checkpointer, ConsumerRecord, RecordBatch, RecordProcessor } from '../../consumer/index.js';

export const KEYS = 12;
export const keyOf = (n: number) => `key-${n % KEYS}`;

/**
 * Records from..to-1: partition key key-(n mod KEYS), data "n". Records a put
 * rejects (throttled or caught by a reshard) are sent again; with at most
 * KEYS records per call no key's later record can overtake an earlier one.
 */
export async function putRange(client: KinesisClient, stream: string, from: number, to: number, perCall = 500): Promise<void> {
  for (let at = from; at < to; at += perCall) {
    let pending = Array.from({ length: Math.min(to, at + perCall) - at }, (_, i) => ({ PartitionKey: keyOf(at + i), Data: Buffer.from(String(at + i)) }));
    for (let attempt = 0; pending.length > 0; attempt++) {
      if (attempt > 50) throw new Error(`${pending.length} records still failing`);
      if (attempt > 0) await sleep(50);
      const res = await client.send(new PutRecordsCommand({ StreamName: stream, Records: pending }));
      pending = pending.filter((_, i) => res.Records?.[i]?.ErrorCode);
    }
  }
}

export interface Seen {
  value: number;
  key: string;
  shardId: string;
  sequenceNumber: string;
  worker: string;
}

/** Records every record processed (in order) into `seen`; checkpoints after each batch. */
export function recordingFactory(worker: string, seen: Seen[], hooks: { ended?: string[] } = {}) {
  return (shardId: string): RecordProcessor => ({
    async processRecords(batch: RecordBatch, cp: Checkpointer) {
      for (const r of batch.records) seen.push({ value: Number(r.data.toString()), key: r.partitionKey, shardId, sequenceNumber: r.sequenceNumber, worker });
      await cp.checkpoint();
    },
    async shardEnded(cp: Checkpointer) {
      hooks.ended?.push(shardId);
      await cp.checkpoint();
    },
    async shutdownRequested(cp: Checkpointer) {
      await cp.checkpoint();
    },
  });
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function waitFor<T>(fn: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 20_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** Per partition key, the values in first-seen order must increase (re-deliveries after a failover aside). */
export function orderViolations(seen: { key: string; value: number }[]): string[] {
  const last = new Map<string, number>();
  const firstSeen = new Set<number>();
  const bad: string[] = [];
  for (const s of seen) {
    if (firstSeen.has(s.value)) continue;
    firstSeen.add(s.value);
    const prev = last.get(s.key);
    if (prev !== undefined && s.value < prev) bad.push(`${s.key}: ${s.value} after ${prev}`);
    last.set(s.key, s.value);
  }
  return bad;
}

export type { ConsumerRecord };
