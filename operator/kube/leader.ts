// Lease-based leader election (coordination.k8s.io/v1), as client-go's
// leaderelection: acquire when the Lease is free or expired, renew every
// retryPeriod, step down when a renewal has not succeeded within renewDeadline.
import { isConflict, type KubeClient, type KubeObject } from './client.js';
import { Leases } from './resources.js';

export interface LeaderElectionOptions {
  namespace: string;
  name: string;
  identity: string;
  leaseDurationSeconds?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  onStartedLeading: () => void | Promise<void>;
  onStoppedLeading: () => void | Promise<void>;
  log?: (m: string) => void;
}

interface Lease extends KubeObject {
  spec?: { holderIdentity?: string; leaseDurationSeconds?: number; acquireTime?: string; renewTime?: string; leaseTransitions?: number };
}

const microTime = (d: Date) => d.toISOString().replace(/Z$/, '000Z'); // MicroTime: 6 fractional digits

export class LeaderElector {
  private leading = false;
  private stopped = false;
  private lastRenew = 0;
  private loop?: Promise<void>;
  private readonly duration: number;
  private readonly renewDeadline: number;
  private readonly retry: number;

  constructor(private readonly client: KubeClient, private readonly opts: LeaderElectionOptions) {
    this.duration = opts.leaseDurationSeconds ?? 15;
    this.renewDeadline = opts.renewDeadlineMs ?? 10_000;
    this.retry = opts.retryPeriodMs ?? 2_000;
  }

  get isLeader(): boolean { return this.leading; }

  start(): void { this.loop ??= this.run(); }

  /** Stops campaigning; a leader releases the Lease so a successor takes over at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
    if (this.leading) {
      this.leading = false;
      await this.release().catch(() => undefined);
      await this.opts.onStoppedLeading();
    }
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      let ok = false;
      try { ok = await this.tryAcquireOrRenew(); } catch (e) { this.opts.log?.(`lease: ${(e as Error).message}`); }
      if (this.stopped) break;
      const now = Date.now();
      if (ok) {
        this.lastRenew = now;
        if (!this.leading) {
          this.leading = true;
          this.opts.log?.(`${this.opts.identity} became leader`);
          await this.opts.onStartedLeading();
        }
      } else if (this.leading && now - this.lastRenew > this.renewDeadline) {
        this.leading = false;
        this.opts.log?.(`${this.opts.identity} lost the lease`);
        await this.opts.onStoppedLeading();
      }
      await new Promise((r) => setTimeout(r, this.retry));
    }
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const { namespace, name, identity } = this.opts;
    const now = new Date();
    const lease = await this.client.get<Lease>(Leases, namespace, name);
    if (!lease) {
      try {
        await this.client.create(Leases, {
          apiVersion: 'coordination.k8s.io/v1', kind: 'Lease',
          metadata: { name, namespace },
          spec: { holderIdentity: identity, leaseDurationSeconds: this.duration, acquireTime: microTime(now), renewTime: microTime(now), leaseTransitions: 0 },
        });
        return true;
      } catch (e) {
        if (isConflict(e)) return false;
        throw e;
      }
    }
    const spec = lease.spec ?? {};
    const held = spec.holderIdentity && spec.holderIdentity !== identity;
    const renewed = spec.renewTime ? Date.parse(spec.renewTime) : 0;
    const expired = renewed + (spec.leaseDurationSeconds ?? this.duration) * 1000 < now.getTime();
    if (held && !expired) return false;
    const transitions = (spec.leaseTransitions ?? 0) + (spec.holderIdentity === identity ? 0 : 1);
    try {
      // Optimistic concurrency: the update carries the resourceVersion we read.
      await this.client.update(Leases, {
        ...lease,
        spec: {
          holderIdentity: identity,
          leaseDurationSeconds: this.duration,
          acquireTime: spec.holderIdentity === identity ? spec.acquireTime : microTime(now),
          renewTime: microTime(now),
          leaseTransitions: transitions,
        },
      });
      return true;
    } catch (e) {
      if (isConflict(e)) return false;
      throw e;
    }
  }

  private async release(): Promise<void> {
    const lease = await this.client.get<Lease>(Leases, this.opts.namespace, this.opts.name);
    if (!lease || lease.spec?.holderIdentity !== this.opts.identity) return;
    await this.client.update(Leases, { ...lease, spec: { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1, renewTime: microTime(new Date()) } });
  }
}
