// HTTP endpoint destination (Firehose HTTP endpoint delivery spec v1.0): a
// real worker process POSTs to a test endpoint; headers and body shape, the
// same request id across retries, gzip, 413 as permanent, S3 backup of failed
// data (FailedDataOnly) and of all data (AllData).
import type http from 'node:http';
import {
  type FirehoseClient, CreateDeliveryStreamCommand, DescribeDeliveryStreamCommand, PutRecordBatchCommand, UpdateDestinationCommand, ConcurrentModificationException, InvalidArgumentException,
} from '@aws-sdk/client-firehose';
import type { S3Server } from '../harness/s3.js';
import { jsonServer, ROLE, startDeliveryStack, waitFor, type DeliveryProcess, type DeliveryStack } from '../harness/delivery.js';

const BUCKET = 'backup';

interface Seen { headers: http.IncomingHttpHeaders; body: any; at: number }
let stack: DeliveryStack;
let s3: S3Server;
let fh: FirehoseClient;
let endpoint: { url: string; close(): Promise<void> };
let url: string;
/** Per path: what the endpoint received, and the statuses it answers with in turn (last one repeats). */
const seen = new Map<string, Seen[]>();
const script = new Map<string, number[]>();

beforeAll(async () => {
  stack = await startDeliveryStack({ buckets: [BUCKET] });
  ({ s3, fh } = stack);
  endpoint = await jsonServer((body, req) => {
    const path = req.url!;
    const list = seen.get(path) ?? [];
    list.push({ headers: req.headers, body, at: Date.now() });
    seen.set(path, list);
    const statuses = script.get(path) ?? [200];
    const status = statuses[Math.min(list.length - 1, statuses.length - 1)]!;
    return [status, status === 200 ? { requestId: body.requestId, timestamp: Date.now() } : { errorMessage: 'nope' }];
  });
  url = endpoint.url;
});
afterAll(async () => {
  await stack?.stop();
  await endpoint?.close();
});

async function create(name: string, path: string, extra: Record<string, unknown> = {}) {
  await fh.send(new CreateDeliveryStreamCommand({
    DeliveryStreamName: name,
    HttpEndpointDestinationConfiguration: {
      EndpointConfiguration: { Url: `${url}${path}`, Name: 'test endpoint', AccessKey: 'sekret' },
      BufferingHints: { SizeInMBs: 1, IntervalInSeconds: 0 },
      RequestConfiguration: { ContentEncoding: 'GZIP', CommonAttributes: [{ AttributeName: 'env', AttributeValue: 'test' }] },
      RetryOptions: { DurationInSeconds: 60 },
      S3BackupMode: 'FailedDataOnly',
      S3Configuration: { RoleARN: ROLE, BucketARN: `arn:aws:s3:::${BUCKET}`, Prefix: `${name}/`, ErrorOutputPrefix: `${name}-err/` },
      ...extra,
    },
  }));
  return stack.waitActive(name);
}

/** Backoff in units of 100 ms (1 s in production), so retries fit a test. */
const worker = (name: string): DeliveryProcess => stack.worker(name, { env: { SHARDLINE_HTTP_BACKOFF_UNIT_MS: '100' } });

/** Polls every 100 ms until `f` gives a value (the harness's waitFor). */
const until = <T>(f: () => Promise<T | undefined> | T | undefined, ms = 30_000) => waitFor('condition', f, ms, 100);

test('spec v1.0 request; 500 twice then 200: delivered once, same request id on every attempt, nothing backed up', async () => {
  const d = await create('web', '/ingest');
  expect(d.Destinations![0]!.HttpEndpointDestinationDescription).toMatchObject({ EndpointConfiguration: { Url: `${url}/ingest`, Name: 'test endpoint' }, S3BackupMode: 'FailedDataOnly' });
  expect((d.Destinations![0]!.HttpEndpointDestinationDescription!.EndpointConfiguration as any).AccessKey).toBeUndefined();
  script.set('/ingest', [500, 503, 200]);
  await fh.send(new PutRecordBatchCommand({ DeliveryStreamName: 'web', Records: ['a', 'b', 'c'].map((x) => ({ Data: Buffer.from(x) })) }));
  const w = worker('web');
  const got = await until(() => ((seen.get('/ingest')?.length ?? 0) >= 3 ? seen.get('/ingest')! : undefined));
  const ids = new Set(got.map((s) => s.headers['x-amz-firehose-request-id']));
  expect(ids.size).toBe(1);
  const [first, , third] = got;
  expect(first!.headers).toMatchObject({
    'x-amz-firehose-protocol-version': '1.0', 'x-amz-firehose-access-key': 'sekret', 'content-encoding': 'gzip', 'content-type': 'application/json',
    'x-amz-firehose-source-arn': 'arn:aws:firehose:us-east-1:000000000000:deliverystream/web',
  });
  expect(JSON.parse(first!.headers['x-amz-firehose-common-attributes'] as string)).toEqual({ commonAttributes: { env: 'test' } });
  expect(third!.body.requestId).toBe(first!.headers['x-amz-firehose-request-id']);
  expect(typeof third!.body.timestamp).toBe('number');
  expect(third!.body.records.map((r: any) => Buffer.from(r.data, 'base64').toString())).toEqual(['a', 'b', 'c']);
  // Backoff grows (units of 100 ms here): the second gap is longer than the first.
  expect(got[2]!.at - got[1]!.at).toBeGreaterThan((got[1]!.at - got[0]!.at) * 1.2);
  await new Promise((r) => setTimeout(r, 1000));
  expect(seen.get('/ingest')).toHaveLength(3);
  expect(await s3.list(BUCKET, 'web')).toEqual([]);
  await w.kill('SIGTERM');
}, 60_000);

