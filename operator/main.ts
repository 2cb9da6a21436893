// `shardline operator`: runs the controller until SIGTERM/SIGINT.
// Flags and env: operator/options.ts (`shardline operator --help`).
import { Command } from 'commander';
import { KubeConfig } from '@kubernetes/client-node';
import { startOperator } from './manager.js';
import { OPERATOR_OPTIONS } from './options.js';
import { addOptions, resolveOptions } from '../common/options.js';
import { natsAuthFromValues, natsConnectOptions } from '../common/natsAuth.js';
import { createLogger } from '../common/log.js';

/** `values` as the CLI resolves them; an argv array is parsed here (tests spawn this module directly). */
export async function runOperator(input: string[] | Record<string, any>): Promise<void> {
  let v: Record<string, any>;
  if (Array.isArray(input)) {
    const cmd = addOptions(new Command('operator'), OPERATOR_OPTIONS);
    cmd.parse(input, { from: 'user' });
    v = resolveOptions(OPERATOR_OPTIONS, cmd.opts(), cmd);
  } else v = input;
  const logger = createLogger('operator');
  const kc = new KubeConfig();
  if (v.kubeconfig) kc.loadFromFile(v.kubeconfig);
  else kc.loadFromDefault();
  const natsAuth = natsAuthFromValues(v);
  const handle = await startOperator({
    kubeConfig: kc,
    natsUrl: v.nats,
    natsConnectOptions: natsConnectOptions(natsAuth),
    natsAuthSecret: v.natsAuthSecret,
    image: v.image,
    imagePullPolicy: v.imagePullPolicy,
    identity: v.identity,
    leaderElection: v.leaderElect && {
      namespace: v.leaseNamespace,
      name: v.leaseName,
      leaseDurationSeconds: v.leaseDurationSeconds,
      renewDeadlineMs: v.renewDeadlineMs,
      retryPeriodMs: v.retryPeriodMs,
    },
    resyncMs: v.resyncSeconds ? v.resyncSeconds * 1000 : undefined,
    workers: v.workers,
    storeReplicas: v.storeReplicas,
    healthPort: v.healthPort,
    log: (m: string) => logger.info(m),
  });
  // Reconciles catch their own errors; anything else is logged, not fatal (level-triggered: the next pass repairs).
  process.on('unhandledRejection', (e) => logger.error({ err: (e as Error)?.message ?? String(e), stack: (e as Error)?.stack }, 'unhandled rejection'));
  logger.info('[operator] started');
  await new Promise<void>((resolve) => {
    const done = () => resolve();
    process.once('SIGTERM', done);
    process.once('SIGINT', done);
  });
  logger.info('[operator] shutting down');
  await handle.stop();
}
