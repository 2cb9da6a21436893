// Scale-out on the real engine: a 3-server NATS cluster on loopback (routes
// between them), replicas-3 shard streams and metadata buckets, two runtimes
// connected with all three URLs. One server is SIGKILLed mid-load: writes
// continue after a bounded pause, and no acknowledged record is lost.
import {
  CreateStreamCommand, GetRecordsCommand, PutRecordCommand, GetShardIteratorCommand, IncreaseStreamRetentionPeriodCommand,
  KinesisClient, PutRecordsCommand, type PutRecordsRequestEntry,
} from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { connect, type JetStreamManager, type NatsConnection } from 'nats';
import { randomBytes } from 'node:crypto';
import { startNats, type NatsServers } from '../harness/nats.js';
import { startInProcess, TEST_CREDENTIALS } from '../harness/runtime.js';
import type { RunningRuntime } from '../../runtime/server.js';
import { jsStreamName, STREAMS_BUCKET, CONFIG_BUCKET, shardIdOf } from '../../stream/names.js';

const STREAM = 'cluster-load';
const SHARDS = 4;
const PRODUCERS = 6;
const BATCH = 20;
/** Pause between a producer's batches: the load stays near half the shards' write limit (1000 records/s each). */
const PRODUCER_PAUSE_MS = 40;
/** Load before the kill, and how long every shard must keep taking writes after it. */
const WARMUP_MS = 2_000;
const AFTER_RECOVERY_MS = 2_000;
/** Upper bound on the write pause the failover may cause: stream leader election (4-9 s on nats-server 2.9) + client backoff. Measured 4-9 s. */
const MAX_PAUSE_MS = 20_000;

let nats: NatsServers;
let observer: NatsConnection;
let jsm: JetStreamManager;
const runtimes: (RunningRuntime & { endpoint: string })[] = [];
const clients: KinesisClient[] = [];
let uid: string;

const log = (m: string) => process.stderr.write(`[cluster.test] ${m}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function client(endpoint: string): KinesisClient {
  return new KinesisClient({
    endpoint,
    region: 'us-east-1',
    credentials: TEST_CREDENTIALS,
    maxAttempts: 1, // the producers below retry themselves, keeping record identities
    requestHandler: new NodeHttpHandler({ requestTimeout: 30_000 }),
  });
}

async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (e) {
      lastErr = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${lastErr ? `: ${lastErr}` : ''}`);
    await sleep(100);
  }
}

const shardStreams = () => Array.from({ length: SHARDS }, (_, i) => jsStreamName(uid, i));

beforeAll(async () => {
  const t0 = Date.now();
  nats = await startNats({ servers: 3 });
  log(`3-server cluster ready in ${Date.now() - t0} ms: ${nats.url}`);
  observer = await connect({ servers: nats.url.split(','), maxReconnectAttempts: -1, reconnectTimeWait: 100, name: 'cluster-test-observer' });
  jsm = await observer.jetstreamManager({ timeout: 5_000 });
  for (let i = 0; i < 2; i++) {
    const rt = await startInProcess(nats.url, { replicas: 3 });
    runtimes.push(rt);
    clients.push(client(rt.endpoint));
  }
});

afterAll(async () => {
  for (const c of clients) c.destroy();
  for (const rt of runtimes) await rt.close().catch(() => undefined);
  await observer?.close().catch(() => undefined);
  await nats?.stop();
});

test('CreateStream makes replicas-3 shard streams placed across the cluster; metadata buckets are R3', async () => {
  await clients[0]!.send(new CreateStreamCommand({ StreamName: STREAM, ShardCount: SHARDS }));
  uid = runtimes[0]!.ctx.cache.get(STREAM)!.record.uid;
  expect(runtimes[0]!.ctx.cache.get(STREAM)!.record.replicas).toBe(3);
  for (const name of shardStreams()) {
    const info = await jsm.streams.info(name);
    expect(info.config.num_replicas).toBe(3);
    expect(info.cluster?.name).toBe('shardline-test');
    expect(info.cluster?.leader).toMatch(/^n[012]$/);
    const peers = [info.cluster!.leader!, ...(info.cluster?.replicas ?? []).map((r) => r.name)].sort();
    expect(peers).toEqual(['n0', 'n1', 'n2']);
  }
  for (const bucket of [STREAMS_BUCKET, CONFIG_BUCKET]) {
    const info = await jsm.streams.info(`KV_${bucket}`);
    expect(info.config.num_replicas).toBe(3);
    expect((info.cluster?.replicas ?? []).length).toBe(2);
  }
  // The other runtime learns of the stream through its KV watch.
  await waitFor('runtime 1 to see the stream', async () => runtimes[1]!.ctx.cache.get(STREAM)?.record.status === 'ACTIVE' || undefined);
});

