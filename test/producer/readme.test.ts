// The README's producer example, run as written (a child `node` process importing the package path
// `shardline/producer`, resolved through package.json "exports") against a real runtime.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { startStack, type Stack } from '../harness/runtime.js';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack(1);
});
afterAll(() => stack?.stop());

function readmeExample(): string {
  const readme = fs.readFileSync('README.md', 'utf8');
  const section = readme.slice(readme.indexOf('## Producer library'));
  const m = /```js\n([\s\S]*?)```/.exec(section);
  if (!m) throw new Error('no js block in the README producer section');
  return m[1]!;
}

test('the README producer example runs and prints what it says', async () => {
  // Inside the package (self-reference needs the package's own scope); .tmp/ is git-ignored.
  const dir = path.resolve('.tmp');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'producer-example.mjs');
  fs.writeFileSync(file, readmeExample());
  const env = { ...process.env, SHARDLINE_ENDPOINT: stack.runtimes[0]!.endpoint };
  // Run twice: the second run finds the stream already there.
  for (const run of [1, 2]) {
    // Asynchronously: the runtime it talks to lives in this process.
    const out = await new Promise<{ status: number; stdout: string; stderr: string }>((resolve) => {
      execFile(process.execPath, [file], { env, encoding: 'utf8', timeout: 60_000 }, (err, stdout, stderr) =>
        resolve({ status: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
    });
    expect(out.stderr).not.toMatch(/Error|rror:/);
    expect(out.status).toBe(0);
    const lines = String(out.stdout).trim().split('\n');
    expect(lines.join('\n')).toMatch(/subSequenceNumber: 0/);
    const carried = /(\d+) Kinesis records carried 1000 user records/.exec(String(out.stdout));
    expect(carried).not.toBeNull();
    expect(Number(carried![1])).toBeLessThan(20);
    const read = /shardId-\d+: (\d+) records, (\d+) user records, first \{"click":\d+\}/.exec(lines.at(-1)!);
    expect(read).not.toBeNull();
    expect(Number(read![2])).toBeGreaterThan(Number(read![1])); // aggregated records unpacked
    expect(Number(read![2])).toBeGreaterThanOrEqual(run * 100); // this shard's share of 1000 per run
  }
});
