// `shardline delivery --config <file>`: delivers one delivery stream. Reads the
// definition from the store (following UpdateDestination live), takes leases
// on the source's shards (several replicas share them; a dead one's shards
// are taken over when its leases expire) and runs a ShardDelivery per shard.
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { parseDeliveryConfig, type DeliveryRunConfig } from '../../contract/delivery.js';
import { ENV } from '../../contract/env.js';
import { connectStore, type Store } from '../../stream/connect.js';
import { getDeliveryStream, openDeliveryStore, type DeliveryStreamRecord } from '../../stream/deliveryStreams.js';
import { getStream } from '../../stream/streams.js';
import { deliveryMetrics } from './metrics.js';
import { objectStore } from './s3.js';
import { ShardDelivery } from './shardDelivery.js';
import { ShardState } from './state.js';

const LEASE_TTL_MS = Number(process.env[ENV.deliveryLeaseMs] ?? 10_000);
const TICK_MS = Math.max(200, Math.floor(LEASE_TTL_MS / 5));

interface Running { abort: AbortController; done: Promise<void>; state: ShardState }

export interface DeliveryWorker { stop(): Promise<void>; port?: number }

export async function startDeliveryWorker(cfg: DeliveryRunConfig, opts: { metricsPort?: number; log?: (m: string) => void } = {}): Promise<DeliveryWorker> {
  const log = opts.log ?? ((m: string) => console.error(`[delivery ${cfg.deliveryStreamName}] ${m}`));
  const natsUrl = cfg.natsUrl ?? process.env[ENV.natsUrl] ?? 'nats://127.0.0.1:4222';
  const store: Store = await connectStore({ natsUrl, name: `shardline-delivery-${cfg.deliveryStreamName}` });
  const ds = await openDeliveryStore(store);
  // No endpoint: SHARDLINE_S3_ENDPOINT; else AWS S3 for a resource's worker (the CRD's documented default), the dev s3rver locally.
  const endpoint = cfg.s3.endpoint ?? process.env[ENV.s3Endpoint] ?? (cfg.namespace ? `https://s3.${cfg.s3.region}.amazonaws.com` : undefined);
  const objects = objectStore({ ...cfg.s3, endpoint });
  const metrics = deliveryMetrics(cfg.deliveryStreamName);
  const workerId = `${os.hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
  const running = new Map<number, Running>();
  let def: DeliveryStreamRecord | undefined;
  let stopped = false;

  const server = opts.metricsPort !== undefined
    ? http.createServer(async (req, res) => {
      if (req.url === '/metrics') {
        res.setHeader('Content-Type', metrics.registry.contentType);
        return res.end(await metrics.registry.metrics());
      }
      if (req.url === '/status') return res.end(JSON.stringify({ shards: [...running.keys()], ...metrics.totals() }));
      res.statusCode = req.url === '/healthz' ? 200 : 404;
      res.end(req.url === '/healthz' ? 'ok' : '');
    })
    : undefined;
  if (server) await new Promise<void>((r) => server.listen(opts.metricsPort, '0.0.0.0', r));

  const tick = async () => {
    const cur = await getDeliveryStream(ds, cfg.deliveryStreamName);
    if (!cur || cur.status === 'DELETING' || (def && cur.uid !== def.uid)) {
      if (def) log(cur ? 'delivery stream re-created: restarting' : 'delivery stream gone: stopping its shards');
      await stopAll();
      def = cur && cur.status === 'ACTIVE' ? cur : undefined;
      return;
    }
    if (cur.status !== 'ACTIVE') return;
    def = cur;
    const source = await getStream(store, cur.sourceStream);
    if (!source) return;
    for (const shard of source.shards) {
      const state = new ShardState(ds.state, cur.uid, shard.index);
      const r = running.get(shard.index);
      if (r) {
        if (!(await state.acquire(workerId, LEASE_TTL_MS))) {
          log(`shard ${shard.index}: lease lost`);
          r.abort.abort();
        }
        continue;
      }
      if (!(await state.acquire(workerId, LEASE_TTL_MS))) continue;
      const abort = new AbortController();
      const delivery = new ShardDelivery(
        { store, objects, state, metrics, log, definition: () => def!, signal: abort.signal },
        source.uid, shard.index, shard.endingSequenceNumber !== undefined,
      );
      const done = delivery.run().then(
        () => undefined,
        (e) => log(`shard ${shard.index}: ${(e as Error).stack ?? e}`),
      ).finally(() => {
        running.delete(shard.index);
        // A closed shard that is fully delivered keeps its lease so no one reads it again.
        if (abort.signal.aborted || shard.endingSequenceNumber === undefined) void state.release(workerId);
      });
      running.set(shard.index, { abort, done, state });
    }
  };

  async function stopAll() {
    const all = [...running.values()];
    for (const r of all) r.abort.abort();
    await Promise.all(all.map((r) => r.done));
  }

  let timer: NodeJS.Timeout | undefined;
  const loop = async () => {
    if (stopped) return;
    try {
      await tick();
    } catch (e) {
      log(`tick: ${(e as Error).message}`);
    }
    if (!stopped) timer = setTimeout(loop, TICK_MS);
  };
  await loop();
  return {
    port: server ? (server.address() as { port: number }).port : undefined,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await stopAll();
      server?.close();
      await store.close();
    },
  };
}

/** The CLI entry: flags, config file, signals. */
export async function runDelivery(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { config: { type: 'string' }, 'metrics-port': { type: 'string' } } });
  if (!values.config) {
    console.error('usage: shardline delivery --config <file> [--metrics-port <port>]');
    process.exit(2);
  }
  const cfg = parseDeliveryConfig(JSON.parse(fs.readFileSync(values.config, 'utf8')));
  const port = values['metrics-port'] ?? process.env[ENV.metricsPort];
  const worker = await startDeliveryWorker(cfg, { metricsPort: port !== undefined ? Number(port) : undefined });
  console.log(`shardline delivery ${cfg.deliveryStreamName} running${worker.port !== undefined ? ` (metrics on :${worker.port})` : ''}`);
  const stop = () => void worker.stop().finally(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
