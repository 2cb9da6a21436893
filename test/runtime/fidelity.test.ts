// Issue 14: Kinesis API fidelity defects found by running a peer's Kinesis
// suite against the endpoint. Each test reproduces one item against a real
// runtime on a real nats-server, through raw HTTP where wire details matter.
import {
  CreateStreamCommand, GetRecordsCommand, GetShardIteratorCommand, KinesisClient, PutRecordCommand,
} from '@aws-sdk/client-kinesis';
import { encodeSequence } from '../../stream/kinesis/sequence.js';
import { startInProcess, startStack, type Stack } from '../harness/runtime.js';
import type { RunningRuntime } from '../../runtime/server.js';
import { ACCOUNT, call } from './requests.helpers.js';

let stack: Stack;
let endpoint: string;
let client: KinesisClient;
let authed: RunningRuntime & { endpoint: string };

beforeAll(async () => {
  stack = await startStack(1);
  endpoint = stack.runtimes[0]!.endpoint;
  client = stack.clients[0]!;
  authed = await startInProcess(stack.nats.url, { credentials: 'AKIDFID:secret' });
});
afterAll(async () => {
  await authed?.close();
  await stack?.stop();
});

async function create(name: string, shards: number) {
  await client.send(new CreateStreamCommand({ StreamName: name, ShardCount: shards }));
}

const error = (type: string, message: string) => ({ status: 400, json: { __type: type, message } });

describe('1. SplitShard hash key bounds', () => {
  test('refuses EndingHashKey and StartingHashKey + 1 with AWS message; accepts the keys just inside', async () => {
    await create('sp3', 3);
    const end = '113427455640312821154458202477256070484';
    const atEnd = await call(endpoint, 'SplitShard', { StreamName: 'sp3', ShardToSplit: 'shardId-000000000000', NewStartingHashKey: end });
    expect(atEnd).toMatchObject(
      error(
        'InvalidArgumentException',
        `NewStartingHashKey ${end} used in SplitShard() on shard shardId-000000000000 in stream sp3 under account ${ACCOUNT} is not both greater than one plus the shard's StartingHashKey 0 and less than the shard's EndingHashKey ${end}.`,
      ),
    );
    const onePlus = await call(endpoint, 'SplitShard', { StreamName: 'sp3', ShardToSplit: 'shardId-000000000000', NewStartingHashKey: '1' });
    expect(onePlus.json.__type).toBe('InvalidArgumentException');
    // The largest allowed key: EndingHashKey - 1 (the upper child then covers two keys).
    const ok = await call(endpoint, 'SplitShard', { StreamName: 'sp3', ShardToSplit: 'shardId-000000000000', NewStartingHashKey: (BigInt(end) - 1n).toString() });
    expect(ok.status).toBe(200);
    const shards = (await call(endpoint, 'ListShards', { StreamName: 'sp3' })).json.Shards as { ShardId: string; HashKeyRange: { StartingHashKey: string; EndingHashKey: string } }[];
    const upper = shards.find((s) => s.HashKeyRange.StartingHashKey === (BigInt(end) - 1n).toString())!;
    expect(BigInt(upper.HashKeyRange.EndingHashKey) - BigInt(upper.HashKeyRange.StartingHashKey)).toBe(1n);
    // The smallest allowed key: StartingHashKey + 2.
    const low = await call(endpoint, 'SplitShard', { StreamName: 'sp3', ShardToSplit: 'shardId-000000000001', NewStartingHashKey: (BigInt(end) + 3n).toString() });
    expect(low.status).toBe(200);
  });
});

