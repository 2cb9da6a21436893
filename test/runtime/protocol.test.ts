// HTTP-level framing as AWS (and kinesalite) frame it: request ids on every
// response, 413 for oversize bodies, AccessDenied for GET, UnknownOperation,
// SerializationException, and validation errors through the real SDK. After
// each, the process must still serve the next request.
import http from 'node:http';
import http2 from 'node:http2';
import {
  CreateStreamCommand, KinesisClient, ListStreamsCommand, PutRecordCommand, PutRecordsCommand, ValidationException,
} from '@aws-sdk/client-kinesis';
import { startNats, type NatsServers } from '../harness/nats.js';
import { sdkClient, startInProcess } from '../harness/runtime.js';
import type { RunningRuntime } from '../../runtime/server.js';
import { withoutQuotas } from './records.helpers.js';

const JSON_CT = 'application/x-amz-json-1.1';
const MAX_BODY = 4 * 1024 * 1024;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const STREAM = 'protocol';

let nats: NatsServers;
let rt: RunningRuntime & { endpoint: string };
let h1: KinesisClient;
let h2: KinesisClient;

beforeAll(async () => {
  nats = await startNats();
  rt = await startInProcess(nats.url, { maxBodyBytes: MAX_BODY });
  h1 = sdkClient(rt.endpoint, { http1: true });
  h2 = sdkClient(rt.endpoint);
  await h1.send(new CreateStreamCommand({ StreamName: STREAM, ShardCount: 1 }));
  // MiB-sized records back to back: more than a shard's 1 MiB/s write limit.
  await withoutQuotas(rt.ctx.store, STREAM, [h1, h2]);
});
afterAll(async () => {
  h1?.destroy();
  h2?.destroy();
  await rt?.close();
  await nats?.stop();
});

interface Reply { status: number; headers: Record<string, string | string[] | undefined>; body: string }

function raw(opts: { method?: string; target?: string; contentType?: string; body?: Buffer | string; path?: string }): Promise<Reply> {
  const headers: Record<string, string | number> = {};
  if (opts.target !== undefined) headers['x-amz-target'] = opts.target;
  if (opts.contentType !== undefined) headers['content-type'] = opts.contentType;
  const body = opts.body === undefined ? undefined : Buffer.from(opts.body);
  if (body) headers['content-length'] = body.length;
  return new Promise((resolve, reject) => {
    const req = http.request(`${rt.endpoint}${opts.path ?? '/'}`, { method: opts.method ?? 'POST', headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

function rawH2(opts: { target: string; body: Buffer }): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(rt.endpoint);
    session.on('error', reject);
    const req = session.request({
      ':method': 'POST', ':path': '/', 'content-type': JSON_CT, 'x-amz-target': opts.target, 'content-length': opts.body.length,
    });
    let status = 0;
    let headers: Record<string, string | string[] | undefined> = {};
    const chunks: Buffer[] = [];
    req.on('response', (h) => {
      status = Number(h[':status']);
      headers = h as typeof headers;
    });
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      session.close();
      resolve({ status, headers, body: Buffer.concat(chunks).toString('utf8') });
    });
    req.on('error', (e) => {
      session.close();
      // The server may answer 413 and reset the rest of the upload; a status already seen is the answer.
      if (status) resolve({ status, headers, body: Buffer.concat(chunks).toString('utf8') });
      else reject(e);
    });
    req.end(opts.body);
  });
}

const json = (target: string, body: unknown) => raw({ target: `Kinesis_20131202.${target}`, contentType: JSON_CT, body: JSON.stringify(body) });

function expectRequestId(r: Reply) {
  expect(r.headers['x-amzn-requestid']).toMatch(UUID);
}

/** The process still serves: a normal request succeeds (raw HTTP/1.1 and the SDK on h2c). */
async function stillServing() {
  const r = await json('ListStreams', {});
  expect(r.status).toBe(200);
  expect(JSON.parse(r.body).StreamNames).toContain(STREAM);
  const l = await h2.send(new ListStreamsCommand({}));
  expect(l.StreamNames).toContain(STREAM);
}

describe('x-amzn-RequestId', () => {
  test('on a success, distinct per request, and what the SDK reports', async () => {
    const a = await json('ListStreams', {});
    const b = await json('ListStreams', {});
    expect(a.status).toBe(200);
    expect(a.headers['content-type']).toBe(JSON_CT);
    expectRequestId(a);
    expectRequestId(b);
    expect(a.headers['x-amzn-requestid']).not.toBe(b.headers['x-amzn-requestid']);
    const out = await h1.send(new ListStreamsCommand({}));
    expect(out.$metadata.requestId).toMatch(UUID);
  });

  test('on an error', async () => {
    const r = await json('DescribeStream', { StreamName: 'nope' });
    expect(r.status).toBe(400);
    expectRequestId(r);
    expect(JSON.parse(r.body)).toEqual({ __type: 'ResourceNotFoundException', message: 'Stream nope under account 000000000000 not found.' });
  });
});

