// Writes status through the status subresource (server-side apply, our field
// manager) only when it differs from what is stored: converged means no writes.
import { isSubset } from '../kube/apply.js';
import type { KubeClient, KubeObject } from '../kube/client.js';
import type { ResourceType } from '../kube/resources.js';
import type { Condition } from '../../crds/schema/common.js';
import { readyCondition } from './conditions.js';
import type { EventRecorder } from './events.js';

export const sameStatus = (a: unknown, b: unknown) => isSubset(a, b) && isSubset(b, a);

export async function writeStatus(
  client: KubeClient, type: ResourceType, obj: KubeObject & { status?: unknown }, status: { conditions?: Condition[] } & Record<string, unknown>,
  events?: EventRecorder,
): Promise<boolean> {
  // Drop undefined fields so the comparison sees what JSON would carry.
  const clean = JSON.parse(JSON.stringify(status));
  if (sameStatus(clean, obj.status ?? {})) return false;
  await client.apply(type, {
    metadata: { name: obj.metadata.name, namespace: obj.metadata.namespace },
    status: clean,
  }, 'status');
  if (events) {
    const before = readyCondition((obj.status as { conditions?: Condition[] } | undefined)?.conditions);
    const after = readyCondition(status.conditions);
    if (after && (before?.status !== after.status || before?.reason !== after.reason)) {
      await events.emit(obj as any, after.status === 'True' ? 'Normal' : 'Warning', after.reason, after.message);
    }
  }
  return true;
}
