// Step: make the owned children match the model. Reads the informer cache,
// applies (server-side, one field manager) only what differs.
import { applyIfChanged } from '../kube/apply.js';
import type { KubeObject } from '../kube/client.js';
import type { Informer } from '../kube/informer.js';
import type { ResourceType } from '../kube/resources.js';
import type { Context } from './context.js';

export interface Child { type: ResourceType; cache: Informer; desired: KubeObject }

/** Applies each child that drifted or changed; returns the stored objects by kind. */
export async function ensureChildren(ctx: Context, children: Child[]): Promise<Map<string, KubeObject>> {
  const out = new Map<string, KubeObject>();
  for (const c of children) {
    const observed = c.cache.getByName(c.desired.metadata.namespace, c.desired.metadata.name);
    const { obj } = await applyIfChanged(ctx.client, c.type, c.desired, observed);
    out.set(c.type.kind, obj);
  }
  return out;
}
