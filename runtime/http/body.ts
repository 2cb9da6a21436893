// Reading a request body under three limits: its size (413), a deadline for
// the whole body (a client that stops sending is dropped, not waited for), and
// a per-process memory budget shared by every body being read or processed
// (when it is spent, the request is refused as throttled and the client retries).
import type { Request } from './server.js';

/** Bytes of request bodies held by this process, against a fixed limit. */
export class BodyBudget {
  used = 0;
  /** Requests refused because the budget was spent. */
  refused = 0;
  constructor(readonly limit: number) {}

  take(n: number): boolean {
    if (this.used + n > this.limit) return false;
    this.used += n;
    return true;
  }

  give(n: number): void {
    this.used -= n;
  }
}

export type BodyResult =
  | { kind: 'ok'; body: Buffer }
  | { kind: 'too-large' }
  | { kind: 'over-budget' }
  | { kind: 'timeout' }
  | { kind: 'aborted' };

export interface BodyLimits {
  maxBytes: number;
  timeoutMs: number;
  budget: BodyBudget;
}

/**
 * Reads the body. Bytes taken from the budget stay taken until `release()`
 * (the caller holds them while the request is processed, since the parsed
 * request holds about as much); `release` is idempotent.
 */
export function readBody(req: Request, limits: BodyLimits): { result: Promise<BodyResult>; release: () => void } {
  let held = 0;
  const release = () => {
    limits.budget.give(held);
    held = 0;
  };
  const result = new Promise<BodyResult>((resolve) => {
    const chunks: Buffer[] = [];
    let settled = false;
    const finish = (r: BodyResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.off('data', onData);
      if (r.kind !== 'ok') {
        chunks.length = 0;
        release();
        // Stop reading: what the client still sends is not ours to buffer.
        req.pause();
      }
      resolve(r);
    };
    const timer = setTimeout(() => finish({ kind: 'timeout' }), limits.timeoutMs);
    const onData = (c: Buffer) => {
      if (held + c.length > limits.maxBytes) return finish({ kind: 'too-large' });
      if (!limits.budget.take(c.length)) {
        limits.budget.refused++;
        return finish({ kind: 'over-budget' });
      }
      held += c.length;
      chunks.push(c);
    };
    req.on('data', onData);
    req.once('end', () => finish({ kind: 'ok', body: Buffer.concat(chunks, held) }));
    // A client that goes away mid-body: 'close' without 'end' (h1), 'aborted' (h2).
    req.once('close', () => finish({ kind: 'aborted' }));
    req.once('aborted', () => finish({ kind: 'aborted' }));
    req.once('error', () => finish({ kind: 'aborted' }));
  });
  return { result, release };
}
