import net from 'node:net';
import { connect, type ConnectionOptions, type JetStreamClient, type JetStreamManager, type KV, type NatsConnection } from 'nats';
import { CONFIG_BUCKET, STREAMS_BUCKET } from './names.js';
import { presizeSplitMessages } from './natsSplitMessages.js';

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
  /**
   * Wait for NATS and JetStream instead of failing when they are not up yet (a
   * nats-server restoring 10,000 shard streams takes about a minute before it
   * listens): progress goes here every few seconds. Absent: fail at once.
   */
  waitLog?: (msg: string) => void;
  /** Credentials and TLS (authenticator, tls), merged into nats.js's connect options. */
  connectOptions?: Partial<ConnectionOptions>;
}

/** True when something accepts TCP connections at the first server of a NATS URL list. */
function listening(natsUrl: string): Promise<boolean> {
  const first = natsUrl.split(',')[0]!.trim().replace(/^[a-z]+:\/\//i, 'tcp://');
  let host = '127.0.0.1';
  let port = 4222;
  try {
    const u = new URL(first.includes('://') ? first : `tcp://${first}`);
    host = u.hostname || host;
    port = Number(u.port || 4222);
  } catch {
    return Promise.resolve(false);
  }
  return new Promise((resolve) => {
    const s = net.connect(port, host);
    s.setTimeout(1000);
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
    s.once('timeout', () => { s.destroy(); resolve(false); });
  });
}

/** Calls `f` until it succeeds while the failure is NATS/JetStream not being ready yet, reporting progress. */
async function whenReady<T>(what: string, f: () => Promise<T>, log: ((m: string) => void) | undefined, natsUrl?: string): Promise<T> {
  const t0 = Date.now();
  let lastLog = 0;
  for (;;) {
    try {
      return await f();
    } catch (e) {
      const m = String((e as Error)?.message ?? e);
      // Not ready yet: no server, no JetStream answer, a restoring or leaderless JetStream. Anything else is a real failure.
      const transient = /CONNECTION_REFUSED|TIMEOUT|timeout|503|no responders|jetstream not enabled|temporarily unavailable|not current|no suitable peers/i.test(m);
      if (!log || !transient) throw e;
      // A server that restores its streams does not listen yet. One that listens but will
      // not finish the handshake (TLS or credentials refused) is a real failure: say so.
      if (natsUrl !== undefined && /CONNECTION_REFUSED|TIMEOUT/.test(m) && (await listening(natsUrl))) {
        throw new Error(`NATS at ${natsUrl} accepts connections but refuses this client's handshake (TLS or credentials?): ${m}`);
      }
      if (Date.now() - lastLog >= 5_000) {
        lastLog = Date.now();
        log(`waiting for ${what} (${Math.round((Date.now() - t0) / 1000)} s; nats-server may be restoring its streams): ${m}`);
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

export async function connectStore(opts: StoreOptions): Promise<Store> {
  presizeSplitMessages();
  const nc = await whenReady('NATS at ' + opts.natsUrl, () => connect({
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
  }), opts.waitLog, opts.natsUrl);
  const replicas = opts.replicas ?? 1;
  const js = nc.jetstream({ timeout: 10_000 });
  const jsm = await whenReady('JetStream', () => nc.jetstreamManager({ timeout: 10_000 }), opts.waitLog);
  // history 1: the record is the state; revisions give compare-and-set.
  const streams = await whenReady('JetStream', () => js.views.kv(STREAMS_BUCKET, { history: 1, replicas }), opts.waitLog);
  const config = await whenReady('JetStream', () => js.views.kv(CONFIG_BUCKET, { history: 1, replicas }), opts.waitLog);
  return {
    nc, js, jsm, streams, config, replicas,
    async close() {
      await nc.drain().catch(() => nc.close());
    },
  };
}
