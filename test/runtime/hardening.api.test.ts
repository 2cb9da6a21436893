// Issue 12 faults 1, 2, 4 and 8, reproduced against a real runtime on a real
// nats-server: ARN name parts that used to reach a KV key (HTTP 500), the
// GetRecords resource-policy bypass through a foreign StreamARN, an
// UNSIGNED-PAYLOAD request replayed with another target and body, and a
// DELETING consumer blocking DeleteStream.
import { createHash, createHmac } from 'node:crypto';
import {
  CreateStreamCommand, DeleteResourcePolicyCommand, DeleteStreamCommand, DeregisterStreamConsumerCommand,
  DescribeStreamConsumerCommand, GetRecordsCommand, GetShardIteratorCommand, KinesisClient, PutRecordCommand,
  PutResourcePolicyCommand, RegisterStreamConsumerCommand,
} from '@aws-sdk/client-kinesis';
import { startInProcess, startStack, type Stack } from '../harness/runtime.js';
import type { RunningRuntime } from '../../runtime/server.js';
import { RULES } from '../../runtime/api/validation/rules/index.js';
import { readStream } from '../../stream/streams.js';
import { ACCOUNT, arnOf, call, validRequests } from './requests.helpers.js';

let stack: Stack;
let endpoint: string;
let client: KinesisClient;
/** Auth on: AKIDA is the owner, AKIDB the principal policies deny. */
let authed: RunningRuntime & { endpoint: string };
let alice: KinesisClient;
let bob: KinesisClient;

const asUser = (endpoint: string, accessKeyId: string, secretAccessKey: string) =>
  new KinesisClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId, secretAccessKey }, maxAttempts: 1 });

beforeAll(async () => {
  stack = await startStack(1);
  endpoint = stack.runtimes[0]!.endpoint;
  client = stack.clients[0]!;
  authed = await startInProcess(stack.nats.url, { credentials: 'AKIDA:secret-a,AKIDB:secret-b' });
  alice = asUser(authed.endpoint, 'AKIDA', 'secret-a');
  bob = asUser(authed.endpoint, 'AKIDB', 'secret-b');
});
afterAll(async () => {
  alice?.destroy();
  bob?.destroy();
  await authed?.close();
  await stack?.stop();
});

describe('fault 1: ARN name parts are validated before anything is looked up', () => {
  const ARN_MEMBERS = ['StreamARN', 'ResourceARN', 'ConsumerARN'] as const;
  const opsWithArns = Object.keys(RULES).filter((op) => ARN_MEMBERS.some((m) => m in RULES[op]!));

  test('DescribeStreamSummary with stream/fz1% answers InvalidArgumentException (was 500 InternalFailure)', async () => {
    const arn = `${arnOf('fz1')}%`;
    const r = await call(endpoint, 'DescribeStreamSummary', { StreamARN: arn });
    expect(r).toMatchObject({ status: 400, json: { __type: 'InvalidArgumentException', message: `StreamARN ${arn} is invalid.` } });
  });

  test.each(['%', 'é', '*', '>', ':', '/x'])('every operation taking an ARN answers a client error for name part "fz1%s"', async (bad) => {
    await client.send(new CreateStreamCommand({ StreamName: 'fz1', ShardCount: 1 })).catch(() => undefined);
    expect(opsWithArns.length).toBeGreaterThanOrEqual(28);
    const base = validRequests({ stream: 'fz1', consumerArn: `${arnOf('fz1')}/consumer/c:1`, iterator: 'x' });
    const answers: string[] = [];
    for (const op of opsWithArns) {
      for (const member of ARN_MEMBERS) {
        if (!(member in RULES[op]!)) continue;
        const arn =
          member === 'ConsumerARN' ? `${arnOf('fz1')}/consumer/c${bad}:1` : `${arnOf(`fz1${bad}`)}`;
        const body: Record<string, unknown> = { ...(base[op] ?? {}), [member]: arn };
        delete body.StreamName;
        if (member === 'StreamARN') delete body.ConsumerARN;
        const r = await call(endpoint, op, body);
        answers.push(`${op}.${member} ${r.status} ${r.json.__type}`);
        expect({ op, member, status: r.status }).toEqual({ op, member, status: 400 });
        expect(['InvalidArgumentException', 'ResourceNotFoundException', 'ValidationException', 'UnknownOperationException']).toContain(r.json.__type);
      }
    }
    expect(answers.length).toBeGreaterThanOrEqual(28);
  });

  test('a forged ListShards NextToken is checked like any input (stream name, filter)', async () => {
    const token = (v: object) => Buffer.from(JSON.stringify({ after: '', issuedAtMs: Date.now(), ...v })).toString('base64');
    for (const t of [token({ stream: 'fz1%' }), token({ stream: 'fz1', filter: { Type: 'BOGUS' } }), token({ stream: 'fz1', filter: { Type: 'AT_TIMESTAMP', Timestamp: 'x' } }), token({ stream: 42 })]) {
      const r = await call(endpoint, 'ListShards', { NextToken: t });
      expect({ status: r.status, type: r.json.__type }).toEqual({ status: 400, type: 'InvalidArgumentException' });
    }
  });

  test('the stream library treats a name no stream can have as absent, never as a KV key', async () => {
    const store = stack.runtimes[0]!.ctx.store;
    for (const name of ['fz1%', 'a b', 'é', 'x>', 'a*', '', 'a'.repeat(129)]) {
      await expect(readStream(store.streams, name)).resolves.toBeUndefined();
    }
  });
});