test('GetRecords at the tip through a runtime on a follower misses nothing', async () => {
  // Direct gets are answered by any replica; a follower may not yet have
  // applied a message the leader already reported in the shard's tip. ON_DEMAND:
  // no per-shard read limit, so the reader can poll the tip as fast as it likes.
  const name = 'cluster-tip';
  const rt = runtimes[1]!;
  const c = clients[1]!;
  await c.send(new CreateStreamCommand({ StreamName: name, StreamModeDetails: { StreamMode: 'ON_DEMAND' } }));
  const first = await c.send(new PutRecordCommand({ StreamName: name, PartitionKey: 'k', Data: Buffer.from('first') }));
  const shardId = first.ShardId!;
  const js = jsStreamName(rt.ctx.cache.get(name)!.record.uid, Number(shardId.slice('shardId-'.length)));
  const here = rt.ctx.store.nc.info!.server_name;
  await moveLeader(js, ['n0', 'n1', 'n2'].find((n) => n !== here)!);
  const acked = new Map<string, string>([[first.SequenceNumber!, 'first']]);
  let stop = false;
  // Writers one record at a time (each write moves the tip), readers polling the tip.
  const writers = Array.from({ length: 4 }, async (_, w) => {
    for (let i = 0; !stop; i++) {
      const out = await c.send(new PutRecordCommand({ StreamName: name, PartitionKey: 'k', Data: Buffer.from(`tip-${w}-${i}`) }));
      acked.set(out.SequenceNumber!, `tip-${w}-${i}`);
    }
  });
  let reads = 0;
  // A reader stops at its first empty read after every write was acknowledged
  // (not merely asked to stop: a write still in flight then lands after it).
  let written = false;
  const readers = Array.from({ length: 4 }, async () => {
    const seen = new Map<string, string>();
    let iterator = (await c.send(new GetShardIteratorCommand({ StreamName: name, ShardId: shardId, ShardIteratorType: 'TRIM_HORIZON' }))).ShardIterator;
    for (let caughtUp = false; !caughtUp; reads++) {
      const finishing = written;
      const got = await c.send(new GetRecordsCommand({ ShardIterator: iterator }));
      for (const r of got.Records ?? []) seen.set(r.SequenceNumber!, Buffer.from(r.Data!).toString());
      iterator = got.NextShardIterator;
      caughtUp = finishing && (got.Records ?? []).length === 0;
    }
    return seen;
  });
  await sleep(3_000);
  stop = true;
  await Promise.all(writers);
  written = true;
  const missed = (await Promise.all(readers)).map((seen) => [...acked].filter(([seq, d]) => seen.get(seq) !== d).length);
  log(`tip reads via follower ${here}: ${reads} GetRecords by 4 readers, ${acked.size} records written one at a time, missed per reader [${missed.join(', ')}]`);
  expect(acked.size).toBeGreaterThan(20);
  expect(missed).toEqual([0, 0, 0, 0]);
});

interface Acked {
  id: string;
  data: Buffer;
  seq: string;
  shardId: string;
  at: number;
}

