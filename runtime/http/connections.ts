// Every open connection of one listener, with what it is doing, so that a
// per-process cap can be enforced without locking out real clients: when the
// cap is reached, the connection that has been idle longest (still sniffing,
// or keep-alive with no request in flight) makes room for the new one. Only
// when every connection is busy is the newcomer refused.
import { readFileSync } from 'node:fs';
import type { Duplex } from 'node:stream';

export interface Conn {
  socket: Duplex;
  /** Requests (h1) or streams (h2) in flight on it. */
  active: number;
  /** When it last started or finished a request (or opened). */
  idleSince: number;
}

export class ConnectionTable {
  private readonly conns = new Map<Duplex, Conn>();
  /** Sockets the HTTP servers see (the h2 replay Duplex) mapped to the table's entry. */
  private readonly alias = new WeakMap<object, Conn>();
  evicted = 0;
  refused = 0;

  constructor(readonly max: number) {}

  get size(): number {
    return this.conns.size;
  }

  /** Registers a new connection; false when it must be refused (cap reached, nothing idle to evict). */
  admit(socket: Duplex): boolean {
    if (this.conns.size >= this.max && !this.evictIdlest()) {
      this.refused++;
      return false;
    }
    const c: Conn = { socket, active: 0, idleSince: Date.now() };
    this.conns.set(socket, c);
    this.alias.set(socket, c);
    socket.once('close', () => this.conns.delete(socket));
    return true;
  }

  /** The HTTP layer may hand requests a wrapper of the accepted socket (h2 replay, TLS). */
  link(wrapper: object, socket: Duplex): void {
    const c = this.conns.get(socket);
    if (c) this.alias.set(wrapper, c);
  }

  /** Marks a request started on `socket` (any alias); returns the call that marks it done. */
  begin(socket: object | undefined | null): () => void {
    const c = socket ? this.alias.get(socket) : undefined;
    if (!c) return () => undefined;
    c.active++;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      c.active--;
      c.idleSince = Date.now();
    };
  }

  destroyAll(): void {
    for (const s of this.conns.keys()) s.destroy();
  }

  private evictIdlest(): boolean {
    let victim: Conn | undefined;
    for (const c of this.conns.values()) {
      if (c.active === 0 && (!victim || c.idleSince < victim.idleSince)) victim = c;
    }
    if (!victim) return false;
    this.conns.delete(victim.socket);
    victim.socket.destroy();
    this.evicted++;
    return true;
  }
}

/** A cap that leaves room below the process's open-file limit for NATS, files and the listener itself. */
export function defaultConnectionCap(readLimits: () => string = defaultLimits): number {
  try {
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(readLimits());
    if (m && m[1] !== 'unlimited') return Math.max(16, Math.min(10_000, Math.floor(Number(m[1]) * 0.9) - 64));
  } catch {
    // not Linux: fall through
  }
  return 10_000;
}

function defaultLimits(): string {
  // Read synchronously once at start-up; /proc/self/limits is tiny.
  return readFileSync('/proc/self/limits', 'utf8');
}
