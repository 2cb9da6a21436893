// Stream and account settings through the real SDK against a real nats-server:
// enhanced monitoring, resource policies (stored, Deny enforced per access key),
// UpdateMaxRecordSize with a 5 MiB round trip, account settings.
import {
  AccessDeniedException, CreateStreamCommand, DeleteResourcePolicyCommand, DescribeAccountSettingsCommand,
  DescribeStreamCommand, DescribeStreamSummaryCommand, DisableEnhancedMonitoringCommand, EnableEnhancedMonitoringCommand,
  GetRecordsCommand, GetResourcePolicyCommand, GetShardIteratorCommand, InvalidArgumentException, KinesisClient,
  ListShardsCommand, PutRecordCommand, PutRecordsCommand, PutResourcePolicyCommand, ResourceNotFoundException,
  UpdateAccountSettingsCommand, UpdateMaxRecordSizeCommand, ValidationException, type MetricsName,
} from '@aws-sdk/client-kinesis';
import { startNats, type NatsServers } from '../harness/nats.js';
import { startInProcess } from '../harness/runtime.js';
import type { RunningRuntime } from '../../runtime/server.js';
import { getStream, updateStream } from '../../stream/streams.js';
import { enabledShardMetrics, SHARD_LEVEL_METRICS } from '../../stream/enhancedMonitoring.js';
import { commitmentAt, MIN_COMMITMENT_MS, nextCommitment } from '../../runtime/api/ops/settings.js';

const ACCOUNT = '000000000000';
const ALICE = { accessKeyId: 'AKIDALICE', secretAccessKey: 'alice-secret' };
const MALLORY = { accessKeyId: 'AKIDMALLORY', secretAccessKey: 'mallory-secret' };
const arn = (stream: string) => `arn:aws:kinesis:us-east-1:${ACCOUNT}:stream/${stream}`;
const user = (akid: string) => `arn:aws:iam::${ACCOUNT}:user/${akid}`;

type Rt = RunningRuntime & { endpoint: string };
let nats: NatsServers;
let rt: Rt;
let rt2: Rt;
let alice: KinesisClient;
let mallory: KinesisClient;
let alice2: KinesisClient;

const client = (endpoint: string, credentials: { accessKeyId: string; secretAccessKey: string }) =>
  new KinesisClient({ endpoint, region: 'us-east-1', credentials, maxAttempts: 1 });

beforeAll(async () => {
  nats = await startNats();
  const credentials = [ALICE, MALLORY].map((c) => `${c.accessKeyId}:${c.secretAccessKey}`).join(',');
  rt = await startInProcess(nats.url, { credentials });
  rt2 = await startInProcess(nats.url, { credentials });
  alice = client(rt.endpoint, ALICE);
  mallory = client(rt.endpoint, MALLORY);
  alice2 = client(rt2.endpoint, ALICE);
});
afterAll(async () => {
  for (const c of [alice, mallory, alice2]) c?.destroy();
  await rt?.close();
  await rt2?.close();
  await nats?.stop();
});