describe('2. SequenceNumberForOrdering', () => {
  test('a value that is no sequence number of the stream, or above all of them, is InvalidArgumentException', async () => {
    await create('ord', 1);
    const bogus = '49039857307708443467467104868809893875799651909875269632';
    expect(await call(endpoint, 'PutRecord', { StreamName: 'ord', PartitionKey: 'a', Data: '', SequenceNumberForOrdering: bogus })).toMatchObject(
      error('InvalidArgumentException', `ExclusiveMinimumSequenceNumber ${bogus} used in PutRecord on stream ord under account ${ACCOUNT} is invalid.`),
    );
    const first = await client.send(new PutRecordCommand({ StreamName: 'ord', PartitionKey: 'a', Data: Buffer.from('1') }));
    // Well-formed, this shard, but beyond every stored record: could not be honoured.
    const beyond = encodeSequence({ shardIndex: 0, jsSeq: 1_000_000, index: 0 });
    expect((await call(endpoint, 'PutRecord', { StreamName: 'ord', PartitionKey: 'a', Data: '', SequenceNumberForOrdering: beyond })).json.__type).toBe('InvalidArgumentException');
    // A shard this stream does not have.
    const otherShard = encodeSequence({ shardIndex: 7, jsSeq: 1, index: 0 });
    expect((await call(endpoint, 'PutRecord', { StreamName: 'ord', PartitionKey: 'a', Data: '', SequenceNumberForOrdering: otherShard })).json.__type).toBe('InvalidArgumentException');
    // The index past the last record of the last message is beyond too.
    const d = first.SequenceNumber!;
    const pastIndex = d.slice(0, -5) + '00001';
    expect((await call(endpoint, 'PutRecord', { StreamName: 'ord', PartitionKey: 'a', Data: '', SequenceNumberForOrdering: pastIndex })).json.__type).toBe('InvalidArgumentException');
  });

  test('a valid value is honoured: the new record comes after it', async () => {
    await create('ord2', 1);
    let prev = (await client.send(new PutRecordCommand({ StreamName: 'ord2', PartitionKey: 'k', Data: Buffer.from('0') }))).SequenceNumber!;
    for (let i = 1; i <= 5; i++) {
      const r = await client.send(new PutRecordCommand({ StreamName: 'ord2', PartitionKey: 'k', Data: Buffer.from(String(i)), SequenceNumberForOrdering: prev }));
      expect(BigInt(r.SequenceNumber!)).toBeGreaterThan(BigInt(prev));
      prev = r.SequenceNumber!;
    }
    // The shard's StartingSequenceNumber is a sequence number of the stream too.
    const start = (await call(endpoint, 'ListShards', { StreamName: 'ord2' })).json.Shards[0].SequenceNumberRange.StartingSequenceNumber;
    expect((await call(endpoint, 'PutRecord', { StreamName: 'ord2', PartitionKey: 'k', Data: '', SequenceNumberForOrdering: start })).status).toBe(200);
  });
});

describe('3 and 4. Reshard errors name the shard and the account', () => {
  test('SplitShard / MergeShards on a missing shard of an existing stream', async () => {
    await create('m', 3);
    const missing = error('ResourceNotFoundException', `Could not find shard shardId-000000000009 in stream m under account ${ACCOUNT}.`);
    expect(await call(endpoint, 'SplitShard', { StreamName: 'm', ShardToSplit: 'shardId-000000000009', NewStartingHashKey: '5' })).toMatchObject(missing);
    expect(await call(endpoint, 'MergeShards', { StreamName: 'm', ShardToMerge: 'shardId-000000000000', AdjacentShardToMerge: 'shardId-000000000009' })).toMatchObject(missing);
    // A missing stream is still the stream's error.
    expect(await call(endpoint, 'SplitShard', { StreamName: 'nope', ShardToSplit: 'shardId-000000000000', NewStartingHashKey: '5' })).toMatchObject(
      error('ResourceNotFoundException', `Stream nope under account ${ACCOUNT} not found.`),
    );
  });

  test('MergeShards of non-adjacent shards, and a shard already split', async () => {
    expect(await call(endpoint, 'MergeShards', { StreamName: 'm', ShardToMerge: 'shardId-000000000000', AdjacentShardToMerge: 'shardId-000000000002' })).toMatchObject(
      error(
        'InvalidArgumentException',
        `Shards shardId-000000000000 and shardId-000000000002 in stream m under account ${ACCOUNT} are not an adjacent pair of shards eligible for merging`,
      ),
    );
    expect((await call(endpoint, 'MergeShards', { StreamName: 'm', ShardToMerge: 'shardId-000000000000', AdjacentShardToMerge: 'shardId-000000000001' })).status).toBe(200);
    expect(await call(endpoint, 'SplitShard', { StreamName: 'm', ShardToSplit: 'shardId-000000000000', NewStartingHashKey: '5' })).toMatchObject(
      error(
        'InvalidArgumentException',
        `Shard shardId-000000000000 in stream m under account ${ACCOUNT} has already been merged or split, and thus is not eligible for merging or splitting.`,
      ),
    );
  });
});

