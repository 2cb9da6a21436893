// Server-side apply only when needed: a converged object must cause zero writes.
// An object needs applying when the fields we own differ from what is stored
// (drift, e.g. a hand edit) or when our desired object changed since we last
// applied it (tracked by a hash annotation, which also catches removed fields).
import crypto from 'node:crypto';
import type { KubeClient, KubeObject } from './client.js';
import type { ResourceType } from './resources.js';

export const DESIRED_HASH = 'shardline.dev/desired-hash';

export function hashOf(obj: unknown): string {
  return crypto.createHash('sha256').update(stableJson(obj)).digest('hex').slice(0, 16);
}

function stableJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableJson).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${stableJson((v as any)[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

/**
 * True when every field of `desired` is present with the same value in
 * `observed`. Fields the apiserver adds (defaults, status, managedFields) are
 * ignored; lists must have the same length, compared element by element.
 */
export function isSubset(desired: unknown, observed: unknown): boolean {
  if (desired === undefined) return true;
  if (desired === null || typeof desired !== 'object') {
    // Numbers and strings for int-or-string fields compare by value.
    return desired === observed || (observed !== undefined && observed !== null && String(desired) === String(observed) && typeof observed !== 'object');
  }
  if (Array.isArray(desired)) {
    if (!Array.isArray(observed) || observed.length !== desired.length) return false;
    return desired.every((d, i) => isSubset(d, observed[i]));
  }
  if (!observed || typeof observed !== 'object' || Array.isArray(observed)) return false;
  return Object.entries(desired).every(([k, v]) => isSubset(v, (observed as any)[k]));
}

/** The desired object with its hash annotation, ready to apply. */
export function withHash<T extends KubeObject>(desired: T): T {
  const h = hashOf(desired);
  return { ...desired, metadata: { ...desired.metadata, annotations: { ...desired.metadata.annotations, [DESIRED_HASH]: h } } };
}

export function needsApply(desired: KubeObject, observed: KubeObject | undefined): boolean {
  if (!observed) return true;
  if (observed.metadata.deletionTimestamp) return false; // being deleted: the GC finishes, we recreate after
  const stamped = withHash(desired);
  if (observed.metadata.annotations?.[DESIRED_HASH] !== stamped.metadata.annotations![DESIRED_HASH]) return true;
  const { metadata, ...rest } = desired;
  const { annotations, ...metaRest } = metadata;
  return !isSubset(rest, observed) || !isSubset(metaRest, observed.metadata) || !isSubset(annotations ?? {}, observed.metadata.annotations ?? {});
}

/** Applies `desired` when needed; returns the stored object and whether it wrote. */
export async function applyIfChanged<T extends KubeObject>(
  client: KubeClient, type: ResourceType, desired: T, observed: T | undefined,
): Promise<{ obj: T; wrote: boolean }> {
  if (!needsApply(desired, observed)) return { obj: observed!, wrote: false };
  const obj = await client.apply(type, withHash(desired));
  return { obj, wrote: true };
}