describe('oversize bodies', () => {
  const over = Buffer.alloc(MAX_BODY + 1, 0x20);

  test('HTTP/1.1: 413 with a request id, then the process serves on', async () => {
    const r = await raw({ target: 'Kinesis_20131202.PutRecord', contentType: JSON_CT, body: over });
    expect(r.status).toBe(413);
    expectRequestId(r);
    await stillServing();
  });

  test('HTTP/2: 413 with a request id, then the process serves on', async () => {
    const r = await rawH2({ target: 'Kinesis_20131202.PutRecords', body: over });
    expect(r.status).toBe(413);
    expectRequestId(r);
    await stillServing();
  });

  test('h2c: a large upload is not held back by Nagle (each WINDOW_UPDATE sent at once)', async () => {
    // 2 × 1 MiB records ≈ 2.8 MB of JSON: ~45 flow-control windows. With Nagle
    // on the connection each window cost a delayed ACK (~40-70 ms): seconds.
    const t0 = Date.now();
    const r = await h2.send(new PutRecordsCommand({
      StreamName: STREAM, Records: [1, 2].map((b) => ({ PartitionKey: 'p', Data: Buffer.alloc(1024 * 1024, b) })),
    }));
    expect(r.FailedRecordCount).toBe(0);
    expect(Date.now() - t0).toBeLessThan(1500);
  });

  test('a body of exactly the limit is read (and judged on its content)', async () => {
    const r = await raw({ target: 'Kinesis_20131202.PutRecord', contentType: JSON_CT, body: Buffer.alloc(MAX_BODY, 0x20) });
    expect(r.status).toBe(400);
    expect(JSON.parse(r.body).__type).toBe('SerializationException');
    expectRequestId(r);
  });
});

describe('framing errors', () => {
  test('GET is AccessDeniedException (403, XML)', async () => {
    for (const path of ['/', '/anything?x=1']) {
      const r = await raw({ method: 'GET', path });
      expect(r.status).toBe(403);
      expectRequestId(r);
      expect(r.body).toBe('<AccessDeniedException>\n  <Message>Unable to determine service/operation name to be authorized</Message>\n</AccessDeniedException>\n');
    }
    await stillServing();
  });

  test('health routes still answer GET', async () => {
    expect((await raw({ method: 'GET', path: '/healthz' })).status).toBe(200);
    expect((await raw({ method: 'GET', path: '/readyz' })).status).toBe(200);
  });

  test.each([
    ['an unknown operation', 'Kinesis_20131202.MakeCoffee'],
    ['another service', 'DynamoDB_20120810.ListTables'],
    ['no operation', 'Kinesis_20131202'],
  ])('%s is UnknownOperationException', async (_label, target) => {
    const r = await raw({ target, contentType: JSON_CT, body: '{}' });
    expect(r.status).toBe(400);
    expect(r.headers['content-type']).toBe(JSON_CT);
    expectRequestId(r);
    expect(JSON.parse(r.body)).toEqual({ __type: 'UnknownOperationException' });
    await stillServing();
  });

  test.each([
    ['truncated', '{"StreamName": "protocol"'],
    ['not JSON', 'StreamName=protocol'],
    ['a JSON array', '["StreamName"]'],
    ['a JSON string', '"protocol"'],
    ['null', 'null'],
  ])('malformed JSON (%s) is SerializationException', async (_label, body) => {
    const r = await raw({ target: 'Kinesis_20131202.DescribeStream', contentType: JSON_CT, body });
    expect(r.status).toBe(400);
    expect(r.headers['content-type']).toBe(JSON_CT);
    expectRequestId(r);
    expect(JSON.parse(r.body).__type).toBe('SerializationException');
    await stillServing();
  });

  test('an empty body is SerializationException for a known operation', async () => {
    const r = await raw({ target: 'Kinesis_20131202.ListStreams', contentType: JSON_CT, body: '' });
    expect(r.status).toBe(400);
    expect(JSON.parse(r.body).__type).toBe('SerializationException');
  });
});

describe('validation through the SDK', () => {
  test.each([
    ['HTTP/1.1', () => h1],
    ['h2c', () => h2],
  ])('%s: PartitionKey of 257 characters is ValidationException (400, AWS wording)', async (_label, c) => {
    const pk = 'k'.repeat(257);
    const e = await c().send(new PutRecordCommand({ StreamName: STREAM, PartitionKey: pk, Data: Buffer.from('x') })).catch((x) => x);
    expect(e).toBeInstanceOf(ValidationException);
    expect(e.$metadata.httpStatusCode).toBe(400);
    expect(e.$metadata.requestId).toMatch(UUID);
    expect(e.message).toBe(
      `1 validation error detected: Value '${pk}' at 'partitionKey' failed to satisfy constraint: Member must have length less than or equal to 256`,
    );
    await stillServing();
  });

  test.each([
    ['HTTP/1.1', () => h1],
    ['h2c', () => h2],
  ])('%s: a 2 MiB record is ValidationException, in PutRecord and PutRecords', async (_label, c) => {
    const big = Buffer.alloc(2 * 1024 * 1024, 7);
    const limit = 'Member must have length less than or equal to 1048576';
    const one = await c().send(new PutRecordCommand({ StreamName: STREAM, PartitionKey: 'p', Data: big })).catch((x) => x);
    expect(one).toBeInstanceOf(ValidationException);
    expect(one.$metadata.httpStatusCode).toBe(400);
    expect(one.message).toBe(
      `1 validation error detected: Value 'java.nio.HeapByteBuffer[pos=0 lim=2097152 cap=2097152]' at 'data' failed to satisfy constraint: ${limit}`,
    );
    const many = await c().send(new PutRecordsCommand({
      StreamName: STREAM, Records: [{ PartitionKey: 'p', Data: Buffer.from('small') }, { PartitionKey: 'p', Data: big }],
    })).catch((x) => x);
    expect(many).toBeInstanceOf(ValidationException);
    expect(many.message).toContain(`at 'records.2.member.data' failed to satisfy constraint: ${limit}`);
    // A record of exactly 1 MiB is accepted.
    const max = await c().send(new PutRecordCommand({ StreamName: STREAM, PartitionKey: 'p', Data: Buffer.alloc(1024 * 1024, 1) }));
    expect(max.SequenceNumber).toMatch(/^49\d+$/);
    await stillServing();
  });
});
