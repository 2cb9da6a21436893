// Retention with a scaled-down "hour": SHARDLINE_HOUR_MS=150 makes the 24 h
// minimum 3.6 s (margins of ~1.8 s keep the timing checks steady on a busy machine). The runtime is a child process with that env; this process
// sets it too, so hourMs() here gives the same scale for expected values.
import {
  CreateStreamCommand, DecreaseStreamRetentionPeriodCommand, DescribeStreamSummaryCommand, IncreaseStreamRetentionPeriodCommand,
  InvalidArgumentException, PutRecordCommand, PutRecordsCommand, ValidationException, type KinesisClient,
} from '@aws-sdk/client-kinesis';
import { nanos } from 'nats';
import { startNats, type NatsServers } from '../harness/nats.js';
import { sdkClient, startChild, type ChildRuntime } from '../harness/runtime.js';
import { connectStore, type Store } from '../../stream/connect.js';
import { getStream, hourMs } from '../../stream/streams.js';
import { jsStreamName } from '../../stream/names.js';
import { readShard, sleep, text, until, withoutQuotas } from './records.helpers.js';

const HOUR_MS = 150;
process.env.SHARDLINE_HOUR_MS = String(HOUR_MS);
const SHARD = 'shardId-000000000000';

let nats: NatsServers;
let child: ChildRuntime;
let client: KinesisClient;
let store: Store;

beforeAll(async () => {
  nats = await startNats();
  child = await startChild(nats.url, { SHARDLINE_HOUR_MS: String(HOUR_MS) });
  client = sdkClient(child.endpoint, { http1: true });
  store = await connectStore({ natsUrl: nats.url, name: 'retention-test' });
});
afterAll(async () => {
  client?.destroy();
  await store?.close();
  await child?.kill('SIGTERM');
  await nats?.stop();
});

test('this process uses the same scaled hour', () => {
  expect(hourMs()).toBe(HOUR_MS);
});

/** The JetStream streams behind a Kinesis stream's shards. */
async function shardStreams(name: string) {
  const rec = (await getStream(store, name))!;
  expect(rec).toBeDefined();
  return Promise.all(rec.shards.map((s) => store.jsm.streams.info(jsStreamName(rec.uid, s.index))));
}

async function expectMaxAge(name: string, hours: number) {
  const infos = await shardStreams(name);
  for (const i of infos) expect(i.config.max_age).toBe(nanos(hours * hourMs()));
  return infos;
}

const summary = async (name: string) =>
  (await client.send(new DescribeStreamSummaryCommand({ StreamName: name }))).StreamDescriptionSummary!;

/** Polling reads go past a shard's 5 GetRecords/s: per-shard limits off (quotas.test.ts covers them). */
async function create(StreamName: string, ShardCount: number) {
  await client.send(new CreateStreamCommand({ StreamName, ShardCount }));
  await withoutQuotas(store, StreamName, [client]);
}

const put = (StreamName: string, tag: string, n: number) =>
  client.send(new PutRecordsCommand({ StreamName, Records: Array.from({ length: n }, (_, i) => ({ PartitionKey: 'k', Data: Buffer.from(`${tag}-${i}`) })) }));

test('records older than the retention period are gone; newer ones remain', async () => {
  const s = 'ret-expiry';
  await create(s, 1);
  await expectMaxAge(s, 24);
  const retention = 24 * HOUR_MS;

  const t0 = Date.now();
  await put(s, 'old', 5);
  await client.send(new PutRecordCommand({ StreamName: s, PartitionKey: 'k', Data: Buffer.from('old-single') }));
  await sleep(retention / 2);
  const t1 = Date.now();
  await put(s, 'new', 4);
  // Half the retention period later, the old records are still there.
  const before = (await readShard(client, s, SHARD)).map(text);
  expect(before).toEqual(['old-0', 'old-1', 'old-2', 'old-3', 'old-4', 'old-single', 'new-0', 'new-1', 'new-2', 'new-3']);

  // Once they pass the period they are gone from TRIM_HORIZON reads...
  const after = await until('old records expired', async () => {
    const r = (await readShard(client, s, SHARD)).map(text);
    return r.some((d) => d.startsWith('old')) ? undefined : r;
  }, retention + 3000, 100);
  const readAt = Date.now();
  expect(readAt - t0).toBeGreaterThanOrEqual(retention);
  // ...while the newer ones, still inside the period, remain.
  expect(readAt - t1).toBeLessThan(retention);
  expect(after).toEqual(['new-0', 'new-1', 'new-2', 'new-3']);

  // And JetStream itself dropped the messages (storage, not just a read filter).
  await until('JetStream expired the old messages', async () => {
    const [info] = await shardStreams(s);
    return info!.state.messages === 1; // the one PutRecords message of new-*
  }, retention + 3000, 100);
});

