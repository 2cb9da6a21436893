// `npm run bench -- quota`: per-shard limits of a PROVISIONED stream enforced
// across two runtime processes. Producers split over both runtimes offer 1.5×
// a shard's write limit (records/s with small records, bytes/s with ~10 KB
// records); the accepted rate per shard is taken from the stored records'
// ApproximateArrivalTimestamps over a window after warm-up, against the limit.
// Then GetRecords at 2× the 5 calls/s limit, alternating runtimes. Loopback
// only; stops by itself.
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { NATS_SERVER } from '../test/harness/nats.js';
import { connectStore, type Store } from '../stream/connect.js';
import { setQuotaEnforcement } from '../stream/quotaSettings.js';
import { KinesisHttp, createStreamAndWait, deleteStream } from './lib/kinesis.js';
import { machineInfo, writeResults } from './lib/results.js';
import { renderTable, fmt } from './lib/table.js';
import { CpuSpan, cpuLine, loadAverage, rounded, sleep, startCluster, watchdog, int, type WireRecord } from './lib/runs.js';

const USAGE = `usage: npm run bench -- quota [flags]
  --duration S      measured seconds per scenario (default 10)
  --warmup S        unmeasured seconds before (default 3: spends the one second of burst)
  --factor X        offered writes as a multiple of the write limits (default 1.5)
  --read-factor X   offered GetRecords calls as a multiple of 5/s (default 2)
  --small-bytes N   Data bytes of the records/s scenario (default 100)
  --large-bytes N   Data bytes of the bytes/s scenario (default 10000)
  --tick-ms N       each producer sends one PutRecords per tick (default 100)
  --scenarios LIST  records,bytes,reads (default all)`;

interface Options {
  durationMs: number;
  warmupMs: number;
  factor: number;
  readFactor: number;
  smallBytes: number;
  largeBytes: number;
  tickMs: number;
  scenarios: Set<string>;
}

function options(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      duration: { type: 'string' },
      warmup: { type: 'string' },
      factor: { type: 'string' },
      'read-factor': { type: 'string' },
      'small-bytes': { type: 'string' },
      'large-bytes': { type: 'string' },
      'tick-ms': { type: 'string' },
      scenarios: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  return {
    durationMs: Number(values.duration ?? 10) * 1000,
    warmupMs: Number(values.warmup ?? 3) * 1000,
    factor: Number(values.factor ?? 1.5),
    readFactor: Number(values['read-factor'] ?? 2),
    smallBytes: Number(values['small-bytes'] ?? 100),
    largeBytes: Number(values['large-bytes'] ?? 10_000),
    tickMs: Number(values['tick-ms'] ?? 100),
    scenarios: new Set((values.scenarios ?? 'records,bytes,reads').split(',').map((s) => s.trim()).filter(Boolean)),
  };
}

const MiB = 1024 * 1024;
const LIMITS = { records: 1000, bytes: MiB, reads: 5 };
/** docs/quotas-and-metrics.md: the accepted rate is within this share of the limit. */
const TOLERANCE = 0.1;
const SHARDS = 2;
const KEY = 'k';

interface Runtimes {
  A: KinesisHttp;
  B: KinesisHttp;
}

interface ShardRow {
  scenario: 'records' | 'bytes' | 'reads';
  shardId: string;
  /** Per second over the measured window: records (records, bytes scenarios) or calls (reads). */
  offeredPerSec: number;
  offeredBytesPerSec?: number;
  /** Server side: stored with an arrival time in the window (writes); admitted calls (reads). */
  acceptedPerSec: number;
  acceptedBytesPerSec?: number;
  limit: number;
  percentOfLimit: number;
  throttledFraction: number;
  clientAcceptedPerSec: number;
  otherErrors: number;
}

