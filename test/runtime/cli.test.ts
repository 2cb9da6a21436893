// Round trips with the real AWS CLI v2 (/usr/bin/aws; an older v1 may come
// first on PATH) against a runtime on a real nats-server: the commands a user
// types, their JSON output, base64 handling of blobs, and error output.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startNats, type NatsServers } from '../harness/nats.js';
import { startInProcess, TEST_CREDENTIALS } from '../harness/runtime.js';
import type { RunningRuntime } from '../../runtime/server.js';

const AWS_CLI = '/usr/bin/aws';
const STREAM = 'cli-stream';
// Each CLI start costs ~0.7 s of CPU (seconds on a busy machine): generous per-test timeouts.
const SLOW = 180_000;

let nats: NatsServers;
let rt: RunningRuntime & { endpoint: string };
let home: string;

beforeAll(async () => {
  if (!fs.existsSync(AWS_CLI)) throw new Error(`${AWS_CLI} missing: scripts/apt-deps.sh installs awscli`);
  home = fs.mkdtempSync(path.join(os.tmpdir(), 'shardline-cli-'));
  nats = await startNats();
  rt = await startInProcess(nats.url);
});
afterAll(async () => {
  await rt?.close();
  await nats?.stop();
  if (home) fs.rmSync(home, { recursive: true, force: true });
});

interface Run { code: number; stdout: string; stderr: string }

function aws(...args: string[]): Promise<Run> {
  // A clean environment: no profile, config or instance metadata of the host leaks in.
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: home,
    AWS_ACCESS_KEY_ID: TEST_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: TEST_CREDENTIALS.secretAccessKey,
    AWS_DEFAULT_REGION: 'us-east-1',
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_CONFIG_FILE: path.join(home, 'config'),
    AWS_SHARED_CREDENTIALS_FILE: path.join(home, 'credentials'),
    AWS_PAGER: '',
    AWS_MAX_ATTEMPTS: '1',
  };
  return new Promise((resolve) => {
    execFile(
      AWS_CLI,
      ['kinesis', ...args, '--endpoint-url', rt.endpoint, '--output', 'json'],
      { env, timeout: 60_000 },
      (err, stdout, stderr) => resolve({ code: err ? Number((err as { code?: number }).code ?? -1) : 0, stdout, stderr }),
    );
  });
}

/** Runs a command that must succeed; parses its JSON output (empty output → {}). */
async function ok(...args: string[]): Promise<any> {
  const r = await aws(...args);
  if (r.code !== 0) throw new Error(`aws kinesis ${args.join(' ')} → exit ${r.code}: ${r.stderr}`);
  return r.stdout.trim() ? JSON.parse(r.stdout) : {};
}

const b64 = (b: Buffer | string) => Buffer.from(b).toString('base64');
const BINARY = Buffer.from([0, 1, 2, 0x7f, 0x80, 0xfe, 0xff, 0x0a, 0x22, 0x5c]);

