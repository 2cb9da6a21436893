import { connect, type ConnectionOptions, type JetStreamClient, type JetStreamManager, type KV, type NatsConnection } from 'nats';
import { CONFIG_BUCKET, STREAMS_BUCKET } from './names.js';

/** One NATS connection and the handles every part of the runtime shares. */
export interface Store {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  /** Stream records (metadata and shard map), one key per stream. */
  streams: KV;
  /** Cluster-wide settings such as the iterator signing key. */
  config: KV;
  /** Replicas for the KV buckets and new shard streams' default. */
  replicas: number;
  close(): Promise<void>;
}

export interface StoreOptions {
  natsUrl: string;
  /** JetStream replicas for the metadata buckets (1, or 3 on a cluster). */
  replicas?: number;
  name?: string;
  user?: string;
  pass?: string;
  token?: string;
  /** Credentials and TLS (authenticator, tls), merged into nats.js's connect options. */
  connectOptions?: Partial<ConnectionOptions>;
}

export async function connectStore(opts: StoreOptions): Promise<Store> {
  const nc = await connect({
    servers: opts.natsUrl.split(','),
    name: opts.name ?? 'shardline',
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    pingInterval: 10_000,
    // nats.js otherwise captures two stack traces (new Error) per request for
    // async traces: ~9% of the runtime's CPU when GetRecords is polled
    // (stream info + direct gets are requests). Codes and messages are unchanged.
    noAsyncTraces: true,
    user: opts.user,
    pass: opts.pass,
    token: opts.token,
    ...opts.connectOptions,
  });
  const replicas = opts.replicas ?? 1;
  const js = nc.jetstream({ timeout: 10_000 });
  const jsm = await nc.jetstreamManager({ timeout: 10_000 });
  // history 1: the record is the state; revisions give compare-and-set.
  const streams = await js.views.kv(STREAMS_BUCKET, { history: 1, replicas });
  const config = await js.views.kv(CONFIG_BUCKET, { history: 1, replicas });
  return {
    nc, js, jsm, streams, config, replicas,
    async close() {
      await nc.drain().catch(() => nc.close());
    },
  };
}