test('413 is permanent: no retry, the records go to the S3 backup as http-endpoint-failed JSON lines', async () => {
  await create('big', '/too-big');
  script.set('/too-big', [413]);
  await fh.send(new PutRecordBatchCommand({ DeliveryStreamName: 'big', Records: [{ Data: Buffer.from('x1') }, { Data: Buffer.from('x2') }] }));
  const w = worker('big');
  const keys = await until(async () => {
    const k = await s3.list(BUCKET, 'big-err/');
    return k.length ? k : undefined;
  });
  expect(keys[0]).toMatch(/^big-err\/http-endpoint-failed\/\d{4}\/\d{2}\/\d{2}\/\d{2}\/big-1-/);
  const lines = (await s3.get(BUCKET, keys[0]!)).toString().split('\n').filter(Boolean).map((l) => JSON.parse(l));
  expect(lines.map((l) => Buffer.from(l.rawData, 'base64').toString())).toEqual(['x1', 'x2']);
  expect(lines[0]).toMatchObject({ attemptsMade: 1, errorCode: 'HttpEndpoint.PayloadTooLarge', EndpointUrl: `${url}/too-big` });
  expect(seen.get('/too-big')).toHaveLength(1);
  await w.kill('SIGTERM');
}, 60_000);

test('a failing endpoint is retried within RetryOptions then backed up; AllData also writes every record to S3', async () => {
  await create('down', '/down', { RetryOptions: { DurationInSeconds: 2 } });
  script.set('/down', [500]);
  await fh.send(new PutRecordBatchCommand({ DeliveryStreamName: 'down', Records: [{ Data: Buffer.from('lost?') }] }));
  const w = worker('down');
  const keys = await until(async () => {
    const k = await s3.list(BUCKET, 'down-err/');
    return k.length ? k : undefined;
  });
  const line = JSON.parse((await s3.get(BUCKET, keys[0]!)).toString().split('\n')[0]!);
  expect(line.errorCode).toBe('HttpEndpoint.ResponseFailed');
  expect(line.attemptsMade).toBeGreaterThan(2);
  expect(line.attemptsMade).toBe(seen.get('/down')!.length);
  await w.kill('SIGTERM');

  await create('all', '/all', { S3BackupMode: 'AllData' });
  await fh.send(new PutRecordBatchCommand({ DeliveryStreamName: 'all', Records: [{ Data: Buffer.from('kept') }] }));
  const w2 = worker('all');
  const copies = await until(async () => {
    const k = await s3.list(BUCKET, 'all/');
    return k.length ? k : undefined;
  });
  expect((await s3.get(BUCKET, copies[0]!)).toString()).toBe('kept');
  expect(seen.get('/all')).toHaveLength(1);
  await w2.kill('SIGTERM');
}, 60_000);

