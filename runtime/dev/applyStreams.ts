// DataStream manifests applied straight to the store, as the operator's
// reconcile would (same zod schema, same store functions): created when
// missing, retention, mode, shard count (stepping by at most 2x, as
// UpdateShardCount allows) and tags brought to the manifest on every run.
// Locally there is one nats-server, so every stream is R1 whatever
// spec.replicas says.
import { DataStreamSpec } from '../../crds/schema/datastream.js';
import { desiredShardCount } from '../../operator/model/datastream.js';
import { openShardsOf, type StreamStore } from '../../operator/store/streamStore.js';
import type { Manifest } from './manifests.js';
import { ManifestError } from './manifests.js';

const OWNER_TAG = 'shardline.dev/owner';

export function validateDataStream(m: Manifest): DataStreamSpec {
  const r = DataStreamSpec.safeParse(m.spec ?? {});
  if (!r.success) throw new ManifestError(`DataStream ${m.name} (${m.source}): ${r.error.issues.map((i) => `spec.${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return r.data;
}

export async function applyDataStream(store: StreamStore, m: Manifest, log: (m: string) => void): Promise<void> {
  const spec = validateDataStream(m);
  const name = spec.streamName ?? m.name;
  const tags = { ...spec.tags, [OWNER_TAG]: `dev/${m.name}` };
  let rec = await store.get(name);
  if (!rec || rec.status === 'CREATING') {
    rec = await store.ensure({ name, shardCount: desiredShardCount(spec), mode: spec.mode, retentionHours: spec.retentionHours, replicas: 1, tags });
    log(`DataStream ${m.name}: created stream ${name} with ${openShardsOf(rec).length} shards`);
  }
  const changes: string[] = [];
  if (rec.retentionHours !== spec.retentionHours) { rec = await store.setRetention(name, spec.retentionHours); changes.push(`retention ${spec.retentionHours} h`); }
  if (rec.mode !== spec.mode) { rec = await store.setMode(name, spec.mode); changes.push(spec.mode); }
  if (Object.entries(tags).some(([k, v]) => rec!.tags?.[k] !== v)) { rec = await store.mergeTags(name, tags); changes.push('tags'); }
  if (spec.mode === 'PROVISIONED' && (rec.quotaEnforcement !== false) !== spec.enforceQuotas) rec = await store.setQuotaEnforcement(name, spec.enforceQuotas);
  for (let open = openShardsOf(rec).length, want = desiredShardCount(spec, open); open !== want; open = openShardsOf(rec).length) {
    if (!store.updateShardCount) throw new ManifestError(`DataStream ${m.name}: resharding is not available in this build`);
    const step = want > open ? Math.min(want, open * 2) : Math.max(want, Math.ceil(open / 2));
    rec = await store.updateShardCount(name, step);
    if (rec.status === 'UPDATING' && store.finishReshard) rec = await store.finishReshard(rec);
    changes.push(`${open} -> ${openShardsOf(rec).length} shards`);
  }
  if (changes.length) log(`DataStream ${m.name}: ${changes.join(', ')}`);
}
