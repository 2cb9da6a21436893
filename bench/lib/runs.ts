// Shared by the reshard, efo and quota benchmarks: one nats-server and N
// runtime child processes on loopback, CPU accounting over a run, a full
// lineage-aware read of a stream through GetRecords, and result rounding.
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { startNats, type NatsServers } from '../../test/harness/nats.js';
import { cpuSeconds, startRuntimeChild, type Child } from './procs.js';
import type { KinesisHttp } from './kinesis.js';
import { round } from './stats.js';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export interface Cluster {
  nats: NatsServers;
  runtimes: Child[];
  /** pids by label (runtime A, B, …, nats) for CPU accounting. */
  pids: Record<string, number | undefined>;
  stop(): Promise<void>;
}

/** nats-server (temp dir, removed on stop) and `count` runtimes from dist/, each its own process. */
export async function startCluster(count: number): Promise<Cluster> {
  const nats = await startNats();
  const runtimes: Child[] = [];
  try {
    for (let i = 0; i < count; i++) runtimes.push(await startRuntimeChild({ natsUrl: nats.url }));
  } catch (e) {
    for (const r of runtimes) await r.stop();
    await nats.stop();
    throw e;
  }
  const pids: Record<string, number | undefined> = { nats: nats.nodes[0]!.proc?.pid };
  runtimes.forEach((r, i) => (pids[`runtime ${String.fromCharCode(65 + i)}`] = r.proc.pid));
  return {
    nats,
    runtimes,
    pids,
    async stop() {
      for (const r of runtimes) await r.stop().catch(() => undefined);
      await nats.stop().catch(() => undefined);
    },
  };
}

/** Ends the run (children stopped, exit 1) if it is still going after `ms`: a benchmark never hangs. */
export function watchdog(cluster: Cluster, ms: number): NodeJS.Timeout {
  const t = setTimeout(() => {
    process.stderr.write(`benchmark still running after ${Math.round(ms / 1000)} s: stopping\n`);
    void cluster.stop().finally(() => process.exit(1));
  }, ms);
  t.unref();
  return t;
}

/** CPU cores used by each process (and this one, `loadgen`) between start() and stop(). */
export class CpuSpan {
  private readonly start: Record<string, number> = {};
  private readonly self = process.cpuUsage();
  private readonly t = performance.now();

  constructor(private readonly pids: Record<string, number | undefined>) {
    for (const [k, pid] of Object.entries(pids)) this.start[k] = cpuSeconds(pid);
  }

  stop(): Record<string, number> {
    const secs = (performance.now() - this.t) / 1000;
    const self = process.cpuUsage(this.self);
    const out: Record<string, number> = {};
    for (const [k, pid] of Object.entries(this.pids)) out[k] = (cpuSeconds(pid) - this.start[k]!) / secs;
    out.loadgen = (self.user + self.system) / 1e6 / secs;
    return out;
  }
}

export const cpuLine = (cpu: Record<string, number>) =>
  Object.entries(cpu)
    .map(([k, v]) => `${k} ${v.toFixed(2)}`)
    .join(', ');

export const loadAverage = () => os.loadavg()[0]!;

/** A count for a table cell (renderTable prints small numbers with decimals). */
export const int = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '-');

/** Rounds every float in the JSON to 3 decimals for readability. */
export function rounded(v: unknown): unknown {
  if (typeof v === 'number') return Number.isInteger(v) ? v : round(v, 3);
  if (Array.isArray(v)) return v.map(rounded);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, rounded(x)]));
  return v;
}

export interface WireRecord {
  SequenceNumber: string;
  ApproximateArrivalTimestamp: number;
  Data: string;
  PartitionKey: string;
}

interface ListedShard {
  ShardId: string;
  ParentShardId?: string;
  AdjacentParentShardId?: string;
  SequenceNumberRange: { StartingSequenceNumber: string; EndingSequenceNumber?: string };
}

export interface LineageReadResult {
  /** Shards in the order they were read (every parent before its children). */
  order: string[];
  listed: number;
  calls: number;
  throttled: number;
}

/**
 * Reads a whole stream with GetRecords as a KCL-style consumer does: shards
 * with no (listed) parent first, each from TRIM_HORIZON; a closed shard ends
 * with no NextShardIterator and its ChildShards, and a child is read once every
 * one of its ParentShards is done; an open shard is done when a read comes
 * back empty at MillisBehindLatest 0 (call it once writes have stopped).
 * `onRecords` sees every batch in read order.
 */
export async function readLineage(
  k: KinesisHttp,
  stream: string,
  onRecords: (shardId: string, records: WireRecord[]) => void,
): Promise<LineageReadResult> {
  const shards: ListedShard[] = [];
  let token: string | undefined;
  do {
    const r = await k.json('ListShards', token ? { NextToken: token } : { StreamName: stream });
    shards.push(...r.Shards);
    token = r.NextToken;
  } while (token);
  const listed = new Set(shards.map((s) => s.ShardId));
  const parentsOf = new Map<string, string[]>();
  for (const s of shards) parentsOf.set(s.ShardId, [s.ParentShardId, s.AdjacentParentShardId].filter((p): p is string => !!p && listed.has(p)));
  const done = new Set<string>();
  const queued = new Set<string>();
  const ready: string[] = [];
  const enqueue = (id: string) => {
    if (queued.has(id)) return;
    queued.add(id);
    ready.push(id);
  };
  for (const s of shards) if (parentsOf.get(s.ShardId)!.length === 0) enqueue(s.ShardId);
  const out: LineageReadResult = { order: [], listed: shards.length, calls: 0, throttled: 0 };
  while (ready.length) {
    const shardId = ready.shift()!;
    out.order.push(shardId);
    let it: string | undefined = (await k.json('GetShardIterator', { StreamName: stream, ShardId: shardId, ShardIteratorType: 'TRIM_HORIZON' })).ShardIterator;
    while (it) {
      const r = await k.call('GetRecords', JSON.stringify({ ShardIterator: it, Limit: 10000 }));
      out.calls++;
      if (r.status !== 200) {
        if (r.text.includes('ProvisionedThroughputExceeded')) {
          out.throttled++;
          await sleep(250);
          continue;
        }
        throw new Error(`GetRecords ${shardId} → ${r.status}: ${r.text.slice(0, 300)}`);
      }
      const g = JSON.parse(r.text) as {
        Records: WireRecord[];
        NextShardIterator?: string;
        MillisBehindLatest?: number;
        ChildShards?: { ShardId: string; ParentShards: string[] }[];
      };
      if (g.Records.length) onRecords(shardId, g.Records);
      if (!g.NextShardIterator) {
        done.add(shardId);
        for (const c of g.ChildShards ?? []) {
          // A child's parents, as the parent reports them (and the listing, for a parent already gone).
          const parents = new Set([...c.ParentShards, ...(parentsOf.get(c.ShardId) ?? [])]);
          if ([...parents].every((p) => done.has(p) || !listed.has(p))) enqueue(c.ShardId);
        }
        break;
      }
      if (g.Records.length === 0 && (g.MillisBehindLatest ?? 0) === 0) {
        done.add(shardId);
        break;
      }
      it = g.NextShardIterator;
    }
  }
  return out;
}
