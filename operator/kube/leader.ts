// Lease-based leader election (coordination.k8s.io/v1), as client-go's
// leaderelection: acquire when the Lease is free or expired, renew every
// retryPeriod, step down when a renewal has not succeeded within renewDeadline.
import { ApiError, isConflict, isNotFound, type KubeClient, type KubeObject } from './client.js';
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
  private settleFirst!: (e?: Error) => void;
  /**
   * Settles after the first campaign round: rejects when the Lease cannot be
   * created because its namespace does not exist (a configuration error that
   * retrying never fixes), so the operator fails at once instead of logging
   * a 404 every retry period.
   */
  readonly firstAttempt: Promise<void> = new Promise((resolve, reject) => {
    this.settleFirst = (e) => (e ? reject(e) : resolve());
  });
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
    let first = true;
    while (!this.stopped) {
      let ok = false;
      try {
        ok = await this.tryAcquireOrRenew();
      } catch (e) {
        if (first && (e instanceof LeaseNamespaceMissing || (e instanceof ApiError && e.statusCode === 403))) {
          if (!(e instanceof LeaseNamespaceMissing)) (e as Error).message = `leader election in namespace "${this.opts.namespace}" is forbidden (the operator's Role binds it to its own namespace; check --lease-namespace / the kubeconfig context): ${(e as Error).message}`;
          this.stopped = true;
          this.settleFirst(e);
          return;
        }
        this.opts.log?.(`lease: ${(e as Error).message}`);
      }
      if (first) { first = false; this.settleFirst(); }
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
        if (isNotFound(e)) throw new LeaseNamespaceMissing(namespace, name);
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

export class LeaseNamespaceMissing extends Error {
  constructor(namespace: string, name: string) {
    super(`cannot create leader-election Lease ${name}: namespace "${namespace}" does not exist. Create it, or choose another with --lease-namespace (or the kubeconfig context's namespace), or run with --leader-elect=false`);
  }
}
