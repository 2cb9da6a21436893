// Two-phase aggregation plan: which pumps of an application can be split into
// a partial aggregate per shard (phase 1, on whichever replica holds the
// shard) and a combination of the partials per window and key (phase 2, on
// one combiner). A pump qualifies when it reads an input stream and groups by a
// window whose bounds do not depend on the data (STEP/FLOOR tumbling, TUMBLE/
// HOP/CUMULATE over ROWTIME or over an event-time column).
//
// Two forms:
// - simple: every select item is a group key or one bare COUNT, SUM, MIN, MAX
//   or AVG (AVG as SUM and COUNT), every GROUP BY key is selected; the combiner
//   merges partial rows in JavaScript (combiner.ts's combine()).
// - general (HAVING, expressions over aggregates, COUNT(DISTINCT col),
//   APPROX_COUNT_DISTINCT(col), group keys left out of the select list): the
//   partial rows carry the columns the select list, GROUP BY and HAVING read
//   outside aggregates (grouped by them too), one partial column per aggregate
//   (COUNT, SUM, MIN, MAX; AVG as SUM and COUNT; STDDEV_POP/SAMP, VAR_POP/SAMP,
//   STDDEV and VARIANCE as count, mean and sum of squared deviations), and for DISTINCT the column
//   itself, grouped (the distinct values per window and key, so partial state
//   grows with the number of distinct values). The combiner runs the pump
//   again over the partial rows with each aggregate replaced by its
//   combination (COUNT → SUM of counts, AVG → sums / counts, variances → the
//   moments merged pairwise, COUNT(DISTINCT x) → COUNT(DISTINCT x) over the
//   carried values): select list, HAVING and
//   types are DuckDB's, as on one replica.
// Anything else (DISTINCT over expressions or two columns, aggregates other
// than these, joins in the general form, sessions, stagger and sliding windows) runs on one active
// replica instead.
import { parseStatements, closing, skip, type PumpStmt, type StreamStmt } from './statements.js';
import { planPump, type PumpPlan } from './pump.js';
import { forestCall } from './randomCutForest.js';
import { depths, isPunct, isWord, nameOf, tokenize, type Token } from './tokens.js';
import { inAppStreamName, type ApplicationDefinition } from '../../contract/analytics.js';
import { AGGREGATES } from './aggregates.js';
import { passThroughPlan } from './passThrough.js';

export type ItemKind = 'key' | 'count' | 'sum' | 'min' | 'max' | 'avg';

/** How the combiner finds a partial row's window: its end (the partial row's time) and the window's shape. */
export interface WindowShape { fn: 'TUMBLE' | 'HOP' | 'CUMULATE'; sizeMs: number; slideMs: number }

/** The general form: the combiner re-runs the pump (finalCode) over the partial rows, fed as input `combineStream`. */
export interface GeneralCombine {
  combineStream: string;
  combineColumns: { name: string; sqlType: string }[];
  /** The event-time column of the final pump's TUMBLE/HOP/CUMULATE, appended to each partial row (the window's start). */
  timeColumn?: string;
}

export interface PartialPump {
  /** The pump as the application names it (its partial keeps the name). */
  name: string;
  /** The in-application stream the partial rows go into (partial engine) and come from (combiner). */
  partialStream: string;
  /** The pump's own target and the target columns its items fill, in order. */
  target: string;
  targetColumns: string[];
  /** Simple form: what each select item is. General form: empty. */
  items: ItemKind[];
  window: WindowShape;
  /** The window closes on the rows' event-time watermark (the shards' minimum), not on ROWTIME. */
  eventTime: boolean;
  general?: GeneralCombine;
}

export type Decomposition =
  | { decomposable: true; pumps: PartialPump[]; partialCode: string; finalCode: string }
  | { decomposable: false; reason: string };

/** Pump → partial column → its SQL type as DuckDB binds the partial SELECT (worker/twoPhase.ts). */
export type PartialTypes = Record<string, Record<string, string>>;

/** An input stream of the application: its name and (for the general form) columns. */
export interface DecomposeInput { name: string; columns?: { name: string; sqlType: string }[] }

/**
 * Aggregates that follow the window's row order (ROWTIME, then arrival on the one engine that saw the
 * rows): partial rows from several shards have no such common order at equal ROWTIMEs, so these stay
 * on one active replica, which gives the single-engine answer.
 */
