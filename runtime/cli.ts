#!/usr/bin/env node
// `shardline <subcommand>`: one binary for every process the system runs.
//
// Each subcommand is one entry in SUBCOMMANDS: its name, a description, its
// option table (common/options.ts: flag, env, parser, default) and `run`.
// Commander gives every subcommand --help and checks every flag; a bad flag
// or value (or a bad SHARDLINE_* value) is one line on stderr and exit 2.
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError } from 'commander';
import { addOptions, attributeOf, OptionValueError, port, resolveOptions, type OptionSpec } from '../common/options.js';
import { ENV } from '../contract/env.js';
import { RUNTIME_PORT } from '../contract/ports.js';
import { NATS_AUTH_OPTIONS, natsAuthFromValues, natsConnectOptions } from '../common/natsAuth.js';
import { createLogger } from '../common/log.js';
import { configFromValues, RUNTIME_OPTIONS } from './config.js';

/** A usage error: reported in one line, exit 2. */
class UsageError extends Error {}
/** A failure to start something for a person at a terminal (dev): one plain line, exit 1. */
class StartError extends Error {}

interface Subcommand {
  name: string;
  description: string;
  options: OptionSpec[];
  /** `values`: flag, else env, else default, keyed by attribute name (--nats-url → natsUrl). */
  run(values: Record<string, any>): Promise<void>;
}

const runtime: Subcommand = {
  name: 'runtime',
  description: 'the shard runtime: Kinesis API on JetStream',
  options: RUNTIME_OPTIONS,
  async run(values) {
    const config = configFromValues(values);
    checkNatsAuth(config.natsAuth);
    const { startRuntimeProcess } = await import('./main.js');
    await startRuntimeProcess(config);
  },
};

/** The runtime's flags dev passes on to its in-process runtime (dev owns NATS, the port, the host and runs one process). */
const DEV_RUNTIME_OPTIONS = RUNTIME_OPTIONS.filter((o) => !['--nats', '--port', '--host', '--workers'].includes(o.flag.split(' ')[0]!));

const dev: Subcommand = {
  name: 'dev',
  description: 'local all-in-one: supervised nats-server with JetStream plus the Kinesis endpoint; -f applies DataStream manifests',
  options: [
    { flag: '-f, --filename <paths...>', description: 'DataStream manifests (files or directories) to apply', parse: (v) => v },
    { flag: '--data-dir <dir>', env: ENV.dataDir, description: 'where nats-server keeps its data', parse: (v) => v, default: '.shardline' },
    { flag: '--nats-port <n>', env: ENV.natsPort, description: 'nats-server client port', parse: port, default: 4222 },
    { flag: '--port <n>', env: ENV.port, description: 'Kinesis API port', parse: port, default: RUNTIME_PORT },
    ...DEV_RUNTIME_OPTIONS,
  ],
  async run(values) {
    const args = ['--data-dir', values.dataDir, '--nats-port', String(values.natsPort), '--port', String(values.port)];
    // Commander collects repeated -f values; each is passed on as its own -f.
    for (const f of ([] as string[]).concat(...((values.filename as string[][] | string[] | undefined) ?? []))) args.push('-f', f);
    // The runtime's settings: env and defaults for what dev does not take, the flags given to dev for the rest (--shard-limit, ...).
    const runtimeValues = { ...resolveOptions(RUNTIME_OPTIONS, {}), ...Object.fromEntries(Object.entries(values).filter(([k]) => DEV_RUNTIME_OPTIONS.some((o) => attributeOf(o.flag) === k))) };
    try {
      return await (await import('./dev.js')).runDev(args, configFromValues(runtimeValues));
    } catch (e) {
      throw new StartError(`shardline dev: ${(e as Error).message}`);
    }
  },
};

const operator: Subcommand = {
  name: 'operator',
  description: 'the Kubernetes operator (KUBECONFIG or in-cluster)',
  options: [], // OPERATOR_OPTIONS, loaded with the operator (below)
  async run(values) {
    // Loaded on demand: the data plane does not need the Kubernetes client.
    const mod = '../operator/main.js';
    return (await import(mod)).runOperator(values);
  },
};

