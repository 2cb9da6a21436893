// `npm run bench -- delivery`: the delivery worker (`shardline delivery`).
// 1. Drain: a backlog of 1 KB JSON records on 4 shards (Kinesis source,
//    autoscaling off so it stays 4) is written first; then one worker process
//    is started and the clock runs until every record is in S3 (s3rver) as
//    GZIP NDJSON: the bucket is listed every 200 ms, and the records are
//    counted (and checked for loss and duplicates) by reading every object
//    back. Rate = records / (last object first listed − worker spawned), so
//    the worker's start-up is included.
//    Ceilings measured in the same run, on the same backlog and machine:
//    the one shard reader (readBatch on the 4 shards in parallel, in this
//    process), gzip as the worker compresses (one core), and s3rver PUTs of
//    objects the size the worker wrote (4 in flight, the worker's 4 shards).
// 2. DataFreshness: PutRecords at a steady rate with IntervalInSeconds 0 and
//    60. When each object arrived is s3rver's own object-created event,
//    logged with its time by the s3rver child (no listing: s3rver's listings
//    slow down with many objects and fail past ~1,000 under a prefix); each
//    object is read back after the run. Per object: arrival − its oldest
//    record's PutRecords acknowledgement (a lower bound of the age since
//    arrival in the stream) and − that record's send time (an upper bound);
//    p50/p99/max over objects. The worker's own DataFreshness gauge is
//    scraped alongside (not the oracle).
// 3. Parquet (--phases parquet, not in the default): a backlog of
//    --parquet-records on 4 shards, with two delivery streams on it, drained
//    as in 1 by one worker process per run, one run after the other: GZIP
//    NDJSON (the peer, as 1) and Parquet (SNAPPY pages; the definition a
//    DeliveryStream resource with an inline schema of the record's 10
//    columns gives). Parquet objects are counted by DuckDB's read_parquet.
//    Plus the conversion alone, in this process: convertToParquet vs. gzip
//    of the same records as NDJSON, records/s on one core and bytes/record.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Client as MinioClient } from 'minio';
import { NATS_SERVER } from '../test/harness/nats.js';
import type { S3Server } from '../test/harness/s3.js';
import { startS3Child, type S3Child } from './lib/s3Child.js';
import { freePort } from '../test/harness/ports.js';
import { connectStore, type Store } from '../stream/connect.js';
import { getStream } from '../stream/streams.js';
import { readBatch } from '../stream/shardReader.js';
import { setAutoscaling } from '../stream/autoscaling.js';
import { jsStreamName } from '../stream/names.js';
import { compress } from '../stream/delivery/compress.js';
import { convertToParquet } from '../stream/delivery/parquet.js';
import { ensureDeliveryDefinition, openDeliveryStore, type DataFormatConversionDef } from '../stream/deliveryStreams.js';
import { DeliveryStreamSpec } from '../crds/schema/deliverystream.js';
import { deliveryDefinitionOf } from '../operator/model/deliveryDefinition.js';
import { KinesisHttp, createStreamAndWait } from './lib/kinesis.js';
import { jsonRecord } from './lib/jsonRecords.js';
import { S3Tally, type TallyFormat } from './lib/s3Tally.js';
import { machineInfo, REPO_ROOT, writeResults } from './lib/results.js';
import { Samples } from './lib/stats.js';
import { renderTable, fmt } from './lib/table.js';
import { CpuSpan, cpuLine, int, rounded, sleep, startCluster, watchdog, type Cluster } from './lib/runs.js';

const USAGE = `usage: npm run bench -- delivery [flags]
  --records N      backlog records to drain (default 1000000; validate with e.g. 50000)
  --rate N         records/s for the freshness runs (default 10000)
  --duration S     seconds of the IntervalInSeconds 0 freshness run (default 30)
  --duration60 S   seconds of the IntervalInSeconds 60 run (default 150: two intervals and more)
  --intervals L    IntervalInSeconds values for the freshness runs (default 0,60)
  --phases L       drain,freshness,parquet (default drain,freshness)
  --replicas N     also drain the same backlog with N worker processes sharing the 4 shards through leases
                   (as a Deployment with N replicas); a second row beside the one-process row (default: off)
  --parquet-records N  backlog of the parquet phase (default 200000; validate with e.g. 5000)
  --profile DIR    write a V8 CPU profile of the worker process into DIR`;

const TARGET_DRAIN = 100_000;
const BUCKET = 'bench';
const SHARDS = 4;
const log = (m: string) => process.stderr.write(`${m}\n`);

