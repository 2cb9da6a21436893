// `npm run bench -- delivery`: the delivery worker (`shardline delivery`).
// 1. Drain: a backlog of 1 KB JSON records on 4 shards (Kinesis source)
//    delivered to S3 (s3rver) as GZIP NDJSON by one worker process. Rate =
//    records / (time the worker reports the last delivery − its start).
// 2. DataFreshness: PutRecords at a steady rate with IntervalInSeconds 0 and
//    60 (--intervals); per object, S3 LastModified − the oldest record's send
//    time (carried in the record); p50/p99 over objects.
// 3. Parquet (--phases parquet): the same backlog (--parquet-records, 1 KB
//    JSON on 4 shards) drained by one worker process twice, one after the
//    other: to GZIP NDJSON (the peer) and converted to Parquet (SNAPPY pages,
//    a DeliveryStream resource's inline schema). Plus the conversion alone,
//    in process: records/s through convertToParquet vs. gzip of NDJSON.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { parseArgs } from 'node:util';
import { NATS_SERVER } from '../test/harness/nats.js';
import { startS3 } from '../test/harness/s3.js';
import { freePort } from '../test/harness/ports.js';
import { KinesisHttp, createStreamAndWait } from './lib/kinesis.js';
import { machineInfo, REPO_ROOT, writeResults } from './lib/results.js';
import { Samples } from './lib/stats.js';
import { renderTable, fmt } from './lib/table.js';
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { CpuSpan, cpuLine, int, rounded, sleep, startCluster, watchdog, type Cluster } from './lib/runs.js';
import { connectStore } from '../stream/connect.js';
import { ensureDeliveryDefinition, openDeliveryStore } from '../stream/deliveryStreams.js';
import { DeliveryStreamSpec } from '../crds/schema/deliverystream.js';
import { deliveryDefinitionOf } from '../operator/model/deliveryDefinition.js';
import { convertToParquet } from '../stream/delivery/parquet.js';
import type { DataFormatConversionDef } from '../stream/deliveryStreams.js';


const USAGE = `usage: npm run bench -- delivery [flags]
  --records N      backlog records to drain (default 1000000; validate with e.g. 20000)
  --rate N         records/s for the freshness runs (default 10000)
  --duration S     seconds of each freshness run (default 30)
  --intervals L    IntervalInSeconds values for the freshness runs (default 0,60)
  --phases L       drain,freshness,parquet (default drain,freshness)
  --parquet-records N  backlog of the parquet phase (default 200000; validate with e.g. 5000)`;

const TARGET_DRAIN = 100_000;
const BUCKET = 'bench';
const log = (m: string) => process.stderr.write(`${m}\n`);

function options(argv: string[]) {
  const { values } = parseArgs({ args: argv, options: {
    records: { type: 'string' }, rate: { type: 'string' }, duration: { type: 'string' }, intervals: { type: 'string' }, phases: { type: 'string' }, 'parquet-records': { type: 'string' }, help: { type: 'boolean', short: 'h' },
  } });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  return {
    records: Number(values.records ?? 1_000_000),
    rate: Number(values.rate ?? 10_000),
    durationS: Number(values.duration ?? 30),
    intervals: (values.intervals ?? '0,60').split(',').map(Number),
    phases: new Set((values.phases ?? 'drain,freshness').split(',')),
    parquetRecords: Number(values['parquet-records'] ?? 200_000),
  };
}

/** A 1 KB JSON record carrying its send time. */
const record = (i: number, sentMs: number) => JSON.stringify({ i, sentMs, pad: 'x'.repeat(1024 - 40 - String(i).length) });

