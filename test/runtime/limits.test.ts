// Limits before authentication (issue 12, fault 3): the probes that found the
// faults, run against a real runtime on a real nats-server with short limits.
// Every probe is bounded (a few dozen loopback sockets, a few MiB) and ends by
// itself. Before the fix each one failed: idle sockets stayed open, headers
// dribbled for minutes were served, unfinished bodies were held forever,
// unauthenticated bodies were read, an aborted request logged a stack trace.
import http2 from 'node:http2';
import net from 'node:net';
import { CreateStreamCommand, PutRecordCommand } from '@aws-sdk/client-kinesis';
import { startNats, type NatsServers } from '../harness/nats.js';
import { sdkClient, startInProcess, TEST_CREDENTIALS } from '../harness/runtime.js';
import { startRuntime, type RunningRuntime } from '../../runtime/server.js';
import { runtimeConfig } from '../../runtime/config.js';
import { isoBasic } from '../../runtime/auth/time.js';

const LIMITS = {
  ...runtimeConfig([]).limits,
  sniffTimeoutMs: 1000,
  headersTimeoutMs: 1500,
  idleTimeoutMs: 2000,
  maxConnections: 30,
  requestTimeoutMs: 60_000,
};
const BODY_TIMEOUT_MS = 2000;
const BUDGET = 8 * 1024 * 1024;

let nats: NatsServers;
let rt: RunningRuntime & { endpoint: string };
let authRt: RunningRuntime & { endpoint: string };
const lines: string[] = [];

beforeAll(async () => {
  nats = await startNats();
  const common = { limits: LIMITS, bodyTimeoutMs: BODY_TIMEOUT_MS, bodyBudgetBytes: BUDGET, maxBodyBytes: 20 * 1024 * 1024 };
  rt = await startInProcess(nats.url, common);
  // With auth on, and its log lines captured (the harness would send them to stderr).
  const config = { ...runtimeConfig([]), natsUrl: nats.url, port: 0, host: '127.0.0.1', ...common, accessLog: true, credentials: `${TEST_CREDENTIALS.accessKeyId}:${TEST_CREDENTIALS.secretAccessKey}` };
  const r = await startRuntime(config, (l) => lines.push(l));
  authRt = Object.assign(r, { endpoint: `http://127.0.0.1:${r.port}` });
  await sdkClient(rt.endpoint, { http1: true }).send(new CreateStreamCommand({ StreamName: 'lim', ShardCount: 1 }));
});
afterAll(async () => {
  await rt?.close();
  await authRt?.close();
  await nats?.stop();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Probe {
  socket: net.Socket;
  /** Resolves with ms since open when the server closes it (or rejects on our own timeout). */
  closed: Promise<number>;
  received(): string;
}

function open(port: number): Promise<Probe> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const socket = net.connect(port, '127.0.0.1');
    let data = '';
    socket.on('data', (d) => (data += d.toString('latin1')));
    socket.on('error', () => undefined);
    const closed = new Promise<number>((r) => socket.once('close', () => r(Date.now() - t0)));
    socket.once('connect', () => resolve({ socket, closed, received: () => data }));
    socket.once('error', reject);
  });
}

/** Rejects if the promise has not settled within ms (the probe outlived the limit). */
const within = <T>(p: Promise<T>, ms: number, what: string) =>
  Promise.race([p, sleep(ms).then(() => Promise.reject(new Error(`${what}: still open after ${ms} ms`)))]);

test('slowloris: headers dribbled a byte at a time are cut off at the header deadline', async () => {
  const p = await open(rt.port);
  p.socket.write('POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Amz-Target: Kinesis_20131202.ListStreams\r\nX-Slow: ');
  let stop = false;
  const dribble = (async () => {
    while (!stop && !p.socket.destroyed) {
      p.socket.write('a');
      await sleep(100);
    }
  })();
  const ms = await within(p.closed, LIMITS.headersTimeoutMs + 4000, 'slowloris connection');
  stop = true;
  await dribble;
  expect(ms).toBeGreaterThanOrEqual(LIMITS.headersTimeoutMs - 100);
  expect(p.received()).toMatch(/^HTTP\/1\.1 408/);
}, 20_000);