const ORDERED: Record<string, string> = {
  FIRST_VALUE: 'FIRST_VALUE follows the rows\' arrival order within a ROWTIME, which partial rows from several shards do not share',
  LAST_VALUE: 'LAST_VALUE follows the rows\' arrival order within a ROWTIME, which partial rows from several shards do not share',
};

const SIMPLE: Record<string, ItemKind> = { COUNT: 'count', SUM: 'sum', MIN: 'min', MAX: 'max', AVG: 'avg' };

const text = (ts: Token[]) => ts.map((t) => t.text).join('');

/** `inputs`: the in-application input streams (every parallel one), by name or with their columns. */
export function decompose(code: string, inputs: (string | DecomposeInput)[], outputStreams: string[], types?: PartialTypes): Decomposition {
  const stmts = parseStatements(code);
  const streams = new Map<string, StreamStmt>();
  for (const s of stmts) if (s.kind === 'stream') streams.set(s.name, s);
  const byName = new Map(inputs.map((i) => (typeof i === 'string' ? [i, { name: i }] : [i.name, i])));
  for (const o of outputStreams) if (byName.has(o)) return { decomposable: false, reason: `output ${o} is an input stream` };
  const pumps: PartialPump[] = [];
  const parts: string[] = [];
  const finals: string[] = [];
  let index = 0;
  for (const s of stmts) {
    if (s.kind === 'function') {
      // The shards' engines call the application's SQL functions too (a macro each, engine.ts).
      const last = s.body[s.body.length - 1]!;
      parts.push(`${code.slice(s.pos, last.pos + last.text.length)};`);
      continue;
    }
    if (s.kind !== 'pump') continue;
    // A forest learns from every row of the stream in order: one model per application, never per shard.
    const forest = forestCall(s);
    if (forest) return { decomposable: false, reason: `pump ${s.name}: ${forest.fn.upper} keeps one model of the whole stream` };
    const plan = planPump(s, index++);
    const input = byName.get(plan.source);
    if (!input) continue;
    const why = (r: string): Decomposition => ({ decomposable: false, reason: `pump ${s.name}: ${r}` });
    const w = plan.window;
    if (w.type === 'none') return why('it does not aggregate over a window');
    if (w.type === 'sliding' || w.type === 'stagger') return why(`${w.type} windows are not decomposable`);
    if (w.type === 'tvf' && w.fn === 'SESSION') return why('SESSION windows are not decomposable');
    const window: WindowShape = w.type === 'tumbling' ? { fn: 'TUMBLE', sizeMs: w.sizeMs, slideMs: w.sizeMs } : { fn: w.fn as WindowShape['fn'], sizeMs: w.sizeMs, slideMs: w.slideMs };
    const eventTime = w.type === 'tvf' && w.timeColumn.toUpperCase() !== 'ROWTIME';
    const target = streams.get(s.target);
    if (!target) return why(`no stream ${s.target}`);
    const targetColumns = s.targetColumns ?? target.columns.map((c) => c.name);
    const partialStream = `__PARTIAL_${pumps.length}`;
    const simple = items(s);
    if (!('reason' in simple) && simple.items.length === targetColumns.length && groupKeysSelected(s, simple.items)) {
      const typeOf = (k: number) => target.columns.find((c) => c.name === targetColumns[k])?.sqlType ?? 'VARCHAR';
      const cols: string[] = [];
      const sel: string[] = [];
      simple.items.forEach((it, k) => {
        if (it.kind === 'avg') {
          cols.push(`"S${k}" DOUBLE`, `"N${k}" BIGINT`);
          sel.push(`SUM(${it.inner}), COUNT(${it.inner})`);
        } else {
          cols.push(`"${it.kind === 'key' ? 'K' : it.kind === 'count' ? 'C' : it.kind === 'sum' ? 'S' : 'M'}${k}" ${it.kind === 'count' ? 'BIGINT' : it.kind === 'sum' ? 'DOUBLE' : typeOf(k)}`);
          sel.push(it.expr);
        }
      });
      parts.push(`CREATE OR REPLACE STREAM "${partialStream}" (${cols.join(', ')});`);
      parts.push(`CREATE OR REPLACE PUMP ${quote(s.name)} AS INSERT INTO "${partialStream}" SELECT STREAM ${sel.join(', ')} ${simple.rest};`);
      pumps.push({ name: s.name, partialStream, target: s.target, targetColumns, items: simple.items.map((i) => i.kind), window, eventTime });
      continue;
    }
    if (!input.columns) return why('reason' in simple ? simple.reason : 'its group keys are not all selected');
    const g = general(s, plan, input.columns, pumps.length, types?.[s.name]);
    if ('reason' in g) return why(g.reason);
    parts.push(`CREATE OR REPLACE STREAM "${partialStream}" (${g.partialColumns.map((c) => `${quote(c.name)} ${c.sqlType}`).join(', ')});`);
    parts.push(`CREATE OR REPLACE PUMP ${quote(s.name)} AS INSERT INTO "${partialStream}" ${g.partialSelect};`);
    finals.push(`CREATE OR REPLACE PUMP ${quote(s.name)} AS INSERT INTO ${quote(s.target)}${s.targetColumns ? ` (${s.targetColumns.map(quote).join(', ')})` : ''} ${g.finalSelect};`);
    pumps.push({ name: s.name, partialStream, target: s.target, targetColumns, items: [], window, eventTime, general: g.combine });
  }
  if (pumps.length === 0) return { decomposable: false, reason: 'no pump aggregates an input stream' };
  return { decomposable: true, pumps, partialCode: parts.join('\n'), finalCode: finals.join('\n') };
}

