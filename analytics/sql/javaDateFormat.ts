// KDA's datetime conversion functions take Java SimpleDateFormat patterns
// (TIMESTAMP_TO_CHAR('yyyy-MM-dd hh:mm:ss', ts)); DuckDB's strftime/strptime
// take C-style ones. A pattern written as a literal is converted here.
import { SqlError } from './tokens.js';

/** Pattern letters by run length (the longest run first); a run longer than listed uses the longest. */
const LETTERS: Record<string, [number, string][]> = {
  y: [[4, '%Y'], [3, '%Y'], [2, '%y'], [1, '%Y']],
  M: [[4, '%B'], [3, '%b'], [2, '%m'], [1, '%-m']],
  d: [[2, '%d'], [1, '%-d']],
  D: [[3, '%j'], [1, '%-j']],
  H: [[2, '%H'], [1, '%-H']],
  h: [[2, '%I'], [1, '%-I']],
  m: [[2, '%M'], [1, '%-M']],
  s: [[2, '%S'], [1, '%-S']],
  S: [[3, '%g'], [1, '%g']],
  E: [[4, '%A'], [1, '%a']],
  a: [[1, '%p']],
  Z: [[1, '%z']],
  z: [[1, '%Z']],
};

/** The strftime/strptime format of a SimpleDateFormat pattern; SqlError at `pos` for letters it cannot express. */
export function strftimeOf(pattern: string, pos: number): string {
  let out = '';
  for (let i = 0; i < pattern.length;) {
    const c = pattern[i]!;
    if (c === "'") {
      // 'literal text'; '' is a quote.
      if (pattern[i + 1] === "'") { out += "'"; i += 2; continue; }
      const end = pattern.indexOf("'", i + 1);
      if (end < 0) throw new SqlError(`unterminated quote in date format '${pattern}'`, pos);
      out += pattern.slice(i + 1, end).replace(/%/g, '%%');
      i = end + 1;
      continue;
    }
    if (/[A-Za-z]/.test(c)) {
      let j = i;
      while (pattern[j] === c) j++;
      const forms = LETTERS[c];
      if (!forms) throw new SqlError(`date format letter '${c}' in '${pattern}' is not supported`, pos);
      const n = j - i;
      out += (forms.find(([len]) => n >= len) ?? forms[forms.length - 1]!)[1];
      i = j;
      continue;
    }
    out += c === '%' ? '%%' : c;
    i++;
  }
  return out;
}

const sq = (s: string) => `'${s.replace(/'/g, "''")}'`;

/**
 * A DuckDB macro formatting a DATE or TIMESTAMP with a Java pattern that is not a literal (a column,
 * an expression): DuckDB's strftime needs a constant format, so the pattern is split per row into
 * letter runs, quoted text and other characters, and each run is formatted with its own constant
 * format (the same table as strftimeOf). A letter with no equivalent or an unterminated quote fails the row.
 */
export function javaFormatMacro(name: string): string {
  const tokenRe = `'(?:[^']|'')*'|${Object.keys(LETTERS).map((c) => `${c}+`).join('|')}|[A-Za-z]|[^A-Za-z']+|'`;
  const cases: string[] = [
    `WHEN tok = '''' THEN error('unterminated quote in the date format ' || p)`,
    `WHEN tok = '''''' THEN ''''`,
    `WHEN tok[1] = '''' THEN replace(tok[2:-2], '''''', '''')`,
  ];
  for (const [c, forms] of Object.entries(LETTERS)) {
    // Longest run first; the shortest form also covers shorter runs.
    for (const [len, fmt] of forms) cases.push(`WHEN tok[1] = ${sq(c)} AND length(tok) >= ${len} THEN strftime(ts, ${sq(fmt)})`);
  }
  cases.push(`WHEN regexp_matches(tok, '^[A-Za-z]') THEN error('date format letter ''' || tok[1] || ''' in ''' || p || ''' is not supported')`);
  return `CREATE OR REPLACE MACRO ${name}(p, ts) AS CASE WHEN ts IS NOT NULL THEN array_to_string(list_transform(regexp_extract_all(p, ${sq(tokenRe)}), lambda tok: CASE ${cases.join(' ')} ELSE tok END), '') END`;
}

/**
 * A DuckDB macro parsing a string with a Java pattern that is not a literal (DuckDB's strptime needs a
 * constant format): per row the pattern becomes a regex with a group per letter run, and the fields are
 * read by their letter. As Java's lenient SimpleDateFormat, a day or month past its range rolls over,
 * and a field the pattern lacks takes its default (1970-01-01 00:00:00). A string that does not match
 * the whole pattern gives NULL; a letter with no meaning here fails the row.
 */