async function createTwoShardStream(rts: Runtimes, name: string): Promise<{ shardIds: string[]; hashKeys: string[] }> {
  await createStreamAndWait(rts.A, name, SHARDS, 'PROVISIONED');
  // Runtime B routes with the record before the load starts.
  for (let i = 0; (await rts.B.json('DescribeStreamSummary', { StreamName: name }).catch(() => undefined))?.StreamDescriptionSummary?.StreamStatus !== 'ACTIVE'; i++) {
    if (i > 300) throw new Error(`runtime B does not see ${name} ACTIVE`);
    await sleep(20);
  }
  const l = await rts.A.json('ListShards', { StreamName: name });
  return {
    shardIds: l.Shards.map((s: { ShardId: string }) => s.ShardId),
    hashKeys: l.Shards.map((s: { HashKeyRange: { StartingHashKey: string } }) => s.HashKeyRange.StartingHashKey),
  };
}

const arrivalMs = (v: number | string) => (typeof v === 'number' ? Math.round(v * 1000) : Date.parse(v));

/** Arrival time and size (data + key) of the records of a shard, up to the first that arrived at or after `untilMs`. */
async function storedRecords(k: KinesisHttp, stream: string, shardId: string, untilMs: number): Promise<{ at: number; bytes: number }[]> {
  const out: { at: number; bytes: number }[] = [];
  let it: string | undefined = (await k.json('GetShardIterator', { StreamName: stream, ShardId: shardId, ShardIteratorType: 'TRIM_HORIZON' })).ShardIterator;
  while (it) {
    const r = await k.call('GetRecords', JSON.stringify({ ShardIterator: it, Limit: 10000 }));
    if (r.status !== 200) {
      if (!r.text.includes('ProvisionedThroughputExceeded')) throw new Error(`GetRecords → ${r.status} ${r.text.slice(0, 300)}`);
      await sleep(250);
      continue;
    }
    const g = JSON.parse(r.text) as { Records: WireRecord[]; NextShardIterator?: string };
    for (const x of g.Records) out.push({ at: arrivalMs(x.ApproximateArrivalTimestamp), bytes: Buffer.byteLength(x.Data, 'base64') + Buffer.byteLength(x.PartitionKey) });
    if (g.Records.length === 0 || out[out.length - 1]!.at >= untilMs) break;
    it = g.NextShardIterator;
  }
  return out;
}

/**
 * Every tick each runtime's producer sends one PutRecords holding its half of
 * the records due for each shard (by ExplicitHashKey, interleaved), open loop
 * (requests do not wait for each other).
 */
