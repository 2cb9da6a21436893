// One pump's SELECT STREAM translated to a DuckDB query over a work table the
// streaming layer fills, plus the window the streaming layer must keep:
//   GROUP BY … STEP(ROWTIME BY INTERVAL …) / FLOOR(ROWTIME TO unit) → tumbling
//   OVER (… RANGE INTERVAL … PRECEDING | ROWS n PRECEDING)         → sliding
//   WINDOWED BY STAGGER (PARTITION BY … RANGE INTERVAL …)           → stagger
//   FROM TABLE(TUMBLE|HOP|CUMULATE|SESSION(TABLE s, DESCRIPTOR(c), …)) → window table function
//   FROM TABLE(TOP_K_ITEMS_TUMBLING(CURSOR(SELECT …), 'col', k, seconds)) → tumbling, top k per window
//   FROM TABLE(COUNT_DISTINCT_ITEMS_TUMBLING(CURSOR(SELECT …), 'col', seconds)) → tumbling, distinct count per window
// DuckDB evaluates every expression; the rewrite only maps the streaming forms
// onto plain SQL. Each output piece remembers the offset it came from so an
// error DuckDB reports in the rewritten text points into the user's code.
import { SqlError, depths, isPunct, isWord, nameOf, stringValue, type Token } from './tokens.js';
import { closing, skip, type PumpStmt } from './statements.js';
import { strftimeOf } from './javaDateFormat.js';
import { LOG_PARSERS, PARAM, logParserSql, type LitArg } from './logParsers.js';
import { rewriteKdaAggregates } from './kdaAggregates.js';
import { prevSig, rewriteKdaScalars } from './kdaScalars.js';
import { compoundIntervalMs, currentRowAt, normalizeFloorForm, refuseStreamingDistinct, rowtimeAlias, stepCalendar, stepInteger, windowEndsAtCurrentRow } from './kdaClauses.js';

export interface Piece { text: string; pos: number; verbatim: boolean }

export interface SlidingSpec { partitionSql: string; rangeMs?: number; rows?: number }

export type WindowPlan =
  | { type: 'none' }
  | { type: 'tumbling'; sizeMs: number }
  | { type: 'sliding'; specs: SlidingSpec[] }
  | { type: 'stagger'; rangeMs: number; partitionSql: string }
  | { type: 'tvf'; fn: 'TUMBLE' | 'HOP' | 'CUMULATE' | 'SESSION'; timeColumn: string; sizeMs: number; slideMs: number; partitionBy: string[] };

export interface PumpPlan {
  name: string;
  target: string;
  targetColumns?: string[];
  /** The in-application stream the pump reads. */
  source: string;
  sourcePos: number;
  /** The name the query gives the source (its alias, or the stream name). */
  alias: string;
  /** Other tables named in FROM/JOIN (reference data). */
  joins: { name: string; pos: number }[];
  window: WindowPlan;
  /** The work table the streaming layer fills with the rows to evaluate. */
  workTable: string;
  sql: string;
  pieces: Piece[];
  pos: number;
}

/** Columns of every work table besides the source's own (excluded from `*`). */
export const INTERNAL_COLUMNS = ['ROWTIME', '__SEQ', '__WID', '__WEND', '__NEW'];

export const quote = (name: string) => `"${name.replace(/"/g, '""')}"`;

const UNIT_MS: Record<string, number> = {
  MILLISECOND: 1, MILLISECONDS: 1, SECOND: 1000, SECONDS: 1000, MINUTE: 60_000, MINUTES: 60_000,
  HOUR: 3_600_000, HOURS: 3_600_000, DAY: 86_400_000, DAYS: 86_400_000,
};

/**
 * `U&'…'` at index `i` (no spaces between U, & and the quote): the string with its escapes
 * (\XXXX, \+XXXXXX, \\) decoded, and the index after it; undefined when there is none there.
 */
function unicodeAt(tokens: Token[], i: number): { value: string; end: number } | undefined {
  const [u, amp, str] = [tokens[i], tokens[i + 1], tokens[i + 2]];
  if (!isWord(u, 'U') || !isPunct(amp, '&') || str?.kind !== 'string') return undefined;
  const raw = stringValue(str);
  let value = '';
  for (let k = 0; k < raw.length; k++) {
    if (raw[k] !== '\\') { value += raw[k]; continue; }
    if (raw[k + 1] === '\\') { value += '\\'; k++; continue; }
    const m = raw[k + 1] === '+' ? /^\+([0-9A-Fa-f]{6})/.exec(raw.slice(k + 1)) : /^([0-9A-Fa-f]{4})/.exec(raw.slice(k + 1));
    if (!m) throw new SqlError(`bad escape in the Unicode literal ${u!.text}&${str.text}: \\XXXX, \\+XXXXXX or \\\\`, str.pos);
    value += String.fromCodePoint(parseInt(m[1]!, 16));
    k += m[0].length;
  }
  return { value, end: i + 3 };
}

/** KDA's clock words (the wall clock in UTC; CURRENT_ROW_TIMESTAMP is read per evaluation, the others too: a stream has no statement time). */
const UTC_NOW = 'make_timestamp(epoch_us(get_current_timestamp()))';
const NOW: Record<string, string> = {
  CURRENT_ROW_TIMESTAMP: UTC_NOW, CURRENT_TIMESTAMP: UTC_NOW, LOCALTIMESTAMP: UTC_NOW,
  CURRENT_DATE: `CAST(${UTC_NOW} AS DATE)`, CURRENT_TIME: `CAST(${UTC_NOW} AS TIME)`, LOCALTIME: `CAST(${UTC_NOW} AS TIME)`,
};

/** Java-pattern conversions (format, value): the call's new opening, and what follows the converted format. */
const DATE_CONV: Record<string, [string, string, string]> = {
  TIMESTAMP_TO_CHAR: ['strftime(', '', ''],
  DATE_TO_CHAR: ['strftime(', '', ''],
  TIME_TO_CHAR: ["strftime(DATE '1970-01-01' + (", ')', ''],
  CHAR_TO_TIMESTAMP: ['try_strptime(', '', ''],
  CHAR_TO_DATE: ['CAST(try_strptime(', '', ') AS DATE'],
  CHAR_TO_TIME: ['CAST(try_strptime(', '', ') AS TIME'],
};

/** Units FLOOR/CEIL … TO also take (calendar units: not a fixed length, so never a window size). */
const CALENDAR_UNITS = ['WEEK', 'MONTH', 'QUARTER', 'YEAR'];