async function firehose(endpoint: string, op: string, body: unknown): Promise<any> {
  const res = await fetch(endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': `Firehose_20150804.${op}` },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`${op}: ${res.status} ${text}`);
  return JSON.parse(text);
}

/** Each run writes to its own bucket (`bench-<name>`): listing one stays independent of the others. */
async function createDelivery(endpoint: string, name: string, stream: string, interval: number) {
  await firehose(endpoint, 'CreateDeliveryStream', {
    DeliveryStreamName: name, DeliveryStreamType: 'KinesisStreamAsSource',
    KinesisStreamSourceConfiguration: { KinesisStreamARN: `arn:aws:kinesis:us-east-1:000000000000:stream/${stream}`, RoleARN: 'arn:aws:iam::000000000000:role/bench' },
    ExtendedS3DestinationConfiguration: {
      RoleARN: 'arn:aws:iam::000000000000:role/bench', BucketARN: `arn:aws:s3:::${BUCKET}-${name}`, Prefix: `${name}/`, CompressionFormat: 'GZIP',
      BufferingHints: { SizeInMBs: 64, IntervalInSeconds: interval },
      ProcessingConfiguration: { Enabled: true, Processors: [{ Type: 'AppendDelimiterToRecord' }] },
    },
  });
  for (;;) {
    const d = await firehose(endpoint, 'DescribeDeliveryStream', { DeliveryStreamName: name });
    if (d.DeliveryStreamDescription.DeliveryStreamStatus === 'ACTIVE') return;
    await sleep(100);
  }
}

async function putRecords(k: KinesisHttp, stream: string, from: number, n: number) {
  const now = Date.now();
  const body = JSON.stringify({ StreamName: stream, Records: Array.from({ length: n }, (_, j) => ({ PartitionKey: `pk-${from + j}`, Data: Buffer.from(record(from + j, now)).toString('base64') })) });
  for (;;) {
    const r = await k.call('PutRecords', body);
    if (r.status === 200 && JSON.parse(r.text).FailedRecordCount === 0) return;
    await sleep(50);
  }
}

function startWorker(cluster: Cluster, name: string, s3Endpoint: string, port: number): ChildProcess {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-delivery-'));
  const cfg = path.join(dir, 'config.json');
  fs.writeFileSync(cfg, JSON.stringify({ deliveryStreamName: name, s3: { endpoint: s3Endpoint } }));
  return spawn(process.execPath, [path.join(REPO_ROOT, 'dist/runtime/cli.js'), 'delivery', '--config', cfg, '--metrics-port', String(port)], {
    env: { ...process.env, SHARDLINE_NATS_URL: cluster.nats.url }, stdio: ['ignore', 'ignore', 'inherit'],
  });
}

const status = (port: number) => new Promise<{ deliveredRecords: number; lastDeliveryMs?: number }>((resolve) => {
  http.get(`http://127.0.0.1:${port}/status`, (res) => {
    let b = '';
    res.on('data', (d) => (b += d));
    res.on('end', () => resolve(JSON.parse(b)));
  }).on('error', () => resolve({ deliveredRecords: 0 }));
});

/** Starts a worker on `name` and waits until it reports `records` delivered: records/s from its start to its last delivery. */
async function drainWith(cluster: Cluster, name: string, s3Endpoint: string, records: number) {
  const port = await freePort();
  const t0 = Date.now();
  const w = startWorker(cluster, name, s3Endpoint, port);
  const span = new CpuSpan({ ...cluster.pids, worker: w.pid });
  let st = await status(port);
  let lastLog = 0;
  while (st.deliveredRecords < records && Date.now() - t0 < 30 * 60_000) {
    await sleep(100);
    st = await status(port);
    if (Date.now() - lastLog > 5000) {
      lastLog = Date.now();
      log(`  ${name}: drained ${int(st.deliveredRecords)} / ${int(records)}`);
    }
  }
  const cpu = span.stop();
  await stop(w);
  const seconds = ((st.lastDeliveryMs ?? Date.now()) - t0) / 1000;
  return { records: st.deliveredRecords, seconds, recPerSec: st.deliveredRecords / seconds, cpu };
}

/** The bench record's columns (i, sentMs, pad) as a DeliveryStream resource declares them. */
const PARQUET_COLUMNS = [{ name: 'i', type: 'bigint' }, { name: 'sentms', type: 'bigint' }, { name: 'pad', type: 'string' }];

async function createParquetDelivery(natsUrl: string, name: string, stream: string, s3Endpoint: string) {
  const spec = DeliveryStreamSpec.parse({
    source: { dataStreamRef: { name: stream }, startingPosition: 'TRIM_HORIZON' }, buffering: { sizeMiB: 64, intervalSeconds: 0 },
    s3: { bucket: `${BUCKET}-${name}`, endpoint: s3Endpoint, prefix: `${name}/`, format: 'PARQUET', parquet: { schema: { columns: PARQUET_COLUMNS } } },
  });
  const defn = deliveryDefinitionOf({ apiVersion: 'shardline.dev/v1alpha1', kind: 'DeliveryStream', metadata: { name, namespace: 'bench', uid: name }, spec }, spec, stream, 'us-east-1', '000000000000');
  if (!defn.ok) throw new Error(defn.message);
  const store = await connectStore({ natsUrl });
  try {
    await ensureDeliveryDefinition(await openDeliveryStore(store), defn.def);
    return defn.def.s3.DataFormatConversionConfiguration!;
  } finally {
    await store.close();
  }
}

/** The conversion alone, in process: Parquet vs. GZIP NDJSON of the same records, in batches of `batch`. */
function convertOnly(conv: DataFormatConversionDef, n: number, batch = 5000) {
  const records = Array.from({ length: Math.min(n, batch) }, (_, i) => ({ data: Buffer.from(record(i, 1_700_000_000_000 + i)) }));
  const time = (f: () => number) => {
    const t0 = process.hrtime.bigint();
    let done = 0;
    let bytes = 0;
    while (done < n) {
      bytes += f();
      done += records.length;
    }
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    return { recPerSec: done / s, bytesPerRecord: bytes / done };
  };
  return {
    parquet: time(() => convertToParquet(conv, records).body!.length),
    ndjsonGzip: time(() => zlib.gzipSync(Buffer.concat(records.map((r) => Buffer.concat([r.data, Buffer.from('\n')])))).length),
  };
}

const stop = (p: ChildProcess) => new Promise((r) => { p.once('exit', r); p.kill('SIGTERM'); });

export async function runDelivery(argv: string[]): Promise<void> {
  const o = options(argv);
  const startedAt = new Date();
  const cluster = await startCluster(1);
  const dog = watchdog(cluster, 60 * 60_000);
  const s3 = await startS3();
  const s3Endpoint = s3.endpoint;
  const endpoint = cluster.runtimes[0]!.endpoint;
  const k = new KinesisHttp(endpoint, { connections: 16 });
  const errors: string[] = [];
  let result: Record<string, unknown> | undefined;
  try {
    let drain: Record<string, number> | undefined;
    let cpu: Record<string, number> = {};
    if (o.phases.has('drain')) {
      await createStreamAndWait(k, 'drain-src', 4, 'ON_DEMAND');
      await s3.createBucket(`${BUCKET}-drain`);
      await createDelivery(endpoint, 'drain', 'drain-src', 0);
      const f0 = Date.now();
      let next = 0;
      await Promise.all(Array.from({ length: 8 }, async () => {
        while (next < o.records) {
          const from = next;
          next = Math.min(o.records, next + 500);
          await putRecords(k, 'drain-src', from, next - from);
        }
      }));
      log(`backlog: ${int(o.records)} records in ${((Date.now() - f0) / 1000).toFixed(1)} s`);
      const port = await freePort();
      const t0 = Date.now();
      const w = startWorker(cluster, 'drain', s3Endpoint, port);
      const span = new CpuSpan({ ...cluster.pids, worker: w.pid });
      let st = await status(port);
      let lastLog = 0;
      while (st.deliveredRecords < o.records && Date.now() - t0 < 30 * 60_000) {
        await sleep(100);
        st = await status(port);
        if (Date.now() - lastLog > 5000) {
          lastLog = Date.now();
          log(`  drained ${int(st.deliveredRecords)} / ${int(o.records)}`);
        }
      }
      cpu = span.stop();
      await stop(w);
      const seconds = ((st.lastDeliveryMs ?? Date.now()) - t0) / 1000;
      drain = { records: st.deliveredRecords, seconds, recPerSec: st.deliveredRecords / seconds };
    }
    let parquet: { ndjson: Record<string, number>; parquet: Record<string, number>; convert: ReturnType<typeof convertOnly> } | undefined;
    if (o.phases.has('parquet')) {
      await createStreamAndWait(k, 'pq-src', 4, 'ON_DEMAND');
      await s3.createBucket(`${BUCKET}-pq-ndjson`);
      await s3.createBucket(`${BUCKET}-pq-parquet`);
      // Both delivery streams exist before the backlog: each drains all of it.
      await createDelivery(endpoint, 'pq-ndjson', 'pq-src', 0);
      const conv = await createParquetDelivery(cluster.nats.url, 'pq-parquet', 'pq-src', s3Endpoint);
      let next = 0;
      await Promise.all(Array.from({ length: 8 }, async () => {
        while (next < o.parquetRecords) {
          const from = next;
          next = Math.min(o.parquetRecords, next + 500);
          await putRecords(k, 'pq-src', from, next - from);
        }
      }));
      const ndjson = await drainWith(cluster, 'pq-ndjson', s3Endpoint, o.parquetRecords);
      const pq = await drainWith(cluster, 'pq-parquet', s3Endpoint, o.parquetRecords);
      const objects = await s3.list(`${BUCKET}-pq-parquet`, 'pq-parquet/');
      if (!objects.length || !objects.every((key) => key.endsWith('.parquet'))) throw new Error(`parquet run wrote ${objects.join(', ') || 'nothing'}`);
      parquet = {
        ndjson: { records: ndjson.records, seconds: ndjson.seconds, recPerSec: ndjson.recPerSec, ...Object.fromEntries(Object.entries(ndjson.cpu).map(([a, b]) => [`cpu_${a}`, b])) },
        parquet: { records: pq.records, seconds: pq.seconds, recPerSec: pq.recPerSec, ...Object.fromEntries(Object.entries(pq.cpu).map(([a, b]) => [`cpu_${a}`, b])) },
        convert: convertOnly(conv, Math.min(o.parquetRecords, 100_000)),
      };
    }
    const fresh: { interval: number; objects: number; p50: number; p99: number; max: number }[] = [];
    if (o.phases.has('freshness')) {
      for (const interval of o.intervals) {
        const name = `fresh-${interval}`;
        await createStreamAndWait(k, `${name}-src`, 4, 'ON_DEMAND');
        await s3.createBucket(`${BUCKET}-${name}`);
        await createDelivery(endpoint, name, `${name}-src`, interval);
        const port = await freePort();
        const w = startWorker(cluster, name, s3Endpoint, port);
        await sleep(1500);
        const total = o.rate * o.durationS;
        const t0 = Date.now();
        let sent = 0;
        while (sent < total) {
          const due = Math.min(total, Math.floor(((Date.now() - t0) * o.rate) / 1000));
          const batch: Promise<void>[] = [];
          while (sent < due) {
            const n = Math.min(500, due - sent);
            batch.push(putRecords(k, `${name}-src`, sent, n));
            sent += n;
          }
          await Promise.all(batch);
          await sleep(10);
        }
        const until = Date.now() + (interval + 30) * 1000;
        while ((await status(port)).deliveredRecords < total && Date.now() < until) await sleep(200);
        await stop(w);
        const samples = new Samples();
        const bucket = `${BUCKET}-${name}`;
        for (const key of await s3.list(bucket, `${name}/`)) {
          const head = await s3.client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
          const body = zlib.gunzipSync(await s3.get(bucket, key));
          let oldest = Infinity;
          for (const line of body.toString().split('\n')) if (line) oldest = Math.min(oldest, JSON.parse(line).sentMs);
          samples.add(head.LastModified!.getTime() - oldest);
        }
        const s = samples.summary();
        fresh.push({ interval, objects: s.count, p50: s.p50 / 1000, p99: s.p99 / 1000, max: s.max / 1000 });
      }
    }
    const tables = [
      `Machine: ${os.cpus().length} cores; load average ${os.loadavg()[0]!.toFixed(2)}`,
      drain ? `Drain: ${int(o.records)} × 1 KB JSON on 4 shards → S3 (s3rver) as GZIP NDJSON, one worker process` : '',
      drain ? renderTable(['records', 'seconds', 'rec/s', 'CPU cores', `target ≥ ${int(TARGET_DRAIN)} rec/s`], [[int(drain.records!), fmt(drain.seconds!), int(drain.recPerSec!), cpuLine(cpu), drain.recPerSec! >= TARGET_DRAIN ? 'met' : 'NOT met']]) : '',
      fresh.length ? `DataFreshness at ${int(o.rate)} rec/s for ${o.durationS} s (object LastModified − oldest record's send time; s3rver keeps 1 s resolution)` : '',
      fresh.length ? renderTable(['IntervalInSeconds', 'objects', 'p50 s', 'p99 s', 'max s', 'target p99 ≤ interval + 1 s'], fresh.map((f) => [f.interval, f.objects, fmt(f.p50), fmt(f.p99), fmt(f.max), f.p99 <= f.interval + 1 ? 'met' : 'NOT met'])) : '',
      parquet ? `Parquet: ${int(o.parquetRecords)} × 1 KB JSON on 4 shards, one worker process per run, the two runs one after the other` : '',
      parquet ? renderTable(['run', 'records', 'seconds', 'rec/s', 'conversion only, in process (rec/s)', 'bytes/record'], [
        ['GZIP NDJSON (peer)', int(parquet.ndjson.records!), fmt(parquet.ndjson.seconds!), int(parquet.ndjson.recPerSec!), int(parquet.convert.ndjsonGzip.recPerSec), fmt(parquet.convert.ndjsonGzip.bytesPerRecord)],
        ['Parquet (SNAPPY)', int(parquet.parquet.records!), fmt(parquet.parquet.seconds!), int(parquet.parquet.recPerSec!), int(parquet.convert.parquet.recPerSec), fmt(parquet.convert.parquet.bytesPerRecord)],
      ]) : '',
    ].filter(Boolean).join('\n');
    console.log(tables);
    result = { benchmark: 'delivery', startedAt: startedAt.toISOString(), finishedAt: new Date().toISOString(), machine: machineInfo(NATS_SERVER), setup: { ...o, phases: [...o.phases] }, drain, cpu, freshness: fresh, parquet, table: tables };
  } catch (e) {
    errors.push(String((e as Error)?.stack ?? e));
  } finally {
    await k.close().catch(() => undefined);
    await s3.stop().catch(() => undefined);
    await cluster.stop();
    clearTimeout(dog);
  }
  const file = writeResults('delivery', rounded(result ?? { benchmark: 'delivery', startedAt: startedAt.toISOString(), errors }));
  console.log(`\nresults: ${path.relative(process.cwd(), file)}`);
  if (errors.length) {
    console.error(`\n${errors.length} error(s):\n${errors.join('\n')}`);
    process.exitCode = 1;
  }
}
