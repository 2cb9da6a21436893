// KDA SQL scalar and boolean forms whose syntax or meaning DuckDB does not share, rewritten
// token by token (the calls themselves are DuckDB functions or the macros of engine/kdaFunctions.ts):
//   SUBSTRING(s FROM n [FOR m]) / SUBSTRING(s, n [, m]) → kda_substring…: KDA's rules for a start below 1
//     (the length shrinks, where DuckDB counts from the end) and past the end;
//   SUBSTRING(s FROM 'regex')                           → the first match, NULL when none;
//   SUBSTRING(s SIMILAR 'r1<e>"r2<e>"r3' ESCAPE '<e>')   → the part matching r2 (an anchored regex);
//   ANY(b) / EVERY(b)                                   → bool_or / bool_and (aggregates);
//   LAG(x, n, d) [IGNORE|RESPECT NULLS] OVER w          → the n-th earlier row *within the frame* (DuckDB's
//     lag reads the whole partition), from the frame's rows as a list: quadratic in the frame's size;
//   NTH_VALUE … IGNORE|RESPECT NULLS written after the call → inside it, as DuckDB reads it;
//   NTH_VALUE(x, n) FROM LAST                           → the n-th from the end of the frame's list;
//   CAST(x AS CHAR(n))                                  → padded with spaces to n characters (cut past n);
//   MOD / POWER                                         → macros raising KDA's errors (division by zero, 0^-n, (-x)^0.5);
//   ABS                                                 → a macro that takes intervals too (DuckDB's abs does not);
//   EXTRACT(SECOND FROM x)                              → seconds with milliseconds, DECIMAL(5,3);
//   INTERVAL 'd h:m:s.f' DAY TO SECOND (and the other <unit> TO <unit> forms) → a DuckDB interval;
//   (STEP's, the frames' and the select list's KDA forms: sql/kdaClauses.ts);
//   temporal predicates ((s1, e1) OVERLAPS (s2, e2), …): sql/temporalPredicates.ts.
import { SqlError, isPunct, isWord, stringValue, type Token } from './tokens.js';
import { closing, skip } from './statements.js';
import type { Splicer } from './kdaAggregates.js';
import { rewriteTemporalPredicates } from './temporalPredicates.js';

const COMPARISON = new Set(['=', '<', '>', '<=', '>=', '<>', '!=']);

/** Rewrites the forms above anywhere in a pump's SELECT. */
export function rewriteKdaScalars(tokens: Token[], rw: Splicer, A: string): void {
  const sig = (i: number) => skip(tokens, i);
  for (let k = 0; k < tokens.length; k++) {
    const t = tokens[k]!;
    // (An INTERVAL already consumed, e.g. by STEP's rewrite into a bucket width, renders as nothing.)
    if (isWord(t, 'INTERVAL')) { if (rw.render(k, k + 1).trim()) k = compoundInterval(tokens, rw, k) - 1; continue; }
    if (t.kind !== 'ident' || isPunct(tokens[k - 1], '.')) continue;
    if (t.upper === 'X' && tokens[k + 1]?.kind === 'string') {
      // X'0FA1' (a BINARY/VARBINARY literal): DuckDB would read it as a string; refused, not mistranslated.
      throw new SqlError("binary literals (X'…') are not supported", t.pos);
    }
    const open = sig(k + 1);
    if (!isPunct(tokens[open], '(')) continue;
    const close = closing(tokens, open);
    if (t.upper === 'EXISTS' || (t.upper === 'IN' && isWord(tokens[sig(open + 1)], 'SELECT'))) {
      throw new SqlError(`sub-queries in conditions (${t.upper === 'IN' ? 'IN (SELECT …)' : 'EXISTS (…)'}) are not supported: join a reference table instead`, t.pos);
    }
    if (t.upper === 'SUBSTRING') substring(tokens, rw, k, open, close);
    else if (t.upper === 'TRIM') trimCharacter(tokens, open, close);
    else if (t.upper === 'EVERY') rw.splice(k, k + 1, 'bool_and');
    else if (t.upper === 'ANY' && !comparisonBefore(tokens, k)) rw.splice(k, k + 1, 'bool_or');
    else if (t.upper === 'LAG' || t.upper === 'NTH_VALUE') { k = nullTreatment(tokens, rw, k, open, close, A) - 1; }
    else if (t.upper === 'CAST') castToChar(tokens, rw, k, open, close);
    else if (t.upper === 'MOD' || t.upper === 'POWER' || t.upper === 'ABS') rw.splice(k, k + 1, `kda_${t.upper.toLowerCase()}`);
    else if (t.upper === 'EXTRACT') extractSecond(tokens, rw, k, open, close);
  }
  rewriteTemporalPredicates(tokens, rw);
}

