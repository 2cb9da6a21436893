// A real S3-protocol server for tests: s3rver (atomic PUTs, common/localS3.ts) on a free port, data in a temp
// directory, and an @aws-sdk/client-s3 client to read back what was written.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { S3Client, ListObjectsV2Command, GetObjectCommand, CreateBucketCommand } from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { freePort } from './ports.js';
import { localS3 } from '../../common/localS3.js';


export interface S3Server {
  endpoint: string;
  client: S3Client;
  dir: string;
  createBucket(name: string): Promise<void>;
  /** Every object under the bucket (keys sorted). */
  list(bucket: string, prefix?: string): Promise<string[]>;
  get(bucket: string, key: string): Promise<Buffer>;
  stop(): Promise<void>;
}

export async function startS3(): Promise<S3Server> {
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shardline-s3-'));
  const server = localS3({ port, directory: dir });
  await server.run();
  return s3Access(`http://127.0.0.1:${port}`, dir, () => server.close());
}

/** A client and helpers over a running s3rver at `endpoint` whose data is in `dir`; stop() also stops the server and removes `dir`. */
export function s3Access(endpoint: string, dir: string, stopServer: () => Promise<void>): S3Server {
  const client = new S3Client({
    endpoint, region: 'us-east-1', forcePathStyle: true, maxAttempts: 2,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' }, requestHandler: new NodeHttpHandler(),
  });
  return {
    endpoint, client, dir,
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
      await stopServer();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
