// A windowed asynchronous JetStream publisher: core publish with a reply
// subject under one shared inbox, many messages in flight, acks matched back
// by reply token. Awaiting one ack at a time caps near 5k msg/s; this does not.
import { StreamLibraryError } from './errors.js';
import { createInbox, Events, type Msg, type NatsConnection, type Subscription } from 'nats';

export interface PubAck {
  stream: string;
  seq: number;
}

export class PublishError extends StreamLibraryError {
  constructor(message: string, readonly retryable: boolean) {
    super(message);
  }
}

interface Pending {
  resolve(ack: PubAck): void;
  reject(err: Error): void;
  deadline: number;
}

export class WindowedPublisher {
  private readonly prefix: string;
  private readonly sub: Subscription;
  private readonly pending = new Map<string, Pending>();
  private readonly waiting: (() => void)[] = [];
  private next = 0;
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    private readonly nc: NatsConnection,
    private readonly opts: { maxInFlight?: number; timeoutMs?: number } = {},
  ) {
    this.prefix = createInbox() + '.';
    this.sub = nc.subscribe(this.prefix + '*', { callback: (_err, msg) => this.onAck(msg) });
    // One timer for all in-flight messages instead of one each.
    this.sweeper = setInterval(() => this.expire(), 250);
    this.sweeper.unref();
    void this.watchConnection();
  }

  /**
   * Acks for messages in flight when the connection drops never arrive: they
   * would come back over the dead connection. Without this they waited out the
   * ack timeout (10 s), which made the whole write pause when the runtime's
   * NATS server died, although the client reconnects to another server within
   * a second. They fail now, retryable; a message may have been stored anyway,
   * so the client's retry can make a duplicate, as with any failed Kinesis write.
   */
  private async watchConnection(): Promise<void> {
    for await (const s of this.nc.status()) {
      if (s.type !== Events.Disconnect) continue;
      for (const token of [...this.pending.keys()]) {
        this.settle(token)?.reject(new PublishError('NATS connection lost before the JetStream ack', true));
      }
    }
  }

  get inFlight(): number {
    return this.pending.size;
  }

  async publish(subject: string, payload: Uint8Array): Promise<PubAck> {
    const max = this.opts.maxInFlight ?? 4096;
    while (this.pending.size >= max) await new Promise<void>((r) => this.waiting.push(r));
    const token = (this.next++).toString(36);
    return new Promise<PubAck>((resolve, reject) => {
      this.pending.set(token, { resolve, reject, deadline: Date.now() + (this.opts.timeoutMs ?? 10_000) });
      try {
        this.nc.publish(subject, payload, { reply: this.prefix + token });
      } catch (e) {
        this.settle(token);
        reject(new PublishError(`publish failed: ${(e as Error).message}`, true));
      }
    });
  }

  private settle(token: string): Pending | undefined {
    const p = this.pending.get(token);
    if (p) {
      this.pending.delete(token);
      this.waiting.shift()?.();
    }
    return p;
  }

  private onAck(msg: Msg): void {
    const p = this.settle(msg.subject.slice(this.prefix.length));
    if (!p) return;
    const code = msg.headers?.code ?? 0;
    if (code === 503) return p.reject(new PublishError('no JetStream stream for the shard (503)', true));
    if (code >= 400) return p.reject(new PublishError(`JetStream status ${code}`, true));
    try {
      const ack = JSON.parse(new TextDecoder().decode(msg.data)) as { stream?: string; seq?: number; error?: { code: number; description: string } };
      if (ack.error) return p.reject(new PublishError(`JetStream: ${ack.error.description}`, ack.error.code >= 500 || ack.error.code === 503));
      if (typeof ack.seq !== 'number' || typeof ack.stream !== 'string') return p.reject(new PublishError('malformed JetStream ack', true));
      p.resolve({ stream: ack.stream, seq: ack.seq });
    } catch (e) {
      p.reject(new PublishError(`malformed JetStream ack: ${(e as Error).message}`, true));
    }
  }

  private expire(): void {
    const now = Date.now();
    for (const [token, p] of this.pending) {
      if (p.deadline <= now) {
        this.settle(token);
        // The message may or may not be stored: the caller reports failure and
        // the client retries, as with any Kinesis write that times out.
        p.reject(new PublishError('timed out waiting for JetStream ack', true));
      }
    }
  }

  close(): void {
    clearInterval(this.sweeper);
    this.sub.unsubscribe();
    for (const token of [...this.pending.keys()]) this.settle(token)?.reject(new PublishError('publisher closed', true));
  }
}
