// Two-phase aggregation plan: which pumps of an application can be split into
// a partial aggregate per shard (phase 1, on whichever replica holds the
// shard) and a combination of the partials per window and key (phase 2, on
// one combiner). A pump qualifies when it reads an input stream, groups by a
// ROWTIME window whose bounds do not depend on the data (STEP/FLOOR tumbling,
// TUMBLE/HOP/CUMULATE over ROWTIME), and every select item is either free of
// aggregates (a group key) or one bare COUNT, SUM, MIN, MAX or AVG (AVG as SUM
// and COUNT). Anything else (HAVING, DISTINCT aggregates, expressions over
// aggregates, sessions, stagger and sliding windows, event-time windows whose
// watermark moves with the rows) runs on one active replica instead.
import { parseStatements, closing, skip, type PumpStmt, type StreamStmt } from './statements.js';
import { planPump } from './pump.js';
import { isWord, nameOf, type Token } from './tokens.js';
import { inAppStreamName, type ApplicationDefinition } from '../../contract/analytics.js';

export type ItemKind = 'key' | 'count' | 'sum' | 'min' | 'max' | 'avg';

export interface PartialPump {
  /** The pump as the application names it (its partial keeps the name). */
  name: string;
  /** The in-application stream the partial rows go into (partial engine) and come from (combiner). */
  partialStream: string;
  /** The pump's own target and the target columns its items fill, in order. */
  target: string;
  targetColumns: string[];
  items: ItemKind[];
}

export type Decomposition =
  | { decomposable: true; pumps: PartialPump[]; partialCode: string }
  | { decomposable: false; reason: string };

const AGGREGATES = new Set([
  'COUNT', 'SUM', 'MIN', 'MAX', 'AVG', 'APPROX_COUNT_DISTINCT', 'COUNT_DISTINCT', 'STDDEV', 'STDDEV_POP', 'STDDEV_SAMP',
  'VAR_POP', 'VAR_SAMP', 'VARIANCE', 'MEDIAN', 'MODE', 'QUANTILE', 'QUANTILE_CONT', 'QUANTILE_DISC', 'LISTAGG', 'STRING_AGG',
  'ARRAY_AGG', 'LIST', 'FIRST', 'LAST', 'ANY_VALUE', 'ARBITRARY', 'ARG_MAX', 'ARG_MIN', 'MAX_BY', 'MIN_BY', 'BOOL_AND', 'BOOL_OR',
  'BIT_AND', 'BIT_OR', 'BIT_XOR', 'PRODUCT', 'FSUM', 'KAHAN_SUM', 'HISTOGRAM', 'ENTROPY', 'KURTOSIS', 'SKEWNESS', 'CORR',
  'COVAR_POP', 'COVAR_SAMP', 'REGR_SLOPE', 'APPROX_QUANTILE', 'RESERVOIR_QUANTILE', 'GEOMEAN', 'AVG_DISTINCT',
]);
const SIMPLE: Record<string, ItemKind> = { COUNT: 'count', SUM: 'sum', MIN: 'min', MAX: 'max', AVG: 'avg' };

const isPunct = (t: Token | undefined, p: string) => t !== undefined && t.kind === 'punct' && t.text === p;
const text = (ts: Token[]) => ts.map((t) => t.text).join('');

/** `inputStreams`: the in-application input stream names (every parallel one). */
export function decompose(code: string, inputStreams: string[], outputStreams: string[]): Decomposition {
  const stmts = parseStatements(code);
  const streams = new Map<string, StreamStmt>();
  for (const s of stmts) if (s.kind === 'stream') streams.set(s.name, s);
  const inputs = new Set(inputStreams);
  for (const o of outputStreams) if (inputs.has(o)) return { decomposable: false, reason: `output ${o} is an input stream` };
  const pumps: PartialPump[] = [];
  const parts: string[] = [];
  let index = 0;
  for (const s of stmts) {
    if (s.kind !== 'pump') continue;
    const plan = planPump(s, index++);
    if (!inputs.has(plan.source)) continue;
    const why = (r: string): Decomposition => ({ decomposable: false, reason: `pump ${s.name}: ${r}` });
    const w = plan.window;
    if (w.type === 'none') return why('it does not aggregate over a window');
    if (w.type === 'sliding' || w.type === 'stagger') return why(`${w.type} windows are not decomposable`);
    if (w.type === 'tvf' && (w.fn === 'SESSION' || w.timeColumn.toUpperCase() !== 'ROWTIME')) return why(w.fn === 'SESSION' ? 'SESSION windows are not decomposable' : 'event-time windows close with the rows\' own watermark');
    const split = items(s);
    if ('reason' in split) return why(split.reason);
    const target = streams.get(s.target);
    if (!target) return why(`no stream ${s.target}`);
    const targetColumns = s.targetColumns ?? target.columns.map((c) => c.name);
    if (targetColumns.length !== split.items.length) return why('the select list does not match the target columns');
    const typeOf = (k: number) => target.columns.find((c) => c.name === targetColumns[k])?.sqlType ?? 'VARCHAR';
    const partialStream = `__PARTIAL_${pumps.length}`;
    const cols: string[] = [];
    const sel: string[] = [];
    split.items.forEach((it, k) => {
      if (it.kind === 'avg') {
        cols.push(`"S${k}" DOUBLE`, `"N${k}" BIGINT`);
        sel.push(`SUM(${it.inner}), COUNT(${it.inner})`);
      } else {
        cols.push(`"${it.kind === 'key' ? 'K' : it.kind === 'count' ? 'C' : it.kind === 'sum' ? 'S' : 'M'}${k}" ${it.kind === 'count' ? 'BIGINT' : it.kind === 'sum' ? 'DOUBLE' : typeOf(k)}`);
        sel.push(it.expr);
      }
    });
    parts.push(`CREATE OR REPLACE STREAM "${partialStream}" (${cols.join(', ')});`);
    parts.push(`CREATE OR REPLACE PUMP "${s.name.replace(/"/g, '""')}" AS INSERT INTO "${partialStream}" SELECT STREAM ${sel.join(', ')} ${split.rest};`);
    pumps.push({ name: s.name, partialStream, target: s.target, targetColumns, items: split.items.map((i) => i.kind) });
  }
  if (pumps.length === 0) return { decomposable: false, reason: 'no pump aggregates an input stream' };
  return { decomposable: true, pumps, partialCode: parts.join('\n') };
}

