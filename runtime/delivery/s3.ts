// The object storage side: a `minio` client for the configured endpoint, and
// the failpoints the exactly-once tests use to kill the worker at each step
// of a flush (SHARDLINE_FAILPOINTS=before-upload|mid-upload|after-upload, as
// `name@n` for the n-th flush of the process; plain `name` is the first).
import http from 'node:http';
import https from 'node:https';
import type net from 'node:net';
import { Client } from 'minio';
import { ENV } from '../../contract/env.js';

export const DEV_S3_ENDPOINT = 'http://127.0.0.1:4569';
/** Objects are at most 128 MiB before compression: one PUT each (s3rver has no multipart upload). */
const PART_SIZE = 1024 * 1024 * 1024;

export type Failpoint = 'before-upload' | 'mid-upload' | 'after-upload';

let flushes = 0;
const failpoint = (() => {
  for (const v of (process.env[ENV.failpoints] ?? '').split(',')) {
    const [name, n] = v.split('@');
    if (name === 'before-upload' || name === 'mid-upload' || name === 'after-upload') return { name: name as Failpoint, at: Number(n ?? 1) };
  }
  return undefined;
})();

/** Counts a flush; the failpoint applies to the configured one. */
export function beginFlush(): void {
  flushes++;
}

export function hitFailpoint(name: Failpoint): void {
  if (failpoint?.name === name && failpoint.at === flushes) {
    process.stderr.write(`failpoint ${name} (flush ${flushes}): SIGKILL\n`);
    process.kill(process.pid, 'SIGKILL');
  }
}

/**
 * An agent whose sockets kill the process once half of the next request's
 * body has been written (mid-upload failpoint): the server sees a PUT that
 * never completes.
 */
function midUploadAgent(secure: boolean, bodyBytes: () => number): http.Agent {
  const Base = secure ? https.Agent : http.Agent;
  const agent = new Base({ keepAlive: false }) as http.Agent & { createConnection(...a: unknown[]): net.Socket };
  const create = agent.createConnection.bind(agent);
  agent.createConnection = (...args: unknown[]) => {
    const socket = create(...args);
    let written = 0;
    const write = socket.write.bind(socket) as (...a: unknown[]) => boolean;
    (socket as { write: unknown }).write = (chunk: Buffer | string, ...rest: unknown[]) => {
      const size = Buffer.byteLength(chunk);
      const half = bodyBytes() / 2;
      if (failpoint?.name === 'mid-upload' && failpoint.at === flushes && written + size > half && half > 0) {
        const part = Buffer.from(chunk as Buffer).subarray(0, Math.max(1, Math.floor(half - written)));
        write(part);
        process.stderr.write(`failpoint mid-upload (flush ${flushes}): SIGKILL after ${written + part.length} bytes\n`);
        setImmediate(() => process.kill(process.pid, 'SIGKILL'));
        return true;
      }
      written += size;
      return write(chunk, ...rest);
    };
    return socket;
  };
  return agent;
}

export interface ObjectStore {
  put(bucket: string, key: string, body: Buffer, contentType?: string): Promise<void>;
}

export function objectStore(o: { endpoint?: string; region: string; forcePathStyle: boolean; accessKey?: string; secretKey?: string }): ObjectStore {
  const url = new URL(o.endpoint ?? process.env[ENV.s3Endpoint] ?? DEV_S3_ENDPOINT);
  const secure = url.protocol === 'https:';
  let current = 0;
  const client = new Client({
    endPoint: url.hostname,
    port: url.port ? Number(url.port) : secure ? 443 : 80,
    useSSL: secure,
    region: o.region,
    pathStyle: o.forcePathStyle,
    accessKey: o.accessKey ?? process.env[ENV.awsAccessKeyId] ?? 'S3RVER',
    secretKey: o.secretKey ?? process.env[ENV.awsSecretAccessKey] ?? 'S3RVER',
    partSize: PART_SIZE,
    ...(failpoint?.name === 'mid-upload' ? { transportAgent: midUploadAgent(secure, () => current) } : {}),
  });
  return {
    async put(bucket, key, body, contentType) {
      current = body.length;
      await client.putObject(bucket, key, body, body.length, contentType ? { 'Content-Type': contentType } : {});
    },
  };
}
