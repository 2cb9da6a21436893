// KDA SQL forms pump.ts reads while planning (the others are rewritten by sql/kdaScalars.ts):
//   STEP(n BY k) on integers, STEP(ts BY INTERVAL 'n' YEAR|MONTH), compound DAY–SECOND intervals as a
//   length; window frames ending at CURRENT ROW; `(FLOOR x TO unit)`; `expr AS ROWTIME`; and the
//   streaming SELECT DISTINCT that is refused.
import { SqlError, isPunct, isWord, stringValue, type Token } from './tokens.js';
import { closing, skip } from './statements.js';
import type { Splicer } from './kdaAggregates.js';
import { FIELDS, topLevel } from './kdaScalars.js';

/**
 * STEP(<integer> BY <integer literal>): the largest multiple of the step not above the value (the
 * reference's `(x / k) * k` for x >= 0), of the value's type; the value is evaluated once.
 */
export function stepInteger(tokens: Token[], rw: Splicer, k: number, open: number, close: number, by: number): void {
  const sig = (i: number) => skip(tokens, i);
  const n = sig(by + 1);
  if (tokens[n]?.kind !== 'number' || sig(n + 1) !== close - 1 || !/^\d+$/.test(tokens[n]!.text) || Number(tokens[n]!.text) === 0) {
    throw new SqlError('STEP(<integer> BY <n>) needs a positive integer literal after BY', tokens[n]?.pos ?? tokens[by]!.pos);
  }
  const s = tokens[n]!.text;
  rw.splice(k, open + 1, '(list_transform([');
  rw.splice(by, close, `], lambda __s: __s - ((__s % ${s}) + ${s}) % ${s})[1])`);
}

/** STEP(ts BY INTERVAL 'n' YEAR|MONTH): calendar years or months counted from 1970-01-01. */
export function stepCalendar(tokens: Token[], rw: Splicer, k: number, open: number, close: number, by: number): boolean {
  const sig = (i: number) => skip(tokens, i);
  const iv = sig(by + 1);
  const lit = tokens[sig(iv + 1)];
  const unit = tokens[sig(sig(iv + 1) + 1)];
  if (!isWord(tokens[iv], 'INTERVAL') || !isWord(unit, 'YEAR', 'MONTH') || lit?.kind !== 'string') return false;
  const n = Number(stringValue(lit).trim());
  if (!Number.isInteger(n) || n <= 0) throw new SqlError(`STEP … BY INTERVAL: '${stringValue(lit)}' is not a positive whole number`, lit.pos);
  if (sig(sig(sig(iv + 1) + 1) + 1) !== close - 1) throw new SqlError('STEP … BY INTERVAL: expected )', unit!.pos);
  rw.splice(k, open + 1, `time_bucket(INTERVAL '${n} ${unit!.upper.toLowerCase()}', `);
  rw.splice(by, close, `, TIMESTAMP '1970-01-01 00:00:00')`);
  return true;
}

/**
 * KDA's streaming SELECT DISTINCT emits each new row of a monotonic expression's period as it arrives
 * (e.g. `DISTINCT prodId, FLOOR(ROWTIME TO DAY)`): state across batches that a pump without a GROUP BY
 * window does not keep here, so it is refused rather than deduplicated per batch. `select` is the index of
 * the top-level SELECT; `windowed` whether the pump groups by a window (DISTINCT over its rows is exact).
 */
export function refuseStreamingDistinct(tokens: Token[], select: number, windowed: boolean): void {
  let d = skip(tokens, select + 1);
  if (isWord(tokens[d], 'STREAM')) d = skip(tokens, d + 1);
  if (!windowed && isWord(tokens[d], 'DISTINCT')) {
    throw new SqlError('SELECT STREAM DISTINCT without a GROUP BY window is not supported (rows would be deduplicated only within a batch): use GROUP BY FLOOR(ROWTIME TO …) or STEP(ROWTIME BY …) with the columns', tokens[d]!.pos);
  }
}

/**
 * `(FLOOR x TO unit)`, as the ANY and EVERY pages write their GROUP BY, is `FLOOR(x TO unit)`: the two
 * tokens are swapped in place (each keeps its position), so every later step sees the usual form.
 */
export function normalizeFloorForm(tokens: Token[]): void {
  for (let i = 0; i < tokens.length; i++) {
    if (!isPunct(tokens[i], '(')) continue;
    const f = skip(tokens, i + 1);
    if (!isWord(tokens[f], 'FLOOR', 'CEIL', 'CEILING') || isPunct(tokens[skip(tokens, f + 1)], '(')) continue;
    const close = closing(tokens, i);
    if (!topLevel(tokens, i, close).some((k) => isWord(tokens[k], 'TO'))) continue;
    [tokens[i], tokens[f]] = [tokens[f]!, tokens[i]!];
  }
}