/** Every top-level GROUP BY expression is also a select item (else the JavaScript combination would merge its groups). */
function groupKeysSelected(s: PumpStmt, its: Item[]): boolean {
  const c = clauses(s.select);
  if (c.group < 0) return false;
  const norm = (ts: Token[]) => ts.filter((t) => t.kind !== 'space' && t.kind !== 'comment').map((t) => (t.kind === 'ident' ? t.upper : t.text)).join(' ');
  const keys = new Set(its.filter((i) => i.kind === 'key').map((i) => norm(stripAlias(tokenize(i.expr)))));
  return splitTop(s.select, skip(s.select, c.group + 1) + 1, c.groupEnd).every((e) => keys.has(norm(e)));
}

/** An item without its trailing `[AS] alias`. */
function stripAlias(ts: Token[]): Token[] {
  const sig = ts.map((t, k) => ({ t, k })).filter((x) => x.t.kind !== 'space' && x.t.kind !== 'comment');
  const n = sig.length;
  if (n >= 3 && isWord(sig[n - 2]!.t, 'AS')) return ts.slice(0, sig[n - 2]!.k);
  if (n >= 2 && (sig[n - 1]!.t.kind === 'ident' || sig[n - 1]!.t.kind === 'quoted') && !isPunct(sig[n - 2]!.t, '.') && (sig[n - 2]!.t.kind === 'ident' || sig[n - 2]!.t.kind === 'quoted' || isPunct(sig[n - 2]!.t, ')'))) return ts.slice(0, sig[n - 1]!.k);
  return ts;
}

const quote = (n: string) => `"${n.replace(/"/g, '""')}"`;

interface Clauses { depth: number[]; select: number; from: number; where: number; group: number; groupEnd: number; having: number; end: number }

/** Top-level clause positions of a pump's SELECT tokens. */
function clauses(tokens: Token[]): Clauses {
  const depth = depths(tokens);
  const top = (w: string) => tokens.findIndex((t, i) => depth[i] === 0 && isWord(t, w));
  const having = top('HAVING');
  const group = top('GROUP');
  return { depth, select: top('SELECT'), from: top('FROM'), where: top('WHERE'), group, groupEnd: having >= 0 ? having : tokens.length, having, end: tokens.length };
}

/** Tokens [from, to) split at top-level commas (relative depth 0). */
function splitTop(tokens: Token[], from: number, to: number): Token[][] {
  const out: Token[][] = [];
  let d = 0;
  let cur: Token[] = [];
  for (let i = from; i < to; i++) {
    const t = tokens[i]!;
    if (isPunct(t, '(')) d++;
    else if (isPunct(t, ')')) d--;
    if (d === 0 && isPunct(t, ',')) { out.push(cur); cur = []; continue; }
    cur.push(t);
  }
  out.push(cur);
  return out.filter((e) => e.some((t) => t.kind !== 'space' && t.kind !== 'comment'));
}