describe('enhanced monitoring', () => {
  const stream = 'mon';
  beforeAll(() => alice.send(new CreateStreamCommand({ StreamName: stream, ShardCount: 1 })));

  test('enable, ALL, disable: current and desired metrics, DescribeStream and the summary agree', async () => {
    const e1 = await alice.send(new EnableEnhancedMonitoringCommand({ StreamName: stream, ShardLevelMetrics: ['OutgoingRecords', 'IncomingBytes'] }));
    expect(e1).toMatchObject({
      StreamName: stream,
      StreamARN: arn(stream),
      CurrentShardLevelMetrics: [],
      DesiredShardLevelMetrics: ['IncomingBytes', 'OutgoingRecords'],
    });
    const e2 = await alice2.send(new EnableEnhancedMonitoringCommand({ StreamARN: arn(stream), ShardLevelMetrics: ['ALL'] }));
    expect(e2.CurrentShardLevelMetrics).toEqual(['IncomingBytes', 'OutgoingRecords']);
    expect(e2.DesiredShardLevelMetrics).toEqual([...SHARD_LEVEL_METRICS]);
    expect(e2.DesiredShardLevelMetrics).toHaveLength(7);
    const d = await alice.send(new DescribeStreamCommand({ StreamName: stream }));
    expect(d.StreamDescription?.EnhancedMonitoring).toEqual([{ ShardLevelMetrics: [...SHARD_LEVEL_METRICS] }]);

    const off = await alice.send(
      new DisableEnhancedMonitoringCommand({ StreamName: stream, ShardLevelMetrics: ['IncomingBytes', 'IteratorAgeMilliseconds'] }),
    );
    const five = SHARD_LEVEL_METRICS.filter((m) => m !== 'IncomingBytes' && m !== 'IteratorAgeMilliseconds');
    expect(off).toMatchObject({ StreamName: stream, StreamARN: arn(stream), CurrentShardLevelMetrics: [...SHARD_LEVEL_METRICS], DesiredShardLevelMetrics: five });
    const s = await alice2.send(new DescribeStreamSummaryCommand({ StreamName: stream }));
    expect(s.StreamDescriptionSummary?.EnhancedMonitoring).toEqual([{ ShardLevelMetrics: five }]);
    // What the metrics exporter reads.
    expect(enabledShardMetrics((await getStream(rt.ctx.store, stream))!)).toEqual(new Set(five));

    const none = await alice.send(new DisableEnhancedMonitoringCommand({ StreamName: stream, ShardLevelMetrics: ['ALL'] }));
    expect(none.DesiredShardLevelMetrics).toEqual([]);
    expect(enabledShardMetrics((await getStream(rt.ctx.store, stream))!).size).toBe(0);
  });

  test('unknown stream → ResourceNotFoundException; unknown metric → ValidationException', async () => {
    await expect(alice.send(new EnableEnhancedMonitoringCommand({ StreamName: 'mon-missing', ShardLevelMetrics: ['ALL'] }))).rejects.toBeInstanceOf(
      ResourceNotFoundException,
    );
    await expect(
      alice.send(new EnableEnhancedMonitoringCommand({ StreamName: stream, ShardLevelMetrics: ['Bogus' as MetricsName] })),
    ).rejects.toBeInstanceOf(ValidationException);
  });
});

