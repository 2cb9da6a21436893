// `npm run bench -- efo`: SubscribeToShard push latency. A steady open-loop
// PutRecord load (one record each, the send time in the data) while every
// shard is subscribed with the real @aws-sdk/client-kinesis
// SubscribeToShardCommand (default handler: HTTP/2 cleartext). Per record:
// event received − PutRecord sent (same process clock), and event received −
// ApproximateArrivalTimestamp (the push alone). Loopback only; stops by itself.
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import {
  DescribeStreamConsumerCommand, KinesisClient, RegisterStreamConsumerCommand, SubscribeToShardCommand,
} from '@aws-sdk/client-kinesis';
import { NATS_SERVER } from '../test/harness/nats.js';
import { KinesisHttp, createStreamAndWait, deleteStream } from './lib/kinesis.js';
import { machineInfo, writeResults } from './lib/results.js';
import { Samples } from './lib/stats.js';
import { renderTable, fmt } from './lib/table.js';
import { CpuSpan, cpuLine, loadAverage, rounded, sleep, startCluster, watchdog, int } from './lib/runs.js';

const USAGE = `usage: npm run bench -- efo [flags]
  --rate N          PutRecord calls (records) per second (default 1000)
  --duration S      measured seconds (default 15)
  --warmup S        unmeasured seconds before (default 2)
  --record-bytes N  Data bytes per record (default 100)`;

interface Options {
  rate: number;
  durationMs: number;
  warmupMs: number;
  recordBytes: number;
}

function options(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      rate: { type: 'string' },
      duration: { type: 'string' },
      warmup: { type: 'string' },
      'record-bytes': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  return {
    rate: Number(values.rate ?? 1000),
    durationMs: Number(values.duration ?? 15) * 1000,
    warmupMs: Number(values.warmup ?? 2) * 1000,
    recordBytes: Math.max(16, Number(values['record-bytes'] ?? 100)),
  };
}

const STREAM = 'bench-efo';
const TARGET_P99_MS = 10;
/** Wall-clock milliseconds with sub-millisecond resolution (the same clock as Date.now()). */
const nowMs = () => performance.timeOrigin + performance.now();

