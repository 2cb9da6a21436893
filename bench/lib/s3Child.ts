// The delivery benchmark's S3 server: s3rver in a child process
// (bench/s3rverChild.ts, data in a temp dir removed on stop) and an
// @aws-sdk/client-s3 client to read back what the worker wrote (the test
// harness's s3Access, as for its in-process server).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { s3Access, type S3Server } from '../../test/harness/s3.js';
import { freePort } from '../../test/harness/ports.js';
import { spawnServer } from './procs.js';
import { REPO_ROOT } from './results.js';

export async function startS3Child(): Promise<S3Server & { pid?: number }> {
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-s3-'));
  const child = await spawnServer('s3rver', [path.join(REPO_ROOT, 'dist/bench/s3rverChild.js'), String(port), dir], port);
  return { ...s3Access(child.endpoint, dir, () => child.stop()), pid: child.proc.pid };
}