/** `x = ANY (…)` is DuckDB's (and SQL's) quantified comparison, not KDA's aggregate. */
function comparisonBefore(tokens: Token[], k: number): boolean {
  const p = tokens[prevSig(tokens, k)];
  return p !== undefined && p.kind === 'punct' && COMPARISON.has(p.text);
}

/** Indexes of the top-level tokens of a call's argument list (open < i < close - 1). */
export function topLevel(tokens: Token[], open: number, close: number): number[] {
  const out: number[] = [];
  let d = 0;
  for (let i = open + 1; i < close - 1; i++) {
    const x = tokens[i]!;
    if (isPunct(x, '(')) d++;
    else if (isPunct(x, ')')) d--;
    else if (d === 0 && x.kind !== 'space' && x.kind !== 'comment') out.push(i);
  }
  return out;
}

function substring(tokens: Token[], rw: Splicer, k: number, open: number, close: number) {
  const sig = (i: number) => skip(tokens, i);
  const top = topLevel(tokens, open, close);
  const from = top.find((i) => isWord(tokens[i], 'FROM'));
  const similar = top.find((i) => isWord(tokens[i], 'SIMILAR'));
  if (similar !== undefined) {
    const esc = top.find((i) => isWord(tokens[i], 'ESCAPE'));
    const pat = tokens[sig(similar + 1)];
    const e = esc === undefined ? undefined : tokens[sig(esc + 1)];
    if (pat?.kind !== 'string' || e?.kind !== 'string' || prevSig(tokens, esc!) !== sig(similar + 1) || sig(sig(esc! + 1) + 1) !== close - 1) {
      throw new SqlError('SUBSTRING … SIMILAR: the pattern and the ESCAPE character must be literals', tokens[similar]!.pos);
    }
    const re = similarToRegex(stringValue(pat), stringValue(e), pat.pos);
    rw.splice(k, open + 1, 'kda_substring_regex(');
    rw.splice(similar, close - 1, `, '${re.replace(/'/g, "''")}', 1`);
    return;
  }
  if (from !== undefined) {
    const arg = sig(from + 1);
    const forAt = top.find((i) => isWord(tokens[i], 'FOR'));
    if (tokens[arg]?.kind === 'string' && forAt === undefined && sig(arg + 1) === close - 1) {
      // FROM '<regex>': KDA's extension (Java regex; RE2 here, so lookaround and backreferences fail).
      rw.splice(k, open + 1, 'kda_substring_regex(');
      rw.splice(from, from + 1, ',');
      rw.insertBefore(close - 1, ', 0');
      return;
    }
    rw.splice(k, open + 1, 'kda_substring(');
    rw.splice(from, from + 1, ',');
    if (forAt !== undefined) rw.splice(forAt, forAt + 1, ',');
    rw.insertBefore(close - 1, ', false');
    return;
  }
  const commas = top.filter((i) => isPunct(tokens[i], ','));
  if (commas.length === 1 || commas.length === 2) {
    rw.splice(k, open + 1, 'kda_substring(');
    rw.insertBefore(close - 1, ', true');
  }
}

/** EXTRACT(SECOND FROM x): KDA gives the seconds with their milliseconds (DECIMAL(5,3)); DuckDB whole seconds. */
function extractSecond(tokens: Token[], rw: Splicer, k: number, open: number, close: number) {
  const sig = (i: number) => skip(tokens, i);
  const unit = sig(open + 1);
  if (!isWord(tokens[unit], 'SECOND') || !isWord(tokens[sig(unit + 1)], 'FROM')) return;
  rw.splice(k, unit + 1, 'CAST(extract(millisecond');
  rw.insertBefore(close, ' / 1000.0 AS DECIMAL(5,3))');
}

export const FIELDS = ['YEAR', 'MONTH', 'DAY', 'HOUR', 'MINUTE', 'SECOND'];

/**
 * INTERVAL '<fields>' <from unit> TO <to unit> (SQL's compound interval literal, e.g. '2 3:4:5.678'
 * DAY TO SECOND, '1-2' YEAR TO MONTH), which DuckDB's parser refuses, as one DuckDB interval.
 * Returns the index after the literal (after INTERVAL when it is not one).
 */
