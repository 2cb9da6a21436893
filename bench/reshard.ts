// `npm run bench -- reshard`: UpdateShardCount 4→8→4 (UNIFORM_SCALING) under a
// steady PutRecords load spread over two runtime processes. Reports, per
// reshard, the time to ACTIVE (the call's own return, and when the other
// runtime's DescribeStreamSummary shows ACTIVE with the new open shard count)
// and the entries rejected meanwhile; then reads the whole stream back
// parent-before-children (GetRecords following ChildShards) and counts lost,
// duplicated and out-of-order records. Loopback only; stops by itself.
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { NATS_SERVER } from '../test/harness/nats.js';
import { connectStore } from '../stream/connect.js';
import { setQuotaEnforcement } from '../stream/quotaSettings.js';
import { KinesisHttp, createStreamAndWait, deleteStream } from './lib/kinesis.js';
import { machineInfo, writeResults } from './lib/results.js';
import { Samples, type LatencySummary } from './lib/stats.js';
import { renderTable, fmt } from './lib/table.js';
import { CpuSpan, cpuLine, loadAverage, readLineage, rounded, sleep, startCluster, watchdog, int } from './lib/runs.js';

const USAGE = `usage: npm run bench -- reshard [flags]
  --rate N          records/s offered in all (default 10000)
  --producers N     producers, split evenly over the two runtimes (default 8)
  --keys N          partition keys per producer (default 64)
  --record-bytes N  Data bytes per record (default 100)
  --shards N        shards at creation (default 4); the bench scales to 2N and back
  --warmup S        load before the first reshard (default 3)
  --hold S          load after each reshard (default 5)
  --tick-ms N       a producer's pause when it has caught up (default 20)
  --retry-ms N      a producer's pause before retrying failed entries (default 10)
  --poll-ms N       DescribeStreamSummary poll interval on the other runtime (default 10)`;

interface Options {
  rate: number;
  producers: number;
  keys: number;
  recordBytes: number;
  shards: number;
  warmupMs: number;
  holdMs: number;
  tickMs: number;
  retryMs: number;
  pollMs: number;
}

function options(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      rate: { type: 'string' },
      producers: { type: 'string' },
      keys: { type: 'string' },
      'record-bytes': { type: 'string' },
      shards: { type: 'string' },
      warmup: { type: 'string' },
      hold: { type: 'string' },
      'tick-ms': { type: 'string' },
      'retry-ms': { type: 'string' },
      'poll-ms': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  return {
    rate: Number(values.rate ?? 10_000),
    producers: Number(values.producers ?? 8),
    keys: Number(values.keys ?? 64),
    recordBytes: Number(values['record-bytes'] ?? 100),
    shards: Number(values.shards ?? 4),
    warmupMs: Number(values.warmup ?? 3) * 1000,
    holdMs: Number(values.hold ?? 5) * 1000,
    tickMs: Number(values['tick-ms'] ?? 20),
    retryMs: Number(values['retry-ms'] ?? 10),
    pollMs: Number(values['poll-ms'] ?? 10),
  };
}

const STREAM = 'bench-reshard';
/** A producer gives up on an entry after this many attempts (reported; never expected). */
const MAX_ATTEMPTS = 1000;

/** A byte flag per sequence number, grown on demand. */
class Flags {
  a = new Uint8Array(1 << 16);
  set(i: number, v = 1): void {
    if (i >= this.a.length) {
      const n = new Uint8Array(Math.max(this.a.length * 2, i + 1));
      n.set(this.a);
      this.a = n;
    }
    this.a[i] = v;
  }
  get(i: number): number {
    return i < this.a.length ? this.a[i]! : 0;
  }
}

interface Entry {
  seq: number;
  attempts: number;
}

/** One PutRecords request as the producer saw it (times on this process's clock, ms since the run began). */
interface Sent {
  at: number;
  ms: number;
  entries: number;
  failed: number;
}

interface Producer {
  id: number;
  runtime: 'A' | 'B';
  client: KinesisHttp;
  next: number;
  acked: Flags;
  ackedCount: number;
  abandoned: number;
  requests: Sent[];
  /** Failed entries: request time and error code. */
  rejects: { at: number; code: string }[];
}

const dataOf = (p: number, seq: number, bytes: number) => {
  const head = `${String(p).padStart(2, '0')}:${String(seq).padStart(9, '0')}:`;
  return Buffer.from(head.padEnd(Math.max(bytes, head.length), 'x')).toString('base64');
};
const keyOf = (p: number, seq: number, keys: number) => `p${p}-k${seq % keys}`;

