// `shardline dev -f <file|dir>...`: the same YAML manifests `kubectl apply -f`
// takes, read without Kubernetes. Directories are read for *.yaml / *.yml / *.json
// (not recursively, like kubectl without -R); other kinds are listed and skipped.
import fs from 'node:fs';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { API_VERSION } from '../../crds/schema/common.js';

export interface Manifest { kind: string; name: string; source: string; spec: unknown }

export class ManifestError extends Error {}

function filesOf(p: string): string[] {
  let st: fs.Stats;
  try { st = fs.statSync(p); } catch { throw new ManifestError(`${p}: no such file or directory`); }
  if (!st.isDirectory()) return [p];
  return fs.readdirSync(p).filter((f) => /\.(ya?ml|json)$/.test(f)).sort().map((f) => path.join(p, f));
}

export function loadManifests(paths: string[]): { manifests: Manifest[]; skipped: string[] } {
  const manifests: Manifest[] = [];
  const skipped: string[] = [];
  for (const file of paths.flatMap(filesOf)) {
    const docs = parseAllDocuments(fs.readFileSync(file, 'utf8'));
    for (const [i, d] of docs.entries()) {
      if (d.errors.length) throw new ManifestError(`${file} (document ${i + 1}): ${d.errors[0]!.message}`);
      const o = d.toJSON() as { apiVersion?: string; kind?: string; metadata?: { name?: string }; spec?: unknown } | null;
      if (!o) continue;
      const where = `${file} (document ${i + 1})`;
      if (o.apiVersion !== API_VERSION) { skipped.push(`${o.kind ?? '?'}/${o.metadata?.name ?? '?'} (${o.apiVersion ?? 'no apiVersion'}) in ${file}`); continue; }
      if (!o.kind || !o.metadata?.name) throw new ManifestError(`${where}: kind and metadata.name are required`);
      manifests.push({ kind: o.kind, name: o.metadata.name, source: where, spec: o.spec });
    }
  }
  return { manifests, skipped };
}
