// Paces the creation of shard streams under a file-descriptor budget.
// nats-server 2.9 keeps about two files open for every newly created stream
// for one to two minutes: creating 10,000 shard streams within a minute runs
// a 20,000-descriptor process out of files (JetStream error 10049, "too many
// open files"). At most `budget` creations start within any `windowMs`, so
// the creations' open files stay near 2 × budget whatever the request size.
import { ENV, envNumber } from '../contract/env.js';

export class CreationPacer {
  /** Start times of the creations in the current window, oldest first. */
  private readonly starts: number[] = [];
  private queue: Promise<void> = Promise.resolve();

  constructor(readonly budget: number, readonly windowMs: number) {
    if (!(budget >= 1) || !(windowMs >= 1)) throw new Error(`creation pacer: budget ${budget} / window ${windowMs} ms must be positive`);
  }

  /** Resolves when one more creation may start (callers are served in order). */
  acquire(): Promise<void> {
    const turn = this.queue.then(() => this.waitForRoom());
    this.queue = turn.catch(() => undefined);
    return turn;
  }

  private async waitForRoom(): Promise<void> {
    for (;;) {
      const now = Date.now();
      while (this.starts.length > 0 && this.starts[0]! <= now - this.windowMs) this.starts.shift();
      if (this.starts.length < this.budget) {
        this.starts.push(now);
        return;
      }
      await new Promise((r) => setTimeout(r, this.starts[0]! + this.windowMs - now + 1));
    }
  }

  /** Creations started in the last window. */
  inWindow(now = Date.now()): number {
    return this.starts.filter((t) => t > now - this.windowMs).length;
  }
}

let shared: CreationPacer | undefined;

/** The process's pacer, sized by SHARDLINE_SHARD_CREATE_BUDGET (default 4,000) per SHARDLINE_SHARD_CREATE_WINDOW_MS (default 120 s). */
export function sharedPacer(): CreationPacer {
  shared ??= new CreationPacer(
    envNumber(process.env, ENV.shardCreateBudget, 4_000),
    envNumber(process.env, ENV.shardCreateWindowMs, 120_000),
  );
  return shared;
}