function compoundInterval(tokens: Token[], rw: Splicer, k: number): number {
  const sig = (i: number) => skip(tokens, i);
  const lit = tokens[sig(k + 1)];
  const from = tokens[sig(sig(k + 1) + 1)];
  const to = sig(sig(sig(k + 1) + 1) + 1);
  const until = tokens[sig(to + 1)];
  if (lit?.kind !== 'string' || !isWord(from, ...FIELDS) || !isWord(tokens[to], 'TO') || !isWord(until, ...FIELDS)) return k + 1;
  const a = FIELDS.indexOf(from!.upper);
  const b = FIELDS.indexOf(until!.upper);
  const text = stringValue(lit).trim();
  const neg = text.startsWith('-');
  const nums = text.replace(/^[-+]/, '').split(/[-: ]/);
  const ok = b > a && (a >= 2 || b === 1) && nums.length === b - a + 1 && nums.every((n, i) => (i === nums.length - 1 && b === 5 ? /^\d+(\.\d+)?$/ : /^\d+$/).test(n));
  if (!ok) throw new SqlError(`INTERVAL '${text}' ${from!.upper} TO ${until!.upper} is not a valid interval literal`, lit.pos);
  const parts = nums.map((n, i) => `${n} ${FIELDS[a + i]!.toLowerCase()}s`).join(' ');
  rw.splice(k, sig(to + 1) + 1, `${neg ? '-' : ''}INTERVAL '${parts}'`);
  return sig(to + 1) + 1;
}

/** TRIM(… 'c' FROM s): KDA raises an exception for a trim character that is empty or longer than one (DuckDB would trim any of them). */
function trimCharacter(tokens: Token[], open: number, close: number) {
  const top = topLevel(tokens, open, close);
  const from = top.findIndex((i) => isWord(tokens[i], 'FROM'));
  const c = from > 0 ? tokens[top[from - 1]!] : undefined;
  if (c?.kind === 'string' && [...stringValue(c)].length !== 1) throw new SqlError(`TRIM: the trim character must be one character, not '${stringValue(c)}'`, c.pos);
}

/** CAST(x AS CHAR|CHARACTER(n)): KDA's CHAR is fixed-length (CHAR_LENGTH of CAST('fred' AS CHAR(16)) is 16); DuckDB's is VARCHAR. */
function castToChar(tokens: Token[], rw: Splicer, k: number, open: number, close: number) {
  const sig = (i: number) => skip(tokens, i);
  const as = topLevel(tokens, open, close).filter((i) => isWord(tokens[i], 'AS')).pop();
  if (as === undefined || !isWord(tokens[sig(as + 1)], 'CHAR', 'CHARACTER')) return;
  const p = sig(sig(as + 1) + 1);
  const n = tokens[sig(p + 1)];
  if (!isPunct(tokens[p], '(') || n?.kind !== 'number' || !isPunct(tokens[sig(sig(p + 1) + 1)], ')') || sig(sig(sig(p + 1) + 1) + 1) !== close - 1) return;
  rw.splice(k, open + 1, 'rpad(CAST(');
  rw.splice(as, close, `AS VARCHAR), ${n.text}, ' ')`);
}

/** The index of the significant token before i (-1 at the start). */
export function prevSig(tokens: Token[], i: number): number {
  let p = i - 1;
  while (p >= 0 && (tokens[p]!.kind === 'space' || tokens[p]!.kind === 'comment')) p--;
  return p;
}

/**
 * A SQL SIMILAR pattern `r1<e>"r2<e>"r3` as an RE2 regex (first match) whose group 1 is r2: `%` any
 * string, `_` any character, `<e>x` the character x; `| * + ? { } ( ) [ ]` keep their meaning;
 * other characters are literal. r1 matches as little as it can, r2 and r3 as much.
 */
export function similarToRegex(p: string, e: string, pos: number): string {
  if ([...e].length !== 1) throw new SqlError(`SUBSTRING … SIMILAR: the ESCAPE must be one character, not '${e}'`, pos);
  const parts: string[] = [''];
  const chars = [...p];
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i]!;
    if (c === e && i + 1 < chars.length) {
      const n = chars[++i]!;
      if (n === '"') { parts.push(''); continue; }
      parts[parts.length - 1] += n.replace(/[\\^$.|?*+()[\]{}]/g, '\\$&');
    } else if (c === '%') parts[parts.length - 1] += '.*';
    else if (c === '_') parts[parts.length - 1] += '.';
    else if ('|*+?{}()[]'.includes(c)) parts[parts.length - 1] += c;
    else parts[parts.length - 1] += c.replace(/[\\^$.]/g, '\\$&');
  }
  if (parts.length !== 3) throw new SqlError(`SUBSTRING … SIMILAR: the pattern needs two ${e}" separators around the part to return`, pos);
  const lazy = parts[0]!.replace(/(\.\*|\*|\+|\?|\})(?!\?)/g, '$1?');
  // Not anchored: KDA returns '456' for '123456789' SIMILAR '23#"456#"78' (the reference's example).
  return `(?s:${lazy})(${parts[1]})(?:${parts[2]})`;
}