async function produce(p: Producer, o: Options, t0: number, stopping: () => boolean): Promise<void> {
  const perSec = o.rate / o.producers;
  let pending: Entry[] = [];
  while (!stopping() || pending.length) {
    const now = performance.now();
    const due = stopping() ? p.next : Math.floor(((now - t0) * perSec) / 1000);
    // Failed entries first; new records only for keys not in this request, so
    // a key's next record always waits for the previous one's ack (per-key order).
    const batch = [...pending];
    const keysIn = new Set(batch.map((e) => e.seq % o.keys));
    while (p.next < due && batch.length < 500 && !keysIn.has(p.next % o.keys)) {
      keysIn.add(p.next % o.keys);
      batch.push({ seq: p.next++, attempts: 0 });
    }
    if (batch.length === 0) {
      await sleep(o.tickMs);
      continue;
    }
    const body = JSON.stringify({
      StreamName: STREAM,
      Records: batch.map((e) => ({ PartitionKey: keyOf(p.id, e.seq, o.keys), Data: dataOf(p.id, e.seq, o.recordBytes) })),
    });
    const at = performance.now();
    let codes: (string | undefined)[];
    try {
      const r = await p.client.call('PutRecords', body);
      if (r.status === 200) {
        codes = (JSON.parse(r.text) as { Records: { ErrorCode?: string }[] }).Records.map((x) => x.ErrorCode);
      } else {
        const type = /"__type":"([^"]+)"/.exec(r.text)?.[1] ?? '';
        codes = batch.map(() => `HTTP ${r.status} ${type}`.trim());
      }
    } catch (e) {
      codes = batch.map(() => `request: ${(e as Error).message}`);
    }
    const end = performance.now();
    const failed: Entry[] = [];
    batch.forEach((e, i) => {
      const code = codes[i];
      if (code === undefined) {
        if (!p.acked.get(e.seq)) p.ackedCount++;
        p.acked.set(e.seq);
        return;
      }
      p.rejects.push({ at: at - t0, code });
      if (++e.attempts >= MAX_ATTEMPTS) p.abandoned++;
      else failed.push(e);
    });
    p.requests.push({ at: at - t0, ms: end - at, entries: batch.length, failed: failed.length });
    pending = failed;
    if (failed.length) await sleep(o.retryMs);
    else if (!stopping() && due - p.next < (perSec * o.tickMs) / 1000) await sleep(o.tickMs);
  }
}

interface ReshardResult {
  from: number;
  to: number;
  calledVia: string;
  observedVia: string;
  /** ms since the run began. */
  startedAt: number;
  callMs: number;
  callStatus: number;
  callError?: string;
  otherSawUpdatingMs?: number;
  otherSawActiveMs?: number;
  polls: number;
  /** Window the rejections and latencies are attributed to: start → max(call, other's ACTIVE) + 1 s. */
  windowMs: number;
  rejected: number;
  rejectedByCode: Record<string, number>;
  putLatencyMs: LatencySummary;
  ackedPerSec: number;
}

async function reshardOnce(
  call: { name: string; k: KinesisHttp },
  observe: { name: string; k: KinesisHttp },
  from: number,
  to: number,
  t0: number,
  pollMs: number,
): Promise<ReshardResult> {
  const start = performance.now();
  const out: ReshardResult = {
    from, to, calledVia: call.name, observedVia: observe.name, startedAt: start - t0, callMs: NaN, callStatus: 0, polls: 0, windowMs: 0,
    rejected: 0, rejectedByCode: {}, putLatencyMs: new Samples().summary(), ackedPerSec: 0,
  };
  let stop = false;
  const poller = (async () => {
    while (!stop && performance.now() - start < 120_000) {
      let s: { StreamStatus: string; OpenShardCount: number } | undefined;
      try {
        s = (await observe.k.json('DescribeStreamSummary', { StreamName: STREAM })).StreamDescriptionSummary;
      } catch {
        // counted as a poll; try again
      }
      const t = performance.now() - start;
      out.polls++;
      if (s?.StreamStatus === 'UPDATING') out.otherSawUpdatingMs ??= t;
      if (s?.StreamStatus === 'ACTIVE' && s.OpenShardCount === to) {
        out.otherSawActiveMs = t;
        return;
      }
      await sleep(pollMs);
    }
  })();
  const r = await call.k.call('UpdateShardCount', JSON.stringify({ StreamName: STREAM, TargetShardCount: to, ScalingType: 'UNIFORM_SCALING' }));
  out.callMs = performance.now() - start;
  out.callStatus = r.status;
  if (r.status !== 200) {
    out.callError = r.text.slice(0, 300);
    stop = true;
  }
  await poller;
  return out;
}

