// Processing with an HTTP endpoint destination, end to end (worker process,
// nats-server, s3rver, a test endpoint and a transform server on the Lambda
// contract): transformed records go in the request body, Dropped ones
// nowhere, ProcessingFailed ones to the backup bucket's error prefix;
// AllData backs up the source records (untransformed); the chain comes
// through CreateDeliveryStream and UpdateDestination and shows in
// DescribeDeliveryStream; a flush replayed after SIGKILL sends the same
// request id and rewrites the same S3 keys.
import type http from 'node:http';
import {
  type FirehoseClient, CreateDeliveryStreamCommand, DescribeDeliveryStreamCommand, PutRecordBatchCommand, UpdateDestinationCommand,
  InvalidArgumentException, type Processor,
} from '@aws-sdk/client-firehose';
import type { S3Server } from '../harness/s3.js';
import { jsonServer, ROLE, startDeliveryStack, waitFor, type DeliveryProcess, type DeliveryStack } from '../harness/delivery.js';
import { freePort } from '../harness/ports.js';

const BUCKET = 'backup';
const FN_ARN = 'arn:aws:lambda:us-east-1:000000000000:function:shout';

interface Seen { headers: http.IncomingHttpHeaders; body: any }
let stack: DeliveryStack;
let s3: S3Server;
let fh: FirehoseClient;
let endpoint: { url: string; close(): Promise<void> };
let fn: { url: string; close(): Promise<void> };
/** Per path: the requests the endpoint got. */
const seen = new Map<string, Seen[]>();
const invocations: any[] = [];

beforeAll(async () => {
  stack = await startDeliveryStack({ buckets: [BUCKET] });
  ({ s3, fh } = stack);
  endpoint = await jsonServer((body, req) => {
    const list = seen.get(req.url!) ?? [];
    list.push({ headers: req.headers, body });
    seen.set(req.url!, list);
    return [200, { requestId: body.requestId, timestamp: Date.now() }];
  });
  // The transform: upper-cases; "drop" → Dropped, "fail" → ProcessingFailed.
  fn = await jsonServer((event) => {
    invocations.push(event);
    return [200, {
      records: event.records.map((r: any) => {
        const text = Buffer.from(r.data, 'base64').toString();
        if (text.includes('drop')) return { recordId: r.recordId, result: 'Dropped', data: r.data };
        if (text.includes('fail')) return { recordId: r.recordId, result: 'ProcessingFailed', data: r.data };
        return { recordId: r.recordId, result: 'Ok', data: Buffer.from(text.toUpperCase()).toString('base64') };
      }),
    }];
  });
});
afterAll(async () => {
  await stack?.stop();
  await endpoint?.close();
  await fn?.close();
});

const worker = (name: string, env: Record<string, string> = {}): DeliveryProcess =>
  stack.worker(name, { config: { functions: { [FN_ARN]: `${fn.url}/invoke` } }, env: { SHARDLINE_HTTP_BACKOFF_UNIT_MS: '100', ...env } });

const proc = (Type: Processor['Type'], params: Record<string, string> = {}): Processor => ({
  Type, Parameters: Object.entries(params).map(([ParameterName, ParameterValue]) => ({ ParameterName: ParameterName as any, ParameterValue })),
});
const CHAIN = { Enabled: true, Processors: [proc('RecordDeAggregation', { SubRecordType: 'JSON' }), proc('Lambda', { LambdaArn: FN_ARN, NumberOfRetries: '1' }), proc('AppendDelimiterToRecord')] };

async function create(name: string, extra: Record<string, unknown> = {}) {
  await fh.send(new CreateDeliveryStreamCommand({
    DeliveryStreamName: name,
    HttpEndpointDestinationConfiguration: {
      EndpointConfiguration: { Url: `${endpoint.url}/${name}`, Name: 'collector' },
      BufferingHints: { SizeInMBs: 1, IntervalInSeconds: 0 },
      RetryOptions: { DurationInSeconds: 60 },
      S3BackupMode: 'AllData',
      S3Configuration: { RoleARN: ROLE, BucketARN: `arn:aws:s3:::${BUCKET}`, Prefix: `${name}/`, ErrorOutputPrefix: `${name}-err/!{firehose:error-output-type}/` },
      ...extra,
    },
  }));
  return stack.waitActive(name);
}

