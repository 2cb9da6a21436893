// KDA's order-dependent aggregates, rewritten onto DuckDB so they follow the
// stream's row order (ROWTIME, then arrival `__SEQ`) and never DuckDB's
// unspecified order inside a group or frame:
//   FIRST_VALUE(x) [IGNORE|RESPECT NULLS] [OVER w] → arg_min_null(x, (ROWTIME, __SEQ)) [OVER w]
//   LAST_VALUE(x)  [IGNORE|RESPECT NULLS] [OVER w] → arg_max_null(…); IGNORE NULLS: arg_min / arg_max
//   EXP_AVG(x, INTERVAL …) OVER w                  → windowed sums of exponentially weighted x (see expAvg)
// The same call is an aggregate of a GROUP BY window or, with OVER, a window
// function over a sliding window (the frame's rows: up to the current row in
// ROWTIME then arrival order, as every sliding aggregate's frame, pump.ts windowSpec).
import { SqlError, isPunct, isWord, nameOf, type Token } from './tokens.js';
import { closing, skip } from './statements.js';

/** The parts of pump.ts's rewriter this uses. */
export interface Splicer {
  splice(from: number, to: number, text: string): void;
  insertBefore(i: number, text: string): void;
  /** Tokens [from, to) as rewritten so far. */
  render(from: number, to: number): string;
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
 *
 * Over a named RANGE window (the reference's form) it is a few windowed SUMs, linear in the rows:
 * time is cut into chunks of CHUNK_HALF_LIVES half-lives; a row's weight is taken relative to its
 * chunk's start (at most 2^CHUNK_HALF_LIVES, so no overflow), and a frame of the range spans at most
 * K = range / chunk + 2 chunks, told apart by chunk number mod K: one SUM of weighted values and
 * one of weights per residue, scaled to the current row by kda_exp_avg_chunks. Other frames (ROWS n,
 * an inline OVER (…), ranges over MAX_CHUNKS chunks) take the frame's rows as a list (kda_exp_avg),
 * quadratic in the frame's size.
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
  const named = !isPunct(tokens[spec], '(');
  const specEnd = named ? spec + 1 : closing(tokens, spec);
  const h = iv.ms;
  const t = `epoch_ms(${A}."ROWTIME")`;
  const rangeMs = named ? namedRange(tokens, nameOf(tokens[spec]!), intervalAt) : undefined;
  const chunk = CHUNK_HALF_LIVES * h;
  const K = rangeMs === undefined ? Infinity : Math.floor(rangeMs / chunk) + 2;
  if (K <= MAX_CHUNKS) {
    const x = `CAST(${rw.render(open + 1, comma).trim()} AS DOUBLE)`;
    const w = (m: number) => `kda_exp_avg_weight(${t}, ${x}, ${m}, ${K}, ${chunk}, ${h})`;
    const win = ` OVER ${quoteName(tokens[spec]!)}`;
    const sums = (f: (m: number) => string) => `[${Array.from({ length: K }, (_, m) => `sum(${f(m)})${win}`).join(', ')}]`;
    rw.splice(k, specEnd, `kda_exp_avg_chunks(${t}, ${sums((m) => `${x} * ${w(m)}`)}, ${sums(w)}, ${K}, ${chunk}, ${h})`);
    return;
  }
  rw.splice(k, open + 1, `kda_exp_avg(list(struct_pack(t := ${t}, v := CAST(`);
  rw.splice(comma, close, ' AS DOUBLE)))');
  rw.insertBefore(specEnd, `, ${h})`);
}

/** A chunk of EXP_AVG's fast path, in half-lives: weights within it stay below 2^500 (a DOUBLE holds 2^1023). */
const CHUNK_HALF_LIVES = 500;
/** Above this many chunks per frame (a range over ~7000 half-lives) the windowed SUMs are not worth it. */
const MAX_CHUNKS = 16;

/** The RANGE length of `WINDOW <name> AS (… RANGE [BETWEEN] INTERVAL … PRECEDING …)`; undefined for ROWS or when not found. */
function namedRange(tokens: Token[], name: string, intervalAt: IntervalAt): number | undefined {
  for (let i = 0; i < tokens.length; i++) {
    if (!isWord(tokens[i], 'WINDOW') || depthBetween(tokens, 0, i) !== 0) continue;
    for (let j = i + 1; j < tokens.length; j++) {
      const t = tokens[j]!;
      if ((t.kind !== 'ident' && t.kind !== 'quoted') || nameOf(t).toUpperCase() !== name.toUpperCase() || depthBetween(tokens, 0, j) !== 0) continue;
      const as = skip(tokens, j + 1);
      const open = skip(tokens, as + 1);
      if (!isWord(tokens[as], 'AS') || !isPunct(tokens[open], '(')) continue;
      const close = closing(tokens, open);
      for (let f = open + 1; f < close; f++) {
        if (isWord(tokens[f], 'ROWS')) return undefined;
        if (!isWord(tokens[f], 'RANGE')) continue;
        let n = skip(tokens, f + 1);
        if (isWord(tokens[n], 'BETWEEN')) n = skip(tokens, n + 1);
        return isWord(tokens[n], 'INTERVAL') ? intervalAt(tokens, n).ms : undefined;
      }
      return undefined;
    }
  }
  return undefined;
}

const quoteName = (t: Token) => (t.kind === 'quoted' ? t.text : `"${nameOf(t).replace(/"/g, '""')}"`);

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
