// `shardline runtime --workers 2`: runtime processes sharing one port, a dead
// worker replaced, the stream served throughout.
import fs from 'node:fs';
import { CreateStreamCommand, PutRecordsCommand, GetShardIteratorCommand, GetRecordsCommand } from '@aws-sdk/client-kinesis';
import { startNats, type NatsServers } from '../harness/nats.js';
import { sdkClient, startChild, type ChildRuntime } from '../harness/runtime.js';

let nats: NatsServers;
let rt: ChildRuntime;

const workersOf = (pid: number) =>
  fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);

async function until<T>(f: () => T | undefined, ms = 15000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 100));
  }
}

beforeAll(async () => {
  nats = await startNats();
  rt = await startChild(nats.url, { SHARDLINE_WORKERS: '2' });
});
afterAll(async () => {
  await rt?.kill('SIGTERM');
  await nats?.stop();
});

test('two workers serve one port; a killed worker is replaced and nothing acknowledged is lost', async () => {
  const workers = await until(() => (workersOf(rt.proc.pid!).length === 2 ? workersOf(rt.proc.pid!) : undefined));
  const client = sdkClient(rt.endpoint, { http1: true });
  await client.send(new CreateStreamCommand({ StreamName: 'w', ShardCount: 1 }));
  const acked: string[] = [];
  const failures: string[] = [];
  const put = async (from: number) => {
    const out = await client.send(new PutRecordsCommand({ StreamName: 'w', Records: Array.from({ length: 10 }, (_, i) => ({ PartitionKey: 'k', Data: Buffer.from(String(from + i)) })) }));
    out.Records!.forEach((r, i) => (r.SequenceNumber ? acked.push(String(from + i)) : failures.push(`${from + i}: ${r.ErrorCode} ${r.ErrorMessage}`)));
  };
  await put(0);
  process.kill(workers[0]!, 'SIGKILL');
  // Requests keep being served by the surviving worker while a new one starts.
  for (let n = 10; n < 100; n += 10) {
    // A request on the killed worker's connection may fail: tried again as the SDK would by default (3 attempts;
    // its own retries are off here, maxAttempts 1, so that every failure is seen).
    for (let attempt = 1; attempt <= 3; attempt++) {
      const ok = await put(n).then(() => true, (e) => (failures.push(`put ${n} attempt ${attempt}: ${(e as Error).name}: ${(e as Error).message}`), false));
      if (ok) break;
      await new Promise((r) => setTimeout(r, 300));
    }
  }
  const replaced = await until(() => {
    const now = workersOf(rt.proc.pid!);
    return now.length === 2 && !now.includes(workers[0]!) ? now : undefined;
  });
  expect(replaced).toContain(workers[1]);
  const it = await client.send(new GetShardIteratorCommand({ StreamName: 'w', ShardId: 'shardId-000000000000', ShardIteratorType: 'TRIM_HORIZON' }));
  const got = await client.send(new GetRecordsCommand({ ShardIterator: it.ShardIterator }));
  const stored = new Set((got.Records ?? []).map((r) => Buffer.from(r.Data!).toString()));
  for (const a of acked) expect(stored.has(a)).toBe(true);
  if (acked.length < 80) throw new Error(`only ${acked.length} of 100 records acknowledged: ${failures.slice(0, 5).join('; ')}`);
  client.destroy();
});
