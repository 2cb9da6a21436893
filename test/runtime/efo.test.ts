// Enhanced fan-out with the real AWS SDK v3 (default handler: h2c) against a
// real nats-server: consumer registration, SubscribeToShard event streams with
// pushed records, heartbeats, expiry, the 5-second rule across processes, and
// ChildShards at the end of a split shard.
import {
  CreateStreamCommand, DeleteStreamCommand, DeregisterStreamConsumerCommand, DescribeStreamConsumerCommand, DescribeStreamSummaryCommand,
  InvalidArgumentException, KinesisClient, LimitExceededException, ListStreamConsumersCommand, PutRecordCommand,
  PutRecordsCommand, RegisterStreamConsumerCommand, ResourceInUseException, ResourceNotFoundException, SplitShardCommand,
  StartStreamEncryptionCommand, SubscribeToShardCommand, type StartingPosition, type SubscribeToShardEvent,
} from '@aws-sdk/client-kinesis';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { Encoder, decode as cborDecode } from 'cbor-x';
import { startNats, type NatsServers } from '../harness/nats.js';
import { sdkClient, startChild, startInProcess, type ChildRuntime } from '../harness/runtime.js';
import type { RunningRuntime } from '../../runtime/server.js';
import { encodeEventMessage, EventStreamDecoder } from '../../runtime/http/eventStream.js';

const SUBSCRIPTION_MS = 12_000;
const TRANSITION_MS = 300;
const KEY_ID = '1234abcd-12ab-34cd-56ef-1234567890ab';

let nats: NatsServers;
let rt: RunningRuntime & { endpoint: string };
let child: ChildRuntime | undefined;
let client: KinesisClient;
let putter: KinesisClient;
const clients: KinesisClient[] = [];
const aborts: AbortController[] = [];

