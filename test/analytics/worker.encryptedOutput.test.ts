// An analytics application whose output DataStream is encrypted
// (StartStreamEncryption with an operator-supplied key): the real
// `shardline analytics` process, holding the key through
// SHARDLINE_KMS_KEYS_FILE, seals its output messages; a runtime holding the
// key serves them decrypted through GetRecords, equal to an oracle computed
// here; the stored JetStream messages are sealed (no plaintext in the raw
// bytes); a worker SIGKILLed between its checkpoint and the end of its publish
// is followed by one that gives every window's row exactly once. A worker
// without the key logs the KMS error and writes nothing (its rows are held);
// the same application restarted with the key gives every window once.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { StartStreamEncryptionCommand, type KinesisClient } from '@aws-sdk/client-kinesis';
import { startNats, type NatsServers } from '../harness/nats.js';
import { sdkClient, startInProcess, TEST_CREDENTIALS } from '../harness/runtime.js';
import type { RunningRuntime } from '../../runtime/server.js';
import { CreateDeliveryStreamCommand, DescribeDeliveryStreamCommand, FirehoseClient, StartDeliveryStreamEncryptionCommand } from '@aws-sdk/client-firehose';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { isSealed, openBatch } from '../../stream/batchCipher.js';
import { KeyRing } from '../../stream/keyring.js';
import { decodeBatch } from '../../stream/recordBatch.js';
import { getDeliveryStream, openDeliveryStore } from '../../stream/deliveryStreams.js';
import { getStream } from '../../stream/streams.js';
import { jsStreamName } from '../../stream/names.js';
import { createStream, putJson, readAll, sleep, startWorker, waitFor, type WorkerProcess } from './helpers.js';

const KEY_ID = 'analytics-out-key';
let nats: NatsServers;
let rt: RunningRuntime & { endpoint: string };
let k: KinesisClient;
let tmp: string;
let keysFile: string;
const workers: WorkerProcess[] = [];

beforeAll(async () => {
  nats = await startNats();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shardline-encout-'));
  keysFile = path.join(tmp, 'keys');
  fs.writeFileSync(keysFile, `${KEY_ID}:${randomBytes(32).toString('base64')}\n`);
  rt = await startInProcess(nats.url, { kmsKeysFile: keysFile });
  k = sdkClient(rt.endpoint, { http1: true });
});

