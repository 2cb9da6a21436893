// Server-side encryption with operator-supplied keys (the KMS stand-in):
// StartStreamEncryption / StopStreamEncryption through the real SDK, records
// sealed per JetStream message (raw stored bytes hold no plaintext), readable
// by every runtime process that has the keys, and the KMS* errors AWS answers
// when a key is unknown, disabled, pending deletion, removed or wrong.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  CreateStreamCommand, DescribeStreamCommand, DescribeStreamSummaryCommand, GetRecordsCommand, GetShardIteratorCommand,
  InvalidArgumentException, KinesisClient, KMSAccessDeniedException, KMSDisabledException, KMSInvalidStateException,
  KMSNotFoundException, PutRecordCommand, PutRecordsCommand, ResourceNotFoundException, StartStreamEncryptionCommand,
  StopStreamEncryptionCommand, type _Record,
} from '@aws-sdk/client-kinesis';
import { connect, type NatsConnection } from 'nats';
import { startNats, type NatsServers } from '../harness/nats.js';
import { sdkClient, startChild, startInProcess, type ChildRuntime } from '../harness/runtime.js';
import type { RunningRuntime } from '../../runtime/server.js';
import { KeyError, KeyRing, parseKeyEntries } from '../../stream/keyring.js';
import { isSealed, openBatch, sealBatch } from '../../stream/batchCipher.js';
import { decodeBatch, encodeBatch } from '../../stream/recordBatch.js';
import { getStream } from '../../stream/streams.js';
import { jsStreamName } from '../../stream/names.js';

const b64 = () => randomBytes(32).toString('base64');
const K1 = { id: '1234abcd-12ab-34cd-56ef-1234567890ab', key: b64() };
const K2 = { id: 'disabled-key', key: b64() };
const K3 = { id: 'doomed-key', key: b64() };
const KEYS = [
  `${K1.id}:${K1.key}`,
  `${K2.id}:${K2.key} disabled`,
  `arn:aws:kms:us-east-1:000000000000:key/${K3.id}:${K3.key} pending-deletion`,
  `alias/orders:${K1.id}`,
].join('\n');
const ACCOUNT = '000000000000';
const keyArn = (id: string) => `arn:aws:kms:us-east-1:${ACCOUNT}:key/${id}`;

type Rt = RunningRuntime & { endpoint: string };
let nats: NatsServers;
let nc: NatsConnection;
let a: Rt; // has the keys
let b: Rt; // has the keys too: another process's view
let noKeys: Rt; // has none
let wrongKey: Rt; // has K1's id with other key material
let child: ChildRuntime | undefined; // the built CLI with the keys from the environment
let ca: KinesisClient;
let cb: KinesisClient;
let cNoKeys: KinesisClient;
let cWrong: KinesisClient;
let tmp: string;

beforeAll(async () => {
  nats = await startNats();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shardline-kms-'));
  a = await startInProcess(nats.url, { kmsKeys: KEYS });
  b = await startInProcess(nats.url, { kmsKeys: KEYS.split('\n').join(',') });
  noKeys = await startInProcess(nats.url, {});
  wrongKey = await startInProcess(nats.url, { kmsKeys: `${K1.id}:${b64()}` });
  ca = sdkClient(a.endpoint);
  cb = sdkClient(b.endpoint, { http1: true });
  cNoKeys = sdkClient(noKeys.endpoint);
  cWrong = sdkClient(wrongKey.endpoint);
  nc = await connect({ servers: nats.url });
});
afterAll(async () => {
  for (const c of [ca, cb, cNoKeys, cWrong]) c?.destroy();
  await child?.kill();
  for (const r of [a, b, noKeys, wrongKey]) await r?.close();
  await nc?.close();
  await nats?.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
});

async function createStream(c: KinesisClient, name: string, shards = 1) {
  await c.send(new CreateStreamCommand({ StreamName: name, ShardCount: shards }));
}

/**
 * GetRecords, waiting out ProvisionedThroughputExceededException: a shard allows
 * 5 calls per second across all runtimes (docs/quotas-and-metrics.md), and these tests
 * read the same shard back-to-back from several processes. The SDK would retry
 * it; sdkClient sets maxAttempts 1.
 */
