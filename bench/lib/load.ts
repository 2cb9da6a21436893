// Load shapes: a closed loop of N concurrent requests with pre-serialised
// bodies (throughput), and an open-loop steady producer with polling
// consumers (put → GetRecords visibility latency).
import { performance } from 'node:perf_hooks';
import { Samples, type LatencySummary } from './stats.js';
import { cpuSeconds } from './procs.js';
import type { KinesisHttp } from './kinesis.js';

/** CPU use of each process over the measured window, in cores (1.0 = one core busy). */
export type CpuUse = Record<string, number>;

/** Samples CPU time at the start and end of the measured window (timers, so late by a tick at most). */
export class CpuMeter {
  private start: Record<string, number> = {};
  private startSelf = process.cpuUsage();
  private t = 0;
  private result?: CpuUse;
  private readonly timers: NodeJS.Timeout[];

  constructor(
    private readonly pids: Record<string, number | undefined>,
    fromMs: number,
    toMs: number,
  ) {
    this.timers = [setTimeout(() => this.begin(), fromMs), setTimeout(() => this.end(), toMs)];
  }

  private begin(): void {
    this.t = performance.now();
    this.startSelf = process.cpuUsage();
    for (const [k, pid] of Object.entries(this.pids)) this.start[k] = cpuSeconds(pid);
  }

  private end(): void {
    const secs = (performance.now() - this.t) / 1000;
    const self = process.cpuUsage(this.startSelf);
    const out: CpuUse = { loadgen: (self.user + self.system) / 1e6 / secs };
    for (const [k, pid] of Object.entries(this.pids)) out[k] = (cpuSeconds(pid) - this.start[k]!) / secs;
    this.result = out;
  }

  /** The window's CPU use; waits for the end timer if the load finished early. */
  async done(): Promise<CpuUse> {
    while (!this.result) await new Promise((r) => setTimeout(r, 5));
    for (const t of this.timers) clearTimeout(t);
    return this.result;
  }
}

export interface ThroughputResult {
  requests: number;
  records: number;
  failedRecords: number;
  errors: number;
  seconds: number;
  recPerSec: number;
  /** Record payload (Data) bytes per second, in MB (10^6). */
  mbPerSec: number;
  reqPerSec: number;
  latencyMs: LatencySummary;
  cpu: CpuUse;
  firstError?: string;
}

export interface ClosedLoopOptions {
  client: KinesisHttp;
  op: 'PutRecords' | 'PutRecord';
  /** Pre-serialised request bodies, used round-robin. */
  bodies: Buffer[];
  recordsPerRequest: number;
  recordBytes: number;
  concurrency: number;
  warmupMs: number;
  durationMs: number;
  pids: Record<string, number | undefined>;
}

const FAILED_RE = /"FailedRecordCount":(\d+)/;

export async function closedLoop(o: ClosedLoopOptions): Promise<ThroughputResult> {
  const latency = new Samples();
  const cpu = new CpuMeter(o.pids, o.warmupMs, o.warmupMs + o.durationMs);
  const t0 = performance.now();
  const start = t0 + o.warmupMs;
  const end = start + o.durationMs;
  let requests = 0;
  let records = 0;
  let failedRecords = 0;
  let errors = 0;
  let firstError: string | undefined;

  const worker = async (w: number) => {
    let i = w;
    while (performance.now() < end) {
      const body = o.bodies[i++ % o.bodies.length]!;
      const s = performance.now();
      let ok = 0;
      let failed = 0;
      let error = false;
      try {
        const r = await o.client.call(o.op, body);
        if (r.status !== 200) {
          error = true;
          firstError ??= `${r.status} ${r.text.slice(0, 300)}`;
        } else if (o.op === 'PutRecords') {
          const m = FAILED_RE.exec(r.text);
          failed = m ? Number(m[1]) : o.recordsPerRequest;
          ok = o.recordsPerRequest - failed;
        } else {
          ok = 1;
        }
      } catch (e) {
        error = true;
        firstError ??= String((e as Error)?.message ?? e);
      }
      const e = performance.now();
      if (e >= start && e <= end) {
        requests++;
        records += ok;
        failedRecords += failed;
        if (error) errors++;
        else latency.add(e - s);
      }
    }
  };
  await Promise.all(Array.from({ length: o.concurrency }, (_, w) => worker(w)));
  const cpuUse = await cpu.done();
  const seconds = o.durationMs / 1000;
  return {
    requests,
    records,
    failedRecords,
    errors,
    seconds,
    recPerSec: records / seconds,
    mbPerSec: (records * o.recordBytes) / seconds / 1e6,
    reqPerSec: requests / seconds,
    latencyMs: latency.summary(),
    cpu: cpuUse,
    firstError,
  };
}

export interface VisibilityOptions {
  producer: KinesisHttp;
  /** One client per shard consumer, so polls do not queue behind puts. */
  consumers: KinesisHttp[];
  stream: string;
  shardIds: string[];
  rate: number;
  recordBytes: number;
  warmupMs: number;
  durationMs: number;
  /** How long to wait for records still in flight after the producer stops. */
  drainMs: number;
  pids: Record<string, number | undefined>;
}