export function javaParseMacro(name: string): string {
  const tokenRe = `'(?:[^']|'')*'|${Object.keys(LETTERS).map((c) => `${c}+`).join('|')}|[A-Za-z]|[^A-Za-z']+|'`;
  const MAX = 9; // regexp_extract reads groups 0–9
  const piece = `CASE WHEN tok = '''' THEN error('unterminated quote in the date format ' || p)
    WHEN tok = '''''' THEN ''''
    WHEN tok[1] = '''' THEN regexp_escape(replace(tok[2:-2], '''''', ''''))
    WHEN tok[1] = 'y' THEN CASE WHEN length(tok) = 2 THEN '(\\d{2})' ELSE '(\\d{1,4})' END
    WHEN tok[1] = 'M' THEN CASE WHEN length(tok) >= 3 THEN '([A-Za-z]+)' ELSE '(\\d{1,2})' END
    WHEN tok[1] IN ('d', 'H', 'h', 'm', 's') THEN '(\\d{1,2})'
    WHEN tok[1] IN ('D', 'S') THEN '(\\d{1,3})'
    WHEN tok[1] IN ('E', 'z') THEN '([A-Za-z]+)'
    WHEN tok[1] = 'a' THEN '([AaPp][Mm])'
    WHEN tok[1] = 'Z' THEN '([+-]\\d{4})'
    WHEN regexp_matches(tok, '^[A-Za-z]') THEN error('date format letter ''' || tok[1] || ''' in ''' || p || ''' is not supported')
    ELSE regexp_escape(tok) END`;
  const at = (c: string) => `list_position(list_transform(lets, lambda t: t[1]), ${sq(c)})`;
  const v = (c: string) => `vals[${at(c)}]`;
  const int = (c: string) => `CAST(${v(c)} AS INTEGER)`;
  const year = `CASE WHEN ${v('y')} IS NULL THEN 1970 WHEN length(lets[${at('y')}]) = 2
      THEN ${int('y')} + CASE WHEN ${int('y')} <= (date_part('year', current_date) + 20) % 100 THEN 2000 ELSE 1900 END ELSE ${int('y')} END`;
  const month = `CASE WHEN ${v('M')} IS NULL THEN 1 WHEN regexp_matches(${v('M')}, '^\\d+$') THEN ${int('M')}
      ELSE list_position(['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'], lower(${v('M')}[1:3])) END`;
  const hour = `CASE WHEN ${v('H')} IS NOT NULL THEN ${int('H')} WHEN ${v('h')} IS NOT NULL THEN ${int('h')} % 12 + CASE WHEN lower(${v('a')}) = 'pm' THEN 12 ELSE 0 END ELSE 0 END`;
  const date = `CASE WHEN ${v('D')} IS NOT NULL THEN make_timestamp(${year}, 1, 1, 0, 0, 0) + to_days(${int('D')} - 1)
      ELSE make_timestamp(${year}, 1, 1, 0, 0, 0) + to_months(${month} - 1) + to_days(coalesce(${int('d')}, 1) - 1) END`;
  const zone = `CASE WHEN ${v('Z')} IS NULL THEN 0 ELSE (CASE WHEN ${v('Z')}[1] = '-' THEN -1 ELSE 1 END) * (CAST(${v('Z')}[2:3] AS INTEGER) * 60 + CAST(${v('Z')}[4:5] AS INTEGER)) END`;
  const ts = `${date} + to_hours(${hour}) + to_minutes(coalesce(${int('m')}, 0) - ${zone}) + to_milliseconds(coalesce(${int('s')}, 0) * 1000 + coalesce(${int('S')}, 0))`;
  const vals = `[${Array.from({ length: MAX }, (_, k) => `CASE WHEN len(lets) >= ${k + 1} THEN regexp_extract(s, rx, ${k + 1}) END`).join(', ')}]`;
  return `CREATE OR REPLACE MACRO ${name}(p, s) AS list_transform([regexp_extract_all(p, ${sq(tokenRe)})], lambda toks:
    list_transform(['^' || array_to_string(list_transform(toks, lambda tok: ${piece}), '') || '$'], lambda rx:
      CASE WHEN regexp_matches(s, rx) THEN
        list_transform([list_filter(toks, lambda t: regexp_matches(t, '^[A-Za-z]'))], lambda lets:
          CASE WHEN len(lets) > ${MAX} THEN error('a date format of more than ${MAX} fields is not supported: ' || p) ELSE
          list_transform([${vals}], lambda vals: ${ts})[1] END)[1]
      END)[1])[1]`;
}