async function writeScenario(rts: Runtimes, store: Store, kind: 'records' | 'bytes', o: Options, pids: Record<string, number | undefined>, log: (m: string) => void) {
  const stream = `bench-quota-${kind}`;
  const { shardIds, hashKeys } = await createTwoShardStream(rts, stream);
  const dataBytes = kind === 'records' ? o.smallBytes : o.largeBytes;
  const recBytes = dataBytes + KEY.length;
  const perShardPerSec = kind === 'records' ? o.factor * LIMITS.records : (o.factor * LIMITS.bytes) / recBytes;
  log(`[${kind}] ${stream}: ${fmt(perShardPerSec)} records/s of ${dataBytes} B per shard (${fmt((perShardPerSec * recBytes) / MiB)} MiB/s), half through each runtime`);
  const data = Buffer.alloc(dataBytes, 7).toString('base64');
  const clients = [rts.A, rts.B];
  const zeros = () => shardIds.map(() => 0);
  const c = { offered: zeros(), accepted: zeros(), throttled: zeros(), other: zeros() };
  const sentPer = clients.map(() => zeros());
  const inflight: Promise<void>[] = [];
  const start = Date.now();
  const from = start + o.warmupMs;
  const to = from + o.durationMs;
  const cpu = new CpuSpan(pids);
  let firstError: string | undefined;
  for (let tick = 0; tick * o.tickMs < o.warmupMs + o.durationMs + 500; tick++) {
    const at = start + tick * o.tickMs;
    if (at > Date.now()) await sleep(at - Date.now());
    const sendAt = Date.now();
    const measured = sendAt >= from && sendAt < to;
    const elapsed = sendAt - start + o.tickMs;
    clients.forEach((client, ci) => {
      // Records due for each shard from this client by the end of this tick.
      const counts = shardIds.map((_, si) => {
        const due = Math.floor((perShardPerSec * elapsed) / 1000 / clients.length);
        const n = Math.max(0, due - sentPer[ci]![si]!);
        sentPer[ci]![si]! += n;
        return n;
      });
      const order: number[] = [];
      for (let k = 0; k < Math.max(...counts); k++) for (let si = 0; si < shardIds.length; si++) if (k < counts[si]!) order.push(si);
      if (!order.length) return;
      const body = JSON.stringify({ StreamName: stream, Records: order.map((si) => ({ PartitionKey: KEY, ExplicitHashKey: hashKeys[si], Data: data })) });
      inflight.push(
        client.call('PutRecords', body).then(
          (r) => {
            if (!measured) return;
            for (const si of order) c.offered[si]!++;
            if (r.status !== 200) {
              firstError ??= `PutRecords → ${r.status} ${r.text.slice(0, 200)}`;
              for (const si of order) c.other[si]!++;
              return;
            }
            (JSON.parse(r.text) as { Records: { ErrorCode?: string }[] }).Records.forEach((x, i) => {
              const si = order[i]!;
              if (!x.ErrorCode) c.accepted[si]!++;
              else if (x.ErrorCode === 'ProvisionedThroughputExceededException') c.throttled[si]!++;
              else c.other[si]!++;
            });
          },
          (e) => {
            firstError ??= `PutRecords: ${(e as Error).message}`;
            if (measured) for (const si of order) c.other[si]!++;
          },
        ),
      );
    });
  }
  await Promise.all(inflight);
  const cpuUse = cpu.stop();
  // The measurement is done: reading back needs no limits.
  await setQuotaEnforcement(store, stream, false);
  await sleep(200);
  const secs = o.durationMs / 1000;
  const rows: ShardRow[] = [];
  for (const [si, shardId] of shardIds.entries()) {
    const stored = (await storedRecords(rts.A, stream, shardId, to)).filter((x) => x.at >= from && x.at < to);
    const storedBytes = stored.reduce((n, x) => n + x.bytes, 0);
    const accepted = kind === 'records' ? stored.length / secs : storedBytes / secs;
    const limit = kind === 'records' ? LIMITS.records : LIMITS.bytes;
    rows.push({
      scenario: kind,
      shardId,
      offeredPerSec: c.offered[si]! / secs,
      offeredBytesPerSec: (c.offered[si]! * recBytes) / secs,
      acceptedPerSec: stored.length / secs,
      acceptedBytesPerSec: storedBytes / secs,
      limit,
      percentOfLimit: (100 * accepted) / limit,
      throttledFraction: c.offered[si]! ? c.throttled[si]! / c.offered[si]! : NaN,
      clientAcceptedPerSec: c.accepted[si]! / secs,
      otherErrors: c.other[si]!,
    });
  }
  await deleteStream(rts.A, stream);
  return { rows, cpu: cpuUse, firstError, dataBytes, perShardPerSec };
}

