// KDA's order-dependent aggregates, rewritten onto DuckDB so they follow the
// stream's row order (ROWTIME, then arrival `__SEQ`) and never DuckDB's
// unspecified order inside a group or frame:
//   FIRST_VALUE(x) [IGNORE|RESPECT NULLS] [OVER w] → arg_min_null(x, (ROWTIME, __SEQ)) [OVER w]
//   LAST_VALUE(x)  [IGNORE|RESPECT NULLS] [OVER w] → arg_max_null(…); IGNORE NULLS: arg_min / arg_max
//   EXP_AVG(x, INTERVAL …) OVER w                  → kda_exp_avg(list((t, x)) OVER w, half-life ms)
// The same call is an aggregate of a GROUP BY window or, with OVER, a window
// function over a sliding window (the frame's rows, peers included, as the
// engine evaluates every sliding aggregate).
import { SqlError, isPunct, isWord, type Token } from './tokens.js';
import { closing, skip } from './statements.js';

/** The parts of pump.ts's rewriter this uses. */
export interface Splicer {
  splice(from: number, to: number, text: string): void;
  insertBefore(i: number, text: string): void;
}

/** pump.ts's `INTERVAL 'n' UNIT` parser (milliseconds and the index after it). */
export type IntervalAt = (tokens: Token[], i: number) => { ms: number; end: number };

/**
 * Rewrites FIRST_VALUE, LAST_VALUE and EXP_AVG calls anywhere in the pump's
 * SELECT. `A` is the quoted name of the source (its rows carry ROWTIME and __SEQ).
 */
export function rewriteKdaAggregates(tokens: Token[], rw: Splicer, A: string, intervalAt: IntervalAt): void {
  const sig = (i: number) => skip(tokens, i);
  const order = `(${A}."ROWTIME", ${A}."__SEQ")`;
  for (let k = 0; k < tokens.length; k++) {
    const t = tokens[k]!;
    if (!isWord(t, 'FIRST_VALUE', 'LAST_VALUE', 'EXP_AVG') || isPunct(tokens[k - 1], '.')) continue;
    const open = sig(k + 1);
    if (!isPunct(tokens[open], '(')) continue;
    const close = closing(tokens, open);
    if (sig(open + 1) === close - 1) throw new SqlError(`${t.upper} needs an argument`, t.pos);
    if (t.upper === 'EXP_AVG') { expAvg(tokens, rw, A, intervalAt, k, open, close); k = close - 1; continue; }
    // Null treatment: KDA writes it after the call, DuckDB inside it; both are read here.
    let ignore = false;
    let argEnd = close - 1;
    const inner = lastTwo(tokens, open, close - 1);
    if (inner && isWord(tokens[inner[1]], 'NULLS') && isWord(tokens[inner[0]], 'IGNORE', 'RESPECT')) {
      ignore = tokens[inner[0]]!.upper === 'IGNORE';
      argEnd = inner[0];
    }
    let after = close;
    const n1 = sig(close);
    if (isWord(tokens[n1], 'IGNORE', 'RESPECT') && isWord(tokens[sig(n1 + 1)], 'NULLS')) {
      ignore = tokens[n1]!.upper === 'IGNORE';
      after = sig(n1 + 1) + 1;
    }
    for (let j = open + 1; j < argEnd; j++) {
      if (isPunct(tokens[j], ',') && depthBetween(tokens, open, j) === 1) throw new SqlError(`${t.upper} takes one value expression`, tokens[j]!.pos);
    }
    const fn = t.upper === 'FIRST_VALUE' ? (ignore ? 'arg_min' : 'arg_min_null') : ignore ? 'arg_max' : 'arg_max_null';
    rw.splice(k, open + 1, `${fn}(`);
    rw.splice(argEnd, after, `, ${order})${after > close ? ' ' : ''}`);
    k = after - 1;
  }
}

/**
 * EXP_AVG(x, INTERVAL …) OVER w: x weighted by 2^((t - newest) / half-life) over the frame, t the
 * row's ROWTIME (the weight halves every half-life back in time, as KDA documents: with a 10 s
 * half-life, prices 10 s older weigh half). Null values are left out; no values give NULL.
 */
function expAvg(tokens: Token[], rw: Splicer, A: string, intervalAt: IntervalAt, k: number, open: number, close: number): void {
  const fnTok = tokens[k]!;
  let comma = -1;
  for (let j = open + 1; j < close - 1; j++) if (isPunct(tokens[j], ',') && depthBetween(tokens, open, j) === 1) comma = j;
  if (comma < 0) throw new SqlError('EXP_AVG takes (expression, <time interval>), e.g. EXP_AVG(price, INTERVAL \'10\' SECOND)', fnTok.pos);
  const ivAt = skip(tokens, comma + 1);
  if (!isWord(tokens[ivAt], 'INTERVAL')) throw new SqlError('EXP_AVG\'s second argument is the half-life, a literal INTERVAL, e.g. INTERVAL \'10\' SECOND', tokens[ivAt]?.pos ?? fnTok.pos);
  const iv = intervalAt(tokens, ivAt);
  if (skip(tokens, iv.end) !== close - 1) throw new SqlError('EXP_AVG takes (expression, <time interval>)', tokens[skip(tokens, iv.end)]?.pos ?? fnTok.pos);
  const over = skip(tokens, close);
  if (!isWord(tokens[over], 'OVER')) throw new SqlError('EXP_AVG needs OVER <window>: its weights are relative to the current row of a sliding window (WINDOW w AS (… RANGE INTERVAL … PRECEDING))', fnTok.pos);
  const spec = skip(tokens, over + 1);
  const specEnd = isPunct(tokens[spec], '(') ? closing(tokens, spec) : spec + 1;
  rw.splice(k, open + 1, `kda_exp_avg(list(struct_pack(t := epoch_ms(${A}."ROWTIME"), v := CAST(`);
  rw.splice(comma, close, ' AS DOUBLE)))');
  rw.insertBefore(specEnd, `, ${iv.ms})`);
}

/** Paren depth of token `j` relative to the token before `open` (1: an argument of the call at `open`). */
function depthBetween(tokens: Token[], open: number, j: number): number {
  let d = 0;
  for (let i = open; i < j; i++) {
    if (isPunct(tokens[i], '(')) d++;
    else if (isPunct(tokens[i], ')')) d--;
  }
  return d;
}

/** The last two significant tokens in (from, to), or undefined when there are fewer. */
function lastTwo(tokens: Token[], from: number, to: number): [number, number] | undefined {
  const found: number[] = [];
  for (let i = to - 1; i > from && found.length < 2; i--) if (tokens[i]!.kind !== 'space' && tokens[i]!.kind !== 'comment') found.unshift(i);
  return found.length === 2 ? [found[0]!, found[1]!] : undefined;
}