describe('AWS CLI v2', () => {
  test('create-stream, wait stream-exists, describe-stream, list-streams, list-shards, describe-limits', async () => {
    expect(await ok('create-stream', '--stream-name', STREAM, '--shard-count', '2')).toEqual({});
    await ok('wait', 'stream-exists', '--stream-name', STREAM);
    const [d, l, shards, limits, summary] = await Promise.all([
      ok('describe-stream', '--stream-name', STREAM),
      ok('list-streams'),
      ok('list-shards', '--stream-name', STREAM),
      ok('describe-limits'),
      ok('describe-stream-summary', '--stream-name', STREAM),
    ]);
    expect(d.StreamDescription).toMatchObject({
      StreamName: STREAM,
      StreamARN: `arn:aws:kinesis:us-east-1:000000000000:stream/${STREAM}`,
      StreamStatus: 'ACTIVE',
      RetentionPeriodHours: 24,
    });
    expect(d.StreamDescription.Shards.map((s: any) => s.ShardId)).toEqual(['shardId-000000000000', 'shardId-000000000001']);
    expect(d.StreamDescription.Shards[1].HashKeyRange.EndingHashKey).toBe((2n ** 128n - 1n).toString());
    // The CLI prints timestamps as ISO 8601: epoch seconds parsed correctly.
    expect(Math.abs(Date.parse(d.StreamDescription.StreamCreationTimestamp) - Date.now())).toBeLessThan(60_000);
    expect(l.StreamNames).toContain(STREAM);
    expect(shards.Shards.map((s: any) => s.ShardId)).toEqual(['shardId-000000000000', 'shardId-000000000001']);
    expect(limits).toMatchObject({ ShardLimit: 500, OpenShardCount: 2 });
    expect(summary.StreamDescriptionSummary).toMatchObject({ StreamName: STREAM, OpenShardCount: 2, StreamStatus: 'ACTIVE' });
  }, SLOW);

  test('put-record, put-records, get-shard-iterator + get-records: data intact through base64', async () => {
    // (CLI start-up costs seconds: independent commands run side by side.)
    const batch = Array.from({ length: 12 }, (_, i) => ({ Data: b64(`batch-${i}-${'x'.repeat(i * 13)}`), PartitionKey: `k${i}` }));
    const [p1, p2, p3] = await Promise.all([
      // Default binary format: --data is base64 on the command line.
      ok('put-record', '--stream-name', STREAM, '--partition-key', 'bin', '--data', b64(BINARY), '--explicit-hash-key', '0'),
      // raw-in-base64-out: --data is the raw text.
      ok('put-record', '--cli-binary-format', 'raw-in-base64-out', '--stream-name', STREAM,
        '--partition-key', 'txt', '--data', 'hello, kinesis ✓', '--explicit-hash-key', '1'),
      ok('put-records', '--stream-name', STREAM, '--records', JSON.stringify(batch)),
    ]);
    expect(p1.ShardId).toBe('shardId-000000000000');
    expect(p1.SequenceNumber).toMatch(/^49\d{31}$/);
    expect(p2.ShardId).toBe('shardId-000000000000');
    expect(p3.FailedRecordCount).toBe(0);
    expect(p3.Records).toHaveLength(12);

    const shards = ['shardId-000000000000', 'shardId-000000000001'];
    const its = await Promise.all([
      ...shards.map((shard) => ok('get-shard-iterator', '--stream-name', STREAM, '--shard-id', shard, '--shard-iterator-type', 'TRIM_HORIZON')),
      // AT_SEQUENCE_NUMBER, read with --limit 1 below (iterators.test.ts covers the types in depth).
      ok('get-shard-iterator', '--stream-name', STREAM, '--shard-id', shards[0]!,
        '--shard-iterator-type', 'AT_SEQUENCE_NUMBER', '--starting-sequence-number', p2.SequenceNumber),
    ]);
    for (const it of its) expect(typeof it.ShardIterator).toBe('string');
    const [g0, g1, one] = await Promise.all([
      ok('get-records', '--shard-iterator', its[0].ShardIterator),
      ok('get-records', '--shard-iterator', its[1].ShardIterator),
      ok('get-records', '--shard-iterator', its[2].ShardIterator, '--limit', '1'),
    ]);
    const seen = new Map<string, { data: Buffer; pk: string; at: string }>();
    for (const got of [g0, g1]) {
      expect(got.MillisBehindLatest).toBe(0);
      expect(typeof got.NextShardIterator).toBe('string');
      for (const r of got.Records) seen.set(r.SequenceNumber, { data: Buffer.from(r.Data, 'base64'), pk: r.PartitionKey, at: r.ApproximateArrivalTimestamp });
    }
    expect(seen.size).toBe(14);
    expect(seen.get(p1.SequenceNumber)).toMatchObject({ data: BINARY, pk: 'bin' });
    expect(seen.get(p2.SequenceNumber)!.data.toString('utf8')).toBe('hello, kinesis ✓');
    p3.Records.forEach((r: any, i: number) => {
      expect(seen.get(r.SequenceNumber)!.data.toString()).toBe(`batch-${i}-${'x'.repeat(i * 13)}`);
      expect(seen.get(r.SequenceNumber)!.pk).toBe(`k${i}`);
    });
    for (const v of seen.values()) expect(Math.abs(Date.parse(v.at) - Date.now())).toBeLessThan(60_000);
    expect(one.Records.map((r: any) => r.SequenceNumber)).toEqual([p2.SequenceNumber]);
  }, SLOW);

  test('tags (add, list, remove) and retention (increase, decrease), side by side on one stream', async () => {
    // Both change the stream record: concurrent compare-and-set updates must not lose either.
    const [added, increased] = await Promise.all([
      ok('add-tags-to-stream', '--stream-name', STREAM, '--tags', 'team=data,env=test,owner=cli'),
      ok('increase-stream-retention-period', '--stream-name', STREAM, '--retention-period-hours', '72'),
    ]);
    expect(added).toEqual({});
    expect(increased).toEqual({});
    const [t1, sum] = await Promise.all([
      ok('list-tags-for-stream', '--stream-name', STREAM),
      ok('describe-stream-summary', '--stream-name', STREAM),
    ]);
    expect(t1.Tags).toEqual([{ Key: 'env', Value: 'test' }, { Key: 'owner', Value: 'cli' }, { Key: 'team', Value: 'data' }]);
    expect(t1.HasMoreTags).toBe(false);
    expect(sum.StreamDescriptionSummary.RetentionPeriodHours).toBe(72);
    await Promise.all([
      ok('remove-tags-from-stream', '--stream-name', STREAM, '--tag-keys', 'owner', 'env'),
      ok('decrease-stream-retention-period', '--stream-name', STREAM, '--retention-period-hours', '36'),
    ]);
    const [t2, d, bad] = await Promise.all([
      ok('list-tags-for-stream', '--stream-name', STREAM),
      ok('describe-stream', '--stream-name', STREAM),
      aws('decrease-stream-retention-period', '--stream-name', STREAM, '--retention-period-hours', '48'),
    ]);
    expect(t2.Tags).toEqual([{ Key: 'team', Value: 'data' }]);
    expect(d.StreamDescription.RetentionPeriodHours).toBe(36);
    expect(bad.code).toBe(254);
    expect(bad.stderr).toMatch(/An error occurred \(InvalidArgumentException\) when calling the DecreaseStreamRetentionPeriod operation.*: Requested retention period \(48 hours\) for stream cli-stream can not be longer than existing retention period \(36 hours\)/);
  }, SLOW);

  test('delete-stream, wait stream-not-exists, then error output for the missing stream and a bad name', async () => {
    expect(await ok('delete-stream', '--stream-name', STREAM)).toEqual({});
    await ok('wait', 'stream-not-exists', '--stream-name', STREAM);
    const [d, put, l, invalid] = await Promise.all([
      aws('describe-stream', '--stream-name', STREAM),
      aws('put-record', '--stream-name', STREAM, '--partition-key', 'k', '--data', b64('x')),
      ok('list-streams'),
      aws('describe-stream', '--stream-name', 'bad/name'),
    ]);
    // The CLI exits 254 when the service returned an error.
    expect(d.code).toBe(254);
    expect(d.stdout).toBe('');
    // (The CLI inserts "(reached max retries: 0)" before the colon.)
    expect(d.stderr).toMatch(new RegExp(
      `^\\s*An error occurred \\(ResourceNotFoundException\\) when calling the DescribeStream operation(?: \\(reached max retries: \\d+\\))?: ` +
        `Stream ${STREAM} under account 000000000000 not found\\.\\s*$`,
    ));
    expect(put.code).toBe(254);
    expect(put.stderr).toContain('An error occurred (ResourceNotFoundException) when calling the PutRecord operation');
    expect(l.StreamNames).not.toContain(STREAM);
    // A parameter the service rejects: ValidationException, same exit code.
    expect(invalid.code).toBe(254);
    expect(invalid.stderr).toContain('An error occurred (ValidationException) when calling the DescribeStream operation');
    expect(invalid.stderr).toContain("Value 'bad/name' at 'streamName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+");
  }, SLOW);
});