/** GetRecords on every shard at `readFactor` × 5 calls/s each, alternating runtimes, iterators chained. */
async function readScenario(rts: Runtimes, o: Options, pids: Record<string, number | undefined>, log: (m: string) => void) {
  const stream = 'bench-quota-reads';
  const { shardIds, hashKeys } = await createTwoShardStream(rts, stream);
  await rts.A.json('PutRecords', { StreamName: stream, Records: hashKeys.map((h) => ({ PartitionKey: KEY, ExplicitHashKey: h, Data: 'cg==' })) });
  const perSec = o.readFactor * LIMITS.reads;
  log(`[reads] ${stream}: GetRecords at ${fmt(perSec)} calls/s per shard, alternating runtimes A and B`);
  const start = Date.now() + 100;
  const from = start + o.warmupMs;
  const to = from + o.durationMs;
  const cpu = new CpuSpan(pids);
  let firstError: string | undefined;
  const per = await Promise.all(
    shardIds.map(async (shardId) => {
      const r = { offered: 0, accepted: 0, throttled: 0, other: 0 };
      let it = (await rts.A.json('GetShardIterator', { StreamName: stream, ShardId: shardId, ShardIteratorType: 'TRIM_HORIZON' })).ShardIterator as string;
      for (let n = 0; ; n++) {
        const at = start + (n * 1000) / perSec;
        if (at >= to + 200) break;
        if (at > Date.now()) await sleep(at - Date.now());
        const sendAt = Date.now();
        const measured = sendAt >= from && sendAt < to;
        const res = await [rts.A, rts.B][n % 2]!.call('GetRecords', JSON.stringify({ ShardIterator: it })).catch((e: Error) => ({ status: 0, text: e.message }));
        if (res.status === 200) it = (JSON.parse(res.text) as { NextShardIterator: string }).NextShardIterator;
        if (!measured) continue;
        r.offered++;
        if (res.status === 200) r.accepted++;
        else if (res.text.includes('ProvisionedThroughputExceeded')) r.throttled++;
        else {
          r.other++;
          firstError ??= `GetRecords → ${res.status} ${res.text.slice(0, 200)}`;
        }
      }
      return r;
    }),
  );
  const cpuUse = cpu.stop();
  await deleteStream(rts.A, stream);
  const secs = o.durationMs / 1000;
  const rows: ShardRow[] = per.map((r, i) => ({
    scenario: 'reads',
    shardId: shardIds[i]!,
    offeredPerSec: r.offered / secs,
    acceptedPerSec: r.accepted / secs,
    limit: LIMITS.reads,
    percentOfLimit: (100 * r.accepted) / secs / LIMITS.reads,
    throttledFraction: r.offered ? r.throttled / r.offered : NaN,
    clientAcceptedPerSec: r.accepted / secs,
    otherErrors: r.other,
  }));
  return { rows, cpu: cpuUse, firstError, perSec };
}

