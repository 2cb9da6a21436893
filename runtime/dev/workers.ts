// The seam for the workers of DeliveryStream and AnalyticsApp manifests in
// `shardline dev`: a worker kind registers a starter here (the delivery and
// analytics workers, `shardline delivery|analytics`, live in their own
// modules); dev starts one per manifest and stops them on Ctrl-C. A kind
// nobody registered is reported, never silently dropped.
import type { Manifest } from './manifests.js';

export interface DevWorkerEnv {
  /** The local Kinesis endpoint and NATS URL the worker talks to. */
  endpoint: string;
  natsUrl: string;
  dataDir: string;
  log: (m: string) => void;
}

export interface DevWorker {
  /** One line for the start-up summary, e.g. where delivered objects land. */
  describe(): string;
  stop(): Promise<void>;
}

export type DevWorkerStarter = (m: Manifest, env: DevWorkerEnv) => Promise<DevWorker>;

const starters = new Map<string, DevWorkerStarter>();

export function registerDevWorker(kind: string, start: DevWorkerStarter): void {
  starters.set(kind, start);
}

export const devWorkerStarter = (kind: string) => starters.get(kind);