describe('5. Tag operations on a missing stream', () => {
  test('ResourceNotFoundException comes before the tag character check', async () => {
    const notFound = error('ResourceNotFoundException', `Stream missing under account ${ACCOUNT} not found.`);
    expect(await call(endpoint, 'RemoveTagsFromStream', { StreamName: 'missing', TagKeys: [';'] })).toMatchObject(notFound);
    expect(await call(endpoint, 'AddTagsToStream', { StreamName: 'missing', Tags: { 'a;': 'b' } })).toMatchObject(notFound);
    // On an existing stream the characters are still refused.
    await create('tagged', 1);
    expect((await call(endpoint, 'AddTagsToStream', { StreamName: 'tagged', Tags: { 'a;': 'b' } })).json.__type).toBe('InvalidArgumentException');
  });
});

describe('6. Wire details', () => {
  test.each(['json', 'cbor'] as const)('operations without an output shape answer 200 with an empty body (%s)', async (protocol) => {
    const s = `void-${protocol}`;
    const voids: [string, Record<string, unknown>][] = [
      ['CreateStream', { StreamName: s, ShardCount: 2 }],
      ['AddTagsToStream', { StreamName: s, Tags: { a: 'b' } }],
      ['RemoveTagsFromStream', { StreamName: s, TagKeys: ['a'] }],
      ['IncreaseStreamRetentionPeriod', { StreamName: s, RetentionPeriodHours: 48 }],
      ['DecreaseStreamRetentionPeriod', { StreamName: s, RetentionPeriodHours: 24 }],
      ['MergeShards', { StreamName: s, ShardToMerge: 'shardId-000000000000', AdjacentShardToMerge: 'shardId-000000000001' }],
      ['SplitShard', { StreamName: s, ShardToSplit: 'shardId-000000000002', NewStartingHashKey: (1n << 127n).toString() }],
      ['TagResource', { ResourceARN: `arn:aws:kinesis:us-east-1:${ACCOUNT}:stream/${s}`, Tags: { c: 'd' } }],
      ['UntagResource', { ResourceARN: `arn:aws:kinesis:us-east-1:${ACCOUNT}:stream/${s}`, TagKeys: ['c'] }],
      ['DeleteStream', { StreamName: s }],
    ];
    for (const [op, body] of voids) {
      const r = await call(endpoint, op, body, { protocol });
      expect({ op, status: r.status, length: r.body.length }).toEqual({ op, status: 200, length: 0 });
      expect(r.headers.get('content-length')).toBe('0');
      expect(r.headers.get('content-type')).toBe(`application/x-amz-${protocol}-1.1`);
      expect(r.headers.get('x-amzn-requestid')).toMatch(/^[0-9a-f-]{36}$/);
      expect(r.headers.get('x-amz-id-2')).toBeTruthy();
    }
    // Operations with an output still answer with one.
    expect((await call(endpoint, 'ListStreams', {}, { protocol })).json.StreamNames).toBeDefined();
  });

  test('with credentials configured, a malformed Authorization header is IncompleteSignatureException', async () => {
    const r = await call(authed.endpoint, 'ListStreams', {}, { headers: { authorization: 'X', 'x-amz-date': '20240101T000000Z' } });
    expect(r).toMatchObject(
      error(
        'IncompleteSignatureException',
        "Authorization header requires 'Credential' parameter. Authorization header requires 'Signature' parameter. Authorization header requires 'SignedHeaders' parameter. Authorization=X",
      ),
    );
    // No Authorization at all is still a missing token.
    expect((await call(authed.endpoint, 'ListStreams', {})).json.__type).toBe('MissingAuthenticationTokenException');
  });
});

