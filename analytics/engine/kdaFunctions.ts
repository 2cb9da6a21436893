// Kinesis Data Analytics SQL functions DuckDB does not have, as DuckDB macros
// defined in each application's database, so a call is expanded by DuckDB's
// binder (typed, nested, constant-folded) and no token rewriting is needed.
// Functions DuckDB has under KDA's name and meaning (SUBSTRING, POSITION,
// CHAR_LENGTH, TRIM, UPPER, LOWER, ABS, MOD, …) are left to DuckDB.

import { javaFormatMacro, javaParseMacro } from '../sql/javaDateFormat.js';

/** Java's `$n` group references in a replacement string, as RE2's `\n`. */
const JAVA_GROUPS = String.raw`regexp_replace(rep, '\$(\d)', '\\\1', 'g')`;

export const KDA_MACROS: string[] = [
  // TSDIFF(ts1, ts2): ts1 - ts2 in milliseconds (BIGINT), NULL when either is NULL.
  'CREATE OR REPLACE MACRO TSDIFF(a, b) AS epoch_ms(a) - epoch_ms(b)',
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
  // position, every match (occurrence 0) or the first (1) replaced; `$n` in the replacement is group n.
  // Other occurrences fail the row (error_stream) rather than give a different answer.
  `CREATE OR REPLACE MACRO REGEX_REPLACE(s, re, rep, st, occ) AS CASE
     WHEN occ = 0 THEN left(s, st - 1) || regexp_replace(substr(s, st), re, ${JAVA_GROUPS}, 'g')
     WHEN occ = 1 THEN left(s, st - 1) || regexp_replace(substr(s, st), re, ${JAVA_GROUPS})
     ELSE error('REGEX_REPLACE: occurrence ' || occ || ' is not supported (0: every match, 1: the first)') END`,
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
