// `shardline operator`: runs the controller until SIGTERM/SIGINT.
//   --kubeconfig PATH        (else KUBECONFIG, ~/.kube/config or in-cluster)
//   --nats URL               (SHARDLINE_NATS_URL, default nats://nats.<namespace>.svc:4222)
//   --image IMAGE            (SHARDLINE_IMAGE; default the image of this pod's operator
//                             container, out of cluster shardline:0.1.0)
//   --leader-elect=false     (default true; Lease in the operator's namespace:
//                             --lease-namespace, else POD_NAMESPACE, else the kubeconfig context's)
//   --shared-endpoint URL    (SHARDLINE_SHARED_ENDPOINT, default http://shardline.<namespace>.svc:4567)
//   --store-replicas 1       (SHARDLINE_REPLICAS: metadata KV bucket replicas, 3 on a NATS cluster)
//   --health-port 8081       (/healthz, /readyz, /metrics; 0 picks a free port)
import { parseArgs } from 'node:util';
import { KubeConfig } from '@kubernetes/client-node';
import { startOperator } from './manager.js';
import { KubeClient } from './kube/client.js';
import { operatorNamespace, ownImage } from './kube/self.js';
import { sharedEndpointIn } from './model/common.js';
import { ENV } from '../contract/env.js';
import { OPERATOR_HEALTH_PORT } from '../contract/ports.js';

const DEFAULT_IMAGE = 'shardline:0.1.0';

export async function runOperator(args: string[]): Promise<void> {
  const env = process.env;
  const { values } = parseArgs({
    args,
    options: {
      kubeconfig: { type: 'string' },
      nats: { type: 'string' },
      image: { type: 'string' },
      'image-pull-policy': { type: 'string' },
      'leader-elect': { type: 'string' },
      'lease-namespace': { type: 'string' },
      'lease-name': { type: 'string' },
      'lease-duration-seconds': { type: 'string' },
      'renew-deadline-ms': { type: 'string' },
      'retry-period-ms': { type: 'string' },
      identity: { type: 'string' },
      'resync-seconds': { type: 'string' },
      workers: { type: 'string' },
      'health-port': { type: 'string' },
      'store-replicas': { type: 'string' },
      'shared-endpoint': { type: 'string' },
    },
  });
  const kc = new KubeConfig();
  const kubeconfig = values.kubeconfig ?? env.KUBECONFIG;
  if (kubeconfig) kc.loadFromFile(kubeconfig);
  else kc.loadFromDefault();
  const num = (v: string | undefined) => (v === undefined ? undefined : Number(v));
  const leaderElect = (values['leader-elect'] ?? env[ENV.leaderElect] ?? 'true') !== 'false';
  const namespace = operatorNamespace(kc, values['lease-namespace'], env[ENV.podNamespace]);
  if (leaderElect && !namespace) {
    throw new Error('no namespace for the leader-election Lease: the kubeconfig context names none and POD_NAMESPACE is unset; pass --lease-namespace (e.g. shardline-system) or --leader-elect=false');
  }
  let image = values.image || env[ENV.image] || undefined;
  const podName = env[ENV.podName];
  if (!image && podName && namespace) {
    image = await ownImage(new KubeClient(kc), namespace, podName).catch((e) => {
      throw new Error(`cannot read my own Pod ${namespace}/${podName} for the runtime image (RBAC: get pods in ${namespace}), or set SHARDLINE_IMAGE: ${(e as Error).message}`);
    });
  }
  image ??= DEFAULT_IMAGE;
  const handle = await startOperator({
    kubeConfig: kc,
    natsUrl: values.nats ?? env[ENV.natsUrl] ?? `nats://nats.${namespace ?? 'shardline-system'}.svc:4222`,
    image,
    imagePullPolicy: values['image-pull-policy'] ?? env[ENV.imagePullPolicy],
    sharedEndpoint: values['shared-endpoint'] ?? env[ENV.sharedEndpoint] ?? sharedEndpointIn(namespace ?? 'shardline-system'),
    identity: values.identity ?? env[ENV.podName],
    leaderElection: leaderElect && {
      namespace: namespace!,
      name: values['lease-name'],
      leaseDurationSeconds: num(values['lease-duration-seconds']),
      renewDeadlineMs: num(values['renew-deadline-ms']),
      retryPeriodMs: num(values['retry-period-ms']),
    },
    resyncMs: values['resync-seconds'] ? Number(values['resync-seconds']) * 1000 : undefined,
    workers: num(values.workers),
    storeReplicas: num(values['store-replicas'] ?? env[ENV.replicas]),
    healthPort: Number(values['health-port'] ?? env[ENV.healthPort] ?? OPERATOR_HEALTH_PORT),
  });
  // Reconciles catch their own errors; anything else is logged, not fatal (level-triggered: the next pass repairs).
  process.on('unhandledRejection', (e) => console.error('[operator] unhandled rejection:', e));
  console.error(`[operator] started (namespace ${namespace ?? '-'}, image ${image})`);
  await new Promise<void>((resolve) => {
    const done = () => resolve();
    process.once('SIGTERM', done);
    process.once('SIGINT', done);
  });
  console.error('[operator] shutting down');
  await handle.stop();
}