test('UpdateDestination with HttpEndpointDestinationUpdate: new version, stale version refused, the running worker sends the next flush to the new endpoint', async () => {
  const d = await create('moving', '/old');
  const w = worker('moving');
  await fh.send(new PutRecordBatchCommand({ DeliveryStreamName: 'moving', Records: [{ Data: Buffer.from('before') }] }));
  await until(() => (seen.get('/old')?.length ? true : undefined));
  const update = {
    EndpointConfiguration: { Url: `${url}/new`, Name: 'new endpoint', AccessKey: 'rotated' },
    BufferingHints: { SizeInMBs: 2, IntervalInSeconds: 0 },
    RequestConfiguration: { ContentEncoding: 'NONE' as const, CommonAttributes: [{ AttributeName: 'env', AttributeValue: 'prod' }] },
    RetryOptions: { DurationInSeconds: 30 },
    S3BackupMode: 'AllData' as const,
    S3Update: { Prefix: 'moving-v2/' },
  };
  await fh.send(new UpdateDestinationCommand({ DeliveryStreamName: 'moving', CurrentDeliveryStreamVersionId: d.VersionId!, DestinationId: d.Destinations![0]!.DestinationId!, HttpEndpointDestinationUpdate: update }));
  const after = (await fh.send(new DescribeDeliveryStreamCommand({ DeliveryStreamName: 'moving' }))).DeliveryStreamDescription!;
  expect(after.VersionId).toBe(String(Number(d.VersionId) + 1));
  const h = after.Destinations![0]!.HttpEndpointDestinationDescription!;
  expect(h).toMatchObject({
    EndpointConfiguration: { Url: `${url}/new`, Name: 'new endpoint' },
    BufferingHints: { SizeInMBs: 2, IntervalInSeconds: 0 },
    RequestConfiguration: { ContentEncoding: 'NONE', CommonAttributes: [{ AttributeName: 'env', AttributeValue: 'prod' }] },
    RetryOptions: { DurationInSeconds: 30 },
    S3BackupMode: 'AllData',
    // The backup bucket keeps what the update did not name.
    S3DestinationDescription: { BucketARN: `arn:aws:s3:::${BUCKET}`, Prefix: 'moving-v2/', ErrorOutputPrefix: 'moving-err/' },
  });
  expect((h.EndpointConfiguration as any).AccessKey).toBeUndefined();

  // The version named is no longer current.
  const stale = await fh.send(new UpdateDestinationCommand({ DeliveryStreamName: 'moving', CurrentDeliveryStreamVersionId: d.VersionId!, DestinationId: d.Destinations![0]!.DestinationId!, HttpEndpointDestinationUpdate: { RetryOptions: { DurationInSeconds: 1 } } })).catch((e) => e);
  expect(stale).toBeInstanceOf(ConcurrentModificationException);
  // An S3 update for an HTTP endpoint destination is InvalidArgumentException; a URL off the model's pattern a ValidationException.
  const wrongType = await fh.send(new UpdateDestinationCommand({ DeliveryStreamName: 'moving', CurrentDeliveryStreamVersionId: after.VersionId!, DestinationId: d.Destinations![0]!.DestinationId!, ExtendedS3DestinationUpdate: { Prefix: 'x/' } })).catch((e) => e);
  expect(wrongType).toBeInstanceOf(InvalidArgumentException);
  const badUrl = await fh.send(new UpdateDestinationCommand({ DeliveryStreamName: 'moving', CurrentDeliveryStreamVersionId: after.VersionId!, DestinationId: d.Destinations![0]!.DestinationId!, HttpEndpointDestinationUpdate: { EndpointConfiguration: { Url: 'ftp://nowhere' } } })).catch((e) => e);
  expect(badUrl.name).toBe('ValidationException');
  expect(badUrl.message).toContain("Value 'ftp://nowhere' at 'httpEndpointDestinationUpdate.endpointConfiguration.url' failed to satisfy constraint");
  expect((await fh.send(new DescribeDeliveryStreamCommand({ DeliveryStreamName: 'moving' }))).DeliveryStreamDescription!.VersionId).toBe(after.VersionId);

  // The worker re-reads the definition: the next flush goes to the new endpoint, with the new key and attributes, and (AllData) to the new prefix.
  await new Promise((r) => setTimeout(r, 1500));
  await fh.send(new PutRecordBatchCommand({ DeliveryStreamName: 'moving', Records: [{ Data: Buffer.from('after') }] }));
  const got = await until(() => seen.get('/new')?.[0]);
  expect(got.body.records.map((r: any) => Buffer.from(r.data, 'base64').toString())).toEqual(['after']);
  expect(got.headers['x-amz-firehose-access-key']).toBe('rotated');
  expect(got.headers['content-encoding']).toBeUndefined();
  expect(JSON.parse(got.headers['x-amz-firehose-common-attributes'] as string)).toEqual({ commonAttributes: { env: 'prod' } });
  expect(seen.get('/old')!.map((s) => s.body.records.map((r: any) => Buffer.from(r.data, 'base64').toString())).flat()).toEqual(['before']);
  const copies = await until(async () => {
    const k = await s3.list(BUCKET, 'moving-v2/');
    return k.length ? k : undefined;
  });
  // Object names carry the new version.
  expect(copies[0]).toMatch(new RegExp(`/moving-${after.VersionId}-`));
  expect((await s3.get(BUCKET, copies[0]!)).toString()).toBe('after');
  await w.kill('SIGTERM');
}, 60_000);
