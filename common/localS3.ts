// The local S3-protocol server (s3rver) that `make dev`, the tests and the
// benchmarks run, with one fix: a PUT is atomic, as in S3 and MinIO.
//
// s3rver streams a PUT's body straight into the object's file, so a listing
// during the upload shows a half-written object, and a PUT whose client dies
// mid-body leaves that half object behind for good. S3 never shows either. A
// delivery worker SIGKILLed mid-upload (the exactly-once tests do it on
// purpose) then left gzip objects that end early. Here the body goes to a
// temporary file beside the object (a name s3rver's listing skips) and is
// renamed over it only once the request has ended; an aborted body is removed.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

const require = createRequire(import.meta.url);

export interface LocalS3 {
  run(): Promise<unknown>;
  close(): Promise<void>;
  on(event: 'event', f: (ev: { Records: { eventName: string; s3: { bucket: { name: string }; object: { key: string } } }[] }) => void): void;
}

interface S3rverObject {
  bucket: string;
  key: string;
  content: Buffer | Readable;
  metadata: Record<string, string>;
}
interface FilesystemStore {
  getResourcePath(bucket: string, key: string, resource: string): string;
  putMetadata(bucket: string, key: string, metadata: Record<string, string>, md5: string): Promise<void>;
  putObject(object: S3rverObject): Promise<{ size: number; md5: string }>;
}

let uploads = 0;

/** Writes `object`'s body to a temporary file, then its metadata, then renames the body into place. */
async function putAtomically(store: FilesystemStore, object: S3rverObject): Promise<{ size: number; md5: string }> {
  const objectPath = store.getResourcePath(object.bucket, object.key, 'object');
  // s3rver lists files ending in `._S3rver_object`; this name does not.
  const partial = `${objectPath}.${process.pid}-${++uploads}.uploading`;
  await fs.promises.mkdir(path.dirname(objectPath), { recursive: true });
  const hash = crypto.createHash('md5');
  let size = 0;
  try {
    if (Buffer.isBuffer(object.content)) {
      hash.update(object.content);
      size = object.content.length;
      await fs.promises.writeFile(partial, object.content);
    } else {
      // pipeline() rejects when the request closes before its end: a client that died mid-body.
      await pipeline(object.content, async function* (body: AsyncIterable<Buffer>) {
        for await (const chunk of body) {
          hash.update(chunk);
          size += chunk.length;
          yield chunk;
        }
      }, fs.createWriteStream(partial));
    }
    const md5 = hash.digest('hex');
    await store.putMetadata(object.bucket, object.key, object.metadata, md5);
    await fs.promises.rename(partial, objectPath);
    return { size, md5 };
  } catch (e) {
    await fs.promises.rm(partial, { force: true });
    throw e;
  }
}

/** An s3rver on `address:port` keeping its data in `directory`, whose PUTs are atomic. */
export function localS3(o: { port: number; address?: string; directory: string }): LocalS3 {
  const S3rver = require('s3rver') as new (opts: Record<string, unknown>) => LocalS3 & { store: FilesystemStore };
  const server = new S3rver({ port: o.port, address: o.address ?? '127.0.0.1', silent: true, directory: o.directory });
  const store = server.store;
  store.putObject = (object) => putAtomically(store, object);
  return server;
}