test('idle flood: silent connections are closed, the cap holds, and a real client is still served', async () => {
  const flood: Probe[] = [];
  for (let i = 0; i < 2 * LIMITS.maxConnections; i++) flood.push(await open(rt.port));
  // Past the cap, the longest-idle connections made room for newer ones at once (long before the deadline).
  await sleep(300);
  let closedEarly = 0;
  for (const p of flood) if (p.socket.destroyed || p.socket.readyState === 'closed') closedEarly++;
  expect(closedEarly).toBeGreaterThanOrEqual(LIMITS.maxConnections);
  expect(rt.listener.connections.size).toBeLessThanOrEqual(LIMITS.maxConnections);
  // A real client gets in while the flood is still open (it evicts an idle socket).
  const client = sdkClient(rt.endpoint, { http1: true });
  const put = await client.send(new PutRecordCommand({ StreamName: 'lim', PartitionKey: 'k', Data: Buffer.from('during flood') }));
  expect(put.SequenceNumber).toMatch(/^\d+$/);
  client.destroy();
  // Every silent socket is gone by the first-bytes deadline.
  const ms = await within(Promise.all(flood.map((p) => p.closed)), LIMITS.sniffTimeoutMs + 4000, 'idle flood');
  expect(Math.max(...ms)).toBeLessThan(LIMITS.sniffTimeoutMs + 4000);
}, 30_000);

