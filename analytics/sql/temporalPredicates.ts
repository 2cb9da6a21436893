// The reference's Temporal Predicates: `[PERIOD] (s1, e1) <predicate> [PERIOD] (s2, e2)`, rewritten into
// comparisons of the bounds. The seven the page calls standard SQL get SQL:2011's period semantics
// (periods are half-open [start, end)); `(s, e) CONTAINS t` is the page's own `s <= t AND t < e`. The
// page defines its ten extensions (LEADS, LAGS, STRICTLY …, IMMEDIATELY LEADS/LAGS) only by pictures:
// they are refused by name rather than guessed. Compact chaining (`P1 PRECEDES P2 PRECEDES P3`) works.
import { SqlError, isPunct, isWord, type Token } from './tokens.js';
import { closing, skip } from './statements.js';
import type { Splicer } from './kdaAggregates.js';

type Bounds = { s: string; e: string };
const STANDARD: Record<string, (a: Bounds, b: Bounds) => string> = {
  OVERLAPS: (a, b) => `${a.s} < ${b.e} AND ${b.s} < ${a.e}`,
  CONTAINS: (a, b) => `${a.s} <= ${b.s} AND ${b.e} <= ${a.e}`,
  EQUALS: (a, b) => `${a.s} = ${b.s} AND ${a.e} = ${b.e}`,
  PRECEDES: (a, b) => `${a.e} <= ${b.s}`,
  SUCCEEDS: (a, b) => `${a.s} >= ${b.e}`,
  'IMMEDIATELY PRECEDES': (a, b) => `${a.e} = ${b.s}`,
  'IMMEDIATELY SUCCEEDS': (a, b) => `${a.s} = ${b.e}`,
};
const WORDS = ['OVERLAPS', 'CONTAINS', 'EQUALS', 'PRECEDES', 'SUCCEEDS', 'LEADS', 'LAGS'];
const KEYWORDS_BEFORE = ['SELECT', 'STREAM', 'DISTINCT', 'ALL', 'ON', 'NOT', 'CASE', 'RETURN'];
const STOP = ['AND', 'OR', 'THEN', 'WHEN', 'ELSE', 'END', 'FROM', 'WHERE', 'GROUP', 'HAVING', 'WINDOW', 'ORDER', 'UNION', 'AS'];

/** Rewrites every temporal predicate in tokens (after the other rewrites, whose output it keeps). */
export function rewriteTemporalPredicates(tokens: Token[], rw: Splicer): void {
  const sig = (i: number) => skip(tokens, i);
  for (let k = 0; k < tokens.length; k++) {
    const first = tokens[k];
    if (!isWord(first, 'STRICTLY', 'IMMEDIATELY', ...WORDS)) continue;
    const left = periodEndingBefore(tokens, k);
    if (!left) continue;
    let leftSpan = left;
    let at = k;
    const conds: string[] = [];
    // One predicate, then more as long as the chain goes on (the right period is the next left one).
    for (;;) {
      const mod = isWord(tokens[at], 'STRICTLY', 'IMMEDIATELY') ? tokens[at]!.upper : '';
      const wordAt = mod ? sig(at + 1) : at;
      const word = tokens[wordAt];
      if (!isWord(word, ...WORDS)) throw new SqlError(`expected a temporal predicate after ${mod}`, tokens[at]!.pos);
      const name = (mod ? `${mod} ` : '') + word!.upper;
      const pred = STANDARD[name];
      if (!pred) throw new SqlError(`the temporal predicate ${name} is not supported (only the standard OVERLAPS, CONTAINS, EQUALS, [IMMEDIATELY] PRECEDES and [IMMEDIATELY] SUCCEEDS are)`, tokens[at]!.pos);
      const right = periodAt(tokens, sig(wordAt + 1));
      const a = bounds(tokens, rw, leftSpan);
      if (right) {
        conds.push(pred(a, bounds(tokens, rw, right)));
        leftSpan = right;
        at = sig(right.end);
        if (isWord(tokens[at], 'STRICTLY', 'IMMEDIATELY', ...WORDS)) continue;
        rw.splice(left.start, right.end, `(${conds.join(' AND ')})`);
        k = right.end - 1;
        break;
      }
      // A single TIMESTAMP on the right: only after CONTAINS (`s <= t AND t < e`).
      if (name !== 'CONTAINS') throw new SqlError(`${name} needs a period (start, end) on its right`, word!.pos);
      const from = sig(wordAt + 1);
      let end = from;
      let d = 0;
      for (; end < tokens.length; end++) {
        const t = tokens[end]!;
        if (isPunct(t, '(')) d++;
        else if (isPunct(t, ')')) { if (d === 0) break; d--; }
        else if (d === 0 && (isPunct(t, ',') || isPunct(t, ';') || isWord(t, ...STOP))) break;
      }
      const t = rw.render(from, end).trim();
      if (!t) throw new SqlError('CONTAINS needs a period or a timestamp on its right', word!.pos);
      conds.push(`${a.s} <= (${t}) AND (${t}) < ${a.e}`);
      rw.splice(left.start, end, `(${conds.join(' AND ')}) `);
      k = end - 1;
      break;
    }
  }
}

interface Span { start: number; open: number; comma: number; end: number }

/** `[PERIOD] ( s , e )` starting at i, or undefined. */
function periodAt(tokens: Token[], i: number): Span | undefined {
  const start = i;
  if (isWord(tokens[i], 'PERIOD')) i = skip(tokens, i + 1);
  if (!isPunct(tokens[i], '(')) return undefined;
  const end = closing(tokens, i);
  const comma = topComma(tokens, i, end);
  return comma === undefined ? undefined : { start, open: i, comma, end };
}

/** The period whose ')' is the significant token before k. */
function periodEndingBefore(tokens: Token[], k: number): Span | undefined {
  let p = k - 1;
  while (p >= 0 && (tokens[p]!.kind === 'space' || tokens[p]!.kind === 'comment')) p--;
  if (!isPunct(tokens[p], ')')) return undefined;
  let d = 0;
  let open = p;
  for (; open >= 0; open--) {
    if (isPunct(tokens[open], ')')) d++;
    else if (isPunct(tokens[open], '(') && --d === 0) break;
  }
  if (open < 0) return undefined;
  let before = open - 1;
  while (before >= 0 && (tokens[before]!.kind === 'space' || tokens[before]!.kind === 'comment')) before--;
  // `f(a, b) OVERLAPS …` would be a call, not a period: only a bare or PERIOD-prefixed pair counts.
  if (before >= 0 && (tokens[before]!.kind === 'ident' || tokens[before]!.kind === 'quoted') && !isWord(tokens[before], 'PERIOD', ...STOP, ...KEYWORDS_BEFORE)) return undefined;
  const comma = topComma(tokens, open, p + 1);
  if (comma === undefined) return undefined;
  return { start: isWord(tokens[before], 'PERIOD') ? before : open, open, comma, end: p + 1 };
}

function topComma(tokens: Token[], open: number, end: number): number | undefined {
  let d = 0;
  let comma: number | undefined;
  for (let i = open + 1; i < end - 1; i++) {
    if (isPunct(tokens[i], '(')) d++;
    else if (isPunct(tokens[i], ')')) d--;
    else if (d === 0 && isPunct(tokens[i], ',')) { if (comma !== undefined) return undefined; comma = i; }
  }
  return comma;
}

const bounds = (tokens: Token[], rw: Splicer, p: Span): Bounds =>
  ({ s: `(${rw.render(p.open + 1, p.comma).trim()})`, e: `(${rw.render(p.comma + 1, p.end - 1).trim()})` });
