// A keyed work queue in the style of client-go's: a key is queued at most once
// (dedupe), never handed to two workers at the same time (a key re-added while
// being processed is queued again when its worker finishes), and failures are
// retried with per-key exponential backoff.
export interface WorkQueueOptions {
  workers: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
}

export type Handler = (key: string) => Promise<void | { requeueAfterMs?: number }>;

export class WorkQueue {
  private queue: string[] = [];
  private queued = new Set<string>();
  private processing = new Set<string>();
  /** Keys added while being processed: re-queued once their worker finishes. */
  private dirty = new Set<string>();
  private failures = new Map<string, number>();
  private timers = new Map<string, NodeJS.Timeout>();
  private waiters: Array<() => void> = [];
  private stopped = false;
  private running: Promise<void>[] = [];
  private readonly base: number;
  private readonly max: number;

  constructor(private readonly handler: Handler, private readonly opts: WorkQueueOptions, private readonly log: (m: string) => void = () => {}) {
    this.base = opts.baseDelayMs ?? 200;
    this.max = opts.maxDelayMs ?? 60_000;
  }

  add(key: string): void {
    if (this.stopped) return;
    if (this.processing.has(key)) { this.dirty.add(key); return; }
    if (this.queued.has(key)) return;
    this.queued.add(key);
    this.queue.push(key);
    this.waiters.shift()?.();
  }

  /** Adds the key after a delay; an earlier pending delay for the key wins. */
  addAfter(key: string, ms: number): void {
    if (this.stopped) return;
    if (ms <= 0) return this.add(key);
    if (this.timers.has(key)) return;
    const t = setTimeout(() => { this.timers.delete(key); this.add(key); }, ms);
    t.unref?.();
    this.timers.set(key, t);
  }

  /** Backoff after a failure: base * 2^failures, capped. */
  addRateLimited(key: string): number {
    const n = this.failures.get(key) ?? 0;
    this.failures.set(key, n + 1);
    const delay = Math.min(this.max, this.base * 2 ** n);
    this.addAfter(key, delay);
    return delay;
  }

  forget(key: string): void { this.failures.delete(key); }

  get length(): number { return this.queue.length; }

  start(): void {
    for (let i = 0; i < this.opts.workers; i++) this.running.push(this.worker());
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    this.waiters.splice(0).forEach((w) => w());
    await Promise.all(this.running);
  }

  private async next(): Promise<string | undefined> {
    while (!this.stopped) {
      const key = this.queue.shift();
      if (key !== undefined) { this.queued.delete(key); return key; }
      await new Promise<void>((r) => this.waiters.push(r));
    }
    return undefined;
  }

  private async worker(): Promise<void> {
    for (;;) {
      const key = await this.next();
      if (key === undefined) return;
      this.processing.add(key);
      try {
        const res = await this.handler(key);
        this.forget(key);
        if (res && res.requeueAfterMs !== undefined) this.addAfter(key, res.requeueAfterMs);
      } catch (e) {
        const delay = this.addRateLimited(key);
        this.log(`reconcile ${key} failed (retry in ${delay} ms): ${(e as Error)?.stack ?? e}`);
      } finally {
        this.processing.delete(key);
        if (this.dirty.delete(key)) this.add(key);
      }
    }
  }
}
