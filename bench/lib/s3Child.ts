// The delivery benchmark's S3 server: s3rver in a child process
// (bench/s3rverChild.ts, data in a temp dir removed on stop) and an
// @aws-sdk/client-s3 client to read back what the worker wrote (the test
// harness's s3Access, as for its in-process server). `created()` reads the
// child's log of object-created events: when each object was stored, by the
// S3 server's clock (the same machine's as this process's).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { s3Access, type S3Server } from '../../test/harness/s3.js';
import { freePort } from '../../test/harness/ports.js';
import { spawnServer } from './procs.js';
import { REPO_ROOT } from './results.js';

/** An object stored by the S3 server: when (epoch ms), where. */
export interface CreatedObject { atMs: number; bucket: string; key: string }

export interface S3Child extends S3Server {
  pid?: number;
  /** Objects created since the previous call (whole lines only; a line being written waits for the next call). */
  created(): CreatedObject[];
}

export async function startS3Child(): Promise<S3Child> {
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-s3-'));
  // Outside `dir`: the server's data directory holds only its buckets.
  const eventsFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'bench-s3-events-')), 'created.log');
  fs.writeFileSync(eventsFile, '');
  const child = await spawnServer('s3rver', [path.join(REPO_ROOT, 'dist/bench/s3rverChild.js'), String(port), dir, eventsFile], port);
  const access = s3Access(child.endpoint, dir, async () => {
    await child.stop();
    fs.rmSync(path.dirname(eventsFile), { recursive: true, force: true });
  });
  let offset = 0;
  let rest = '';
  return {
    ...access,
    pid: child.proc.pid,
    created() {
      const fd = fs.openSync(eventsFile, 'r');
      try {
        const size = fs.fstatSync(fd).size;
        if (size <= offset) return [];
        const buf = Buffer.alloc(size - offset);
        fs.readSync(fd, buf, 0, buf.length, offset);
        offset = size;
        const lines = (rest + buf.toString('utf8')).split('\n');
        rest = lines.pop()!;
        return lines.map((l) => {
          const a = l.indexOf(' ');
          const b = l.indexOf(' ', a + 1);
          return { atMs: Number(l.slice(0, a)), bucket: l.slice(a + 1, b), key: l.slice(b + 1) };
        });
      } finally {
        fs.closeSync(fd);
      }
    },
  };
}
