// Pure unit tests: the creation pacer's window (stream/creationPacer.ts) and
// which JetStream answers count as a retryable storage refusal (stream/errors.ts).
import { CreationPacer } from '../../stream/creationPacer.js';
import { StorageRefusedError, storageRefusal } from '../../stream/errors.js';

test('at most `budget` creations start within any window; the rest wait for the oldest to leave it, in order', async () => {
  const pacer = new CreationPacer(3, 300);
  const t0 = Date.now();
  const started: number[] = [];
  await Promise.all(Array.from({ length: 7 }, (_, i) => pacer.acquire().then(() => (started[i] = Date.now() - t0))));
  expect(started.slice(0, 3).every((t) => t < 100)).toBe(true);
  // 4th–6th only once the first three are a window old; the 7th a window after the 4th.
  expect(started.slice(3, 6).every((t) => t >= 300)).toBe(true);
  expect(started[6]!).toBeGreaterThanOrEqual(600);
  expect([...started].sort((x, y) => x - y)).toEqual(started);
  expect(pacer.inWindow()).toBeLessThanOrEqual(3);
});

test('a bad budget is refused at construction', () => {
  expect(() => new CreationPacer(0, 1000)).toThrow(/must be positive/);
});

const jsError = (err_code: number, description: string) => Object.assign(new Error(description), { api_error: { code: 500, err_code, description } });

test.each([
  [10049, 'error creating store for stream'],
  [10077, 'error creating store for stream'],
  [10047, 'insufficient storage resources available'],
  [10023, 'insufficient resources'],
  [10027, 'maximum number of streams reached'],
])('JetStream %i (%s) is a storage refusal', (code, text) => {
  const r = storageRefusal(jsError(code, text));
  expect(r).toBeInstanceOf(StorageRefusedError);
  expect(r!.detail).toBe(text);
});

test('other JetStream answers are not refusals', () => {
  expect(storageRefusal(jsError(10059, 'stream not found'))).toBeUndefined();
  expect(storageRefusal(jsError(10058, 'stream name already in use with a different configuration'))).toBeUndefined();
  expect(storageRefusal(new Error('TIMEOUT'))).toBeUndefined();
  // 10049 is JetStream's generic "stream create failed": only its resource causes are refusals.
  expect(storageRefusal(jsError(10049, 'subjects overlap with an existing stream'))).toBeUndefined();
});
