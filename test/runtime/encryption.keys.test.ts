// Issue 12 fault 7: StartStreamEncryption with alias/aws/kinesis works out of
// the box (a store-managed default key, created once, kept in JetStream), and
// a DataStream key Secret that changes does not make older records
// unreadable (key materials kept in JetStream until no stored record needs
// them). Real runtimes on a real nats-server; keys in a Secret-like directory.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  CreateStreamCommand, DeleteStreamCommand, GetRecordsCommand, GetShardIteratorCommand, KinesisClient, ListShardsCommand,
  PutRecordCommand, StartStreamEncryptionCommand, StopStreamEncryptionCommand,
} from '@aws-sdk/client-kinesis';
import { startNats, type NatsServers } from '../harness/nats.js';
import { sdkClient, startInProcess } from '../harness/runtime.js';
import type { RunningRuntime } from '../../runtime/server.js';
import { isSealed, sealedKeyId } from '../../stream/batchCipher.js';
import { getStream } from '../../stream/streams.js';
import { jsStreamName } from '../../stream/names.js';
import { keysBucket, RETIRE_MARGIN_MS } from '../../stream/storeKeys.js';
import { connectStore } from '../../stream/connect.js';
import { readBatch } from '../../stream/shardReader.js';
import { KeyRing } from '../../stream/keyring.js';
import { kvEntries } from '../../stream/kvKeys.js';

type Rt = RunningRuntime & { endpoint: string };
let nats: NatsServers;
let tmp: string;
const open: { rt: Rt; c: KinesisClient }[] = [];

beforeAll(async () => {
  nats = await startNats();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shardline-keys-'));
});
afterAll(async () => {
  for (const { rt, c } of open) {
    c.destroy();
    await rt.close();
  }
  await nats?.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
});

async function runtime(overrides: Parameters<typeof startInProcess>[1] = {}): Promise<{ rt: Rt; c: KinesisClient }> {
  const rt = await startInProcess(nats.url, overrides);
  const x = { rt, c: sdkClient(rt.endpoint, { http1: true }) };
  open.push(x);
  return x;
}

async function stop(x: { rt: Rt; c: KinesisClient }) {
  open.splice(open.indexOf(x), 1);
  x.c.destroy();
  await x.rt.close();
}

async function readAll(c: KinesisClient, stream: string): Promise<{ data: string; kms: boolean }[]> {
  const out: { data: string; kms: boolean }[] = [];
  for (const s of (await c.send(new ListShardsCommand({ StreamName: stream }))).Shards!) {
    let it = (await c.send(new GetShardIteratorCommand({ StreamName: stream, ShardId: s.ShardId, ShardIteratorType: 'TRIM_HORIZON' }))).ShardIterator;
    for (;;) {
      const r = await c.send(new GetRecordsCommand({ ShardIterator: it }));
      for (const x of r.Records!) out.push({ data: Buffer.from(x.Data!).toString(), kms: x.EncryptionType === 'KMS' });
      if (r.Records!.length === 0 || !r.NextShardIterator) break;
      it = r.NextShardIterator;
    }
  }
  return out;
}

/** Raw stored messages of shard 0, as JetStream holds them. */
async function rawMessages(rt: Rt, stream: string): Promise<Uint8Array[]> {
  const rec = (await getStream(rt.ctx.store, stream))!;
  const name = jsStreamName(rec.uid, 0);
  const info = await rt.ctx.store.jsm.streams.info(name);
  const out: Uint8Array[] = [];
  for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) out.push((await rt.ctx.store.jsm.streams.getMessage(name, { seq })).data);
  return out;
}

/** A Kubernetes Secret volume: one file per key id, swapped by replacing the file. */
function writeSecret(dir: string, files: Record<string, string>) {
  fs.mkdirSync(dir, { recursive: true });
  for (const f of fs.readdirSync(dir)) if (!(f in files)) fs.rmSync(path.join(dir, f));
  for (const [name, value] of Object.entries(files)) {
    fs.writeFileSync(path.join(dir, `.${name}.new`), value);
    fs.renameSync(path.join(dir, `.${name}.new`), path.join(dir, name));
  }
}

