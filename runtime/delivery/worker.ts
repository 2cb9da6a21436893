// `shardline delivery --config <file>`: delivers one delivery stream. Follows
// the definition in the store (UpdateDestination applies to the next flush)
// and reads the source through the consumer library: shard leases in the
// consumer's KV lease store, so several replicas split the shards and take
// over a dead one's; each leased shard gets a DeliveryProcessor.
import fs from 'node:fs';
import http from 'node:http';
import { parseArgs } from 'node:util';
import { Registry } from 'prom-client';
import { deliveryConsumerGroup, parseDeliveryConfig, type DeliveryRunConfig } from '../../contract/delivery.js';
import { ENV } from '../../contract/env.js';
import { Consumer } from '../../consumer/consumer.js';
import { directSource } from '../../consumer/sources/direct.js';
import { kvLeaseStore } from '../../consumer/leases/kv.js';
import type { ConnectionOptions } from 'nats';
import { connectStore, type Store } from '../../stream/connect.js';
import { createLogger } from '../../common/log.js';
import { getDeliveryStream, openDeliveryStore, publishWorkerStats, type DeliveryStreamRecord } from '../../stream/deliveryStreams.js';
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { deliveryMetrics } from './metrics.js';
import { objectStore } from './s3.js';
import { DeliveryProcessor } from './processor.js';
import { IntentStore } from './state.js';
import { resolveCatalogTable } from './catalogTable.js';
import { glueCatalogKv } from '../../stream/glueCatalog.js';

const LEASE_TTL_MS = Number(process.env[ENV.deliveryLeaseMs] ?? 10_000);
/** How often the definition is re-read (UpdateDestination, deletion). */
const DEFINITION_POLL_MS = 1_000;
/** An idle shard is polled this often (interval flushes have their own timer; an empty processRecords retries a failed flush). */
const IDLE_READ_MS = 200;
/** How often this worker's totals go to the state bucket (the operator's status reads them). */
const STATS_MS = 2_000;

export interface DeliveryWorker { stop(): Promise<void>; port?: number }

/** Keeps the live processors of this worker (for DataFreshness); a processor leaves when its shard ends or is handed over. */
function track(set: Set<DeliveryProcessor>, p: DeliveryProcessor): DeliveryProcessor {
  set.add(p);
  const done = () => void set.delete(p);
  for (const m of ['shardEnded', 'shutdownRequested'] as const) {
    const f = p[m].bind(p);
    (p as unknown as Record<string, unknown>)[m] = async (cp: Parameters<typeof f>[0]) => {
      try {
        await f(cp);
      } finally {
        done();
      }
    };
  }
  const lost = p.leaseLost.bind(p);
  p.leaseLost = () => {
    done();
    lost();
  };
  return p;
}

/** Where a new delivery starts: Direct PUT from the beginning, a Kinesis source from the delivery stream's creation. */
function initialPosition(def: DeliveryStreamRecord) {
  if (def.type === 'DirectPut' || !def.kinesisSource || def.kinesisSource.deliveryStartMs <= 0) return { type: 'TRIM_HORIZON' as const };
  return { type: 'AT_TIMESTAMP' as const, timestampMs: def.kinesisSource.deliveryStartMs };
}