describe('fault 2: resource policies and GetRecords', () => {
  const denyBob = (actions: string[]) =>
    JSON.stringify({
      Version: '2012-10-17',
      Statement: [{ Effect: 'Deny', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:user/AKIDB` }, Action: actions, Resource: arnOf('pol') }],
    });

  test('a Deny on GetRecords cannot be bypassed with another StreamARN', async () => {
    await alice.send(new CreateStreamCommand({ StreamName: 'pol', ShardCount: 1 }));
    await alice.send(new CreateStreamCommand({ StreamName: 'other', ShardCount: 1 }));
    await alice.send(new PutRecordCommand({ StreamName: 'pol', PartitionKey: 'k', Data: Buffer.from('secret') }));
    await alice.send(new PutResourcePolicyCommand({ ResourceARN: arnOf('pol'), Policy: denyBob(['kinesis:GetRecords']) }));
    const it = (await bob.send(new GetShardIteratorCommand({ StreamName: 'pol', ShardId: 'shardId-000000000000', ShardIteratorType: 'TRIM_HORIZON' }))).ShardIterator!;
    await expect(bob.send(new GetRecordsCommand({ ShardIterator: it }))).rejects.toMatchObject({ name: 'AccessDeniedException' });
    for (const foreign of [arnOf('other'), arnOf('does-not-exist'), 'arn:aws:kinesis:eu-west-1:000000000000:stream/pol', 'arn:aws:kinesis:us-east-1:111111111111:stream/pol']) {
      const e = await bob.send(new GetRecordsCommand({ ShardIterator: it, StreamARN: foreign })).catch((x) => x);
      expect({ foreign, name: e.name }).toEqual({ foreign, name: 'AccessDeniedException' });
    }
    // The owner reads, with or without the matching StreamARN.
    const own = await alice.send(new GetRecordsCommand({ ShardIterator: it, StreamARN: arnOf('pol') }));
    expect(own.Records!.map((r) => Buffer.from(r.Data!).toString())).toEqual(['secret']);
  });

  test('a StreamARN that does not match the iterator is refused, with or without auth', async () => {
    await client.send(new CreateStreamCommand({ StreamName: 'g1', ShardCount: 1 }));
    await client.send(new CreateStreamCommand({ StreamName: 'g2', ShardCount: 1 }));
    await client.send(new PutRecordCommand({ StreamName: 'g1', PartitionKey: 'k', Data: Buffer.from('v') }));
    const it = (await client.send(new GetShardIteratorCommand({ StreamName: 'g1', ShardId: 'shardId-000000000000', ShardIteratorType: 'TRIM_HORIZON' }))).ShardIterator!;
    const r = await call(endpoint, 'GetRecords', { ShardIterator: it, StreamARN: arnOf('g2') });
    expect(r).toMatchObject({ status: 400, json: { __type: 'InvalidArgumentException', message: `StreamARN ${arnOf('g2')} does not match the stream of the shard iterator.` } });
    expect((await call(endpoint, 'GetRecords', { ShardIterator: it, StreamARN: arnOf('nope') })).json.__type).toBe('InvalidArgumentException');
    expect((await call(endpoint, 'GetRecords', { ShardIterator: it, StreamARN: 'arn:aws:kinesis:eu-west-1:000000000000:stream/g1' })).status).toBe(400);
    const ok = await call(endpoint, 'GetRecords', { ShardIterator: it, StreamARN: arnOf('g1') });
    expect(ok.status).toBe(200);
    expect(ok.json.Records).toHaveLength(1);
    // With auth on, the owner gets the same refusal.
    const it2 = (await alice.send(new GetShardIteratorCommand({ StreamName: 'other', ShardId: 'shardId-000000000000', ShardIteratorType: 'TRIM_HORIZON' }))).ShardIterator!;
    await expect(alice.send(new GetRecordsCommand({ ShardIterator: it2, StreamARN: arnOf('pol') }))).rejects.toMatchObject({ name: 'InvalidArgumentException' });
  });

  test('as on AWS, a policy governs its own management: deny the policy actions to keep a denied writer from removing it', async () => {
    await alice.send(new CreateStreamCommand({ StreamName: 'pol2', ShardCount: 1 }));
    const onlyPut = JSON.stringify({ Statement: [{ Effect: 'Deny', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:user/AKIDB` }, Action: 'kinesis:PutRecord' }] });
    await alice.send(new PutResourcePolicyCommand({ ResourceARN: arnOf('pol2'), Policy: onlyPut }));
    await expect(bob.send(new PutRecordCommand({ StreamName: 'pol2', PartitionKey: 'k', Data: Buffer.from('x') }))).rejects.toMatchObject({ name: 'AccessDeniedException' });
    // Documented AWS behaviour: PutRecord alone does not cover the policy actions.
    await bob.send(new DeleteResourcePolicyCommand({ ResourceARN: arnOf('pol2') }));
    await expect(bob.send(new PutRecordCommand({ StreamName: 'pol2', PartitionKey: 'k', Data: Buffer.from('x') }))).resolves.toMatchObject({ ShardId: 'shardId-000000000000' });
    // Denying the policy actions as well protects the policy.
    const guarded = JSON.stringify({
      Statement: [{ Effect: 'Deny', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:user/AKIDB` }, Action: ['kinesis:PutRecord', 'kinesis:*ResourcePolicy'] }],
    });
    await alice.send(new PutResourcePolicyCommand({ ResourceARN: arnOf('pol2'), Policy: guarded }));
    await expect(bob.send(new DeleteResourcePolicyCommand({ ResourceARN: arnOf('pol2') }))).rejects.toMatchObject({ name: 'AccessDeniedException' });
    await expect(bob.send(new PutResourcePolicyCommand({ ResourceARN: arnOf('pol2'), Policy: onlyPut }))).rejects.toMatchObject({ name: 'AccessDeniedException' });
    await expect(bob.send(new PutRecordCommand({ StreamName: 'pol2', PartitionKey: 'k', Data: Buffer.from('x') }))).rejects.toMatchObject({ name: 'AccessDeniedException' });
  });
});

describe('fault 4: UNSIGNED-PAYLOAD', () => {
  const hmac = (key: Buffer | string, s: string) => createHmac('sha256', key).update(s).digest();
  const sha = (s: string) => createHash('sha256').update(s).digest('hex');

  /** SigV4 by hand (an oracle independent of the verifier): only host signed, payload hash as given. */
  function signHostOnly(host: string, payloadHash: string, now: Date) {
    const amzDate = now.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
    const day = amzDate.slice(0, 8);
    const canonical = ['POST', '/', '', `host:${host}`, '', 'host', payloadHash].join('\n');
    const scope = `${day}/us-east-1/kinesis/aws4_request`;
    const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha(canonical)].join('\n');
    let key: Buffer = hmac(`AWS4secret-a`, day);
    for (const part of ['us-east-1', 'kinesis', 'aws4_request']) key = hmac(key, part);
    const signature = createHmac('sha256', key).update(toSign).digest('hex');
    return { authorization: `AWS4-HMAC-SHA256 Credential=AKIDA/${scope}, SignedHeaders=host, Signature=${signature}`, 'x-amz-date': amzDate };
  }

  test('a request signed over host with UNSIGNED-PAYLOAD cannot be replayed with another target and body', async () => {
    await alice.send(new CreateStreamCommand({ StreamName: 'unsigned', ShardCount: 1 }));
    const host = new URL(authed.endpoint).host;
    const auth = signHostOnly(host, 'UNSIGNED-PAYLOAD', new Date());
    const headers = { ...auth, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' };
    const replay = await call(authed.endpoint, 'PutRecord', { StreamName: 'unsigned', PartitionKey: 'k', Data: Buffer.from('forged') }, { headers });
    expect(replay.status).toBe(400);
    expect(replay.json.__type).toBe('InvalidSignatureException');
    const it = (await alice.send(new GetShardIteratorCommand({ StreamName: 'unsigned', ShardId: 'shardId-000000000000', ShardIteratorType: 'TRIM_HORIZON' }))).ShardIterator!;
    expect((await alice.send(new GetRecordsCommand({ ShardIterator: it }))).Records).toHaveLength(0);
    // The same hand-made signature over the body's real hash is accepted: the oracle is right.
    const body = JSON.stringify({ StreamName: 'unsigned', PartitionKey: 'k', Data: Buffer.from('signed').toString('base64') });
    const good = signHostOnly(host, sha(body), new Date());
    const ok = await call(authed.endpoint, 'PutRecord', Buffer.from(body), { headers: good });
    expect(ok.status).toBe(200);
  });
});

describe('fault 8: a DELETING consumer does not block DeleteStream', () => {
  test('DeleteStream succeeds while the only consumer is DELETING; an ACTIVE one still blocks', async () => {
    const slow = await startInProcess(stack.nats.url, { consumerTransitionMs: 1500 });
    const c = asUser(slow.endpoint, 'x', 'y');
    try {
      await c.send(new CreateStreamCommand({ StreamName: 'efo-del', ShardCount: 1 }));
      const { Consumer } = await c.send(new RegisterStreamConsumerCommand({ StreamARN: arnOf('efo-del'), ConsumerName: 'app' }));
      await new Promise((r) => setTimeout(r, 1600));
      await expect(c.send(new DeleteStreamCommand({ StreamName: 'efo-del' }))).rejects.toMatchObject({ name: 'ResourceInUseException' });
      await c.send(new DeregisterStreamConsumerCommand({ ConsumerARN: Consumer!.ConsumerARN }));
      const d = await c.send(new DescribeStreamConsumerCommand({ ConsumerARN: Consumer!.ConsumerARN }));
      expect(d.ConsumerDescription!.ConsumerStatus).toBe('DELETING');
      await c.send(new DeleteStreamCommand({ StreamName: 'efo-del' }));
      expect((await call(slow.endpoint, 'DescribeStreamSummary', { StreamName: 'efo-del' })).json.__type).toBe('ResourceNotFoundException');
    } finally {
      c.destroy();
      await slow.close();
    }
  });
});
