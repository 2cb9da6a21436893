// `shardline operator`: runs the controller until SIGTERM/SIGINT.
// Flags and env: operator/options.ts (`shardline operator --help`). Defaults
// that depend on where the operator runs are worked out here: the namespace
// (--lease-namespace, else POD_NAMESPACE, else the kubeconfig context's), the
// NATS URL and shared endpoint in it, and the runtime image (this pod's own).
import { Command } from 'commander';
import { KubeConfig } from '@kubernetes/client-node';
import { startOperator } from './manager.js';
import { KubeClient } from './kube/client.js';
import { operatorNamespace, ownImage } from './kube/self.js';
import { sharedEndpointIn } from './model/common.js';
import { OPERATOR_OPTIONS } from './options.js';
import { addOptions, resolveOptions } from '../common/options.js';
import { natsAuthFromValues, natsConnectOptions } from '../common/natsAuth.js';
import { createLogger } from '../common/log.js';

const DEFAULT_IMAGE = 'shardline:0.1.0';

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
  const namespace = operatorNamespace(kc, v.leaseNamespace, v.podNamespace);
  if (v.leaderElect && !namespace) {
    throw new Error('no namespace for the leader-election Lease: the kubeconfig context names none and POD_NAMESPACE is unset; pass --lease-namespace (e.g. shardline-system) or --leader-elect=false');
  }
  let image: string | undefined = v.image || undefined;
  if (!image && v.podName && namespace) {
    image = await ownImage(new KubeClient(kc), namespace, v.podName).catch((e) => {
      throw new Error(`cannot read my own Pod ${namespace}/${v.podName} for the runtime image (RBAC: get pods in ${namespace}), or set SHARDLINE_IMAGE: ${(e as Error).message}`);
    });
  }
  image ??= DEFAULT_IMAGE;
  const handle = await startOperator({
    kubeConfig: kc,
    natsUrl: v.nats ?? `nats://nats.${namespace ?? 'shardline-system'}.svc:4222`,
    natsConnectOptions: natsConnectOptions(natsAuthFromValues(v)),
    natsAuthSecret: v.natsAuthSecret,
    image,
    imagePullPolicy: v.imagePullPolicy,
    sharedEndpoint: v.sharedEndpoint ?? sharedEndpointIn(namespace ?? 'shardline-system'),
    identity: v.identity,
    leaderElection: v.leaderElect && {
      namespace: namespace!,
      name: v.leaseName,
      leaseDurationSeconds: v.leaseDurationSeconds,
      renewDeadlineMs: v.renewDeadlineMs,
      retryPeriodMs: v.retryPeriodMs,
    },
    resyncMs: v.resyncSeconds ? v.resyncSeconds * 1000 : undefined,
    workers: v.workers,
    storeReplicas: v.storeReplicas,
    healthPort: v.healthPort,
    // The children of API-created definitions live in the operator's namespace.
    apiWorkers: namespace ? {
      namespace,
      deliveryS3: v.apiDeliveryS3Endpoint ? { endpoint: v.apiDeliveryS3Endpoint, region: v.apiDeliveryS3Region ?? 'us-east-1', secret: v.apiDeliveryS3Secret } : undefined,
      lambdaFunctions: v.apiLambdaFunctions,
      deliveryAutoscaling: v.apiDeliveryAutoscaling,
      analyticsAutoscaling: v.apiAnalyticsAutoscaling,
    } : undefined,
    log: (m: string) => logger.info(m),
  });
  // Reconciles catch their own errors; anything else is logged, not fatal (level-triggered: the next pass repairs).
  process.on('unhandledRejection', (e) => logger.error({ err: (e as Error)?.message ?? String(e), stack: (e as Error)?.stack }, 'unhandled rejection'));
  logger.info({ namespace: namespace ?? null, image }, `[operator] started (namespace ${namespace ?? '-'}, image ${image})`);
  await new Promise<void>((resolve) => {
    const done = () => resolve();
    process.once('SIGTERM', done);
    process.once('SIGINT', done);
  });
  logger.info('[operator] shutting down');
  await handle.stop();
}
