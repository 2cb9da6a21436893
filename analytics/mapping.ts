// Stream records → rows of an in-application stream, as the input schema
// says: JSON (a row path and a JSONPath per column) or CSV (row and column
// delimiters, columns in order). A record that does not map is reported with
// the reason so it can go to error_stream, never dropped silently.
import type { RecordColumn, RecordFormat } from '../contract/analytics.js';
import { coerce, parseSqlType, TypeError_, type SqlType, type Value } from './engine/types.js';

export interface MappedRecord { rows: Value[][]; errors: string[] }

/** Shared by every record that maps without errors (callers only read it). */
const NO_ERRORS: string[] = Object.freeze([]) as unknown as string[];

type Step = { key: string } | { index: number } | { slice: number } | { all: true };

/** `$.a.b[0]`, `$["a"]`, `$.a[*]`, `$.a[0:]` → steps. */
export function parsePath(path: string): Step[] {
  const p = path.trim();
  if (!p.startsWith('$')) throw new Error(`JSONPath ${path} must start with $`);
  const steps: Step[] = [];
  const re = /\.([A-Za-z_$][\w$-]*)|\[\s*"([^"]*)"\s*\]|\[\s*'([^']*)'\s*\]|\[\s*(\d+)\s*\]|\[\s*(\d+)\s*:\s*\]|\[\s*\*\s*\]|\.\*/gy;
  re.lastIndex = 1;
  while (re.lastIndex < p.length) {
    const at = re.lastIndex;
    const m = re.exec(p);
    if (!m) throw new Error(`JSONPath ${path} is not supported at offset ${at}`);
    if (m[1] !== undefined) steps.push({ key: m[1] });
    else if (m[2] !== undefined) steps.push({ key: m[2] });
    else if (m[3] !== undefined) steps.push({ key: m[3] });
    else if (m[4] !== undefined) steps.push({ index: Number(m[4]) });
    else if (m[5] !== undefined) steps.push({ slice: Number(m[5]) });
    else steps.push({ all: true });
  }
  return steps;
}

function select(v: unknown, steps: Step[]): unknown[] {
  let cur: unknown[] = [v];
  for (const s of steps) {
    const next: unknown[] = [];
    for (const c of cur) {
      if ('key' in s) { if (c && typeof c === 'object' && !Array.isArray(c) && s.key in c) next.push((c as Record<string, unknown>)[s.key]); }
      else if ('index' in s) { if (Array.isArray(c) && s.index < c.length) next.push(c[s.index]); }
      // Loops, not spreads: a record's array can hold more elements than a call takes arguments.
      else if (Array.isArray(c)) for (let i = ('slice' in s ? s.slice : 0); i < c.length; i++) next.push(c[i]);
      else if ('all' in s && c && typeof c === 'object') for (const x of Object.values(c)) next.push(x);
    }
    cur = next;
  }
  return cur;
}

/** The value at `keys` under `obj` through nested objects (as select() over key steps); undefined when a step is missing or not an object. */
function walk(obj: Record<string, unknown> | undefined, keys: string[]): unknown {
  let cur: unknown = obj;
  for (const k of keys) {
    if (!cur || typeof cur !== 'object' || Array.isArray(cur) || !Object.hasOwn(cur, k)) return undefined;
    cur = (cur as Record<string, unknown>)[k];
  }
  return cur;
}

export class RecordMapper {
  private readonly types: SqlType[];
  private readonly paths: Step[][];
  private readonly rowPath: Step[];
  /** The key of a `$.key` mapping (most are): read as a property, without select()'s arrays. */
  private readonly keys: (string | undefined)[];
  /** The keys of a `$.a.b…` mapping (nested objects, no indexes or wildcards): read property by property. */
  private readonly chains: (string[] | undefined)[];
  /** TIMESTAMP/DATE columns: the last text parsed and its value (a stream's timestamps repeat within a millisecond). */
  private readonly lastText: (string | undefined)[];
  private readonly lastValue: Value[];

