// stream/directGets.ts against a real nats-server: the read path's requests
// over one reply subscription must end exactly as nc.request() ends them
// (nats.js is the oracle: each case runs both and compares), and leave no
// timer behind once nothing is in flight.
import { connect, type NatsConnection } from 'nats';
import { startNats, type NatsServers } from '../harness/nats.js';
import { directRequest } from '../../stream/directGets.js';

let nats: NatsServers;
let nc: NatsConnection;
const enc = new TextEncoder();
const dec = new TextDecoder();

beforeAll(async () => {
  nats = await startNats();
  nc = await connect({ servers: nats.url, noAsyncTraces: true });
});
afterAll(async () => {
  await nc?.close();
  await nats?.stop();
});

const codeOf = (p: Promise<unknown>) => p.then(() => 'answered', (e: { code?: string }) => e.code);
const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

test('answers reach their own requests, also when answered out of order; no timer left after', async () => {
  // A responder that holds 20 requests, then answers them in reverse order.
  const held: { reply: string; data: string }[] = [];
  const sub = nc.subscribe('svc.echo', {
    callback: (_e, m) => {
      held.push({ reply: m.reply!, data: dec.decode(m.data) });
      if (held.length === 20) for (const h of held.reverse()) nc.publish(h.reply, enc.encode(`re:${h.data}`));
    },
  });
  await nc.flush();
  const before = timers();
  const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => directRequest(nc, 'svc.echo', enc.encode(`q${i}`), 2_000)));
  expect(answers.map((m) => dec.decode(m.data))).toEqual(Array.from({ length: 20 }, (_, i) => `re:q${i}`));
  expect(timers()).toBe(before);
  sub.unsubscribe();
});

test('no responders: the same NatsError code as nc.request()', async () => {
  const ours = await codeOf(directRequest(nc, 'svc.nobody', enc.encode('x'), 2_000));
  expect(ours).toBe(await codeOf(nc.request('svc.nobody', enc.encode('x'), { timeout: 2_000 })));
  expect(ours).toBe('503');
});

test('an answer that never comes: TIMEOUT as nc.request() gives it; the late answer is dropped, the next request answered', async () => {
  const late: string[] = [];
  const sub = nc.subscribe('svc.slow', {
    callback: (_e, m) => {
      late.push(m.reply!);
      setTimeout(() => nc.publish(m.reply!, enc.encode('late')), 400);
    },
  });
  const fast = nc.subscribe('svc.fast', { callback: (_e, m) => m.respond(enc.encode('fast')) });
  await nc.flush();
  const t0 = Date.now();
  const [ours, theirs] = await Promise.all([codeOf(directRequest(nc, 'svc.slow', enc.encode('x'), 200)), codeOf(nc.request('svc.slow', enc.encode('x'), { timeout: 200 }))]);
  expect(Date.now() - t0).toBeGreaterThanOrEqual(190);
  expect(ours).toBe(theirs);
  expect(ours).toBe('TIMEOUT');
  // Requests sent after the timed-out one, while its answer is still coming, get their own answers.
  const next = await Promise.all(Array.from({ length: 5 }, () => directRequest(nc, 'svc.fast', enc.encode('y'), 200)));
  expect(next.map((m) => dec.decode(m.data))).toEqual(Array(5).fill('fast'));
  await new Promise((r) => setTimeout(r, 500));
  expect(late).toHaveLength(2);
  sub.unsubscribe();
  fast.unsubscribe();
});

test('a connection that closes with requests in flight, then used again: the codes nc.request() gives', async () => {
  const other = await connect({ servers: nats.url, noAsyncTraces: true });
  other.subscribe('svc.never', { callback: () => undefined });
  await other.flush();
  const inFlight = [codeOf(directRequest(other, 'svc.never', enc.encode('x'), 5_000)), codeOf(other.request('svc.never', enc.encode('x'), { timeout: 5_000 }))];
  await other.flush();
  await other.close();
  const [ours, theirs] = await Promise.all(inFlight);
  expect(ours).toBe(theirs);
  expect(ours).toBe('TIMEOUT');
  const after = await codeOf(directRequest(other, 'svc.never', enc.encode('x'), 5_000));
  expect(after).toBe(await codeOf(other.request('svc.never', enc.encode('x'), { timeout: 5_000 })));
  expect(after).toBe('CONNECTION_CLOSED');
});

test('across a server restart: a request sent while disconnected ends as nc.request() ends it; afterwards the reply subscription is back', async () => {
  const opts = { servers: nats.url, noAsyncTraces: true, maxReconnectAttempts: -1, reconnectTimeWait: 100 };
  const client = await connect(opts);
  const responder = await connect(opts);
  responder.subscribe('svc.echo2', { callback: (_e, m) => m.respond(enc.encode(`re:${dec.decode(m.data)}`)) });
  await responder.flush();
  try {
    expect(dec.decode((await directRequest(client, 'svc.echo2', enc.encode('a'), 2_000)).data)).toBe('re:a');
    await nats.kill(0);
    // Sent while the server is down: buffered by nats.js, then either answered after the reconnect or timed out.
    const during = [codeOf(directRequest(client, 'svc.echo2', enc.encode('b'), 5_000)), codeOf(client.request('svc.echo2', enc.encode('b'), { timeout: 5_000 }))];
    await nats.restart(0);
    const [ours, theirs] = await Promise.all(during);
    expect(ours).toBe(theirs);
    // Once both connections are back, requests are answered on the same reply subscription.
    const deadline = Date.now() + 15_000;
    for (;;) {
      const got = await directRequest(client, 'svc.echo2', enc.encode('c'), 500).then((m) => dec.decode(m.data), () => undefined);
      if (got === 're:c') break;
      if (Date.now() > deadline) throw new Error('no answer after the restart');
    }
    const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => directRequest(client, 'svc.echo2', enc.encode(`d${i}`), 2_000)));
    expect(answers.map((m) => dec.decode(m.data))).toEqual(Array.from({ length: 10 }, (_, i) => `re:d${i}`));
  } finally {
    await client.close();
    await responder.close();
  }
}, 60_000);