export async function runQuota(argv: string[]): Promise<void> {
  const o = options(argv);
  const startedAt = new Date();
  const log = (m: string) => process.stderr.write(`${m}\n`);
  const loadBefore = os.loadavg();
  log(`quota benchmark: ${o.factor}× the per-shard limits over two runtimes, ${o.warmupMs / 1000} + ${o.durationMs / 1000} s per scenario; ${os.cpus().length} cores, load average ${loadAverage().toFixed(2)}`);
  const cluster = await startCluster(2);
  const dog = watchdog(cluster, 3 * (o.warmupMs + o.durationMs) + 180_000);
  const rts: Runtimes = { A: new KinesisHttp(cluster.runtimes[0]!.endpoint, { connections: 8 }), B: new KinesisHttp(cluster.runtimes[1]!.endpoint, { connections: 8 }) };
  const store = await connectStore({ natsUrl: cluster.nats.url, name: 'bench-quota' });
  const errors: string[] = [];
  const rows: ShardRow[] = [];
  const scenarios: Record<string, unknown> = {};
  try {
    for (const kind of ['records', 'bytes'] as const) {
      if (!o.scenarios.has(kind)) continue;
      const r = await writeScenario(rts, store, kind, o, cluster.pids, log);
      rows.push(...r.rows);
      scenarios[kind] = { dataBytes: r.dataBytes, offeredPerShardPerSec: r.perShardPerSec, cpu: r.cpu };
      if (r.firstError) errors.push(`${kind}: ${r.firstError}`);
      log(`  CPU cores: ${cpuLine(r.cpu)}`);
    }
    if (o.scenarios.has('reads')) {
      const r = await readScenario(rts, o, cluster.pids, log);
      rows.push(...r.rows);
      scenarios.reads = { offeredPerShardPerSec: r.perSec, cpu: r.cpu };
      if (r.firstError) errors.push(`reads: ${r.firstError}`);
    }
  } catch (e) {
    errors.push(String((e as Error)?.stack ?? e));
  } finally {
    await store.close();
    await rts.A.close().catch(() => undefined);
    await rts.B.close().catch(() => undefined);
    await cluster.stop();
    clearTimeout(dog);
  }

  const label = { records: `records/s (${o.smallBytes} B records)`, bytes: `bytes/s (${fmt(o.largeBytes / 1000)} kB records)`, reads: 'GetRecords calls/s' };
  const unit = (r: ShardRow, v: number) => (r.scenario === 'bytes' ? `${(v / MiB).toFixed(3)} MiB/s` : `${fmt(v)}/s`);
  const within = (r: ShardRow) => Math.abs(r.percentOfLimit - 100) <= TOLERANCE * 100;
  const loadAfter = os.loadavg();
  const tables = [
    `Machine: ${os.cpus().length} cores; load average ${loadBefore[0]!.toFixed(2)} before, ${loadAfter[0]!.toFixed(2)} after (the bench itself adds ~1; more means other work shared the cores)`,
    `Per-shard limits of a PROVISIONED stream of ${SHARDS} shards (enforcement on) served by two runtime processes; writes offered at ${o.factor}× the limit, half through each runtime; GetRecords at ${o.readFactor}× the limit`,
    `${fmt(o.durationMs / 1000)} s measured after ${fmt(o.warmupMs / 1000)} s of warm-up. Writes: accepted = stored records whose ApproximateArrivalTimestamp falls in the window; throttled = share of offered entries`,
    `refused with ProvisionedThroughputExceededException (client view, requests sent in the window). Reads: calls admitted / offered, chained iterators.`,
    renderTable(
      ['limit', 'shard', 'offered', 'accepted', 'limit', '% of limit', 'throttled', 'clients saw accepted', 'other errors', `within ±${TOLERANCE * 100}%`],
      rows.map((r) => [
        label[r.scenario], r.shardId,
        r.scenario === 'bytes' ? unit(r, r.offeredBytesPerSec!) : unit(r, r.offeredPerSec),
        r.scenario === 'bytes' ? unit(r, r.acceptedBytesPerSec!) : unit(r, r.acceptedPerSec),
        unit(r, r.limit), `${r.percentOfLimit.toFixed(1)}%`, `${(100 * r.throttledFraction).toFixed(1)}%`,
        r.scenario === 'bytes' ? unit(r, r.clientAcceptedPerSec * (o.largeBytes + KEY.length)) : unit(r, r.clientAcceptedPerSec),
        int(r.otherErrors), within(r) ? 'yes' : 'NO',
      ]),
    ),
  ].join('\n');
  console.log(tables);
  const file = writeResults('quota', rounded({
    benchmark: 'quota',
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    machine: { ...machineInfo(NATS_SERVER), loadAverageBefore: loadBefore, loadAverageAfter: loadAfter },
    setup: {
      runtimes: 'two child processes (node dist/runtime/cli.js runtime) on one nats-server; producers (undici) in the parent',
      streams: `PROVISIONED, ${SHARDS} shards, quota enforcement on (default), one stream per scenario`,
      writes: 'each tick, one PutRecords per runtime with its half of the records due for each shard (ExplicitHashKey), interleaved; open loop',
      readBack: 'after the load, enforcement switched off (setQuotaEnforcement) and each shard read from TRIM_HORIZON through runtime A',
      ...o,
      scenarios: [...o.scenarios],
    },
    limits: LIMITS,
    tolerance: TOLERANCE,
    scenarios,
    rows,
    errors,
    table: tables,
  }));
  console.log(`\nresults: ${path.relative(process.cwd(), file)}`);
  if (errors.length) {
    console.error(`\n${errors.length} error(s):\n${errors.join('\n')}`);
    process.exitCode = 1;
  }
}