  constructor(readonly format: RecordFormat, readonly columns: RecordColumn[]) {
    this.types = columns.map((c) => parseSqlType(c.sqlType));
    this.paths = columns.map((c) => parsePath(c.mapping ?? `$.${c.name}`));
    this.rowPath = format.type === 'JSON' ? parsePath(format.rowPath) : [];
    this.keys = this.paths.map((p) => (p.length === 1 && 'key' in p[0]! ? p[0].key : undefined));
    this.chains = this.paths.map((p) => (p.length > 1 && p.every((s) => 'key' in s) ? p.map((s) => (s as { key: string }).key) : undefined));
    this.lastText = columns.map(() => undefined);
    this.lastValue = columns.map(() => null);
  }

  /** coerce(), remembering the last timestamp text per column. */
  private value(v: unknown, i: number): Value {
    const t = this.types[i]!;
    if ((t.base === 'TIMESTAMP' || t.base === 'DATE') && typeof v === 'string') {
      if (v === this.lastText[i]) return this.lastValue[i]!;
      const out = coerce(v, t, this.columns[i]!.name);
      this.lastText[i] = v;
      this.lastValue[i] = out;
      return out;
    }
    return coerce(v, t, this.columns[i]!.name);
  }

  /** One object → one row (row path `$`). */
  private row(r: unknown): Value[] {
    const n = this.columns.length;
    const out: Value[] = new Array(n);
    const obj = r && typeof r === 'object' && !Array.isArray(r) ? (r as Record<string, unknown>) : undefined;
    for (let i = 0; i < n; i++) {
      const k = this.keys[i];
      const chain = this.chains[i];
      const v = k !== undefined ? (obj && Object.hasOwn(obj, k) ? obj[k] : undefined) : chain !== undefined ? walk(obj, chain) : select(r, this.paths[i]!)[0];
      out[i] = this.value(v, i);
    }
    return out;
  }

  /**
   * map() into the caller's arrays, for the workers' hot loops: each row of
   * the record becomes `make(row)` pushed onto `out`, each reason onto
   * `errors`; no result object or row array per record.
   */
  mapTo<T>(data: Buffer, out: T[], errors: string[], make: (v: Value[]) => T): void {
    if (this.format.type === 'JSON' && this.rowPath.length === 0) {
      let doc: unknown;
      try {
        doc = JSON.parse(data.toString('utf8'));
      } catch (e) {
        errors.push(`record is not JSON: ${(e as Error).message}`);
        return;
      }
      let row: Value[];
      try {
        row = this.row(doc);
      } catch (e) {
        if (!(e instanceof TypeError_)) throw e;
        errors.push(e.message);
        return;
      }
      out.push(make(row));
      return;
    }
    const m = this.map(data);
    for (const v of m.rows) out.push(make(v));
    for (const e of m.errors) errors.push(e);
  }

  map(data: Buffer): MappedRecord {
    const text = data.toString('utf8');
    const rows: Value[][] = [];
    const errors: string[] = [];
    if (this.format.type === 'JSON') {
      let doc: unknown;
      try {
        doc = JSON.parse(text);
      } catch (e) {
        return { rows, errors: [`record is not JSON: ${(e as Error).message}`] };
      }
      if (this.rowPath.length === 0) {
        // One row per record (the common row path): no array of documents, no errors array unless it fails.
        try {
          return { rows: [this.row(doc)], errors: NO_ERRORS };
        } catch (e) {
          if (!(e instanceof TypeError_)) throw e;
          return { rows, errors: [e.message] };
        }
      }
      for (const r of select(doc, this.rowPath)) {
        try {
          rows.push(this.row(r));
        } catch (e) {
          if (!(e instanceof TypeError_)) throw e;
          errors.push(e.message);
        }
      }
      return { rows, errors };
    }
    const rowDelim = unescape(this.format.rowDelimiter);
    const colDelim = unescape(this.format.columnDelimiter);
    for (const line of text.split(rowDelim)) {
      if (line === '') continue;
      const fields = line.split(colDelim);
      try {
        rows.push(this.columns.map((c, i) => {
          const f = fields[i];
          return coerce(f === undefined || f === '' ? null : f, this.types[i]!, c.name);
        }));
      } catch (e) {
        if (!(e instanceof TypeError_)) throw e;
        errors.push(e.message);
      }
    }
    return { rows, errors };
  }
}