export interface VisibilityResult {
  sent: number;
  /** Records sent in the measured window and read back by a consumer. */
  measured: number;
  /** Records sent in the measured window and never read back. */
  missing: number;
  duplicates: number;
  putErrors: number;
  achievedRate: number;
  visibilityMs: LatencySummary;
  putLatencyMs: LatencySummary;
  getRecordsCalls: number;
  getRecordsPerSec: number;
  cpu: CpuUse;
  firstError?: string;
}

/**
 * PutRecord at a steady rate (open loop: sends are scheduled by the clock, not
 * by answers), GetRecords polled without pause on every shard; for each
 * record, time read back − time sent, both on this process's clock.
 */
export async function visibilityLatency(o: VisibilityOptions): Promise<VisibilityResult> {
  const total = Math.round((o.rate * (o.warmupMs + o.durationMs)) / 1000);
  const sentAt = new Float64Array(total);
  const seen = new Uint8Array(total);
  const visibility = new Samples();
  const putLatency = new Samples();
  let putErrors = 0;
  let duplicates = 0;
  let firstError: string | undefined;
  let stopped = false;
  let polls = 0;
  let receivedInWindow = 0;

  // Iterators at LATEST before the first put.
  const iterators: string[] = [];
  for (const shardId of o.shardIds) {
    const r = await o.producer.json('GetShardIterator', { StreamName: o.stream, ShardId: shardId, ShardIteratorType: 'LATEST' });
    iterators.push(r.ShardIterator);
  }
  const begin = performance.now();
  const cpu = new CpuMeter(o.pids, o.warmupMs, o.warmupMs + o.durationMs);
  const measureFrom = begin + o.warmupMs;
  const measureTo = measureFrom + o.durationMs;
  const inWindow = (t: number) => t >= measureFrom && t < measureTo;

  const consume = async (k: number) => {
    let it: string | undefined = iterators[k];
    const client = o.consumers[k % o.consumers.length]!;
    while (!stopped && it) {
      const body = JSON.stringify({ ShardIterator: it, Limit: 10000 });
      let r;
      try {
        r = await client.call('GetRecords', body);
      } catch (e) {
        firstError ??= `GetRecords: ${(e as Error).message}`;
        await new Promise((res) => setTimeout(res, 10));
        continue;
      }
      const now = performance.now();
      if (r.status !== 200) {
        firstError ??= `GetRecords → ${r.status} ${r.text.slice(0, 300)}`;
        await new Promise((res) => setTimeout(res, 10));
        continue;
      }
      if (now >= measureFrom && now < measureTo) polls++;
      const out = JSON.parse(r.text) as { Records: { Data: string }[]; NextShardIterator?: string };
      for (const rec of out.Records) {
        const data = Buffer.from(rec.Data.slice(0, 16), 'base64');
        const idx = data.readUInt32LE(8);
        if (idx >= total) continue;
        if (seen[idx]) {
          duplicates++;
          continue;
        }
        seen[idx] = 1;
        const t = sentAt[idx]!;
        if (inWindow(t)) {
          visibility.add(now - t);
          receivedInWindow++;
        }
      }
      it = out.NextShardIterator;
    }
  };
  const consumers = o.shardIds.map((_, k) => consume(k));

  const pending = new Set<Promise<void>>();
  const template = Buffer.alloc(o.recordBytes, 0x61);
  const put = (i: number) => {
    const data = Buffer.from(template);
    const t = performance.now();
    data.writeDoubleLE(t, 0);
    data.writeUInt32LE(i, 8);
    sentAt[i] = t;
    const body = JSON.stringify({ StreamName: o.stream, PartitionKey: `pk-${i}`, Data: data.toString('base64') });
    const p = o.producer.call('PutRecord', body).then(
      (r) => {
        if (r.status !== 200) {
          putErrors++;
          firstError ??= `PutRecord → ${r.status} ${r.text.slice(0, 300)}`;
        } else if (inWindow(t)) putLatency.add(performance.now() - t);
      },
      (e) => {
        putErrors++;
        firstError ??= `PutRecord: ${(e as Error).message}`;
      },
    );
    pending.add(p);
    void p.finally(() => pending.delete(p));
  };

  let sent = 0;
  await new Promise<void>((resolve) => {
    const tick = () => {
      const due = Math.min(total, Math.floor(((performance.now() - begin) * o.rate) / 1000) + 1);
      while (sent < due) put(sent++);
      if (sent < total) setTimeout(tick, 1);
      else resolve();
    };
    tick();
  });
  await Promise.all(pending);
  const sentInWindow = () => {
    let n = 0;
    for (let i = 0; i < total; i++) if (inWindow(sentAt[i]!)) n++;
    return n;
  };
  const expected = sentInWindow();
  const drainUntil = performance.now() + o.drainMs;
  while (receivedInWindow < expected && performance.now() < drainUntil) await new Promise((r) => setTimeout(r, 5));
  stopped = true;
  await Promise.all(consumers);
  const cpuUse = await cpu.done();
  return {
    sent,
    measured: receivedInWindow,
    missing: expected - receivedInWindow,
    duplicates,
    putErrors,
    achievedRate: expected / (o.durationMs / 1000),
    visibilityMs: visibility.summary(),
    putLatencyMs: putLatency.summary(),
    getRecordsCalls: polls,
    getRecordsPerSec: polls / (o.durationMs / 1000),
    cpu: cpuUse,
    firstError,
  };
}
