#!/usr/bin/env node
// `shardline <subcommand>`: one binary for every process the system runs.
import { runtimeConfig } from './config.js';
import { startRuntime } from './server.js';
import { isPrimaryOfWorkers, superviseWorkers } from './workers.js';

const USAGE = `usage: shardline <command> [flags]
  runtime    the shard runtime: Kinesis API on JetStream (--nats, --port, --workers; SHARDLINE_* env)
  dev        local all-in-one: supervised nats-server with JetStream plus the Kinesis endpoint on :4567;
             -f <file|dir> applies DataStream manifests (--data-dir, --port, --nats-port)
  operator   the Kubernetes operator (KUBECONFIG or in-cluster; --nats)`;

async function main(argv: string[]): Promise<void> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case 'runtime': {
      const config = runtimeConfig(rest);
      if (isPrimaryOfWorkers(config)) return superviseWorkers(config, (m) => console.log(m));
      const rt = await startRuntime(config, (m) => console.error(m));
      console.log(`shardline runtime listening on ${config.host}:${rt.port} (NATS ${config.natsUrl})`);
      const stop = () => void rt.close().finally(() => process.exit(0));
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      return;
    }
    case 'dev':
      return (await import('./dev.js')).runDev(rest);
    case 'operator': {
      // Loaded on demand: the data plane does not need the Kubernetes client.
      const mod = '../operator/main.js';
      return (await import(mod)).runOperator(rest);
    }
    default:
      console.error(USAGE);
      process.exit(cmd === undefined || cmd === '--help' || cmd === '-h' ? 0 : 2);
  }
}

main(process.argv.slice(2)).catch((e) => {
  console.error(e instanceof Error ? e.stack : e);
  process.exit(1);
});
