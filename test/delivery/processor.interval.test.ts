// Pure unit test of the delivery RecordProcessor's scheduling (stand-in intent
// store, object store and checkpointer; real timers): IntervalInSeconds counts
// from the records' arrival in the stream, an interval flush happens with no
// further batch to trigger it, records already overdue when read go out with
// the batch they came in (not alone), and a flush that failed half-way is
// retried with the same range before anything else.
import { describe, expect, it } from '@jest/globals';
import zlib from 'node:zlib';
import { DeliveryProcessor } from '../../runtime/delivery/processor.js';
import type { IntentStore, FlushIntent } from '../../runtime/delivery/state.js';
import type { DeliveryStreamRecord } from '../../stream/deliveryStreams.js';
import type { Checkpointer, ConsumerRecord } from '../../consumer/types.js';

const SHARD = 'shardId-000000000000';
const definition = (intervalSeconds: number) => ({
  name: 'ds', uid: 'u1', status: 'ACTIVE', type: 'KinesisStreamAsSource', sourceStream: 's', versionId: 1, createdAtMs: 0, destinationId: 'd',
  s3: { BucketARN: 'arn:aws:s3:::b', Prefix: 'p/', BufferingHints: { SizeInMBs: 5, IntervalInSeconds: intervalSeconds }, CompressionFormat: 'GZIP', ProcessingConfiguration: { Enabled: true, Processors: [{ Type: 'AppendDelimiterToRecord' }] } },
  tags: {}, encryption: { status: 'DISABLED' }, owner: { kind: 'api' },
}) as unknown as DeliveryStreamRecord;

const rec = (i: number, arrivalMs: number): ConsumerRecord => ({
  shardId: SHARD, sequenceNumber: String(1000 + i), partitionKey: 'k', data: Buffer.from(`r${i}`), approximateArrivalTimestamp: new Date(arrivalMs),
});
const batch = (records: ConsumerRecord[]) => ({ shardId: SHARD, records, millisBehindLatest: 0 });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A processor over in-memory stores: every put (in order, overwrites included), the checkpoints, the intent writes. */
async function harness(intervalSeconds: number, opts: { failCheckpoints?: number } = {}) {
  const puts: { key: string; lines: string[]; atMs: number }[] = [];
  let intent: FlushIntent | undefined;
  const intentWrites: FlushIntent[] = [];
  const intents = {
    get: async () => intent,
    set: async (i: FlushIntent) => void intentWrites.push((intent = i)),
    clear: async () => void (intent = undefined),
  } as unknown as IntentStore;
  const checkpoints: string[] = [];
  let failCheckpoints = opts.failCheckpoints ?? 0;
  const cp: Checkpointer = {
    checkpoint: async (seq?: string) => {
      if (failCheckpoints-- > 0) throw new Error('lease store timed out');
      checkpoints.push(seq ?? 'last');
    },
  };
  const logs: string[] = [];
  const p = new DeliveryProcessor({
    objects: { put: async (_b, key, body) => void puts.push({ key, lines: zlib.gunzipSync(body).toString().split('\n').filter(Boolean), atMs: Date.now() }) },
    intents, log: (m) => logs.push(m), definition: () => definition(intervalSeconds),
    processing: { deliveryStreamArn: 'arn', region: 'us-east-1', functions: {}, functionTimeoutMs: 1000 }, signal: new AbortController().signal,
  });
  await p.initialize({ shardId: SHARD });
  return { p, cp, puts, checkpoints, intentWrites, logs };
}

async function until(cond: () => boolean, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await sleep(20);
  }
}

