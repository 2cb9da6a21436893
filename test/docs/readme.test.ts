// Every shell command in README.md and operator/README-operator.md, run or
// checked. Each command of a ```sh block must match exactly one rule below; a
// command no rule knows fails the first test, so a new README command cannot
// go untested. Local commands run with bash against a real `shardline dev`
// (the built CLI, started by the `make dev` lines as the Makefile runs it, on
// free ports: the docs' :4567 and /tmp/ are rewritten); kubectl commands run
// against the real kube-apiserver of the operator tests, with the real
// operator on a 3-server NATS cluster, where they need no nodes; the rest are checked (kustomize paths render, the
// Dockerfile's COPY sources exist, named objects exist in the rendered install).
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { startControlPlane, CRD_FILES, type ControlPlane } from '../harness/kube.js';
import { renderKustomize, kubectlBinary, type Doc } from '../harness/kustomize.js';
import { freePort } from '../harness/ports.js';
import { startNats, type NatsServers } from '../harness/nats.js';
import { spawnOperator, type OperatorProcess } from '../harness/kube-operator.js';

const run = promisify(execFile);
const DOCS = ['README.md', 'operator/README-operator.md'];
const CLI = path.resolve('dist/runtime/cli.js');

interface Command { file: string; line: number; text: string }

/** Strips a trailing `# comment` that is outside quotes. */
function stripComment(line: string): string {
  let quote: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quote) { if (c === quote) quote = undefined; else if (c === '\\' && quote === '"') i++; continue; }
    if (c === "'" || c === '"') quote = c;
    else if (c === '\\') i++;
    else if (c === '#' && (i === 0 || /\s/.test(line[i - 1]))) return line.slice(0, i).trimEnd();
  }
  return line.trimEnd();
}

function commandsOf(file: string): Command[] {
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  const out: Command[] = [];
  let inSh = false;
  let pending: Command | undefined;
  lines.forEach((raw, i) => {
    if (/^```/.test(raw)) { inSh = !inSh && /^```(sh|bash|shell)\s*$/.test(raw); return; }
    if (!inSh) return;
    const text = stripComment(raw);
    if (pending) { pending.text += ' ' + text.replace(/\\$/, '').trim(); if (!text.endsWith('\\')) { out.push(pending); pending = undefined; } return; }
    if (!text.trim()) return;
    const cmd = { file, line: i + 1, text: text.replace(/\\$/, '').trim() };
    if (text.endsWith('\\')) pending = cmd; else out.push(cmd);
  });
  return out;
}

// ---- the local stack --------------------------------------------------------
let root: string;
let binDir: string;
let dev: ChildProcess | undefined;
let devOut = '';
let port: number;
let natsPort: number;
const env: Record<string, string> = {};

async function stopDev() {
  if (!dev || dev.exitCode !== null || dev.signalCode !== null) return;
  const gone = new Promise((r) => dev!.once('exit', r));
  dev.kill('SIGINT');
  await gone;
}