async function getRecordsPaced(c: KinesisClient, iter: string) {
  for (let attempt = 0; ; attempt++) {
    try {
      return await c.send(new GetRecordsCommand({ ShardIterator: iter }));
    } catch (e) {
      if ((e as Error).name !== 'ProvisionedThroughputExceededException' || attempt >= 20) throw e;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

async function readAll(c: KinesisClient, stream: string, shardId = 'shardId-000000000000'): Promise<_Record[]> {
  const it = await c.send(new GetShardIteratorCommand({ StreamName: stream, ShardId: shardId, ShardIteratorType: 'TRIM_HORIZON' }));
  const out: _Record[] = [];
  let iter = it.ShardIterator;
  for (let page = 0; iter && page < 100; page++) {
    const r = await getRecordsPaced(c, iter);
    out.push(...(r.Records ?? []));
    if ((r.Records ?? []).length === 0) break;
    iter = r.NextShardIterator;
  }
  return out;
}

/** Every stored JetStream message of shard 0, raw, read over a connection of the test's own. */
async function rawMessages(stream: string): Promise<Buffer[]> {
  const rec = await getStream(a.ctx.store, stream);
  const jsm = await nc.jetstreamManager();
  const name = jsStreamName(rec!.uid, 0);
  const info = await jsm.streams.info(name);
  const out: Buffer[] = [];
  for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
    out.push(Buffer.from((await jsm.streams.getMessage(name, { seq })).data));
  }
  return out;
}

const text = (r: _Record) => Buffer.from(r.Data!).toString('utf8');

describe('key ring and sealed batches (no servers)', () => {
  test('entries: ids, key ARNs, aliases, states; malformed lines name the line, never the key', () => {
    const p = parseKeyEntries(KEYS, 'keys');
    expect([...p.keys.keys()].sort()).toEqual([K1.id, K3.id, K2.id].sort());
    expect(p.keys.get(K2.id)!.state).toBe('Disabled');
    expect(p.keys.get(K3.id)!.state).toBe('PendingDeletion');
    expect(p.aliases.get('alias/orders')).toBe(K1.id);
    const secret = randomBytes(16).toString('base64');
    expect(() => parseKeyEntries(`# comment\nshort:${secret}`, 'f')).toThrow(/^f:2: key material must be the base64 of exactly 32 bytes$/);
    try {
      parseKeyEntries(`short:${secret}`, 'f');
    } catch (e) {
      expect(String(e)).not.toContain(secret);
    }
    expect(() => parseKeyEntries(`id:${b64()} frozen`, 'f')).toThrow(/malformed key entry/);
    expect(() => parseKeyEntries('alias/x', 'f')).toThrow(/malformed alias entry/);
  });

  test('resolve: id, key ARN, alias, alias ARN; KMS errors for the rest', () => {
    const ring = new KeyRing({ inline: KEYS });
    for (const ref of [K1.id, keyArn(K1.id), 'alias/orders', `arn:aws:kms:us-east-1:${ACCOUNT}:alias/orders`]) {
      expect(ring.resolve(ref).id).toBe(K1.id);
    }
    const err = (ref: string) => {
      try {
        ring.resolve(ref);
      } catch (e) {
        return e as KeyError;
      }
      throw new Error('resolved');
    };
    expect(err('nope')).toMatchObject({ code: 'KMSNotFoundException', message: `Key '${keyArn('nope')}' does not exist` });
    expect(err('alias/none')).toMatchObject({ code: 'KMSNotFoundException', message: `Alias arn:aws:kms:us-east-1:${ACCOUNT}:alias/none is not found.` });
    expect(err(K2.id)).toMatchObject({ code: 'KMSDisabledException', message: `${keyArn(K2.id)} is disabled.` });
    expect(err(K3.id)).toMatchObject({ code: 'KMSInvalidStateException', message: `${keyArn(K3.id)} is pending deletion.` });
  });

  test('a sealed batch hides keys and data, keeps arrival and count, and opens back to the same records', () => {
    const ring = new KeyRing({ inline: KEYS });
    const plain = encodeBatch(1234.5, [
      { partitionKey: 'pk-visible?', partitionKeyBytes: 11, data: Buffer.from('hello secret world') },
      { partitionKey: 'two', partitionKeyBytes: 3, data: Buffer.alloc(0) },
    ]);
    const sealed = sealBatch(plain, ring.resolve(K1.id));
    expect(isSealed(sealed)).toBe(true);
    expect(sealed.includes('hello secret world')).toBe(false);
    expect(sealed.includes('pk-visible?')).toBe(false);
    expect(sealed.readDoubleBE(1)).toBe(1234.5);
    expect(sealed.readUInt32BE(9)).toBe(2);
    expect(openBatch(sealed, ring)).toEqual(plain);
    expect(decodeBatch(openBatch(sealed, ring)).records.map((r) => r.data.toString())).toEqual(['hello secret world', '']);
    // Tampering with the authenticated header or the ciphertext is detected.
    const bad = Buffer.from(sealed);
    bad[bad.length - 20] ^= 1;
    expect(() => openBatch(bad, ring)).toThrow(KeyError);
    expect(() => openBatch(sealed, new KeyRing({}))).toThrow(/does not exist/);
  });
});

describe('StartStreamEncryption errors', () => {
  const stream = 'enc-errors';
  beforeAll(() => createStream(ca, stream));

  test.each([
    ['an unknown key id', 'no-such-key', KMSNotFoundException, `Key '${keyArn('no-such-key')}' does not exist`],
    ['an unknown key ARN', keyArn('no-such-key'), KMSNotFoundException, `Key '${keyArn('no-such-key')}' does not exist`],
    ['an unknown alias', 'alias/nothing', KMSNotFoundException, `Alias arn:aws:kms:us-east-1:${ACCOUNT}:alias/nothing is not found.`],
    ['a disabled key', K2.id, KMSDisabledException, `${keyArn(K2.id)} is disabled.`],
    ['a key pending deletion', keyArn(K3.id), KMSInvalidStateException, `${keyArn(K3.id)} is pending deletion.`],
  ])('%s → %p', async (_label, KeyId, type, message) => {
    const e = await ca.send(new StartStreamEncryptionCommand({ StreamName: stream, EncryptionType: 'KMS', KeyId })).catch((x) => x);
    expect(e).toBeInstanceOf(type);
    expect(e.message).toBe(message);
    const d = await ca.send(new DescribeStreamSummaryCommand({ StreamName: stream }));
    expect(d.StreamDescriptionSummary?.EncryptionType).toBe('NONE');
    expect(d.StreamDescriptionSummary?.KeyId).toBeUndefined();
  });

  test('a runtime with no keys configured answers KMSNotFoundException', async () => {
    await expect(cNoKeys.send(new StartStreamEncryptionCommand({ StreamName: stream, EncryptionType: 'KMS', KeyId: K1.id }))).rejects.toBeInstanceOf(
      KMSNotFoundException,
    );
  });

  test('EncryptionType NONE → InvalidArgumentException; unknown stream → ResourceNotFoundException', async () => {
    await expect(ca.send(new StartStreamEncryptionCommand({ StreamName: stream, EncryptionType: 'NONE', KeyId: K1.id }))).rejects.toBeInstanceOf(
      InvalidArgumentException,
    );
    await expect(ca.send(new StartStreamEncryptionCommand({ StreamName: 'enc-missing', EncryptionType: 'KMS', KeyId: K1.id }))).rejects.toBeInstanceOf(
      ResourceNotFoundException,
    );
    await expect(ca.send(new StopStreamEncryptionCommand({ StreamName: 'enc-missing', EncryptionType: 'KMS', KeyId: K1.id }))).rejects.toBeInstanceOf(
      ResourceNotFoundException,
    );
  });
});

describe('records written while encryption is on are encrypted at rest', () => {
  const stream = 'enc-lifecycle';
  let iterStart: string | undefined;

  beforeAll(async () => {
    await createStream(ca, stream);
    const put = await ca.send(new PutRecordCommand({ StreamName: stream, PartitionKey: 'pk-before', Data: Buffer.from('plain-before-start') }));
    expect(put.EncryptionType).toBeUndefined();
    iterStart = (await ca.send(new GetShardIteratorCommand({ StreamName: stream, ShardId: 'shardId-000000000000', ShardIteratorType: 'TRIM_HORIZON' })))
      .ShardIterator;
  });

  test('Start with an alias: DescribeStream and the summary show KMS and the KeyId as given', async () => {
    await ca.send(new StartStreamEncryptionCommand({ StreamName: stream, EncryptionType: 'KMS', KeyId: 'alias/orders' }));
    const d = await cb.send(new DescribeStreamCommand({ StreamName: stream }));
    expect(d.StreamDescription).toMatchObject({ StreamStatus: 'ACTIVE', EncryptionType: 'KMS', KeyId: 'alias/orders' });
    const s = await ca.send(new DescribeStreamSummaryCommand({ StreamName: stream }));
    expect(s.StreamDescriptionSummary).toMatchObject({ EncryptionType: 'KMS', KeyId: 'alias/orders' });
  });

  test('PutRecord and PutRecords report EncryptionType KMS; stored bytes hold no plaintext', async () => {
    const one = await ca.send(new PutRecordCommand({ StreamName: stream, PartitionKey: 'pk-secret-one', Data: Buffer.from('secret-payload-one') }));
    expect(one.EncryptionType).toBe('KMS');
    // Through the other runtime (it resolves the alias from the same keys).
    const many = await cb.send(
      new PutRecordsCommand({
        StreamName: stream,
        Records: Array.from({ length: 5 }, (_, i) => ({ PartitionKey: `pk-secret-many-${i}`, Data: Buffer.from(`secret-payload-many-${i}`) })),
      }),
    );
    expect(many.FailedRecordCount).toBe(0);
    expect(many.EncryptionType).toBe('KMS');
    const raw = await rawMessages(stream);
    expect(raw.length).toBeGreaterThanOrEqual(3);
    expect(raw[0]!.includes('plain-before-start')).toBe(true);
    expect(raw[0]![0]).toBe(1);
    for (const m of raw.slice(1)) {
      expect(m[0]).toBe(2);
      expect(m.includes(K1.id)).toBe(true); // the header names the key …
      expect(m.includes('secret-payload')).toBe(false); // … but data …
      expect(m.includes('pk-secret')).toBe(false); // … and partition keys are ciphertext
    }
  });

  test('Stop: later records are stored plain and reported without EncryptionType', async () => {
    await cb.send(new StopStreamEncryptionCommand({ StreamName: stream, EncryptionType: 'KMS', KeyId: 'alias/orders' }));
    const s = await ca.send(new DescribeStreamSummaryCommand({ StreamName: stream }));
    expect(s.StreamDescriptionSummary?.EncryptionType).toBe('NONE');
    expect(s.StreamDescriptionSummary?.KeyId).toBeUndefined();
    const put = await ca.send(new PutRecordCommand({ StreamName: stream, PartitionKey: 'pk-after', Data: Buffer.from('plain-after-stop') }));
    expect(put.EncryptionType).toBeUndefined();
    const raw = await rawMessages(stream);
    expect(raw[raw.length - 1]!.includes('plain-after-stop')).toBe(true);
  });

  test('GetRecords returns every record intact, EncryptionType KMS exactly on those written while on, from any runtime', async () => {
    const expected = [
      ['plain-before-start', undefined],
      ['secret-payload-one', 'KMS'],
      ...Array.from({ length: 5 }, (_, i) => [`secret-payload-many-${i}`, 'KMS']),
      ['plain-after-stop', undefined],
    ];
    for (const c of [ca, cb]) {
      const got = await readAll(c, stream);
      expect(got.map((r) => [text(r), r.EncryptionType])).toEqual(expected);
    }
    // An iterator issued before encryption started reads on through it.
    const r = await cb.send(new GetRecordsCommand({ ShardIterator: iterStart }));
    expect(r.Records!.map(text)).toEqual(expected.map((x) => x[0]));
  });

  test('the built CLI in another process, keys from SHARDLINE_KMS_KEYS, reads and writes the stream', async () => {
    child = await startChild(nats.url, { SHARDLINE_KMS_KEYS: KEYS.split('\n').join(',') });
    const cc = sdkClient(child.endpoint);
    try {
      await cc.send(new StartStreamEncryptionCommand({ StreamName: stream, EncryptionType: 'KMS', KeyId: keyArn(K1.id) }));
      const put = await cc.send(new PutRecordCommand({ StreamName: stream, PartitionKey: 'pk-child', Data: Buffer.from('secret-from-child') }));
      expect(put.EncryptionType).toBe('KMS');
      const got = await readAll(cc, stream);
      expect(got.map(text)).toContain('secret-payload-one');
      // … and the in-process runtime decrypts what the child wrote.
      const back = await readAll(ca, stream);
      expect(back[back.length - 1]).toMatchObject({ EncryptionType: 'KMS', PartitionKey: 'pk-child' });
      expect(text(back[back.length - 1]!)).toBe('secret-from-child');
      expect((await rawMessages(stream)).some((m) => m.includes('secret-from-child'))).toBe(false);
      const d = await ca.send(new DescribeStreamSummaryCommand({ StreamName: stream }));
      expect(d.StreamDescriptionSummary?.KeyId).toBe(keyArn(K1.id));
    } finally {
      cc.destroy();
    }
  });
});

describe('keys missing or wrong where data is read or written', () => {
  const stream = 'enc-missing-key';

  beforeAll(async () => {
    await createStream(ca, stream);
    await ca.send(new PutRecordCommand({ StreamName: stream, PartitionKey: 'p', Data: Buffer.from('plain-first') }));
    await ca.send(new StartStreamEncryptionCommand({ StreamName: stream, EncryptionType: 'KMS', KeyId: K1.id }));
    await ca.send(new PutRecordCommand({ StreamName: stream, PartitionKey: 'p', Data: Buffer.from('sealed-second') }));
  });

  test('a runtime without the key: plain records before, then KMSNotFoundException from GetRecords', async () => {
    const it = await cNoKeys.send(new GetShardIteratorCommand({ StreamName: stream, ShardId: 'shardId-000000000000', ShardIteratorType: 'TRIM_HORIZON' }));
    const first = await cNoKeys.send(new GetRecordsCommand({ ShardIterator: it.ShardIterator }));
    expect(first.Records!.map(text)).toEqual(['plain-first']);
    const e = await cNoKeys.send(new GetRecordsCommand({ ShardIterator: first.NextShardIterator })).catch((x) => x);
    expect(e).toBeInstanceOf(KMSNotFoundException);
    expect(e.message).toBe(`Key '${keyArn(K1.id)}' does not exist`);
  });

  test('a runtime without the key: PutRecord and PutRecords → KMSNotFoundException, nothing stored', async () => {
    const before = (await rawMessages(stream)).length;
    await expect(cNoKeys.send(new PutRecordCommand({ StreamName: stream, PartitionKey: 'p', Data: Buffer.from('x') }))).rejects.toBeInstanceOf(
      KMSNotFoundException,
    );
    await expect(
      cNoKeys.send(new PutRecordsCommand({ StreamName: stream, Records: [{ PartitionKey: 'p', Data: Buffer.from('x') }] })),
    ).rejects.toBeInstanceOf(KMSNotFoundException);
    expect((await rawMessages(stream)).length).toBe(before);
  });

  // Issue 12 fault 7: the material every runtime loads is kept in JetStream
  // (stream/storeKeys.ts), so a runtime whose Secret holds the id with other
  // material (a rotated Secret) still opens what the old material sealed.
  // Material nobody kept fails authentication: KMSAccessDeniedException (the
  // sealed-batch unit test above).
  test('the same key id with other key material (a rotated Secret): older records stay readable', async () => {
    const it = await cWrong.send(new GetShardIteratorCommand({ StreamName: stream, ShardId: 'shardId-000000000000', ShardIteratorType: 'LATEST' }));
    await ca.send(new PutRecordCommand({ StreamName: stream, PartitionKey: 'p', Data: Buffer.from('sealed-third') }));
    const r = await cWrong.send(new GetRecordsCommand({ ShardIterator: it.ShardIterator }));
    expect(r.Records!.map(text)).toEqual(['sealed-third']);
    expect(r.Records![0]!.EncryptionType).toBe('KMS');
  });

  test('a key removed from the keys file: its records stay readable (kept material), writes answer KMSNotFoundException until it is back', async () => {
    const file = path.join(tmp, 'keys');
    fs.writeFileSync(file, `${K1.id}:${K1.key}\n`);
    const rt = await startInProcess(nats.url, { kmsKeysFile: file });
    const c = sdkClient(rt.endpoint);
    try {
      expect((await readAll(c, stream)).map(text)).toEqual(['plain-first', 'sealed-second', 'sealed-third']);
      // Kubernetes swaps a mounted Secret by replacing the file.
      fs.writeFileSync(`${file}.new`, `other:${b64()}\n`);
      fs.renameSync(`${file}.new`, file);
      await new Promise((r) => setTimeout(r, 1100));
      expect((await readAll(c, stream)).map(text)).toEqual(['plain-first', 'sealed-second', 'sealed-third']);
      await expect(c.send(new PutRecordCommand({ StreamName: stream, PartitionKey: 'p', Data: Buffer.from('x') }))).rejects.toBeInstanceOf(
        KMSNotFoundException,
      );
      fs.writeFileSync(`${file}.new`, `${K1.id}:${K1.key}\n`);
      fs.renameSync(`${file}.new`, file);
      await new Promise((r) => setTimeout(r, 1100));
      await c.send(new PutRecordCommand({ StreamName: stream, PartitionKey: 'p', Data: Buffer.from('sealed-fourth') }));
      expect((await readAll(c, stream)).map(text)).toEqual(['plain-first', 'sealed-second', 'sealed-third', 'sealed-fourth']);
    } finally {
      c.destroy();
      await rt.close();
    }
  });
});