/** Delimiters arrive as typed in JSON ("\n") or escaped by a console ("\\n"). */
export const unescape = (d: string) => d.replace(/\\n/g, '\n').replace(/\\r/g, '\r').replace(/\\t/g, '\t');

/** DiscoverInputSchema: columns inferred from sample records (JSON objects flattened, else CSV). */
export function inferSchema(samples: Buffer[]): { format: RecordFormat; columns: RecordColumn[]; parsed: string[][] } | undefined {
  const texts = samples.map((b) => b.toString('utf8'));
  const docs = texts.map((t) => { try { return JSON.parse(t) as unknown; } catch { return undefined; } });
  if (docs.length && docs.every((d) => d && typeof d === 'object' && !Array.isArray(d))) {
    const cols = new Map<string, { path: string; kinds: Set<string>; maxLen: number; maxAbs: number }>();
    const walk = (v: unknown, path: string, name: string) => {
      if (v && typeof v === 'object' && !Array.isArray(v)) {
        for (const [k, x] of Object.entries(v)) walk(x, `${path}.${k}`, name ? `${name}_${k}` : k);
        return;
      }
      const c = cols.get(name) ?? { path, kinds: new Set<string>(), maxLen: 1, maxAbs: 0 };
      const kind = v === null ? 'null' : typeof v === 'number' ? (Number.isInteger(v) ? 'int' : 'double')
        : typeof v === 'boolean' ? 'bool' : typeof v === 'string' && /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}/.test(v) ? 'timestamp' : 'string';
      c.kinds.add(kind);
      const s = typeof v === 'string' ? v : JSON.stringify(v);
      c.maxLen = Math.max(c.maxLen, s.length);
      if (typeof v === 'number') c.maxAbs = Math.max(c.maxAbs, Math.abs(v));
      cols.set(name, c);
    };
    for (const d of docs) walk(d, '$', '');
    const columns: RecordColumn[] = [...cols].map(([name, c]) => {
      const kinds = new Set([...c.kinds].filter((k) => k !== 'null'));
      let sqlType: string;
      if (kinds.size === 1 && kinds.has('int')) sqlType = c.maxAbs > 2147483647 ? 'BIGINT' : 'INTEGER';
      else if (kinds.size > 0 && [...kinds].every((k) => k === 'int' || k === 'double')) sqlType = 'DOUBLE';
      else if (kinds.size === 1 && kinds.has('bool')) sqlType = 'BOOLEAN';
      else if (kinds.size === 1 && kinds.has('timestamp')) sqlType = 'TIMESTAMP';
      else sqlType = `VARCHAR(${2 ** Math.ceil(Math.log2(Math.max(4, c.maxLen)))})`;
      return { name: name.toUpperCase().replace(/[^A-Z0-9_]/g, '_'), sqlType, mapping: c.path };
    });
    const parsed = docs.map((d) => columns.map((c) => {
      const v = select(d, parsePath(c.mapping!))[0];
      return v === undefined || v === null ? '' : typeof v === 'string' ? v : JSON.stringify(v);
    }));
    return { format: { type: 'JSON', rowPath: '$' }, columns, parsed };
  }
  const lines = texts.flatMap((t) => t.split('\n')).filter((l) => l !== '');
  if (!lines.length) return undefined;
  const width = Math.max(...lines.map((l) => l.split(',').length));
  const parsed = lines.map((l) => l.split(','));
  const columns: RecordColumn[] = Array.from({ length: width }, (_, i) => {
    const vals = parsed.map((p) => p[i] ?? '').filter((v) => v !== '');
    const sqlType = vals.length && vals.every((v) => /^-?\d+$/.test(v)) ? 'INTEGER'
      : vals.length && vals.every((v) => v.trim() !== '' && Number.isFinite(Number(v))) ? 'DOUBLE'
        : `VARCHAR(${2 ** Math.ceil(Math.log2(Math.max(4, ...vals.map((v) => v.length))))})`;
    return { name: `COL_${i + 1}`, sqlType };
  });
  return { format: { type: 'CSV', rowDelimiter: '\n', columnDelimiter: ',' }, columns, parsed };
}