function options(argv: string[]) {
  const { values } = parseArgs({ args: argv, options: {
    records: { type: 'string' }, rate: { type: 'string' }, duration: { type: 'string' }, duration60: { type: 'string' }, intervals: { type: 'string' },
    phases: { type: 'string' }, 'parquet-records': { type: 'string' }, profile: { type: 'string' }, replicas: { type: 'string' }, help: { type: 'boolean', short: 'h' },
  } });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  return {
    records: Number(values.records ?? 1_000_000),
    rate: Number(values.rate ?? 10_000),
    durationS: Number(values.duration ?? 30),
    duration60S: Number(values.duration60 ?? 150),
    intervals: (values.intervals ?? '0,60').split(',').map(Number),
    phases: new Set((values.phases ?? 'drain,freshness').split(',')),
    parquetRecords: Number(values['parquet-records'] ?? 200_000),
    profile: values.profile ? path.resolve(values.profile) : undefined,
    replicas: values.replicas ? Number(values.replicas) : undefined,
  };
}

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

/** A 4-shard source stream that stays 4 shards: ON_DEMAND (no per-shard limits), autoscaler in dry-run. */
async function sourceStream(k: KinesisHttp, store: Store, name: string) {
  await createStreamAndWait(k, name, SHARDS, 'ON_DEMAND');
  await setAutoscaling(store, name, { dryRun: true });
}

/** Writes records from..from+n−1; `ackMs` (by record index) gets the time the write was acknowledged. */
async function putRecords(k: KinesisHttp, stream: string, from: number, n: number, ackMs?: Float64Array) {
  const now = Date.now();
  const body = JSON.stringify({ StreamName: stream, Records: Array.from({ length: n }, (_, j) => ({ PartitionKey: `pk-${from + j}`, Data: Buffer.from(jsonRecord(from + j, now)).toString('base64') })) });
  for (;;) {
    const r = await k.call('PutRecords', body);
    if (r.status === 200 && JSON.parse(r.text).FailedRecordCount === 0) {
      ackMs?.fill(Date.now(), from, from + n);
      return;
    }
    await sleep(50);
  }
}

