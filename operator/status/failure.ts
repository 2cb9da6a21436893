// Turns an error thrown by a reconcile step into the conditions a user sees:
// kubectl get shows Ready=False with the reason and the message, Argo CD and
// kstatus see Stalled (needs a change) or Reconciling (being retried). Without
// this a failing step only logged and retried, and the object showed nothing.
import { ApiError, type KubeClient, type KubeObject } from '../kube/client.js';
import type { ResourceType } from '../kube/resources.js';
import type { Condition } from '../../crds/schema/common.js';
import { conditionsFor, type Outcome } from './conditions.js';
import { writeStatus } from './write.js';
import type { EventRecorder } from './events.js';

/** An error from the JetStream API (nats.js NatsError.api_error): the server refused, retrying as is will not help. */
export function jetStreamRefusal(e: unknown): { code: number; err_code: number; description: string } | undefined {
  const api = (e as { api_error?: { code: number; err_code: number; description: string } } | undefined)?.api_error;
  return api && typeof api.description === 'string' ? api : undefined;
}

/** What a failed step means for the object. */
export function failureOutcome(e: unknown): Outcome {
  const js = jetStreamRefusal(e);
  if (js) return { state: 'Stalled', reason: 'JetStreamError', message: `JetStream refused: ${js.description} (err_code ${js.err_code}).` };
  if (e instanceof ApiError) {
    // 4xx other than conflicts and throttling: the apiserver rejects what we send or forbids it.
    if (e.statusCode === 403) return { state: 'Stalled', reason: 'Forbidden', message: `Kubernetes API: ${e.message}` };
    if (e.statusCode >= 400 && e.statusCode < 500 && e.statusCode !== 409 && e.statusCode !== 429) {
      return { state: 'Stalled', reason: 'ChildRejected', message: `Kubernetes API: ${e.message}` };
    }
    return { state: 'Progressing', reason: 'KubernetesApiError', message: `Kubernetes API (retrying): ${e.message}` };
  }
  return { state: 'Progressing', reason: 'StoreUnavailable', message: `Stream store (retrying): ${(e as Error)?.message ?? String(e)}` };
}

/**
 * Writes the failure into status (keeping everything else the status holds),
 * unless the object already shows exactly that. Errors writing it are
 * swallowed: the reconcile's own error is the one to report and back off on.
 */
export async function reportFailure(
  client: KubeClient, type: ResourceType, obj: KubeObject & { status?: { conditions?: Condition[] } & Record<string, unknown> },
  outcome: Outcome, events?: EventRecorder,
): Promise<void> {
  const prev = obj.status ?? {};
  const status = { ...prev, observedGeneration: obj.metadata.generation, conditions: conditionsFor(outcome, obj.metadata.generation ?? 0, prev.conditions) };
  await writeStatus(client, type, obj, status, events).catch(() => undefined);
}
