// The local S3 server (s3rver with atomic PUTs, common/localS3.ts) that
// `make dev`, the tests and the benchmarks use: like S3, a PUT shows up whole
// or not at all. Plain s3rver listed a half-received body, and kept it when
// the client died: a delivery worker SIGKILLed mid-upload left a gzip object
// that ended early (clean-clone CI, exactlyOnce.test.ts).
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { PutObjectCommand, HeadObjectCommand } from '@aws-sdk/client-s3';
import { startS3, type S3Server } from '../harness/s3.js';

const B = 'atomic';
let s3: S3Server;
beforeAll(async () => {
  s3 = await startS3();
  await s3.createBucket(B);
});
afterAll(() => s3?.stop());

/** A PUT whose body is sent in part: returns a function that sends the rest, and one that kills the connection. */
function partialPut(key: string, body: Buffer, sent: number) {
  const url = new URL(s3.endpoint);
  const req = http.request({ host: url.hostname, port: url.port, method: 'PUT', path: `/${B}/${key}`, headers: { 'content-length': body.length } });
  const answered = new Promise<number>((resolve) => {
    req.on('response', (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', () => resolve(-1));
  });
  req.write(body.subarray(0, sent));
  return {
    finish: () => {
      req.end(body.subarray(sent));
      return answered;
    },
    kill: () => req.destroy(),
  };
}

const settle = () => new Promise((r) => setTimeout(r, 200));
/** Every file under the bucket's directory (s3rver keeps objects there as files). */
const files = () => fs.readdirSync(path.join(s3.dir, B), { recursive: true }).map(String).sort();

test('a PUT in progress is not listed; once its body has arrived it is, whole', async () => {
  const body = Buffer.alloc(300_000, 'x');
  const put = partialPut('in-progress', body, 100_000);
  await settle();
  expect(await s3.list(B)).toEqual([]);
  expect(await put.finish()).toBe(200);
  expect(await s3.list(B)).toEqual(['in-progress']);
  expect((await s3.get(B, 'in-progress')).equals(body)).toBe(true);
});

test('a PUT whose client dies mid-body leaves nothing behind', async () => {
  const put = partialPut('aborted', Buffer.alloc(300_000, 'y'), 100_000);
  await settle();
  put.kill();
  await settle();
  expect(await s3.list(B, 'aborted')).toEqual([]);
  expect(files().filter((f) => f.startsWith('aborted'))).toEqual([]);
});

test('an object being overwritten reads as the old one until the new body has arrived, and an aborted overwrite keeps the old one', async () => {
  const old = Buffer.alloc(200_000, 'o');
  await s3.client.send(new PutObjectCommand({ Bucket: B, Key: 'over', Body: old, ContentType: 'application/x-old' }));
  const fresh = Buffer.alloc(250_000, 'n');
  const put = partialPut('over', fresh, 120_000);
  await settle();
  expect((await s3.get(B, 'over')).equals(old)).toBe(true);
  expect(await put.finish()).toBe(200);
  expect((await s3.get(B, 'over')).equals(fresh)).toBe(true);

  const dying = partialPut('over', Buffer.alloc(250_000, 'd'), 10_000);
  await settle();
  dying.kill();
  await settle();
  expect((await s3.get(B, 'over')).equals(fresh)).toBe(true);
  expect(files().filter((f) => f.startsWith('over')).every((f) => !f.includes('uploading'))).toBe(true);
});

test("an SDK PUT keeps its metadata and its ETag is the body's MD5", async () => {
  const body = Buffer.from('hello');
  await s3.client.send(new PutObjectCommand({ Bucket: B, Key: 'meta', Body: body, ContentType: 'text/plain' }));
  const head = await s3.client.send(new HeadObjectCommand({ Bucket: B, Key: 'meta' }));
  expect(head.ContentType).toBe('text/plain');
  expect(head.ETag).toBe(`"${'5d41402abc4b2a76b9719d911017c592'}"`);
  expect(head.ContentLength).toBe(5);
});