const CLAUSES = ['FROM', 'WHERE', 'GROUP', 'HAVING', 'WINDOW', 'WINDOWED', 'ORDER', 'UNION', 'LIMIT'];

class Rewriter {
  readonly replace = new Map<number, string>();
  readonly before = new Map<number, string>();
  prefix = '';
  suffix = '';
  constructor(readonly tokens: Token[]) {}

  insertBefore(i: number, text: string) {
    this.before.set(i, (this.before.get(i) ?? '') + text);
  }
  /** Replaces tokens [from, to) with `text` (kept at the first token's position). */
  splice(from: number, to: number, text: string) {
    this.replace.set(from, text);
    for (let i = from + 1; i < to; i++) { this.replace.set(i, ''); this.before.delete(i); }
  }
  pieces(from = 0, to = this.tokens.length): Piece[] {
    const out: Piece[] = [];
    const endPos = this.tokens.length ? this.tokens[this.tokens.length - 1]!.pos + this.tokens[this.tokens.length - 1]!.text.length : 0;
    if (from === 0 && this.prefix) out.push({ text: this.prefix, pos: this.tokens[0]?.pos ?? 0, verbatim: false });
    for (let i = from; i < to; i++) {
      const t = this.tokens[i]!;
      const b = this.before.get(i);
      if (b) out.push({ text: b, pos: t.pos, verbatim: false });
      const r = this.replace.get(i);
      if (r !== undefined) { if (r) out.push({ text: r, pos: t.pos, verbatim: false }); }
      else out.push({ text: t.text, pos: t.pos, verbatim: true });
    }
    if (to === this.tokens.length && this.suffix) out.push({ text: this.suffix, pos: endPos, verbatim: false });
    return out;
  }
  render(from: number, to: number): string {
    return this.pieces(from, to).map((p) => p.text).join('');
  }
}

/** `INTERVAL '10' SECOND` at significant index `i` → milliseconds and the index after it. */
function interval(tokens: Token[], i: number): { ms: number; end: number } {
  const compound = compoundIntervalMs(tokens, i);
  if (compound) return compound;
  const kw = tokens[i];
  if (!isWord(kw, 'INTERVAL')) throw new SqlError(`expected INTERVAL but found '${kw?.text ?? 'end'}'`, kw?.pos ?? 0);
  const v = skip(tokens, i + 1);
  const lit = tokens[v];
  if (lit?.kind !== 'string' && lit?.kind !== 'number') throw new SqlError('expected the interval length', lit?.pos ?? kw.pos);
  const u = skip(tokens, v + 1);
  const unit = tokens[u];
  const n = Number(lit.kind === 'string' ? stringValue(lit).trim() : lit.text);
  if (!unit || unit.kind !== 'ident' || UNIT_MS[unit.upper] === undefined) {
    throw new SqlError(`unsupported interval unit '${unit?.text ?? ''}' (SECOND, MINUTE, HOUR, DAY, MILLISECOND)`, unit?.pos ?? lit.pos);
  }
  if (!Number.isFinite(n) || n <= 0) throw new SqlError(`interval length must be a positive number, not '${lit.text}'`, lit.pos);
  return { ms: n * UNIT_MS[unit.upper]!, end: u + 1 };
}


/** Whether tokens [from, to) mention ROWTIME. */
const mentionsRowtime = (tokens: Token[], from: number, to: number) =>
  tokens.slice(from, to).some((t) => (t.kind === 'ident' || t.kind === 'quoted') && t.upper === 'ROWTIME');