export async function startDeliveryWorker(
  cfg: DeliveryRunConfig,
  opts: { metricsPort?: number; log?: (m: string) => void; connectOptions?: Partial<ConnectionOptions> } = {},
): Promise<DeliveryWorker> {
  const log = opts.log ?? ((m: string) => workerLog.info(m));
  const httpAccessKey = cfg.httpAccessKeyFromEnv ? process.env[ENV.httpAccessKey] : undefined;
  // The operator maps the Secret into this variable; without it every request would go out unauthenticated.
  if (cfg.httpAccessKeyFromEnv && !httpAccessKey) throw new Error(`${ENV.httpAccessKey} is not set, but the configuration names an access key Secret for the HTTP endpoint.`);
  const natsUrl = cfg.natsUrl ?? process.env[ENV.natsUrl] ?? 'nats://127.0.0.1:4222';
  const store: Store = await connectStore({ natsUrl, name: `shardline-delivery-${cfg.deliveryStreamName}`, connectOptions: opts.connectOptions });
  const ds = await openDeliveryStore(store);
  const catalog = await glueCatalogKv(store);
  // No endpoint: SHARDLINE_S3_ENDPOINT; else AWS S3 for a resource's worker (the CRD's documented default), the dev s3rver locally.
  const endpoint = cfg.s3.endpoint ?? process.env[ENV.s3Endpoint] ?? (cfg.namespace ? `https://s3.${cfg.s3.region}.amazonaws.com` : undefined);
  const objects = objectStore({ ...cfg.s3, endpoint });
  const metrics = deliveryMetrics(cfg.deliveryStreamName, () => oldestPending());
  const region = process.env[ENV.region] ?? 'us-east-1';
  const accountId = process.env[ENV.accountId] ?? '000000000000';
  const consumerRegistry = new Registry();
  const source = directSource(store);
  const leases = kvLeaseStore(store);
  let def: DeliveryStreamRecord | undefined;
  let running: { uid: string; consumer: Consumer; abort: AbortController; processors: Set<DeliveryProcessor> } | undefined;
  const workerId = `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
  let lastStats = 0;
  const publishStats = async () => {
    if (!running || Date.now() - lastStats < STATS_MS) return;
    lastStats = Date.now();
    const t = metrics.totals();
    await publishWorkerStats(ds, running.uid, workerId, { ...t, oldestPendingMs: oldestPending(), updatedMs: Date.now() });
  };
  /** Arrival of the oldest record read and not yet delivered by this worker (DataFreshness). */
  function oldestPending(): number | undefined {
    let oldest: number | undefined;
    for (const p of running?.processors ?? []) {
      const o = p.oldestPendingMs();
      if (o !== undefined) oldest = Math.min(oldest ?? o, o);
    }
    return oldest;
  }
  let stopped = false;

  const server = opts.metricsPort !== undefined
    ? http.createServer(async (req, res) => {
      if (req.url === '/metrics') {
        res.setHeader('Content-Type', metrics.registry.contentType);
        return res.end((await metrics.registry.metrics()) + (await consumerRegistry.metrics()));
      }
      if (req.url === '/status') return res.end(JSON.stringify({ shards: running?.consumer.heldShards() ?? [], ...metrics.totals() }));
      res.statusCode = req.url === '/healthz' ? 200 : 404;
      res.end(req.url === '/healthz' ? 'ok' : '');
    })
    : undefined;
  if (server) await new Promise<void>((r) => server.listen(opts.metricsPort, '0.0.0.0', r));

  async function stopConsumer() {
    const r = running;
    if (!r) return;
    r.abort.abort();
    await r.consumer.stop();
    // The final totals, so a graceful stop loses none of them.
    lastStats = 0;
    await publishStats().catch(() => undefined);
    running = undefined;
  }

  const tick = async () => {
    const cur = await getDeliveryStream(ds, cfg.deliveryStreamName);
    if (!cur || cur.status !== 'ACTIVE') {
      if (running) log(cur ? `delivery stream is ${cur.status}: stopping` : 'delivery stream gone: stopping');
      await stopConsumer();
      return;
    }
    if (running && running.uid !== cur.uid) {
      log('delivery stream re-created: restarting');
      await stopConsumer();
    }
    // A Glue catalog table's columns (and version) for the flushes formed from now on.
    def = await resolveCatalogTable(catalog, cur);
    if (running) return publishStats();
    const abort = new AbortController();
    const uid = cur.uid;
    const processors = new Set<DeliveryProcessor>();
    const consumer = new Consumer({
      // A re-created delivery stream (new uid) starts afresh: its leases and checkpoints are its own.
      applicationName: deliveryConsumerGroup(uid),
      streamName: cur.sourceStream,
      source,
      leaseStore: leases,
      initialPosition: initialPosition(cur),
      failoverTimeMs: LEASE_TTL_MS,
      idleTimeBetweenReadsMs: IDLE_READ_MS,
      callProcessRecordsEvenForEmptyRecordList: true,
      deaggregate: cur.type === 'KinesisStreamAsSource',
      metricsRegistry: consumerRegistry,
      log,
      workerId,
      processorFactory: (shardId) => track(processors, new DeliveryProcessor({
        objects, metrics, log, signal: abort.signal,
        intents: new IntentStore(ds.state, uid, shardId),
        httpBackoffUnitMs: process.env[ENV.httpBackoffUnitMs] ? Number(process.env[ENV.httpBackoffUnitMs]) : undefined,
        httpAccessKey,
        definition: () => def!,
        processing: {
          deliveryStreamArn: `arn:aws:firehose:${region}:${accountId}:deliverystream/${cur.name}`,
          sourceKinesisStreamArn: cur.kinesisSource?.KinesisStreamARN,
          region,
          functions: cfg.functions,
          functionTimeoutMs: cfg.functionTimeoutMs,
          onInvocation: (ok, ms) => metrics.executedProcessing(ok, ms),
          onPartitions: (n, exceeded) => metrics.partitions(n, exceeded),
        },
      })),
    });
    running = { uid, consumer, abort, processors };
    await consumer.start();
  };

  let timer: NodeJS.Timeout | undefined;
  const loop = async () => {
    if (stopped) return;
    try {
      await tick();
    } catch (e) {
      log(`tick: ${(e as Error).message}`);
    }
    if (!stopped) timer = setTimeout(loop, DEFINITION_POLL_MS);
  };
  await loop();
  return {
    port: server ? (server.address() as { port: number }).port : undefined,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await stopConsumer();
      server?.close();
      await store.close();
    },
  };
}

/** The CLI entry: flags, config file, signals. */
/** JSON log lines (common/log.ts), as the runtime and the operator write them. */
const workerLog = createLogger('delivery');

/** `shardline delivery`; `connectOptions`: NATS credentials and TLS from the CLI's NATS options (common/natsAuth.ts). */
export async function runDelivery(argv: string[], opts: { connectOptions?: Partial<ConnectionOptions> } = {}): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { config: { type: 'string' }, 'metrics-port': { type: 'string' } } });
  if (!values.config) {
    console.error('usage: shardline delivery --config <file> [--metrics-port <port>]');
    process.exit(2);
  }
  const cfg = parseDeliveryConfig(JSON.parse(fs.readFileSync(values.config, 'utf8')));
  const port = values['metrics-port'] ?? process.env[ENV.metricsPort];
  const worker = await startDeliveryWorker(cfg, { metricsPort: port !== undefined ? Number(port) : undefined, connectOptions: opts.connectOptions });
  workerLog.info({ deliveryStream: cfg.deliveryStreamName, metricsPort: worker.port }, `shardline delivery ${cfg.deliveryStreamName} running${worker.port !== undefined ? ` (metrics on :${worker.port})` : ''}`);
  const stop = () => void worker.stop().finally(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
