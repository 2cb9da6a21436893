// The Argo CD health check (config/argocd/health.lua) run by a real Lua 5.1
// against fixtures, the conditions the operator itself writes among them; the
// kstatus reading of the same objects agrees (Flux); argocd-cm.yaml registers
// exactly health.lua for the three kinds.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { parse } from 'yaml';
import { conditionsFor, type Outcome } from '../../operator/status/conditions.js';
import { argoHealth, LUA } from '../harness/lua.js';
import { kstatus } from '../harness/kstatus.js';

const SCRIPT = 'config/argocd/health.lua';
const obj = (generation: number, status?: unknown) => ({ apiVersion: 'shardline.dev/v1alpha1', kind: 'DataStream', metadata: { name: 'orders', generation }, ...(status ? { status } : {}) });
const written = (o: Outcome, generation = 3, observed = generation) => obj(generation, { observedGeneration: observed, conditions: conditionsFor(o, observed) });

beforeAll(() => {
  try { execFileSync(LUA, ['-v'], { stdio: 'ignore' }); } catch { throw new Error(`${LUA} not found: run scripts/apt-deps.sh test (Debian package lua5.1)`); }
});

test.each([
  ['Ready (as the operator writes it)', written({ state: 'Ready', reason: 'StreamActive', message: 'Stream orders is ACTIVE with 2 open shards.' }), 'Healthy', 'Stream orders is ACTIVE with 2 open shards.', 'Current'],
  ['Progressing (as the operator writes it)', written({ state: 'Progressing', reason: 'Resharding', message: 'Resharding towards 4 shards.' }), 'Progressing', 'Resharding: Resharding towards 4 shards.', 'InProgress'],
  ['Degraded: Stalled (as the operator writes it)', written({ state: 'Stalled', reason: 'JetStreamError', message: 'JetStream refused: replicas > 1 not supported in non-clustered mode (err_code 10074).' }), 'Degraded', 'JetStreamError: JetStream refused: replicas > 1 not supported in non-clustered mode (err_code 10074).', 'Failed'],
  ['generation not yet observed (still showing an old Ready)', written({ state: 'Ready', reason: 'StreamActive', message: 'old' }, 4, 3), 'Progressing', 'Waiting for the Shardline operator to observe generation 4', 'InProgress'],
  ['no status', obj(1), 'Progressing', 'Waiting for the Shardline operator to report status', 'Current'],
  ['status without conditions', obj(1, { observedGeneration: 1 }), 'Progressing', 'Waiting for the Shardline operator to report status', 'Current'],
  ['Ready condition computed for an older generation', obj(2, { observedGeneration: 2, conditions: [{ type: 'Ready', status: 'True', reason: 'X', message: 'm', observedGeneration: 1, lastTransitionTime: '2026-01-01T00:00:00Z' }] }), 'Progressing', 'X: m', 'Current'],
])('%s', (_name, o, health, message, ks) => {
  expect(argoHealth(SCRIPT, o)).toEqual({ status: health, message });
  expect(kstatus(o)).toBe(ks);
});

test('Argo and kstatus never disagree on what the operator writes: Healthy iff Current, Degraded iff Failed', () => {
  for (const state of ['Ready', 'Progressing', 'Stalled'] as const) {
    for (const [gen, seen] of [[1, 1], [2, 1]]) {
      const o = written({ state, reason: 'R', message: 'm' }, gen, seen);
      const h = argoHealth(SCRIPT, o).status;
      const k = kstatus(o);
      expect(`${state} g${gen}/${seen}: ${h}`).toBe(`${state} g${gen}/${seen}: ${k === 'Current' ? 'Healthy' : k === 'Failed' ? 'Degraded' : 'Progressing'}`);
    }
  }
});

test('argocd-cm.yaml registers health.lua for DataStream, DeliveryStream and AnalyticsApp (node scripts/render-argocd-cm.mjs)', () => {
  const cm = parse(fs.readFileSync('config/argocd/argocd-cm.yaml', 'utf8'));
  const lua = fs.readFileSync(SCRIPT, 'utf8');
  expect(Object.keys(cm.data).sort()).toEqual(['AnalyticsApp', 'DataStream', 'DeliveryStream'].map((k) => `resource.customizations.health.shardline.dev_${k}`));
  for (const v of Object.values(cm.data)) expect(v).toBe(lua.trimEnd() + '\n');
});