const put = async (name: string, records: string[]) => {
  const out = await fh.send(new PutRecordBatchCommand({ DeliveryStreamName: name, Records: records.map((r) => ({ Data: Buffer.from(r) })) }));
  expect(out.FailedPutCount).toBe(0);
};
const sent = (s: Seen) => s.body.records.map((r: any) => Buffer.from(r.data, 'base64').toString());
const until = <T>(what: string, f: () => Promise<T | undefined> | T | undefined, ms = 30_000) => waitFor(what, f, ms, 100);
/** Every object under `prefix` once there are `n`: key → text. */
async function objects(prefix: string, n: number): Promise<Map<string, string>> {
  const keys = await until(`${n} objects under ${prefix}`, async () => {
    const k = await s3.list(BUCKET, prefix);
    return k.length >= n ? k : undefined;
  });
  const out = new Map<string, string>();
  for (const k of keys) out.set(k, (await s3.get(BUCKET, k)).toString());
  return out;
}

test('de-aggregation → transform → delimiter before the endpoint: Ok records sent, Dropped nowhere, ProcessingFailed to the error prefix, AllData backs up the source records', async () => {
  const d = await create('chain', { ProcessingConfiguration: CHAIN });
  expect(d.Destinations![0]!.HttpEndpointDestinationDescription!.ProcessingConfiguration).toEqual(CHAIN);
  const source = ['{"n":"a"}{"n":"b"}', '{"n":"drop"}', '{"n":"fail"}', 'not json', '{"n":"c"}'];
  await put('chain', source);
  const w = worker('chain');
  const [req] = await until('the request', () => seen.get('/chain'));
  // The transform saw the de-aggregated records (ids stable: derived from positions), with the stream's ARN.
  const event = invocations.find((e) => e.deliveryStreamArn.endsWith('/chain'));
  // ("not json" failed de-aggregation: it never reached the transform.)
  expect(event.records.map((r: any) => Buffer.from(r.data, 'base64').toString())).toEqual(['{"n":"a"}', '{"n":"b"}', '{"n":"drop"}', '{"n":"fail"}', '{"n":"c"}']);
  expect(new Set(event.records.map((r: any) => r.recordId)).size).toBe(5);
  expect(sent(req!)).toEqual(['{"N":"A"}\n', '{"N":"B"}\n', '{"N":"C"}\n']);
  expect(req!.headers['x-amz-firehose-request-id']).toBe(req!.body.requestId);

  const failed = await objects('chain-err/', 1);
  const [failedKey, failedText] = [...failed][0]!;
  expect(failedKey).toMatch(/^chain-err\/processing-failed\/chain-1-\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}-[0-9a-f-]{36}$/);
  const lines = failedText.split('\n').filter(Boolean).map((l) => JSON.parse(l));
  const byData = new Map(lines.map((l) => [Buffer.from(l.rawData, 'base64').toString(), l]));
  expect([...byData.keys()].sort()).toEqual(['not json', '{"n":"fail"}']);
  expect(byData.get('{"n":"fail"}')).toMatchObject({ attemptsMade: 1, errorCode: 'Lambda.ProcessingFailedStatus', lambdaArn: FN_ARN });
  expect(byData.get('not json')).toMatchObject({ attemptsMade: 1, errorCode: 'RecordDeAggregation.InvalidJson' });

  // AllData: the source records as they came in (before de-aggregation and transform), Dropped and failed ones included.
  const backup = await objects('chain/', 1);
  expect([...backup.values()]).toEqual([source.join('')]);
  await new Promise((r) => setTimeout(r, 500));
  expect(seen.get('/chain')).toHaveLength(1);
  await w.kill('SIGTERM');
}, 60_000);

test('every record dropped or failed: no request is sent, the failures still reach the error prefix', async () => {
  await create('none', { ProcessingConfiguration: CHAIN, S3BackupMode: 'FailedDataOnly' });
  await put('none', ['{"v":"drop 1"}', '{"v":"fail 2"}']);
  const w = worker('none');
  const failed = await objects('none-err/processing-failed/', 1);
  expect([...failed.values()][0]!.split('\n').filter(Boolean).map((l) => Buffer.from(JSON.parse(l).rawData, 'base64').toString())).toEqual(['{"v":"fail 2"}']);
  await new Promise((r) => setTimeout(r, 1000));
  expect(seen.get('/none')).toBeUndefined();
  expect(await s3.list(BUCKET, 'none/')).toEqual([]);
  await w.kill('SIGTERM');
}, 60_000);

