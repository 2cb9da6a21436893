import { WorkQueue } from '../../operator/kube/workqueue.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('dedupes queued keys and never runs one key on two workers at once', async () => {
  const running = new Set<string>();
  let overlap = false;
  const calls: string[] = [];
  const q = new WorkQueue(async (k) => {
    if (running.has(k)) overlap = true;
    running.add(k);
    calls.push(k);
    await sleep(30);
    running.delete(k);
  }, { workers: 4 });
  q.add('a'); q.add('a'); q.add('b');
  q.start();
  await sleep(5);
  q.add('a'); q.add('a'); // while a is processing: queued once more, after it finishes
  await sleep(120);
  await q.stop();
  expect(overlap).toBe(false);
  expect(calls.filter((c) => c === 'a')).toHaveLength(2);
  expect(calls.filter((c) => c === 'b')).toHaveLength(1);
});

test('failures back off exponentially per key; success resets', async () => {
  let fail = 3;
  let runs = 0;
  const q = new WorkQueue(async () => { runs++; if (fail-- > 0) throw new Error('boom'); }, { workers: 1, baseDelayMs: 20 });
  const delays: number[] = [];
  const addAfter = q.addAfter.bind(q);
  q.addAfter = (k, ms) => { delays.push(ms); addAfter(k, ms); };
  q.start();
  q.add('k');
  await sleep(600);
  expect(runs).toBe(4);
  expect(delays).toEqual([20, 40, 80]);
  // After a success the key starts from the base delay again.
  fail = 1;
  q.add('k');
  await sleep(100);
  await q.stop();
  expect(delays).toEqual([20, 40, 80, 20]);
});

test('requeueAfter re-runs the key later', async () => {
  let n = 0;
  const q = new WorkQueue(async () => (++n < 3 ? { requeueAfterMs: 10 } : {}), { workers: 1 });
  q.start();
  q.add('k');
  await sleep(150);
  await q.stop();
  expect(n).toBe(3);
});