/**
 * The partials' count, mean and sum of squared deviations merged into one list [n, m, q] (NULL when no
 * partial counted a value): list_reduce over the partial rows of the window and key, each step Chan's
 * pairwise update, so the result is as stable as one pass of Welford's algorithm (DuckDB's own). A list,
 * not a struct: DuckDB 1.5 refuses a struct field read in a lambda inside HAVING ("column n must appear in
 * the GROUP BY clause").
 */
const mergedMoments = (a: string) =>
  `list_reduce(list([CAST("${a}" AS DOUBLE), "${a}M", "${a}Q"]) FILTER (WHERE "${a}" > 0), ` +
  `(__x, __y) -> [__x[1] + __y[1], __x[2] + (__y[2] - __x[2]) * __y[1] / (__x[1] + __y[1]), ` +
  `__x[3] + __y[3] + (__y[2] - __x[2]) * (__y[2] - __x[2]) * __x[1] * __y[1] / (__x[1] + __y[1])])`;

/** Variance and standard deviation (KDA's four and DuckDB's STDDEV/VARIANCE, sample ones) from the merged moments. */
const VARIANCE: Record<string, (r: string) => string> = {
  VAR_POP: (r) => `((${r})[3] / (${r})[1])`,
  VAR_SAMP: (r) => `(CASE WHEN (${r})[1] > 1 THEN (${r})[3] / ((${r})[1] - 1) END)`,
  STDDEV_POP: (r) => `sqrt((${r})[3] / (${r})[1])`,
  STDDEV_SAMP: (r) => `(CASE WHEN (${r})[1] > 1 THEN sqrt((${r})[3] / ((${r})[1] - 1)) END)`,
};
VARIANCE.VARIANCE = VARIANCE.VAR_SAMP!;
VARIANCE.STDDEV = VARIANCE.STDDEV_SAMP!;

interface General {
  partialColumns: { name: string; sqlType: string }[];
  partialSelect: string;
  finalSelect: string;
  combine: GeneralCombine;
}

const INTEGER_TYPES = /^(TINYINT|SMALLINT|INTEGER|INT|BIGINT)\b/i;
const FROM_KEYWORDS = new Set(['JOIN', 'LEFT', 'RIGHT', 'INNER', 'FULL', 'CROSS', 'ON', 'NATURAL', 'WHERE', 'GROUP', 'WINDOW', 'WINDOWED', 'HAVING', 'ORDER', 'UNION', 'LIMIT']);

/**
 * The general form of a pump: the partial SELECT (carried columns and partial aggregates, grouped by the
 * pump's keys and the carried columns) and the final SELECT the combiner runs over the partial rows.
 */