interface Item { kind: ItemKind; expr: string; inner: string }

/** The select items of a pump (each a key or one bare simple aggregate) and the text from FROM on. */
function items(s: PumpStmt): { items: Item[]; rest: string } | { reason: string } {
  const tokens = s.select;
  const depth: number[] = [];
  let d = 0;
  for (const t of tokens) {
    if (isPunct(t, ')')) d--;
    depth.push(d);
    if (isPunct(t, '(')) d++;
  }
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (depth[i] === 0 && isWord(t, 'HAVING', 'QUALIFY', 'ORDER', 'LIMIT', 'UNION', 'WINDOW', 'WINDOWED')) return { reason: `${t.upper} is not decomposable` };
    if (isWord(t, 'OVER')) return { reason: 'window functions are not decomposable' };
    if (isWord(t, 'SELECT') && i > skip(tokens, 0)) return { reason: 'sub-queries are not decomposable' };
  }
  let i = skip(tokens, 0);
  if (!isWord(tokens[i], 'SELECT')) return { reason: 'expected SELECT' };
  i = skip(tokens, i + 1);
  if (isWord(tokens[i], 'STREAM')) i = skip(tokens, i + 1);
  if (isWord(tokens[i], 'DISTINCT')) return { reason: 'SELECT DISTINCT is not decomposable' };
  if (isWord(tokens[i], 'ALL')) i = skip(tokens, i + 1);
  const fromAt = tokens.findIndex((t, k) => depth[k] === 0 && isWord(t, 'FROM'));
  if (fromAt < 0) return { reason: 'no FROM' };
  const out: Item[] = [];
  let start = i;
  for (let k = i; k <= fromAt; k++) {
    if (k < fromAt && !(depth[k] === 0 && isPunct(tokens[k], ','))) continue;
    const it = item(tokens.slice(start, k));
    if ('reason' in it) return it;
    out.push(it);
    start = k + 1;
  }
  return { items: out, rest: text(tokens.slice(fromAt)) };
}

function item(ts: Token[]): Item | { reason: string } {
  const sig = ts.map((t, k) => ({ t, k })).filter((x) => x.t.kind !== 'space' && x.t.kind !== 'comment');
  if (sig.length === 0) return { reason: 'empty select item' };
  if (sig.some((x) => isPunct(x.t, '*') && sig.length === 1)) return { reason: '* is not decomposable' };
  const first = sig[0]!;
  const aggAt = sig.findIndex((x, n) => x.t.kind === 'ident' && AGGREGATES.has(x.t.upper) && isPunct(sig[n + 1]?.t, '('));
  if (aggAt < 0) return { kind: 'key', expr: text(ts), inner: '' };
  const kind = first.t.kind === 'ident' ? SIMPLE[first.t.upper] : undefined;
  if (aggAt !== 0 || !kind) return { reason: `'${text(ts).trim()}' is not one of COUNT, SUM, MIN, MAX, AVG` };
  const open = sig[1]!.k;
  const close = closing(ts, open);
  const after = ts.slice(close).filter((t) => t.kind !== 'space' && t.kind !== 'comment');
  const aliasOnly = after.length === 0 || (after.length === 1 && (after[0]!.kind === 'ident' || after[0]!.kind === 'quoted'))
    || (after.length === 2 && isWord(after[0], 'AS') && (after[1]!.kind === 'ident' || after[1]!.kind === 'quoted'));
  if (!aliasOnly) return { reason: `'${text(ts).trim()}' is an expression over an aggregate` };
  const innerTokens = ts.slice(open + 1, close - 1);
  const innerSig = innerTokens.filter((t) => t.kind !== 'space' && t.kind !== 'comment');
  if (isWord(innerSig[0], 'DISTINCT')) return { reason: `${first.t.upper}(DISTINCT …) is not decomposable` };
  const inner = text(innerTokens.filter((t, n) => !(n === innerTokens.indexOf(innerSig[0]!) && isWord(t, 'ALL'))));
  const expr = text(ts.slice(0, close));
  void nameOf;
  return { kind, expr, inner };
}

/** The two-phase plan of an application, or why it runs on one active replica. */
export function twoPhasePlan(def: ApplicationDefinition): Decomposition {
  try {
    const inputs = def.inputs.flatMap((i) => Array.from({ length: i.parallelism }, (_, k) => inAppStreamName(i, k + 1)));
    return decompose(def.code, inputs, def.outputs.map((o) => o.name));
  } catch (e) {
    return { decomposable: false, reason: (e as Error).message };
  }
}

/** How replicas share the application, for status messages and logs. */
export function scaleOutMode(def: ApplicationDefinition): string {
  const d = twoPhasePlan(def);
  return d.decomposable ? 'replicas split the shards (two-phase aggregation)' : `one active replica (${d.reason})`;
}
