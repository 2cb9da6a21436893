// AnalyticsApp manifests in `shardline dev -f`: checked as the operator checks
// them (schema, referenced DataStreams and DeliveryStreams, SQL compiled by
// DuckDB), then run as the operator runs them — the config file its ConfigMap
// holds and the command line its Deployment gives (`shardline analytics
// --config <file>`), as a child process that dev restarts when it dies (as
// the kubelet would) and ends on Ctrl-C.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { AnalyticsAppSpec, type AnalyticsApp } from '../../crds/schema/analyticsapp.js';
import { DataStreamSpec } from '../../crds/schema/datastream.js';
import { analyticsChildren, type ResolvedStream } from '../../operator/model/workers.js';
import { validateAnalyticsApp } from '../../operator/model/validate.js';
import { analyticsSqlError } from '../../operator/model/analyticsSql.js';
import { WORKER_CONFIG_FILE, WORKER_CONFIG_KEY } from '../../contract/mounts.js';
import { ENV } from '../../contract/env.js';
import { ManifestError, type Manifest } from './manifests.js';
import { registerDevWorker, type DevWorker } from './workers.js';

const CLI = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../cli.js');
const RESTART_MS = 1000;

/** Registers the AnalyticsApp starter; `manifests`: all of dev's, to resolve DataStream and DeliveryStream references. */
export function registerDevAnalytics(manifests: Manifest[]): void {
  registerDevWorker('AnalyticsApp', async (m, env) => {
    const v = validateAnalyticsApp(m.spec ?? {});
    if (!v.ok) throw new ManifestError(`AnalyticsApp ${m.name} (${m.source}): ${v.message}`);
    const spec: AnalyticsAppSpec = v.spec;
    const a: AnalyticsApp = { apiVersion: 'shardline.dev/v1alpha1', kind: 'AnalyticsApp', metadata: { name: m.name, namespace: 'dev' }, spec };
    const streams = new Map<string, ResolvedStream>();
    for (const ref of [...spec.inputs.flatMap((i) => (i.dataStreamRef ? [i.dataStreamRef.name] : [])), ...spec.outputs.flatMap((o) => (o.dataStreamRef ? [o.dataStreamRef.name] : []))]) {
      const ds = manifests.find((x) => x.kind === 'DataStream' && x.name === ref);
      if (!ds) throw new ManifestError(`AnalyticsApp ${m.name}: DataStream ${ref} not found in the manifests given with -f`);
      const streamName = DataStreamSpec.parse(ds.spec ?? {}).streamName ?? ref;
      streams.set(ref, { name: ref, streamName, endpoint: env.endpoint });
    }
    for (const o of [...spec.inputs, ...spec.outputs]) {
      if (o.deliveryStreamRef && !manifests.some((x) => x.kind === 'DeliveryStream' && x.name === o.deliveryStreamRef!.name)) {
        throw new ManifestError(`AnalyticsApp ${m.name}: DeliveryStream ${o.deliveryStreamRef.name} not found in the manifests given with -f`);
      }
    }
    const kids = analyticsChildren(a, spec, streams, { image: 'dev', natsUrl: env.natsUrl, pdbApiVersion: 'policy/v1', sharedEndpoint: env.endpoint });
    const config = JSON.parse((kids.configMap.data as Record<string, string>)[WORKER_CONFIG_KEY]!);
    const sqlError = await analyticsSqlError(config.application);
    if (sqlError) throw new ManifestError(`AnalyticsApp ${m.name}: InvalidSQL: ${sqlError}`);

    const dir = path.join(env.dataDir, 'analytics');
    fs.mkdirSync(dir, { recursive: true });
    const file = path.join(dir, `${m.name}.json`);
    fs.writeFileSync(file, JSON.stringify(config, null, 2) + '\n');
    const container = (kids.deployment as unknown as { spec: { template: { spec: { containers: { args: string[] }[] } } } }).spec.template.spec.containers[0]!;
    const args = container.args.map((x) => (x === WORKER_CONFIG_FILE ? file : x));
    return superviseChild(m.name, args, env.natsUrl, env.log);
  });
}

function superviseChild(name: string, args: string[], natsUrl: string, log: (m: string) => void): DevWorker {
  let child: ChildProcess | undefined;
  let stopping = false;
  let timer: NodeJS.Timeout | undefined;
  const start = () => {
    const c = spawn(process.execPath, [CLI, ...args], {
      stdio: ['ignore', 'inherit', 'inherit'],
      env: { ...process.env, [ENV.natsUrl]: natsUrl, SHARDLINE_EXIT_WITH_PARENT: '1' },
    });
    child = c;
    log(`AnalyticsApp ${name}: worker pid ${c.pid} (shardline ${args.join(' ')})`);
    c.once('exit', (code, signal) => {
      if (stopping) return;
      log(`AnalyticsApp ${name}: worker exited (${signal ?? `code ${code}`}); restarting in ${RESTART_MS} ms`);
      timer = setTimeout(start, RESTART_MS);
    });
  };
  start();
  return {
    describe: () => `AnalyticsApp ${name}: shardline ${args.join(' ')}`,
    async stop() {
      stopping = true;
      clearTimeout(timer);
      const c = child;
      if (!c || c.exitCode !== null || c.signalCode !== null) return;
      const gone = new Promise<void>((r) => c.once('exit', () => r()));
      c.kill('SIGTERM');
      const kill = setTimeout(() => c.kill('SIGKILL'), 10_000);
      await gone;
      clearTimeout(kill);
    },
  };
}