/**
 * LAG(…) / NTH_VALUE(…) [FROM FIRST|LAST] [IGNORE|RESPECT NULLS] OVER …: DuckDB takes the null
 * treatment inside the call. FROM LAST (DuckDB has none) reads the frame's values as a list, last first.
 * Returns the index after what was rewritten.
 */
function nullTreatment(tokens: Token[], rw: Splicer, k: number, open: number, close: number, A: string): number {
  const sig = (i: number) => skip(tokens, i);
  let at = sig(close);
  let fromLast = false;
  let after = close;
  if (tokens[k]!.upper === 'NTH_VALUE' && isWord(tokens[at], 'FROM') && isWord(tokens[sig(at + 1)], 'FIRST', 'LAST')) {
    fromLast = tokens[sig(at + 1)]!.upper === 'LAST';
    after = sig(at + 1) + 1;
    at = sig(after);
  }
  let ignore = false;
  if (isWord(tokens[at], 'IGNORE', 'RESPECT') && isWord(tokens[sig(at + 1)], 'NULLS')) {
    ignore = tokens[at]!.upper === 'IGNORE';
    after = sig(at + 1) + 1;
  }
  if (tokens[k]!.upper === 'LAG') return lag(tokens, rw, k, open, close, after, ignore, A);
  if (after === close) return close;
  if (!fromLast) {
    if (ignore) rw.insertBefore(close - 1, ' IGNORE NULLS');
    rw.splice(close, after, ' ');
    return after;
  }
  // NTH_VALUE(x, n) FROM LAST … OVER w → (list(x) OVER w)[-n], NULLs dropped first for IGNORE NULLS.
  const top = topLevel(tokens, open, close);
  const comma = top.find((i) => isPunct(tokens[i], ','));
  if (comma === undefined || top.some((i) => i > comma && isPunct(tokens[i], ','))) throw new SqlError('NTH_VALUE takes (value, n)', tokens[k]!.pos);
  const over = sig(after);
  if (!isWord(tokens[over], 'OVER')) throw new SqlError('NTH_VALUE … FROM LAST needs OVER', tokens[over]?.pos ?? tokens[k]!.pos);
  const w = sig(over + 1);
  const wEnd = isPunct(tokens[w], '(') ? closing(tokens, w) : w + 1;
  rw.splice(k, open + 1, ignore ? '(list_filter(list(' : '(list(');
  rw.splice(comma, comma + 1, ') ');
  // `n` stays where it was: cut it out and put it in the index after the OVER clause.
  const nText = rw.render(comma + 1, close - 1);
  rw.splice(comma + 1, after, '');
  rw.insertBefore(wEnd, `${ignore ? ', lambda __v: __v IS NOT NULL)' : ''})[-(${nText.trim()})]`);
  return wEnd;
}

/**
 * LAG(x [, n [, d]]) [null treatment] OVER w → kda_lag(list({s: __SEQ, v: x}) OVER w, __SEQ, n, d, ignore):
 * KDA returns d when the n-th earlier row is outside the window (older than its range, more rows back than
 * ROWS n); DuckDB's lag would reach it in the partition. `after`: the index after the null treatment.
 */
function lag(tokens: Token[], rw: Splicer, k: number, open: number, close: number, after: number, ignore: boolean, A: string): number {
  const sig = (i: number) => skip(tokens, i);
  const over = sig(after);
  if (!isWord(tokens[over], 'OVER')) throw new SqlError('LAG needs OVER (a window of the stream)', tokens[k]!.pos);
  const w = sig(over + 1);
  const wEnd = isPunct(tokens[w], '(') ? closing(tokens, w) : w + 1;
  const commas = topLevel(tokens, open, close).filter((i) => isPunct(tokens[i], ','));
  if (commas.length > 2) throw new SqlError('LAG takes (expression [, N [, default]])', tokens[k]!.pos);
  const rest = commas.length ? rw.render(commas[0]! + 1, close - 1).trim() : '1';
  rw.splice(k, open + 1, `kda_lag(list({'s': ${A}."__SEQ", 'v': `);
  rw.splice(commas[0] ?? close - 1, after, '}) ');
  rw.insertBefore(wEnd, `, ${A}."__SEQ", ${rest}${commas.length < 2 ? ', NULL' : ''}, ${ignore})`);
  return wEnd;
}
