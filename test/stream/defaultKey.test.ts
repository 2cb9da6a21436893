// The store's default key (stream/storeKeys.ts ensureDefaultKey, through
// stream/kvFirstWriter.ts, which the iterator key shares) when the
// bucket does not answer at first, as on a cluster just formed or electing
// its leader (seen in CI: a runtime's start-up failed on a 3-server cluster
// because the one create attempt failed and nothing was there to read).
// A pure unit test: a fake KV with scripted failures.
import type { KV } from 'nats';
import { ensureDefaultKey } from '../../stream/storeKeys.js';

/** A KV holding entries in memory; `fail` scripts each call's outcome (an error, or undefined to work). */
function fakeKv(fail: { get?: (Error | undefined)[]; create?: (Error | undefined)[] } = {}) {
  const data = new Map<string, string>();
  const calls = { get: 0, create: 0 };
  const kv = {
    async get(key: string) {
      const e = fail.get?.[calls.get++];
      if (e) throw e;
      const v = data.get(key);
      if (v === undefined) return null;
      return { operation: 'PUT', length: v.length, json: () => JSON.parse(v) };
    },
    async create(key: string, value: string) {
      const e = fail.create?.[calls.create++];
      if (e) throw e;
      if (data.has(key)) throw new Error('wrong last sequence: 1');
      data.set(key, value);
      return 1;
    },
  };
  return { kv: kv as unknown as KV, data, calls };
}

test('a create that times out is tried again until it lands', async () => {
  const f = fakeKv({ create: [new Error('TIMEOUT'), new Error('TIMEOUT')] });
  const key = await ensureDefaultKey(f.kv, 5_000);
  expect(key.key).toHaveLength(32);
  expect(key.state).toBe('Enabled');
  expect(f.calls.create).toBe(3);
  expect(JSON.parse([...f.data.values()][0]!).id).toBe(key.id);
});

test('reads that fail (no leader yet) are tried again; a key another process made is taken as it is', async () => {
  const f = fakeKv({ get: [new Error('503'), new Error('503')] });
  f.data.set('managed.default', JSON.stringify({ id: 'theirs', key: Buffer.alloc(32, 7).toString('base64') }));
  const key = await ensureDefaultKey(f.kv, 5_000);
  expect(key.id).toBe('theirs');
  expect(key.key.equals(Buffer.alloc(32, 7))).toBe(true);
  expect(f.calls.create).toBe(0);
});

test('a create that loses the race reads the winner\'s key', async () => {
  const f = fakeKv();
  const [a, b] = await Promise.all([ensureDefaultKey(f.kv, 5_000), ensureDefaultKey(f.kv, 5_000)]);
  expect(a.id).toBe(b.id);
  expect(f.data.size).toBe(1);
});

test('a bucket that never answers fails with the reason, after the time allowed', async () => {
  const down = new Error('no responders available for request');
  const f = fakeKv({ get: Array(100).fill(down), create: Array(100).fill(down) });
  const t0 = Date.now();
  await expect(ensureDefaultKey(f.kv, 500)).rejects.toThrow(/the default encryption key \(shardline_keys managed.default\) could not be created or read back in 500 ms: no responders available for request/);
  expect(Date.now() - t0).toBeGreaterThanOrEqual(200);
  expect(f.calls.get).toBeGreaterThan(2);
});
