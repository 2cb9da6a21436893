// Pure unit tests: the per-shard limiter's pacing, backoff bounds, retry classification.
import { KinesisClient } from '@aws-sdk/client-kinesis';
import { ShardLimiter } from '../../producer/rateLimiter.js';
import { Producer } from '../../producer/index.js';
import { backoffMs, isRetryableCode, isRetryableRequestError } from '../../producer/errors.js';

test('the limiter admits a half-second burst, then the configured rate, never more', () => {
  const l = new ShardLimiter({ recordsPerSecond: 1000, bytesPerSecond: 1 << 20, burstSeconds: 0.5 }, 0);
  let admitted = 0;
  for (let i = 0; i < 2000; i++) if (l.tryTake(0, 100)) admitted++;
  expect(admitted).toBe(500);
  // Over the next 2 s, offered every ms: 1000 records/s exactly.
  admitted = 0;
  for (let t = 1; t <= 2000; t++) while (l.tryTake(t, 100)) admitted++;
  expect(admitted).toBe(2000);
  expect(l.waitMs(2000, 1, 100)).toBe(1);
  expect(l.waitMs(2000, 50, 5000)).toBe(50);
});

test('bytes are limited too; a cost above the bucket needs a full bucket and leaves it in debt', () => {
  const l = new ShardLimiter({ recordsPerSecond: 1000, bytesPerSecond: 1000, burstSeconds: 0.5 }, 0);
  expect(l.tryTake(0, 2000)).toBe(true); // full bucket (500): allowed, now -1500
  expect(l.tryTake(0, 1)).toBe(false);
  expect(l.waitMs(0, 1, 1)).toBe(1501);
  expect(l.tryTake(1500, 1)).toBe(false);
  expect(l.tryTake(1501, 1)).toBe(true);
});

test('backoff doubles from the base, is capped, and is jittered within [d/2, d]', () => {
  for (let attempt = 1; attempt <= 10; attempt++) {
    const d = Math.min(2000, 100 * 2 ** (attempt - 1));
    for (let i = 0; i < 50; i++) {
      const b = backoffMs(attempt, 100, 2000);
      expect(b).toBeGreaterThanOrEqual(d / 2);
      expect(b).toBeLessThanOrEqual(d);
    }
  }
});

test('throttling and server trouble are retried; client errors are not', () => {
  expect(isRetryableCode('ProvisionedThroughputExceededException')).toBe(true);
  expect(isRetryableCode('InternalFailure')).toBe(true);
  expect(isRetryableCode('KMSDisabledException')).toBe(false);
  const http = (name: string, status: number) => Object.assign(new Error('x'), { name, $metadata: { httpStatusCode: status } });
  expect(isRetryableRequestError(http('ResourceNotFoundException', 400))).toBe(false);
  expect(isRetryableRequestError(http('ValidationException', 400))).toBe(false);
  expect(isRetryableRequestError(http('LimitExceededException', 400))).toBe(true);
  expect(isRetryableRequestError(http('InternalFailure', 500))).toBe(true);
  expect(isRetryableRequestError(http('Whatever', 503))).toBe(true);
  expect(isRetryableRequestError(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }))).toBe(true);
  expect(isRetryableRequestError(new TypeError('bad input'))).toBe(false);
});

test('options outside what Kinesis allows are refused when the producer is made', () => {
  const client = new KinesisClient({ region: 'us-east-1' });
  const make = (o: object) => () => new Producer({ client, streamName: 's', ...o });
  expect(make({})).not.toThrow();
  expect(() => new Producer({ client })).toThrow(/streamName or streamARN/);
  expect(make({ maxRecordsPerRequest: 501 })).toThrow(/maxRecordsPerRequest must be between 1 and 500/);
  expect(make({ maxBytesPerRequest: 5 * 1024 * 1024 + 1 })).toThrow(RangeError);
  expect(make({ aggregation: { maxBytes: 1024 * 1024 + 1 } })).toThrow(/aggregation.maxBytes/);
  expect(make({ rateLimit: { recordsPerSecond: 0 } })).toThrow(/rateLimit.recordsPerSecond/);
  expect(make({ recordTtlMs: 0 })).toThrow(/recordTtlMs/);
  client.destroy();
});
