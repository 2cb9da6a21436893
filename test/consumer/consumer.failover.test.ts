// Three worker PROCESSES share six shards through JetStream KV leases; one is
// killed with SIGKILL mid-stream. Its shards must be picked up within the
// failover time (plus one renewal round) and no record may be skipped; records
// after its last checkpoint are processed again, and counted.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';
import { CreateStreamCommand, type KinesisClient } from '@aws-sdk/client-kinesis';
import { startNats, type NatsServers } from '../harness/nats.js';
import { sdkClient, startInProcess } from '../harness/runtime.js';
import type { RunningRuntime } from '../../runtime/server.js';
import { KEYS, orderViolations, putRange, sleep, waitFor } from './helpers.js';

const FAILOVER_MS = 3_000;
const TICK_MS = FAILOVER_MS / 3;

let nats: NatsServers;
let rt: RunningRuntime & { endpoint: string };
let client: KinesisClient;

interface Worker {
  id: string;
  proc: ChildProcess;
  held: string[];
  /** Per shard held now, the worker's clock at its first report holding it (since it last let go). */
  heldSince: Map<string, number>;
  seen: { v: number; shard: string }[];
  exited: Promise<void>;
}
const workers: Worker[] = [];

beforeAll(async () => {
  nats = await startNats();
  rt = await startInProcess(nats.url);
  client = sdkClient(rt.endpoint, { http1: true });
});
afterAll(async () => {
  for (const w of workers) if (w.proc.exitCode === null && w.proc.signalCode === null) w.proc.kill('SIGKILL');
  await Promise.all(workers.map((w) => w.exited));
  client?.destroy();
  await rt?.close();
  await nats?.stop();
});

function startWorker(id: string): Worker {
  const proc = spawn(process.execPath, [path.resolve('dist/test/consumer/worker.js'), nats.url, 'failover-app', 'f1', id, String(FAILOVER_MS)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const w: Worker = { id, proc, held: [], heldSince: new Map(), seen: [], exited: new Promise((r) => proc.once('exit', () => r())) };
  readline.createInterface({ input: proc.stdout! }).on('line', (line) => {
    const m = JSON.parse(line) as { e: string; v: number; shard: string; shards: string[]; t: number };
    if (m.e === 'rec') w.seen.push({ v: m.v, shard: m.shard });
    else if (m.e === 'held') {
      w.held = m.shards;
      for (const s of w.heldSince.keys()) if (!m.shards.includes(s)) w.heldSince.delete(s);
      for (const s of m.shards) if (!w.heldSince.has(s)) w.heldSince.set(s, m.t);
    }
  });
  workers.push(w);
  return w;
}

test('SIGKILL of one of three workers: its shards are taken over within the failover time and no record is skipped', async () => {
  await client.send(new CreateStreamCommand({ StreamName: 'f1', ShardCount: 6 }));
  let n = 0;
  let putting = true;
  const writer = (async () => {
    while (putting) {
      await putRange(client, 'f1', n, n + KEYS, KEYS);
      n += KEYS;
      await sleep(15);
    }
  })();
  const [a, b, c] = ['w0', 'w1', 'w2'].map(startWorker) as [Worker, Worker, Worker];
  // Every worker holds some shards, each shard one worker. Not necessarily two each: leases balance by records/s,
  // and the 12 partition keys do not hash evenly over 6 shards.
  const spread = () => [a, b, c].every((w) => w.held.length > 0) && new Set([...a.held, ...b.held, ...c.held]).size === 6 &&
    a.held.length + b.held.length + c.held.length === 6;
  await waitFor(spread, 30_000, 'the six shards spread over the three workers').catch((e) => {
    throw new Error(`${(e as Error).message}; held: ${[a, b, c].map((w) => `${w.id}=[${w.held.join(',')}]`).join(' ')}`);
  });
  await waitFor(() => a.seen.length > 50, 10_000, 'w0 processing');
  const victimShards = [...a.held];
  const killedAt = Date.now();
  a.proc.kill('SIGKILL');
  await a.exited;
  await waitFor(() => victimShards.every((s) => b.held.includes(s) || c.held.includes(s)), 30_000, 'take-over');
  // When the last of them was taken, by the clock of the worker that reports it (same machine), not when this test polled.
  const takeoverMs = Math.max(...victimShards.map((s) => Math.min(b.heldSince.get(s) ?? Infinity, c.heldSince.get(s) ?? Infinity))) - killedAt;
  await sleep(500);
  putting = false;
  await writer;
  const all = () => [...a.seen, ...b.seen, ...c.seen];
  await waitFor(() => new Set(all().map((s) => s.v)).size >= n, 30_000, `all ${n} records`);
  for (const w of [b, c]) w.proc.kill('SIGTERM');
  await Promise.all([b.exited, c.exited]);

  const values = new Set(all().map((s) => s.v));
  expect(values.size).toBe(n);
  expect(Math.min(...values)).toBe(0);
  expect(Math.max(...values)).toBe(n - 1);
  // Re-processed: only records the killed worker handled after its last checkpoint, on its own shards.
  const byValue = new Map<number, number>();
  for (const s of all()) byValue.set(s.v, (byValue.get(s.v) ?? 0) + 1);
  const twice = [...byValue].filter(([, k]) => k > 1).map(([v]) => v);
  const killedSaw = new Set(a.seen.map((s) => s.v));
  expect(twice.every((v) => killedSaw.has(v))).toBe(true);
  expect([b, c].every((w) => new Set(w.seen.map((s) => s.v)).size === w.seen.length)).toBe(true);
  // Each worker saw every partition key's records in order.
  for (const w of [a, b, c]) expect(orderViolations(w.seen.map((s) => ({ key: `key-${s.v % KEYS}`, value: s.v })))).toEqual([]);
  console.log(`failover: ${n} records, take-over ${takeoverMs} ms after SIGKILL (failover ${FAILOVER_MS} ms), ${twice.length} records processed twice`);
  // Worst case by design: the last renewal a tick before the kill, seen a tick later, expiry judged at tick granularity,
  // and the report's 100 ms interval; plus scheduling slack on a loaded machine (CI runs two suites at once beside
  // their servers: 2,037 ms over the design bound was seen there once, with this test polling).
  expect(takeoverMs).toBeLessThanOrEqual(FAILOVER_MS + 2 * TICK_MS + 100 + 3_000);
}, 120_000);