function startWorker(cluster: Cluster, name: string, s3Endpoint: string, port: number, profile?: string): ChildProcess {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-delivery-'));
  const cfg = path.join(dir, 'config.json');
  fs.writeFileSync(cfg, JSON.stringify({ deliveryStreamName: name, s3: { endpoint: s3Endpoint } }));
  const prof = profile ? ['--cpu-prof', '--cpu-prof-dir', profile, '--cpu-prof-name', `delivery-${name}-${Date.now()}.cpuprofile`] : [];
  return spawn(process.execPath, [...prof, path.join(REPO_ROOT, 'dist/runtime/cli.js'), 'delivery', '--config', cfg, '--metrics-port', String(port)], {
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

/** The columns of jsonRecord as a DeliveryStream resource's inline schema declares them (Hive names are lower case). */
const PARQUET_COLUMNS = [
  { name: 'i', type: 'bigint' }, { name: 'sentms', type: 'bigint' }, { name: 'event', type: 'string' }, { name: 'user', type: 'string' },
  { name: 'session', type: 'string' }, { name: 'path', type: 'string' }, { name: 'status', type: 'int' }, { name: 'latencyms', type: 'double' },
  { name: 'agent', type: 'string' }, { name: 'msg', type: 'string' },
];

/** A Parquet delivery stream as the operator defines it from a DeliveryStream resource (Firehose's API has no inline schema: it names a Glue table). */
async function createParquetDelivery(store: Store, name: string, stream: string, s3Endpoint: string): Promise<DataFormatConversionDef> {
  const spec = DeliveryStreamSpec.parse({
    source: { dataStreamRef: { name: stream }, startingPosition: 'TRIM_HORIZON' }, buffering: { sizeMiB: 64, intervalSeconds: 0 },
    s3: { bucket: `${BUCKET}-${name}`, endpoint: s3Endpoint, prefix: `${name}/`, format: 'PARQUET', parquet: { schema: { columns: PARQUET_COLUMNS } } },
  });
  const defn = deliveryDefinitionOf({ apiVersion: 'shardline.dev/v1alpha1', kind: 'DeliveryStream', metadata: { name, namespace: 'bench', uid: name }, spec }, spec, stream, 'us-east-1', '000000000000');
  if (!defn.ok) throw new Error(defn.message);
  await ensureDeliveryDefinition(await openDeliveryStore(store), defn.def);
  return defn.def.s3.DataFormatConversionConfiguration!;
}

/** The conversion alone, on one core: Parquet vs. GZIP NDJSON (as the worker compresses) of `n` records, in flushes of `batch`. */
function convertOnly(conv: DataFormatConversionDef, n: number, batch = 5000) {
  const records = Array.from({ length: Math.min(n, batch) }, (_, i) => ({ data: Buffer.from(jsonRecord(i, 1_700_000_000_000 + i)) }));
  const ndjson = Buffer.concat(records.flatMap((r) => [r.data, Buffer.from('\n')]));
  const time = (f: () => number) => {
    const t0 = performance.now();
    let done = 0;
    let bytes = 0;
    while (done < n) {
      bytes += f();
      done += records.length;
    }
    return { recPerSec: done / ((performance.now() - t0) / 1000), bytesPerRecord: bytes / done };
  };
  return {
    batch: records.length,
    parquet: time(() => {
      const out = convertToParquet(conv, records);
      if (out.failed.length) throw new Error(`convertToParquet: ${out.failed.length} records failed`);
      return out.body!.length;
    }),
    ndjsonGzip: time(() => compress('GZIP', ndjson, 'x').length),
  };
}

/** Writes records 0..n−1 with 8 PutRecords of 500 in flight. */
async function writeBacklog(k: KinesisHttp, stream: string, n: number) {
  let next = 0;
  await Promise.all(Array.from({ length: 8 }, async () => {
    while (next < n) {
      const from = next;
      next = Math.min(n, next + 500);
      await putRecords(k, stream, from, next - from);
    }
  }));
}

type DrainResult = { replicas: number; records: number; lost: number; duplicated: number; objects: number; seconds: number; recPerSec: number; workerSeconds: number; startupSeconds: number; workerUsPerRecord: number; compressedBytes: number; loadAtStart: number; loadAtEnd: number; cpu: Record<string, number> };

/** The workers' /status summed: records delivered, the last delivery, the shards they hold between them. */
async function statusOf(ports: number[]) {
  const all = await Promise.all(ports.map(status));
  return {
    deliveredRecords: all.reduce((n, x) => n + x.deliveredRecords, 0),
    lastDeliveryMs: Math.max(0, ...all.map((x) => x.lastDeliveryMs ?? 0)) || undefined,
    shards: new Set(all.flatMap((x) => (x as { shards?: string[] }).shards ?? [])).size,
    /** Every worker holds at least one shard (leases split between them). */
    allHold: all.every((x) => ((x as { shards?: string[] }).shards?.length ?? 0) > 0),
  };
}

/**
 * Starts `replicas` worker processes on delivery stream `name` (bucket bench-<name>, prefix <name>/) over a backlog
 * of `records` and runs the clock until all are in S3: start → last object first listed; records counted from S3 after.
 */
async function drainToS3(cluster: Cluster, s3: S3Server & { pid?: number }, name: string, records: number, format: TallyFormat, profile?: string, replicas = 1): Promise<DrainResult> {
  const tally = new S3Tally(s3, `${BUCKET}-${name}`, `${name}/`, records, format);
  try {
    const ports = await Promise.all(Array.from({ length: replicas }, () => freePort()));
    const loadAtStart = os.loadavg()[0]!;
    const t0 = Date.now();
    const workers = ports.map((port) => startWorker(cluster, name, s3.endpoint, port, profile));
    const workerPids = Object.fromEntries(workers.map((w, i) => [replicas === 1 ? 'worker' : `worker${i + 1}`, w.pid]));
    const span = new CpuSpan({ ...cluster.pids, s3rver: s3.pid, ...workerPids });
    let lastLog = 0;
    let st = { deliveredRecords: 0 } as { deliveredRecords: number; lastDeliveryMs?: number };
    /** When the workers first held all 4 shards between them, each at least one (start-up: process, modules, NATS, leases). */
    let readyMs = 0;
    // Listing only while the workers run (reading objects back would take CPU from them); counted after.
    while (Date.now() - t0 < 30 * 60_000) {
      await sleep(200);
      await tally.list();
      const now = await statusOf(ports);
      st = now;
      if (!readyMs && now.shards === SHARDS && now.allHold) readyMs = Date.now();
      if (Date.now() - lastLog > 5000) {
        lastLog = Date.now();
        log(`  ${name}: worker reports ${int(st.deliveredRecords)} / ${int(records)} delivered; ${tally.objects.size} objects listed`);
      }
      if (st.deliveredRecords >= records) {
        // The worker says done: one more listing catches objects that landed after the last one.
        await tally.list();
        break;
      }
    }
    const cpu = span.stop();
    const spanS = (Date.now() - t0) / 1000;
    const loadAtEnd = os.loadavg()[0]!;
    await Promise.all(workers.map(stop));
    const workerCores = Object.keys(workerPids).reduce((n, k) => n + (cpu[k] ?? 0), 0);
    await tally.listFinal();
    await tally.readNew();
    const { lost, duplicated } = tally.check();
    const seconds = (tally.lastSeenMs() - t0) / 1000;
    return {
      replicas, records: tally.records, lost, duplicated, objects: tally.objects.size, seconds, recPerSec: tally.records / seconds,
      workerSeconds: ((st.lastDeliveryMs ?? t0) - t0) / 1000, startupSeconds: readyMs ? (readyMs - t0) / 1000 : NaN,
      workerUsPerRecord: (workerCores * spanS * 1e6) / Math.max(1, tally.records), compressedBytes: tally.compressedBytes, loadAtStart, loadAtEnd, cpu,
    };
  } finally {
    tally.close();
  }
}

const stop = (p: ChildProcess) => new Promise((r) => { p.once('exit', r); p.kill('SIGTERM'); });

/** Ceiling 1: the one shard reader over the backlog, the 4 shards read in parallel (10,000 records / 10 MiB a batch, as the worker reads). */
async function readerCeiling(store: Store, stream: string): Promise<{ records: number; seconds: number }> {
  const rec = (await getStream(store, stream))!;
  const t0 = performance.now();
  const counts = await Promise.all(rec.shards.map(async (s) => {
    let pos = { jsSeq: 0, index: 0 };
    let n = 0;
    for (;;) {
      const b = await readBatch(store, rec, s.shardId, pos, { limit: 10_000, maxBytes: 10 * 1024 * 1024 });
      if (b.records.length === 0) return n;
      n += b.records.length;
      pos = b.next;
    }
  }));
  return { records: counts.reduce((a, b) => a + b, 0), seconds: (performance.now() - t0) / 1000 };
}

/** Ceiling 2: GZIP as the worker compresses a flush (compress.ts), on one core, over 10,000 of the records. */
function gzipCeiling(): { recPerSec: number; ratio: number } {
  const raw = Buffer.from(Array.from({ length: 10_000 }, (_, i) => jsonRecord(i, Date.now()) + '\n').join(''));
  let out = compress('GZIP', raw, 'x');
  const t0 = performance.now();
  let runs = 0;
  while (performance.now() - t0 < 2000) {
    out = compress('GZIP', raw, 'x');
    runs++;
  }
  return { recPerSec: (runs * 10_000) / ((performance.now() - t0) / 1000), ratio: raw.length / out.length };
}

/** Ceiling 3: s3rver PUTs (minio client, as the worker writes) of `bodyBytes` objects, `inFlight` at once, for 3 s. */
async function putCeiling(s3: S3Server, bodyBytes: number, inFlight: number): Promise<{ putsPerSec: number; mbPerSec: number }> {
  const url = new URL(s3.endpoint);
  const client = new MinioClient({ endPoint: url.hostname, port: Number(url.port), useSSL: false, accessKey: 'S3RVER', secretKey: 'S3RVER', region: 'us-east-1', pathStyle: true, partSize: 1024 * 1024 * 1024 });
  await s3.createBucket(`${BUCKET}-putpeer`);
  const body = Buffer.alloc(Math.max(1, Math.round(bodyBytes)));
  for (let i = 0; i < body.length; i++) body[i] = (i * 2654435761) >>> 24;
  let puts = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: inFlight }, async (_, w) => {
    while (performance.now() - t0 < 3000) await client.putObject(`${BUCKET}-putpeer`, `w${w}/o${puts++}`, body, body.length);
  }));
  const s = (performance.now() - t0) / 1000;
  return { putsPerSec: puts / s, mbPerSec: (puts * body.length) / s / 1e6 };
}

