// A runtime process killed with SIGKILL mid-load and restarted on the same
// port: every record it acknowledged is readable afterwards with its data and
// sequence number, and nothing is stored twice. Producers keep running across
// the crash (errors while it is down are expected and not counted as acks).
import { randomBytes } from 'node:crypto';
import { CreateStreamCommand, PutRecordCommand, PutRecordsCommand, type KinesisClient } from '@aws-sdk/client-kinesis';
import { startNats, type NatsServers } from '../harness/nats.js';
import { sdkClient, startChild, type ChildRuntime } from '../harness/runtime.js';
import { connectStore, type Store } from '../../stream/connect.js';
import { readStream, sleep, until, withoutQuotas } from './records.helpers.js';

const STREAM = 'crash';
const SHARDS = 3;

let nats: NatsServers;
let child: ChildRuntime;
let store: Store;
const clients: KinesisClient[] = [];

beforeAll(async () => {
  nats = await startNats();
  child = await startChild(nats.url);
  store = await connectStore({ natsUrl: nats.url, name: 'crash-test' });
});
afterAll(async () => {
  for (const c of clients) c.destroy();
  await store?.close();
  await child?.kill('SIGKILL');
  await nats?.stop();
});

function client(endpoint: string): KinesisClient {
  const c = sdkClient(endpoint, { http1: true });
  clients.push(c);
  return c;
}

test('every acknowledged record survives SIGKILL; no sequence number duplicated', async () => {
  const c = client(child.endpoint);
  await c.send(new CreateStreamCommand({ StreamName: STREAM, ShardCount: SHARDS }));
  await withoutQuotas(store, STREAM, [c]);

  /** body → sequence number, for every record the runtime acknowledged. */
  const acked = new Map<string, { seq: string; shardId: string }>();
  let sent = 0;
  let errors = 0;
  let phase: 'before' | 'down' | 'after' = 'before';
  const ackedIn = { before: 0, down: 0, after: 0 };
  let stop = false;

  const ackedTwice: string[] = []; // (checked after: an expect() in here would be caught below)
  const ack = (bodyText: string, seq: string, shardId: string) => {
    if (acked.has(bodyText)) ackedTwice.push(bodyText);
    acked.set(bodyText, { seq, shardId });
    ackedIn[phase]++;
  };

  async function producer(p: number): Promise<void> {
    const deadline = Date.now() + 40_000;
    for (let i = 0; !stop && Date.now() < deadline; i++) {
      // Unique bodies with random bytes, so "data equal" means something.
      const bodies = Array.from({ length: p < 4 ? 10 : 1 }, (_, j) => `p${p}-r${i}-${j}-${randomBytes(24).toString('base64')}`);
      sent += bodies.length;
      try {
        if (bodies.length === 1) {
          const r = await c.send(new PutRecordCommand({ StreamName: STREAM, PartitionKey: `pk-${p}-${i % 7}`, Data: Buffer.from(bodies[0]!) }));
          ack(bodies[0]!, r.SequenceNumber!, r.ShardId!);
        } else {
          const r = await c.send(new PutRecordsCommand({
            StreamName: STREAM,
            Records: bodies.map((b, j) => ({ PartitionKey: `pk-${p}-${j}`, Data: Buffer.from(b) })),
          }));
          r.Records!.forEach((x, j) => {
            if (!x.ErrorCode) ack(bodies[j]!, x.SequenceNumber!, x.ShardId!);
          });
        }
      } catch {
        // The process is gone (reset, refused, hang-up): not acknowledged; keep trying.
        errors++;
        await sleep(20);
      }
    }
  }

  const producers = Array.from({ length: 6 }, (_, p) => producer(p));
  try {
    // Mid-load: kill once a good number of records are acknowledged.
    await until('load before the crash', async () => ackedIn.before >= 1500, 20_000, 10);
    const { port } = child;
    await child.kill('SIGKILL');
    phase = 'down';
    expect(child.proc.signalCode).toBe('SIGKILL');
    await sleep(200); // producers meet the dead port
    child = await startChild(nats.url, {}, port);
    phase = 'after';
    await until('load after the restart', async () => ackedIn.after >= 500, 20_000, 10);
  } finally {
    stop = true;
    await Promise.all(producers);
  }
  expect(errors).toBeGreaterThan(0); // the crash was felt by producers
  expect(ackedTwice).toEqual([]);

  // Read everything back through the restarted process.
  const reader = client(child.endpoint);
  const all = await readStream(reader, STREAM);
  const bySeq = new Map<string, { body: string; shardId: string }>();
  const bodies = new Set<string>();
  let stored = 0;
  for (const [shardId, records] of all) {
    for (let i = 0; i < records.length; i++) {
      const r = records[i]!;
      stored++;
      // No sequence number twice (within the shard or across shards), none out of order.
      expect(bySeq.has(r.SequenceNumber!)).toBe(false);
      if (i > 0) expect(BigInt(r.SequenceNumber!) > BigInt(records[i - 1]!.SequenceNumber!)).toBe(true);
      const b = Buffer.from(r.Data!).toString('utf8');
      bySeq.set(r.SequenceNumber!, { body: b, shardId });
      // Producers never resend, so a body stored twice would be a duplicate write.
      expect(bodies.has(b)).toBe(false);
      bodies.add(b);
    }
  }
  // Every acknowledged record is there, with its data, at its sequence number, in its shard.
  const missing = [...acked].filter(([b, a]) => bySeq.get(a.seq)?.body !== b || bySeq.get(a.seq)?.shardId !== a.shardId);
  expect(missing).toEqual([]);
  // Whatever else is stored was sent and not acknowledged (in flight at the kill).
  expect(stored).toBeGreaterThanOrEqual(acked.size);
  expect(stored).toBeLessThanOrEqual(sent);
  process.stderr.write(`crash test: sent ${sent}, acked ${acked.size} (${ackedIn.before} before, ${ackedIn.after} after), stored ${stored}, errors ${errors}\n`);
});