const b64 = () => randomBytes(32).toString('base64');
const reload = () => new Promise((r) => setTimeout(r, 1100)); // the key ring re-reads its source at most once a second

describe('the store-managed default key (alias/aws/kinesis)', () => {
  test('works with no keys configured, is created once, and survives every runtime restarting', async () => {
    const a = await runtime();
    const b = await runtime();
    await a.c.send(new CreateStreamCommand({ StreamName: 'dflt', ShardCount: 1 }));
    await a.c.send(new StartStreamEncryptionCommand({ StreamName: 'dflt', EncryptionType: 'KMS', KeyId: 'alias/aws/kinesis' }));
    const put = await a.c.send(new PutRecordCommand({ StreamName: 'dflt', PartitionKey: 'k', Data: Buffer.from('secret one') }));
    expect(put.EncryptionType).toBe('KMS');
    // Stored sealed, under the default key's id, with no plaintext.
    const raw = await rawMessages(a.rt, 'dflt');
    expect(raw.every(isSealed)).toBe(true);
    expect(Buffer.concat(raw.map((m) => Buffer.from(m))).includes('secret one')).toBe(false);
    const defaultId = a.rt.ctx.storeKeys!.defaultKey.id;
    expect(sealedKeyId(raw[0]!)).toBe(defaultId);
    // Another process reads it: the same key, created once.
    expect(b.rt.ctx.storeKeys!.defaultKey.id).toBe(defaultId);
    expect(await readAll(b.c, 'dflt')).toEqual([{ data: 'secret one', kms: true }]);
    // Every runtime stops; a new one still reads and writes.
    await stop(a);
    await stop(b);
    const c = await runtime();
    expect(c.rt.ctx.storeKeys!.defaultKey.id).toBe(defaultId);
    await c.c.send(new PutRecordCommand({ StreamName: 'dflt', PartitionKey: 'k', Data: Buffer.from('secret two') }));
    expect(await readAll(c.c, 'dflt')).toEqual([
      { data: 'secret one', kms: true },
      { data: 'secret two', kms: true },
    ]);
    // A library reader in another process (delivery, analytics, the client library) wires nothing and reads it.
    const store = await connectStore({ natsUrl: nats.url });
    try {
      const rec = (await getStream(store, 'dflt'))!;
      const batch = await readBatch(store, rec, 'shardId-000000000000', { jsSeq: 0, index: 0 }, { limit: 10, maxBytes: 1 << 20 });
      expect(batch.records.map((x) => [x.data.toString(), x.encrypted])).toEqual([
        ['secret one', true],
        ['secret two', true],
      ]);
    } finally {
      await store.close();
    }
    // The key ARN form of the alias works too.
    await c.c.send(new CreateStreamCommand({ StreamName: 'dflt2', ShardCount: 1 }));
    await c.c.send(new StartStreamEncryptionCommand({ StreamName: 'dflt2', EncryptionType: 'KMS', KeyId: 'arn:aws:kms:us-east-1:000000000000:alias/aws/kinesis' }));
  });
});