test('SIGKILL after upload, before checkpoint: the replayed flush sends the same request id and body and rewrites the same S3 keys', async () => {
  await create('replay', { ProcessingConfiguration: CHAIN });
  await put('replay', ['{"v":"one"}', '{"v":"fail two"}', '{"v":"three"}']);
  const dying = worker('replay', { SHARDLINE_FAILPOINTS: 'after-upload@1' });
  await dying.exited;
  expect(dying.stderr()).toContain('failpoint after-upload (flush 1)');
  const first = seen.get('/replay')!;
  expect(first).toHaveLength(1);
  const keysBefore = [...(await s3.list(BUCKET, 'replay/')), ...(await s3.list(BUCKET, 'replay-err/'))].sort();
  expect(keysBefore).toHaveLength(2);

  const w = worker('replay');
  const again = await until('the replayed request', () => (seen.get('/replay')!.length >= 2 ? seen.get('/replay')! : undefined));
  expect(again[1]!.headers['x-amz-firehose-request-id']).toBe(first[0]!.headers['x-amz-firehose-request-id']);
  expect(sent(again[1]!)).toEqual(sent(first[0]!));
  expect(sent(again[1]!)).toEqual(['{"V":"ONE"}\n', '{"V":"THREE"}\n']);
  await new Promise((r) => setTimeout(r, 1000));
  const keysAfter = [...(await s3.list(BUCKET, 'replay/')), ...(await s3.list(BUCKET, 'replay-err/'))].sort();
  expect(keysAfter).toEqual(keysBefore);
  // Checkpointed now: a later record is a new flush with a new request id.
  await put('replay', ['{"v":"four"}']);
  const third = await until('the next request', () => seen.get('/replay')![2]);
  expect(sent(third)).toEqual(['{"V":"FOUR"}\n']);
  expect(third.headers['x-amz-firehose-request-id']).not.toBe(first[0]!.headers['x-amz-firehose-request-id']);
  await w.kill('SIGTERM');
}, 60_000);

test('a failing endpoint: the transformed records it was sent go to the error prefix as http-endpoint-failed', async () => {
  await create('down', { ProcessingConfiguration: CHAIN, RetryOptions: { DurationInSeconds: 1 }, S3BackupMode: 'FailedDataOnly', EndpointConfiguration: { Url: 'http://127.0.0.1:9/nowhere' } });
  await put('down', ['{"v":"x"}', '{"v":"fail y"}']);
  const w = worker('down');
  const http = await objects('down-err/http-endpoint-failed/', 1);
  const lines = [...http.values()][0]!.split('\n').filter(Boolean).map((l) => JSON.parse(l));
  expect(lines.map((l) => Buffer.from(l.rawData, 'base64').toString())).toEqual(['{"V":"X"}\n']);
  expect(lines[0]).toMatchObject({ errorCode: 'HttpEndpoint.RequestTimeout', EndpointUrl: 'http://127.0.0.1:9/nowhere' });
  const proc = await objects('down-err/processing-failed/', 1);
  expect(Buffer.from(JSON.parse([...proc.values()][0]!.split('\n')[0]!).rawData, 'base64').toString()).toBe('{"v":"fail y"}');
  await w.kill('SIGTERM');
}, 60_000);

