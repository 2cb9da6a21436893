// Test helpers for analytics: the worker as a real `shardline analytics`
// process, the Kinesis Analytics SDK client, and reading a stream to the end.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { KinesisClient, GetShardIteratorCommand, GetRecordsCommand, ListShardsCommand, PutRecordsCommand, CreateStreamCommand, DescribeStreamSummaryCommand } from '@aws-sdk/client-kinesis';
import { KinesisAnalyticsClient } from '@aws-sdk/client-kinesis-analytics';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { TEST_CREDENTIALS, type Stack } from '../harness/runtime.js';
import type { AnalyticsAppSpec } from '../../crds/index.js';
import { analyticsChildren } from '../../operator/model/workers.js';
import { apiAnalyticsChildren } from '../../operator/model/apiWorkers.js';

const CLI = path.resolve('dist/runtime/cli.js');

export interface WorkerProcess {
  proc: ChildProcess;
  configFile: string;
  logs(): string;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/** `shardline analytics --config <file>` exactly as the Deployment runs it. */
export function startWorker(config: Record<string, unknown>, env: Record<string, string> = {}): WorkerProcess {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shardline-analytics-'));
  const configFile = path.join(dir, 'config.json');
  fs.writeFileSync(configFile, JSON.stringify(config));
  return spawnWorker(['analytics', '--config', configFile], configFile, env);
}

export function spawnWorker(args: string[], configFile: string, env: Record<string, string> = {}): WorkerProcess {
  const proc = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (d) => (out = (out + d).slice(-20000)));
  proc.stderr!.on('data', (d) => (out = (out + d).slice(-20000)));
  return {
    proc, configFile,
    logs: () => out,
    async kill(signal = 'SIGKILL') {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      const gone = new Promise((r) => proc.once('exit', r));
      proc.kill(signal);
      await gone;
    },
  };
}

export function analyticsClient(endpoint: string): KinesisAnalyticsClient {
  return new KinesisAnalyticsClient({ endpoint, region: 'us-east-1', credentials: TEST_CREDENTIALS, maxAttempts: 1, requestHandler: new NodeHttpHandler() });
}

export async function createStream(k: KinesisClient, name: string, shards: number): Promise<string> {
  await k.send(new CreateStreamCommand({ StreamName: name, ShardCount: shards }));
  for (;;) {
    const d = await k.send(new DescribeStreamSummaryCommand({ StreamName: name }));
    if (d.StreamDescriptionSummary!.StreamStatus === 'ACTIVE') return d.StreamDescriptionSummary!.StreamARN!;
    await sleep(50);
  }
}

export interface ReadBack { data: string; arrivalMs: number; partitionKey: string; shardId: string }

/** Every record of the stream, shard by shard, through GetRecords. */
export async function readAll(k: KinesisClient, stream: string): Promise<ReadBack[]> {
  const shards = (await k.send(new ListShardsCommand({ StreamName: stream }))).Shards!;
  const out: ReadBack[] = [];
  for (const s of shards) {
    let it = (await k.send(new GetShardIteratorCommand({ StreamName: stream, ShardId: s.ShardId!, ShardIteratorType: 'TRIM_HORIZON' }))).ShardIterator;
    while (it) {
      let r;
      try {
        r = await k.send(new GetRecordsCommand({ ShardIterator: it, Limit: 10000 }));
      } catch (e) {
        // 5 GetRecords calls a second per shard, as in Kinesis.
        if ((e as Error).name !== 'ProvisionedThroughputExceededException') throw e;
        await sleep(300);
        continue;
      }
      for (const x of r.Records!) out.push({ data: Buffer.from(x.Data!).toString('utf8'), arrivalMs: x.ApproximateArrivalTimestamp!.getTime(), partitionKey: x.PartitionKey!, shardId: s.ShardId! });
      if (!r.Records!.length && r.MillisBehindLatest === 0) break;
      it = r.NextShardIterator;
    }
  }
  return out;
}

/** `partitionKey`: each document's key (default `pk-<its index>`, spreading the call's documents over the shards). */
export async function putJson(k: KinesisClient, stream: string, docs: unknown[], partitionKey: (doc: unknown, i: number) => string = (_d, i) => `pk-${i}`): Promise<void> {
  for (let i = 0; i < docs.length; i += 500) {
    const r = await k.send(new PutRecordsCommand({
      StreamName: stream,
      Records: docs.slice(i, i + 500).map((d, j) => ({ Data: Buffer.from(typeof d === 'string' ? d : JSON.stringify(d)), PartitionKey: partitionKey(d, i + j) })),
    }));
    if (r.FailedRecordCount) throw new Error(`${r.FailedRecordCount} records failed`);
  }
}

export async function waitFor<T>(what: string, f: () => Promise<T | undefined | false>, timeoutMs = 30000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(400);
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The Deployment's container command line and environment for an AnalyticsApp (config file in a temporary directory). */
export function deploymentCommand(stack: Stack, name: string, spec: AnalyticsAppSpec, streams: string[]) {
  const app = { apiVersion: 'shardline.dev/v1alpha1', kind: 'AnalyticsApp', metadata: { name, namespace: 'scale', uid: `u-${name}`, generation: 1 }, spec } as const;
  const resolved = new Map(streams.map((s) => [s, { name: s, streamName: s, endpoint: stack.runtimes[0]!.endpoint }]));
  const kids = analyticsChildren(app as any, spec, resolved, { image: 'shardline:test', natsUrl: stack.nats.url, pdbApiVersion: 'policy/v1', sharedEndpoint: stack.runtimes[0]!.endpoint });
  const container = (kids.deployment as any).spec.template.spec.containers[0];
  const mount = container.volumeMounts.find((m: any) => m.name === 'config').mountPath;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'analytics-scale-'));
  fs.writeFileSync(path.join(dir, 'config.json'), (kids.configMap as any).data['config.json']);
  const args = (container.args as string[]).map((a) => a.replace(mount, dir));
  const env = Object.fromEntries((container.env as { name: string; value?: string }[]).filter((e) => e.value !== undefined).map((e) => [e.name, e.value!]));
  return { args, env, configFile: path.join(dir, 'config.json') };
}

/** The operator's Deployment command line and environment for an application created through the Kinesis Analytics API. */
export function apiDeploymentCommand(stack: Stack, name: string, createdAtMs = 1) {
  const kids = apiAnalyticsChildren({ name, uid: String(createdAtMs) }, 'op', { image: 'shardline:test', natsUrl: stack.nats.url, pdbApiVersion: 'policy/v1', sharedEndpoint: stack.runtimes[0]!.endpoint });
  const container = (kids.deployment as any).spec.template.spec.containers[0];
  const mount = container.volumeMounts.find((m: any) => m.name === 'config').mountPath;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'analytics-api-'));
  for (const [f, v] of Object.entries((kids.configMap as any).data as Record<string, string>)) fs.writeFileSync(path.join(dir, f), v);
  const args = (container.args as string[]).map((a) => a.replace(mount, dir));
  const env = Object.fromEntries((container.env as { name: string; value?: string }[]).filter((e) => e.value !== undefined).map((e) => [e.name, e.value!]));
  return { args, env, configFile: path.join(dir, 'config.json') };
}
