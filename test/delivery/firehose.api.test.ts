// The Firehose API on the Kinesis endpoint, driven by the real
// @aws-sdk/client-firehose and the AWS CLI v2 against a runtime on a real
// nats-server: lifecycle, validation, Direct PUT durability, versions, tags.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { isSealed } from '../../stream/batchCipher.js';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  type FirehoseClient, CreateDeliveryStreamCommand, DescribeDeliveryStreamCommand, ListDeliveryStreamsCommand,
  PutRecordCommand, PutRecordBatchCommand, UpdateDestinationCommand, DeleteDeliveryStreamCommand,
  TagDeliveryStreamCommand, UntagDeliveryStreamCommand, ListTagsForDeliveryStreamCommand,
  StartDeliveryStreamEncryptionCommand, StopDeliveryStreamEncryptionCommand,
} from '@aws-sdk/client-firehose';
import { CreateStreamCommand, ListStreamsCommand, type KinesisClient } from '@aws-sdk/client-kinesis';
import { ROLE, startDeliveryStack, type DeliveryStack } from '../harness/delivery.js';
import { TEST_CREDENTIALS } from '../harness/runtime.js';
import type { RunningRuntime } from '../../runtime/server.js';
import { readShard } from '../../stream/shardRead.js';
import { getStream } from '../../stream/streams.js';
import { jsStreamName } from '../../stream/names.js';

const AWS_CLI = '/usr/bin/aws';
const FH_KEY = 'firehose-key-1';
const BUCKET = 'arn:aws:s3:::deliveries';

let stack: DeliveryStack;
let rt: RunningRuntime & { endpoint: string };
let fh: FirehoseClient;
let kinesis: KinesisClient;
let home: string;

beforeAll(async () => {
  home = fs.mkdtempSync(path.join(os.tmpdir(), 'shardline-fh-'));
  // No S3 and no worker here: the API alone. The key ring stands in for KMS: AWS_OWNED_CMK is its alias/aws/firehose.
  stack = await startDeliveryStack({ s3: false, runtime: { kmsKeys: `${FH_KEY}:${randomBytes(32).toString('base64')}\nalias/aws/firehose:${FH_KEY}` } });
  ({ rt, fh, kinesis } = stack);
});
afterAll(async () => {
  await stack?.stop();
  if (home) fs.rmSync(home, { recursive: true, force: true });
});

async function errorOf(p: Promise<unknown>): Promise<{ name: string; message: string }> {
  try {
    await p;
  } catch (e) {
    return { name: (e as Error).name, message: (e as Error).message };
  }
  throw new Error('expected the call to fail');
}

const waitActive = (name: string) => stack.waitActive(name);

const s3Config = (extra: Record<string, unknown> = {}) => ({ RoleARN: ROLE, BucketARN: BUCKET, ...extra });

