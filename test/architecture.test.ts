// The layering ARCHITECTURE.md describes, checked on the import graph of the
// TypeScript sources (pure: reads files, runs nothing). A rule broken here
// names the offending import, so the fix is obvious.
//
//   stream/    the library: its whole import closure stays in stream/ and the
//              dependency-free part of contract/ (no runtime/, operator/, crds/)
//   contract/  operator↔pod contracts: imports only contract/ and crds/
//   crds/      CRD schemas: imports only crds/
//   operator/, bench/: never the API server (runtime/)
//   nowhere:   an import cycle
// plus the "one of each" of the read path: one start-position resolver, one
// decode step, one retention horizon.
import fs from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve('.');
const SKIP = new Set(['node_modules', 'dist', 'scripts', 'config', 'coverage']);
/** Of test/, only the harness is code other code (bench/) imports; suites are leaves. */
const isSuite = (p: string) => p.startsWith(path.join(ROOT, 'test') + path.sep) && !p.startsWith(path.join(ROOT, 'test', 'harness') + path.sep);

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    if (e.name.startsWith('.') || (dir === ROOT && SKIP.has(e.name))) continue;
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...sources(p));
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') && !isSuite(p)) out.push(p);
  }
  return out;
}

const IMPORT_RE = [
  /(?:^|[\s;])(?:import|export)\s[^;'"]*?\sfrom\s*['"]([^'"]+)['"]/g,
  /(?:^|[\s;])import\s*['"]([^'"]+)['"]/g,
  /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
];

/** Relative imports of a file, resolved to repository paths (`stream/x.ts`). */
function importsOf(file: string): string[] {
  // Comments may mention imports; drop them first.
  const text = fs.readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  const out = new Set<string>();
  for (const re of IMPORT_RE) {
    for (const m of text.matchAll(re)) {
      const spec = m[1]!;
      if (!spec.startsWith('.')) continue;
      const abs = path.resolve(path.dirname(file), spec.replace(/\.js$/, '.ts'));
      const rel = path.relative(ROOT, fs.existsSync(abs) ? abs : path.join(abs.replace(/\.ts$/, ''), 'index.ts'));
      out.add(rel);
    }
  }
  return [...out];
}

const files = sources(ROOT).map((f) => path.relative(ROOT, f)).sort();
const graph = new Map(files.map((f) => [f, importsOf(path.join(ROOT, f))]));
const top = (f: string) => f.split(path.sep)[0]!;
const edges = (from: string) => [...graph.entries()].filter(([f]) => top(f) === from).flatMap(([f, deps]) => deps.map((d) => `${f} -> ${d}`));

test('the graph is real: every relative import resolves to a source file', () => {
  expect(files.length).toBeGreaterThan(100);
  const missing = [...graph.entries()].flatMap(([f, deps]) => deps.filter((d) => !graph.has(d)).map((d) => `${f} -> ${d}`));
  expect(missing).toEqual([]);
  // The parser sees the imports a known file has.
  expect(graph.get(path.join('stream', 'shardReader.ts'))).toEqual(expect.arrayContaining([path.join('stream', 'shardRead.ts'), path.join('stream', 'errors.ts')]));
});

/** Import chains from files under `from` that reach a file `forbidden` says is off limits (transitively). */
function reaching(from: string, forbidden: (f: string) => boolean): string[] {
  const seen = new Set<string>();
  const bad: string[] = [];
  const walk = (f: string, via: string[]) => {
    if (seen.has(f)) return;
    seen.add(f);
    if (forbidden(f)) return void bad.push([...via, f].join(' -> '));
    for (const d of graph.get(f) ?? []) walk(d, [...via, f]);
  };
  for (const f of files.filter((x) => top(x) === from)) walk(f, []);
  return bad;
}

test('operator/ and bench/ never import the API server (runtime/), directly or through another file', () => {
  expect(edges('operator').length).toBeGreaterThan(20);
  expect(reaching('operator', (f) => top(f) === 'runtime')).toEqual([]);
  expect(reaching('bench', (f) => top(f) === 'runtime')).toEqual([]);
});

test('stream/ is a library: nothing it pulls in lives in runtime/, operator/, crds/, bench/ or test/', () => {
  expect(reaching('stream', (f) => !['stream', 'contract'].includes(top(f)))).toEqual([]);
});

test('contract/ imports only contract/ and crds/; crds/ only crds/', () => {
  expect(edges('contract').filter((e) => !['contract', 'crds'].includes(top(e.split(' -> ')[1]!)))).toEqual([]);
  expect(edges('crds').filter((e) => top(e.split(' -> ')[1]!) !== 'crds')).toEqual([]);
});

test('no import cycles', () => {
  // Tarjan's strongly connected components; any component of more than one file (or a self-import) is a cycle.
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const cycles: string[][] = [];
  const visit = (v: string) => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const comp: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        comp.push(w);
      } while (w !== v);
      if (comp.length > 1 || (graph.get(v) ?? []).includes(v)) cycles.push(comp.sort());
    }
  };
  for (const f of files) if (!idx.has(f)) visit(f);
  expect(cycles).toEqual([]);
});

test('one start-position resolver, one decode step, one retention horizon', () => {
  const callers = (re: RegExp) =>
    files.filter((f) => re.test(fs.readFileSync(path.join(ROOT, f), 'utf8').replace(/^\s*(\/\/|\*).*$/gm, '')));
  const p = (...parts: string[]) => path.join(...parts);
  // Start positions: only the shard reader turns LATEST / AT_TIMESTAMP into storage positions.
  expect(callers(/\bseqAtTimestamp\(/)).toEqual([p('stream', 'shardRead.ts'), p('stream', 'shardReader.ts')]);
  expect(callers(/\bdecodeSequence\(/).filter((f) => top(f) !== 'stream')).toEqual([]);
  // Records are decoded and decrypted in one function (shardRead.ts decodeMessage).
  expect(callers(/\b(decodeBatch|openBatch)\(/)).toEqual([p('stream', 'batchCipher.ts'), p('stream', 'recordBatch.ts'), p('stream', 'shardRead.ts')]);
  expect(callers(/\bdecodeMessage\(/)).toEqual([p('stream', 'shardRead.ts'), p('stream', 'shardReader.ts')]);
  // The retention period is multiplied out in one place.
  expect(callers(/retentionHours\s*\*/)).toEqual([p('stream', 'retention.ts')]);
});
