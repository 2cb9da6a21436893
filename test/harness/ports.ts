import type { ChildProcess } from 'node:child_process';
import net from 'node:net';

/** A TCP port that was free a moment ago on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** Resolves once something accepts TCP connections on the port. */
export async function waitForPort(port: number, timeoutMs = 15000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => { s.destroy(); resolve(true); });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listening on port ${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Resolves once the process has written `text` to stderr: proof that *this*
 * process is up, which a connectable port is not (freePort() only says a port
 * was free a moment ago; another test file's server may have taken it, and
 * ours then exits). Rejects with `exited(code, stderr)` if it exits first, or
 * after `timeoutMs`.
 */
export function loggedLine(
  proc: ChildProcess, text: string, timeoutMs: number, what: string,
  exited: (code: number | null, stderr: string) => Error = (code, err) => new Error(`${what} exited (${code}): ${err}`),
): Promise<void> {
  let stderr = '';
  let markReady: () => void = () => undefined;
  const seen = new Promise<void>((resolve) => (markReady = resolve));
  proc.stderr!.on('data', (d) => {
    stderr = (stderr + d.toString()).slice(-4000);
    if (stderr.includes(text)) markReady();
  });
  const exit = new Promise<never>((_, reject) => proc.once('exit', (code) => reject(exited(code, stderr))));
  exit.catch(() => undefined);
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} not ready after ${timeoutMs} ms: ${stderr}`)), timeoutMs);
  });
  return Promise.race([seen, exit, late]).finally(() => clearTimeout(timer));
}
