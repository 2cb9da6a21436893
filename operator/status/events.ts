// Kubernetes Events on meaningful transitions (stream created/deleted, Ready
// gained or lost). Never on a no-op resync.
import crypto from 'node:crypto';
import type { KubeClient } from '../kube/client.js';
import { Events } from '../kube/resources.js';
import type { Owner } from '../model/common.js';

export class EventRecorder {
  constructor(private readonly client: KubeClient, private readonly log: (m: string) => void = () => {}) {}

  async emit(obj: Owner, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> {
    const now = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
    try {
      await this.client.create(Events, {
        apiVersion: 'v1', kind: 'Event',
        metadata: { name: `${obj.metadata.name}.${crypto.randomBytes(8).toString('hex')}`, namespace: obj.metadata.namespace },
        involvedObject: { apiVersion: obj.apiVersion, kind: obj.kind, name: obj.metadata.name, namespace: obj.metadata.namespace, uid: obj.metadata.uid },
        reason, message, type,
        source: { component: 'shardline-operator' },
        reportingComponent: 'shardline.dev/operator',
        reportingInstance: process.env.HOSTNAME ?? 'shardline-operator',
        firstTimestamp: now, lastTimestamp: now, count: 1,
      });
    } catch (e) {
      // Events are best effort: never fail a reconcile over one.
      this.log(`event ${reason} on ${obj.kind} ${obj.metadata.namespace}/${obj.metadata.name} failed: ${(e as Error).message}`);
    }
  }
}