describe('7. CORS', () => {
  test('OPTIONS with an Origin is a preflight answered with the CORS headers', async () => {
    const res = await fetch(endpoint, {
      method: 'OPTIONS',
      headers: { origin: 'https://app.example.com', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type,x-amz-target,x-amz-date,authorization' },
    });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('');
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(res.headers.get('access-control-allow-methods')).toBe('POST');
    expect(res.headers.get('access-control-allow-headers')).toBe('content-type,x-amz-target,x-amz-date,authorization');
    expect(res.headers.get('access-control-expose-headers')).toContain('x-amzn-RequestId');
    expect(res.headers.get('access-control-expose-headers')).toContain('x-amz-id-2');
    expect(res.headers.get('access-control-max-age')).toBe('172800');
    expect(res.headers.get('x-amzn-requestid')).toBeTruthy();
    // A preflight without Access-Control-Request-Headers gets the x-amz-* headers the SDK sends.
    const bare = await fetch(endpoint, { method: 'OPTIONS', headers: { origin: 'https://app.example.com' } });
    expect(bare.status).toBe(200);
    expect(bare.headers.get('access-control-allow-headers')).toContain('x-amz-target');
  });

  test('responses to requests with an Origin carry Access-Control-Allow-Origin (successes and errors, with auth on too)', async () => {
    const origin = { origin: 'https://app.example.com' };
    const ok = await call(endpoint, 'ListStreams', {}, { headers: origin });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('access-control-allow-origin')).toBe('*');
    expect(ok.headers.get('access-control-expose-headers')).toContain('x-amzn-RequestId');
    const err = await call(endpoint, 'DescribeStream', { StreamName: 'missing' }, { headers: origin });
    expect(err.status).toBe(400);
    expect(err.headers.get('access-control-allow-origin')).toBe('*');
    const denied = await call(authed.endpoint, 'ListStreams', {}, { headers: origin });
    expect(denied.json.__type).toBe('MissingAuthenticationTokenException');
    expect(denied.headers.get('access-control-allow-origin')).toBe('*');
    // Without an Origin, no CORS headers (as AWS).
    expect((await call(endpoint, 'ListStreams', {})).headers.get('access-control-allow-origin')).toBeNull();
  });
});

describe('8. Shard id forms', () => {
  test('shardId-1, <prefix>-1 and 1 resolve to shardId-000000000001; other forms are "Could not find shard"', async () => {
    await create('ids', 2);
    const half = (1n << 127n).toString();
    const put = await client.send(new PutRecordCommand({ StreamName: 'ids', PartitionKey: 'x', ExplicitHashKey: half, Data: Buffer.from('in shard 1') }));
    expect(put.ShardId).toBe('shardId-000000000001');
    for (const form of ['shardId-1', 'anything-1', '1', 'shardId-000000000001']) {
      const it = (await client.send(new GetShardIteratorCommand({ StreamName: 'ids', ShardId: form, ShardIteratorType: 'TRIM_HORIZON' }))).ShardIterator!;
      const r = await client.send(new GetRecordsCommand({ ShardIterator: it }));
      expect({ form, data: r.Records!.map((x) => Buffer.from(x.Data!).toString()) }).toEqual({ form, data: ['in shard 1'] });
    }
    expect(await call(endpoint, 'GetShardIterator', { StreamName: 'ids', ShardId: 'shardId-x', ShardIteratorType: 'LATEST' })).toMatchObject(
      error('ResourceNotFoundException', `Could not find shard shardId-x in stream ids under account ${ACCOUNT}.`),
    );
    // A well-formed id of a shard the stream does not have names the canonical id.
    expect(await call(endpoint, 'GetShardIterator', { StreamName: 'ids', ShardId: 'shardId-5', ShardIteratorType: 'LATEST' })).toMatchObject(
      error('ResourceNotFoundException', `Shard shardId-000000000005 in stream ids under account ${ACCOUNT} does not exist`),
    );
    // Reshards take the short forms as well.
    expect((await call(endpoint, 'MergeShards', { StreamName: 'ids', ShardToMerge: 'shardId-0', AdjacentShardToMerge: '1' })).status).toBe(200);
    const shards = (await call(endpoint, 'ListShards', { StreamName: 'ids' })).json.Shards as { ShardId: string; ParentShardId?: string; AdjacentParentShardId?: string }[];
    expect(shards.find((s) => s.ShardId === 'shardId-000000000002')).toMatchObject({ ParentShardId: 'shardId-000000000000', AdjacentParentShardId: 'shardId-000000000001' });
  });
});
