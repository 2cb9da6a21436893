// `shardline dev` as a user runs it: the built CLI in a child process, with
// manifests from a directory, the two "try it" lines of its summary run with
// the AWS CLI, a crashed nats-server restarted, a second dev on the same data
// directory refused, no nats-server left behind after SIGKILL of dev, edited
// manifests applied on the next run, and Ctrl-C stopping everything.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { DescribeStreamSummaryCommand, KinesisClient, PutRecordCommand } from '@aws-sdk/client-kinesis';
import { freePort } from '../harness/ports.js';

const CLI = path.resolve('dist/runtime/cli.js');
const AWS = '/usr/bin/aws';
let root: string;
const procs: ChildProcess[] = [];

interface Dev { proc: ChildProcess; out(): string; waitFor(re: RegExp, ms?: number): Promise<RegExpMatchArray>; exited: Promise<number | null> }

function startDev(args: string[]): Dev {
  const proc = spawn(process.execPath, [CLI, 'dev', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  procs.push(proc);
  let out = '';
  proc.stdout!.on('data', (d) => { out += d; });
  proc.stderr!.on('data', (d) => { out += d; });
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  return {
    proc, exited, out: () => out,
    async waitFor(re, ms = 30_000) {
      const deadline = Date.now() + ms;
      for (;;) {
        const m = out.match(re);
        if (m) return m;
        if (Date.now() > deadline || proc.exitCode !== null) throw new Error(`dev output never matched ${re}:\n${out}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
  };
}

const alive = (pid: number) => { try { process.kill(pid, 0); return true; } catch { return false; } };
async function until<T>(what: string, fn: () => Promise<T | undefined | false> | T | undefined | false, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try { const v = await fn(); if (v) return v; } catch (e) { last = e; }
    if (Date.now() > deadline) throw new Error(`timed out: ${what} ${last ?? ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

let dataDir: string;
let manifests: string;
let port: number;
let natsPort: number;
let kinesis: KinesisClient;
const natsPid = () => Number(fs.readFileSync(path.join(dataDir, 'nats.pid'), 'utf8').trim());
const writeManifest = (shards: number, retentionHours: number) => fs.writeFileSync(path.join(manifests, 'orders.yaml'), [
  'apiVersion: shardline.dev/v1alpha1', 'kind: DataStream', 'metadata: { name: orders }', `spec: { shards: ${shards}, retentionHours: ${retentionHours} }`,
  '---', 'apiVersion: shardline.dev/v1alpha1', 'kind: DeliveryStream', 'metadata: { name: archive }', 'spec: { source: { dataStreamRef: { name: orders } }, s3: { bucket: lake } }',
].join('\n') + '\n');

beforeAll(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'shardline-dev-'));
  dataDir = path.join(root, 'data');
  manifests = path.join(root, 'manifests');
  fs.mkdirSync(manifests);
  writeManifest(2, 48);
  [port, natsPort] = [await freePort(), await freePort()];
  kinesis = new KinesisClient({ endpoint: `http://127.0.0.1:${port}`, region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'y' }, maxAttempts: 10 });
});

afterAll(async () => {
  kinesis?.destroy();
  for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  await new Promise((r) => setTimeout(r, 500));
  fs.rmSync(root, { recursive: true, force: true });
});

const args = () => ['--data-dir', dataDir, '--port', String(port), '--nats-port', String(natsPort), '-f', manifests];

test('dev: manifests applied, a readable summary whose two "try it" lines work with the AWS CLI; other kinds reported', async () => {
  const dev = startDev(args());
  await dev.waitFor(/Ctrl-C stops everything/);
  const out = dev.out();
  expect(out).toContain(`Kinesis API  http://127.0.0.1:${port}`);
  expect(out).toContain(`NATS         nats://127.0.0.1:${natsPort}`);
  expect(out).toContain('streams      orders (ACTIVE, 2 shards)');
  expect(out).toContain('DeliveryStream archive: no local worker for DeliveryStream in this build; not started');
  const s = await kinesis.send(new DescribeStreamSummaryCommand({ StreamName: 'orders' }));
  expect(s.StreamDescriptionSummary).toMatchObject({ OpenShardCount: 2, RetentionPeriodHours: 48, StreamStatus: 'ACTIVE' });

  const tryIt = out.slice(out.indexOf('try it:')).split('\n').slice(1, 3).map((l) => l.trim());
  expect(tryIt.every((l) => l.startsWith('aws --endpoint-url'))).toBe(true);
  const env = { ...process.env, PATH: `/usr/bin:${process.env.PATH}`, AWS_ACCESS_KEY_ID: 'x', AWS_SECRET_ACCESS_KEY: 'y', AWS_DEFAULT_REGION: 'us-east-1', AWS_PAGER: '' };
  expect(fs.existsSync(AWS)).toBe(true);
  const put = await promisify(execFile)('sh', ['-c', tryIt[0]!], { env });
  expect(JSON.parse(put.stdout).SequenceNumber).toMatch(/^\d+$/);
  const got = await promisify(execFile)('sh', ['-c', tryIt[1]!], { env });
  // The read line names the shard the put went to.
  expect(JSON.parse(got.stdout).Records.map((r: any) => Buffer.from(r.Data, 'base64').toString())).toEqual(['hello']);
  expect(tryIt[1]).toContain(`--shard-id ${JSON.parse(put.stdout).ShardId}`);
  fs.writeFileSync(path.join(root, 'dev1.pid'), String(dev.proc.pid));
}, 90_000);

test('a second dev on the same data directory is refused with a clear message', async () => {
  const second = startDev(['--data-dir', dataDir, '--port', String(await freePort()), '--nats-port', String(await freePort())]);
  expect(await second.exited).toBe(2);
  const pid = fs.readFileSync(path.join(root, 'dev1.pid'), 'utf8');
  expect(second.out()).toContain(`data directory ${dataDir} is in use by another shardline dev (pid ${pid})`);
});

test('a crashed nats-server is restarted; writes work again', async () => {
  const first = procs[0]!;
  const before = natsPid();
  process.kill(before, 'SIGKILL');
  await until('new nats-server', () => { try { const p = natsPid(); return p !== before && alive(p) && p; } catch { return false; } });
  const put = await until('put after restart', () => kinesis.send(new PutRecordCommand({ StreamName: 'orders', PartitionKey: 'after-crash', Data: Buffer.from('x') })), 30_000);
  expect(put.SequenceNumber).toBeDefined();
  expect(first.exitCode).toBeNull();
}, 60_000);

test('SIGKILL of dev leaves no nats-server behind; the next run applies the edited manifests and finds the data', async () => {
  const first = procs[0]!;
  const nats = natsPid();
  first.kill('SIGKILL');
  await until('nats-server gone with dev', () => !alive(nats), 10_000);

  writeManifest(4, 72);
  const dev = startDev(args());
  await dev.waitFor(/Ctrl-C stops everything/, 60_000);
  expect(dev.out()).toMatch(/JetStream restored: \d+ streams/);
  expect(dev.out()).toContain('DataStream orders: retention 72 h, 2 -> 4 shards');
  expect(dev.out()).toContain('streams      orders (ACTIVE, 4 shards)');
  const s = await kinesis.send(new DescribeStreamSummaryCommand({ StreamName: 'orders' }));
  expect(s.StreamDescriptionSummary).toMatchObject({ OpenShardCount: 4, RetentionPeriodHours: 72 });

  // Ctrl-C: graceful, exit 0, nothing left running, the data directory free again.
  const natsNow = natsPid();
  dev.proc.kill('SIGINT');
  expect(await dev.exited).toBe(0);
  expect(alive(natsNow)).toBe(false);
  expect(fs.existsSync(path.join(dataDir, 'dev.lock'))).toBe(false);
  expect(dev.out()).toContain('[dev] stopped');
}, 90_000);