describe('resource policies', () => {
  const stream = 'pol';
  const other = 'pol-other';
  const denyMalloryPut = JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      { Sid: 'everyone', Effect: 'Allow', Principal: { AWS: '*' }, Action: 'kinesis:*', Resource: arn(stream) },
      { Sid: 'noMallory', Effect: 'Deny', Principal: { AWS: [user(MALLORY.accessKeyId)] }, Action: ['kinesis:PutRecord', 'kinesis:PutRecords'], Resource: arn(stream) },
    ],
  });

  beforeAll(async () => {
    await alice.send(new CreateStreamCommand({ StreamName: stream, ShardCount: 1 }));
    await alice.send(new CreateStreamCommand({ StreamName: other, ShardCount: 1 }));
  });

  test('no policy: GetResourcePolicy answers an empty document; nobody is denied', async () => {
    await expect(alice.send(new GetResourcePolicyCommand({ ResourceARN: arn(stream) }))).resolves.toMatchObject({ Policy: '{}' });
    await expect(mallory.send(new PutRecordCommand({ StreamName: stream, PartitionKey: 'k', Data: Buffer.from('m0') }))).resolves.toBeDefined();
  });

  test.each([
    ['not JSON', '{"Statement": ['],
    ['not an object', '[]'],
    ['no statements', '{"Version":"2012-10-17","Statement":[]}'],
    ['a bad Effect', '{"Statement":{"Effect":"Maybe","Principal":"*","Action":"kinesis:*"}}'],
    ['no Action', '{"Statement":{"Effect":"Deny","Principal":"*"}}'],
    ['no Principal', '{"Statement":{"Effect":"Deny","Action":"kinesis:*"}}'],
  ])('a policy with %s → InvalidArgumentException', async (_label, Policy) => {
    const e = await alice.send(new PutResourcePolicyCommand({ ResourceARN: arn(stream), Policy })).catch((x) => x);
    expect(e).toBeInstanceOf(InvalidArgumentException);
    expect(e.message).toMatch(/^Invalid policy document: /);
  });

  test('put, get back verbatim from any runtime; a Deny for one access key is enforced, Allow is stored only', async () => {
    await alice.send(new PutResourcePolicyCommand({ ResourceARN: arn(stream), Policy: denyMalloryPut }));
    await expect(alice2.send(new GetResourcePolicyCommand({ ResourceARN: arn(stream) }))).resolves.toMatchObject({ Policy: denyMalloryPut });

    const e = await mallory.send(new PutRecordCommand({ StreamName: stream, PartitionKey: 'k', Data: Buffer.from('m1') })).catch((x) => x);
    expect(e).toBeInstanceOf(AccessDeniedException);
    expect(e.message).toBe(
      `User: ${user(MALLORY.accessKeyId)} is not authorized to perform: kinesis:PutRecord on resource: ${arn(stream)} with an explicit deny in a resource-based policy`,
    );
    await expect(
      mallory.send(new PutRecordsCommand({ StreamARN: arn(stream), Records: [{ PartitionKey: 'k', Data: Buffer.from('m2') }] })),
    ).rejects.toBeInstanceOf(AccessDeniedException);
    // Other actions, other callers and other streams are untouched.
    await expect(mallory.send(new DescribeStreamSummaryCommand({ StreamName: stream }))).resolves.toBeDefined();
    await expect(alice.send(new PutRecordCommand({ StreamName: stream, PartitionKey: 'k', Data: Buffer.from('a1') }))).resolves.toBeDefined();
    await expect(mallory.send(new PutRecordCommand({ StreamName: other, PartitionKey: 'k', Data: Buffer.from('m3') }))).resolves.toBeDefined();
  });

  test('Principal "*" with wildcard actions covers GetRecords (stream named by the iterator) for everyone', async () => {
    const policy = JSON.stringify({
      Statement: [{ Effect: 'Deny', Principal: '*', Action: 'kinesis:Get*', Resource: 'arn:aws:kinesis:*:*:stream/pol' }],
    });
    const it = await alice.send(new GetShardIteratorCommand({ StreamName: stream, ShardId: 'shardId-000000000000', ShardIteratorType: 'TRIM_HORIZON' }));
    await alice.send(new PutResourcePolicyCommand({ ResourceARN: arn(stream), Policy: policy }));
    for (const c of [alice, mallory, alice2]) {
      await expect(c.send(new GetRecordsCommand({ ShardIterator: it.ShardIterator }))).rejects.toBeInstanceOf(AccessDeniedException);
    }
    // kinesis:GetResourcePolicy matches kinesis:Get* too, as IAM would have it.
    await expect(alice.send(new GetResourcePolicyCommand({ ResourceARN: arn(stream) }))).rejects.toBeInstanceOf(AccessDeniedException);
    await expect(alice.send(new ListShardsCommand({ StreamName: stream }))).resolves.toBeDefined();
  });

  test('NotPrincipal: everyone but the named key is denied', async () => {
    const policy = JSON.stringify({
      Statement: [{ Effect: 'Deny', NotPrincipal: { AWS: user(ALICE.accessKeyId) }, Action: 'kinesis:DescribeStreamSummary', Resource: arn(stream) }],
    });
    await alice.send(new PutResourcePolicyCommand({ ResourceARN: arn(stream), Policy: policy }));
    await expect(alice.send(new DescribeStreamSummaryCommand({ StreamName: stream }))).resolves.toBeDefined();
    await expect(mallory.send(new DescribeStreamSummaryCommand({ StreamName: stream }))).rejects.toBeInstanceOf(AccessDeniedException);
    await expect(mallory.send(new DescribeStreamSummaryCommand({ StreamARN: arn(stream) }))).rejects.toBeInstanceOf(AccessDeniedException);
  });

  test('delete: the empty document again, and the denied caller is served', async () => {
    await alice.send(new PutResourcePolicyCommand({ ResourceARN: arn(stream), Policy: denyMalloryPut }));
    await alice.send(new DeleteResourcePolicyCommand({ ResourceARN: arn(stream) }));
    await expect(alice2.send(new GetResourcePolicyCommand({ ResourceARN: arn(stream) }))).resolves.toMatchObject({ Policy: '{}' });
    await expect(mallory.send(new PutRecordCommand({ StreamName: stream, PartitionKey: 'k', Data: Buffer.from('m4') }))).resolves.toBeDefined();
    // Deleting when there is none is not an error.
    await expect(alice.send(new DeleteResourcePolicyCommand({ ResourceARN: arn(stream) }))).resolves.toBeDefined();
  });

  test('consumer ARNs: a registered consumer keeps its own policy; unknown consumers and streams are not found', async () => {
    const createdAtMs = 1_700_000_000_000;
    await updateStream(rt.ctx.store, stream, (r) => ({
      ...r,
      consumers: [{ name: 'app', createdAtMs, status: 'ACTIVE', statusAtMs: createdAtMs }],
    }));
    const consumerArn = `${arn(stream)}/consumer/app:${createdAtMs / 1000}`;
    const policy = JSON.stringify({ Statement: [{ Effect: 'Deny', Principal: { AWS: ACCOUNT }, Action: 'kinesis:SubscribeToShard', Resource: consumerArn }] });
    await alice.send(new PutResourcePolicyCommand({ ResourceARN: consumerArn, Policy: policy }));
    await expect(alice2.send(new GetResourcePolicyCommand({ ResourceARN: consumerArn }))).resolves.toMatchObject({ Policy: policy });
    await expect(alice.send(new GetResourcePolicyCommand({ ResourceARN: arn(stream) }))).resolves.toMatchObject({ Policy: '{}' });
    await expect(alice.send(new GetResourcePolicyCommand({ ResourceARN: `${arn(stream)}/consumer/app:1` }))).rejects.toBeInstanceOf(
      ResourceNotFoundException,
    );
    await expect(alice.send(new GetResourcePolicyCommand({ ResourceARN: arn('pol-missing') }))).rejects.toBeInstanceOf(ResourceNotFoundException);
    await expect(
      alice.send(new PutResourcePolicyCommand({ ResourceARN: arn('pol-missing'), Policy: denyMalloryPut })),
    ).rejects.toBeInstanceOf(ResourceNotFoundException);
    await alice.send(new DeleteResourcePolicyCommand({ ResourceARN: consumerArn }));
    await expect(alice.send(new GetResourcePolicyCommand({ ResourceARN: consumerArn }))).resolves.toMatchObject({ Policy: '{}' });
  });
});