afterAll(async () => {
  for (const w of workers) await w.kill();
  k?.destroy();
  await rt?.close();
  await nats?.stop();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

const ts = (ms: number) => new Date(ms).toISOString().replace('T', ' ').replace('Z', '');
const KEYS = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf', 'hotel'];

function countsApp(name: string, input: string, output: string) {
  return {
    applicationName: name, natsUrl: nats.url, startingPosition: 'TRIM_HORIZON', leaseMs: 600, idleWatermarkLagMs: 300, checkpointIntervalMs: 250,
    application: {
      name: name,
      code: `CREATE OR REPLACE STREAM "COUNTS" (K VARCHAR(16), C INTEGER, W TIMESTAMP);
CREATE OR REPLACE PUMP "P" AS INSERT INTO "COUNTS"
  SELECT STREAM K, COUNT(*), STEP("SOURCE_SQL_STREAM_001".ROWTIME BY INTERVAL '1' SECOND) FROM "SOURCE_SQL_STREAM_001"
  GROUP BY K, STEP("SOURCE_SQL_STREAM_001".ROWTIME BY INTERVAL '1' SECOND);`,
      inputs: [{
        id: '1.1', namePrefix: 'SOURCE_SQL_STREAM', source: { kind: 'stream', name: input }, format: { type: 'JSON', rowPath: '$' },
        columns: [{ name: 'K', sqlType: 'VARCHAR(16)', mapping: '$.k' }],
      }],
      outputs: [{ id: '1.1', name: 'COUNTS', destination: { kind: 'stream', name: output }, format: 'JSON' }],
    },
  };
}

/** Records over ~2.5 s: several 1-second windows, eight keys each. */
async function putWindows(stream: string): Promise<void> {
  const until = Date.now() + 2500;
  for (let i = 0; Date.now() < until; i++) {
    await putJson(k, stream, KEYS.map((key, j) => ({ k: key, i: i * KEYS.length + j })).filter((_, j) => (i + j) % 3 !== 0));
    await sleep(60);
  }
}

/** The rows the application must emit: a count per key and 1-second ROWTIME window, over the input as stored. */
async function oracle(stream: string): Promise<string[]> {
  const input = (await readAll(k, stream)).map((r) => ({ k: JSON.parse(r.data).k as string, t: r.arrivalMs }));
  const counts = new Map<string, number>();
  for (const r of input) {
    const key = `${r.k}\u0000${Math.floor(r.t / 1000) * 1000}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts].map(([key, c]) => {
    const [name, w] = key.split('\u0000');
    return JSON.stringify({ K: name, C: c, W: ts(Number(w)) });
  }).sort();
}

/** The output rows as GetRecords returns them, once `count` are there (and a moment more, for duplicates to show). */
async function outputRows(stream: string, count: number, w: WorkerProcess): Promise<string[]> {
  let got: string[] = [];
  await waitFor('every window read back through GetRecords', async () => {
    got = (await readAll(k, stream)).map((r) => JSON.stringify(JSON.parse(r.data)));
    return got.length >= count;
  }, 60_000).catch((e) => { throw new Error(`${(e as Error).message} (${got.length}/${count}): ${w.logs()}`); });
  await sleep(1500);
  return (await readAll(k, stream)).map((r) => JSON.stringify(JSON.parse(r.data))).sort();
}

/** Every stored message of the stream's shards, raw. */
async function rawMessages(stream: string): Promise<Buffer[]> {
  const rec = (await getStream(rt.ctx.store, stream))!;
  const out: Buffer[] = [];
  for (const s of rec.shards) {
    const name = jsStreamName(rec.uid, s.index);
    const info = await rt.ctx.store.jsm.streams.info(name);
    for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
      out.push(Buffer.from((await rt.ctx.store.jsm.streams.getMessage(name, { seq })).data));
    }
  }
  return out;
}

test('encrypted output stream: sealed at rest, read back decrypted, exactly once across a SIGKILL mid-emit', async () => {
  await createStream(k, 'enc-in', 1);
  await createStream(k, 'enc-out', 2);
  await k.send(new StartStreamEncryptionCommand({ StreamName: 'enc-out', EncryptionType: 'KMS', KeyId: KEY_ID }));
  await waitFor('enc-out encrypted', async () => (await getStream(rt.ctx.store, 'enc-out'))?.encryption.type === 'KMS');
  const config = countsApp('enc-counts', 'enc-in', 'enc-out');
  await putWindows('enc-in');

  // 1. A worker with the key, killed after its checkpoint and the emit's first message.
  const first = startWorker(config, { SHARDLINE_KMS_KEYS_FILE: keysFile, SHARDLINE_TEST_CRASH_AT: 'mid-emit' });
  workers.push(first);
  await waitFor('the first worker to die mid-emit', async () => first.proc.exitCode !== null || first.proc.signalCode !== null, 30_000)
    .catch((e) => { throw new Error(`${(e as Error).message}: ${first.logs()}`); });
  expect(first.proc.signalCode).toBe('SIGKILL');
  const afterCrash = await rawMessages('enc-out');
  expect(afterCrash.length).toBeGreaterThanOrEqual(1);

  // 2. A normal worker: recovers the half-written emit (its sealed messages found by id), then keeps going.
  const second = startWorker(config, { SHARDLINE_KMS_KEYS_FILE: keysFile });
  workers.push(second);
  await putJson(k, 'enc-in', KEYS.map((key, j) => ({ k: key, i: 100_000 + j })));
  const want = await oracle('enc-in');
  const got = await outputRows('enc-out', want.length, second);
  expect(got).toEqual(want);
  expect(second.logs()).toMatch(/recovered emit \d+: \d+ message\(s\) published, [1-9]\d* already stored/);

  // At rest: every message sealed, no row's text in the raw bytes.
  const raw = await rawMessages('enc-out');
  expect(raw.length).toBeGreaterThan(afterCrash.length);
  for (const m of raw) {
    expect(isSealed(m)).toBe(true);
    expect(m.includes(Buffer.from('"K":"'))).toBe(false);
    for (const name of KEYS) expect(m.includes(Buffer.from(name))).toBe(false);
  }
}, 120_000);

test('a worker without the output stream key: a KMS error in its log, nothing written, no row lost', async () => {
  await createStream(k, 'nokey-in', 1);
  await createStream(k, 'nokey-out', 2);
  await k.send(new StartStreamEncryptionCommand({ StreamName: 'nokey-out', EncryptionType: 'KMS', KeyId: KEY_ID }));
  // Two-phase (a GROUP BY): the combiner held the closed windows when the worker was killed; the partials
  // stream must still hold what its checkpoint does not cover (combiner.ts `committed`).
  const config = countsApp('nokey-counts', 'nokey-in', 'nokey-out');
  await putWindows('nokey-in');
  const noKey = startWorker(config, { SHARDLINE_KMS_KEYS_FILE: '', SHARDLINE_KMS_KEYS: '' });
  workers.push(noKey);
  await waitFor('the keyless worker to report the missing key', async () => noKey.logs().includes('KMSNotFoundException') || noKey.logs().includes('cannot use'), 30_000)
    .catch((e) => { throw new Error(`${(e as Error).message}: ${noKey.logs()}`); });
  expect(noKey.logs()).toContain(`output stream nokey-out is encrypted with key ${KEY_ID}, which this worker cannot use`);
  await sleep(1000); // it keeps retrying; still nothing stored, in plain text or otherwise
  expect(await rawMessages('nokey-out')).toHaveLength(0);
  await noKey.kill('SIGKILL');

  // The same application with the key mounted: every window once.
  const keyed = startWorker(config, { SHARDLINE_KMS_KEYS_FILE: keysFile });
  workers.push(keyed);
  const want = await oracle('nokey-in');
  expect(await outputRows('nokey-out', want.length, keyed)).toEqual(want);
  for (const m of await rawMessages('nokey-out')) expect(isSealed(m)).toBe(true);
}, 120_000);

test('delivery stream output with StartDeliveryStreamEncryption: rows sealed into the backing stream with its key', async () => {
  const fh = new FirehoseClient({ endpoint: rt.endpoint, region: 'us-east-1', credentials: TEST_CREDENTIALS, maxAttempts: 1, requestHandler: new NodeHttpHandler() });
  try {
    await createStream(k, 'fh-in', 1);
    await fh.send(new CreateDeliveryStreamCommand({
      DeliveryStreamName: 'enc-archive', DeliveryStreamType: 'DirectPut',
      ExtendedS3DestinationConfiguration: { RoleARN: 'arn:aws:iam::000000000000:role/firehose', BucketARN: 'arn:aws:s3:::unused', Prefix: 'x/' },
    }));
    await waitFor('delivery stream ACTIVE', async () =>
      (await fh.send(new DescribeDeliveryStreamCommand({ DeliveryStreamName: 'enc-archive' }))).DeliveryStreamDescription!.DeliveryStreamStatus === 'ACTIVE');
    await fh.send(new StartDeliveryStreamEncryptionCommand({
      DeliveryStreamName: 'enc-archive',
      DeliveryStreamEncryptionConfigurationInput: { KeyType: 'CUSTOMER_MANAGED_CMK', KeyARN: `arn:aws:kms:us-east-1:000000000000:key/${KEY_ID}` },
    }));
    const backing = (await getDeliveryStream(await openDeliveryStore(rt.ctx.store), 'enc-archive'))!.sourceStream;
    await waitFor('backing stream encrypted', async () => (await getStream(rt.ctx.store, backing))?.encryption.type === 'KMS');
    const docs = Array.from({ length: 60 }, (_, i) => ({ k: KEYS[i % KEYS.length], i }));
    await putJson(k, 'fh-in', docs);
    const config = countsApp('fh-rows', 'fh-in', 'unused');
    config.application.code = `CREATE OR REPLACE STREAM "ROWS_OUT" (K VARCHAR(16), I INTEGER);
CREATE OR REPLACE PUMP "P" AS INSERT INTO "ROWS_OUT" SELECT STREAM K, I FROM "SOURCE_SQL_STREAM_001";`;
    config.application.inputs[0]!.columns.push({ name: 'I', sqlType: 'INTEGER', mapping: '$.i' });
    (config.application as any).outputs = [{ id: '1.1', name: 'ROWS_OUT', destination: { kind: 'firehose', name: 'enc-archive' }, format: 'JSON' }];
    const w = startWorker(config, { SHARDLINE_KMS_KEYS_FILE: keysFile });
    workers.push(w);
    // Opened with a key ring of its own (the file), independent of the worker's.
    const ring = new KeyRing({ file: keysFile });
    const want = docs.map((d) => JSON.stringify({ K: d.k, I: d.i })).sort();
    let got: string[] = [];
    await waitFor('every row in the backing stream', async () => {
      const raw = await rawMessages(backing);
      got = [];
      for (const m of raw) {
        expect(isSealed(m)).toBe(true);
        expect(m.includes(Buffer.from('"K":"'))).toBe(false);
        for (const r of decodeBatch(openBatch(m, ring)).records) got.push(JSON.stringify(JSON.parse(r.data.toString('utf8'))));
      }
      return got.length >= want.length;
    }, 30_000).catch((e) => { throw new Error(`${(e as Error).message} (${got.length}/${want.length}): ${w.logs()}`); });
    expect(got.sort()).toEqual(want);
  } finally {
    fh.destroy();
  }
}, 60_000);
