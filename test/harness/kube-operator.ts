// Runs the operator as a real OS process (for leader hand-over and kill tests).
// The TypeScript sources are transpiled file by file (no type check, ~1 s) into
// .tmp/operator-js/<id>/ inside the repo, so node_modules resolve as usual.
import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

const REPO = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
let built: string | undefined;

function walk(dir: string, out: string[] = []): string[] {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) walk(p, out);
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

/** Transpiles what the operator imports (operator/, the stream library, contract/, common/, crds/, consumer/, analytics/) once per test file; returns the entry script. */
export function buildOperatorJs(): string {
  if (built) return built;
  const outDir = path.join(REPO, '.tmp', 'operator-js', crypto.randomBytes(4).toString('hex'));
  for (const dir of ['operator', 'stream', 'contract', 'common', 'crds', 'consumer', 'analytics']) {
    for (const file of walk(path.join(REPO, dir))) {
      const js = ts.transpileModule(fs.readFileSync(file, 'utf8'), {
        fileName: file,
        compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, esModuleInterop: true, sourceMap: false },
      }).outputText;
      const dest = path.join(outDir, path.relative(REPO, file)).replace(/\.ts$/, '.js');
      fs.mkdirSync(path.dirname(dest), { recursive: true });
      fs.writeFileSync(dest, js);
    }
  }
  const entry = path.join(outDir, 'entry.js');
  fs.writeFileSync(entry, "import { runOperator } from './operator/main.js';\nawait runOperator(process.argv.slice(2));\n");
  built = entry;
  return entry;
}

export function cleanOperatorJs(): void {
  if (built) fs.rmSync(path.dirname(built), { recursive: true, force: true });
  built = undefined;
}

export interface OperatorProcess {
  proc: ChildProcess;
  identity: string;
  logs(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  signal(sig: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function spawnOperator(args: string[], env: Record<string, string> = {}, identity = `op-${crypto.randomBytes(3).toString('hex')}`): OperatorProcess {
  const entry = buildOperatorJs();
  const proc = spawn(process.execPath, [entry, '--identity', identity, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let logs = '';
  const onData = (d: Buffer) => { logs = (logs + d.toString()).slice(-20000); };
  proc.stdout!.on('data', onData);
  proc.stderr!.on('data', onData);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.once('exit', (code, signal) => resolve({ code, signal })));
  return {
    proc, identity, exited,
    logs: () => logs,
    signal: async (sig) => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(sig);
      return exited;
    },
  };
}
