// The shard runtime process: Kinesis API on one port, backed by JetStream.
import { connectStore, type Store } from '../stream/connect.js';
import { StreamCache } from '../stream/streamCache.js';
import { WindowedPublisher } from '../stream/publisher.js';
import { ShardAppender } from '../stream/shardAppender.js';
import { IteratorCodec } from '../stream/kinesis/iterator.js';
import { listen, type Listener } from './http/server.js';
import { kinesisHandler } from './api/handler.js';
import { loadCredentialStore } from './auth/index.js';
import type { RuntimeConfig } from './config.js';
import type { ApiContext } from './api/context.js';
import { LifecycleWorker } from '../stream/lifecycleWorker.js';
import { loadKeyRing } from '../stream/keyring.js';
import { attachStoreKeys, startKeyJanitor } from '../stream/storeKeys.js';
import { ShardUsage } from './usage/shardUsage.js';
import { DirectPutQuota } from './usage/directPutQuota.js';
import { createMetricsRegistry } from './usage/metrics.js';
import { metricsSource } from './usage/clusterMetrics.js';
import { BodyBudget } from './http/body.js';
import { loadTls } from './http/tls.js';
import { readiness } from './readiness.js';
import { accessLogger } from './accessLog.js';
import { natsConnectOptions } from '../common/natsAuth.js';
import { errorFields, toLogger, type Logger } from '../common/log.js';
import { Autoscaler } from './autoscale/controller.js';

/** JetStream's stream count from its account info (one small request, not a listing). */
async function shardStreamCount(store: Store): Promise<number | string> {
  return (await store.jsm.getAccountInfo().catch(() => undefined))?.streams ?? '?';
}

export interface RunningRuntime {
  port: number;
  ctx: ApiContext;
  listener: Listener;
  /** Request body bytes held right now (runtime/http/body.ts). */
  bodyBudget: BodyBudget;
  autoscaler?: Autoscaler;
  close(): Promise<void>;
}

/** Largest JetStream message we build; single records above it go alone. */
const BATCH_BYTES = 4 * 1024 * 1024;

/** `log`: a pino logger, or a function receiving each JSON log line (tests). */
export async function startRuntime(config: RuntimeConfig, logTo?: Logger | ((line: string) => void)): Promise<RunningRuntime> {
  const logger = toLogger('runtime', logTo);
  // The stream library takes plain message callbacks.
  const log = (m: string) => logger.info(m);
  const store: Store = await connectStore({
    natsUrl: config.natsUrl,
    replicas: config.replicas,
    name: 'shardline-runtime',
    connectOptions: natsConnectOptions(config.natsAuth),
    // A restoring nats-server (a minute for 10,000 shard streams) is waited for, with progress; real failures abort.
    waitLog: log,
  });
  log(`connected to NATS; ${await shardStreamCount(store)} shard streams in JetStream`);
  const cache = new StreamCache(store.streams, store.nc, log);
  await cache.start();
  const publisher = new WindowedPublisher(store.nc, { maxInFlight: 4096, timeoutMs: 10_000 });
  const maxPayload = store.nc.info?.max_payload ?? 1024 * 1024;
  if (maxPayload < 2 * 1024 * 1024) {
    // A 1 MiB record plus framing does not fit NATS's 1 MB default.
    log(`warning: NATS max_payload is ${maxPayload} bytes; set max_payload to at least 2MB (16MB for 10 MiB records) or large records will fail`);
  }
  const appender = new ShardAppender(publisher, Math.min(BATCH_BYTES, maxPayload - 1024));
  const iterators = await IteratorCodec.fromKv(store.config);
  const usage = new ShardUsage(store.nc, { log });
  usage.start(cache);
  const metrics = createMetricsRegistry(usage);
  const directPut = new DirectPutQuota(store.nc, config.firehosePutQuota, { log });
  directPut.start();
  const scrape = metricsSource(metrics.registry);
  const ready = readiness(store.nc, config.readyTimeoutMs);
  const access = accessLogger(logger, config.accessLog);
  const bodyBudget = new BodyBudget(config.bodyBudgetBytes);
  // Background half of create/delete/reshard and the closed-shard janitor; one runtime at a time (KV lease).
  const lifecycle = new LifecycleWorker(store, cache, { log });
  const ctx: ApiContext = { store, cache, appender, iterators, config, usage, directPut, metrics, log, lifecycle };
  ctx.keys = loadKeyRing({ file: config.kmsKeysFile, inline: config.kmsKeys, region: config.region, accountId: config.accountId });
  // alias/aws/kinesis works out of the box; Secret keys outlive a Secret change.
  ctx.storeKeys = await attachStoreKeys(store, ctx.keys, log);
  const stopKeyJanitor = startKeyJanitor(ctx.storeKeys, log);
  const credentials = loadCredentialStore({ file: config.credentialsFile, inline: config.credentials });
  const handler = kinesisHandler({
    ctx,
    credentials,
    routes: {
      '/healthz': (res) => void res.end('ok'),
      '/metrics': async (res) => {
        const body = await scrape();
        res.setHeader('Content-Type', metrics.registry.contentType);
        res.end(body);
      },
      '/readyz': async (res) => {
        const problem = await ready();
        res.statusCode = problem ? 503 : 200;
        res.end(problem ?? 'ok');
      },
    },
    bodyBudget,
    bodyTimeoutMs: config.bodyTimeoutMs,
    onDone: (r) => {
      metrics.observe(r);
      access(r);
    },
    // Our own faults keep their stack; client-caused ends never come here.
    onError: (op, e) => logger.error({ operation: op, ...errorFields(e), stack: (e as Error)?.stack }, 'request failed'),
  });
  const tls = loadTls(config, logger);
  const listener = await listen(handler, {
    port: config.port,
    host: config.host,
    limits: config.limits,
    tls: tls?.current(),
    onEvent: (event, fields) => logger.debug(fields, event),
  });
  tls?.onChange((pair) => listener.setCertificate?.(pair));
  lifecycle.start();
  const autoscaler = config.autoscale.enabled ? new Autoscaler(store, cache, { ...config.autoscale, shardLimit: config.shardLimit, log }) : undefined;
  autoscaler?.start();
  return {
    port: listener.port,
    ctx,
    listener,
    bodyBudget,
    autoscaler,
    async close() {
      tls?.stop();
      await listener.close();
      await lifecycle.stop();
      stopKeyJanitor();
      ctx.storeKeys?.stop();
      await autoscaler?.stop();
      usage.stop();
      directPut.stop();
      cache.stop();
      publisher.close();
      await store.close();
    },
  };
}