type FreshResult = {
  interval: number; durationS: number; sentPerSec: number; putLagP99: number; workerCores: number; objects: number; records: number; lost: number; duplicated: number;
  /** From the oldest record's PutRecords acknowledgement to its object stored (s3rver's event): a lower bound of Firehose's DataFreshness. */
  p50: number; p99: number; max: number;
  /** From the oldest record's send time (before its PutRecords): an upper bound (adds the ingest path and the load generator's lag). */
  p50FromSend: number; p99FromSend: number; maxFromSend: number;
  /** The worker's own DeliveryToS3.DataFreshness gauge, scraped every 500 ms (not the oracle: alongside). */
  gaugeP99: number; gaugeMax: number;
  loadAtStart: number; loadAtEnd: number;
};

/** The worker's DeliveryToS3.DataFreshness gauge (seconds, the age of its oldest record read and not yet delivered) from its /metrics. */
const freshnessGauge = (port: number) => new Promise<number | undefined>((resolve) => {
  http.get(`http://127.0.0.1:${port}/metrics`, (res) => {
    let b = '';
    res.on('data', (d) => (b += d));
    res.on('end', () => {
      const m = /^shardline_firehose_delivery_to_s3_data_freshness_seconds\{[^}]*\} (\S+)$/m.exec(b);
      resolve(m ? Number(m[1]) : undefined);
    });
  }).on('error', () => resolve(undefined));
});