export async function runEfo(argv: string[]): Promise<void> {
  const o = options(argv);
  const startedAt = new Date();
  const log = (m: string) => process.stderr.write(`${m}\n`);
  const loadBefore = os.loadavg();
  log(`efo benchmark: PutRecord at ${o.rate}/s for ${o.warmupMs / 1000} + ${o.durationMs / 1000} s, SubscribeToShard on every shard; ${os.cpus().length} cores, load average ${loadAverage().toFixed(2)}`);
  const cluster = await startCluster(1);
  const dog = watchdog(cluster, o.warmupMs + o.durationMs + 120_000);
  const rt = cluster.runtimes[0]!;
  const admin = new KinesisHttp(rt.endpoint, { connections: 1 });
  // Enough connections that the open-loop producer never queues in the client.
  const producer = new KinesisHttp(rt.endpoint, { connections: 64 });
  // The SDK as users have it: default request handler (NodeHttp2Handler; h2c to an http:// endpoint).
  const sdk = new KinesisClient({
    endpoint: rt.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'AKIDBENCH', secretAccessKey: 'bench' },
    maxAttempts: 1,
  });
  const aborts: AbortController[] = [];
  const errors: string[] = [];
  let result: Record<string, unknown> | undefined;
  try {
    // ON_DEMAND: 4 shards, no per-shard limits (the push path is measured, not AWS's 1000 rec/s per shard).
    const shardIds = await createStreamAndWait(admin, STREAM, 4, 'ON_DEMAND');
    const streamArn = (await admin.json('DescribeStreamSummary', { StreamName: STREAM })).StreamDescriptionSummary.StreamARN as string;
    const reg = await sdk.send(new RegisterStreamConsumerCommand({ StreamARN: streamArn, ConsumerName: 'bench' }));
    const consumerArn = reg.Consumer!.ConsumerARN!;
    for (let i = 0; (await sdk.send(new DescribeStreamConsumerCommand({ ConsumerARN: consumerArn }))).ConsumerDescription!.ConsumerStatus !== 'ACTIVE'; i++) {
      if (i > 300) throw new Error('consumer not ACTIVE after 30 s');
      await sleep(100);
    }
    log(`stream ${STREAM}: ON_DEMAND, ${shardIds.length} shards; consumer ACTIVE; subscribing at LATEST`);

    const total = Math.round((o.rate * (o.warmupMs + o.durationMs)) / 1000);
    const sentAt = new Float64Array(total);
    const received = new Uint8Array(total);
    const putOk = new Uint8Array(total);
    const e2e = new Samples();
    const push = new Samples();
    const putLatency = new Samples();
    let t0 = Infinity;
    const inWindow = (t: number) => t >= t0 + o.warmupMs && t < t0 + o.warmupMs + o.durationMs;
    let duplicates = 0;
    let events = 0;
    let emptyEvents = 0;
    let recordsInEvents = 0;
    let receivedInWindow = 0;
    let putErrors = 0;
    let firstError: string | undefined;
    const subErrors: string[] = [];

    const subscriptions = await Promise.all(
      shardIds.map(async (ShardId) => {
        const abort = new AbortController();
        aborts.push(abort);
        const out = await sdk.send(new SubscribeToShardCommand({ ConsumerARN: consumerArn, ShardId, StartingPosition: { Type: 'LATEST' } }), { abortSignal: abort.signal });
        // Wrapped: an async function returning the loop's promise would wait for the loop.
        return { done: (async () => {
          try {
            for await (const ev of out.EventStream!) {
              const e = ev.SubscribeToShardEvent;
              if (!e) continue;
              const at = nowMs();
              const atMs = Date.now();
              events++;
              const recs = e.Records ?? [];
              if (recs.length === 0) emptyEvents++;
              recordsInEvents += recs.length;
              for (const r of recs) {
                const d = Buffer.from(r.Data!.buffer, r.Data!.byteOffset, r.Data!.byteLength);
                const idx = d.readUInt32LE(8);
                if (idx >= total) continue;
                if (received[idx]) {
                  duplicates++;
                  continue;
                }
                received[idx] = 1;
                const sent = d.readDoubleLE(0);
                if (inWindow(sent)) {
                  receivedInWindow++;
                  e2e.add(at - sent);
                  push.add(atMs - r.ApproximateArrivalTimestamp!.getTime());
                }
              }
            }
          } catch (e) {
            if (!abort.signal.aborted) subErrors.push(`${ShardId}: ${(e as Error)?.name}: ${(e as Error)?.message}`);
          }
        })() };
      }),
    );
    // The LATEST positions are taken when each subscription starts; let them settle.
    await sleep(200);

    const cpu = new CpuSpan(cluster.pids);
    // The load generator's own stalls delay both the PutRecord answer and the event's receipt.
    const loopDelay = monitorEventLoopDelay({ resolution: 1 });
    loopDelay.enable();
    const template = Buffer.alloc(o.recordBytes, 0x61);
    const pending = new Set<Promise<void>>();
    const put = (i: number) => {
      const data = Buffer.from(template);
      const t = nowMs();
      data.writeDoubleLE(t, 0);
      data.writeUInt32LE(i, 8);
      sentAt[i] = t;
      const body = JSON.stringify({ StreamName: STREAM, PartitionKey: `pk-${i}`, Data: data.toString('base64') });
      const p = producer.call('PutRecord', body).then(
        (r) => {
          if (r.status !== 200) {
            putErrors++;
            firstError ??= `PutRecord → ${r.status} ${r.text.slice(0, 300)}`;
          } else {
            putOk[i] = 1;
            if (inWindow(t)) putLatency.add(nowMs() - t);
          }
        },
        (e) => {
          putErrors++;
          firstError ??= `PutRecord: ${(e as Error).message}`;
        },
      );
      pending.add(p);
      void p.finally(() => pending.delete(p));
    };
    t0 = nowMs();
    let sent = 0;
    await new Promise<void>((resolve) => {
      const tick = () => {
        const due = Math.min(total, Math.floor(((nowMs() - t0) * o.rate) / 1000) + 1);
        while (sent < due) put(sent++);
        if (sent < total) setTimeout(tick, 1);
        else resolve();
      };
      tick();
    });
    await Promise.all(pending);
    const cpuUse = cpu.stop();
    loopDelay.disable();
    const loadgenLoopDelayMs = { p50: loopDelay.percentile(50) / 1e6, p99: loopDelay.percentile(99) / 1e6, max: loopDelay.max / 1e6 };
    let expected = 0;
    for (let i = 0; i < total; i++) if (putOk[i] && inWindow(sentAt[i]!)) expected++;
    const drainUntil = Date.now() + 3000;
    while (receivedInWindow < expected && Date.now() < drainUntil) await sleep(5);
    for (const a of aborts) a.abort();
    await Promise.race([Promise.all(subscriptions.map((x) => x.done)), sleep(2000)]);
    if (firstError) errors.push(firstError);
    errors.push(...subErrors);

    const runSeconds = (nowMs() - t0) / 1000;
    const x = e2e.summary();
    const y = push.summary();
    const pl = putLatency.summary();
    const seconds = o.durationMs / 1000;
    const met = x.p99 < TARGET_P99_MS;
    const loadAfter = os.loadavg();
    const tables = [
      `Machine: ${os.cpus().length} cores; load average ${loadBefore[0]!.toFixed(2)} before, ${loadAfter[0]!.toFixed(2)} after (the bench itself adds ~1.5; more means other work shared the cores)`,
      `SubscribeToShard push latency: open-loop PutRecord (undici, HTTP/1.1) at ${fmt(o.rate)}/s of ${o.recordBytes} B records over ${shardIds.length} shards (ON_DEMAND), one SDK subscription per shard`,
      `(@aws-sdk/client-kinesis SubscribeToShardCommand, default NodeHttp2Handler = h2c); ${fmt(seconds)} s measured after ${fmt(o.warmupMs / 1000)} s; CPU cores: ${cpuLine(cpuUse)};`,
      `load generator event-loop delay (1 ms resolution) p50 ${fmt(loadgenLoopDelayMs.p50)} / p99 ${fmt(loadgenLoopDelayMs.p99)} / max ${fmt(loadgenLoopDelayMs.max)} ms`,
      renderTable(
        ['latency', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'mean ms', 'records'],
        [
          ['PutRecord sent → event received', x.p50, x.p90, x.p99, x.max, x.mean, int(x.count)],
          ['ApproximateArrivalTimestamp → event received', y.p50, y.p90, y.p99, y.max, y.mean, int(y.count)],
          ['PutRecord sent → PutRecord answered', pl.p50, pl.p90, pl.p99, pl.max, pl.mean, int(pl.count)],
        ],
      ),
      '',
      renderTable(
        ['achieved rec/s', 'put errors', 'missing', 'duplicates', 'events/s', 'empty events', 'records per non-empty event'],
        [[expected / seconds, int(putErrors), int(expected - receivedInWindow), int(duplicates), events / runSeconds, int(emptyEvents), events > emptyEvents ? recordsInEvents / (events - emptyEvents) : NaN]],
      ),
      '',
      'Targets (2-core machine)',
      renderTable(['target', 'measured', 'met'], [[`push p99 (PutRecord sent → event received) < ${TARGET_P99_MS} ms`, `${fmt(x.p99)} ms`, met ? 'yes' : 'NO']]),
    ].join('\n');
    console.log(tables);
    result = {
      benchmark: 'efo',
      startedAt: startedAt.toISOString(),
      finishedAt: new Date().toISOString(),
      machine: { ...machineInfo(NATS_SERVER), loadAverageBefore: loadBefore, loadAverageAfter: loadAfter },
      setup: {
        runtime: 'one child process (node dist/runtime/cli.js runtime) on one nats-server; producer and subscribers in the parent',
        stream: `${STREAM}: ON_DEMAND, ${shardIds.length} shards, one registered consumer, a subscription per shard at LATEST`,
        producer: 'undici Pool (64 connections), open-loop PutRecord, partition key per record; data = send time (float64 epoch ms) + index',
        subscriber: '@aws-sdk/client-kinesis SubscribeToShardCommand with the default request handler (NodeHttp2Handler, h2c)',
        ...o,
      },
      latencyMs: { putToEvent: x, arrivalToEvent: y, putRecord: pl },
      achievedRate: expected / seconds,
      sent,
      measured: receivedInWindow,
      missing: expected - receivedInWindow,
      duplicates,
      putErrors,
      events,
      emptyEvents,
      cpu: cpuUse,
      loadgenLoopDelayMs,
      targets: [{ target: `push p99 < ${TARGET_P99_MS} ms`, measured: x.p99, met }],
      errors,
      table: tables,
    };
    await deleteStream(admin, STREAM);
  } catch (e) {
    errors.push(String((e as Error)?.stack ?? e));
  } finally {
    for (const a of aborts) a.abort();
    sdk.destroy();
    await producer.close().catch(() => undefined);
    await admin.close().catch(() => undefined);
    await cluster.stop();
    clearTimeout(dog);
  }
  const file = writeResults('efo', rounded(result ?? { benchmark: 'efo', startedAt: startedAt.toISOString(), errors }));
  console.log(`\nresults: ${path.relative(process.cwd(), file)}`);
  if (errors.length) {
    console.error(`\n${errors.length} error(s):\n${errors.join('\n')}`);
    process.exitCode = 1;
  }
}