let s3Port = 0;
async function startDev(assignments: Record<string, string>, manifests: string | undefined) {
  await stopDev();
  s3Port ||= await freePort();
  devOut = '';
  const args = [CLI, 'dev', ...(manifests ? ['-f', manifests] : []), '--data-dir', path.join(root, 'data'), '--port', String(port), '--nats-port', String(natsPort)];
  // Its own local S3 port (default 4569): other suites start dev in parallel.
  dev = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, SHARDLINE_DEV_S3_PORT: String(s3Port), ...assignments } });
  dev.stdout!.on('data', (d) => { devOut += d; });
  dev.stderr!.on('data', (d) => { devOut += d; });
  const deadline = Date.now() + 60_000;
  while (!/Ctrl-C stops everything/.test(devOut)) {
    if (Date.now() > deadline || dev.exitCode !== null) throw new Error(`dev did not start:\n${devOut}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Runs a local command line with bash: the docs' ports (endpoint, local S3) and /tmp/ rewritten, `aws` = /usr/bin/aws (AWS CLI v2). */
async function bash(text: string): Promise<string> {
  const line = text.replaceAll('127.0.0.1:4567', `127.0.0.1:${port}`).replaceAll('127.0.0.1:4569', `127.0.0.1:${s3Port}`).replaceAll('/tmp/', `${root}/`);
  try {
    // --norc: bash run over node's socketpair stdio takes itself for an rsh child and sources ~/.bashrc,
    // whose PATH changes (e.g. pyenv shims with an AWS CLI v1) would win over ours.
    const { stdout } = await run('bash', ['--norc', '-c', line], { cwd: process.cwd(), env: { ...process.env, ...env, PATH: `${binDir}:${process.env.PATH}` }, maxBuffer: 64 << 20 });
    return stdout;
  } catch (e: any) {
    throw new Error(`${text}\nfailed: ${e.stderr || e.message}\ndev output:\n${devOut.slice(-2000)}`);
  }
}

// ---- the control plane -------------------------------------------------------
let cp: ControlPlane | undefined;
let nats: NatsServers | undefined;
let operator: OperatorProcess | undefined;
async function kubectl(args: string[] | string): Promise<string> {
  const kc = cp!.kubeconfigPath;
  try {
    const { stdout } = typeof args === 'string'
      ? await run('bash', ['-c', args.replace(/^kubectl\b/, `${kubectlBinary()} --kubeconfig ${kc}`)], { maxBuffer: 64 << 20 })
      : await run(kubectlBinary(), ['--kubeconfig', kc, ...args], { maxBuffer: 64 << 20 });
    return stdout;
  } catch (e: any) {
    throw new Error(`kubectl ${args}\nfailed: ${e.stderr || e.message}`);
  }
}

/** API versions the 1.20 test apiserver does not serve (the manifests keep them for real clusters). */
const UNSERVED = new Set(['policy/v1', 'autoscaling/v2']);

/** Applies a manifest file for real, minus objects of API versions the test apiserver lacks. */
async function applyFile(file: string, namespace?: string) {
  const docs = parseAllDocuments(fs.readFileSync(file, 'utf8')).map((d) => d.toJSON() as Doc).filter(Boolean);
  expect(docs.length).toBeGreaterThan(0);
  const served = docs.filter((d) => !UNSERVED.has(d.apiVersion) && d.kind !== 'CustomResourceDefinition');
  const tmp = path.join(root, `apply-${Math.random().toString(36).slice(2)}.yaml`);
  fs.writeFileSync(tmp, served.map((d) => stringify(d)).join('---\n'));
  await kubectl([...(namespace ? ['-n', namespace] : []), 'apply', '--server-side', '--field-manager', 'docs-test', '-f', tmp]);
}

function dockerfileSourcesExist() {
  const lines = fs.readFileSync('Dockerfile', 'utf8').split('\n').filter((l) => /^COPY\s/.test(l) && !/--from=/.test(l));
  expect(lines.length).toBeGreaterThan(0);
  for (const l of lines) {
    const parts = l.trim().split(/\s+/).slice(1, -1);
    for (const src of parts) expect(`${src} ${fs.existsSync(src) ? 'exists' : 'missing'}`).toBe(`${src} exists`);
  }
}

function assignmentsOf(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const m of text.matchAll(/(?:^|\s)([A-Z_][A-Z0-9_]*)=(\S+)/g)) env[m[1]] = m[2];
  return env;
}

/** Runs a local command until `done(stdout)` holds; fails after `ms` with the last output and dev's. */
async function pollLocal(text: string, done: (out: string) => boolean, ms: number, what: string): Promise<string> {
  const deadline = Date.now() + ms;
  for (;;) {
    // A failing run counts as not yet (`aws s3 ls` exits 1 while nothing matches).
    const out = await bash(text).catch((e: Error) => e.message);
    if (done(out)) return out;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last output:\n${out}\ndev output:\n${devOut.slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

interface Rule { name: string; match: RegExp; kind: 'local' | 'kube' | 'static'; run(c: Command): Promise<void> | void }

const RULES: Rule[] = [
  {
    name: 'make dev: the Makefile runs `node dist/runtime/cli.js dev -f $(F)`; started for real (env assignments kept)',
    match: /^(?:[A-Z_]+=\S+\s+)*make dev(?:\s+F=(\S+))?$/, kind: 'local',
    async run(c) {
      expect(fs.readFileSync('Makefile', 'utf8')).toContain('node dist/runtime/cli.js dev $(if $(F),-f $(F))');
      const f = c.text.match(/F=(\S+)/)?.[1];
      const assignments = assignmentsOf(c.text.replace(/\s*make dev.*$/, ''));
      delete assignments.F;
      await startDev(assignments, f);
    },
  },
  {
    name: 'make test: a Makefile target running the suites',
    match: /^make test$/, kind: 'static',
    run() { expect(fs.readFileSync('Makefile', 'utf8')).toMatch(/^test: .*\n\t.*npm test/m); },
  },
  {
    name: 'export AWS_*: kept for the commands that follow',
    match: /^export (AWS_[A-Z_]+=\S+\s*)+$/, kind: 'local',
    run(c) { Object.assign(env, assignmentsOf(c.text)); },
  },
  {
    name: 'aws against the local endpoint: run',
    match: /^aws --endpoint-url http:\/\/127\.0\.0\.1:4567 kinesis(analytics)? /, kind: 'local',
    async run(c) {
      if (/describe-stream-summary --stream-name clicks .*OpenShardCount/.test(c.text)) {
        // The scaling recipe: an idle new ON_DEMAND stream says 4, then 2, then 1 as the autoscaler merges.
        expect((await bash(c.text)).trim()).toBe('4');
        const deadline = Date.now() + 200_000;
        for (;;) {
          const n = Number((await bash(c.text)).trim());
          if (n === 1) break;
          if (Date.now() > deadline) throw new Error(`clicks never merged down to 1 shard (at ${n}):\n${devOut.slice(-3000)}`);
          await new Promise((r) => setTimeout(r, 2000));
        }
        expect(devOut).toMatch(/autoscaler: stream clicks: merge 4 → 2 shards \(applied\)/);
        expect(devOut).toMatch(/autoscaler: stream clicks: merge 2 → 1 shards \(applied\)/);
        return;
      }
      if (/ get-records .*--stream-name big-orders/.test(c.text)) {
        // The SQL recipe: the application's output arrives once it has started.
        const deadline = Date.now() + 90_000;
        for (;;) {
          const records = JSON.parse(await bash(c.text)).Records as { Data: string }[];
          const rows = records.map((r) => JSON.parse(Buffer.from(r.Data, 'base64').toString()));
          if (rows.length) { expect(rows).toEqual([{ ITEM: 'book', QTY: 3 }]); break; }
          if (Date.now() > deadline) throw new Error(`big-orders stayed empty:\n${devOut.slice(-3000)}`);
          await new Promise((r) => setTimeout(r, 1000));
        }
        return;
      }
      const out = await bash(c.text);
      if (/ get-records /.test(c.text)) expect(JSON.parse(out).Records.map((r: { Data: string }) => r.Data)).toContain(Buffer.from('hello').toString('base64'));
      if (/ put-record .*--partition-key k1 /.test(c.text)) expect(JSON.parse(out).ShardId).toBe('shardId-000000000001');
    },
  },
  {
    name: 'aws firehose against the local endpoint: run (create answers the ARN; describe is polled until ACTIVE)',
    match: /^aws --endpoint-url http:\/\/127\.0\.0\.1:4567 firehose /, kind: 'local',
    async run(c) {
      if (/ describe-delivery-stream .*DeliveryStreamStatus$/.test(c.text)) {
        await pollLocal(c.text, (out) => JSON.parse(out) === 'ACTIVE', 20_000, 'the delivery stream to be ACTIVE');
        return;
      }
      const out = await bash(c.text);
      const name = c.text.match(/--delivery-stream-name (\S+)/)?.[1];
      if (/ create-delivery-stream /.test(c.text)) expect(JSON.parse(out).DeliveryStreamARN).toBe(`arn:aws:firehose:us-east-1:000000000000:deliverystream/${name}`);
    },
  },
  {
    name: "aws s3 against dev's local S3 (s3rver's key pair inline): run; the listing is polled until the delivered object shows, the copy holds the record put",
    match: /^AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER aws --endpoint-url http:\/\/127\.0\.0\.1:4569 s3 (ls|cp) /, kind: 'local',
    async run(c) {
      // Firehose's object name: prefix, UTC hour folders, <stream>-<version>-<yyyy-MM-dd-HH-mm-ss>-<uuid>.
      const KEY = /orders\/\d{4}\/\d{2}\/\d{2}\/\d{2}\/orders-archive-1-\d{4}(-\d{2}){5}-[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}$/m;
      if (/ s3 ls /.test(c.text)) {
        // IntervalInSeconds 60: the object is written up to a minute after the put.
        await pollLocal(c.text, (out) => KEY.test(out), 120_000, 'the delivered object in the listing');
        return;
      }
      await bash(c.text);
      const dir = path.join(root, 'lake/orders');
      const files = fs.readdirSync(dir, { recursive: true, withFileTypes: true }).filter((f) => f.isFile());
      const lines = files.flatMap((f) => fs.readFileSync(path.join(f.parentPath ?? (f as any).path, f.name), 'utf8').split('\n').filter(Boolean));
      // Only what was put after the delivery stream's creation (not the earlier "hello" and book order), one JSON line each.
      expect(lines).toEqual(['{"item": "pen", "qty": 1}']);
    },
  },
  {
    name: 'docker build: cannot run here; every COPY source of the Dockerfile exists',
    match: /^docker build -t shardline:\S+ \.$/, kind: 'static',
    run() { dockerfileSourcesExist(); },
  },
  {
    name: 'kubectl apply -k: the kustomization renders (the full install needs nodes and policy/v1: test/install/ applies it)',
    match: /^kubectl apply -k (\S+)$/, kind: 'static',
    run(c) {
      const docs = renderKustomize(c.text.match(/-k (\S+)/)![1]);
      expect(docs.filter((d) => d.kind === 'Deployment').map((d) => d.metadata.name)).toEqual(expect.arrayContaining(['shardline-operator', 'shardline-runtime']));
    },
  },
  {
    name: 'rollout status: every object named exists in config/default, in that namespace',
    match: /^kubectl -n (\S+) rollout status( \S+\/\S+)+$/, kind: 'static',
    run(c) {
      const ns = c.text.split(/\s+/)[2];
      const docs = renderKustomize('config/default');
      for (const ref of c.text.split(/\s+/).slice(5)) {
        const [kind, name] = ref.split('/');
        const found = docs.find((d) => d.kind.toLowerCase() === kind && d.metadata.name === name && d.metadata.namespace === ns);
        expect(`${ref} ${found ? 'found' : 'missing'}`).toBe(`${ref} found`);
      }
    },
  },
  {
    name: 'kubectl wait --for=condition=Ready: run, against the real operator on a 3-server NATS cluster',
    match: /^kubectl (-n \S+ )?wait (-n \S+ )?(kds\/\S+) --for=condition=Ready$/, kind: 'kube',
    async run(c) {
      try { await kubectl(c.text); } catch (e) { throw new Error(`${(e as Error).message}\noperator:\n${operator?.logs().slice(-3000)}`); }
    },
  },
  {
    name: 'kubectl apply -f examples/argocd/*: an Argo CD Application whose source path renders with kustomize (no Argo CD here)',
    match: /^kubectl apply -f examples\/argocd\/\S+\.yaml$/, kind: 'static',
    run(c) {
      const app = parse(fs.readFileSync(c.text.split(' ').pop()!, 'utf8'));
      expect([app.apiVersion, app.kind]).toEqual(['argoproj.io/v1alpha1', 'Application']);
      const docs = renderKustomize(app.spec.source.path);
      const namespaces = new Set(docs.filter((d) => d.kind === 'Namespace').map((d) => d.metadata.name));
      expect([...namespaces]).toEqual([app.spec.destination.namespace]);
      expect(app.spec.destination.server).toBe('https://kubernetes.default.svc');
    },
  },
  {
    name: 'cdk8s synth: npm run build is the compile jest already ran; the example app runs for real',
    match: /^npm run build && node dist\/examples\/cdk8s\/main\.js$/, kind: 'local',
    async run(c) {
      expect(JSON.parse(fs.readFileSync('package.json', 'utf8')).scripts.build).toBe('tsc -p tsconfig.json');
      await run(process.execPath, ['dist/examples/cdk8s/main.js']);
      for (const f of ['shardline-install.k8s.yaml', 'clickstream.k8s.yaml']) expect(fs.existsSync(path.join('examples/cdk8s/dist', f))).toBe(true);
      void c;
    },
  },
  {
    name: 'kubectl apply -f FILE: applied for real (objects of API versions the 1.20 apiserver lacks are left out)',
    match: /^kubectl (-n \S+ )?apply -f (examples\/(?!argocd\/)\S+\.yaml)$/, kind: 'kube',
    async run(c) {
      const ns = c.text.match(/-n (\S+)/)?.[1];
      const file = c.text.split(' ').pop()!;
      await applyFile(file, ns);
      if (file === 'examples/manifests/orders.yaml') expect(await kubectl(['-n', ns!, 'get', 'kds', 'orders', '-o', 'jsonpath={.spec.shards}'])).toBe('2');
    },
  },
  {
    name: 'kubectl patch argocd-cm: run against an argocd-cm as Argo CD installs it; the health script installed is config/argocd/health.lua',
    match: /^kubectl -n argocd patch configmap argocd-cm --patch-file config\/argocd\/argocd-cm\.yaml$/, kind: 'kube',
    async run(c) {
      await kubectl(['create', 'namespace', 'argocd']).catch(() => undefined);
      await kubectl(['-n', 'argocd', 'create', 'configmap', 'argocd-cm', '--from-literal=url=https://argocd.example.com']);
      await kubectl(c.text);
      const data = JSON.parse(await kubectl(['-n', 'argocd', 'get', 'configmap', 'argocd-cm', '-o', 'json'])).data;
      const lua = fs.readFileSync('config/argocd/health.lua', 'utf8');
      for (const kind of ['DataStream', 'DeliveryStream', 'AnalyticsApp']) expect(data[`resource.customizations.health.shardline.dev_${kind}`]?.trim()).toBe(lua.trim());
      expect(data.url).toBe('https://argocd.example.com');
    },
  },
  {
    name: 'kubectl scale kds: run; the scale subresource sets spec.shards',
    match: /^kubectl scale kds (\S+) -n (\S+) --replicas=(\d+)$/, kind: 'kube',
    async run(c) {
      const [, name, ns, n] = c.text.match(/^kubectl scale kds (\S+) -n (\S+) --replicas=(\d+)$/)!;
      await kubectl(c.text);
      expect(await kubectl(['-n', ns, 'get', 'kds', name, '-o', 'jsonpath={.spec.shards}'])).toBe(n);
    },
  },
  {
    name: 'other kubectl commands that need no nodes (create namespace/secret, get, explain): run',
    match: /^kubectl (create namespace \S+|-n \S+ create secret generic .*|(-n \S+ )?get kds.*|explain \S+)$/, kind: 'kube',
    async run(c) {
      const out = await kubectl(c.text);
      // The shared endpoint the docs promise, as the operator reports it.
      if (/get kds orders .*jsonpath='\{\.status\.endpoint\}'/.test(c.text)) expect(out).toBe('http://shardline.shardline-system.svc:4567');
      if (/create secret generic (\S+)/.test(c.text)) {
        const [, ns, name] = c.text.match(/-n (\S+) create secret generic (\S+)/)!;
        const data = JSON.parse(await kubectl(['-n', ns, 'get', 'secret', name, '-o', 'json'])).data as Record<string, string>;
        for (const v of Object.values(data)) expect(Buffer.from(v, 'base64').length).toBeGreaterThanOrEqual(20);
      }
      if (/^kubectl explain datastream\.spec/.test(c.text)) expect(out).toMatch(/shards/);
    },
  },
  {
    name: 'developer setup: the scripts exist; npm test paths exist',
    match: /^(bash scripts\/apt-deps\.sh test|export KUBEBUILDER_ASSETS="\$\(bash scripts\/kube-binaries\.sh\)"|npm test -- (\S+))$/, kind: 'static',
    run(c) {
      for (const m of c.text.matchAll(/scripts\/\S+\.sh/g)) expect(fs.existsSync(m[0])).toBe(true);
      const p = c.text.match(/^npm test -- (\S+)$/)?.[1];
      if (p) expect(fs.existsSync(p)).toBe(true);
      if (c.text.includes('apt-deps.sh test')) expect(fs.readFileSync('scripts/apt-deps.sh', 'utf8')).toMatch(/\btest\b/);
    },
  },
];

const COMMANDS = DOCS.flatMap(commandsOf);
const ruleOf = (c: Command) => RULES.filter((r) => r.match.test(c.text));

/** The long flags `shardline <command> --help` lists. */
async function helpFlags(command: string): Promise<string[]> {
  const { stdout } = await run(process.execPath, [CLI, command, '--help']);
  // An option starts at commander's two-space indent; a wrapped description line (deeper) may begin with a flag it names.
  return [...stdout.matchAll(/^ {2}(?:-\w, )?(--[a-z0-9-]+)/gm)].map((m) => m[1]).filter((f) => f !== '--help');
}

test('the operator docs list exactly the flags of `shardline operator --help`', async () => {
  const table = fs.readFileSync('operator/README-operator.md', 'utf8').split('\n').filter((l) => l.startsWith('| `--'));
  const documented = new Set(table.flatMap((l) => [...l.split('|')[1].matchAll(/--[a-z0-9-]+(\(-file\))?/g)].flatMap((m) => m[1] ? [m[0].replace('(-file)', ''), m[0].replace('(-file)', '-file')] : [m[0]])));
  // `--nats-tls-ca/-cert/-key` is written as one entry.
  for (const l of table) if (l.includes('--nats-tls-ca/-cert/-key')) ['--nats-tls-ca', '--nats-tls-cert', '--nats-tls-key'].forEach((f) => documented.add(f));
  expect([...documented].sort()).toEqual((await helpFlags('operator')).sort());
});

