// `shardline runtime` started, as its Deployment starts it (args ['runtime'],
// settings from the environment), while its nats-server is down: as during a
// restore of a large store, when nats-server does not listen for a minute. It
// waits with progress lines, past the 15 s the old start-up allowed, and
// serves once nats-server is up, with the streams the store held.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { CreateStreamCommand, ListShardsCommand, waitUntilStreamExists } from '@aws-sdk/client-kinesis';
import { startNats, type NatsServers } from '../harness/nats.js';
import { freePort, waitForPort } from '../harness/ports.js';
import { sdkClient, startInProcess } from '../harness/runtime.js';
import { ENV } from '../../contract/env.js';

const CLI = path.resolve('dist/runtime/cli.js');
const DOWN_S = 17;
let nats: NatsServers;
let proc: ChildProcess | undefined;

beforeAll(async () => {
  nats = await startNats();
  // A stream in the store before the outage: the runtime must find it once it connects.
  const rt = await startInProcess(nats.url);
  const c = sdkClient(rt.endpoint, { http1: true });
  await c.send(new CreateStreamCommand({ StreamName: 'before', ShardCount: 40 }));
  await waitUntilStreamExists({ client: c, maxWaitTime: 60 }, { StreamName: 'before' });
  c.destroy();
  await rt.close();
});
afterAll(async () => {
  if (proc && proc.exitCode === null && proc.signalCode === null) {
    const gone = new Promise((r) => proc!.once('exit', r));
    proc.kill('SIGKILL');
    await gone;
  }
  await nats?.stop();
});

test(`the runtime waits for a nats-server that is down for ${DOWN_S} s, with progress, then serves`, async () => {
  await nats.kill(0);
  const port = await freePort();
  proc = spawn(process.execPath, [CLI, 'runtime'], {
    env: { ...process.env, [ENV.natsUrl]: nats.url, [ENV.port]: String(port), [ENV.host]: '127.0.0.1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  await new Promise((r) => setTimeout(r, DOWN_S * 1000));
  expect(proc.exitCode).toBeNull();
  const progress = out.split('\n').filter((l) => /waiting for NATS/.test(l));
  // One line every 5 s while waiting, each saying how long so far.
  expect(progress.length).toBeGreaterThanOrEqual(3);
  expect(progress.at(-1)).toMatch(/\(1[0-9] s; nats-server may be restoring its streams\)/);

  const t = Date.now();
  await nats.restart(0);
  await waitForPort(port, 30_000);
  console.log(`[natsWait.test] runtime serving ${Date.now() - t} ms after nats-server listened again`);
  // The count is every JetStream stream (the 40 shards and the metadata buckets).
  expect(Number(/connected to NATS; (\d+) shard streams in JetStream/.exec(out)?.[1])).toBeGreaterThanOrEqual(40);
  const c = sdkClient(`http://127.0.0.1:${port}`, { http1: true });
  try {
    const shards = await c.send(new ListShardsCommand({ StreamName: 'before' }));
    expect(shards.Shards).toHaveLength(40);
  } finally {
    c.destroy();
  }
}, 90_000);
