// The README's consumer example, run as written (a child `node` process importing `shardline/consumer`
// through package.json "exports") against a real runtime: it prints every record, and on SIGTERM stops
// gracefully, leaving its checkpoints in the lease file.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { CreateStreamCommand, PutRecordCommand } from '@aws-sdk/client-kinesis';
import { startStack, type Stack } from '../harness/runtime.js';
import { waitFor } from './helpers.js';

const LEASES = '/tmp/orders-printer.json';
let stack: Stack;
beforeAll(async () => {
  stack = await startStack(1);
});
afterAll(() => stack?.stop());

function readmeExample(): string {
  const readme = fs.readFileSync('README.md', 'utf8');
  const section = readme.slice(readme.indexOf('## Consumer library'));
  const m = /```js\n([\s\S]*?)```/.exec(section);
  if (!m) throw new Error('no js block in the README consumer section');
  return m[1]!;
}

test('the README consumer example prints the records and checkpoints them', async () => {
  const client = stack.clients[0]!;
  await client.send(new CreateStreamCommand({ StreamName: 'orders', ShardCount: 2 }));
  for (const [k, v] of [['a', 'one'], ['b', 'two'], ['c', 'three']]) {
    await client.send(new PutRecordCommand({ StreamName: 'orders', PartitionKey: k, Data: Buffer.from(v!) }));
  }
  fs.rmSync(LEASES, { force: true });
  // Inside the package (self-reference needs the package's own scope); .tmp/ is git-ignored.
  const dir = path.resolve('.tmp');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'consumer-example.mjs');
  fs.writeFileSync(file, readmeExample());
  const child = spawn(process.execPath, [file], { env: { ...process.env, KINESIS_ENDPOINT: stack.runtimes[0]!.endpoint }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  try {
    await waitFor(() => stdout.trim().split('\n').length >= 3, 20_000, 'three records printed').catch((e) => {
      throw new Error(`${(e as Error).message}; stdout: ${stdout}; stderr: ${stderr}`);
    });
  } finally {
    child.kill('SIGTERM');
  }
  expect(await exited).toBe(0);
  expect(stderr).not.toMatch(/rror:/);
  const lines = stdout.trim().split('\n');
  expect(lines.map((l) => l.split(' ').slice(2).join(' ')).sort()).toEqual(['a one', 'b two', 'c three']);
  for (const l of lines) expect(l).toMatch(/^shardId-00000000000[01] 49\d{31} /);
  // Checkpointed at the last record of each shard it read, and released on stop.
  const leases = JSON.parse(fs.readFileSync(LEASES, 'utf8')) as { entries: Record<string, { value: { checkpoint: string; owner?: string } }> };
  const values = Object.values(leases.entries).map((e) => e.value);
  const seqs = lines.map((l) => l.split(' ')[1]);
  for (const v of values) {
    expect(v.owner).toBeUndefined();
    if (v.checkpoint !== 'TRIM_HORIZON') expect(seqs).toContain(v.checkpoint);
  }
  expect(values.some((v) => v.checkpoint !== 'TRIM_HORIZON')).toBe(true);
});