test('UpdateDestination adds a chain to a running stream; refusals for processors an HTTP endpoint cannot run', async () => {
  const d = await create('later');
  expect(d.Destinations![0]!.HttpEndpointDestinationDescription!.ProcessingConfiguration).toEqual({ Enabled: false, Processors: [] });
  const w = worker('later');
  await put('later', ['before']);
  await until('the first request', () => seen.get('/later')?.[0]);
  await fh.send(new UpdateDestinationCommand({
    DeliveryStreamName: 'later', CurrentDeliveryStreamVersionId: d.VersionId!, DestinationId: d.Destinations![0]!.DestinationId!,
    HttpEndpointDestinationUpdate: { ProcessingConfiguration: { Enabled: true, Processors: [proc('Lambda', { LambdaArn: FN_ARN })] } },
  }));
  const after = (await fh.send(new DescribeDeliveryStreamCommand({ DeliveryStreamName: 'later' }))).DeliveryStreamDescription!;
  const h = after.Destinations![0]!.HttpEndpointDestinationDescription!;
  expect(h.ProcessingConfiguration).toEqual({ Enabled: true, Processors: [proc('Lambda', { LambdaArn: FN_ARN })] });
  // The rest of the destination is kept.
  expect(h).toMatchObject({ EndpointConfiguration: { Url: `${endpoint.url}/later`, Name: 'collector' }, S3BackupMode: 'AllData' });
  // The worker re-reads the definition for the next flush.
  await new Promise((r) => setTimeout(r, 1500));
  await put('later', ['after']);
  const next = await until('the transformed request', () => seen.get('/later')?.[1]);
  expect(sent(seen.get('/later')![0]!)).toEqual(['before']);
  expect(sent(next)).toEqual(['AFTER']);
  await w.kill('SIGTERM');

  const refused = async (processors: Processor[]) => fh.send(new CreateDeliveryStreamCommand({
    DeliveryStreamName: 'refused',
    HttpEndpointDestinationConfiguration: {
      EndpointConfiguration: { Url: `${endpoint.url}/refused` },
      ProcessingConfiguration: { Enabled: true, Processors: processors },
      S3Configuration: { RoleARN: ROLE, BucketARN: `arn:aws:s3:::${BUCKET}` },
    },
  })).catch((e) => e);
  const jq = await refused([proc('MetadataExtraction', { MetadataExtractionQuery: '{k:.k}', JsonParsingEngine: 'JQ-1.6' })]);
  expect(jq).toBeInstanceOf(InvalidArgumentException);
  expect(jq.message).toBe('MetadataExtraction processor is only supported when Dynamic Partitioning is enabled.');
  const size = await refused([proc('Lambda', { LambdaArn: FN_ARN, BufferSizeInMBs: '5' })]);
  expect(size).toBeInstanceOf(InvalidArgumentException);
  expect(size.message).toContain('BufferSizeInMBs');
  const other = await refused([proc('Decompression', { CompressionFormat: 'GZIP' })]);
  expect(other).toBeInstanceOf(InvalidArgumentException);
  const stale = await fh.send(new UpdateDestinationCommand({
    DeliveryStreamName: 'later', CurrentDeliveryStreamVersionId: after.VersionId!, DestinationId: d.Destinations![0]!.DestinationId!,
    HttpEndpointDestinationUpdate: { ProcessingConfiguration: { Enabled: true, Processors: [proc('Lambda', {})] } },
  })).catch((e) => e);
  expect(stale).toBeInstanceOf(InvalidArgumentException);
  expect(stale.message).toBe('LambdaArn is a required parameter of a Lambda processor.');
}, 60_000);

test('ExecuteProcessing metrics for an HTTP endpoint stream: every invocation counted (a failed one and its retry), success, duration', async () => {
  const FLAKY = 'arn:aws:lambda:us-east-1:000000000000:function:flaky';
  let calls = 0;
  // Fails its first invocation (HTTP 500: Lambda.FunctionError), then passes records through.
  const flaky = await jsonServer((event) => {
    calls++;
    if (calls === 1) return [500, { errorMessage: 'cold' }];
    return [200, { records: event.records.map((r: any) => ({ recordId: r.recordId, result: 'Ok', data: r.data })) }];
  });
  try {
    await create('metered', { ProcessingConfiguration: { Enabled: true, Processors: [proc('Lambda', { LambdaArn: FLAKY, NumberOfRetries: '1' })] } });
    const port = await freePort();
    stack.worker('metered', { config: { functions: { [FLAKY]: `${flaky.url}/invoke` } }, args: ['--metrics-port', String(port)], env: { SHARDLINE_HTTP_BACKOFF_UNIT_MS: '100' } });
    await fh.send(new PutRecordBatchCommand({ DeliveryStreamName: 'metered', Records: [{ Data: Buffer.from('{"a":1}') }, { Data: Buffer.from('{"a":2}') }] }));
    await waitFor('the request', () => (seen.get('/metered')?.length ? true : undefined));
    expect(seen.get('/metered')![0]!.body.records.map((r: any) => Buffer.from(r.data, 'base64').toString())).toEqual(['{"a":1}', '{"a":2}']);
    const valueIn = (text: string, name: string) => Number(new RegExp(`^${name}\\{delivery_stream="metered"\\} (\\S+)$`, 'm').exec(text)?.[1]);
    // The endpoint's 200 is counted once the worker has read it: wait for that.
    const text = await waitFor('the delivery in the metrics', async () => {
      const t = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      return valueIn(t, 'shardline_firehose_delivery_to_http_endpoint_records_total') === 2 ? t : undefined;
    });
    const value = (name: string) => valueIn(text, name);
    expect(calls).toBe(2);
    expect(value('shardline_firehose_execute_processing_invocations_total')).toBe(2);
    expect(value('shardline_firehose_execute_processing_success_total')).toBe(1);
    expect(value('shardline_firehose_execute_processing_duration_seconds_count')).toBe(2);
    expect(value('shardline_firehose_execute_processing_duration_seconds_sum')).toBeGreaterThan(0);
    expect(value('shardline_firehose_delivery_to_http_endpoint_records_total')).toBe(2);
  } finally {
    await flaky.close();
  }
}, 60_000);
