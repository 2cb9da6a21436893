// Exactly once into S3: the delivery worker is SIGKILLed at each failpoint of
// a flush (before upload, mid-upload, after upload before the checkpoint) and
// at random moments; a restarted worker must leave every record in exactly
// one object. The oracle is a count over everything s3rver holds.
import { type FirehoseClient, CreateDeliveryStreamCommand, PutRecordBatchCommand } from '@aws-sdk/client-firehose';
import type { S3Server } from '../harness/s3.js';
import { ROLE, startDeliveryStack, type DeliveryProcess, type DeliveryStack } from '../harness/delivery.js';

const BUCKET = 'exactly-once';

let stack: DeliveryStack;
let s3: S3Server;
let fh: FirehoseClient;

beforeAll(async () => {
  // The random-kill producer offers more than Firehose's 5 MiB/s Direct PUT quota, which is not what this suite tests: off.
  stack = await startDeliveryStack({ buckets: [BUCKET], runtime: { firehosePutQuota: undefined } });
  ({ s3, fh } = stack);
});
afterAll(() => stack?.stop());

/** Short leases: a killed worker's shards are free again quickly. */
const worker = (name: string, env: Record<string, string> = {}): DeliveryProcess => stack.worker(name, { env: { SHARDLINE_DELIVERY_LEASE_MS: '1500', ...env } });

async function create(name: string, intervalSeconds = 0) {
  await fh.send(new CreateDeliveryStreamCommand({
    DeliveryStreamName: name,
    ExtendedS3DestinationConfiguration: {
      RoleARN: ROLE, BucketARN: `arn:aws:s3:::${BUCKET}`, Prefix: `${name}/`, CompressionFormat: 'GZIP',
      BufferingHints: { SizeInMBs: 1, IntervalInSeconds: intervalSeconds },
      ProcessingConfiguration: { Enabled: true, Processors: [{ Type: 'AppendDelimiterToRecord' }] },
    },
  }));
  return stack.waitActive(name);
}

let next = 0;
/** Puts `n` ~1 KiB records with unique ids; returns the ids. */
async function put(name: string, n: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i += 500) {
    const batch = Array.from({ length: Math.min(500, n - i) }, () => `${name}#${next++}`);
    const out = await fh.send(new PutRecordBatchCommand({ DeliveryStreamName: name, Records: batch.map((id) => ({ Data: Buffer.from(`${id} ${'z'.repeat(1000)}`) })) }));
    expect(out.FailedPutCount).toBe(0);
    ids.push(...batch);
  }
  return ids;
}

/** Every record id found under the prefix, with how many objects hold it. */
async function census(prefix: string): Promise<Map<string, number>> {
  const zlib = await import('node:zlib');
  const counts = new Map<string, number>();
  for (const k of await s3.list(BUCKET, prefix)) {
    const text = zlib.gunzipSync(await s3.get(BUCKET, k)).toString();
    for (const line of text.split('\n')) {
      if (!line) continue;
      const id = line.slice(0, line.indexOf(' '));
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
  }
  return counts;
}

async function expectExactlyOnce(prefix: string, ids: string[], timeoutMs = 60_000) {
  const until = Date.now() + timeoutMs;
  let counts = new Map<string, number>();
  while (Date.now() < until) {
    counts = await census(prefix);
    if (ids.every((id) => counts.has(id))) break;
    await new Promise((r) => setTimeout(r, 300));
  }
  const lost = ids.filter((id) => !counts.has(id));
  const doubled = [...counts].filter(([, n]) => n > 1).map(([id]) => id);
  const unknown = [...counts.keys()].filter((id) => !ids.includes(id));
  expect({ lost: lost.length, doubled: doubled.length, unknown: unknown.length }).toEqual({ lost: 0, doubled: 0, unknown: 0 });
}

describe('exactly once under SIGKILL', () => {
  for (const fp of ['before-upload', 'mid-upload', 'after-upload'] as const) {
    test(`failpoint ${fp}: the worker dies at its 2nd flush; the restarted one leaves every record in exactly one object`, async () => {
      const name = `fp-${fp}`;
      await create(name);
      const ids = await put(name, 3000); // ~3 MiB: three flushes of 1 MiB at least
      const dying = worker(name, { SHARDLINE_FAILPOINTS: `${fp}@2` });
      const exit = await dying.exited;
      expect(exit.signal).toBe('SIGKILL');
      expect(dying.stderr()).toContain(`failpoint ${fp} (flush 2)`);
      if (fp === 'after-upload') {
        // The 2nd object is in S3 but not checkpointed: the replay must overwrite it, not add a copy.
        expect((await s3.list(BUCKET, `${name}/`)).length).toBe(2);
      } else {
        expect((await s3.list(BUCKET, `${name}/`)).length).toBe(1);
      }
      ids.push(...(await put(name, 700)));
      const w = worker(name);
      await expectExactlyOnce(`${name}/`, ids);
      expect(w.stderr()).toContain('replaying the flush');
      await w.kill('SIGTERM');
    }, 120_000);
  }

  test('an interval flush (no further records to trigger it) killed after its upload is replayed, not doubled', async () => {
    const name = 'fp-interval';
    await create(name, 8);
    const dying = worker(name, { SHARDLINE_FAILPOINTS: 'after-upload@1' });
    const ids = await put(name, 300); // ~300 KiB: only the interval flushes it, 8 s after arrival
    const exit = await dying.exited;
    expect(exit.signal).toBe('SIGKILL');
    expect((await s3.list(BUCKET, `${name}/`)).length).toBe(1);
    const w = worker(name);
    for (let i = 0; i < 150 && !w.stderr().includes('replaying the flush'); i++) await new Promise((r) => setTimeout(r, 200));
    expect(w.stderr()).toContain('replaying the flush');
    await expectExactlyOnce(`${name}/`, ids);
    // More records after the replay: a second interval flush, a second object.
    ids.push(...(await put(name, 100)));
    await expectExactlyOnce(`${name}/`, ids);
    expect((await s3.list(BUCKET, `${name}/`)).length).toBe(2);
    await w.kill('SIGTERM');
  }, 120_000);

  test('SIGKILL at random moments while records keep coming', async () => {
    const name = 'random-kills';
    await create(name);
    const ids: string[] = [];
    let producing = true;
    const producer = (async () => {
      while (producing) {
        ids.push(...(await put(name, 500)));
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    for (let i = 0; i < 4; i++) {
      const w = worker(name);
      await new Promise((r) => setTimeout(r, 700 + Math.floor(Math.random() * 1500)));
      await w.kill('SIGKILL');
    }
    producing = false;
    await producer;
    const last = worker(name);
    await expectExactlyOnce(`${name}/`, ids, 90_000);
    await last.kill('SIGTERM');
  }, 180_000);
});
