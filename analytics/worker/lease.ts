// One active worker per application: a lease in a KV bucket, taken with
// compare-and-set when free or expired and renewed while the worker runs.
// Further replicas wait as hot standbys and take over when a holder dies.
import type { KV } from 'nats';
import type { Store } from '../../stream/connect.js';

export const LEASE_BUCKET = 'shardline_analytics_leases';

interface Lease { owner: string; expiresMs: number }

export class ApplicationLease {
  private revision = 0;
  private timer?: NodeJS.Timeout;
  lost = false;

  private constructor(private readonly kv: KV, private readonly key: string, readonly owner: string, private readonly ttlMs: number) {}

  static async open(store: Store, app: string, owner: string, ttlMs: number): Promise<ApplicationLease> {
    const kv = await store.js.views.kv(LEASE_BUCKET, { history: 1, replicas: store.replicas });
    return new ApplicationLease(kv, `lease.${Buffer.from(app).toString('base64url')}`, owner, ttlMs);
  }

  /** Waits until this worker holds the lease, then renews it every third of its time; `onLost` when another took it. */
  async acquire(signal: AbortSignal, onLost: () => void): Promise<boolean> {
    while (!signal.aborted) {
      if (await this.tryTake()) {
        this.timer = setInterval(() => void this.renew().then((ok) => { if (!ok && !this.lost) { this.lost = true; onLost(); } }), Math.max(100, this.ttlMs / 3));
        return true;
      }
      await new Promise((r) => setTimeout(r, Math.max(100, this.ttlMs / 4)));
    }
    return false;
  }

  private async tryTake(): Promise<boolean> {
    const e = await this.kv.get(this.key);
    const value = JSON.stringify({ owner: this.owner, expiresMs: Date.now() + this.ttlMs } satisfies Lease);
    try {
      if (!e || e.operation !== 'PUT' || e.length === 0) {
        this.revision = e ? await this.kv.update(this.key, value, e.revision) : await this.kv.create(this.key, value);
        return true;
      }
      const cur = e.json<Lease>();
      if (cur.owner !== this.owner && cur.expiresMs > Date.now()) return false;
      this.revision = await this.kv.update(this.key, value, e.revision);
      return true;
    } catch {
      return false;
    }
  }

  private async renew(): Promise<boolean> {
    try {
      this.revision = await this.kv.update(this.key, JSON.stringify({ owner: this.owner, expiresMs: Date.now() + this.ttlMs }), this.revision);
      return true;
    } catch (e) {
      // A timeout is not a loss; a wrong revision is.
      return !/wrong last sequence|10071/.test(String((e as Error).message));
    }
  }

  async release(): Promise<void> {
    clearInterval(this.timer);
    if (this.lost) return;
    await this.kv.update(this.key, JSON.stringify({ owner: this.owner, expiresMs: 0 }), this.revision).catch(() => undefined);
  }
}
