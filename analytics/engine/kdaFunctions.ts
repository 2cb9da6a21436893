// Kinesis Data Analytics SQL functions DuckDB does not have, as DuckDB macros
// defined in each application's database, so a call is expanded by DuckDB's
// binder (typed, nested, constant-folded) and no token rewriting is needed.
// Functions DuckDB has under KDA's name and meaning (SUBSTRING, POSITION,
// CHAR_LENGTH, TRIM, UPPER, LOWER, ABS, MOD, …) are left to DuckDB.

import { javaFormatMacro, javaParseMacro } from '../sql/javaDateFormat.js';

/** Java's `$n` group references in a replacement string, as RE2's `\n`. */
const JAVA_GROUPS = String.raw`regexp_replace(rep, '\$(\d)', '\\\1', 'g')`;

export const KDA_MACROS: string[] = [
  // TSDIFF(startTime, endTime): endTime - startTime in milliseconds (BIGINT), NULL when either is NULL —
  // the reference's Temporal Predicates page: "Returns the value of (endTime - startTime)", TSDIFF(s,e)
  // meaning CAST((e - s) SECOND(10, 3) * 1000 AS BIGINT). Its TSDIFF page declares the arguments BIGINT
  // milliseconds; applications pass TIMESTAMPs too. A macro cannot branch on its argument's type, so
  // kda_ms reads either through its text (TSDIFF is not on a hot path).
  `CREATE OR REPLACE MACRO kda_ms(x) AS coalesce(TRY_CAST(CAST(x AS VARCHAR) AS BIGINT), epoch_ms(TRY_CAST(CAST(x AS VARCHAR) AS TIMESTAMP)))`,
  'CREATE OR REPLACE MACRO TSDIFF(a, b) AS kda_ms(b) - kda_ms(a)',
  // UNIX_TIMESTAMP(ts): milliseconds since 1970-01-01 00:00:00 UTC.
  'CREATE OR REPLACE MACRO UNIX_TIMESTAMP(a) AS epoch_ms(a)',
  // INITCAP(s): each space-separated word with its first character upper case, the rest lower case.
  "CREATE OR REPLACE MACRO INITCAP(s) AS array_to_string(list_transform(string_split(lower(s), ' '), lambda w: upper(left(w, 1)) || substr(w, 2)), ' ')",
  // OVERLAY(s PLACING r FROM n [FOR m]) (DuckDB parses it into overlay(s, r, n[, m])): s with its m
  // characters from position n replaced by r; m defaults to r's length. A start past the end appends r;
  // a start below 1 prepends, as KDA documents (not SQL:2008's NULL); a negative length is an error.
  `CREATE OR REPLACE MACRO overlay(s, r, n) AS CASE WHEN n IS NOT NULL THEN left(s, greatest(n - 1, 0)) || r || substr(s, greatest(n + length(r), 1)) END,
     (s, r, n, m) AS CASE WHEN m < 0 THEN error('OVERLAY: the length ' || m || ' is negative')
       WHEN n IS NOT NULL AND m IS NOT NULL THEN left(s, greatest(n - 1, 0)) || r || substr(s, greatest(n + m, 1)) END`,
  // CEIL(ts TO unit), as pump.ts rewrites it: ts rounded up to the unit (unchanged when already on it).
  "CREATE OR REPLACE MACRO kda_ceil_to(u, x) AS CASE WHEN date_trunc(u, x) = x THEN x ELSE date_trunc(u, x) + CAST('1 ' || u AS INTERVAL) END",
  // REGEX_REPLACE(original, regex, replacement, startPosition, occurrence): from the 1-based start
  // position, every match (occurrence 0) or the n-th (n >= 1) replaced; `$n` in the replacement is group n.
  // A start below 1 or a negative occurrence fails the row (the reference: "an error is written to the
  // error stream"); a start past the end returns the original. The n-th match: the text split at the
  // matches and the matches themselves (both RE2's successive matches), put back with match n replaced.
  `CREATE OR REPLACE MACRO kda_replace_nth(x, re, rep, n) AS list_transform([{'p': regexp_split_to_array(x, re), 'm': regexp_extract_all(x, re)}], lambda q:
     CASE WHEN len(q.m) < n THEN x ELSE array_to_string(list_transform(range(1, len(q.p) + 1), lambda i:
       q.p[i] || CASE WHEN i > len(q.m) THEN '' WHEN i = n THEN regexp_replace(q.m[i], re, ${JAVA_GROUPS}) ELSE q.m[i] END), '') END)[1]`,
  `CREATE OR REPLACE MACRO REGEX_REPLACE(s, re, rep, st, occ) AS CASE
     WHEN st < 1 THEN error('REGEX_REPLACE: the start position ' || st || ' is below 1')
     WHEN occ < 0 THEN error('REGEX_REPLACE: the occurrence ' || occ || ' is negative')
     WHEN st > length(s) THEN s
     WHEN occ = 0 THEN left(s, st - 1) || regexp_replace(substr(s, st), re, ${JAVA_GROUPS}, 'g')
     WHEN occ = 1 THEN left(s, st - 1) || regexp_replace(substr(s, st), re, ${JAVA_GROUPS})
     ELSE left(s, st - 1) || kda_replace_nth(substr(s, st), re, rep, occ) END`,
  // SUBSTRING(s FROM n [FOR m]) / SUBSTRING(s, n [, m]) as sql/kdaScalars.ts rewrites them (c: the comma form).
  // A start below 1 counts as 1 and shortens the length by 1 - start (DuckDB would count from the end);
  // past the end the FROM form gives '' and the comma form NULL, as the reference's tables show.
  `CREATE OR REPLACE MACRO kda_substring(s, n, c) AS CASE WHEN n IS NULL THEN NULL WHEN c AND n > length(s) THEN NULL ELSE substr(s, greatest(n, 1)) END,
     (s, n, m, c) AS CASE WHEN m < 0 THEN error('SUBSTRING: the length ' || m || ' is negative')
       WHEN n IS NULL OR m IS NULL THEN NULL WHEN c AND n > length(s) THEN NULL
       ELSE substr(s, greatest(n, 1), greatest(m - greatest(1 - n, 0), 0)) END`,
  // SUBSTRING(s FROM 'regex') (group 0) and SUBSTRING(s SIMILAR … ESCAPE …) (group 1): NULL when nothing matches.
  'CREATE OR REPLACE MACRO kda_substring_regex(s, re, g) AS CASE WHEN regexp_matches(s, re) THEN regexp_extract(s, re, g) END',
  // MOD and POWER as sql/kdaScalars.ts renames them, raising the errors the reference documents (the row goes
  // to error_stream) where DuckDB gives NULL or an infinity.
  "CREATE OR REPLACE MACRO kda_mod(a, b) AS CASE WHEN a IS NULL THEN NULL WHEN b = 0 THEN error('MOD: division by zero') ELSE a % b END",
  `CREATE OR REPLACE MACRO kda_power(a, b) AS CASE WHEN a = 0 AND b < 0 THEN error('POWER: zero to a negative power')
     WHEN a < 0 AND b <> trunc(b) THEN error('POWER: a negative base to a power that is not a whole number') ELSE pow(a, b) END`,
  // ABS(x) of a number or an INTERVAL (DuckDB's abs takes numbers only), of x's type.
  'CREATE OR REPLACE MACRO kda_abs(x) AS CASE WHEN x < x - x THEN -x ELSE x END',
  // LAG as sql/kdaScalars.ts rewrites it: l the frame's {s: arrival number, v: value} rows, cur the current
  // row's number; the n-th row before it in the frame (non-null values only when ign), else the default d.
  `CREATE OR REPLACE MACRO kda_lag(l, cur, n, d, ign) AS list_transform(
     [list_sort(list_filter(l, lambda e: e.s < cur AND (NOT ign OR e.v IS NOT NULL)))], lambda p:
       CASE WHEN n = 0 THEN list_filter(l, lambda e: e.s = cur)[1].v WHEN len(p) >= n THEN p[len(p) - n + 1].v ELSE d END)[1]`,
  // `expr AS ROWTIME` (sql/kdaScalars.ts): the row's new ROWTIME, which cannot be NULL.
  "CREATE OR REPLACE MACRO kda_rowtime(x) AS CASE WHEN x IS NULL THEN error('the ROWTIME given AS ROWTIME is NULL') ELSE x END",
  // MONOTONIC(x): x itself, of its type. KDA reads it as the user's promise that x never changes
  // direction, so a GROUP BY may close groups on x; here windows close on ROWTIME (pump.ts), so it only evaluates x.
  'CREATE OR REPLACE MACRO MONOTONIC(x) AS x',
  // EXP_AVG's fast path (sql/kdaAggregates.ts): a row's weight within its chunk of c ms (t epoch ms, h the
  // half-life in ms), counted only in the sum for its chunk number mod k (m); NULL for a NULL value.
  // (DOUBLE throughout: the application's DuckDB divides integers as integers.)
  `CREATE OR REPLACE MACRO kda_exp_avg_weight(t, x, m, k, c, h) AS CASE
     WHEN x IS NOT NULL AND CAST(floor(CAST(t AS DOUBLE) / c) AS BIGINT) % k = m
     THEN pow(2, (CAST(t AS DOUBLE) - floor(CAST(t AS DOUBLE) / c) * c) / CAST(h AS DOUBLE)) END`,
  // … and the current row's (time tc) average from the k sums: residue m is the chunk cm among the
  // current one and the k-1 before it; its sums scale by 2^((cm·c - tc) / h), taken relative to the
  // newest chunk that has a value: its factor is 1, so only values over ~1000 half-lives older than it
  // (weighing under 2^-1000 of it) can underflow to nothing.
  `CREATE OR REPLACE MACRO kda_exp_avg_chunks(tc, nums, dens, k, c, h) AS list_transform(
     [list_filter(list_transform(range(k), lambda m: {
        'e': (CAST((CAST(floor(CAST(tc AS DOUBLE) / c) AS BIGINT) - ((CAST(floor(CAST(tc AS DOUBLE) / c) AS BIGINT) - m) % k + k) % k) * c - tc AS DOUBLE)) / CAST(h AS DOUBLE),
        'n': nums[m + 1], 'd': dens[m + 1]}), lambda p: p.d > 0)], lambda ps:
     list_transform([list_max(list_transform(ps, lambda p: p.e))], lambda top:
       list_sum(list_transform(ps, lambda p: p.n * pow(2, p.e - top))) / list_sum(list_transform(ps, lambda p: p.d * pow(2, p.e - top))))[1])[1]`,
  // EXP_AVG as sql/kdaAggregates.ts rewrites it over other frames: l is the frame's (t: epoch ms, v: DOUBLE) pairs, h the
  // half-life in ms. Weights 2^((t - newest) / h) over the non-null values, relative to the newest so the
  // largest weight is 1 (no overflow however far the epoch); NULL when no value is non-null.
  `CREATE OR REPLACE MACRO kda_exp_avg(l, h) AS list_transform([list_filter(l, lambda e: e.v IS NOT NULL)], lambda nn:
     list_transform([list_max(list_transform(nn, lambda e: e.t))], lambda ref:
       list_sum(list_transform(nn, lambda e: e.v * pow(2, CAST(e.t - ref AS DOUBLE) / h))) / list_sum(list_transform(nn, lambda e: pow(2, CAST(e.t - ref AS DOUBLE) / h))))[1])[1]`,
  // TIMESTAMP_TO_CHAR / DATE_TO_CHAR with a pattern that is not a literal (pump.ts renames the call).
  javaFormatMacro('kda_ts_to_char'),
  // CHAR_TO_TIMESTAMP / CHAR_TO_DATE / CHAR_TO_TIME with a pattern that is not a literal.
  javaParseMacro('kda_char_to_ts'),
];