test('SIGKILL of a server mid-load: writes continue, no acknowledged record is lost', async () => {
  expect(uid).toBeDefined();
  // The victim: the server runtime 0 is connected to (so its NATS connection
  // must fail over too). Make it lead shard 0's stream and the stream-record
  // bucket, so the kill also forces those leader elections.
  const victimName = runtimes[0]!.ctx.store.nc.info!.server_name;
  const victim = nats.indexOf(victimName);
  await moveLeader(jsName(0), victimName);
  await moveLeader(`KV_${STREAMS_BUCKET}`, victimName);
  const led: string[] = [];
  for (const name of [...shardStreams(), `KV_${STREAMS_BUCKET}`, `KV_${CONFIG_BUCKET}`]) {
    if ((await jsm.streams.info(name)).cluster?.leader === victimName) led.push(name);
  }
  log(`victim ${victimName} (runtime 0's server; runtime 1 is on ${runtimes[1]!.ctx.store.nc.info!.server_name}) leads: ${led.join(', ')}`);

  const acked: Acked[] = [];
  const errors: string[] = [];
  let stop = false;
  let produced = 0;
  let retries = 0;

  async function producer(p: number) {
    const c = clients[p % clients.length]!;
    for (let n = 0; !stop; n++) {
      let pending: { id: string; data: Buffer }[] = Array.from({ length: BATCH }, (_, k) => {
        const id = `p${p}-${n}-${k}`;
        return { id, data: Buffer.concat([Buffer.from(id + ':'), randomBytes(64)]) };
      });
      produced += pending.length;
      // As a Kinesis client does: resend what failed (same records) with backoff
      // until every record of the batch is acknowledged.
      for (let attempt = 0; pending.length > 0; attempt++) {
        if (attempt > 0) {
          retries++;
          await sleep(Math.min(1000, 50 * 2 ** Math.min(attempt, 5)) * (0.5 + Math.random() / 2));
        }
        const entries: PutRecordsRequestEntry[] = pending.map((r) => ({ PartitionKey: r.id, Data: r.data }));
        try {
          const out = await c.send(new PutRecordsCommand({ StreamName: STREAM, Records: entries }));
          const now = Date.now();
          const failed: typeof pending = [];
          out.Records!.forEach((r, i) => {
            if (r.SequenceNumber) acked.push({ ...pending[i]!, seq: r.SequenceNumber, shardId: r.ShardId!, at: now });
            else {
              failed.push(pending[i]!);
              if (r.ErrorCode !== 'InternalFailure' && r.ErrorCode !== 'ProvisionedThroughputExceededException') errors.push(`${r.ErrorCode}: ${r.ErrorMessage}`);
            }
          });
          pending = failed;
          if (pending.length === 0) await sleep(PRODUCER_PAUSE_MS);
        } catch (e) {
          const status = (e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
          // 5xx and network errors are retryable; a 4xx here is a bug.
          if (status !== undefined && status < 500) errors.push(`${(e as Error).name}: ${(e as Error).message}`);
        }
        if (errors.length > 0) return;
      }
    }
  }

  const t0 = Date.now();
  // A consumer per shard tails it through the failover, as KCL workers would.
  const tails = shardStreams().map((_, i) => new Tail(clients[(i + 1) % clients.length]!, shardIdOf(i)));
  const tailing = tails.map((t) => t.run());
  const producers = Array.from({ length: PRODUCERS }, (_, p) => producer(p));
  await sleep(WARMUP_MS);
  const beforeKill = acked.length;
  expect(beforeKill).toBeGreaterThan(0);
  await nats.kill(victim);
  const killedAt = Date.now();
  log(`killed ${victimName} at +${killedAt - t0} ms with ${beforeKill} records acknowledged`);

  // Every shard must take writes again, and keep taking them for a while.
  const resumedAt = await waitFor(
    'every shard to take writes after the kill',
    async () => {
      const firsts = shardStreams().map((_, i) => acked.find((a) => a.at > killedAt && a.shardId === shardIdOf(i))?.at);
      return firsts.every((f) => f !== undefined) ? Math.max(...(firsts as number[])) : undefined;
    },
    MAX_PAUSE_MS + 10_000,
  );
  await sleep(AFTER_RECOVERY_MS);
  stop = true;
  await Promise.all(producers);
  const elapsed = Date.now() - t0;
  for (const t of tails) t.finish = true;
  await Promise.all(tailing);
  expect(errors).toEqual([]);

  // The pause: the longest stretch without an acknowledgement, overall and per
  // shard, across the kill.
  const gap = (ts: number[]) => {
    let worst = 0;
    for (let i = 1; i < ts.length; i++) worst = Math.max(worst, ts[i]! - ts[i - 1]!);
    return worst;
  };
  const around = (a: Acked) => a.at >= killedAt - 1000;
  const overall = gap(acked.filter(around).map((a) => a.at));
  const perShard = shardStreams().map((_, i) => gap(acked.filter((a) => around(a) && a.shardId === shardIdOf(i)).map((a) => a.at)));
  const afterKill = acked.filter((a) => a.at > killedAt).length;
  log(
    `failover pause: ${resumedAt - killedAt} ms until every shard took writes again; longest ack gap overall ${overall} ms, ` +
      `per shard [${perShard.join(', ')}] ms; ${acked.length} records acknowledged (${afterKill} after the kill) ` +
      `of ${produced} produced, ${retries} retried requests, load ran ${elapsed} ms`,
  );
  expect(afterKill).toBeGreaterThan(0);
  expect(resumedAt - killedAt).toBeLessThan(MAX_PAUSE_MS);

  // Every acknowledged record is readable, through the runtime, at the
  // sequence number it was acknowledged with, with its data.
  const read = new Map<string, Buffer>();
  for (let i = 0; i < SHARDS; i++) {
    for (const [seq, data] of await readAll(clients[i % clients.length]!, shardIdOf(i))) read.set(seq, data);
  }
  const lost = acked.filter((a) => !read.has(a.seq));
  const wrong = acked.filter((a) => read.has(a.seq) && !read.get(a.seq)!.equals(a.data));
  const ids = new Map<string, number>();
  for (const d of read.values()) {
    const id = d.subarray(0, d.indexOf(':')).toString();
    ids.set(id, (ids.get(id) ?? 0) + 1);
  }
  const duplicates = [...ids.values()].filter((n) => n > 1).length;
  log(`read back ${read.size} records; ${lost.length} acknowledged records missing, ${wrong.length} with other data, ${duplicates} records stored more than once (retries of unacknowledged writes)`);
  expect(lost.map((a) => `${a.id}@${a.shardId}/${a.seq}`)).toEqual([]);
  expect(wrong.map((a) => a.id)).toEqual([]);
  expect(new Set(acked.map((a) => a.id)).size).toBe(acked.length);

  // The consumers that read through the failover saw every acknowledged record too.
  const tailed = new Map<string, Buffer>();
  for (const t of tails) for (const [seq, d] of t.seen) tailed.set(seq, d);
  const missedByTails = acked.filter((a) => !tailed.get(a.seq)?.equals(a.data));
  log(
    `tailing consumers: ${tailed.size} records, ${tails.reduce((n, t) => n + t.errors, 0)} failed GetRecords calls ` +
      `(${[...new Set(tails.flatMap((t) => t.errorNames))].join(', ') || 'none'}), longest stall per shard ` +
      `[${tails.map((t) => t.longestStall).join(', ')}] ms, ${missedByTails.length} acknowledged records missed`,
  );
  expect(missedByTails.map((a) => `${a.id}@${a.shardId}/${a.seq}`)).toEqual([]);

  // Metadata still flows between runtimes after the failover: a change made
  // through one runtime reaches the other's cache through its KV watch (runtime
  // 0's connection moved to another server; the bucket changed leader).
  const t1 = Date.now();
  await clients[0]!.send(new IncreaseStreamRetentionPeriodCommand({ StreamName: STREAM, RetentionPeriodHours: 48 }));
  await waitFor('runtime 1 to see the retention change', async () => runtimes[1]!.ctx.cache.get(STREAM)?.record.retentionHours === 48 || undefined, 20_000);
  await clients[1]!.send(new IncreaseStreamRetentionPeriodCommand({ StreamName: STREAM, RetentionPeriodHours: 72 }));
  await waitFor('runtime 0 to see the retention change', async () => runtimes[0]!.ctx.cache.get(STREAM)?.record.retentionHours === 72 || undefined, 20_000);
  log(`stream record changes propagated between the runtimes' caches in ${Date.now() - t1} ms`);
}, 90_000);

test('the killed server rejoins and catches up', async () => {
  const down = nats.nodes.findIndex((n) => n.proc?.signalCode === 'SIGKILL');
  expect(down).toBeGreaterThanOrEqual(0);
  const t0 = Date.now();
  await nats.restart(down);
  for (const name of shardStreams()) {
    await waitFor(`${name} to have three current replicas`, async () => {
      const info = await jsm.streams.info(name);
      const reps = info.cluster?.replicas ?? [];
      return reps.length === 2 && reps.every((r) => r.current && !r.offline) ? true : undefined;
    });
  }
  log(`${nats.nodes[down]!.name} rejoined; every shard stream has 3 current replicas after ${Date.now() - t0} ms`);
  // Writes still succeed with the full cluster.
  const out = await clients[1]!.send(
    new PutRecordsCommand({ StreamName: STREAM, Records: Array.from({ length: 8 }, (_, i) => ({ PartitionKey: `rejoin-${i}`, Data: Buffer.from(`rejoin-${i}`) })) }),
  );
  expect(out.FailedRecordCount).toBe(0);
});

const jsName = (i: number) => jsStreamName(uid, i);

/** Steps a stream's leader down until `server` leads it (each step down elects one of the others). */
async function moveLeader(stream: string, server: string): Promise<void> {
  for (let i = 0; i < 20; i++) {
    const info = await jsm.streams.info(stream);
    const leader = info.cluster?.leader;
    if (leader === server) return;
    if (leader) await observer.request(`$JS.API.STREAM.LEADER.STEPDOWN.${stream}`, undefined, { timeout: 5_000 });
    await waitFor(`${stream} to elect a leader`, async () => {
      const l = (await jsm.streams.info(stream)).cluster?.leader;
      return l && l !== leader ? l : undefined;
    });
  }
  throw new Error(`could not move ${stream}'s leader to ${server}`);
}

/**
 * Reads one shard from TRIM_HORIZON while it is written to, retrying failed
 * GetRecords calls with the same iterator; once `finish` is set, stops at the tip.
 */
class Tail {
  readonly seen = new Map<string, Buffer>();
  errors = 0;
  readonly errorNames: string[] = [];
  /** Longest time between two successful GetRecords calls. */
  longestStall = 0;
  finish = false;

  constructor(private readonly c: KinesisClient, private readonly shardId: string) {}

  async run(): Promise<void> {
    let iterator = (await this.c.send(new GetShardIteratorCommand({ StreamName: STREAM, ShardId: this.shardId, ShardIteratorType: 'TRIM_HORIZON' }))).ShardIterator;
    let lastOk = Date.now();
    while (iterator) {
      try {
        const got = await this.c.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 2_000 }));
        const now = Date.now();
        this.longestStall = Math.max(this.longestStall, now - lastOk);
        lastOk = now;
        for (const r of got.Records ?? []) this.seen.set(r.SequenceNumber!, Buffer.from(r.Data!));
        iterator = got.NextShardIterator;
        if ((got.Records ?? []).length === 0 && this.finish && got.MillisBehindLatest === 0) return;
      } catch (e) {
        const name = (e as Error).name;
        if (name !== 'ProvisionedThroughputExceededException') {
          this.errors++;
          if (!this.errorNames.includes(name)) this.errorNames.push(name);
        }
      }
      // At most 5 GetRecords calls per second per shard, as Kinesis allows.
      await sleep(250);
    }
  }
}

/** GetRecords from TRIM_HORIZON to the tip: sequence number → data. */
async function readAll(c: KinesisClient, shardId: string): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  const it = await c.send(new GetShardIteratorCommand({ StreamName: STREAM, ShardId: shardId, ShardIteratorType: 'TRIM_HORIZON' }));
  let iterator = it.ShardIterator;
  while (iterator) {
    let got;
    try {
      got = await c.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 10_000 }));
    } catch (e) {
      if ((e as Error).name !== 'ProvisionedThroughputExceededException') throw e;
      await sleep(250);
      continue;
    }
    for (const r of got.Records ?? []) out.set(r.SequenceNumber!, Buffer.from(r.Data!));
    if ((got.Records ?? []).length === 0 && got.MillisBehindLatest === 0) break;
    iterator = got.NextShardIterator;
  }
  return out;
}