const delivery: Subcommand = {
  name: 'delivery',
  description: "a delivery stream's worker: source stream → S3 or an HTTP endpoint (config: contract/delivery.ts)",
  options: [
    { flag: '--config <file>', description: 'worker configuration file (JSON)', parse: (v) => v },
    { flag: '--metrics-port <n>', env: ENV.metricsPort, description: 'port of /metrics, /status and /healthz', parse: port },
    ...NATS_AUTH_OPTIONS,
  ],
  async run(values) {
    if (!values.config) throw new UsageError('shardline delivery: --config <file> is required');
    const args = ['--config', values.config as string];
    if (values.metricsPort !== undefined) args.push('--metrics-port', String(values.metricsPort));
    return (await import('./delivery/worker.js')).runDelivery(args, { connectOptions: workerNatsOptions(values) });
  },
};

const operatorOptions = async (): Promise<OptionSpec[]> => {
  const mod = '../operator/options.js';
  return (await import(mod)).OPERATOR_OPTIONS;
};

const analytics: Subcommand = {
  name: 'analytics',
  description: 'an analytics application worker (its configuration file: contract/analytics.ts)',
  options: [{ flag: '--config <file>', description: 'worker configuration file (JSON)', parse: (v) => v }, ...NATS_AUTH_OPTIONS],
  async run(values) {
    return (await import('../analytics/worker/main.js')).runAnalytics(values.config ? ['--config', values.config] : [], { connectOptions: workerNatsOptions(values) });
  },
};

const SUBCOMMANDS: Subcommand[] = [runtime, dev, operator, delivery, analytics];

/** NATS credentials and TLS of a worker subcommand (flags, or the env the operator sets); bad combinations are usage errors. */
function workerNatsOptions(values: Record<string, any>) {
  const a = natsAuthFromValues(values);
  checkNatsAuth(a);
  return natsConnectOptions(a);
}

function checkNatsAuth(a: Parameters<typeof natsConnectOptions>[0]): void {
  try {
    natsConnectOptions(a);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

function version(): string {
  // dist/runtime/cli.js → the package.json beside dist/.
  const file = fileURLToPath(new URL('../../package.json', import.meta.url));
  try {
    return (JSON.parse(fs.readFileSync(file, 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

async function main(argv: string[]): Promise<void> {
  const program = new Command('shardline')
    .description('Kinesis-compatible streaming on Kubernetes and NATS JetStream')
    .version(version(), '-V, --version')
    .exitOverride()
    .configureOutput({
      // Commander's messages are already one line; say where the valid forms are.
      outputError: (msg, write) => write(`${msg.trim().replace(/\s*\n\s*/g, ' ')}${validForms(msg, argv)} (see '${helpHint(argv)}')\n`),
    })
    .showSuggestionAfterError(true);
  for (const sub of SUBCOMMANDS) {
    const specs = sub.name === 'operator' ? await operatorOptions() : sub.options;
    const cmd = addOptions(program.command(sub.name).description(sub.description), specs);
    cmd.action(async (_opts, c: Command) => sub.run(resolveOptions(specs, c.opts(), c)));
  }
  if (argv.length === 0) {
    program.outputHelp();
    return;
  }
  await program.parseAsync(argv, { from: 'user' });
}

/** For an unknown flag or command: the valid ones, on the same line. */
function validForms(msg: string, argv: string[]): string {
  const sub = SUBCOMMANDS.find((s) => s.name === argv[0]);
  if (/unknown command/.test(msg)) return `; commands: ${SUBCOMMANDS.map((s) => s.name).join(', ')}`;
  if (/unknown option/.test(msg) && sub && sub.options.length > 0) {
    return `; valid flags: ${sub.options.map((o) => o.flag.split(' ')[0]).join(', ')}`;
  }
  return '';
}

function helpHint(argv: string[]): string {
  const sub = SUBCOMMANDS.find((s) => s.name === argv[0]);
  return sub ? `shardline ${sub.name} --help` : 'shardline --help';
}

main(process.argv.slice(2)).catch((e) => {
  if (e instanceof CommanderError) {
    process.exit(['commander.helpDisplayed', 'commander.version', 'commander.help'].includes(e.code) ? 0 : 2);
  }
  if (e instanceof UsageError || e instanceof OptionValueError) {
    process.stderr.write(`error: ${e.message}\n`);
    process.exit(2);
  }
  if (e instanceof StartError) {
    process.stderr.write(`${e.message}\n`);
    process.exit(1);
  }
  // Anything else is a start-up failure: one structured line with its cause.
  const logger = createLogger('shardline', {});
  logger.fatal({ err: (e as Error)?.message ?? String(e), code: (e as NodeJS.ErrnoException)?.code, stack: (e as Error)?.stack }, 'start-up failed');
  logger.flush();
  setTimeout(() => process.exit(1), 50);
});