describe('UpdateMaxRecordSize', () => {
  const stream = 'big';
  const MiB = 1024 * 1024;

  beforeAll(() => alice.send(new CreateStreamCommand({ StreamName: stream, ShardCount: 1 })));

  test('the default limit is 1 MiB: one byte more → ValidationException in AWS wording', async () => {
    const e = await alice.send(new PutRecordCommand({ StreamName: stream, PartitionKey: 'k', Data: Buffer.alloc(MiB + 1) })).catch((x) => x);
    expect(e).toBeInstanceOf(ValidationException);
    expect(e.message).toBe(
      `1 validation error detected: Value 'java.nio.HeapByteBuffer[pos=0 lim=${MiB + 1} cap=${MiB + 1}]' at 'data' failed to satisfy constraint: Member must have length less than or equal to ${MiB}`,
    );
  });

  test('raised to 5120 KiB: a 5 MiB record round-trips byte for byte; 5 MiB + 1 is refused', async () => {
    // ON_DEMAND: per-shard write limits (1 MiB/s on a PROVISIONED shard) play no part here.
    const od = 'big-on-demand';
    await alice.send(new CreateStreamCommand({ StreamName: od, StreamModeDetails: { StreamMode: 'ON_DEMAND' } }));
    await alice.send(new UpdateMaxRecordSizeCommand({ StreamARN: arn(od), MaxRecordSizeInKiB: 5120 }));
    const s = await alice2.send(new DescribeStreamSummaryCommand({ StreamName: od }));
    expect(s.StreamDescriptionSummary?.MaxRecordSizeInKiB).toBe(5120);

    const data = Buffer.alloc(5 * MiB);
    for (let i = 0; i < data.length; i += 4) data.writeUInt32BE(i, i);
    const put = await alice2.send(new PutRecordCommand({ StreamName: od, PartitionKey: 'big', Data: data }));
    const it = await alice.send(
      new GetShardIteratorCommand({ StreamName: od, ShardId: put.ShardId!, ShardIteratorType: 'AT_SEQUENCE_NUMBER', StartingSequenceNumber: put.SequenceNumber }),
    );
    const got = await alice.send(new GetRecordsCommand({ ShardIterator: it.ShardIterator }));
    expect(got.Records).toHaveLength(1);
    expect(got.Records![0]!.SequenceNumber).toBe(put.SequenceNumber);
    expect(Buffer.from(got.Records![0]!.Data!).equals(data)).toBe(true);

    const e = await alice.send(new PutRecordCommand({ StreamName: od, PartitionKey: 'k', Data: Buffer.alloc(5 * MiB + 1) })).catch((x) => x);
    expect(e).toBeInstanceOf(ValidationException);
    expect(e.message).toContain(`Member must have length less than or equal to ${5 * MiB}`);
  });

  test('out of range → ValidationException; unknown stream → ResourceNotFoundException; CreateStream takes the size too', async () => {
    await expect(alice.send(new UpdateMaxRecordSizeCommand({ StreamARN: arn(stream), MaxRecordSizeInKiB: 1023 }))).rejects.toBeInstanceOf(
      ValidationException,
    );
    await expect(alice.send(new UpdateMaxRecordSizeCommand({ StreamARN: arn(stream), MaxRecordSizeInKiB: 10241 }))).rejects.toBeInstanceOf(
      ValidationException,
    );
    await expect(alice.send(new UpdateMaxRecordSizeCommand({ StreamARN: arn('big-missing'), MaxRecordSizeInKiB: 2048 }))).rejects.toBeInstanceOf(
      ResourceNotFoundException,
    );
    await alice.send(new CreateStreamCommand({ StreamName: 'big-created', ShardCount: 1, MaxRecordSizeInKiB: 2048 }));
    const s = await alice.send(new DescribeStreamSummaryCommand({ StreamName: 'big-created' }));
    expect(s.StreamDescriptionSummary?.MaxRecordSizeInKiB).toBe(2048);
  });
});