describe('a DataStream key Secret that changes', () => {
  test('new material under the same id: older records stay readable, also by runtimes started after the change', async () => {
    const dir = path.join(tmp, 'rotate');
    const A = b64();
    writeSecret(dir, { 'orders-key_key': A });
    const r1 = await runtime({ kmsKeysFile: dir });
    await r1.c.send(new CreateStreamCommand({ StreamName: 'rot', ShardCount: 1 }));
    await r1.c.send(new StartStreamEncryptionCommand({ StreamName: 'rot', EncryptionType: 'KMS', KeyId: 'orders-key_key' }));
    await r1.c.send(new PutRecordCommand({ StreamName: 'rot', PartitionKey: 'k', Data: Buffer.from('under A') }));
    // The Secret is rotated in place: same item, new value.
    writeSecret(dir, { 'orders-key_key': b64() });
    await reload();
    await r1.c.send(new PutRecordCommand({ StreamName: 'rot', PartitionKey: 'k', Data: Buffer.from('under B') }));
    expect(await readAll(r1.c, 'rot')).toEqual([
      { data: 'under A', kms: true },
      { data: 'under B', kms: true },
    ]);
    // A pod started after the change never had A in its Secret, and still reads it.
    await stop(r1);
    const r2 = await runtime({ kmsKeysFile: dir });
    expect(await readAll(r2.c, 'rot')).toEqual([
      { data: 'under A', kms: true },
      { data: 'under B', kms: true },
    ]);
    // A runtime without this key at all (another DataStream's pods) gets no access from the kept copies.
    const other = await runtime({ kmsKeys: `someone-else:${b64()}` });
    const it = (await other.c.send(new GetShardIteratorCommand({ StreamName: 'rot', ShardId: 'shardId-000000000000', ShardIteratorType: 'TRIM_HORIZON' }))).ShardIterator;
    await expect(other.c.send(new GetRecordsCommand({ ShardIterator: it }))).rejects.toMatchObject({ name: 'KMSNotFoundException' });
    await stop(other);
    await stop(r2);
  });

  test('retired material is kept while stored records may need it, then deleted; current material never is', async () => {
    const dir = path.join(tmp, 'retire');
    const OLD = b64();
    writeSecret(dir, { 'ret-key_key': OLD });
    const r = await runtime({ kmsKeysFile: dir });
    const kv = await keysBucket(r.rt.ctx.store);
    const keptCount = async () => (await kvEntries(kv, 'kept.>')).length;
    await r.c.send(new CreateStreamCommand({ StreamName: 'ret', ShardCount: 1 }));
    await r.c.send(new StartStreamEncryptionCommand({ StreamName: 'ret', EncryptionType: 'KMS', KeyId: 'ret-key_key' }));
    await r.c.send(new PutRecordCommand({ StreamName: 'ret', PartitionKey: 'k', Data: Buffer.from('old') }));
    const sk = r.rt.ctx.storeKeys!;
    expect(await sk.sweep()).toEqual({ retired: 0, restored: 0, deleted: 0 });
    writeSecret(dir, { 'ret-key_key': b64() });
    await reload();
    await r.c.send(new PutRecordCommand({ StreamName: 'ret', PartitionKey: 'k', Data: Buffer.from('new') }));
    const before = await keptCount();
    // First pass: the old material is retired (not deleted); the current one is untouched.
    expect((await sk.sweep()).retired).toBe(1);
    // Far past the margin, but 'ret' (and the earlier tests' streams) still store records older than the retirement.
    const later = Date.now() + RETIRE_MARGIN_MS + 60_000;
    expect((await sk.sweep(later)).deleted).toBe(0);
    expect(await readAll(r.c, 'ret')).toEqual([
      { data: 'old', kms: true },
      { data: 'new', kms: true },
    ]);
    // Once no stored record is that old any more (here: every stream deleted), it goes.
    for (const name of ['ret', 'rot', 'dflt', 'dflt2']) await r.c.send(new DeleteStreamCommand({ StreamName: name })).catch(() => undefined);
    const res = await sk.sweep(later);
    expect(res.deleted).toBeGreaterThanOrEqual(1);
    expect(await keptCount()).toBe(before - res.deleted);
    // The current material is still kept.
    const current = r.rt.ctx.keys!.configuredKeys()[0]!;
    expect(r.rt.ctx.keys!.decryptionKeys(current.id).some((k) => k.key.equals(current.key))).toBe(true);
    expect((await sk.sweep(later)).deleted).toBe(0);
  });
});

