// A value every process shares and the first one creates (kv.create: first
// writer wins), such as the store's default key or the iterator HMAC key.
// On a cluster just formed, or while the bucket elects a leader, a read or the
// create can fail or time out: tried again until `timeoutMs`, so a process
// starting beside the cluster waits for it instead of failing its start-up
// (seen in CI: a runtime on a 3-server cluster failed because its one create
// attempt failed and nothing was there to read back).
import type { KV, KvEntry } from 'nats';

export async function firstWriterValue(kv: KV, key: string, make: () => string, what: string, timeoutMs = 30_000): Promise<KvEntry> {
  const read = async () => {
    const e = await kv.get(key);
    return e && e.operation === 'PUT' && e.length > 0 ? e : undefined;
  };
  const deadline = Date.now() + timeoutMs;
  let failure: unknown;
  for (let delay = 100; ; delay = Math.min(delay * 2, 2_000)) {
    try {
      const existing = await read();
      if (existing) return existing;
      // A loser (the value exists now) reads the winner's below.
      await kv.create(key, make());
    } catch (e) {
      failure = e;
    }
    try {
      const created = await read();
      if (created) return created;
    } catch (e) {
      failure = e;
    }
    if (Date.now() + delay > deadline) {
      throw new Error(`${what} could not be created or read back in ${timeoutMs} ms${failure ? `: ${(failure as Error)?.message ?? failure}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, delay));
  }
}
