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
import { ShardUsage } from './usage/shardUsage.js';
import { createMetricsRegistry } from './usage/metrics.js';
import { Autoscaler } from './autoscale/controller.js';

/** JetStream's stream count from its account info (one small request, not a listing). */
async function shardStreamCount(store: Store): Promise<number | string> {
  return (await store.jsm.getAccountInfo().catch(() => undefined))?.streams ?? '?';
}

export interface RunningRuntime {
  port: number;
  ctx: ApiContext;
  listener: Listener;
  autoscaler?: Autoscaler;
  close(): Promise<void>;
}

/** Largest JetStream message we build; single records above it go alone. */
const BATCH_BYTES = 4 * 1024 * 1024;

export async function startRuntime(config: RuntimeConfig, log: (msg: string) => void = () => undefined): Promise<RunningRuntime> {
  const store: Store = await connectStore({ natsUrl: config.natsUrl, replicas: config.replicas, name: 'shardline-runtime', waitLog: log });
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
  // Background half of create/delete/reshard and the closed-shard janitor; one runtime at a time (KV lease).
  const lifecycle = new LifecycleWorker(store, cache, { log });
  const ctx: ApiContext = { store, cache, appender, iterators, config, usage, lifecycle };
  ctx.keys = loadKeyRing({ file: config.kmsKeysFile, inline: config.kmsKeys, region: config.region, accountId: config.accountId });
  const credentials = loadCredentialStore({ file: config.credentialsFile, inline: config.credentials });
  const handler = kinesisHandler({
    ctx,
    credentials,
    routes: {
      '/healthz': (res) => void res.end('ok'),
      '/metrics': async (res) => {
        const body = await metrics.metrics();
        res.setHeader('Content-Type', metrics.contentType);
        res.end(body);
      },
      '/readyz': (res) => {
        res.statusCode = store.nc.isClosed() ? 503 : 200;
        res.end(res.statusCode === 200 ? 'ok' : 'nats connection closed');
      },
    },
    onError: (op, e) => log(`${op}: ${(e as Error)?.stack ?? e}`),
  });
  const listener = await listen(handler, config.port, config.host);
  lifecycle.start();
  const autoscaler = config.autoscale.enabled ? new Autoscaler(store, cache, { ...config.autoscale, shardLimit: config.shardLimit, log }) : undefined;
  autoscaler?.start();
  return {
    port: listener.port,
    ctx,
    listener,
    autoscaler,
    async close() {
      await listener.close();
      await lifecycle.stop();
      await autoscaler?.stop();
      usage.stop();
      cache.stop();
      publisher.close();
      await store.close();
    },
  };
}
