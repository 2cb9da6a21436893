// The asynchronous stream lifecycle (issue 13): a large CreateStream answers
// with the stream CREATING and the shard streams are made in the background;
// the runtime doing that work can die midway and another finishes it (under
// the `lifecycle` KV lease); JetStream refusing for want of file descriptors
// keeps the stream CREATING with retries and never answers 500.
// Oracle throughout: the JetStream streams nats-server itself lists.
import { execFileSync } from 'node:child_process';
import {
  CreateStreamCommand, DeleteStreamCommand, DescribeStreamSummaryCommand, ListShardsCommand, PutRecordCommand,
  UpdateShardCountCommand, type KinesisClient,
} from '@aws-sdk/client-kinesis';
import { startNats, type NatsServers } from '../harness/nats.js';
import { sdkClient, startChild, startInProcess, type ChildRuntime } from '../harness/runtime.js';
import { connectStore, type Store } from '../../stream/connect.js';
import { readStream } from '../../stream/streams.js';
import { LEASES_BUCKET } from '../../stream/kvLease.js';

async function until<T>(f: () => Promise<T | undefined | false>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await f().catch(() => undefined);
    if (v) return v as T;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Names of the JetStream streams holding the shards of storage id `uid`, as nats-server lists them. */
async function shardStreams(store: Store, uid: string): Promise<Set<string>> {
  const names = new Set<string>();
  for await (const n of store.jsm.streams.names()) if (n.startsWith(`KDS_${uid}_`)) names.add(n);
  return names;
}

const expectedNames = (uid: string, count: number) => new Set(Array.from({ length: count }, (_, i) => `KDS_${uid}_${i}`));

const status = async (c: KinesisClient, name: string) =>
  (await c.send(new DescribeStreamSummaryCommand({ StreamName: name }))).StreamDescriptionSummary!.StreamStatus;

describe('large streams are made and removed in the background', () => {
  let nats: NatsServers;
  let rt: Awaited<ReturnType<typeof startInProcess>>;
  let client: KinesisClient;
  let store: Store;
  beforeAll(async () => {
    nats = await startNats();
    rt = await startInProcess(nats.url, { shardLimit: 2_000, inlineShards: 16 });
    client = sdkClient(rt.endpoint, { http1: true });
    store = await connectStore({ natsUrl: nats.url, name: 'lifecycle-test' });
  });
  afterAll(async () => {
    client?.destroy();
    await store?.close();
    await rt?.close();
    await nats?.stop();
  });

  test('CreateStream of 400 shards answers CREATING, then ACTIVE with every shard stream; DeleteStream answers DELETING, then gone', async () => {
    await client.send(new CreateStreamCommand({ StreamName: 'big', ShardCount: 400 }));
    // The answer came before the shard streams: the stream is still being made.
    expect(await status(client, 'big')).toBe('CREATING');
    await expect(client.send(new PutRecordCommand({ StreamName: 'big', PartitionKey: 'k', Data: Buffer.from('x') }))).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
    await until(async () => (await status(client, 'big')) === 'ACTIVE', 60_000, 'ACTIVE');
    const rec = (await readStream(store.streams, 'big'))!.record;
    expect(await shardStreams(store, rec.uid)).toEqual(expectedNames(rec.uid, 400));
    const shards = await client.send(new ListShardsCommand({ StreamName: 'big' }));
    expect(shards.Shards).toHaveLength(400);
    expect((await client.send(new PutRecordCommand({ StreamName: 'big', PartitionKey: 'k', Data: Buffer.from('x') }))).ShardId).toBeDefined();

    // UpdateShardCount 400 → 800: UPDATING, children made in the background, then ACTIVE with 800 open shards.
    await client.send(new UpdateShardCountCommand({ StreamName: 'big', TargetShardCount: 800, ScalingType: 'UNIFORM_SCALING' }));
    expect(await status(client, 'big')).toBe('UPDATING');
    await until(async () => (await status(client, 'big')) === 'ACTIVE', 120_000, 'ACTIVE after UpdateShardCount');
    const after = (await readStream(store.streams, 'big'))!.record;
    expect(after.shards.filter((s) => s.endingSequenceNumber === undefined)).toHaveLength(800);
    expect((await shardStreams(store, rec.uid)).size).toBe(1_200);

    await client.send(new DeleteStreamCommand({ StreamName: 'big' }));
    expect(['DELETING', undefined]).toContain(await status(client, 'big').catch(() => undefined));
    await until(async () => (await readStream(store.streams, 'big')) === undefined, 60_000, 'the record gone');
    expect((await shardStreams(store, rec.uid)).size).toBe(0);
    // The worker counts the delete after its last write (the record's removal), a tick after this test may see it gone.
    await until(async () => rt.ctx.lifecycle!.stats.deleted > 0, 10_000, 'the delete counted');
    expect(rt.ctx.lifecycle!.stats).toMatchObject({ created: 1, deleted: 1, resharded: 1 });
  }, 240_000);

  test('a small stream is still ACTIVE when CreateStream answers', async () => {
    await client.send(new CreateStreamCommand({ StreamName: 'small', ShardCount: 4 }));
    expect(await status(client, 'small')).toBe('ACTIVE');
  });
});

describe('a runtime killed midway', () => {
  let nats: NatsServers;
  const children: ChildRuntime[] = [];
  let store: Store;
  // 40 shard-stream creations per second: a 300-shard stream takes ~7 s, long enough to kill its maker midway.
  const env = { SHARDLINE_SHARD_CREATE_BUDGET: '40', SHARDLINE_SHARD_CREATE_WINDOW_MS: '1000', SHARDLINE_INLINE_SHARDS: '16', SHARDLINE_SHARD_LIMIT: '1000' };
  beforeAll(async () => {
    nats = await startNats();
    store = await connectStore({ natsUrl: nats.url, name: 'lifecycle-kill-test' });
    children.push(await startChild(nats.url, env));
    children.push(await startChild(nats.url, env));
  });
  afterAll(async () => {
    await store?.close();
    for (const c of children) await c.kill('SIGKILL');
    await nats?.stop();
  });

  test('leaves no half-made stream: the other runtime takes the lease and finishes it', async () => {
    const leases = await store.js.views.kv(LEASES_BUCKET);
    const holderPid = async () => {
      const e = await leases.get('lifecycle');
      return e && e.operation === 'PUT' && e.length > 0 ? Number(/-(\d+)-[0-9a-f]+$/.exec(e.json<{ holder: string }>().holder)?.[1]) : undefined;
    };
    const first = await until(holderPid, 20_000, 'a lifecycle lease holder');
    const holder = children.find((c) => c.proc.pid === first)!;
    const other = children.find((c) => c !== holder)!;
    expect(holder).toBeDefined();
    const client = sdkClient(other.endpoint, { http1: true });
    try {
      await client.send(new CreateStreamCommand({ StreamName: 'halfway', ShardCount: 300 }));
      const rec = (await readStream(store.streams, 'halfway'))!.record;
      // Kill the maker once it is well under way, not done.
      const made = await until(async () => {
        const n = (await shardStreams(store, rec.uid)).size;
        return n >= 60 ? n : undefined;
      }, 30_000, 'creation under way');
      expect(made).toBeLessThan(300);
      await holder.kill('SIGKILL');
      expect(await status(client, 'halfway')).toBe('CREATING');
      await until(async () => (await status(client, 'halfway')) === 'ACTIVE', 90_000, 'ACTIVE after takeover');
      expect(await holderPid()).toBe(other.proc.pid);
      expect(await shardStreams(store, rec.uid)).toEqual(expectedNames(rec.uid, 300));
      const after = (await readStream(store.streams, 'halfway'))!.record;
      expect(after.uid).toBe(rec.uid);
      expect(after.shards).toHaveLength(300);
      expect((await client.send(new PutRecordCommand({ StreamName: 'halfway', PartitionKey: 'p', Data: Buffer.from('y') }))).ShardId).toMatch(/^shardId-/);
    } finally {
      client.destroy();
    }
  }, 150_000);
});

describe('descriptor pressure', () => {
  let nats: NatsServers;
  let rt: Awaited<ReturnType<typeof startInProcess>>;
  let client: KinesisClient;
  let store: Store;
  beforeAll(async () => {
    // Enough descriptors to start and hold the metadata buckets and a few connections, not 150 new streams.
    nats = await startNats({ nofile: 160 });
    rt = await startInProcess(nats.url, { shardLimit: 1_000, inlineShards: 16 });
    client = sdkClient(rt.endpoint, { http1: true });
    store = await connectStore({ natsUrl: nats.url, name: 'lifecycle-fd-test' });
  });
  afterAll(async () => {
    client?.destroy();
    await store?.close();
    await rt?.close();
    await nats?.stop();
  });

  test('JetStream out of files: the stream stays CREATING and is retried, calls never answer 500; ACTIVE once nats-server has descriptors again', async () => {
    const statuses: number[] = [];
    const call = async <T>(f: () => Promise<T>) => {
      try {
        const v = await f();
        statuses.push(200);
        return v;
      } catch (e) {
        statuses.push((e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode ?? -1);
        return e as Error;
      }
    };
    await call(() => client.send(new CreateStreamCommand({ StreamName: 'fd', ShardCount: 150 })));
    await until(async () => rt.ctx.lifecycle!.stats.refusals > 0, 60_000, 'a storage refusal');
    expect(await status(client, 'fd')).toBe('CREATING');
    // Small streams made within the call meet the same refusal: the call still answers (CREATING, retried) or says LimitExceeded.
    const small = await call(() => client.send(new CreateStreamCommand({ StreamName: 'fd-small', ShardCount: 8 })));
    if (small instanceof Error) expect(small.name).toBe('LimitExceededException');
    for (let i = 0; i < 5; i++) await call(() => client.send(new DescribeStreamSummaryCommand({ StreamName: 'fd' })));
    expect(await status(client, 'fd')).toBe('CREATING');
    const refusalsBefore = rt.ctx.lifecycle!.stats.refusals;

    // The limit is proven: nats-server refused under it (its own hard limit, as prlimit reports).
    expect(execFileSync('prlimit', ['--pid', String(nats.nodes[0]!.proc!.pid), '--nofile', '--output=HARD', '--noheadings']).toString().trim()).toBe('160');
    // As an operator would: nats-server restarted with the inherited (larger) limit. The runtime reconnects and the retries succeed.
    nats.nodes[0]!.nofile = undefined;
    await nats.kill(0);
    await nats.restart(0);
    await until(async () => (await status(client, 'fd')) === 'ACTIVE', 90_000, 'ACTIVE after the limit was raised');
    await until(async () => (await status(client, 'fd-small')) === 'ACTIVE', 30_000, 'fd-small ACTIVE');
    const rec = (await readStream(store.streams, 'fd'))!.record;
    expect(await shardStreams(store, rec.uid)).toEqual(expectedNames(rec.uid, 150));
    expect(refusalsBefore).toBeGreaterThan(0);
    expect(statuses.filter((s) => s >= 500)).toEqual([]);
  }, 200_000);
});
