// The delivery benchmark's S3 server: s3rver in a child process
// (bench/s3rverChild.ts, data in a temp dir removed on stop) and an
// @aws-sdk/client-s3 client to read back what the worker wrote; the same
// shape as the test harness's in-process server.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { S3Client, ListObjectsV2Command, GetObjectCommand, CreateBucketCommand } from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { S3Server } from '../../test/harness/s3.js';
import { freePort } from '../../test/harness/ports.js';
import { spawnServer } from './procs.js';
import { REPO_ROOT } from './results.js';

export async function startS3Child(): Promise<S3Server & { pid?: number }> {
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-s3-'));
  const child = await spawnServer('s3rver', [path.join(REPO_ROOT, 'dist/bench/s3rverChild.js'), String(port), dir], port);
  const client = new S3Client({
    endpoint: child.endpoint, region: 'us-east-1', forcePathStyle: true, maxAttempts: 2,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' }, requestHandler: new NodeHttpHandler(),
  });
  return {
    endpoint: child.endpoint, client, dir, pid: child.proc.pid,
    async createBucket(name) {
      await client.send(new CreateBucketCommand({ Bucket: name }));
    },
    async list(bucket, prefix) {
      const keys: string[] = [];
      let token: string | undefined;
      do {
        const out = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
        for (const o of out.Contents ?? []) keys.push(o.Key!);
        token = out.NextContinuationToken;
      } while (token);
      return keys.sort();
    },
    async get(bucket, key) {
      const out = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      return Buffer.from(await out.Body!.transformToByteArray());
    },
    async stop() {
      client.destroy();
      await child.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