beforeAll(async () => {
  nats = await startNats();
  rt = await startInProcess(nats.url, {
    subscriptionMs: SUBSCRIPTION_MS,
    consumerTransitionMs: TRANSITION_MS,
    kmsKeys: `${KEY_ID}:${randomBytes(32).toString('base64')}`,
  });
  client = sdkClient(rt.endpoint);
  putter = sdkClient(rt.endpoint, { http1: true });
  clients.push(client, putter);
});
afterAll(async () => {
  for (const a of aborts) a.abort();
  for (const c of clients) c.destroy();
  await child?.kill();
  await rt?.close();
  await nats?.stop();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor<T>(fn: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 10_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

const arnRe = (stream: string, consumer: string) =>
  new RegExp(`^arn:aws:kinesis:us-east-1:000000000000:stream/${stream.replace(/\./g, '\\.')}/consumer/${consumer}:\\d{10}$`);

async function createStream(name: string, shards = 1): Promise<string> {
  await client.send(new CreateStreamCommand({ StreamName: name, ShardCount: shards }));
  const d = await client.send(new DescribeStreamSummaryCommand({ StreamName: name }));
  return d.StreamDescriptionSummary!.StreamARN!;
}

async function registerActive(streamArn: string, name: string): Promise<string> {
  const r = await client.send(new RegisterStreamConsumerCommand({ StreamARN: streamArn, ConsumerName: name }));
  const arn = r.Consumer!.ConsumerARN!;
  await waitFor(async () => (await client.send(new DescribeStreamConsumerCommand({ ConsumerARN: arn }))).ConsumerDescription!.ConsumerStatus === 'ACTIVE', 5000, 'ACTIVE');
  return arn;
}

interface Received {
  at: number;
  e: SubscribeToShardEvent;
}

interface Subscription {
  events: Received[];
  error?: unknown;
  ended: boolean;
  endedAt?: number;
  startedAt: number;
  done: Promise<void>;
  abort(): void;
  records(): NonNullable<SubscribeToShardEvent['Records']>;
}

async function subscribe(c: KinesisClient, ConsumerARN: string, ShardId: string, StartingPosition: StartingPosition): Promise<Subscription> {
  const abort = new AbortController();
  aborts.push(abort);
  const startedAt = Date.now();
  const out = await c.send(new SubscribeToShardCommand({ ConsumerARN, ShardId, StartingPosition }), { abortSignal: abort.signal });
  const s: Subscription = {
    events: [],
    ended: false,
    startedAt,
    done: Promise.resolve(),
    abort: () => abort.abort(),
    records: () => s.events.flatMap((x) => x.e.Records ?? []),
  };
  s.done = (async () => {
    try {
      for await (const ev of out.EventStream!) {
        if (ev.SubscribeToShardEvent) s.events.push({ at: Date.now(), e: ev.SubscribeToShardEvent });
      }
    } catch (e) {
      s.error = e;
    } finally {
      s.ended = true;
      s.endedAt = Date.now();
    }
  })();
  return s;
}

const percentile = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
};

describe('event-stream framing', () => {
  test('frames round-trip with prelude and message CRCs; corruption is detected', () => {
    const f = encodeEventMessage({ ':event-type': 'SubscribeToShardEvent', ':message-type': 'event' }, Buffer.from('{"a":1}'));
    expect(f.readUInt32BE(0)).toBe(f.length);
    const d = new EventStreamDecoder();
    // Split mid-message: the decoder keeps the tail.
    expect(d.push(f.subarray(0, 10))).toEqual([]);
    const [m] = d.push(f.subarray(10));
    expect(m!.headers).toEqual({ ':event-type': 'SubscribeToShardEvent', ':message-type': 'event' });
    expect(m!.payload.toString()).toBe('{"a":1}');
    const bad = Buffer.from(f);
    bad[bad.length - 6]! ^= 1;
    expect(() => new EventStreamDecoder().push(bad)).toThrow(/checksum/);
  });
});

describe('stream consumers', () => {
  let streamArn: string;
  const stream = 'efo.consumers';

  beforeAll(async () => {
    streamArn = await createStream(stream);
  });

  test('register: CREATING with an AWS-formed ARN, then ACTIVE; duplicate name is ResourceInUse', async () => {
    const before = Math.floor(Date.now() / 1000);
    const r = await client.send(new RegisterStreamConsumerCommand({ StreamARN: streamArn, ConsumerName: 'app-1', Tags: { team: 'a' } }));
    expect(r.Consumer).toEqual({
      ConsumerName: 'app-1',
      ConsumerARN: expect.stringMatching(arnRe(stream, 'app-1')),
      ConsumerStatus: 'CREATING',
      ConsumerCreationTimestamp: expect.any(Date),
    });
    const secs = Number(r.Consumer!.ConsumerARN!.split(':').pop());
    expect(secs).toBeGreaterThanOrEqual(before);
    expect(r.Consumer!.ConsumerCreationTimestamp!.getTime()).toBe(secs * 1000);
    const dup = client.send(new RegisterStreamConsumerCommand({ StreamARN: streamArn, ConsumerName: 'app-1' }));
    await expect(dup).rejects.toBeInstanceOf(ResourceInUseException);
    await expect(dup).rejects.toThrow(`Consumer app-1 under stream ${stream} already exists for account 000000000000.`);

    // Subscribing while CREATING is refused with AWS's wording.
    await expect(
      client.send(new SubscribeToShardCommand({ ConsumerARN: r.Consumer!.ConsumerARN, ShardId: 'shardId-000000000000', StartingPosition: { Type: 'LATEST' } })),
    ).rejects.toThrow(new RegExp(`^Consumer app-1 with creation timestamp ${secs} under stream ${stream.replace('.', '\\.')} and account 000000000000 is not in ACTIVE status\\.$`));

    await sleep(TRANSITION_MS + 50);
    const d = await client.send(new DescribeStreamConsumerCommand({ ConsumerARN: r.Consumer!.ConsumerARN }));
    expect(d.ConsumerDescription).toEqual({
      ConsumerName: 'app-1',
      ConsumerARN: r.Consumer!.ConsumerARN,
      ConsumerStatus: 'ACTIVE',
      ConsumerCreationTimestamp: r.Consumer!.ConsumerCreationTimestamp,
      StreamARN: streamArn,
    });
    const byName = await client.send(new DescribeStreamConsumerCommand({ StreamARN: streamArn, ConsumerName: 'app-1' }));
    expect(byName.ConsumerDescription).toEqual(d.ConsumerDescription);
  });

  test('describe / deregister errors: neither reference, unknown consumer, unknown stream, wrong creation time', async () => {
    await expect(client.send(new DescribeStreamConsumerCommand({}))).rejects.toThrow(
      'ConsumerARN or both ConsumerName and StreamARN are required for this request.',
    );
    await expect(client.send(new DescribeStreamConsumerCommand({ StreamARN: streamArn }))).rejects.toBeInstanceOf(InvalidArgumentException);
    await expect(client.send(new DescribeStreamConsumerCommand({ StreamARN: streamArn, ConsumerName: 'nope' }))).rejects.toThrow(
      `Consumer nope under stream ${stream} and account 000000000000 not found.`,
    );
    await expect(
      client.send(new DescribeStreamConsumerCommand({ StreamARN: 'arn:aws:kinesis:us-east-1:000000000000:stream/missing', ConsumerName: 'x' })),
    ).rejects.toThrow('Stream missing under account 000000000000 not found.');
    const arn = (await client.send(new DescribeStreamConsumerCommand({ StreamARN: streamArn, ConsumerName: 'app-1' }))).ConsumerDescription!.ConsumerARN!;
    const wrongTime = arn.replace(/:(\d+)$/, (_m, s) => `:${Number(s) - 1}`);
    await expect(client.send(new DescribeStreamConsumerCommand({ ConsumerARN: wrongTime }))).rejects.toBeInstanceOf(ResourceNotFoundException);
    await expect(client.send(new DeregisterStreamConsumerCommand({ ConsumerARN: wrongTime }))).rejects.toBeInstanceOf(ResourceNotFoundException);
    await expect(
      client.send(new RegisterStreamConsumerCommand({ StreamARN: 'arn:aws:kinesis:us-east-1:000000000000:stream/missing', ConsumerName: 'x' })),
    ).rejects.toBeInstanceOf(ResourceNotFoundException);
    await expect(client.send(new ListStreamConsumersCommand({ StreamARN: 'arn:aws:kinesis:us-east-1:000000000000:stream/missing' }))).rejects.toBeInstanceOf(
      ResourceNotFoundException,
    );
  });

  test('list with paging; DescribeStreamSummary counts consumers; the 21st is LimitExceeded', async () => {
    for (let i = 2; i <= 20; i++) await client.send(new RegisterStreamConsumerCommand({ StreamARN: streamArn, ConsumerName: `app-${i}` }));
    const over = client.send(new RegisterStreamConsumerCommand({ StreamARN: streamArn, ConsumerName: 'app-21' }));
    await expect(over).rejects.toBeInstanceOf(LimitExceededException);
    const sum = await client.send(new DescribeStreamSummaryCommand({ StreamName: stream }));
    expect(sum.StreamDescriptionSummary!.ConsumerCount).toBe(20);

    const names: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const page = await client.send(new ListStreamConsumersCommand({ StreamARN: streamArn, MaxResults: 7, NextToken: token }));
      pages++;
      for (const c of page.Consumers!) {
        expect(c).toEqual({
          ConsumerName: expect.any(String),
          ConsumerARN: expect.stringMatching(arnRe(stream, c.ConsumerName!)),
          ConsumerStatus: expect.stringMatching(/^(CREATING|ACTIVE)$/),
          ConsumerCreationTimestamp: expect.any(Date),
        });
        names.push(c.ConsumerName!);
      }
      token = page.NextToken;
    } while (token);
    expect(pages).toBe(3);
    expect(new Set(names)).toEqual(new Set(Array.from({ length: 20 }, (_, i) => `app-${i + 1}`)));
    const created = (await client.send(new DescribeStreamSummaryCommand({ StreamName: stream }))).StreamDescriptionSummary!.StreamCreationTimestamp!;
    const withTs = await client.send(new ListStreamConsumersCommand({ StreamARN: streamArn, StreamCreationTimestamp: created }));
    expect(withTs.Consumers).toHaveLength(20);
    await expect(
      client.send(new ListStreamConsumersCommand({ StreamARN: streamArn, StreamCreationTimestamp: new Date(created.getTime() - 60_000) })),
    ).rejects.toBeInstanceOf(ResourceNotFoundException);
  });

  test('deregister: DELETING, then gone; the slot frees up', async () => {
    await sleep(TRANSITION_MS + 50);
    const arn = (await client.send(new DescribeStreamConsumerCommand({ StreamARN: streamArn, ConsumerName: 'app-2' }))).ConsumerDescription!.ConsumerARN!;
    await client.send(new DeregisterStreamConsumerCommand({ ConsumerARN: arn }));
    const d = await client.send(new DescribeStreamConsumerCommand({ ConsumerARN: arn }));
    expect(d.ConsumerDescription!.ConsumerStatus).toBe('DELETING');
    // Deregistering again while DELETING: not ACTIVE.
    await expect(client.send(new DeregisterStreamConsumerCommand({ ConsumerARN: arn }))).rejects.toBeInstanceOf(ResourceInUseException);
    // By stream ARN and name too.
    await client.send(new DeregisterStreamConsumerCommand({ StreamARN: streamArn, ConsumerName: 'app-3' }));
    await sleep(TRANSITION_MS + 50);
    await expect(client.send(new DescribeStreamConsumerCommand({ ConsumerARN: arn }))).rejects.toBeInstanceOf(ResourceNotFoundException);
    const sum = await client.send(new DescribeStreamSummaryCommand({ StreamName: stream }));
    expect(sum.StreamDescriptionSummary!.ConsumerCount).toBe(18);
    const again = await client.send(new RegisterStreamConsumerCommand({ StreamARN: streamArn, ConsumerName: 'app-2' }));
    expect(again.Consumer!.ConsumerStatus).toBe('CREATING');
  });
});

describe('SubscribeToShard', () => {
  const stream = 'efo-sub';
  let streamArn: string;

  beforeAll(async () => {
    streamArn = await createStream(stream, 2);
  });

  test('errors before the stream starts: unknown shard, unknown consumer, missing SequenceNumber', async () => {
    const arn = await registerActive(streamArn, 'errs');
    await expect(
      client.send(new SubscribeToShardCommand({ ConsumerARN: arn, ShardId: 'shardId-000000000009', StartingPosition: { Type: 'LATEST' } })),
    ).rejects.toThrow(`Shard shardId-000000000009 in stream ${stream} under account 000000000000 does not exist`);
    await expect(
      client.send(
        new SubscribeToShardCommand({ ConsumerARN: `${streamArn}/consumer/ghost:1700000000`, ShardId: 'shardId-000000000000', StartingPosition: { Type: 'LATEST' } }),
      ),
    ).rejects.toBeInstanceOf(ResourceNotFoundException);
    await expect(
      client.send(new SubscribeToShardCommand({ ConsumerARN: arn, ShardId: 'shardId-000000000001', StartingPosition: { Type: 'AT_SEQUENCE_NUMBER' } })),
    ).rejects.toBeInstanceOf(InvalidArgumentException);
  });

  test('records are pushed as they are put: latency, order, ContinuationSequenceNumber', async () => {
    const arn = await registerActive(streamArn, 'latency');
    // Every record to shard 0: its hash range starts at 0.
    const ehk = '0';
    const sub = await subscribe(client, arn, 'shardId-000000000000', { Type: 'LATEST' });
    const N = 200;
    const sentAt: number[] = [];
    const seqs: string[] = [];
    // A steady 100 records/s, one PutRecord each.
    const t0 = Date.now();
    for (let i = 0; i < N; i++) {
      const due = t0 + i * 10;
      if (due > Date.now()) await sleep(due - Date.now());
      sentAt[i] = Date.now();
      const r = await putter.send(new PutRecordCommand({ StreamName: stream, PartitionKey: `p${i}`, ExplicitHashKey: ehk, Data: Buffer.from(`rec-${i}`) }));
      seqs[i] = r.SequenceNumber!;
    }
    await waitFor(() => sub.records().length >= N, 10_000, 'all records pushed');
    const lat: number[] = [];
    // The push alone: stored (ApproximateArrivalTimestamp) → event received.
    const push: number[] = [];
    for (const { at, e } of sub.events) {
      for (const r of e.Records ?? []) {
        const i = Number(Buffer.from(r.Data!).toString().slice(4));
        lat[i] = at - sentAt[i]!;
        push[i] = at - r.ApproximateArrivalTimestamp!.getTime();
      }
    }
    const got = sub.records();
    expect(got.map((r) => Buffer.from(r.Data!).toString())).toEqual(Array.from({ length: N }, (_, i) => `rec-${i}`));
    expect(got.map((r) => r.SequenceNumber)).toEqual(seqs);
    expect(got.every((r) => r.ApproximateArrivalTimestamp instanceof Date && r.PartitionKey!.startsWith('p'))).toBe(true);
    for (const { e } of sub.events) {
      const rs = e.Records ?? [];
      if (rs.length > 0) expect(e.ContinuationSequenceNumber).toBe(rs[rs.length - 1]!.SequenceNumber);
      expect(e.MillisBehindLatest).toBeGreaterThanOrEqual(0);
      expect(e.ChildShards).toBeUndefined();
    }
    const p50 = percentile(lat, 50);
    const p99 = percentile(lat, 99);
    process.stdout.write(
      `[efo] push latency over ${N} records at 100/s (PutRecord sent → event received): p50 ${p50} ms, p99 ${p99} ms, max ${Math.max(...lat)} ms; ` +
        `stored → received: p50 ${percentile(push, 50)} ms, p99 ${percentile(push, 99)} ms; ${sub.events.length} events\n`,
    );
    expect(lat.filter((x) => x === undefined)).toHaveLength(0);
    expect(p99).toBeLessThan(200);
    expect(Math.max(...lat)).toBeLessThan(500);
    expect(sub.error).toBeUndefined();
    sub.abort();
    await sub.done;

    // Resuming from a ContinuationSequenceNumber (another consumer: the 5 s rule is per consumer) continues exactly after it.
    const mid = sub.events.find((x) => (x.e.Records ?? []).length > 0 && Number(Buffer.from(x.e.Records!.at(-1)!.Data!).toString().slice(4)) >= 100)!.e;
    const midIndex = Number(Buffer.from(mid.Records!.at(-1)!.Data!).toString().slice(4));
    const arn2 = await registerActive(streamArn, 'resume');
    const after = await subscribe(client, arn2, 'shardId-000000000000', { Type: 'AFTER_SEQUENCE_NUMBER', SequenceNumber: mid.ContinuationSequenceNumber });
    await waitFor(() => after.records().length >= N - midIndex - 1, 5000, 'resumed records');
    expect(after.records().map((r) => Buffer.from(r.Data!).toString())).toEqual(
      Array.from({ length: N - midIndex - 1 }, (_, i) => `rec-${midIndex + 1 + i}`),
    );
    after.abort();
    await after.done;
  }, 60_000);

  test('starting positions: TRIM_HORIZON, AT_SEQUENCE_NUMBER, AT_TIMESTAMP; a backlog arrives in order', async () => {
    const s = 'efo-positions';
    const sArn = await createStream(s, 1);
    const put = await putter.send(
      new PutRecordsCommand({ StreamName: s, Records: Array.from({ length: 300 }, (_, i) => ({ PartitionKey: `k${i}`, Data: Buffer.from(`b-${i}`) })) }),
    );
    await sleep(20);
    const tsMid = new Date();
    await sleep(20);
    const put2 = await putter.send(new PutRecordCommand({ StreamName: s, PartitionKey: 'late', Data: Buffer.from('late') }));
    const consumers = await Promise.all(['th', 'at', 'ts'].map((n) => registerActive(sArn, n)));

    const th = await subscribe(client, consumers[0]!, 'shardId-000000000000', { Type: 'TRIM_HORIZON' });
    await waitFor(() => th.records().length >= 301, 5000, 'trim horizon backlog');
    expect(th.records().map((r) => Buffer.from(r.Data!).toString())).toEqual([...Array.from({ length: 300 }, (_, i) => `b-${i}`), 'late']);
    expect(th.events.at(-1)!.e.MillisBehindLatest).toBe(0);

    const at = await subscribe(client, consumers[1]!, 'shardId-000000000000', { Type: 'AT_SEQUENCE_NUMBER', SequenceNumber: put.Records![150]!.SequenceNumber });
    await waitFor(() => at.records().length >= 151, 5000, 'at sequence');
    expect(Buffer.from(at.records()[0]!.Data!).toString()).toBe('b-150');

    const ts = await subscribe(client, consumers[2]!, 'shardId-000000000000', { Type: 'AT_TIMESTAMP', Timestamp: tsMid });
    await waitFor(() => ts.records().length >= 1, 5000, 'at timestamp');
    expect(ts.records().map((r) => r.SequenceNumber)).toEqual([put2.SequenceNumber]);
    for (const x of [th, at, ts]) {
      x.abort();
      await x.done;
    }
  });

  test('idle: an event at least every 5 s; the subscription ends after the configured duration', async () => {
    const arn = await registerActive(streamArn, 'idle');
    const sub = await subscribe(client, arn, 'shardId-000000000001', { Type: 'LATEST' });
    await sub.done;
    expect(sub.error).toBeUndefined();
    const times = [sub.startedAt, ...sub.events.map((x) => x.at), sub.endedAt!];
    const gaps = times.slice(1).map((t, i) => t - times[i]!);
    process.stdout.write(`[efo] idle subscription: ${sub.events.length} heartbeat events, gaps ${gaps.join(', ')} ms\n`);
    expect(sub.events.length).toBeGreaterThanOrEqual(2);
    for (const g of gaps) expect(g).toBeLessThanOrEqual(5_200);
    for (const { e } of sub.events) {
      expect(e.Records).toEqual([]);
      expect(e.ContinuationSequenceNumber).toMatch(/^\d+$/);
      expect(e.MillisBehindLatest).toBe(0);
    }
    const lasted = sub.endedAt! - sub.startedAt;
    expect(lasted).toBeGreaterThanOrEqual(SUBSCRIPTION_MS - 100);
    expect(lasted).toBeLessThan(SUBSCRIPTION_MS + 2_000);
  }, 30_000);

  test('a second subscription within 5 s is ResourceInUse (also from another runtime process); after 5 s it takes over', async () => {
    const arn = await registerActive(streamArn, 'exclusive');
    const first = await subscribe(client, arn, 'shardId-000000000000', { Type: 'LATEST' });
    const second = client.send(new SubscribeToShardCommand({ ConsumerARN: arn, ShardId: 'shardId-000000000000', StartingPosition: { Type: 'LATEST' } }));
    await expect(second).rejects.toBeInstanceOf(ResourceInUseException);
    await expect(second).rejects.toThrow(`Another active subscription exists for this consumer: 000000000000:${stream}:shardId-000000000000:exclusive`);
    // The other shard is independent.
    const otherShard = await subscribe(client, arn, 'shardId-000000000001', { Type: 'LATEST' });

    child = await startChild(nats.url, { SHARDLINE_SUBSCRIPTION_MS: String(SUBSCRIPTION_MS), SHARDLINE_CONSUMER_TRANSITION_MS: String(TRANSITION_MS) });
    const remote = sdkClient(child.endpoint);
    clients.push(remote);
    await expect(
      remote.send(new SubscribeToShardCommand({ ConsumerARN: arn, ShardId: 'shardId-000000000000', StartingPosition: { Type: 'LATEST' } })),
    ).rejects.toBeInstanceOf(ResourceInUseException);

    // Five seconds after the first: the other process's subscription takes over; the first ends with ResourceInUse.
    await sleep(Math.max(0, first.startedAt + 5_300 - Date.now()));
    const takeover = await subscribe(remote, arn, 'shardId-000000000000', { Type: 'LATEST' });
    await waitFor(() => first.ended, 3000, 'first subscription to end');
    expect(first.error).toBeInstanceOf(ResourceInUseException);
    await putter.send(new PutRecordCommand({ StreamName: stream, PartitionKey: 'x', ExplicitHashKey: '0', Data: Buffer.from('to-new') }));
    await waitFor(() => takeover.records().length >= 1, 5000, 'record on the new subscription');
    expect(Buffer.from(takeover.records()[0]!.Data!).toString()).toBe('to-new');
    expect(takeover.error).toBeUndefined();
    for (const x of [takeover, otherShard]) {
      x.abort();
      await x.done;
    }
  }, 40_000);

  test('deregistering the consumer ends its subscriptions', async () => {
    const arn = await registerActive(streamArn, 'leaving');
    const sub = await subscribe(client, arn, 'shardId-000000000001', { Type: 'LATEST' });
    await client.send(new DeregisterStreamConsumerCommand({ ConsumerARN: arn }));
    await waitFor(() => sub.ended, 3000, 'subscription to end');
  });
});

describe('SubscribeToShard and resharding', () => {
  test('after SplitShard the parent delivers its last records, then ChildShards, then ends', async () => {
    const s = 'efo-split';
    const sArn = await createStream(s, 1);
    const arn = await registerActive(sArn, 'splitter');
    const sub = await subscribe(client, arn, 'shardId-000000000000', { Type: 'TRIM_HORIZON' });
    await putter.send(new PutRecordsCommand({ StreamName: s, Records: Array.from({ length: 10 }, (_, i) => ({ PartitionKey: `k${i}`, Data: Buffer.from(`s-${i}`) })) }));
    await waitFor(() => sub.records().length >= 10, 5000, 'records before the split');
    await client.send(new SplitShardCommand({ StreamName: s, ShardToSplit: 'shardId-000000000000', NewStartingHashKey: (1n << 127n).toString() }));
    await waitFor(() => sub.ended, 5000, 'parent subscription to end');
    expect(sub.error).toBeUndefined();
    const last = sub.events.at(-1)!.e;
    expect(last.ContinuationSequenceNumber).toBeUndefined();
    expect(last.ChildShards).toEqual([
      {
        ShardId: 'shardId-000000000001',
        ParentShards: ['shardId-000000000000'],
        HashKeyRange: { StartingHashKey: '0', EndingHashKey: ((1n << 127n) - 1n).toString() },
      },
      {
        ShardId: 'shardId-000000000002',
        ParentShards: ['shardId-000000000000'],
        HashKeyRange: { StartingHashKey: (1n << 127n).toString(), EndingHashKey: ((1n << 128n) - 1n).toString() },
      },
    ]);
    expect(sub.records().map((r) => Buffer.from(r.Data!).toString())).toEqual(Array.from({ length: 10 }, (_, i) => `s-${i}`));
    for (const { e } of sub.events.slice(0, -1)) expect(e.ChildShards).toBeUndefined();

    // Subscribing to the closed parent again (5 s later: another consumer) gets its records and ChildShards, then the end.
    const arn2 = await registerActive(sArn, 'late-reader');
    const again = await subscribe(client, arn2, 'shardId-000000000000', { Type: 'TRIM_HORIZON' });
    await again.done;
    expect(again.records()).toHaveLength(10);
    expect(again.events.at(-1)!.e.ChildShards).toHaveLength(2);
    // LATEST on a closed shard: just the end.
    const arn3 = await registerActive(sArn, 'latest-reader');
    const latest = await subscribe(client, arn3, 'shardId-000000000000', { Type: 'LATEST' });
    await latest.done;
    expect(latest.records()).toHaveLength(0);
    expect(latest.events.at(-1)!.e.ChildShards).toHaveLength(2);
  });
});

describe('DeleteStream with consumers', () => {
  test('refused without EnforceConsumerDeletion; with it, the stream goes and its subscriptions end', async () => {
    const s = 'efo-delete';
    const sArn = await createStream(s, 1);
    const arn = await registerActive(sArn, 'doomed');
    const sub = await subscribe(client, arn, 'shardId-000000000000', { Type: 'LATEST' });
    await expect(client.send(new DeleteStreamCommand({ StreamName: s }))).rejects.toBeInstanceOf(ResourceInUseException);
    await expect(client.send(new DeleteStreamCommand({ StreamName: s, EnforceConsumerDeletion: false }))).rejects.toBeInstanceOf(ResourceInUseException);
    await client.send(new DeleteStreamCommand({ StreamName: s, EnforceConsumerDeletion: true }));
    await waitFor(() => sub.ended, 15_000, 'subscription to end'); // ends promptly when idle; 5 s flaked with eight suites on two cores
    expect(sub.error).toBeInstanceOf(ResourceNotFoundException);
    await expect(client.send(new DescribeStreamConsumerCommand({ ConsumerARN: arn }))).rejects.toBeInstanceOf(ResourceNotFoundException);
  });
});

describe('SubscribeToShard on an encrypted stream', () => {
  test('records arrive decrypted, marked EncryptionType KMS', async () => {
    const s = 'efo-kms';
    const sArn = await createStream(s, 1);
    await putter.send(new PutRecordCommand({ StreamName: s, PartitionKey: 'a', Data: Buffer.from('plain-before') }));
    await client.send(new StartStreamEncryptionCommand({ StreamName: s, EncryptionType: 'KMS', KeyId: KEY_ID }));
    await putter.send(new PutRecordCommand({ StreamName: s, PartitionKey: 'a', Data: Buffer.from('sealed-after') }));
    const arn = await registerActive(sArn, 'kms');
    const sub = await subscribe(client, arn, 'shardId-000000000000', { Type: 'TRIM_HORIZON' });
    await waitFor(() => sub.records().length >= 2, 5000, 'both records');
    expect(sub.records().map((r) => [Buffer.from(r.Data!).toString(), r.EncryptionType])).toEqual([
      ['plain-before', undefined],
      ['sealed-after', 'KMS'],
    ]);
    sub.abort();
    await sub.done;
  });
});

describe('SubscribeToShard over CBOR', () => {
  test('a CBOR request gets CBOR event payloads: byte-string Data, tag 1 millisecond timestamps', async () => {
    const s = 'efo-cbor';
    const sArn = await createStream(s, 1);
    const arn = await registerActive(sArn, 'cbor');
    const data = Buffer.from([0, 1, 2, 250, 255]);
    await putter.send(new PutRecordCommand({ StreamName: s, PartitionKey: 'a', Data: data }));
    const body = Buffer.from(
      new Encoder({ useRecords: false, tagUint8Array: false }).encode({ ConsumerARN: arn, ShardId: 'shardId-000000000000', StartingPosition: { Type: 'TRIM_HORIZON' } }),
    );
    const messages: { headers: Record<string, unknown>; payload: Buffer }[] = [];
    let contentType: string | undefined;
    await new Promise<void>((resolve, reject) => {
      const req = http.request(`${rt.endpoint}/`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-amz-cbor-1.1', 'x-amz-target': 'Kinesis_20131202.SubscribeToShard', 'content-length': body.length },
      }, (res) => {
        contentType = res.headers['content-type'];
        const dec = new EventStreamDecoder();
        res.on('data', (c: Buffer) => {
          messages.push(...dec.push(c));
          if (messages.length >= 2) {
            req.destroy();
            resolve();
          }
        });
        res.on('end', () => resolve());
      });
      req.on('error', (e) => (messages.length >= 2 ? resolve() : reject(e)));
      req.end(body);
    });
    expect(contentType).toBe('application/vnd.amazon.eventstream');
    expect(messages[0]!.headers).toEqual({ ':event-type': 'initial-response', ':content-type': 'application/x-amz-cbor-1.1', ':message-type': 'event' });
    expect(messages[1]!.headers[':event-type']).toBe('SubscribeToShardEvent');
    const ev = cborDecode(messages[1]!.payload) as { Records: { Data: Uint8Array; ApproximateArrivalTimestamp: Date; PartitionKey: string }[] };
    expect(Buffer.from(ev.Records[0]!.Data)).toEqual(data);
    expect(ev.Records[0]!.PartitionKey).toBe('a');
    // cbor-x reads tag 1 as seconds: a millisecond value comes out 1000 times too far in the future.
    expect(Math.abs(ev.Records[0]!.ApproximateArrivalTimestamp.getTime() / 1000 - Date.now())).toBeLessThan(60_000);
  });
});

describe('SubscribeToShard over HTTP/1.1', () => {
  test('NodeHttpHandler receives the event stream chunked', async () => {
    const h1 = sdkClient(rt.endpoint, { http1: true });
    clients.push(h1);
    const s = 'efo-h1';
    const sArn = await createStream(s, 1);
    const arn = await registerActive(sArn, 'h1');
    const sub = await subscribe(h1, arn, 'shardId-000000000000', { Type: 'LATEST' });
    await putter.send(new PutRecordCommand({ StreamName: s, PartitionKey: 'a', Data: Buffer.from('over-h1') }));
    await waitFor(() => sub.records().length >= 1, 5000, 'record over HTTP/1.1');
    expect(Buffer.from(sub.records()[0]!.Data!).toString()).toBe('over-h1');
    const js = `KDS_${rt.ctx.cache.get(s)!.record.uid}_0`;
    expect((await rt.ctx.store.jsm.streams.info(js)).state.consumer_count).toBe(1);
    sub.abort();
    await sub.done;
    // The client going away ends the subscription on the server: its JetStream consumer is removed.
    await waitFor(async () => (await rt.ctx.store.jsm.streams.info(js)).state.consumer_count === 0, 5000, 'consumer removed');
  });
});