describe('DeliveryProcessor interval scheduling', () => {
  it('flushes once the interval has passed since arrival, with no further batch to trigger it', async () => {
    const h = await harness(1);
    const arrived = Date.now();
    await h.p.processRecords(batch([rec(0, arrived), rec(1, arrived)]), h.cp);
    expect(h.puts).toEqual([]); // buffered: the interval has not passed
    await until(() => h.puts.length > 0, 1000 + 3000); // generous slack over the 1 s interval
    expect(h.puts[0]!.atMs - arrived).toBeGreaterThanOrEqual(1000);
    expect(h.puts.map((o) => o.lines)).toEqual([['r0', 'r1']]);
    await until(() => h.checkpoints.length > 0, 3000);
    expect(h.checkpoints).toEqual(['1001']);
    await h.p.shutdownRequested(h.cp);
  });

  it('counts the interval from the oldest record\'s arrival, not from when the worker read it', async () => {
    const h = await harness(6);
    const arrived = Date.now() - 5000; // read 5 s after it arrived: 1 s of its 6 s interval is left
    const read = Date.now();
    await h.p.processRecords(batch([rec(0, arrived)]), h.cp);
    await h.p.processRecords(batch([rec(1, Date.now())]), h.cp); // a younger record joins the same buffer
    expect(h.puts).toEqual([]);
    await until(() => h.puts.length > 0, 1000 + 3000); // counted from the read it would be 6 s
    expect(h.puts[0]!.atMs - read).toBeLessThan(4000);
    expect(h.puts[0]!.atMs - arrived).toBeGreaterThanOrEqual(6000);
    expect(h.puts.map((o) => o.lines)).toEqual([['r0', 'r1']]);
    await h.p.shutdownRequested(h.cp);
  });

  it('records already older than the interval when read are flushed with the batch they came in', async () => {
    const h = await harness(60);
    const old = Date.now() - 120_000;
    await h.p.processRecords(batch([rec(0, old), rec(1, old), rec(2, old)]), h.cp);
    await h.p.processRecords(batch([rec(3, old + 1), rec(4, old + 1)]), h.cp);
    expect(h.puts.map((o) => o.lines)).toEqual([['r0', 'r1', 'r2'], ['r3', 'r4']]);
    expect(h.checkpoints).toEqual(['1002', '1004']);
    // Caught up: fresh records wait for their interval again.
    await h.p.processRecords(batch([rec(5, Date.now())]), h.cp);
    await h.p.processRecords(batch([rec(6, Date.now())]), h.cp);
    expect(h.puts.length).toBe(2);
    await h.p.shutdownRequested(h.cp); // a graceful hand-over delivers what is buffered
    expect(h.puts.map((o) => o.lines)).toEqual([['r0', 'r1', 'r2'], ['r3', 'r4'], ['r5', 'r6']]);
  });

  it('an interval flush that failed after its upload is retried with the same range, before newer records', async () => {
    const h = await harness(1, { failCheckpoints: 1 });
    const arrived = Date.now();
    await h.p.processRecords(batch([rec(0, arrived), rec(1, arrived)]), h.cp);
    await until(() => h.logs.some((l) => l.includes('interval flush failed')), 4000);
    expect(h.checkpoints).toEqual([]);
    // A new record while the failed flush is pending: that flush goes first, as formed (same key, same records).
    await h.p.processRecords(batch([rec(2, Date.now())]), h.cp);
    expect(h.puts.map((o) => o.lines)).toEqual([['r0', 'r1'], ['r0', 'r1']]);
    expect(h.puts[1]!.key).toBe(h.puts[0]!.key);
    expect(h.checkpoints).toEqual(['1001']);
    await until(() => h.checkpoints.length === 2, 4000);
    expect(h.puts.map((o) => o.lines).slice(2)).toEqual([['r2']]);
    expect(h.checkpoints).toEqual(['1001', '1002']);
    // One intent per flush: the retry did not write another.
    expect(h.intentWrites.map((i) => [i.first.seq, i.last.seq])).toEqual([['1000', '1001'], ['1002', '1002']]);
    await h.p.shutdownRequested(h.cp);
  });

  it('an arrival stamped ahead of the worker\'s clock does not hold a record longer than the interval after it was read', async () => {
    const h = await harness(1);
    const read = Date.now();
    await h.p.processRecords(batch([rec(0, read + 3_600_000)]), h.cp);
    await until(() => h.puts.length > 0, 1000 + 3000);
    expect(h.puts[0]!.atMs - read).toBeGreaterThanOrEqual(1000);
    await h.p.shutdownRequested(h.cp);
  });

  it('no timer flush after the shard is handed over', async () => {
    const h = await harness(1);
    await h.p.processRecords(batch([rec(0, Date.now())]), h.cp);
    h.p.leaseLost();
    await sleep(1500);
    expect(h.puts).toEqual([]);
  });
});