export async function runReshard(argv: string[]): Promise<void> {
  const o = options(argv);
  const startedAt = new Date();
  const log = (m: string) => process.stderr.write(`${m}\n`);
  const loadBefore = os.loadavg();
  log(`reshard benchmark: ${o.rate} rec/s from ${o.producers} producers over two runtimes; ${o.shards}→${o.shards * 2}→${o.shards}; ${os.cpus().length} cores, load average ${loadAverage().toFixed(2)}`);
  const cluster = await startCluster(2);
  const dog = watchdog(cluster, o.warmupMs + 2 * o.holdMs + 240_000);
  const [ra, rb] = cluster.runtimes as [typeof cluster.runtimes[0], typeof cluster.runtimes[0]];
  const admin = { A: new KinesisHttp(ra.endpoint, { connections: 2 }), B: new KinesisHttp(rb.endpoint, { connections: 2 }) };
  const perRuntime = Math.ceil(o.producers / 2);
  const pools = { A: new KinesisHttp(ra.endpoint, { connections: perRuntime }), B: new KinesisHttp(rb.endpoint, { connections: perRuntime }) };
  const store = await connectStore({ natsUrl: cluster.nats.url, name: 'bench-reshard' });
  const errors: string[] = [];
  let result: Record<string, unknown> | undefined;
  try {
    await createStreamAndWait(admin.A, STREAM, o.shards, 'PROVISIONED');
    // Quota enforcement off for this PROVISIONED stream (2,500 rec/s per shard is over AWS's 1,000).
    await setQuotaEnforcement(store, STREAM, false);
    // Both runtimes have it once 3 × 400 records at once to one shard go through unthrottled (the bucket holds 1,000).
    for (const [name, k] of Object.entries(admin)) {
      for (let i = 0; ; i++) {
        const probe = { StreamName: STREAM, Records: Array.from({ length: 400 }, () => ({ PartitionKey: 'probe', ExplicitHashKey: '0', Data: 'cHJvYmU=' })) };
        const r = await Promise.all([1, 2, 3].map(() => k.json('PutRecords', probe)));
        if (r.every((x) => x.FailedRecordCount === 0)) break;
        if (i === 50) throw new Error(`runtime ${name} still enforces quotas on ${STREAM}`);
        await sleep(100);
      }
    }
    log(`stream ${STREAM}: ${o.shards} shards, PROVISIONED, quota enforcement off (checked on both runtimes)`);

    const producers: Producer[] = Array.from({ length: o.producers }, (_, id) => {
      const runtime = id % 2 === 0 ? 'A' : 'B';
      return { id, runtime, client: pools[runtime], next: 0, acked: new Flags(), ackedCount: 0, abandoned: 0, requests: [], rejects: [] };
    });
    let stopping = false;
    const cpu = new CpuSpan(cluster.pids);
    const t0 = performance.now();
    const running = producers.map((p) => produce(p, o, t0, () => stopping));

    await sleep(o.warmupMs);
    const up = o.shards * 2;
    log(`UpdateShardCount ${o.shards}→${up} via runtime A, observed from B`);
    const r1 = await reshardOnce({ name: 'A', k: admin.A }, { name: 'B', k: admin.B }, o.shards, up, t0, o.pollMs);
    log(`  call ${fmt(r1.callMs)} ms (HTTP ${r1.callStatus}), B sees ACTIVE/${up} at ${fmt(r1.otherSawActiveMs ?? NaN)} ms`);
    await sleep(o.holdMs);
    log(`UpdateShardCount ${up}→${o.shards} via runtime B, observed from A`);
    const r2 = await reshardOnce({ name: 'B', k: admin.B }, { name: 'A', k: admin.A }, up, o.shards, t0, o.pollMs);
    log(`  call ${fmt(r2.callMs)} ms (HTTP ${r2.callStatus}), A sees ACTIVE/${o.shards} at ${fmt(r2.otherSawActiveMs ?? NaN)} ms`);
    await sleep(o.holdMs);
    stopping = true;
    const loadMs = performance.now() - t0;
    await Promise.all(running);
    const cpuUse = cpu.stop();
    for (const r of [r1, r2]) if (r.callError) errors.push(`UpdateShardCount ${r.from}→${r.to}: HTTP ${r.callStatus} ${r.callError}`);

    // Attribute rejections and latencies to the reshards' windows.
    const reshards = [r1, r2];
    for (const r of reshards) r.windowMs = Math.max(r.callMs, r.otherSawActiveMs ?? 0) + 1000;
    const windowOf = (at: number) => reshards.find((r) => at >= r.startedAt && at < r.startedAt + r.windowMs);
    const steadyLatency = new Samples();
    const latency = new Map(reshards.map((r) => [r, new Samples()]));
    const acked = new Map(reshards.map((r) => [r, 0]));
    let rejectedOutside = 0;
    const outsideCodes: Record<string, number> = {};
    let throttled = 0;
    for (const p of producers) {
      for (const q of p.requests) {
        const w = windowOf(q.at);
        if (w) {
          latency.get(w)!.add(q.ms);
          acked.set(w, acked.get(w)! + q.entries - q.failed);
        } else steadyLatency.add(q.ms);
      }
      for (const x of p.rejects) {
        if (x.code.includes('ProvisionedThroughputExceeded')) throttled++;
        const w = windowOf(x.at);
        const codes = w ? w.rejectedByCode : outsideCodes;
        codes[x.code] = (codes[x.code] ?? 0) + 1;
        if (w) w.rejected++;
        else rejectedOutside++;
      }
    }
    for (const r of reshards) {
      r.putLatencyMs = latency.get(r)!.summary();
      r.ackedPerSec = acked.get(r)! / (r.windowMs / 1000);
    }

    // Everything back, parent before children, through runtime B.
    log('reading the stream back (GetRecords following ChildShards, via runtime B)');
    const reader = new KinesisHttp(rb.endpoint, { connections: 1 });
    const seen = producers.map(() => new Flags());
    const lastSeqOfKey = new Map<string, number>();
    let read = 0;
    let duplicates = 0;
    let orderViolations = 0;
    let probes = 0;
    let foreign = 0;
    const readStart = performance.now();
    const lineage = await readLineage(reader, STREAM, (_shard, records) => {
      for (const rec of records) {
        const s = Buffer.from(rec.Data, 'base64').toString('latin1', 0, 13);
        const m = /^(\d\d):(\d{9}):/.exec(s);
        if (!m) {
          if (rec.PartitionKey === 'probe') probes++;
          else foreign++;
          continue;
        }
        const p = Number(m[1]);
        const seq = Number(m[2]);
        if (p >= producers.length) {
          foreign++;
          continue;
        }
        read++;
        const n = seen[p]!.get(seq);
        if (n) duplicates++;
        seen[p]!.set(seq, Math.min(255, n + 1));
        const key = rec.PartitionKey;
        const last = lastSeqOfKey.get(key);
        if (last !== undefined && seq < last) orderViolations++;
        if (last === undefined || seq > last) lastSeqOfKey.set(key, seq);
      }
    });
    const readMs = performance.now() - readStart;
    await reader.close();
    let ackedTotal = 0;
    let lost = 0;
    let storedNotAcked = 0;
    let abandoned = 0;
    for (const [i, p] of producers.entries()) {
      ackedTotal += p.ackedCount;
      abandoned += p.abandoned;
      for (let s = 0; s < p.next; s++) {
        const a = p.acked.get(s);
        const n = seen[i]!.get(s);
        if (a && !n) lost++;
        if (!a && n) storedNotAcked++;
      }
    }
    const offered = producers.reduce((n, p) => n + p.next, 0);
    const totalRejected = reshards.reduce((n, r) => n + r.rejected, 0) + rejectedOutside;

    const loadAfter = os.loadavg();
    const reshardTable = renderTable(
      ['reshard', 'called via → observed from', 'call returned ms', 'other sees UPDATING ms', 'other sees ACTIVE + new count ms', 'rejected entries (retried)', 'put p50 ms', 'put p99 ms', 'put max ms', 'acked rec/s'],
      reshards.map((r) => [
        `${r.from}→${r.to}`, `${r.calledVia} → ${r.observedVia}`, r.callMs, r.otherSawUpdatingMs ?? NaN, r.otherSawActiveMs ?? NaN,
        `${int(r.rejected)}${r.rejected ? ` (${Object.entries(r.rejectedByCode).map(([c, n]) => `${c} ${int(n)}`).join(', ')})` : ''}`,
        r.putLatencyMs.p50, r.putLatencyMs.p99, r.putLatencyMs.max, r.ackedPerSec,
      ]),
    );
    const steady = steadyLatency.summary();
    const checks: [string, string, boolean][] = [
      ['lost (acked, not read back)', String(lost), lost === 0],
      ['duplicated', String(duplicates), duplicates === 0],
      ['per-key order violations', String(orderViolations), orderViolations === 0],
      ['entries abandoned by producers', String(abandoned), abandoned === 0],
      ['throttled entries (enforcement off)', String(throttled), throttled === 0],
      ['shards read / listed', `${lineage.order.length} / ${lineage.listed}`, lineage.order.length === lineage.listed],
    ];
    const tables = [
      `Machine: ${os.cpus().length} cores; load average ${loadBefore[0]!.toFixed(2)} before, ${loadAfter[0]!.toFixed(2)} after (the bench itself adds ~2; more means other work shared the cores)`,
      `UpdateShardCount UNIFORM_SCALING on a PROVISIONED stream (quota enforcement off) under ${fmt(o.rate)} rec/s of PutRecords (${o.recordBytes} B records) from ${o.producers} producers, half on each of two runtimes;`,
      `"other sees" = first DescribeStreamSummary on the other runtime (polled every ${o.pollMs} ms) showing that state; rejections, latencies and acked rate are over the window from the call to the later of the two + 1 s`,
      reshardTable,
      '',
      `Load and read-back (load ${fmt(loadMs / 1000)} s; PutRecords p50/p99 outside the reshard windows ${fmt(steady.p50)} / ${fmt(steady.p99)} ms; CPU cores: ${cpuLine(cpuUse)})`,
      renderTable(
        ['records sent', 'acked', 'acked rec/s', 'read back', 'rejected in all', 'rejected outside reshards', 'stored, not acked', 'read back in', 'GetRecords calls'],
        [[int(offered), int(ackedTotal), ackedTotal / (loadMs / 1000), int(read), int(totalRejected), int(rejectedOutside), int(storedNotAcked), `${fmt(readMs / 1000)} s`, int(lineage.calls)]],
      ),
      '',
      'Checks',
      renderTable(['check', 'measured', 'met'], checks.map(([c, v, ok]) => [c, v, ok ? 'yes' : 'NO'])),
    ].join('\n');
    console.log(tables);
    result = {
      benchmark: 'reshard',
      startedAt: startedAt.toISOString(),
      finishedAt: new Date().toISOString(),
      machine: { ...machineInfo(NATS_SERVER), loadAverageBefore: loadBefore, loadAverageAfter: loadAfter },
      setup: {
        runtimes: 'two child processes (node dist/runtime/cli.js runtime) on one nats-server; load generator (undici) in the parent',
        stream: `${STREAM}: PROVISIONED, quota enforcement off (setQuotaEnforcement), ${o.shards} shards`,
        producerModel: 'each owns its partition keys; a request holds failed entries first (same key, same data) and new records only for keys not in it, so a key\'s next record waits for the previous ack',
        readBack: 'GetRecords via runtime B from TRIM_HORIZON, children after every parent (ChildShards)',
        ...o,
      },
      reshards,
      load: { seconds: loadMs / 1000, sent: offered, acked: ackedTotal, ackedPerSec: ackedTotal / (loadMs / 1000), rejected: totalRejected, rejectedOutside, outsideCodes, throttled, steadyPutLatencyMs: steady, cpu: cpuUse },
      readBack: { records: read, probes, foreign, lost, duplicates, orderViolations, storedNotAcked, abandoned, seconds: readMs / 1000, shardOrder: lineage.order, getRecordsCalls: lineage.calls },
      checks: checks.map(([check, measured, met]) => ({ check, measured, met })),
      errors,
      table: tables,
    };
    if (checks.some(([, , ok]) => !ok)) process.exitCode = 1;
    await deleteStream(admin.A, STREAM);
  } catch (e) {
    errors.push(String((e as Error)?.stack ?? e));
  } finally {
    await store.close();
    for (const k of [...Object.values(admin), ...Object.values(pools)]) await k.close().catch(() => undefined);
    await cluster.stop();
    clearTimeout(dog);
  }
  const file = writeResults('reshard', rounded(result ?? { benchmark: 'reshard', startedAt: startedAt.toISOString(), errors }));
  console.log(`\nresults: ${path.relative(process.cwd(), file)}`);
  if (errors.length) {
    console.error(`\n${errors.length} error(s):\n${errors.join('\n')}`);
    process.exitCode = 1;
  }
}
