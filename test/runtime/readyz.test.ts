// /readyz is a JetStream round trip (issue 12, fault 5): a frozen nats-server
// (SIGSTOP keeps its TCP connections open) makes the runtime unready within
// the probe's deadline, while /healthz (liveness) stays up; SIGCONT makes it
// ready again. The server is always resumed, even when an assertion fails.
import fs from 'node:fs';
import { startNats, type NatsServers } from '../harness/nats.js';
import { startInProcess } from '../harness/runtime.js';
import type { RunningRuntime } from '../../runtime/server.js';

let nats: NatsServers;
let rt: RunningRuntime & { endpoint: string };
const READY_TIMEOUT_MS = 500;

beforeAll(async () => {
  nats = await startNats();
  rt = await startInProcess(nats.url, { readyTimeoutMs: READY_TIMEOUT_MS });
});
afterAll(async () => {
  nats?.nodes[0]?.proc?.kill('SIGCONT');
  await rt?.close();
  await nats?.stop();
});

async function probe(path: string): Promise<{ status: number; text: string; ms: number }> {
  const t0 = Date.now();
  const res = await fetch(`${rt.endpoint}${path}`, { signal: AbortSignal.timeout(10_000) });
  return { status: res.status, text: await res.text(), ms: Date.now() - t0 };
}

/**
 * Resolves once every thread of the process is stopped. kill() only queues
 * SIGSTOP: one thread takes it and then stops the others, and on a busy
 * machine another thread can still read a request and answer it first.
 */
async function stopped(pid: number): Promise<void> {
  const deadline = Date.now() + 5000;
  // A thread's state is the field after its parenthesized name; a thread gone meanwhile stops nothing.
  const state = (tid: string) => {
    try {
      return fs.readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8').replace(/^.*\) /s, '')[0];
    } catch {
      return 'T';
    }
  };
  while (!fs.readdirSync(`/proc/${pid}/task`).every((tid) => state(tid) === 'T')) {
    if (Date.now() > deadline) throw new Error(`nats-server ${pid} not stopped 5 s after SIGSTOP`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

test('a stopped nats-server makes /readyz 503 within its deadline; resumed, 200 again', async () => {
  expect(await probe('/readyz')).toMatchObject({ status: 200, text: 'ok' });
  const proc = nats.nodes[0]!.proc!;
  proc.kill('SIGSTOP');
  try {
    await stopped(proc.pid!);
    const frozen = await probe('/readyz');
    expect(frozen.status).toBe(503);
    expect(frozen.text).toMatch(/jetstream did not answer within 500 ms/);
    expect(frozen.ms).toBeLessThan(READY_TIMEOUT_MS + 3000);
    // Liveness does not depend on NATS: restarting the pod would not help.
    expect((await probe('/healthz')).status).toBe(200);
    // Concurrent probes share one request and get the same answer.
    const many = await Promise.all(Array.from({ length: 5 }, () => probe('/readyz')));
    for (const m of many) expect(m.status).toBe(503);
  } finally {
    proc.kill('SIGCONT');
  }
  const deadline = Date.now() + 10_000;
  let last = await probe('/readyz');
  while (last.status !== 200 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 200));
    last = await probe('/readyz');
  }
  expect(last).toMatchObject({ status: 200, text: 'ok' });
}, 30_000);
