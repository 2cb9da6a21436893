// WindowedPublisher when the NATS server it is connected to dies: messages in
// flight fail at once (retryable) instead of at the ack timeout, and
// publishing works again once the connection is back.
import { connect, StorageType, type NatsConnection } from 'nats';
import { startNats, type NatsServers } from '../harness/nats.js';
import { PublishError, WindowedPublisher } from '../../stream/publisher.js';

let nats: NatsServers;
let nc: NatsConnection;

beforeAll(async () => {
  nats = await startNats();
  nc = await connect({ servers: nats.url, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
  const jsm = await nc.jetstreamManager();
  await jsm.streams.add({ name: 'PUB', subjects: ['pub.ok'], storage: StorageType.File });
});
afterAll(async () => {
  await nc?.close();
  await nats?.stop();
});

test('in-flight publishes fail fast and retryable when the connection drops; later ones succeed', async () => {
  const publisher = new WindowedPublisher(nc, { timeoutMs: 30_000 });
  expect((await publisher.publish('pub.ok', new Uint8Array([1]))).seq).toBe(1);
  // A subscriber that never answers keeps these in flight until the server dies.
  const silent = nc.subscribe('pub.silent');
  await nc.flush();
  const inFlight = Array.from({ length: 5 }, () => publisher.publish('pub.silent', new Uint8Array([2])).then(() => 'acked', (e) => e));
  await nc.flush();
  expect(publisher.inFlight).toBe(5);
  const t0 = Date.now();
  await nats.kill(0);
  const results = await Promise.all(inFlight);
  const failedAfter = Date.now() - t0;
  for (const r of results) {
    expect(r).toBeInstanceOf(PublishError);
    expect((r as PublishError).retryable).toBe(true);
  }
  expect(failedAfter).toBeLessThan(5_000);
  await nats.restart(0);
  silent.unsubscribe();
  // Once reconnected (and the restarted server has its stream back: a publish
  // sent before that is dropped, and would wait out the timeout), the
  // publisher's reply subscription works again.
  for (let i = 0; ; i++) {
    try {
      await (await nc.jetstreamManager({ timeout: 1_000 })).streams.info('PUB');
      break;
    } catch (e) {
      if (i > 50) throw e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  const ack = await publisher.publish('pub.ok', new Uint8Array([3]));
  expect(ack.seq).toBe(2);
  publisher.close();
});