test('IncreaseStreamRetentionPeriod and DecreaseStreamRetentionPeriod are applied to storage and reads', async () => {
  const s = 'ret-change';
  await create(s, 3);
  await expectMaxAge(s, 24);
  await client.send(new IncreaseStreamRetentionPeriodCommand({ StreamName: s, RetentionPeriodHours: 48 }));
  expect((await summary(s)).RetentionPeriodHours).toBe(48);
  await expectMaxAge(s, 48);

  const t0 = Date.now();
  await client.send(new PutRecordCommand({ StreamName: s, PartitionKey: 'k', ExplicitHashKey: '0', Data: Buffer.from('kept') }));
  // Past the old 24 h (3.6 s), inside the new 48 h (7.2 s): still readable and stored.
  await sleep(Math.max(0, t0 + 24 * HOUR_MS + 400 - Date.now()));
  expect((await readShard(client, s, SHARD)).map(text)).toEqual(['kept']);
  expect((await shardStreams(s))[0]!.state.messages).toBe(1);

  // Back to 24 h: the record is now outside the period, gone from reads and storage.
  await client.send(new DecreaseStreamRetentionPeriodCommand({ StreamName: s, RetentionPeriodHours: 24 }));
  expect((await summary(s)).RetentionPeriodHours).toBe(24);
  await expectMaxAge(s, 24);
  expect(await readShard(client, s, SHARD)).toEqual([]);
  await until('JetStream dropped the message', async () => (await shardStreams(s))[0]!.state.messages === 0, 3000, 100);

  // Decrease to a value in between, and the maximum.
  await client.send(new IncreaseStreamRetentionPeriodCommand({ StreamName: s, RetentionPeriodHours: 8760 }));
  await expectMaxAge(s, 8760);
  await client.send(new DecreaseStreamRetentionPeriodCommand({ StreamName: s, RetentionPeriodHours: 30 }));
  await expectMaxAge(s, 30);
  expect((await summary(s)).RetentionPeriodHours).toBe(30);
});

describe('bounds', () => {
  const s = 'ret-bounds';
  beforeAll(async () => {
    await client.send(new CreateStreamCommand({ StreamName: s, ShardCount: 1 }));
  });

  const msg = (hours: number, what: 'too short' | 'too long') =>
    `Minimum allowed retention period is 24 hours. Maximum allowed retention period is 8760 hours.Requested retention period (${hours} hours) is ${what}.`;

  test.each([
    ['Increase', 23, 'too short'],
    ['Increase', 8761, 'too long'],
    ['Decrease', 23, 'too short'],
    ['Decrease', 8761, 'too long'],
  ] as const)('%s to %i hours: InvalidArgumentException (%s)', async (dir, hours, what) => {
    const Cmd = dir === 'Increase' ? IncreaseStreamRetentionPeriodCommand : DecreaseStreamRetentionPeriodCommand;
    const e = await client.send(new Cmd({ StreamName: s, RetentionPeriodHours: hours })).catch((x) => x);
    expect(e).toBeInstanceOf(InvalidArgumentException);
    expect(e.message).toBe(msg(hours, what));
    // Nothing changed, in the record or in storage.
    expect((await summary(s)).RetentionPeriodHours).toBe(24);
    await expectMaxAge(s, 24);
  });

  test('the bounds themselves are accepted: 8760 then 24', async () => {
    await client.send(new IncreaseStreamRetentionPeriodCommand({ StreamName: s, RetentionPeriodHours: 8760 }));
    expect((await summary(s)).RetentionPeriodHours).toBe(8760);
    await expectMaxAge(s, 8760);
    await client.send(new DecreaseStreamRetentionPeriodCommand({ StreamName: s, RetentionPeriodHours: 24 }));
    expect((await summary(s)).RetentionPeriodHours).toBe(24);
    await expectMaxAge(s, 24);
  });

  test('the wrong direction is InvalidArgumentException', async () => {
    await client.send(new IncreaseStreamRetentionPeriodCommand({ StreamName: s, RetentionPeriodHours: 48 }));
    const down = await client.send(new IncreaseStreamRetentionPeriodCommand({ StreamName: s, RetentionPeriodHours: 36 })).catch((x) => x);
    expect(down).toBeInstanceOf(InvalidArgumentException);
    expect(down.message).toBe(`Requested retention period (36 hours) for stream ${s} can not be shorter than existing retention period (48 hours). Use DecreaseRetentionPeriod API.`);
    const up = await client.send(new DecreaseStreamRetentionPeriodCommand({ StreamName: s, RetentionPeriodHours: 72 })).catch((x) => x);
    expect(up).toBeInstanceOf(InvalidArgumentException);
    expect(up.message).toBe(`Requested retention period (72 hours) for stream ${s} can not be longer than existing retention period (48 hours). Use IncreaseRetentionPeriod API.`);
    await expectMaxAge(s, 48);
  });

  test('0 hours fails validation before the bounds check', async () => {
    const e = await client.send(new IncreaseStreamRetentionPeriodCommand({ StreamName: s, RetentionPeriodHours: 0 })).catch((x) => x);
    expect(e).toBeInstanceOf(ValidationException);
    expect(e.message).toBe("1 validation error detected: Value '0' at 'retentionPeriodHours' failed to satisfy constraint: Member must have value greater than or equal to 1");
  });
});