/** `CURRENT ROW` at i: the index after it, else 0. */
export function currentRowAt(tokens: Token[], i: number): number {
  return isWord(tokens[i], 'CURRENT') && isWord(tokens[skip(tokens, i + 1)], 'ROW') ? skip(tokens, i + 1) + 1 : 0;
}

/**
 * A window frame `BETWEEN … AND <end>` (i: after the start bound) must end at CURRENT ROW: KDA supports
 * windows that end with the current row; a FOLLOWING end would see rows that have not arrived.
 * Returns the index after `CURRENT ROW`.
 */
export function windowEndsAtCurrentRow(tokens: Token[], i: number): number {
  const and = skip(tokens, i);
  const end = isWord(tokens[and], 'AND') ? currentRowAt(tokens, skip(tokens, and + 1)) : 0;
  if (!end) {
    throw new SqlError('a window on a stream ends at the current row: use BETWEEN … PRECEDING AND CURRENT ROW (FOLLOWING is not allowed)', tokens[and]?.pos ?? tokens[i - 1]!.pos);
  }
  return end;
}

const FIELD_MS: Record<string, number> = { DAY: 86_400_000, HOUR: 3_600_000, MINUTE: 60_000, SECOND: 1000 };

/**
 * INTERVAL '<fields>' <unit> TO <unit> at i as milliseconds (window frames and STEP need a fixed
 * length): DAY TO SECOND and its sub-ranges; undefined when i holds no compound interval.
 */
export function compoundIntervalMs(tokens: Token[], i: number): { ms: number; end: number } | undefined {
  const sig = (n: number) => skip(tokens, n);
  const lit = tokens[sig(i + 1)];
  const from = tokens[sig(sig(i + 1) + 1)];
  const to = sig(sig(sig(i + 1) + 1) + 1);
  const until = tokens[sig(to + 1)];
  if (!isWord(tokens[i], 'INTERVAL') || lit?.kind !== 'string' || !isWord(from, ...FIELDS) || !isWord(tokens[to], 'TO') || !isWord(until, ...FIELDS)) return undefined;
  if (FIELD_MS[from!.upper] === undefined) throw new SqlError(`INTERVAL … ${from!.upper} TO ${until!.upper} has no fixed length: use DAY, HOUR, MINUTE or SECOND fields`, from!.pos);
  const a = FIELDS.indexOf(from!.upper);
  const nums = stringValue(lit).trim().split(/[: ]/);
  if (nums.length !== FIELDS.indexOf(until!.upper) - a + 1 || nums.some((n) => !/^\d+(\.\d+)?$/.test(n))) {
    throw new SqlError(`INTERVAL '${stringValue(lit)}' ${from!.upper} TO ${until!.upper} is not a valid interval literal`, lit.pos);
  }
  const ms = nums.reduce((sum, n, k) => sum + Number(n) * FIELD_MS[FIELDS[a + k]!]!, 0);
  if (!(ms > 0)) throw new SqlError(`interval length must be a positive number, not '${stringValue(lit)}'`, lit.pos);
  return { ms, end: sig(to + 1) + 1 };
}

/**
 * `<expr> AS ROWTIME` in the select list: "a column alias, to override the timestamp on the current
 * row" (the reference's ROWTIME page). The item becomes the output row's ROWTIME ("__ROWTIME") instead
 * of a column; a NULL fails the row (ROWTIME is NOT NULL). Only row-by-row and sliding-window pumps:
 * a window's rows take its end. Returns whether the pump overrides ROWTIME.
 */
export function rowtimeAlias(tokens: Token[], rw: Splicer, select: number, from: number, rowByRow: boolean): boolean {
  let d = 0;
  let itemStart = skip(tokens, select + 1);
  while (isWord(tokens[itemStart], 'STREAM', 'DISTINCT', 'ALL')) itemStart = skip(tokens, itemStart + 1);
  for (let i = itemStart; i < from; i++) {
    const t = tokens[i]!;
    if (isPunct(t, '(')) d++;
    else if (isPunct(t, ')')) d--;
    else if (d === 0 && isPunct(t, ',')) itemStart = skip(tokens, i + 1);
    else if (d === 0 && isWord(t, 'AS') && (tokens[skip(tokens, i + 1)]?.kind === 'ident' || tokens[skip(tokens, i + 1)]?.kind === 'quoted') && tokens[skip(tokens, i + 1)]!.upper === 'ROWTIME') {
      if (!rowByRow) throw new SqlError('AS ROWTIME (overriding the row time) is supported in pumps without a GROUP BY window only: a window\'s rows take its end as ROWTIME', t.pos);
      const name = skip(tokens, i + 1);
      rw.insertBefore(itemStart, 'CAST(kda_rowtime(');
      rw.splice(i, name + 1, ') AS TIMESTAMP) AS "__ROWTIME"');
      return true;
    }
  }
  return false;
}