test('README.md names the flags of `shardline dev --help`', async () => {
  const readme = fs.readFileSync('README.md', 'utf8');
  const flags = await helpFlags('dev');
  expect(flags.length).toBeGreaterThan(2);
  for (const f of flags) expect(`${f} ${readme.includes('`' + f) ? 'documented' : 'missing'}`).toBe(`${f} documented`);
});

test('every shell command in the docs is run or checked by exactly one rule', () => {
  expect(COMMANDS.length).toBeGreaterThan(20);
  const bad = COMMANDS.filter((c) => ruleOf(c).length !== 1).map((c) => `${c.file}:${c.line}: ${c.text} (${ruleOf(c).length} rules)`);
  expect(bad).toEqual([]);
});

beforeAll(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'shardline-docs-'));
  binDir = path.join(root, 'bin');
  fs.mkdirSync(binDir);
  fs.symlinkSync('/usr/bin/aws', path.join(binDir, 'aws'));
  [port, natsPort] = [await freePort(), await freePort()];
});

afterAll(async () => {
  await stopDev();
  await operator?.signal('SIGTERM');
  await cp?.stop();
  await nats?.stop();
  fs.rmSync(root, { recursive: true, force: true });
});

describe.each(['local', 'static', 'kube'] as const)('%s commands', (kind) => {
  if (kind === 'kube') {
    beforeAll(async () => {
      [cp, nats] = await Promise.all([startControlPlane({ crdFiles: CRD_FILES }), startNats({ servers: 3 })]);
      await kubectl(['create', 'namespace', 'shardline-system']);
      operator = spawnOperator(['--kubeconfig', cp.kubeconfigPath, '--nats', nats.url, '--image', 'shardline:test', '--lease-namespace', 'shardline-system',
        '--health-port', String(await freePort())]);
    }, 180_000);
  }
  const mine = COMMANDS.filter((c) => ruleOf(c).length === 1 && ruleOf(c)[0].kind === kind);
  // In document order: later commands use what earlier ones made (the stream, the namespace).
  test.each(mine.map((c) => [`${c.file}:${c.line}: ${c.text.slice(0, 110)}`, c] as const))('%s', async (_n, c) => {
    await ruleOf(c)[0].run(c);
  }, 240_000);
});
