// Renders a kustomization with the real kustomize built into kubectl
// (`kubectl kustomize`, kustomize v5 in kubectl >= 1.27), as `kubectl apply -k`
// would, and writes throwaway overlays next to the base (kustomize refuses
// absolute paths to resources, so overlays live under .tmp/ in the repo).
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';

export const REPO = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');

export interface Doc { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; [k: string]: unknown }; [k: string]: any }

export function kubectlBinary(): string {
  const bin = process.env.KUBECTL ?? 'kubectl';
  try {
    execFileSync(bin, ['version', '--client'], { stdio: 'ignore' });
  } catch {
    throw new Error(`${bin} not found: the install tests render with \`kubectl kustomize\` (kubectl >= 1.27); install kubectl or set KUBECTL`);
  }
  return bin;
}

/** The objects `kubectl apply -k <dir>` would send. */
export function renderKustomize(dir: string): Doc[] {
  const out = execFileSync(kubectlBinary(), ['kustomize', dir], { encoding: 'utf8', maxBuffer: 64 << 20 });
  return parseAllDocuments(out).map((d) => d.toJSON() as Doc).filter(Boolean);
}

/** Writes an overlay kustomization (resources relative to it) and returns its directory. */
export function writeOverlay(kustomization: Record<string, unknown>): { dir: string; remove(): void } {
  const dir = path.join(REPO, '.tmp', 'overlays', crypto.randomBytes(4).toString('hex'));
  fs.mkdirSync(dir, { recursive: true });
  const rel = (p: string) => path.relative(dir, path.join(REPO, p));
  const k = { ...kustomization, resources: (kustomization.resources as string[]).map(rel) };
  fs.writeFileSync(path.join(dir, 'kustomization.yaml'), stringify({ apiVersion: 'kustomize.config.k8s.io/v1beta1', kind: 'Kustomization', ...k }));
  return { dir, remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

export const find = (docs: Doc[], kind: string, name: string): Doc => {
  const d = docs.find((x) => x.kind === kind && x.metadata.name === name);
  if (!d) throw new Error(`${kind}/${name} not in the rendered manifests`);
  return d;
};