describe('Firehose API', () => {
  test('CreateDeliveryStream (DirectPut): CREATING → ACTIVE, Describe shows the definition, names are unique', async () => {
    const out = await fh.send(new CreateDeliveryStreamCommand({
      DeliveryStreamName: 'direct-1',
      DeliveryStreamType: 'DirectPut',
      ExtendedS3DestinationConfiguration: s3Config({ Prefix: 'logs/', BufferingHints: { SizeInMBs: 1, IntervalInSeconds: 0 }, CompressionFormat: 'GZIP' }),
      Tags: [{ Key: 'team', Value: 'data' }],
    }));
    expect(out.DeliveryStreamARN).toBe('arn:aws:firehose:us-east-1:000000000000:deliverystream/direct-1');
    const d = await waitActive('direct-1');
    expect(d.DeliveryStreamType).toBe('DirectPut');
    expect(d.VersionId).toBe('1');
    expect(d.CreateTimestamp).toBeInstanceOf(Date);
    expect(d.DeliveryStreamEncryptionConfiguration?.Status).toBe('DISABLED');
    const dest = d.Destinations![0]!;
    expect(dest.DestinationId).toBe('destinationId-000000000001');
    expect(dest.ExtendedS3DestinationDescription).toMatchObject({
      BucketARN: BUCKET, RoleARN: ROLE, Prefix: 'logs/', CompressionFormat: 'GZIP',
      BufferingHints: { SizeInMBs: 1, IntervalInSeconds: 0 },
    });
    expect(dest.S3DestinationDescription?.BucketARN).toBe(BUCKET);
    const dup = await errorOf(fh.send(new CreateDeliveryStreamCommand({ DeliveryStreamName: 'direct-1', ExtendedS3DestinationConfiguration: s3Config() })));
    expect(dup.name).toBe('ResourceInUseException');
    // The backing stream is invisible to Kinesis.
    const streams = await kinesis.send(new ListStreamsCommand({}));
    expect(streams.StreamNames).toEqual([]);
  });

  test('model validation: names, hints, batch size, record size', async () => {
    const bad = await errorOf(fh.send(new CreateDeliveryStreamCommand({ DeliveryStreamName: 'bad name!', ExtendedS3DestinationConfiguration: s3Config({ BufferingHints: { SizeInMBs: 129, IntervalInSeconds: 901 } }) })));
    expect(bad.name).toBe('ValidationException');
    expect(bad.message).toContain("at 'deliveryStreamName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+");
    expect(bad.message).toContain("at 'extendedS3DestinationConfiguration.bufferingHints.sizeInMBs' failed to satisfy constraint: Member must have value less than or equal to 128");
    expect(bad.message).toContain("at 'extendedS3DestinationConfiguration.bufferingHints.intervalInSeconds' failed to satisfy constraint: Member must have value less than or equal to 900");
    const noDest = await errorOf(fh.send(new CreateDeliveryStreamCommand({ DeliveryStreamName: 'no-dest' })));
    expect(noDest.name).toBe('InvalidArgumentException');
    const many = await errorOf(fh.send(new PutRecordBatchCommand({ DeliveryStreamName: 'direct-1', Records: Array.from({ length: 501 }, () => ({ Data: Buffer.from('x') })) })));
    expect(many.name).toBe('ValidationException');
    expect(many.message).toContain("at 'records' failed to satisfy constraint: Member must have length less than or equal to 500");
    const big = await errorOf(fh.send(new PutRecordCommand({ DeliveryStreamName: 'direct-1', Record: { Data: Buffer.alloc(1024001) } })));
    expect(big.name).toBe('ValidationException');
    // AWS's wording, as its Java service prints the blob.
    expect(big.message).toBe("1 validation error detected: Value 'java.nio.HeapByteBuffer[pos=0 lim=1024001 cap=1024001]' at 'record.data' failed to satisfy constraint: Member must have length less than or equal to 1024000");
    // 5 x 1,000,000 bytes: each record is allowed, the request is over 4 MiB.
    const total = await errorOf(fh.send(new PutRecordBatchCommand({ DeliveryStreamName: 'direct-1', Records: Array.from({ length: 5 }, () => ({ Data: Buffer.alloc(1_000_000) })) })));
    // AWS's message, word for word (seen from the real service: "Records size exceeds 4 MB limit").
    expect(total).toEqual({ name: 'InvalidArgumentException', message: 'Records size exceeds 4 MB limit' });
    const missing = await errorOf(fh.send(new PutRecordCommand({ DeliveryStreamName: 'nope', Record: { Data: Buffer.from('x') } })));
    expect(missing).toEqual({ name: 'ResourceNotFoundException', message: 'Firehose nope under account 000000000000 not found.' });
  });

  test('prefix rules: expressions need an ErrorOutputPrefix with error-output-type; bad namespaces and patterns', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ Prefix: 'a/!{timestamp:yyyy}/' }, 'ErrorOutputPrefix cannot be null or empty when Prefix contains expressions'],
      [{ Prefix: 'a/!{timestamp:yyyy}/', ErrorOutputPrefix: 'err/!{timestamp:yyyy}/' }, 'ErrorOutputPrefix must contain !{firehose:error-output-type}'],
      [{ Prefix: 'a/!{firehose:error-output-type}/', ErrorOutputPrefix: 'e/' }, 'only allowed in ErrorOutputPrefix'],
      [{ Prefix: 'a/!{nope:x}/', ErrorOutputPrefix: 'e/' }, 'is not valid'],
      [{ Prefix: 'a/!{timestamp:yyyy/qq}/', ErrorOutputPrefix: 'e/' }, 'Unknown pattern letter: q'],
      [{ Prefix: 'a/!{timestamp:yyyy', ErrorOutputPrefix: 'e/' }, 'unterminated expression'],
      [{ Prefix: 'a/!{partitionKeyFromQuery:id}/', ErrorOutputPrefix: 'e/!{firehose:error-output-type}' }, 'only be used when dynamic partitioning is enabled'],
      [{ CustomTimeZone: 'Mars/Olympus' }, 'CustomTimeZone Mars/Olympus is not a supported time zone.'],
    ];
    for (const [extra, message] of cases) {
      const e = await errorOf(fh.send(new CreateDeliveryStreamCommand({ DeliveryStreamName: 'prefixes', ExtendedS3DestinationConfiguration: s3Config(extra) })));
      expect({ extra, name: e.name }).toEqual({ extra, name: 'InvalidArgumentException' });
      expect(e.message).toContain(message);
    }
    const okay = await fh.send(new CreateDeliveryStreamCommand({
      DeliveryStreamName: 'prefixes',
      ExtendedS3DestinationConfiguration: s3Config({ Prefix: "y=!{timestamp:yyyy}/'x'/!{firehose:random-string}/", ErrorOutputPrefix: 'e/!{firehose:error-output-type}/!{timestamp:yyyy}/', CustomTimeZone: 'Asia/Tokyo' }),
    }));
    expect(okay.DeliveryStreamARN).toContain('prefixes');
  });

  test('PutRecord and PutRecordBatch store records durably in the backing stream before answering', async () => {
    const one = await fh.send(new PutRecordCommand({ DeliveryStreamName: 'direct-1', Record: { Data: Buffer.from('first\n') } }));
    expect(one.RecordId).toMatch(/^\d+$/);
    expect(one.Encrypted).toBe(false);
    const batch = await fh.send(new PutRecordBatchCommand({
      DeliveryStreamName: 'direct-1',
      Records: Array.from({ length: 300 }, (_, i) => ({ Data: Buffer.from(`r${i}\n`) })),
    }));
    expect(batch.FailedPutCount).toBe(0);
    expect(batch.RequestResponses).toHaveLength(300);
    expect(new Set(batch.RequestResponses!.map((r) => r.RecordId)).size).toBe(300);
    const backing = await getStream(rt.ctx.store, 'firehose/direct-1');
    expect(backing).toBeDefined();
    const read = await readShard(rt.ctx.store, jsStreamName(backing!.uid, 0), { jsSeq: 1, index: 0 }, { limit: 10_000, maxBytes: 1 << 30, minArrivalMs: 0 });
    expect(read.records.map((r) => r.data.toString())).toEqual(['first\n', ...Array.from({ length: 300 }, (_, i) => `r${i}\n`)]);
  });

  test('UpdateDestination: version ids, ConcurrentModificationException, merged destination', async () => {
    const stale = await errorOf(fh.send(new UpdateDestinationCommand({
      DeliveryStreamName: 'direct-1', CurrentDeliveryStreamVersionId: '7', DestinationId: 'destinationId-000000000001',
      ExtendedS3DestinationUpdate: { Prefix: 'other/' },
    })));
    expect(stale.name).toBe('ConcurrentModificationException');
    await fh.send(new UpdateDestinationCommand({
      DeliveryStreamName: 'direct-1', CurrentDeliveryStreamVersionId: '1', DestinationId: 'destinationId-000000000001',
      ExtendedS3DestinationUpdate: { Prefix: 'other/', BufferingHints: { IntervalInSeconds: 60 } },
    }));
    const d = (await fh.send(new DescribeDeliveryStreamCommand({ DeliveryStreamName: 'direct-1' }))).DeliveryStreamDescription!;
    expect(d.VersionId).toBe('2');
    expect(d.LastUpdateTimestamp).toBeInstanceOf(Date);
    expect(d.Destinations![0]!.ExtendedS3DestinationDescription).toMatchObject({ Prefix: 'other/', CompressionFormat: 'GZIP', BufferingHints: { SizeInMBs: 1, IntervalInSeconds: 60 } });
    const again = await errorOf(fh.send(new UpdateDestinationCommand({
      DeliveryStreamName: 'direct-1', CurrentDeliveryStreamVersionId: '1', DestinationId: 'destinationId-000000000001', ExtendedS3DestinationUpdate: { Prefix: 'x/' },
    })));
    expect(again.name).toBe('ConcurrentModificationException');
  });

  test('tags and server-side encryption', async () => {
    await fh.send(new TagDeliveryStreamCommand({ DeliveryStreamName: 'direct-1', Tags: [{ Key: 'a', Value: '1' }, { Key: 'b', Value: '2' }] }));
    await fh.send(new UntagDeliveryStreamCommand({ DeliveryStreamName: 'direct-1', TagKeys: ['team'] }));
    const page = await fh.send(new ListTagsForDeliveryStreamCommand({ DeliveryStreamName: 'direct-1', Limit: 1 }));
    expect(page).toMatchObject({ Tags: [{ Key: 'a', Value: '1' }], HasMoreTags: true });
    const rest = await fh.send(new ListTagsForDeliveryStreamCommand({ DeliveryStreamName: 'direct-1', ExclusiveStartTagKey: 'a' }));
    expect(rest).toMatchObject({ Tags: [{ Key: 'b', Value: '2' }], HasMoreTags: false });
    const tooMany = await errorOf(fh.send(new TagDeliveryStreamCommand({ DeliveryStreamName: 'direct-1', Tags: Array.from({ length: 49 }, (_, i) => ({ Key: `k${i}`, Value: '' })) })));
    expect(tooMany.name).toBe('LimitExceededException');

    await fh.send(new StartDeliveryStreamEncryptionCommand({ DeliveryStreamName: 'direct-1', DeliveryStreamEncryptionConfigurationInput: { KeyType: 'AWS_OWNED_CMK' } }));
    let d = (await fh.send(new DescribeDeliveryStreamCommand({ DeliveryStreamName: 'direct-1' }))).DeliveryStreamDescription!;
    expect(d.DeliveryStreamEncryptionConfiguration).toMatchObject({ Status: 'ENABLED', KeyType: 'AWS_OWNED_CMK' });
    const sealedPut = await fh.send(new PutRecordCommand({ DeliveryStreamName: 'direct-1', Record: { Data: Buffer.from('secret') } }));
    expect(sealedPut.Encrypted).toBe(true);
    // Stored sealed: the backing stream's JetStream message is a sealed batch, not the plain bytes.
    const backing = (await getStream(rt.ctx.store, 'firehose/direct-1'))!;
    expect(backing.encryption).toEqual({ type: 'KMS', keyId: 'alias/aws/firehose' });
    const js = jsStreamName(backing.uid, 0);
    const last = await rt.ctx.store.jsm.streams.getMessage(js, { last_by_subj: `kds.${backing.uid}.0` });
    expect(isSealed(last.data)).toBe(true);
    expect(Buffer.from(last.data).includes(Buffer.from('secret'))).toBe(false);
    await fh.send(new StopDeliveryStreamEncryptionCommand({ DeliveryStreamName: 'direct-1' }));
    d = (await fh.send(new DescribeDeliveryStreamCommand({ DeliveryStreamName: 'direct-1' }))).DeliveryStreamDescription!;
    expect(d.DeliveryStreamEncryptionConfiguration?.Status).toBe('DISABLED');
    expect((await fh.send(new PutRecordCommand({ DeliveryStreamName: 'direct-1', Record: { Data: Buffer.from('plain') } }))).Encrypted).toBe(false);
    const plain = await rt.ctx.store.jsm.streams.getMessage(js, { last_by_subj: `kds.${backing.uid}.0` });
    expect(isSealed(plain.data)).toBe(false);
    // A customer key the key ring does not have.
    const badKey = await errorOf(fh.send(new StartDeliveryStreamEncryptionCommand({
      DeliveryStreamName: 'direct-1', DeliveryStreamEncryptionConfigurationInput: { KeyType: 'CUSTOMER_MANAGED_CMK', KeyARN: 'arn:aws:kms:us-east-1:000000000000:key/nope' },
    })));
    expect(badKey.name).toBe('InvalidKMSResourceException');
  });

  test('KinesisStreamAsSource: the stream must exist; PutRecord is refused; ListDeliveryStreams filters and pages', async () => {
    const arn = 'arn:aws:kinesis:us-east-1:000000000000:stream/src';
    const missing = await errorOf(fh.send(new CreateDeliveryStreamCommand({
      DeliveryStreamName: 'from-kinesis', DeliveryStreamType: 'KinesisStreamAsSource',
      KinesisStreamSourceConfiguration: { KinesisStreamARN: arn, RoleARN: ROLE }, ExtendedS3DestinationConfiguration: s3Config(),
    })));
    expect(missing.name).toBe('InvalidArgumentException');
    await kinesis.send(new CreateStreamCommand({ StreamName: 'src', ShardCount: 2 }));
    await new Promise((r) => setTimeout(r, 300));
    await fh.send(new CreateDeliveryStreamCommand({
      DeliveryStreamName: 'from-kinesis', DeliveryStreamType: 'KinesisStreamAsSource',
      KinesisStreamSourceConfiguration: { KinesisStreamARN: arn, RoleARN: ROLE }, ExtendedS3DestinationConfiguration: s3Config(),
    }));
    const d = await waitActive('from-kinesis');
    expect(d.Source?.KinesisStreamSourceDescription).toMatchObject({ KinesisStreamARN: arn, RoleARN: ROLE });
    const put = await errorOf(fh.send(new PutRecordCommand({ DeliveryStreamName: 'from-kinesis', Record: { Data: Buffer.from('x') } })));
    expect(put).toEqual({ name: 'InvalidArgumentException', message: 'This operation is not permitted on KinesisStreamAsSource type delivery stream.' });
    const all = await fh.send(new ListDeliveryStreamsCommand({}));
    expect(all).toMatchObject({ DeliveryStreamNames: ['direct-1', 'from-kinesis', 'prefixes'], HasMoreDeliveryStreams: false });
    const first = await fh.send(new ListDeliveryStreamsCommand({ Limit: 1 }));
    expect(first).toMatchObject({ DeliveryStreamNames: ['direct-1'], HasMoreDeliveryStreams: true });
    const kin = await fh.send(new ListDeliveryStreamsCommand({ DeliveryStreamType: 'KinesisStreamAsSource' }));
    expect(kin.DeliveryStreamNames).toEqual(['from-kinesis']);
    expect((await kinesis.send(new ListStreamsCommand({}))).StreamNames).toEqual(['src']);
  });

  test('AWS CLI v2: put-record, put-record-batch, describe, delete', async () => {
    const run = (...args: string[]) => new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(AWS_CLI, ['firehose', ...args, '--endpoint-url', rt.endpoint, '--output', 'json', '--cli-binary-format', 'raw-in-base64-out'], {
        env: {
          PATH: process.env.PATH, HOME: home, AWS_ACCESS_KEY_ID: TEST_CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: TEST_CREDENTIALS.secretAccessKey,
          AWS_DEFAULT_REGION: 'us-east-1', AWS_EC2_METADATA_DISABLED: 'true', AWS_PAGER: '', AWS_MAX_ATTEMPTS: '1',
          AWS_CONFIG_FILE: path.join(home, 'config'), AWS_SHARED_CREDENTIALS_FILE: path.join(home, 'credentials'),
        },
        timeout: 60_000,
      }, (err, stdout, stderr) => resolve({ code: err ? Number((err as { code?: number }).code ?? -1) : 0, stdout, stderr }));
    });
    const put = await run('put-record', '--delivery-stream-name', 'direct-1', '--record', 'Data=from-cli');
    expect(put.stderr).toBe('');
    expect(JSON.parse(put.stdout).RecordId).toMatch(/^\d+$/);
    const batch = await run('put-record-batch', '--delivery-stream-name', 'direct-1', '--records', 'Data=a', 'Data=b');
    expect(JSON.parse(batch.stdout)).toMatchObject({ FailedPutCount: 0 });
    const desc = await run('describe-delivery-stream', '--delivery-stream-name', 'direct-1');
    expect(JSON.parse(desc.stdout).DeliveryStreamDescription.DeliveryStreamStatus).toBe('ACTIVE');
    const nf = await run('describe-delivery-stream', '--delivery-stream-name', 'ghost');
    expect(nf.code).not.toBe(0);
    expect(nf.stderr).toContain('ResourceNotFoundException');
    await run('delete-delivery-stream', '--delivery-stream-name', 'direct-1');
    for (let i = 0; i < 50; i++) {
      const e = await errorOf(fh.send(new DescribeDeliveryStreamCommand({ DeliveryStreamName: 'direct-1' }))).catch(() => undefined);
      if (e?.name === 'ResourceNotFoundException') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    await expect(fh.send(new DescribeDeliveryStreamCommand({ DeliveryStreamName: 'direct-1' }))).rejects.toThrow('not found');
    expect(await getStream(rt.ctx.store, 'firehose/direct-1')).toBeUndefined();
  }, 180_000);
});