function general(s: PumpStmt, plan: PumpPlan, sourceColumns: { name: string; sqlType: string }[], n: number, types?: Record<string, string>): General | { reason: string } {
  const tokens = s.select;
  const c = clauses(tokens);
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (c.depth[i] === 0 && isWord(t, 'QUALIFY', 'ORDER', 'LIMIT', 'UNION', 'WINDOW', 'WINDOWED')) return { reason: `${t.upper} is not decomposable` };
    if (isWord(t, 'OVER')) return { reason: 'window functions are not decomposable' };
    if (isWord(t, 'SELECT') && i !== c.select) return { reason: 'sub-queries are not decomposable' };
  }
  if (plan.joins.length) return { reason: 'a join with an expression over aggregates, HAVING or DISTINCT is not decomposable' };
  if (c.from < 0 || c.group < 0) return { reason: 'no GROUP BY' };
  let i = skip(tokens, c.select + 1);
  if (isWord(tokens[i], 'STREAM')) i = skip(tokens, i + 1);
  if (isWord(tokens[i], 'DISTINCT')) return { reason: 'SELECT DISTINCT is not decomposable' };
  if (isWord(tokens[i], 'ALL')) i = skip(tokens, i + 1);
  const listFrom = i;
  const colOf = new Map(sourceColumns.map((x) => [x.name.toUpperCase(), x]));
  const timeColumn = plan.window.type === 'tvf' && plan.window.timeColumn.toUpperCase() !== 'ROWTIME' ? plan.window.timeColumn.toUpperCase() : undefined;
  /** A bare column reference (`c` or `alias.c`) of the source: its column. */
  const bareColumn = (ts: Token[]) => {
    const sig = ts.filter((t) => t.kind !== 'space' && t.kind !== 'comment');
    const last = sig[sig.length - 1];
    const ok = (sig.length === 1 || (sig.length === 3 && isPunct(sig[1], '.'))) && last && (last.kind === 'ident' || last.kind === 'quoted');
    return ok ? colOf.get(nameOf(last).toUpperCase()) : undefined;
  };

  const partialSel: string[] = [];
  const partialCols: { name: string; sqlType: string }[] = [];
  let distinct: { key: string; col: { name: string; sqlType: string } } | undefined;
  const replace = new Map<number, { end: number; text: string }>();
  // Aggregate calls in the select list and HAVING.
  const scanTo = (from: number, to: number): string | undefined => {
    for (let k = from; k < to; k++) {
      const t = tokens[k]!;
      if (t.kind !== 'ident' || !AGGREGATES.has(t.upper)) continue;
      const open = skip(tokens, k + 1);
      if (!isPunct(tokens[open], '(')) continue;
      const close = closing(tokens, open);
      const fn = t.upper;
      let args = tokens.slice(open + 1, close - 1);
      const firstSig = args.findIndex((x) => x.kind !== 'space' && x.kind !== 'comment');
      const isDistinct = isWord(args[firstSig], 'DISTINCT');
      if (isDistinct || isWord(args[firstSig], 'ALL')) args = args.slice(firstSig + 1);
      if (args.some((x) => x.kind === 'ident' && AGGREGATES.has(x.upper))) return 'nested aggregates are not decomposable';
      if (isWord(tokens[skip(tokens, close)], 'FILTER')) return 'FILTER on an aggregate is not decomposable';
      const argText = text(args).trim();
      const a = `$A${partialCols.length}`;
      const col = bareColumn(args);
      if (isDistinct || fn === 'APPROX_COUNT_DISTINCT') {
        if (!['COUNT', 'SUM', 'AVG', 'MIN', 'MAX', 'APPROX_COUNT_DISTINCT', ...Object.keys(VARIANCE)].includes(fn)) return `${fn}(DISTINCT …) is not decomposable`;
        if (!col) return `${fn}(${isDistinct ? 'DISTINCT ' : ''}${argText}): the distinct values are carried only for a column`;
        const key = col.name.toUpperCase();
        if (distinct && distinct.key !== key) return 'DISTINCT over two columns is not decomposable';
        distinct ??= { key, col };
        replace.set(k, { end: close, text: `${fn === 'COUNT' ? 'CAST(COUNT' : fn}(${fn === 'APPROX_COUNT_DISTINCT' ? '' : 'DISTINCT '}"$D")${fn === 'COUNT' ? ' AS BIGINT)' : ''}` });
      } else if (fn === 'COUNT') {
        partialSel.push(`COUNT(${argText}) AS "${a}"`);
        partialCols.push({ name: a, sqlType: 'BIGINT' });
        replace.set(k, { end: close, text: `CAST(SUM("${a}") AS BIGINT)` });
      } else if (fn === 'SUM') {
        partialSel.push(`SUM(${argText}) AS "${a}"`);
        partialCols.push({ name: a, sqlType: types?.[a] ?? (col && INTEGER_TYPES.test(col.sqlType) ? 'BIGINT' : 'DOUBLE') });
        replace.set(k, { end: close, text: `SUM("${a}")` });
      } else if (fn === 'MIN' || fn === 'MAX') {
        partialSel.push(`${fn}(${argText}) AS "${a}"`);
        partialCols.push({ name: a, sqlType: types?.[a] ?? col?.sqlType ?? 'DOUBLE' });
        replace.set(k, { end: close, text: `${fn}("${a}")` });
      } else if (fn === 'AVG') {
        partialSel.push(`SUM(${argText}) AS "${a}"`, `COUNT(${argText}) AS "${a}N"`);
        partialCols.push({ name: a, sqlType: 'DOUBLE' }, { name: `${a}N`, sqlType: 'BIGINT' });
        replace.set(k, { end: close, text: `(CAST(SUM("${a}") AS DOUBLE) / NULLIF(SUM("${a}N"), 0))` });
      } else if (VARIANCE[fn]) {
        // Count, mean and sum of squared deviations per shard (DuckDB's own VAR_POP there), merged pairwise
        // (Chan et al.): no cancellation of large sums of squares when the mean is far from zero.
        const x = `CAST(${argText} AS DOUBLE)`;
        partialSel.push(`COUNT(${argText}) AS "${a}"`, `AVG(${x}) AS "${a}M"`, `VAR_POP(${x}) * COUNT(${argText}) AS "${a}Q"`);
        partialCols.push({ name: a, sqlType: 'BIGINT' }, { name: `${a}M`, sqlType: 'DOUBLE' }, { name: `${a}Q`, sqlType: 'DOUBLE' });
        replace.set(k, { end: close, text: VARIANCE[fn](mergedMoments(a)) });
      } else if (ORDERED[fn]) return ORDERED[fn];
      else return `'${fn}' is not one of COUNT, SUM, MIN, MAX, AVG, STDDEV_POP, STDDEV_SAMP, VAR_POP, VAR_SAMP, COUNT(DISTINCT …), APPROX_COUNT_DISTINCT`;
      k = close - 1;
    }
    return undefined;
  };
  const bad = scanTo(listFrom, c.from) ?? (c.having >= 0 ? scanTo(c.having + 1, c.end) : undefined);
  if (bad) return { reason: bad };
  if (replace.size === 0 && !distinct) return { reason: 'no aggregate' };

  // Columns read outside aggregates (select list, GROUP BY, HAVING): carried in the partial rows and grouped by.
  const carried = new Map<string, { name: string; sqlType: string }>();
  const scanColumns = (from: number, to: number) => {
    for (let k = from; k < to; k++) {
      const r = replace.get(k);
      if (r) { k = r.end - 1; continue; }
      const t = tokens[k]!;
      if (t.kind !== 'ident' && t.kind !== 'quoted') continue;
      if (t.kind === 'ident' && isPunct(tokens[skip(tokens, k + 1)], '(')) continue;
      const col = colOf.get(nameOf(t).toUpperCase());
      if (!col) continue;
      const u = col.name.toUpperCase();
      if (u === 'ROWTIME' || u === timeColumn || u === 'WINDOW_START' || u === 'WINDOW_END') continue;
      carried.set(u, col);
    }
  };
  scanColumns(listFrom, c.from);
  scanColumns(c.group + 1, c.groupEnd);
  if (c.having >= 0) scanColumns(c.having + 1, c.end);
  if (timeColumn && carried.has(timeColumn)) return { reason: `${timeColumn} is the event-time column` };

  const carriedCols = [...carried.values()];
  const columns = [...carriedCols.map((x) => ({ name: x.name, sqlType: x.sqlType })), ...partialCols, ...(distinct ? [{ name: '$D', sqlType: distinct.col.sqlType }] : [])];
  const sel = [...carriedCols.map((x) => quote(x.name)), ...partialSel, ...(distinct ? [`${quote(distinct.col.name)} AS "$D"`] : [])];
  const groupMore = [...carriedCols.map((x) => quote(x.name)), ...(distinct ? [quote(distinct.col.name)] : [])];
  // FROM … WHERE … GROUP BY … as written, plus the carried columns; HAVING is left to the combiner.
  const partialSelect = `SELECT STREAM ${sel.join(', ')} ${text(tokens.slice(c.from, c.groupEnd)).trimEnd()}${groupMore.length ? `, ${groupMore.join(', ')}` : ''}`;

  // The final SELECT: the select list and HAVING with each aggregate replaced by its combination,
  // FROM the partial rows (named as the source was, so qualified names still resolve), no WHERE.
  const render = (from: number, to: number) => {
    let out = '';
    for (let k = from; k < to; k++) {
      const r = replace.get(k);
      if (r) { out += r.text; k = r.end - 1; continue; }
      out += tokens[k]!.text;
    }
    return out;
  };
  const combineStream = `__COMBINE_${n}`;
  const fromEnd = c.where >= 0 ? c.where : c.group;
  let from = '';
  const first = skip(tokens, c.from + 1);
  const hasAlias = (at: number) => {
    const t = tokens[skip(tokens, at)];
    return isWord(t, 'AS') || t?.kind === 'quoted' || (t?.kind === 'ident' && !FROM_KEYWORDS.has(t.upper));
  };
  if (isWord(tokens[first], 'TABLE')) {
    const open = skip(tokens, first + 1);
    const close = closing(tokens, open);
    const src = tokens.findIndex((t, k) => k > open && k < close && (t.kind === 'ident' || t.kind === 'quoted') && nameOf(t) === plan.source);
    from = `${text(tokens.slice(c.from, src))}${quote(combineStream)}${text(tokens.slice(src + 1, close))}${hasAlias(close) ? '' : ` AS ${quote(plan.source)}`}${text(tokens.slice(close, fromEnd))}`;
  } else {
    from = `${text(tokens.slice(c.from, first))}${quote(combineStream)}${hasAlias(first + 1) ? '' : ` AS ${quote(plan.source)}`}${text(tokens.slice(first + 1, fromEnd))}`;
  }
  const finalSelect = `SELECT STREAM ${render(listFrom, c.from)}${from.trimEnd()} ${text(tokens.slice(c.group, c.groupEnd)).trimEnd()}${c.having >= 0 ? ` HAVING ${render(c.having + 1, c.end)}` : ''}`;
  const combineColumns = [...columns, ...(timeColumn ? [{ name: sourceColumns.find((x) => x.name.toUpperCase() === timeColumn)!.name, sqlType: 'TIMESTAMP' }] : [])];
  return { partialColumns: columns, partialSelect, finalSelect, combine: { combineStream, combineColumns, ...(timeColumn ? { timeColumn } : {}) } };
}

