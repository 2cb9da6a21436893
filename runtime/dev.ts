// `shardline dev`: the local all-in-one. Runs nats-server with JetStream on a
// data directory (supervised: restarted on a crash, never left behind, one dev
// per directory), the Kinesis endpoint on SHARDLINE_PORT (default 4567), and
// applies the manifests given with -f (files or directories) as the operator
// would on a cluster: DataStreams into the store, DeliveryStream definitions
// into the store (delivered to a local S3), AnalyticsApps as `shardline
// analytics` child processes. Re-running with edited manifests applies the change.
import path from 'node:path';
import { parseArgs } from 'node:util';
import { runtimeConfig, type RuntimeConfig } from './config.js';
import { startRuntime } from './server.js';
import { acquireDataDir, DataDirInUseError } from './dev/dataDirLock.js';
import { SupervisedNats } from './dev/natsProcess.js';
import { loadManifests, ManifestError, type Manifest } from './dev/manifests.js';
import { applyDataStream, validateDataStream } from './dev/applyStreams.js';
import { devWorkerStarter, type DevWorker } from './dev/workers.js';
import { registerDevAnalytics } from './dev/analyticsApps.js';
import { startupSummary } from './dev/summary.js';
import { assertPortFree } from './dev/portFree.js';
import { ENV } from '../contract/env.js';
import { startDevDelivery } from './delivery/dev.js';

const say = (m: string) => console.log(`[dev] ${m}`);

/** dev's own flags (each takes a value); every other flag is the runtime's (runtime/config.ts), e.g. --shard-limit. */
const DEV_FLAGS = new Set(['--data-dir', '--nats-port', '--port', '--filename', '-f']);

export function splitDevArgs(args: string[]): { dev: string[]; runtime: string[] } {
  const dev: string[] = [];
  const runtime: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const to = DEV_FLAGS.has(a.split('=')[0]!) ? dev : runtime;
    to.push(a);
    if (a.startsWith('-') && !a.includes('=') && i + 1 < args.length) to.push(args[++i]!);
  }
  return { dev, runtime };
}

/** `preset`: the runtime's settings already parsed (the CLI does); else runtime flags in `args` are parsed here. */
export async function runDev(args: string[], preset?: RuntimeConfig): Promise<void> {
  const split = splitDevArgs(args);
  const { values } = parseArgs({
    args: split.dev,
    options: {
      'data-dir': { type: 'string' },
      'nats-port': { type: 'string' },
      port: { type: 'string' },
      filename: { type: 'string', short: 'f', multiple: true },
    },
  });
  const dataDir = path.resolve(values['data-dir'] ?? process.env[ENV.dataDir] ?? '.shardline');
  const natsPort = Number(values['nats-port'] ?? process.env[ENV.natsPort] ?? 4222);
  let config: ReturnType<typeof runtimeConfig>;
  try {
    config = preset ?? runtimeConfig(split.runtime);
  } catch (e) {
    fail((e as Error).message);
  }
  if (values.port) config.port = Number(values.port);
  if (preset || !split.runtime.some((a) => a.split('=')[0] === '--host')) config.host = process.env[ENV.host] ?? '127.0.0.1';

  // Manifests first: a typo is reported before anything starts.
  let manifests: Manifest[] = [];
  const notes: string[] = [];
  try {
    const loaded = loadManifests(values.filename ?? []);
    manifests = loaded.manifests;
    for (const s of loaded.skipped) notes.push(`skipped ${s}: not a shardline.dev resource`);
    for (const m of manifests) if (m.kind === 'DataStream') validateDataStream(m);
  } catch (e) {
    if (e instanceof ManifestError) fail(e.message);
    throw e;
  }

  let release: () => void;
  try {
    release = await acquireDataDir(dataDir, { port: config.port, natsPort }, say);
  } catch (e) {
    if (e instanceof DataDirInUseError) fail(e.message);
    throw e;
  }
  await assertPortFree(natsPort, 'nats-server', '--nats-port').catch((e: Error) => (release(), fail(e.message)));
  const nats = new SupervisedNats({ bin: process.env.NATS_SERVER_BIN ?? 'nats-server', dataDir, port: natsPort, log: say });
  let shuttingDown: Promise<void> | undefined;
  const workers: DevWorker[] = [];
  let rt: Awaited<ReturnType<typeof startRuntime>> | undefined;
  let apps: { close(): Promise<void> } | undefined;
  let appStore: { close(): Promise<void> } | undefined;
  const shutdown = (code: number) => (shuttingDown ??= (async () => {
    say('stopping…');
    nats.beginStop();
    for (const w of workers) await w.stop().catch((e) => say(`worker stop: ${(e as Error).message}`));
    await apps?.close().catch((e) => say(`analytics stop: ${(e as Error).message}`));
    await appStore?.close().catch(() => undefined);
    await rt?.close().catch(() => undefined);
    await nats.stop();
    release();
    say('stopped');
    process.exit(code);
  })());
  process.once('SIGINT', () => void shutdown(0));
  process.once('SIGTERM', () => void shutdown(0));
  nats.onFatal = (e) => { console.error(`[dev] ${e.message}`); void shutdown(1); };

  say(`starting nats-server with JetStream on ${nats.url} (data in ${dataDir})`);
  await nats.start();
  config.natsUrl = nats.url;
  rt = await startRuntime(config, (m) => console.error(`[runtime] ${m}`));
  const endpoint = `http://127.0.0.1:${rt.port}`;
  // The analytics applications of the store (created through the Kinesis Data Analytics API) run here too.
  const { superviseApplications } = await import('../analytics/worker/supervisor.js');
  const { connectStore } = await import('../stream/connect.js');
  const analyticsStore = await connectStore({ natsUrl: nats.url, name: 'shardline-dev-analytics' });
  appStore = analyticsStore;
  apps = superviseApplications(analyticsStore, nats.url, say);

  const { connectStreamStore } = await import('../operator/store/streamStore.js');
  const store = await connectStreamStore(nats.url);
  try {
    for (const m of manifests.filter((x) => x.kind === 'DataStream')) await applyDataStream(store, m, say);
    const workerLines: string[] = [];
    // Delivery streams (Firehose API or DeliveryStream manifests' definitions) deliver to a local S3 server.
    const delivery = await startDevDelivery({ dataDir, natsUrl: nats.url, log: say });
    workers.push(delivery);
    workerLines.push(delivery.describe());
    registerDevAnalytics(manifests);
    // Delivery streams before the applications that write to them.
    const order = (k: string) => (k === 'DeliveryStream' ? 0 : k === 'AnalyticsApp' ? 2 : 1);
    for (const m of manifests.filter((x) => x.kind !== 'DataStream').sort((a, b) => order(a.kind) - order(b.kind))) {
      const start = devWorkerStarter(m.kind);
      if (!start) { notes.push(`${m.kind} ${m.name}: no local worker for ${m.kind} in this build; not started`); continue; }
      const w = await start(m, { endpoint, natsUrl: nats.url, dataDir, log: say });
      workers.push(w);
      workerLines.push(w.describe());
    }
    const names = await store.listNames();
    const streams = (await Promise.all(names.map((n) => store.get(n)))).filter((r) => r !== undefined);
    console.log(startupSummary({ endpoint, natsUrl: nats.url, dataDir, streams, workers: workerLines, notes }));
  } catch (e) {
    console.error(`[dev] ${(e as Error).message}`);
    await store.close();
    return void shutdown(1);
  }
  await store.close();
}

function fail(message: string): never {
  console.error(`shardline dev: ${message}`);
  process.exit(2);
}
