// Event time end to end: a TUMBLE window table function on an event-time
// column with a declared lateness, records out of order (within the lateness)
// and very late (to error_stream), the worker SIGKILLed mid-window twice; the
// output equals an oracle over the records as stored, each window once.
import { startStack, type Stack } from '../harness/runtime.js';
import { createStream, putJson, readAll, sleep, startWorker, waitFor, type WorkerProcess } from './helpers.js';

let stack: Stack;
const workers: WorkerProcess[] = [];

beforeAll(async () => {
  stack = await startStack(1);
});

afterAll(async () => {
  for (const w of workers) await w.kill();
  await stack?.stop();
});

const ts = (ms: number) => new Date(ms).toISOString().replace('T', ' ').replace('Z', '');

test('TUMBLE on event time: out-of-order and late records, SIGKILL mid-window, windows exactly once', async () => {
  const k = stack.clients[0]!;
  await createStream(k, 'sensor-in', 2);
  await createStream(k, 'sensor-out', 1);
  await createStream(k, 'sensor-late', 1);
  const config = {
    applicationName: 'sensors', natsUrl: stack.nats.url, startingPosition: 'TRIM_HORIZON', leaseMs: 600, idleWatermarkLagMs: 300, checkpointIntervalMs: 200,
    application: {
      name: 'sensors',
      code: `CREATE OR REPLACE STREAM "AVGS" (WS TIMESTAMP, WE TIMESTAMP, SENSOR VARCHAR(8), N INTEGER, HI DOUBLE);
CREATE OR REPLACE PUMP "P" AS INSERT INTO "AVGS"
  SELECT STREAM window_start, window_end, SENSOR, COUNT(*), MAX(READING)
  FROM TABLE(TUMBLE(TABLE "SOURCE_SQL_STREAM_001", DESCRIPTOR(EVENT_TIME), INTERVAL '1' SECOND))
  GROUP BY window_start, window_end, SENSOR;`,
      inputs: [{
        id: '1.1', namePrefix: 'SOURCE_SQL_STREAM', source: { kind: 'stream', name: 'sensor-in' }, format: { type: 'JSON', rowPath: '$' },
        columns: [{ name: 'SENSOR', sqlType: 'VARCHAR(8)', mapping: '$.sensor' }, { name: 'READING', sqlType: 'DOUBLE', mapping: '$.reading' }, { name: 'EVENT_TIME', sqlType: 'TIMESTAMP', mapping: '$.at' }],
        watermark: { column: 'EVENT_TIME', delaySeconds: 2 },
      }],
      outputs: [
        { id: '1.1', name: 'AVGS', destination: { kind: 'stream', name: 'sensor-out' }, format: 'JSON' },
        { id: '2.1', name: 'error_stream', destination: { kind: 'stream', name: 'sensor-late' }, format: 'JSON' },
      ],
    },
  };
  workers.push(startWorker(config));
  // Event time runs at 1 s per 0.5 s of wall time from a fixed start; readings are up to 1.5 s out of
  // order (inside the 2 s lateness) and every 25th is 30 s late (its window closed long ago).
  const start = Date.UTC(2026, 0, 1);
  let n = 0;
  let late = 0;
  const produce = async (batches: number) => {
    for (let b = 0; b < batches; b++) {
      const docs = [];
      for (let i = 0; i < 10; i++) {
        n++;
        const now = start + n * 20;
        const isLate = n % 25 === 0 && n > 200;
        const at = isLate ? now - 30_000 : now - ((n * 37) % 1500);
        if (isLate) late++;
        docs.push({ sensor: `s${n % 3}`, reading: (n * 13) % 97, at: new Date(at).toISOString(), ...(isLate ? { late: true } : {}) });
      }
      await putJson(k, 'sensor-in', docs);
      await sleep(100);
    }
  };
  await produce(12);
  await workers[0]!.kill('SIGKILL');
  workers.push(startWorker(config));
  await produce(12);
  await workers[1]!.kill('SIGKILL');
  workers.push(startWorker(config));
  await produce(12);

  // Oracle: the late records (marked by the producer, a field the application does not map) go to
  // error_stream; the others count in their 1 s window once the watermark (max event time - 2 s) passed it.
  const input = (await readAll(k, 'sensor-in')).map((r) => JSON.parse(r.data) as { sensor: string; reading: number; at: string; late?: boolean });
  const wm = Math.max(...input.map((d) => Date.parse(d.at))) - 2000;
  const want = new Map<string, { n: number; hi: number }>();
  for (const d of input) {
    if (d.late) continue;
    const ws = Math.floor(Date.parse(d.at) / 1000) * 1000;
    if (ws + 1000 > wm) continue;
    const key = JSON.stringify([ts(ws), ts(ws + 1000), d.sensor]);
    const g = want.get(key) ?? { n: 0, hi: -Infinity };
    g.n++; g.hi = Math.max(g.hi, d.reading);
    want.set(key, g);
  }
  const expected = [...want].map(([key, g]) => { const [ws, we, s] = JSON.parse(key); return JSON.stringify({ WS: ws, WE: we, SENSOR: s, N: g.n, HI: g.hi }); }).sort();
  expect(expected.length).toBeGreaterThan(10);
  const got = await waitFor('every closed window', async () => {
    const rows = await readAll(k, 'sensor-out');
    return rows.length >= expected.length ? rows : undefined;
  });
  await sleep(500);
  expect((await readAll(k, 'sensor-out')).map((r) => r.data).sort()).toEqual(expected);
  expect(got.length).toBe(expected.length);
  const errors = (await readAll(k, 'sensor-late')).map((r) => JSON.parse(r.data));
  expect(errors.length).toBe(late);
  expect(errors.every((e) => e.ERROR_NAME === 'LATE_ROW')).toBe(true);
}, 90000);