/**
 * DataFreshness at `rate` records/s for `durationS` with IntervalInSeconds `interval`: one worker process on a
 * 4-shard source. When each object arrived comes from s3rver's object-created events (no listing); each object is
 * read back after the run for the records it holds (loss, duplicates, its oldest record).
 */
async function freshnessRun(cluster: Cluster, s3: S3Child, k: KinesisHttp, store: Store, endpoint: string, interval: number, durationS: number, rate: number, profile?: string): Promise<FreshResult> {
  const name = `fresh-${interval}`;
  const bucket = `${BUCKET}-${name}`;
  await sourceStream(k, store, `${name}-src`);
  await s3.createBucket(bucket);
  await createDelivery(endpoint, name, `${name}-src`, interval);
  const port = await freePort();
  const w = startWorker(cluster, name, s3.endpoint, port, profile);
  // Until the worker holds its 4 shards.
  for (let i = 0; i < 100 && ((await status(port)) as { shards?: string[] }).shards?.length !== SHARDS; i++) await sleep(100);
  const total = rate * durationS;
  const tally = new S3Tally(s3, bucket, `${name}/`, total);
  const takeEvents = () => {
    for (const e of s3.created()) if (e.bucket === bucket) tally.created(e.key, e.atMs);
  };
  takeEvents();
  const gauge = new Samples();
  let watching = true;
  const watcher = (async () => {
    while (watching) {
      await sleep(500);
      takeEvents();
      const g = await freshnessGauge(port);
      if (g !== undefined) gauge.add(g);
    }
  })();
  const loadAtStart = os.loadavg()[0]!;
  const span = new CpuSpan({ ...cluster.pids, s3rver: s3.pid, worker: w.pid });
  const t0 = Date.now();
  let sent = 0;
  /** Per PutRecords: acknowledged − the send time its records carry (how far the load generator and the runtime lag). */
  const putLag = new Samples();
  const ackMs = new Float64Array(total);
  while (sent < total) {
    const due = Math.min(total, Math.floor(((Date.now() - t0) * rate) / 1000));
    const batch: Promise<void>[] = [];
    while (sent < due) {
      const n = Math.min(500, due - sent);
      const at = Date.now();
      batch.push(putRecords(k, `${name}-src`, sent, n, ackMs).then(() => putLag.add(Date.now() - at)));
      sent += n;
    }
    await Promise.all(batch);
    await sleep(10);
  }
  const sendS = (Date.now() - t0) / 1000;
  // Until the worker says it delivered them all (only when to stop: the records are counted from S3 below).
  const until = Date.now() + (interval + 30) * 1000;
  while ((await status(port)).deliveredRecords < total && Date.now() < until) await sleep(200);
  await sleep(500);
  watching = false;
  await watcher;
  const fcpu = span.stop();
  const loadAtEnd = os.loadavg()[0]!;
  await stop(w);
  // Objects stored while it stopped (a graceful stop flushes what is buffered) count too: late, as they were.
  await sleep(200);
  takeEvents();
  await tally.readNew();
  const samples = new Samples();
  const fromSend = new Samples();
  for (const ob of tally.objects.values()) {
    let oldest = Infinity;
    for (const i of ob.ids ?? []) if (i < total && ackMs[i]! < oldest) oldest = ackMs[i]!;
    samples.add(Math.max(0, ob.firstSeenMs - oldest));
    fromSend.add(ob.firstSeenMs - ob.oldestSentMs!);
  }
  const a = samples.summary();
  const f = fromSend.summary();
  const g = gauge.summary();
  const { lost, duplicated } = tally.check();
  return {
    interval, durationS, sentPerSec: total / sendS, putLagP99: putLag.summary().p99 / 1000, workerCores: fcpu.worker ?? 0, objects: a.count, records: tally.records, lost, duplicated,
    p50: a.p50 / 1000, p99: a.p99 / 1000, max: a.max / 1000, p50FromSend: f.p50 / 1000, p99FromSend: f.p99 / 1000, maxFromSend: f.max / 1000,
    gaugeP99: g.count ? g.p99 : NaN, gaugeMax: g.count ? g.max : NaN, loadAtStart, loadAtEnd,
  };
}

