// /readyz: ready only if JetStream answers now. An open NATS connection is not
// enough: a frozen server (SIGSTOP, a full disk, a lost meta leader) keeps the
// TCP connection open while every write would time out. The probe is one
// JetStream API request ($JS.API.INFO) with a short deadline; concurrent
// probes share one request.
import type { NatsConnection } from 'nats';

export function readiness(nc: NatsConnection, timeoutMs: number): () => Promise<string | undefined> {
  let inFlight: Promise<string | undefined> | undefined;
  const check = async (): Promise<string | undefined> => {
    if (nc.isClosed()) return 'nats connection closed';
    try {
      const reply = await nc.request('$JS.API.INFO', undefined, { timeout: timeoutMs });
      const info = JSON.parse(new TextDecoder().decode(reply.data)) as { error?: { description?: string } };
      return info.error ? `jetstream: ${info.error.description ?? 'error'}` : undefined;
    } catch (e) {
      return `jetstream did not answer within ${timeoutMs} ms (${(e as Error).message})`;
    }
  };
  return () => (inFlight ??= check().finally(() => (inFlight = undefined)));
}
