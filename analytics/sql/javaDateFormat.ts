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
  return `CREATE OR REPLACE MACRO ${name}(p, ts) AS array_to_string(list_transform(regexp_extract_all(p, ${sq(tokenRe)}), lambda tok: CASE ${cases.join(' ')} ELSE tok END), '')`;
}