describe('account settings', () => {
  test('minimum throughput billing commitment: disabled, enabled, early disable scheduled, re-enabled; shared by every runtime', async () => {
    const d0 = await alice.send(new DescribeAccountSettingsCommand({}));
    expect(d0.MinimumThroughputBillingCommitment).toEqual({ Status: 'DISABLED' });

    const before = Date.now();
    const on = await alice.send(new UpdateAccountSettingsCommand({ MinimumThroughputBillingCommitment: { Status: 'ENABLED' } }));
    const c = on.MinimumThroughputBillingCommitment!;
    expect(c.Status).toBe('ENABLED');
    expect(c.StartedAt!.getTime()).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000);
    expect(c.EarliestAllowedEndAt!.getTime() - c.StartedAt!.getTime()).toBe(MIN_COMMITMENT_MS);
    expect(c.EndedAt).toBeUndefined();
    await expect(alice2.send(new DescribeAccountSettingsCommand({}))).resolves.toMatchObject({ MinimumThroughputBillingCommitment: c });

    const early = await alice2.send(new UpdateAccountSettingsCommand({ MinimumThroughputBillingCommitment: { Status: 'DISABLED' } }));
    expect(early.MinimumThroughputBillingCommitment).toEqual({ ...c, Status: 'ENABLED_UNTIL_EARLIEST_ALLOWED_END' });
    const again = await alice.send(new UpdateAccountSettingsCommand({ MinimumThroughputBillingCommitment: { Status: 'ENABLED' } }));
    expect(again.MinimumThroughputBillingCommitment).toEqual(c);
  });

  test('the commitment state machine over time', () => {
    const t0 = 1_000_000;
    const on = nextCommitment({ status: 'DISABLED' }, 'ENABLED', t0);
    expect(on).toEqual({ status: 'ENABLED', startedAtMs: t0, earliestAllowedEndAtMs: t0 + MIN_COMMITMENT_MS });
    const pending = nextCommitment(on, 'DISABLED', t0 + 1000);
    expect(pending.status).toBe('ENABLED_UNTIL_EARLIEST_ALLOWED_END');
    expect(commitmentAt(pending, t0 + MIN_COMMITMENT_MS - 1).status).toBe('ENABLED_UNTIL_EARLIEST_ALLOWED_END');
    expect(commitmentAt(pending, t0 + MIN_COMMITMENT_MS)).toEqual({
      status: 'DISABLED', startedAtMs: t0, endedAtMs: t0 + MIN_COMMITMENT_MS, earliestAllowedEndAtMs: t0 + MIN_COMMITMENT_MS,
    });
    expect(nextCommitment(on, 'DISABLED', t0 + MIN_COMMITMENT_MS + 5)).toMatchObject({ status: 'DISABLED', endedAtMs: t0 + MIN_COMMITMENT_MS + 5 });
    // A new commitment after one ended starts afresh.
    expect(nextCommitment(commitmentAt(pending, t0 + 2 * MIN_COMMITMENT_MS), 'ENABLED', t0 + 2 * MIN_COMMITMENT_MS)).toEqual({
      status: 'ENABLED', startedAtMs: t0 + 2 * MIN_COMMITMENT_MS, earliestAllowedEndAtMs: t0 + 3 * MIN_COMMITMENT_MS,
    });
  });
});