export function planPump(stmt: PumpStmt, index: number): PumpPlan {
  const tokens = stmt.select;
  normalizeFloorForm(tokens);
  const rw = new Rewriter(tokens);
  const workTable = `__work_${index}`;
  const sig = (i: number) => skip(tokens, i);

  // Depth of every token and the top-level clause keywords.
  const depth = depths(tokens);
  // (`a IS [NOT] DISTINCT FROM b` and `NTH_VALUE(…) FROM LAST` hold FROM, not the FROM clause.)
  const notClause = (i: number) => isWord(tokens[prevSig(tokens, i)], 'DISTINCT') || isWord(tokens[sig(i + 1)], 'FIRST', 'LAST');
  const top = (word: string) => tokens.findIndex((t, i) => depth[i] === 0 && isWord(t, word) && !(word === 'FROM' && notClause(i)));
  const clauseEnd = (from: number) => {
    for (let i = from + 1; i < tokens.length; i++) if (depth[i] === 0 && isWord(tokens[i], ...CLAUSES)) return i;
    return tokens.length;
  };

  // SELECT STREAM → SELECT (also in sub-queries).
  for (let i = 0; i < tokens.length; i++) {
    if (isWord(tokens[i], 'SELECT')) {
      const n = sig(i + 1);
      if (isWord(tokens[n], 'STREAM')) rw.splice(n, n + 1, '');
    }
  }

  // Source: FROM <stream> [[AS] alias] | FROM TABLE(<TVF>(TABLE <stream> …)) [[AS] alias]; JOINed names are tables.
  const fromAt = top('FROM');
  if (fromAt < 0) throw new SqlError('a pump SELECT needs a FROM clause', tokens[0]!.pos);
  const fromEnd = clauseEnd(fromAt);
  let i = sig(fromAt + 1);
  let source: string;
  let sourcePos: number;
  let alias: string;
  let window: WindowPlan = { type: 'none' };
  const first = tokens[i];
  let topK: { alias: string } | undefined;
  let subquery = false;
  if (isWord(first, 'TABLE') && isPunct(tokens[sig(i + 1)], '(') && isWord(tokens[sig(sig(i + 1) + 1)], 'TOP_K_ITEMS_TUMBLING', 'COUNT_DISTINCT_ITEMS_TUMBLING')) {
    const topKCall = isWord(tokens[sig(sig(i + 1) + 1)], 'TOP_K_ITEMS_TUMBLING');
    const t = topKCall ? topKItems(tokens, rw, i, fromEnd, workTable) : countDistinctItems(tokens, rw, i, fromEnd, workTable);
    ({ source, sourcePos, alias } = t);
    window = { type: 'tumbling', sizeMs: t.sizeMs };
    topK = { alias };
  } else if (isWord(first, 'TABLE') && isPunct(tokens[sig(i + 1)], '(')) {
    const open = sig(i + 1);
    const close = closing(tokens, open);
    const fnAt = sig(open + 1);
    const fn = tokens[fnAt];
    if (!isWord(fn, 'TUMBLE', 'HOP', 'CUMULATE', 'SESSION')) throw new SqlError(`unknown window function '${fn?.text}' (TUMBLE, HOP, CUMULATE, SESSION)`, fn?.pos ?? first!.pos);
    let j = sig(fnAt + 1);
    if (!isPunct(tokens[j], '(')) throw new SqlError(`expected '(' after ${fn!.upper}`, tokens[j]?.pos ?? fn!.pos);
    j = sig(j + 1);
    if (!isWord(tokens[j], 'TABLE')) throw new SqlError(`${fn!.upper}'s first argument is TABLE <stream>`, tokens[j]?.pos ?? fn!.pos);
    j = sig(j + 1);
    const src = tokens[j];
    if (src?.kind !== 'ident' && src?.kind !== 'quoted') throw new SqlError('expected a stream name', src?.pos ?? fn!.pos);
    source = nameOf(src);
    sourcePos = src.pos;
    const partitionBy: string[] = [];
    j = sig(j + 1);
    if (isWord(tokens[j], 'PARTITION')) {
      j = sig(j + 1);
      if (!isWord(tokens[j], 'BY')) throw new SqlError('expected BY', tokens[j]?.pos ?? 0);
      for (;;) {
        j = sig(j + 1);
        partitionBy.push(nameOf(tokens[j]!));
        j = sig(j + 1);
        // `PARTITION BY a, b, DESCRIPTOR(…)`: the comma before DESCRIPTOR ends the list.
        if (!isPunct(tokens[j], ',') || isWord(tokens[sig(j + 1)], 'DESCRIPTOR')) break;
      }
    }
    if (!isPunct(tokens[j], ',')) throw new SqlError(`expected ',' but found '${tokens[j]?.text}'`, tokens[j]?.pos ?? 0);
    j = sig(j + 1);
    if (!isWord(tokens[j], 'DESCRIPTOR')) throw new SqlError('expected DESCRIPTOR(<time column>)', tokens[j]?.pos ?? 0);
    j = sig(j + 1);
    if (!isPunct(tokens[j], '(')) throw new SqlError("expected '('", tokens[j]?.pos ?? 0);
    j = sig(j + 1);
    const timeColumn = nameOf(tokens[j]!);
    j = sig(j + 1);
    if (!isPunct(tokens[j], ')')) throw new SqlError("expected ')'", tokens[j]?.pos ?? 0);
    const sizes: number[] = [];
    for (;;) {
      j = sig(j + 1);
      if (!isPunct(tokens[j], ',')) break;
      const iv = interval(tokens, sig(j + 1));
      sizes.push(iv.ms);
      j = iv.end - 1;
    }
    if (!isPunct(tokens[j], ')')) throw new SqlError(`expected ')' but found '${tokens[j]?.text}'`, tokens[j]?.pos ?? 0);
    const want = fn!.upper === 'HOP' || fn!.upper === 'CUMULATE' ? 2 : 1;
    if (sizes.length !== want) throw new SqlError(`${fn!.upper} takes ${want} interval${want > 1 ? 's' : ''}`, fn!.pos);
    const f = fn!.upper as 'TUMBLE' | 'HOP' | 'CUMULATE' | 'SESSION';
    // HOP(slide, size) and CUMULATE(step, max size) as Flink orders them.
    const sizeMs = want === 2 ? sizes[1]! : sizes[0]!;
    const slideMs = want === 2 ? sizes[0]! : sizes[0]!;
    if (want === 2 && (sizeMs % slideMs !== 0)) throw new SqlError(`${f}: the window size must be a multiple of the ${f === 'HOP' ? 'slide' : 'step'}`, fn!.pos);
    window = { type: 'tvf', fn: f, timeColumn, sizeMs, slideMs, partitionBy };
    i = sig(close);
    const a = aliasAt(tokens, i, fromEnd);
    alias = a.alias ?? source;
    // The alias written after TABLE(…) is replaced too (it would follow the one given here).
    rw.splice(sig(fromAt + 1), a.end ?? close, `${quote(workTable)} AS ${quote(alias)}`);
  } else if (isPunct(first, '(')) {
    ({ source, sourcePos, alias } = subquerySource(tokens, rw, i, fromEnd, workTable));
    subquery = true;
  } else {
    if (first?.kind !== 'ident' && first?.kind !== 'quoted') throw new SqlError(`expected a stream name after FROM but found '${first?.text ?? 'end'}'`, first?.pos ?? tokens[fromAt]!.pos);
    source = nameOf(first);
    sourcePos = first.pos;
    const a = aliasAt(tokens, sig(i + 1), fromEnd);
    alias = a.alias ?? source;
    rw.splice(i, i + 1, a.alias ? quote(workTable) : `${quote(workTable)} AS ${quote(source)}`);
  }
  const joins: { name: string; pos: number }[] = [];
  for (let k = sig(fromAt + 1); k < fromEnd; k++) {
    const t = tokens[k]!;
    if (depth[k] === 0 && (isWord(t, 'JOIN') || isPunct(t, ','))) {
      const n = tokens[sig(k + 1)];
      if (n && (n.kind === 'ident' || n.kind === 'quoted')) joins.push({ name: nameOf(n), pos: n.pos });
    }
  }
  const A = quote(alias);

  // Expressions at any depth: STEP, FLOOR … TO, CURRENT_ROW_TIMESTAMP, window specifications.
  // Window specifications are sliding windows only in a pump without GROUP BY windows; in a windowed
  // pump (QUALIFY … OVER (PARTITION BY window_start …)) DuckDB evaluates them over the closing windows' rows.
  const specOpens: number[] = [];
  for (let k = 0; k < tokens.length; k++) {
    const t = tokens[k]!;
    if (isWord(t, 'STEP') && isPunct(tokens[sig(k + 1)], '(')) {
      const open = sig(k + 1);
      const close = closing(tokens, open);
      const by = tokens.findIndex((x, n) => n > open && n < close && depth[n] === depth[open]! + 1 && isWord(x, 'BY'));
      if (by < 0) throw new SqlError('STEP(<time> BY INTERVAL …) needs BY', t.pos);
      if (!isWord(tokens[sig(by + 1)], 'INTERVAL')) { stepInteger(tokens, rw, k, open, close, by); continue; }
      if (stepCalendar(tokens, rw, k, open, close, by)) continue;
      const iv = interval(tokens, sig(by + 1));
      rw.splice(k, k + 1, 'time_bucket');
      rw.insertBefore(sig(open + 1), `to_milliseconds(${iv.ms}), `);
      rw.splice(by, close - 1, `, TIMESTAMP '1970-01-01 00:00:00'`);
    } else if (isWord(t, 'FLOOR', 'CEIL', 'CEILING') && isPunct(tokens[sig(k + 1)], '(')) {
      const open = sig(k + 1);
      const close = closing(tokens, open);
      const to = tokens.findIndex((x, n) => n > open && n < close && depth[n] === depth[open]! + 1 && isWord(x, 'TO'));
      if (to >= 0) {
        const unit = tokens[sig(to + 1)];
        if (!unit || (UNIT_MS[unit.upper] === undefined && !CALENDAR_UNITS.includes(unit.upper)) || unit.upper.startsWith('MILLI')) throw new SqlError(`${t.upper} … TO supports SECOND, MINUTE, HOUR, DAY, WEEK, MONTH, QUARTER, YEAR, not '${unit?.text}'`, unit?.pos ?? t.pos);
        rw.splice(k, k + 1, t.upper === 'FLOOR' ? 'date_trunc' : 'kda_ceil_to');
        rw.insertBefore(sig(open + 1), `'${unit.upper.replace(/S$/, '').toLowerCase()}', `);
        rw.splice(to, close - 1, '');
      }
    } else if (isWord(t, ...LOG_PARSERS) && isPunct(tokens[sig(k + 1)], '(')) {
      // NAME(expr, literal, …) → (list_transform([expr], lambda __lp: <row of the parsed fields>)[1]): expr evaluated once.
      const open = sig(k + 1);
      const close = closing(tokens, open);
      const commas = tokens.map((x, n) => n).filter((n) => n > open && n < close - 1 && depth[n] === depth[open]! + 1 && isPunct(tokens[n], ','));
      if (sig(open + 1) === close - 1) throw new SqlError(`${t.upper} needs the string to parse`, t.pos);
      const args: LitArg[] = commas.map((c, a) => {
        const end = a + 1 < commas.length ? commas[a + 1]! : close - 1;
        let at = sig(c + 1);
        let neg = false;
        if (isPunct(tokens[at], '-') && tokens[sig(at + 1)]?.kind === 'number') { neg = true; at = sig(at + 1); }
        const u = unicodeAt(tokens, at);
        if (u && sig(u.end) === end) return { kind: 'string', value: u.value, pos: tokens[at]!.pos };
        const lit = tokens[at];
        if ((lit?.kind !== 'string' && lit?.kind !== 'number') || sig(at + 1) !== end) throw new SqlError(`${t.upper}: argument ${a + 2} must be a literal`, tokens[sig(c + 1)]?.pos ?? t.pos);
        return lit.kind === 'string' ? { kind: 'string', value: stringValue(lit), pos: lit.pos } : { kind: 'number', value: (neg ? '-' : '') + lit.text, pos: lit.pos };
      });
      const body = logParserSql(t.upper, args, t.pos);
      rw.splice(k, open + 1, '(list_transform([');
      rw.splice(commas[0] ?? close - 1, close, `], lambda ${PARAM}: ${body})[1])`);
    } else if (!rw.replace.has(k) && unicodeAt(tokens, k)) {
      // U&'…\0009…' (KDA's Unicode string literal, e.g. a tab delimiter): a plain literal holding the characters.
      const u = unicodeAt(tokens, k)!;
      rw.splice(k, u.end, `'${u.value.replace(/'/g, "''")}'`);
    } else if (isWord(t, ...Object.keys(NOW)) && !isPunct(tokens[sig(k + 1)], '(') && !isPunct(tokens[k - 1], '.')) {
      // The wall clock (UTC) as KDA's types: TIMESTAMP, DATE or TIME (DuckDB's own are WITH TIME ZONE).
      rw.splice(k, k + 1, NOW[t.upper]!);
    } else if (isWord(t, 'TO_TIMESTAMP') && isPunct(tokens[sig(k + 1)], '(')) {
      // KDA's TO_TIMESTAMP takes milliseconds since the epoch (DuckDB's takes seconds).
      rw.splice(k, k + 1, 'epoch_ms');
    } else if (isWord(t, ...Object.keys(DATE_CONV)) && isPunct(tokens[sig(k + 1)], '(')) {
      // (format, value) with a literal format → strftime(value, fmt) / try_strptime(value, fmt) (NULL when it does not match, as KDA gives no value).
      const open = sig(k + 1);
      const close = closing(tokens, open);
      const fmt = tokens[sig(open + 1)];
      const comma = sig(sig(open + 1) + 1);
      const argCount = sig(open + 1) === close - 1 ? 0 : 1 + tokens.filter((x, n) => n > open && n < close - 1 && depth[n] === depth[open]! + 1 && isPunct(x, ',')).length;
      if (argCount !== 2) throw new SqlError(`${t.upper} takes (format, value), not ${argCount} argument${argCount === 1 ? '' : 's'}`, t.pos);
      if (fmt?.kind !== 'string' || !isPunct(tokens[comma], ',')) {
        // A pattern that is not a literal is read per row (macros of engine/kdaFunctions.ts).
        const argComma = tokens.findIndex((x, n) => n > open && n < close - 1 && depth[n] === depth[open]! + 1 && isPunct(x, ','));
        const toChar = t.upper.endsWith('_TO_CHAR');
        rw.splice(k, k + 1, toChar ? 'kda_ts_to_char' : t.upper === 'CHAR_TO_TIMESTAMP' ? 'kda_char_to_ts' : 'CAST(kda_char_to_ts');
        if (t.upper === 'TIME_TO_CHAR') { rw.insertBefore(sig(argComma + 1), "DATE '1970-01-01' + ("); rw.insertBefore(close - 1, ')'); }
        if (t.upper === 'CHAR_TO_DATE' || t.upper === 'CHAR_TO_TIME') rw.splice(close - 1, close, `) AS ${t.upper.slice(8)})`);
        continue;
      }
      const conv = strftimeOf(stringValue(fmt), fmt.pos).replace(/'/g, "''");
      const [before, afterValue, after] = DATE_CONV[t.upper]!;
      rw.splice(k, comma + 1, before);
      rw.insertBefore(close - 1, `${afterValue}, '${conv}'${after}`);
    } else if ((t.kind === 'ident' || t.kind === 'quoted') && t.upper === 'APPROXIMATE_ARRIVAL_TIME') {
      // KDA's column of the record's arrival time in the source stream: ROWTIME here (rows get the arrival time as ROWTIME).
      rw.splice(k, k + 1, '"ROWTIME"');
    } else if (isWord(t, 'OVER') && isPunct(tokens[sig(k + 1)], '(')) {
      specOpens.push(sig(k + 1));
    } else if (isWord(t, 'WINDOW') && depth[k] === 0) {
      // WINDOW w AS (spec) [, w2 AS (spec)]
      let n = k;
      for (;;) {
        n = sig(n + 1);
        n = sig(n + 1);
        if (!isWord(tokens[n], 'AS')) throw new SqlError('expected AS in the WINDOW clause', tokens[n]?.pos ?? t.pos);
        n = sig(n + 1);
        if (!isPunct(tokens[n], '(')) throw new SqlError("expected '('", tokens[n]?.pos ?? t.pos);
        specOpens.push(n);
        n = sig(closing(tokens, n));
        if (!isPunct(tokens[n], ',')) break;
      }
    }
  }

  rewriteKdaAggregates(tokens, rw, A, interval);
  rewriteKdaScalars(tokens, rw, A);

  // Tumbling: GROUP BY holds STEP/FLOOR of ROWTIME.
  const groupAt = top('GROUP');
  const staggerAt = top('WINDOWED');
  if (groupAt >= 0) {
    const end = clauseEnd(groupAt);
    for (let k = groupAt; k < end; k++) {
      const t = tokens[k]!;
      if (!(isWord(t, 'STEP') || isWord(t, 'FLOOR')) || !isPunct(tokens[sig(k + 1)], '(')) continue;
      const open = sig(k + 1);
      const close = closing(tokens, open);
      if (!mentionsRowtime(tokens, open, close)) continue;
      let size: number;
      if (t.upper === 'STEP') {
        const by = tokens.findIndex((x, n) => n > open && n < close && isWord(x, 'BY'));
        size = interval(tokens, sig(by + 1)).ms;
      } else {
        const to = tokens.findIndex((x, n) => n > open && n < close && isWord(x, 'TO'));
        if (to < 0) continue;
        const u = tokens[sig(to + 1)]!;
        if (UNIT_MS[u.upper] === undefined) throw new SqlError(`a window of FLOOR(ROWTIME TO ${u.upper}) has no fixed length: use SECOND, MINUTE, HOUR or DAY`, u.pos);
        size = UNIT_MS[u.upper]!;
      }
      if (window.type !== 'none') throw new SqlError('only one window per pump', t.pos);
      window = { type: 'tumbling', sizeMs: size };
    }
    if (window.type === 'none' && tokens.slice(groupAt, end).some((x) => isWord(x, 'MONOTONIC'))) {
      // KDA would close a group whenever MONOTONIC(x) changes; groups here close on ROWTIME windows only.
      throw new SqlError('GROUP BY MONOTONIC(…) is supported only together with a ROWTIME window (STEP(ROWTIME BY INTERVAL …) or FLOOR(ROWTIME TO …)): groups that close when a declared-monotonic value changes are not', tokens[groupAt]!.pos);
    }
    if (window.type === 'none') {
      throw new SqlError('GROUP BY on a stream needs a window: STEP(ROWTIME BY INTERVAL …), FLOOR(ROWTIME TO …), WINDOWED BY STAGGER or a window table function', tokens[groupAt]!.pos);
    }
  }
  if (staggerAt >= 0) {
    if (window.type !== 'none') throw new SqlError('WINDOWED BY STAGGER cannot be combined with another window', tokens[staggerAt]!.pos);
    let n = sig(staggerAt + 1);
    if (!isWord(tokens[n], 'BY')) throw new SqlError('expected BY', tokens[n]?.pos ?? 0);
    n = sig(n + 1);
    if (!isWord(tokens[n], 'STAGGER')) throw new SqlError('expected STAGGER', tokens[n]?.pos ?? 0);
    const open = sig(n + 1);
    if (!isPunct(tokens[open], '(')) throw new SqlError("expected '('", tokens[open]?.pos ?? 0);
    const close = closing(tokens, open);
    let p = sig(open + 1);
    if (!isWord(tokens[p], 'PARTITION') || !isWord(tokens[sig(p + 1)], 'BY')) throw new SqlError('STAGGER needs PARTITION BY', tokens[p]?.pos ?? 0);
    p = sig(sig(p + 1) + 1);
    const range = tokens.findIndex((x, m) => m > p && m < close && depth[m] === depth[open]! + 1 && isWord(x, 'RANGE'));
    if (range < 0) throw new SqlError('STAGGER needs RANGE INTERVAL …', tokens[open]!.pos);
    const iv = interval(tokens, sig(range + 1));
    const partitionSql = rw.render(p, range).trim();
    window = { type: 'stagger', rangeMs: iv.ms, partitionSql };
    rw.splice(staggerAt, close, `GROUP BY ${partitionSql}, ${A}."__WID"`);
  }
  if (subquery && (window.type === 'stagger' || (specOpens.length && window.type === 'none'))) {
    throw new SqlError('sliding and stagger windows read the stream itself: they cannot be over a sub-query in FROM', tokens[fromAt]!.pos);
  }
  if (specOpens.length && window.type === 'none') {
    window = { type: 'sliding', specs: specOpens.map((open) => windowSpec(tokens, rw, open, A)) };
  }

  // `*` in the select list leaves out ROWTIME and the work table's bookkeeping columns.
  const selectAt = top('SELECT');
  refuseStreamingDistinct(tokens, selectAt, window.type === 'tumbling' || window.type === 'stagger' || (window.type === 'tvf' && groupAt >= 0));
  for (let k = selectAt + 1; k < fromAt; k++) {
    if (depth[k] !== 0 || !isPunct(tokens[k], '*')) continue;
    // A star, not a product: it follows SELECT [STREAM] [DISTINCT], a comma or `alias.`.
    let prev = k - 1;
    while (prev > 0 && (tokens[prev]!.kind === 'space' || tokens[prev]!.kind === 'comment')) prev--;
    const p = tokens[prev];
    if (isWord(p, 'SELECT', 'STREAM', 'DISTINCT', 'ALL') || isPunct(p, ',') || isPunct(p, '.')) rw.insertBefore(k + 1, ` EXCLUDE (${(topK ? [TOPK_WEND, 'ROWTIME'] : INTERNAL_COLUMNS).map(quote).join(', ')})`);
  }
  // The output row's ROWTIME: the input row's, or the window's end for aggregates.
  const aggregated = !topK && (window.type === 'tumbling' || window.type === 'stagger' || (window.type === 'tvf' && groupAt >= 0));
  const ownRowtime = rowtimeAlias(tokens, rw, selectAt, fromAt, !topK && (window.type === 'none' || window.type === 'sliding'));
  let extra = topK ? `, ${A}.${quote(TOPK_WEND)} AS "__ROWTIME"` : aggregated ? `, max(${A}."__WEND") AS "__ROWTIME"` : window.type === 'tvf' ? `, ${A}."__WEND" AS "__ROWTIME"` : ownRowtime ? '' : `, ${A}."ROWTIME" AS "__ROWTIME"`;
  // Peers of one ROWTIME leave in arrival order (KDA's order; DuckDB's result order is unspecified).
  if ((window.type === 'none' || window.type === 'sliding') && !topK && !tokens.some((t, i) => depth[i] === 0 && isWord(t, 'DISTINCT'))) extra += `, ${A}."__SEQ" AS "__SEQ_OUT"`;
  if (window.type === 'sliding') {
    extra += `, ${A}."__NEW" AS "__NEW"`;
    rw.prefix = 'SELECT * FROM (';
    rw.suffix = ') WHERE "__NEW"';
  }
  rw.insertBefore(fromAt, extra + ' ');
  const pieces = rw.pieces();
  return {
    name: stmt.name, target: stmt.target, targetColumns: stmt.targetColumns, source, sourcePos, alias, joins, window, workTable,
    sql: pieces.map((p) => p.text).join(''), pieces, pos: stmt.pos,
  };
}

/**
 * `FROM (SELECT [STREAM] … FROM <stream> [[AS] a] [WHERE …]) [AS] alias [(c1, …)]`, the form AWS's
 * log-parsing examples use: the inner query reads the work table and passes its bookkeeping columns
 * (ROWTIME, __SEQ, …) through, so the outer query's windows and ROWTIME work as on the stream.
 */
function subquerySource(tokens: Token[], rw: Rewriter, open: number, fromEnd: number, workTable: string) {
  const sig = (i: number) => skip(tokens, i);
  const close = closing(tokens, open);
  const selectAt = sig(open + 1);
  if (!isWord(tokens[selectAt], 'SELECT')) throw new SqlError('expected SELECT STREAM … in the sub-query', tokens[selectAt]?.pos ?? tokens[open]!.pos);
  // Clauses of the inner query at its own depth.
  const at: Record<string, number> = {};
  for (let k = selectAt + 1, d = 0; k < close - 1; k++) {
    if (isPunct(tokens[k], '(')) d++;
    else if (isPunct(tokens[k], ')')) d--;
    else if (d === 0 && isWord(tokens[k], ...CLAUSES, 'JOIN') && at[tokens[k]!.upper] === undefined) at[tokens[k]!.upper] = k;
  }
  const innerFrom = at.FROM;
  if (innerFrom === undefined) throw new SqlError('the sub-query needs FROM <stream>', tokens[selectAt]!.pos);
  for (const c of ['GROUP', 'WINDOW', 'WINDOWED', 'HAVING', 'JOIN', 'UNION']) {
    if (at[c] !== undefined) throw new SqlError(`a sub-query in FROM reads one stream row by row (no ${c}); put windows and joins in the outer query`, tokens[at[c]!]!.pos);
  }
  const src = tokens[sig(innerFrom + 1)];
  if (src?.kind !== 'ident' && src?.kind !== 'quoted') throw new SqlError(`expected a stream name after FROM but found '${src?.text ?? 'end'}'`, src?.pos ?? tokens[innerFrom]!.pos);
  const srcAt = sig(innerFrom + 1);
  const source = nameOf(src);
  const innerEnd = Math.min(...Object.entries(at).filter(([w, k]) => w !== 'FROM' && k > innerFrom).map(([, k]) => k), close - 1);
  const ia = aliasAt(tokens, sig(srcAt + 1), innerEnd).alias;
  rw.splice(srcAt, srcAt + 1, ia ? quote(workTable) : `${quote(workTable)} AS ${quote(source)}`);
  const IA = quote(ia ?? source);
  // `*` in the inner select list leaves the bookkeeping columns to the explicit pass-through.
  for (let k = selectAt + 1, d = 0; k < innerFrom; k++) {
    if (isPunct(tokens[k], '(')) d++;
    else if (isPunct(tokens[k], ')')) d--;
    else if (d === 0 && isPunct(tokens[k], '*')) {
      let prev = k - 1;
      while (tokens[prev]!.kind === 'space' || tokens[prev]!.kind === 'comment') prev--;
      const p = tokens[prev];
      if (isWord(p, 'SELECT', 'STREAM', 'DISTINCT', 'ALL') || isPunct(p, ',') || isPunct(p, '.')) rw.insertBefore(k + 1, ` EXCLUDE (${INTERNAL_COLUMNS.map(quote).join(', ')})`);
    }
  }
  rw.insertBefore(innerFrom, `, ${INTERNAL_COLUMNS.map((c) => `${IA}.${quote(c)}`).join(', ')} `);
  const a = aliasAt(tokens, sig(close), fromEnd);
  let alias = a.alias;
  if (!alias) {
    alias = '__SUBQUERY';
    rw.splice(close - 1, close, `) AS ${quote(alias)}`);
  }
  return { source, sourcePos: src.pos, alias };
}

const TOPK_WID = '__TK_WID';
const TOPK_WEND = '__TK_WEND';

/**
 * `TABLE(<fn>(CURSOR(SELECT STREAM … FROM s …), …))` at index `at` (the TABLE keyword): the cursor's
 * query reads the work table (its stream is the pump's source) and passes the window's id and end on
 * as __TK_WID and __TK_WEND. Returns where the arguments after the cursor start, for the caller to read.
 */
function cursorCall(tokens: Token[], rw: Rewriter, at: number, workTable: string) {
  const sig = (i: number) => skip(tokens, i);
  const open = sig(at + 1);
  const close = closing(tokens, open);
  const fn = tokens[sig(open + 1)]!;
  const args = sig(sig(open + 1) + 1);
  if (!isPunct(tokens[args], '(')) throw new SqlError(`expected '(' after ${fn.upper}`, fn.pos);
  const cursorAt = sig(args + 1);
  if (!isWord(tokens[cursorAt], 'CURSOR') || !isPunct(tokens[sig(cursorAt + 1)], '(')) throw new SqlError(`${fn.upper}'s first argument is CURSOR(SELECT STREAM …)`, tokens[cursorAt]?.pos ?? fn.pos);
  const copen = sig(cursorAt + 1);
  const cclose = closing(tokens, copen);
  // The cursor's query: SELECT … FROM <stream> [alias] …; its stream is the pump's source.
  let d = 0;
  let innerFrom = -1;
  for (let k = copen + 1; k < cclose - 1; k++) {
    if (isPunct(tokens[k], '(')) d++;
    else if (isPunct(tokens[k], ')')) d--;
    else if (d === 0 && isWord(tokens[k], 'FROM')) { innerFrom = k; break; }
  }
  if (!isWord(tokens[sig(copen + 1)], 'SELECT') || innerFrom < 0) throw new SqlError('CURSOR needs SELECT STREAM … FROM <stream>', tokens[copen]!.pos);
  const src = tokens[sig(innerFrom + 1)];
  if (src?.kind !== 'ident' && src?.kind !== 'quoted') throw new SqlError('expected a stream name', src?.pos ?? tokens[innerFrom]!.pos);
  const source = nameOf(src);
  const srcAt = sig(innerFrom + 1);
  let innerEnd = cclose - 1;
  for (let k = srcAt + 1, dd = 0; k < cclose - 1; k++) {
    if (isPunct(tokens[k], '(')) dd++;
    else if (isPunct(tokens[k], ')')) dd--;
    else if (dd === 0 && isWord(tokens[k], ...CLAUSES)) { innerEnd = k; break; }
  }
  const innerAlias = aliasAt(tokens, sig(srcAt + 1), innerEnd).alias;
  rw.splice(srcAt, srcAt + 1, innerAlias ? quote(workTable) : `${quote(workTable)} AS ${quote(source)}`);
  const IA = quote(innerAlias ?? source);
  rw.insertBefore(innerFrom, `, ${IA}."__WID" AS ${quote(TOPK_WID)}, ${IA}."__WEND" AS ${quote(TOPK_WEND)} `);
  let j = sig(cclose);
  const next = () => tokens[j];
  const advance = () => { j = sig(j + 1); };
  const expectComma = () => { if (!isPunct(tokens[j], ',')) throw new SqlError(`expected ',' but found '${tokens[j]?.text ?? 'end'}'`, tokens[j]?.pos ?? fn.pos); advance(); };
  /** 'column': the quoted column name. */
  const column = () => {
    expectComma();
    const colTok = next();
    if (colTok?.kind !== 'string') throw new SqlError(`${fn.upper}'s column name is a string in single quotes, e.g. 'column1'`, colTok?.pos ?? fn.pos);
    advance();
    return quote(stringValue(colTok));
  };
  /** The window size: whole seconds from 1 to 3600. */
  const seconds = () => {
    expectComma();
    const wTok = next();
    const n = Number(wTok?.text);
    if (wTok?.kind !== 'number' || !Number.isInteger(n) || n < 1 || n > 3600) throw new SqlError(`${fn.upper}: the window size is whole seconds from 1 to 3600`, wTok?.pos ?? fn.pos);
    advance();
    return n;
  };
  const end = (usage: string) => { if (!isPunct(tokens[j], ')') || sig(j + 1) !== close - 1) throw new SqlError(`${fn.upper} takes ${usage}`, tokens[j]?.pos ?? fn.pos); };
  return { fn, close, copen, cclose, source, sourcePos: src.pos, next, advance, expectComma, column, seconds, end };
}

/**
 * `TABLE(TOP_K_ITEMS_TUMBLING(CURSOR(SELECT STREAM … FROM s …), 'column', k, windowSeconds)) [[AS] alias]`
 * at index `at` (the TABLE keyword). KDA approximates the k most frequent values of the column per
 * tumbling window; here they are exact (a valid answer of the approximation): the cursor's query
 * over the work table, counted per window and value, ranked by count (ties by value), k kept. The
 * rows are ITEM (the value) and ITEM_COUNT, with the window's end as ROWTIME (which `*` leaves out).
 */
function topKItems(tokens: Token[], rw: Rewriter, at: number, fromEnd: number, workTable: string) {
  const c = cursorCall(tokens, rw, at, workTable);
  const col = c.column();
  c.expectComma();
  const kTok = c.next();
  const k = Number(kTok?.text);
  if (kTok?.kind !== 'number' || !Number.isInteger(k) || k < 1 || k > 100_000) throw new SqlError(`${c.fn.upper}: K must be an integer from 1 to 100000`, kTok?.pos ?? c.fn.pos);
  c.advance();
  const seconds = c.seconds();
  c.end("(CURSOR(…), 'column', K, windowSize)");
  const given = aliasAt(tokens, skip(tokens, c.close), fromEnd).alias;
  const alias = given ?? 'TOP_K_ITEMS';
  rw.splice(at, c.copen + 1, `(SELECT max(${quote(TOPK_WEND)}) AS ${quote(TOPK_WEND)}, max(${quote(TOPK_WEND)}) AS "ROWTIME", ${col} AS "ITEM", count(*) AS "ITEM_COUNT" FROM (`);
  rw.splice(c.cclose - 1, c.close, `) AS "__TK_IN" GROUP BY ${quote(TOPK_WID)}, ${col} QUALIFY row_number() OVER (PARTITION BY ${quote(TOPK_WID)} ORDER BY count(*) DESC, ${col}) <= ${k})${given ? '' : ` AS ${quote(alias)}`}`);
  return { source: c.source, sourcePos: c.sourcePos, alias, sizeMs: seconds * 1000 };
}

/**
 * `TABLE(COUNT_DISTINCT_ITEMS_TUMBLING(CURSOR(SELECT STREAM … FROM s …), 'column', windowSeconds)) [[AS] alias]`:
 * one row per tumbling window that has rows, NUMBER_OF_DISTINCT_ITEMS (BIGINT) the number of distinct
 * non-null values of the column, with the window's end as ROWTIME. KDA counts exactly up to 10,000
 * items and estimates (HyperLogLog) above; here the count is always exact, within KDA's error.
 */
function countDistinctItems(tokens: Token[], rw: Rewriter, at: number, fromEnd: number, workTable: string) {
  const c = cursorCall(tokens, rw, at, workTable);
  const col = c.column();
  const seconds = c.seconds();
  c.end("(CURSOR(…), 'column', windowSize)");
  const given = aliasAt(tokens, skip(tokens, c.close), fromEnd).alias;
  const alias = given ?? 'COUNT_DISTINCT_ITEMS';
  rw.splice(at, c.copen + 1, `(SELECT max(${quote(TOPK_WEND)}) AS ${quote(TOPK_WEND)}, max(${quote(TOPK_WEND)}) AS "ROWTIME", CAST(count(DISTINCT ${col}) AS BIGINT) AS "NUMBER_OF_DISTINCT_ITEMS" FROM (`);
  rw.splice(c.cclose - 1, c.close, `) AS "__TK_IN" GROUP BY ${quote(TOPK_WID)})${given ? '' : ` AS ${quote(alias)}`}`);
  return { source: c.source, sourcePos: c.sourcePos, alias, sizeMs: seconds * 1000 };
}

/** `[AS] alias` at significant index `i` (before `end`). */
function aliasAt(tokens: Token[], i: number, end: number): { alias?: string; end?: number } {
  if (i >= end) return {};
  let at = i;
  if (isWord(tokens[at], 'AS')) at = skip(tokens, i + 1);
  const t = tokens[at];
  if (!t || (t.kind !== 'ident' && t.kind !== 'quoted')) return {};
  if (t.kind === 'ident' && ['JOIN', 'LEFT', 'RIGHT', 'INNER', 'FULL', 'CROSS', 'ON', 'NATURAL', 'WHERE', 'GROUP', 'WINDOW', 'WINDOWED', 'HAVING', 'ORDER', 'UNION', 'LIMIT', 'QUALIFY', 'OFFSET', 'EXCEPT', 'INTERSECT', 'FETCH', 'SAMPLE', 'USING'].includes(t.upper)) return {};
  return { alias: nameOf(t), end: at + 1 };
}

/**
 * A window specification `( [PARTITION BY …] [ORDER BY …] RANGE INTERVAL … PRECEDING | ROWS n PRECEDING )`:
 * KDA orders by ROWTIME implicitly and frames end at the current row.
 */
function windowSpec(tokens: Token[], rw: Rewriter, open: number, A: string): SlidingSpec {
  const close = closing(tokens, open);
  let d = 0;
  let partitionFrom = -1;
  let partitionTo = -1;
  let hasOrder = false;
  let frame = -1;
  for (let k = open + 1; k < close - 1; k++) {
    const t = tokens[k]!;
    if (isPunct(t, '(')) d++;
    else if (isPunct(t, ')')) d--;
    if (d !== 0) continue;
    if (isWord(t, 'PARTITION')) partitionFrom = skip(tokens, skip(tokens, k + 1) + 1);
    else if (isWord(t, 'ORDER')) { hasOrder = true; if (partitionFrom >= 0 && partitionTo < 0) partitionTo = k; }
    else if (isWord(t, 'RANGE', 'ROWS') && frame < 0) { frame = k; if (partitionFrom >= 0 && partitionTo < 0) partitionTo = k; }
  }
  if (frame < 0) throw new SqlError('a window on a stream needs a frame: RANGE INTERVAL … PRECEDING or ROWS n PRECEDING', tokens[open]!.pos);
  if (partitionFrom >= 0 && partitionTo < 0) partitionTo = frame;
  const partitionSql = partitionFrom >= 0 ? rw.render(partitionFrom, partitionTo).trim() : '';
  const kind = tokens[frame]!.upper;
  let n = skip(tokens, frame + 1);
  const between = isWord(tokens[n], 'BETWEEN');
  if (between) n = skip(tokens, n + 1);
  const spec: SlidingSpec = { partitionSql };
  // `RANGE|ROWS CURRENT ROW` (the reference's `over (range current row)`): the rows of the current ROWTIME that arrived up to it / the row alone.
  const currentRow = currentRowAt(tokens, n);
  let after: number;
  if (currentRow) {
    if (kind === 'RANGE') spec.rangeMs = 0; else spec.rows = 0;
    after = currentRow;
  } else if (kind === 'RANGE') {
    if (isWord(tokens[n], 'UNBOUNDED')) throw new SqlError('an unbounded window never closes on a stream; use RANGE INTERVAL … PRECEDING', tokens[n]!.pos);
    const iv = interval(tokens, n);
    spec.rangeMs = iv.ms;
    after = iv.end;
  } else {
    if (isWord(tokens[n], 'UNBOUNDED')) throw new SqlError('an unbounded window never closes on a stream; use ROWS n PRECEDING', tokens[n]!.pos);
    const num = tokens[n];
    if (num?.kind !== 'number') throw new SqlError(`expected a row count but found '${num?.text}'`, num?.pos ?? tokens[frame]!.pos);
    spec.rows = Number(num.text);
    after = n + 1;
  }
  const prec = skip(tokens, after);
  if (!currentRow && !isWord(tokens[prec], 'PRECEDING')) throw new SqlError(`expected PRECEDING but found '${tokens[prec]?.text}'`, tokens[prec]?.pos ?? 0);
  const startEnd = currentRow ? after : prec + 1;
  // The whole frame: up to `AND CURRENT ROW` with BETWEEN, else the start bound.
  const frameEnd = between ? windowEndsAtCurrentRow(tokens, startEnd) : startEnd;
  if (kind === 'RANGE' && !hasOrder) {
    // KDA evaluates a row's window when the row arrives: rows of the same ROWTIME that arrive after it
    // are not in its frame (SQL's RANGE would take them in as peers). Ordered by ROWTIME then arrival
    // (__SEQ), one key per row, the frame starts rangeMs before the row's ROWTIME whatever its __SEQ
    // (the offset subtracts the row's own __SEQ back out) and ends at the row itself.
    const key = `(epoch_us(${A}."ROWTIME")::HUGEINT * ${SEQ_SPAN} + ${A}."__SEQ")`;
    rw.splice(frame, frameEnd, `ORDER BY ${key} RANGE BETWEEN (${spec.rangeMs! * 1000}::HUGEINT * ${SEQ_SPAN} + ${A}."__SEQ") PRECEDING AND CURRENT ROW`);
    return spec;
  }
  if (!between) {
    const lenText = currentRow ? 'CURRENT ROW' : `${rw.render(n, prec).trim()} PRECEDING`;
    rw.splice(frame, startEnd, `${kind} BETWEEN ${lenText} AND CURRENT ROW`);
  }
  if (!hasOrder) rw.insertBefore(frame, kind === 'RANGE' ? `ORDER BY ${A}."ROWTIME" ` : `ORDER BY ${A}."ROWTIME", ${A}."__SEQ" `);
  return spec;
}

/** Above any arrival number (__SEQ) an engine gives: a RANGE frame's key is ROWTIME (µs) × this + __SEQ. */
const SEQ_SPAN = 2 ** 40;