test('keep-alive idle timeout: an HTTP/1.1 connection and an h2 session that go quiet are closed', async () => {
  const p = await open(rt.port);
  const body = '{}';
  p.socket.write(
    `POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-amz-json-1.1\r\nX-Amz-Target: Kinesis_20131202.ListStreams\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
  );
  const session = http2.connect(rt.endpoint);
  session.on('error', () => undefined);
  const h2Closed = new Promise<number>((r) => {
    const t0 = Date.now();
    session.once('close', () => r(Date.now() - t0));
  });
  await new Promise<void>((resolve, reject) => {
    const req = session.request({ ':method': 'POST', ':path': '/', 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'Kinesis_20131202.ListStreams' });
    req.on('response', (h) => (h[':status'] === 200 ? resolve() : reject(new Error(`status ${h[':status']}`))));
    req.on('error', reject);
    req.end('{}');
    req.resume();
  });
  await within(p.closed, LIMITS.idleTimeoutMs + 4000, 'keep-alive connection');
  expect(p.received()).toMatch(/^HTTP\/1\.1 200/);
  const ms = await within(h2Closed, LIMITS.idleTimeoutMs + 4000, 'idle h2 session');
  expect(ms).toBeGreaterThanOrEqual(LIMITS.idleTimeoutMs - 200);
}, 30_000);

test('unfinished-body flood: memory stays within the budget, excess is throttled, stalled bodies time out', async () => {
  const MiB = 1024 * 1024;
  const head = (n: number) =>
    `POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-amz-json-1.1\r\nX-Amz-Target: Kinesis_20131202.PutRecords\r\nContent-Length: ${n}\r\n\r\n`;
  const probes = await Promise.all(Array.from({ length: 25 }, () => open(rt.port)));
  let peak = 0;
  const watch = setInterval(() => (peak = Math.max(peak, rt.bodyBudget?.used ?? 0)), 5);
  for (const p of probes) {
    p.socket.write(head(20 * MiB));
    p.socket.write(Buffer.alloc(MiB, 0x20));
  }
  const ms = await within(Promise.all(probes.map((p) => p.closed)), BODY_TIMEOUT_MS + 5000, 'unfinished bodies');
  clearInterval(watch);
  expect(Math.max(...ms)).toBeLessThan(BODY_TIMEOUT_MS + 5000);
  expect(peak).toBeLessThanOrEqual(BUDGET);
  expect(peak).toBeGreaterThan(0);
  const statuses = probes.map((p) => /^HTTP\/1\.1 (\d+)/.exec(p.received())?.[1]);
  const throttled = probes.filter((p) => p.received().includes('LimitExceededException'));
  // At most budget/1 MiB bodies fit; the rest were told to back off, the others timed out.
  expect(throttled.length).toBeGreaterThanOrEqual(25 - BUDGET / MiB);
  for (const s of statuses) expect(['400', '408']).toContain(s);
  expect(statuses.filter((s) => s === '408').length).toBeGreaterThan(0);
  expect(rt.bodyBudget.used).toBe(0);
  // Served again once the stalled bodies are gone.
  const client = sdkClient(rt.endpoint, { http1: true });
  await expect(client.send(new PutRecordCommand({ StreamName: 'lim', PartitionKey: 'k', Data: Buffer.from('after') }))).resolves.toHaveProperty('SequenceNumber');
  client.destroy();
}, 30_000);

/** A SigV4 Authorization header with a made-up signature (enough for the checks before the body). */
function authHeaders(accessKeyId: string, at: Date): Record<string, string> {
  const date = isoBasic(at);
  return {
    'x-amz-date': date,
    authorization: `AWS4-HMAC-SHA256 Credential=${accessKeyId}/${date.slice(0, 8)}/us-east-1/kinesis/aws4_request, SignedHeaders=host;x-amz-date, Signature=${'0'.repeat(64)}`,
  };
}

async function headersOnly(port: number, headers: Record<string, string>, contentLength: number): Promise<{ status: string; body: string; ms: number }> {
  const p = await open(port);
  const t0 = Date.now();
  const lines = [
    'POST / HTTP/1.1',
    'Host: x',
    'Content-Type: application/x-amz-json-1.1',
    'X-Amz-Target: Kinesis_20131202.PutRecords',
    `Content-Length: ${contentLength}`,
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
  ];
  p.socket.write(lines.join('\r\n') + '\r\n\r\n');
  // No body is ever sent: an answer can only come from checks before the body.
  await within(
    new Promise<void>((r) => {
      const check = () => (/\r\n\r\n[\s\S]*\}/.test(p.received()) ? r() : setTimeout(check, 10));
      check();
    }),
    BODY_TIMEOUT_MS - 500,
    'pre-body answer',
  );
  p.socket.destroy();
  const text = p.received();
  return { status: /^HTTP\/1\.1 (\d+)/.exec(text)![1]!, body: text.slice(text.indexOf('\r\n\r\n') + 4), ms: Date.now() - t0 };
}

test('auth on: unknown access key, skewed clock and missing signature are answered before the body is read', async () => {
  const unknown = await headersOnly(authRt.port, authHeaders('AKIDUNKNOWN', new Date()), 10 * 1024 * 1024);
  expect(unknown.status).toBe('400');
  expect(JSON.parse(unknown.body)).toMatchObject({ __type: 'UnrecognizedClientException' });
  const skewed = await headersOnly(authRt.port, authHeaders(TEST_CREDENTIALS.accessKeyId, new Date(Date.now() - 3600_000)), 10 * 1024 * 1024);
  expect(skewed.status).toBe('400');
  expect(JSON.parse(skewed.body)).toMatchObject({ __type: 'InvalidSignatureException', message: expect.stringMatching(/^Signature expired/) });
  const none = await headersOnly(authRt.port, {}, 10 * 1024 * 1024);
  expect(JSON.parse(none.body)).toMatchObject({ __type: 'MissingAuthenticationTokenException' });
  expect(authRt.bodyBudget.used).toBe(0);
}, 20_000);

test('an aborted request is one log line, not a stack trace', async () => {
  const before = lines.length;
  const p = await open(authRt.port);
  const h = authHeaders(TEST_CREDENTIALS.accessKeyId, new Date());
  p.socket.write(
    `POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-amz-json-1.1\r\nX-Amz-Target: Kinesis_20131202.ListStreams\r\nContent-Length: 1000\r\nx-amz-date: ${h['x-amz-date']}\r\nauthorization: ${h.authorization}\r\n\r\n{"a":`,
  );
  await sleep(200);
  p.socket.destroy();
  const deadline = Date.now() + 5000;
  while (!lines.slice(before).some((l) => l.includes('ClientAborted')) && Date.now() < deadline) await sleep(50);
  const mine = lines.slice(before);
  const aborted = mine.filter((l) => l.includes('ClientAborted'));
  expect(aborted).toHaveLength(1);
  expect(JSON.parse(aborted[0]!)).toMatchObject({ operation: 'ListStreams', status: 0, errorType: 'ClientAborted', level: 'info' });
  for (const l of mine) expect(l).not.toMatch(/\n|\bat .+:\d+:\d+\)/);
}, 20_000);
