// /metrics under `shardline runtime --workers 2` (issue 12, fault 6): whichever
// worker a scrape lands on, it reports the sum over all workers. The oracle is
// what the test itself sent: records over separate connections until both
// workers have served some (checked from the access log's pids, so the test
// cannot pass with everything on one worker).
import http from 'node:http';
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { CreateStreamCommand, DescribeStreamCommand, KinesisClient, PutRecordCommand } from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { startNats, type NatsServers } from '../harness/nats.js';
import { freePort, waitForPort } from '../harness/ports.js';
import { TEST_CREDENTIALS } from '../harness/runtime.js';

let nats: NatsServers;
let proc: ChildProcess;
let port: number;
const logLines: string[] = [];

beforeAll(async () => {
  nats = await startNats();
  port = await freePort();
  proc = spawn(process.execPath, [path.resolve('dist/runtime/cli.js'), 'runtime', '--nats', nats.url, '--port', String(port), '--host', '127.0.0.1', '--workers', '2'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let buf = '';
  proc.stderr!.on('data', (d) => {
    buf += d;
    const parts = buf.split('\n');
    buf = parts.pop()!;
    logLines.push(...parts);
  });
  await waitForPort(port);
  // Both workers listening (each logs its start).
  const deadline = Date.now() + 20_000;
  while (logLines.filter((l) => l.includes('shardline runtime listening')).length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
});
afterAll(async () => {
  if (proc && proc.exitCode === null) {
    const gone = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGTERM');
    await gone;
  }
  await nats?.stop();
});

/** A client that opens a new connection per request, so requests spread over the workers. */
const client = () =>
  new KinesisClient({
    endpoint: `http://127.0.0.1:${port}`,
    region: 'us-east-1',
    credentials: TEST_CREDENTIALS,
    maxAttempts: 1,
    requestHandler: new NodeHttpHandler({ httpAgent: new http.Agent({ keepAlive: false }) }),
  });

function scrape(): Promise<string> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: '/metrics', agent: false }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`status ${res.statusCode}`))));
    }).on('error', reject);
  });
}

const sample = (text: string, name: string, labels: string) =>
  Number(new RegExp(`^${name}\\{${labels}\\} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);

test('every scrape reports the true total across workers, with request histograms, error counters and process metrics', async () => {
  const c = client();
  await c.send(new CreateStreamCommand({ StreamName: 'agg', ShardCount: 1 }));
  // Each worker accepts from the shared socket itself: put until both have served some (at least 7 puts).
  const putPids = () => new Set(logLines.filter((l) => l.includes('"operation":"PutRecord"')).map((l) => JSON.parse(l).pid));
  let puts = 0;
  while (puts < 7 || (putPids().size < 2 && puts < 200)) {
    await c.send(new PutRecordCommand({ StreamName: 'agg', PartitionKey: `k${puts}`, Data: Buffer.from(`r${puts}`) }));
    puts++;
    await new Promise((r) => setTimeout(r, 5)); // the access log line reaches us through the pipe
  }
  await expect(c.send(new DescribeStreamCommand({ StreamName: 'missing' }))).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
  c.destroy();

  for (let i = 0; i < 6; i++) {
    const text = await scrape();
    expect(sample(text, 'shardline_shard_incoming_records_total', 'stream="agg",shard="shardId-000000000000"')).toBe(puts);
    expect(sample(text, 'shardline_request_duration_seconds_count', 'operation="PutRecord"')).toBe(puts);
    expect(sample(text, 'shardline_request_errors_total', 'operation="DescribeStream",type="ResourceNotFoundException"')).toBe(1);
    expect(text).toMatch(/^# TYPE shardline_request_duration_seconds histogram$/m);
    expect(text).toMatch(/^process_cpu_seconds_total \S+$/m);
    expect(text).toMatch(/^nodejs_heap_size_used_bytes \S+$/m);
    expect(text).not.toMatch(/_milliseconds/);
  }
  // The puts really were served by two processes (so the totals above are sums, not one worker's count).
  expect(putPids().size).toBe(2);
}, 60_000);
