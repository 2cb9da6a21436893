// The autoscaler under `shardline dev`, as a user meets it: the built CLI in a
// child process (what `make dev` runs), an ON_DEMAND stream made with the AWS
// SDK, load above its capacity, the stream scales up; load gone, it merges
// back after the stabilization window (shortened here through the runtime's
// own env settings, contract/env.ts).
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CreateStreamCommand, DescribeStreamSummaryCommand, KinesisClient, PutRecordsCommand } from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { freePort } from '../harness/ports.js';
import { ENV } from '../../contract/env.js';

const CLI = path.resolve('dist/runtime/cli.js');
let dev: ChildProcess;
let root: string;
let kinesis: KinesisClient;
let out = '';

beforeAll(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'shardline-dev-as-'));
  const [port, natsPort] = [await freePort(), await freePort()];
  dev = spawn(process.execPath, [CLI, 'dev', '--data-dir', path.join(root, 'data'), '--port', String(port), '--nats-port', String(natsPort)], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, [ENV.onDemandMinShards]: '1', [ENV.scaleUpWindowMs]: '3000', [ENV.scaleDownStabilizationMs]: '8000', [ENV.devS3Port]: String(await freePort()) },
  });
  dev.stdout!.on('data', (d) => { out += d; });
  dev.stderr!.on('data', (d) => { out += d; });
  const deadline = Date.now() + 60_000;
  while (!/Ctrl-C stops everything/.test(out)) {
    if (Date.now() > deadline || dev.exitCode !== null) throw new Error(`dev did not start:\n${out}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  kinesis = new KinesisClient({ endpoint: `http://127.0.0.1:${port}`, region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'y' }, requestHandler: new NodeHttpHandler(), maxAttempts: 3 });
}, 90_000);

afterAll(async () => {
  kinesis?.destroy();
  if (dev && dev.exitCode === null) {
    const gone = new Promise((r) => dev.once('exit', r));
    dev.kill('SIGINT');
    await gone;
  }
  fs.rmSync(root, { recursive: true, force: true });
});

const openShards = async (name: string) => (await kinesis.send(new DescribeStreamSummaryCommand({ StreamName: name }))).StreamDescriptionSummary?.OpenShardCount ?? 0;
async function until(what: string, ok: () => Promise<boolean>, ms: number): Promise<number> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await ok().catch(() => false)) return Date.now();
    if (Date.now() > deadline) throw new Error(`timed out: ${what}\n${out.slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

test('an ON_DEMAND stream created with the SDK under `shardline dev` scales up under load and back down when it stops', async () => {
  await kinesis.send(new CreateStreamCommand({ StreamName: 'clicks', StreamModeDetails: { StreamMode: 'ON_DEMAND' } }));
  await until('clicks ACTIVE', async () => (await kinesis.send(new DescribeStreamSummaryCommand({ StreamName: 'clicks' }))).StreamDescriptionSummary?.StreamStatus === 'ACTIVE', 30_000);
  const initial = await openShards('clicks');
  // Twice the stream's records/s capacity (1,000 per shard), spread over keys.
  let stop = false;
  let n = 0;
  const load = (async () => {
    while (!stop) {
      const t = Date.now();
      const calls = [];
      for (let sent = 0; sent < initial * 2000; sent += 500) {
        calls.push(kinesis.send(new PutRecordsCommand({ StreamName: 'clicks', Records: Array.from({ length: 500 }, () => ({ PartitionKey: `u${n++ % 5000}`, Data: Buffer.alloc(64, 1) })) })).catch(() => undefined));
      }
      await Promise.all(calls);
      await new Promise((r) => setTimeout(r, Math.max(0, 1000 - (Date.now() - t))));
    }
  })();
  await until(`more than ${initial} shards`, async () => (await openShards('clicks')) > initial, 60_000);
  stop = true;
  await load;
  const peak = await openShards('clicks');
  await until('merged back below the peak', async () => (await openShards('clicks')) < peak, 90_000);
  // The decision's log line goes out once the reshard is applied; it may reach us just after the shard count.
  const logged = (re: RegExp) => until(`log line ${re}`, async () => re.test(out), 10_000);
  await logged(/autoscaler: stream clicks: (split|updateShardCount) \d+ → \d+ shards \(applied\)/);
  await logged(/autoscaler: stream clicks: merge \d+ → \d+ shards \(applied\)/);
}, 240_000);