describe('a DataStream moved to another key Secret (another key id)', () => {
  test('records sealed under the old key id stay readable by the new pods, library readers, and after StopStreamEncryption', async () => {
    const oldDir = path.join(tmp, 'swap-old');
    const newDir = path.join(tmp, 'swap-new');
    writeSecret(oldDir, { 'old-sec_key': b64() });
    writeSecret(newDir, { 'new-sec_key': b64() });
    // The pods of the DataStream mount the first Secret.
    const r1 = await runtime({ kmsKeysFile: oldDir });
    await r1.c.send(new CreateStreamCommand({ StreamName: 'swap', ShardCount: 1 }));
    await r1.c.send(new StartStreamEncryptionCommand({ StreamName: 'swap', EncryptionType: 'KMS', KeyId: 'old-sec_key' }));
    await r1.c.send(new PutRecordCommand({ StreamName: 'swap', PartitionKey: 'k', Data: Buffer.from('under old') }));
    // spec.encryption.keySecretRef names another Secret: the rolled pods mount only that one,
    // and the stream record moves to its key id (what the operator does once they are up).
    await stop(r1);
    const r2 = await runtime({ kmsKeysFile: newDir });
    await r2.c.send(new StartStreamEncryptionCommand({ StreamName: 'swap', EncryptionType: 'KMS', KeyId: 'new-sec_key' }));
    await r2.c.send(new PutRecordCommand({ StreamName: 'swap', PartitionKey: 'k', Data: Buffer.from('under new') }));
    const raw = await rawMessages(r2.rt, 'swap');
    expect(raw.map(sealedKeyId)).toEqual(['old-sec_key', 'new-sec_key']);
    expect(await readAll(r2.c, 'swap')).toEqual([
      { data: 'under old', kms: true },
      { data: 'under new', kms: true },
    ]);
    // A worker (delivery, analytics) mounting the new Secret only, reading through the library.
    const store = await connectStore({ natsUrl: nats.url });
    try {
      const rec = (await getStream(store, 'swap'))!;
      const batch = await readBatch(store, rec, 'shardId-000000000000', { jsSeq: 0, index: 0 }, { limit: 10, maxBytes: 1 << 20, keys: new KeyRing({ file: newDir }) });
      expect(batch.records.map((x) => x.data.toString())).toEqual(['under old', 'under new']);
    } finally {
      await store.close();
    }
    // The new key's holders retire the old id's kept copy (no process loads it any more);
    // it is not deleted while 'swap' stores records older than the retirement, and stays usable.
    const sk = r2.rt.ctx.storeKeys!;
    expect((await sk.sweep()).retired).toBe(1);
    expect((await sk.sweep(Date.now() + RETIRE_MARGIN_MS + 60_000)).deleted).toBe(0);
    expect((await readAll(r2.c, 'swap')).map((x) => x.data)).toEqual(['under old', 'under new']);
    // Other DataStreams' pods (holding none of this stream's keys) still get nothing from the kept copies.
    const other = await runtime({ kmsKeys: `someone-else-2:${b64()}` });
    const it = (await other.c.send(new GetShardIteratorCommand({ StreamName: 'swap', ShardId: 'shardId-000000000000', ShardIteratorType: 'TRIM_HORIZON' }))).ShardIterator;
    await expect(other.c.send(new GetRecordsCommand({ ShardIterator: it }))).rejects.toMatchObject({ name: 'KMSNotFoundException' });
    await stop(other);
    // spec.encryption removed: the stream goes back to the shared runtime (no key Secret at all);
    // as in Kinesis after StopStreamEncryption, the records written encrypted stay readable.
    await r2.c.send(new StopStreamEncryptionCommand({ StreamName: 'swap', EncryptionType: 'KMS', KeyId: 'new-sec_key' }));
    await stop(r2);
    const shared = await runtime();
    await shared.c.send(new PutRecordCommand({ StreamName: 'swap', PartitionKey: 'k', Data: Buffer.from('plain') }));
    expect(await readAll(shared.c, 'swap')).toEqual([
      { data: 'under old', kms: true },
      { data: 'under new', kms: true },
      { data: 'plain', kms: false },
    ]);
    await stop(shared);
  });
});