interface Item { kind: ItemKind; expr: string; inner: string }

/** The select items of a pump (each a key or one bare simple aggregate) and the text from FROM on. */
function items(s: PumpStmt): { items: Item[]; rest: string } | { reason: string } {
  const tokens = s.select;
  const depth = depths(tokens);
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
  return { kind, expr, inner };
}

/**
 * The two-phase plan of an application, or why it runs on one active replica. The general form's SUM, MIN
 * and MAX partial columns are typed from the argument's column (DOUBLE for an expression) until
 * worker/twoPhase.ts types them as DuckDB binds them (`types`).
 */
export function twoPhasePlan(def: ApplicationDefinition, types?: PartialTypes): Decomposition {
  try {
    const inputs = def.inputs.flatMap((i) => Array.from({ length: i.parallelism }, (_, k) => ({ name: inAppStreamName(i, k + 1), columns: i.columns })));
    return decompose(def.code, inputs, def.outputs.map((o) => o.name), types);
  } catch (e) {
    return { decomposable: false, reason: (e as Error).message };
  }
}

/** Every replica reads shards of its own (two-phase aggregation or pass-through), so more replicas share the load. */
export function replicasSplitShards(def: ApplicationDefinition): boolean {
  return twoPhasePlan(def).decomposable || passThroughPlan(def).passThrough;
}

/** How replicas share the application, for status messages and logs. */
export function scaleOutMode(def: ApplicationDefinition): string {
  const d = twoPhasePlan(def);
  if (d.decomposable) return 'replicas split the shards (two-phase aggregation)';
  if (passThroughPlan(def).passThrough) return 'replicas split the shards (pass-through: every pump is stateless)';
  return `one active replica (${d.reason})`;
}

/**
 * The code the combiner's engine runs: the application's code with the general-form pumps blanked out
 * (same length, so positions in error messages still point into the user's code) and their final pumps
 * appended; simple-form pumps are skipped by name (their targets are filled by combine()).
 */
export function combinerCode(code: string, d: Extract<Decomposition, { decomposable: true }>): string {
  const general = new Set(d.pumps.filter((p) => p.general).map((p) => p.name));
  let out = code;
  for (const s of parseStatements(code)) {
    if (s.kind !== 'pump' || !general.has(s.name)) continue;
    const last = s.select[s.select.length - 1]!;
    const end = last.pos + last.text.length;
    out = out.slice(0, s.pos) + out.slice(s.pos, end).replace(/[^\n]/g, ' ') + out.slice(end);
  }
  return d.finalCode ? `${out}\n${d.finalCode}` : out;
}
