// JetStream direct gets (the read path's requests) over one reply
// subscription per connection. nc.request() answered the same, but cost ~14 µs
// of CPU per request on top of the message itself (a request object, a timer,
// and a NatsError with a captured stack built for every request it completes):
// at 10 records per message that was more than half of a read's CPU. Here a
// request is a publish with a reply token, its answer is matched by the token,
// and the timeouts of all requests in flight share one timer (they all wait the
// same time, so they expire in the order they were sent).
//
// Same outcomes as nc.request(): the answer; NatsError NO_RESPONDERS (503)
// when nothing answers the subject; NatsError TIMEOUT when no answer comes in
// time or the connection closes first; CONNECTION_CLOSED / CONNECTION_DRAINING
// at once on a closed or draining connection. After a reconnect nats.js sends
// the subscription again, as it does for request()'s own reply subscription.
import { performance } from 'node:perf_hooks';
import { createInbox, ErrorCode, NatsError, type Msg, type NatsConnection, type Subscription } from 'nats';

interface Pending {
  resolve(m: Msg): void;
  reject(e: unknown): void;
  /** performance.now() time (monotonic, as setTimeout's own clock: a wall-clock step must not stretch a timeout). */
  deadline: number;
  settled: boolean;
}

class DirectGets {
  private readonly prefix: string;
  private readonly sub: Subscription;
  private readonly pending = new Map<string, Pending>();
  /** Requests in the order sent, which is the order of their deadlines; settled ones are skipped. */
  private queue: { token: string; p: Pending }[] = [];
  private head = 0;
  private timer: NodeJS.Timeout | undefined;
  private nextToken = 0;

  constructor(private readonly nc: NatsConnection, private readonly timeoutMs: number) {
    const inboxPrefix = (nc as { options?: { inboxPrefix?: string } }).options?.inboxPrefix;
    this.prefix = `${createInbox(inboxPrefix)}.`;
    this.sub = nc.subscribe(`${this.prefix}*`, { callback: (err, m) => this.answer(err, m) });
    // As request() does when the connection closes: what is in flight times out.
    void nc.closed().then(() => this.failAll(NatsError.errorForCode(ErrorCode.Timeout)));
  }

  get usable(): boolean {
    return !this.sub.isClosed() && !this.nc.isClosed();
  }

  request(subject: string, payload: Uint8Array): Promise<Msg> {
    if (this.nc.isClosed()) return Promise.reject(NatsError.errorForCode(ErrorCode.ConnectionClosed));
    if (this.nc.isDraining()) return Promise.reject(NatsError.errorForCode(ErrorCode.ConnectionDraining));
    return new Promise<Msg>((resolve, reject) => {
      const token = (this.nextToken++).toString(36);
      const p: Pending = { resolve, reject, deadline: performance.now() + this.timeoutMs, settled: false };
      this.pending.set(token, p);
      this.queue.push({ token, p });
      try {
        this.nc.publish(subject, payload, { reply: this.prefix + token });
      } catch (e) {
        this.settle(token, p);
        reject(e);
        return;
      }
      if (!this.timer) this.arm();
    });
  }

  private answer(err: NatsError | null, m: Msg): void {
    if (err) {
      // The subscription failed (e.g. a permissions error): nothing in flight can be answered.
      this.failAll(err);
      return;
    }
    const token = m.subject.slice(this.prefix.length);
    const p = this.pending.get(token);
    if (!p) return; // answered after it timed out
    this.settle(token, p);
    if (m.data.length === 0 && m.headers?.code === 503) p.reject(NatsError.errorForCode(ErrorCode.NoResponders));
    else p.resolve(m);
  }

  private settle(token: string, p: Pending): void {
    p.settled = true;
    this.pending.delete(token);
    if (this.pending.size === 0) {
      // Nothing in flight: no timer left behind (it would hold the process up to timeoutMs).
      clearTimeout(this.timer);
      this.timer = undefined;
      this.queue = [];
      this.head = 0;
    }
  }

  /** Arms the timer for the oldest request still in flight. */
  private arm(): void {
    while (this.head < this.queue.length && this.queue[this.head]!.p.settled) this.head++;
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    const first = this.queue[this.head];
    if (!first) return;
    this.timer = setTimeout(() => this.expire(), Math.max(0, first.p.deadline - performance.now()));
  }

  private expire(): void {
    this.timer = undefined;
    const now = performance.now();
    while (this.head < this.queue.length) {
      const { token, p } = this.queue[this.head]!;
      if (!p.settled) {
        if (p.deadline > now) break;
        this.settle(token, p);
        p.reject(NatsError.errorForCode(ErrorCode.Timeout));
        // settle() may have emptied the queue.
        if (this.queue.length === 0) return;
      }
      this.head++;
    }
    this.arm();
  }

  private failAll(e: unknown): void {
    for (const [token, p] of [...this.pending]) {
      this.settle(token, p);
      p.reject(e);
    }
  }
}

/** Per connection, one per timeout (the shared timer needs requests that all wait the same). */
const byConnection = new WeakMap<NatsConnection, Map<number, DirectGets>>();

/** A request on the read path: one attempt, TIMEOUT after `timeoutMs` (the caller retries). */
export function directRequest(nc: NatsConnection, subject: string, payload: Uint8Array, timeoutMs: number): Promise<Msg> {
  let perTimeout = byConnection.get(nc);
  if (!perTimeout) byConnection.set(nc, (perTimeout = new Map()));
  let gets = perTimeout.get(timeoutMs);
  if (!gets || !gets.usable) {
    if (nc.isClosed()) return Promise.reject(NatsError.errorForCode(ErrorCode.ConnectionClosed));
    perTimeout.set(timeoutMs, (gets = new DirectGets(nc, timeoutMs)));
  }
  return gets.request(subject, payload);
}