export async function runDelivery(argv: string[]): Promise<void> {
  const o = options(argv);
  const startedAt = new Date();
  const load0 = os.loadavg()[0]!;
  const cluster = await startCluster(1);
  const dog = watchdog(cluster, 60 * 60_000);
  const s3 = await startS3Child();
  const store = await connectStore({ natsUrl: cluster.nats.url, name: 'bench-delivery' });
  const endpoint = cluster.runtimes[0]!.endpoint;
  const k = new KinesisHttp(endpoint, { connections: 16 });
  if (o.profile) fs.mkdirSync(o.profile, { recursive: true });
  const errors: string[] = [];
  let result: Record<string, unknown> | undefined;
  let drain: Record<string, number> | undefined;
  let replicated: Record<string, number> | undefined;
  let ceilings: Record<string, number> | undefined;
  let cpu: Record<string, number> = {};
  let parquet: { ndjson: Record<string, number>; parquet: Record<string, number>; convert: ReturnType<typeof convertOnly> } | undefined;
  const fresh: FreshResult[] = [];
  try {
    if (o.phases.has('drain')) {
      await sourceStream(k, store, 'drain-src');
      await s3.createBucket(`${BUCKET}-drain`);
      await createDelivery(endpoint, 'drain', 'drain-src', 0);
      // The replicas' own delivery stream on the same source, created before the backlog: it drains all of it too.
      const scaled = o.replicas ? `drain-r${o.replicas}` : undefined;
      if (scaled) {
        await s3.createBucket(`${BUCKET}-${scaled}`);
        await createDelivery(endpoint, scaled, 'drain-src', 0);
      }
      const f0 = Date.now();
      await writeBacklog(k, 'drain-src', o.records);
      const srcRec = (await getStream(store, 'drain-src'))!;
      let messages = 0;
      for (const sh of srcRec.shards) messages += (await store.jsm.streams.info(jsStreamName(srcRec.uid, sh.index))).state.messages;
      log(`backlog: ${int(o.records)} records in ${int(messages)} JetStream messages, written in ${((Date.now() - f0) / 1000).toFixed(1)} s`);
      const reader = await readerCeiling(store, 'drain-src');
      log(`reader ceiling: ${int(reader.records)} records in ${reader.seconds.toFixed(2)} s`);
      const gzip = gzipCeiling();
      const d = await drainToS3(cluster, s3, 'drain', o.records, 'gzip-ndjson', o.profile);
      cpu = d.cpu;
      drain = { workerUsPerRecord: d.workerUsPerRecord, records: d.records, lost: d.lost, duplicated: d.duplicated, objects: d.objects, seconds: d.seconds, recPerSec: d.recPerSec, workerSeconds: d.workerSeconds, startupSeconds: d.startupSeconds, loadAtStart: d.loadAtStart, loadAtEnd: d.loadAtEnd };
      if (d.lost || d.duplicated) errors.push(`drain: ${d.lost} records lost, ${d.duplicated} duplicated (counted from S3)`);
      const objBytes = d.compressedBytes / Math.max(1, d.objects);
      const recordsPerObject = d.records / Math.max(1, d.objects);
      if (scaled) {
        const r = await drainToS3(cluster, s3, scaled, o.records, 'gzip-ndjson', o.profile, o.replicas);
        replicated = { replicas: r.replicas, workerUsPerRecord: r.workerUsPerRecord, records: r.records, lost: r.lost, duplicated: r.duplicated, objects: r.objects, seconds: r.seconds, recPerSec: r.recPerSec, startupSeconds: r.startupSeconds, loadAtStart: r.loadAtStart, loadAtEnd: r.loadAtEnd, ...Object.fromEntries(Object.entries(r.cpu).map(([a, b]) => [`cpu_${a}`, b])) };
        if (r.lost || r.duplicated) errors.push(`drain with ${r.replicas} replicas: ${r.lost} records lost, ${r.duplicated} duplicated (counted from S3)`);
      }
      const put = await putCeiling(s3, objBytes, SHARDS);
      ceilings = {
        readerRecPerSec: reader.records / reader.seconds,
        gzipRecPerSecPerCore: gzip.recPerSec,
        gzipRatio: gzip.ratio,
        putsPerSec: put.putsPerSec,
        putMBPerSec: put.mbPerSec,
        objectBytes: objBytes,
        recordsPerObject,
        putRecPerSec: put.putsPerSec * recordsPerObject,
      };
    }
    if (o.phases.has('freshness')) {
      for (const interval of o.intervals) fresh.push(await freshnessRun(cluster, s3, k, store, endpoint, interval, interval >= 60 ? o.duration60S : o.durationS, o.rate, o.profile));
    }
    if (o.phases.has('parquet')) {
      await sourceStream(k, store, 'pq-src');
      await s3.createBucket(`${BUCKET}-pq-ndjson`);
      await s3.createBucket(`${BUCKET}-pq-parquet`);
      // Both delivery streams exist before the backlog (the Firehose one starts at its creation time, the other at TRIM_HORIZON): each run drains all of it.
      await createDelivery(endpoint, 'pq-ndjson', 'pq-src', 0);
      const conv = await createParquetDelivery(store, 'pq-parquet', 'pq-src', s3.endpoint);
      const f0 = Date.now();
      await writeBacklog(k, 'pq-src', o.parquetRecords);
      log(`parquet backlog: ${int(o.parquetRecords)} records written in ${((Date.now() - f0) / 1000).toFixed(1)} s`);
      const ndjson = await drainToS3(cluster, s3, 'pq-ndjson', o.parquetRecords, 'gzip-ndjson', o.profile);
      const pq = await drainToS3(cluster, s3, 'pq-parquet', o.parquetRecords, 'parquet', o.profile);
      for (const [run, r] of [['GZIP NDJSON', ndjson], ['Parquet', pq]] as const) {
        if (r.lost || r.duplicated) errors.push(`parquet phase, ${run} run: ${r.lost} records lost, ${r.duplicated} duplicated (counted from S3)`);
      }
      const summary = ({ cpu: c, ...r }: DrainResult) => ({ ...r, s3BytesPerRecord: r.compressedBytes / Math.max(1, r.records), ...Object.fromEntries(Object.entries(c).map(([a, b]) => [`cpu_${a}`, b])) });
      parquet = { ndjson: summary(ndjson), parquet: summary(pq), convert: convertOnly(conv, Math.min(o.parquetRecords, 100_000)) };
    }
    const c = ceilings;
    const tables = [
      `Machine: ${os.cpus().length} cores, shared; load average ${load0.toFixed(2)} at start, ${os.loadavg()[0]!.toFixed(2)} at end`,
      drain ? `Drain: ${int(o.records)} × 1 KB JSON on 4 shards → S3 (s3rver) as GZIP NDJSON, one worker process; counted from S3 (load average ${drain.loadAtStart!.toFixed(2)} → ${drain.loadAtEnd!.toFixed(2)} over the drain)` : '',
      drain && c ? renderTable(['row', 'records', 'seconds', 'rec/s', 'note'], [
        ['shardline delivery, 1 process (start → all in S3)', int(drain.records!), fmt(drain.seconds!), int(drain.recPerSec!), `${drain.objects} objects; worker CPU ${fmt(drain.workerUsPerRecord!)} µs/record; start-up ${fmt(drain.startupSeconds!)} s; lost ${drain.lost}, duplicated ${drain.duplicated}; target ≥ ${int(TARGET_DRAIN)}: ${drain.recPerSec! >= TARGET_DRAIN ? 'met' : 'NOT met'}`],
        ...(replicated ? [[`shardline delivery, ${replicated.replicas} processes (leases)`, int(replicated.records!), fmt(replicated.seconds!), int(replicated.recPerSec!), `${replicated.objects} objects; workers' CPU ${fmt(replicated.workerUsPerRecord!)} µs/record; start-up (each holds a shard) ${fmt(replicated.startupSeconds!)} s; lost ${replicated.lost}, duplicated ${replicated.duplicated}; load ${replicated.loadAtStart!.toFixed(2)} → ${replicated.loadAtEnd!.toFixed(2)}`]] : []),
        ['ceiling: shard reader (readBatch ×4)', int(o.records), '', int(c.readerRecPerSec!), 'this process, before the worker started'],
        ['ceiling: gzip as the worker does it', '', '', int(c.gzipRecPerSecPerCore!), `one core; ratio ${c.gzipRatio!.toFixed(2)}`],
        ['ceiling: s3rver PUT', '', '', int(c.putRecPerSec!), `${fmt(c.putsPerSec!)} PUT/s of ${int(c.objectBytes!)} B (${fmt(c.putMBPerSec!)} MB/s), ${SHARDS} in flight; × ${int(c.recordsPerObject!)} records/object`],
      ]) : '',
      drain ? `CPU cores over the drain: ${cpuLine(cpu)} (loadgen = this process, listing the bucket)` : '',
      replicated ? `CPU cores over the ${replicated.replicas}-process drain: ${cpuLine(Object.fromEntries(Object.entries(replicated).filter(([a]) => a.startsWith('cpu_')).map(([a, b]) => [a.slice(4), b])))}` : '',
      fresh.length ? `DataFreshness at ${int(o.rate)} rec/s offered, per object: when s3rver stored it (its object-created event) − when its oldest record was acknowledged by PutRecords (a lower bound of the age since arrival), and − that record's send time before its PutRecords (an upper bound); the worker's own DeliveryToS3.DataFreshness gauge scraped every 500 ms alongside` : '',
      fresh.length ? renderTable(['IntervalInSeconds', 'run s', 'load avg', 'sent rec/s', 'PutRecords p99 s', 'worker cores', 'objects', 'records', 'lost/dup', 'p50 s', 'p99 s', 'max s', 'from send p50/p99/max s', 'gauge p99/max s', 'target p99 ≤ interval + 1 s'], fresh.map((f) => [
        f.interval, f.durationS, `${f.loadAtStart.toFixed(1)}→${f.loadAtEnd.toFixed(1)}`, int(f.sentPerSec), fmt(f.putLagP99), fmt(f.workerCores), f.objects, int(f.records), `${f.lost}/${f.duplicated}`,
        fmt(f.p50), fmt(f.p99), fmt(f.max), `${fmt(f.p50FromSend)}/${fmt(f.p99FromSend)}/${fmt(f.maxFromSend)}`, `${fmt(f.gaugeP99)}/${fmt(f.gaugeMax)}`,
        f.p99FromSend <= f.interval + 1 ? 'met (from send)' : f.p99 <= f.interval + 1 ? 'met from ack, not from send' : 'NOT met',
      ])) : '',
      parquet ? `Parquet: ${int(o.parquetRecords)} × 1 KB JSON on 4 shards, two delivery streams on them, one worker process per run, the runs one after the other; records counted from S3 (Parquet by DuckDB read_parquet); conversion alone: this process, one core, flushes of ${int(parquet.convert.batch)} records` : '',
      parquet ? renderTable(['run', 'records', 'seconds', 'rec/s', 'S3 bytes/record', 'worker CPU µs/record', 'objects', 'lost/dup', 'conversion alone rec/s', 'conversion alone bytes/record'], [
        ['GZIP NDJSON (peer)', parquet.ndjson, parquet.convert.ndjsonGzip] as const, ['Parquet (SNAPPY)', parquet.parquet, parquet.convert.parquet] as const,
      ].map(([run, r, cv]) => [run, int(r.records!), fmt(r.seconds!), int(r.recPerSec!), fmt(r.s3BytesPerRecord!), fmt(r.workerUsPerRecord!), int(r.objects!), `${r.lost}/${r.duplicated}`, int(cv.recPerSec), fmt(cv.bytesPerRecord)])) : '',
    ].filter(Boolean).join('\n');
    console.log(tables);
    result = { benchmark: 'delivery', startedAt: startedAt.toISOString(), finishedAt: new Date().toISOString(), machine: machineInfo(NATS_SERVER), setup: { ...o, phases: [...o.phases] }, drain, replicated, ceilings, cpu, freshness: fresh, parquet, table: tables };
  } catch (e) {
    errors.push(String((e as Error)?.stack ?? e));
  } finally {
    await k.close().catch(() => undefined);
    await store.close().catch(() => undefined);
    await s3.stop().catch(() => undefined);
    await cluster.stop();
    clearTimeout(dog);
  }
  // A failed phase keeps what the others measured.
  const file = writeResults('delivery', rounded(result ?? { benchmark: 'delivery', startedAt: startedAt.toISOString(), setup: { ...o, phases: [...o.phases] }, drain, replicated, ceilings, cpu, freshness: fresh, parquet, errors }));
  console.log(`\nresults: ${path.relative(process.cwd(), file)}`);
  if (errors.length) {
    console.error(`\n${errors.length} error(s):\n${errors.join('\n')}`);
    process.exitCode = 1;
  }
}
