// KDA's log parsing functions (REGEX_LOG_PARSE, FAST_REGEX_LOG_PARSE, W3C_LOG_PARSE,
// VARIABLE_COLUMN_LOG_PARSE, FIXED_COLUMN_LOG_PARSE, SYS_LOG_PARSE) as DuckDB expressions.
// Each returns a ROW (a DuckDB STRUCT) whose fields are COLUMN1…COLUMNn or the names of a
// column list, read as `(…).COLUMN1` or `t.r.COLUMN1` as AWS's examples do. Their shape
// depends on the pattern, format or column list, so those arguments must be literals and
// are turned into SQL here; the string parsed is bound once (as the lambda parameter __lp).
import { SqlError } from './tokens.js';
import { strftimeOf } from './javaDateFormat.js';
import { duckType, parseSqlType, TypeError_ } from '../engine/types.js';

export const LOG_PARSERS = ['REGEX_LOG_PARSE', 'FAST_REGEX_LOG_PARSE', 'FAST_REGEX_LOG_PARSER', 'W3C_LOG_PARSE', 'VARIABLE_COLUMN_LOG_PARSE', 'FIXED_COLUMN_LOG_PARSE', 'SYS_LOG_PARSE'];

/** A literal argument after the parsed string: its value and where it is. */
export interface LitArg { kind: 'string' | 'number'; value: string; pos: number }

/** The lambda parameter holding the parsed string. */
export const PARAM = '__lp';

const sqlString = (s: string) => `'${s.replace(/'/g, "''")}'`;
const ident = (s: string) => `"${s.replace(/"/g, '""')}"`;

interface Column { name: string; type?: string; format?: string; start?: number; len?: number; /** A value that is not a number is NULL (W3C's '-'). */ lenient?: boolean }

/** The SQL (a lambda body over __lp) of a log parser call; SqlError at the argument that does not fit. */
export function logParserSql(fn: string, args: LitArg[], pos: number): string {
  const want = (n: number, max = n) => {
    if (args.length < n || args.length > max) throw new SqlError(`${fn} takes ${n === max ? n + 1 : `${n + 1} to ${max + 1}`} argument${max === 0 ? '' : 's'}`, pos);
  };
  const str = (a: LitArg | undefined, what: string): string => {
    if (a?.kind !== 'string') throw new SqlError(`${fn}: ${what} must be a string literal`, a?.pos ?? pos);
    return a.value;
  };
  switch (fn) {
    case 'REGEX_LOG_PARSE': {
      want(1, 2);
      const re = javaRegex(str(args[0], 'the pattern'), args[0]!.pos);
      const cols = args[1] ? columnList(fn, str(args[1], 'the column list'), args[1].pos, false) : undefined;
      return regexParse(fn, re, args[0]!.pos, cols);
    }
    case 'FAST_REGEX_LOG_PARSE':
    case 'FAST_REGEX_LOG_PARSER':
      want(1);
      return fastRegexParse(fn, str(args[0], 'the pattern'), args[0]!.pos);
    case 'W3C_LOG_PARSE': {
      want(1);
      const { re, types } = w3cRegex(str(args[0], 'the format'), args[0]!.pos);
      return regexParse(fn, re, args[0]!.pos, types.map((type, i) => ({ name: `COLUMN${i + 1}`, type, lenient: true })));
    }
    case 'SYS_LOG_PARSE':
      want(0);
      // RFC 3164: "Mmm dd hh:mm:ss" then the rest (host and message). The line carries no year;
      // as Java's SimpleDateFormat, the timestamp is in 1970.
      return `CASE WHEN regexp_full_match(${PARAM}, '(?s)([A-Z][a-z]{2} +\\d{1,2} \\d{2}:\\d{2}:\\d{2}) (.*)') THEN struct_pack("COLUMN1" := strptime('1970 ' || regexp_replace(regexp_extract(${PARAM}, '^\\S+ +\\d+ \\S+'), ' +', ' ', 'g'), '%Y %b %-d %H:%M:%S'), "COLUMN2" := regexp_extract(${PARAM}, '(?s)^\\S+ +\\d+ \\S+ (.*)$', 1)) END`;
    case 'VARIABLE_COLUMN_LOG_PARSE': {
      want(2, 4);
      const c = args[0]!;
      const cols: Column[] = c.kind === 'number'
        ? Array.from({ length: columnCount(fn, c) }, (_, i) => ({ name: `COLUMN${i + 1}` }))
        : columnList(fn, c.value, c.pos, false);
      const delim = str(args[1], 'the delimiter');
      if (delim === '') throw new SqlError(`${fn}: the delimiter is empty`, args[1]!.pos);
      const esc = args[2] ? str(args[2], 'the escape string') : '';
      const quote = args[3] ? str(args[3], 'the quote string') : '';
      if (esc.length > 1) throw new SqlError(`${fn}: the escape string is one character`, args[2]!.pos);
      if (quote.length > 2) throw new SqlError(`${fn}: the quote string is one or two characters`, args[3]!.pos);
      let fields: string;
      if (!esc && !quote) fields = `string_split(${PARAM}, ${sqlString(delim)})`;
      else {
        if (delim.length !== 1) throw new SqlError(`${fn}: with an escape or quote string the delimiter must be one character`, args[1]!.pos);
        const d = reClass(delim);
        const alts: string[] = [];
        if (esc) alts.push(`${reChar(esc)}.`);
        if (quote) alts.push(`${reChar(quote[0]!)}[^${reClass(quote[1] ?? quote[0]!)}]*${reChar(quote[1] ?? quote[0]!)}`);
        alts.push(`[^${d}]`);
        // Each field up to a delimiter (one appended to the line), then its quotes and escapes removed.
        let f = `regexp_extract_all(${PARAM} || ${sqlString(delim)}, ${sqlString(`(?s)((?:${alts.join('|')})*)${reChar(delim)}`)}, 1)`;
        const clean: string[] = [];
        if (quote) clean.push(`regexp_replace(__f, ${sqlString(`${reChar(quote[0]!)}([^${reClass(quote[1] ?? quote[0]!)}]*)${reChar(quote[1] ?? quote[0]!)}`)}, '\\1', 'g')`);
        if (esc) clean.push(`regexp_replace(__f, ${sqlString(`(?s)${reChar(esc)}(.)`)}, '\\1', 'g')`);
        for (const c2 of clean) f = `list_transform(${f}, lambda __f: ${c2})`;
        fields = f;
      }
      return `list_transform([${fields}], lambda __lf: struct_pack(${cols.map((col, i) => `${ident(col.name)} := ${convert(fn, `__lf[${i + 1}]`, col, c.pos)}`).join(', ')}))[1]`;
    }
    case 'FIXED_COLUMN_LOG_PARSE': {
      want(1);
      const cols = columnList(fn, str(args[0], 'the column list'), args[0]!.pos, true);
      return `CASE WHEN ${PARAM} IS NOT NULL THEN struct_pack(${cols.map((col) => `${ident(col.name)} := ${convert(fn, `substr(${PARAM}, ${col.start! + 1}${col.len !== undefined ? `, ${col.len}` : ''})`, col, args[0]!.pos)}`).join(', ')}) END`;
    }
  }
  throw new SqlError(`unknown log parser ${fn}`, pos);
}

/** A full match of `re` gives a ROW of its groups (converted to the columns' types); no match gives NULL. */
function regexParse(fn: string, re: string, pos: number, cols?: Column[]): string {
  const n = groupCount(re, fn, pos);
  if (n === 0) throw new SqlError(`${fn}: the pattern has no group (each group is a column)`, pos);
  const columns: Column[] = cols ?? Array.from({ length: n }, (_, i) => ({ name: `COLUMN${i + 1}` }));
  if (columns.length > n) throw new SqlError(`${fn}: ${columns.length} columns but the pattern has ${n} group${n === 1 ? '' : 's'}`, pos);
  // Anchored: regexp_extract takes the first match, which must be the whole string's.
  const P = sqlString(`^(?:${re})$`);
  const names = columns.map((c) => c.name);
  const plain = columns.every((c) => !c.type || parseSqlType(c.type).base === 'VARCHAR');
  const extract = `regexp_extract(${PARAM}, ${P}, [${names.map(sqlString).join(', ')}])`;
  const row = plain ? extract : `list_transform([${extract}], lambda __lm: struct_pack(${columns.map((c) => `${ident(c.name)} := ${convert(fn, `__lm[${sqlString(c.name)}]`, c, pos)}`).join(', ')}))[1]`;
  return `CASE WHEN regexp_matches(${PARAM}, ${P}) THEN ${row} END`;
}

/** A field (VARCHAR) as the column's type: an empty field is NULL for other types; dates by their Java pattern. */
function convert(fn: string, expr: string, col: Column, pos: number): string {
  if (!col.type) return expr;
  let t;
  try { t = parseSqlType(col.type); } catch (e) { throw new SqlError(`${fn}: ${(e as TypeError_).message} for column ${col.name}`, pos); }
  if (t.base === 'VARCHAR' || t.base === 'VARBINARY') return expr;
  const v = `nullif(trim(${expr}), '')`;
  if ((t.base === 'TIMESTAMP' || t.base === 'DATE') && col.format) {
    const ts = `strptime(${v}, ${sqlString(strftimeOf(col.format, pos))})`;
    return t.base === 'DATE' ? `CAST(${ts} AS DATE)` : ts;
  }
  return `${col.lenient ? 'TRY_CAST' : 'CAST'}(${v} AS ${duckType(t)})`;
}

function columnCount(fn: string, a: LitArg): number {
  const n = Number(a.value);
  if (!Number.isInteger(n) || n < 1 || n > 1000) throw new SqlError(`${fn}: the number of columns is an integer from 1 to 1000`, a.pos);
  return n;
}

/** 'NAME [TYPE] type ['format'] [NOT NULL] [START n [FOR m]], …' (START only for fixed columns). */
function columnList(fn: string, text: string, pos: number, fixed: boolean): Column[] {
  const parts: string[] = [];
  let depth = 0;
  let quote = '';
  let cur = '';
  for (const ch of text) {
    if (quote) { if (ch === quote) quote = ''; }
    else if (ch === "'" || ch === '"') quote = ch;
    else if (ch === '(') depth++;
    else if (ch === ')') depth--;
    else if (ch === ',' && depth === 0) { parts.push(cur); cur = ''; continue; }
    cur += ch;
  }
  parts.push(cur);
  const re = /^\s*("(?:[^"]|"")+"|[A-Za-z_][\w$]*)\s+(?:TYPE\s+)?(.+?)(?:\s+'((?:[^']|'')*)')?(?:\s+NOT\s+NULL)?(?:\s+START\s+(\d+)(?:\s+FOR\s+(\d+))?)?\s*$/i;
  return parts.map((p) => {
    const m = re.exec(p);
    if (!m) throw new SqlError(`${fn}: cannot read the column description '${p.trim()}' (name TYPE type${fixed ? ' START n [FOR m]' : ''})`, pos);
    const name = m[1]!.startsWith('"') ? m[1]!.slice(1, -1).replace(/""/g, '"') : m[1]!.toUpperCase();
    if (fixed && m[4] === undefined) throw new SqlError(`${fn}: column ${name} needs START <position>`, pos);
    if (!fixed && m[4] !== undefined) throw new SqlError(`${fn}: START is for FIXED_COLUMN_LOG_PARSE`, pos);
    try { parseSqlType(m[2]!); } catch (e) { throw new SqlError(`${fn}: ${(e as Error).message} for column ${name}`, pos); }
    return { name, type: m[2]!, format: m[3]?.replace(/''/g, "'"), start: m[4] === undefined ? undefined : Number(m[4]), len: m[5] === undefined ? undefined : Number(m[5]) };
  });
}

/** Capturing groups of a regular expression: '(' not escaped, not in a class, not '(?…'  (except named groups). */
function groupCount(re: string, fn: string, pos: number): number {
  let n = 0;
  let depth = 0;
  let inClass = false;
  for (let i = 0; i < re.length; i++) {
    const c = re[i]!;
    if (c === '\\') { i++; continue; }
    if (inClass) { if (c === ']') inClass = false; continue; }
    if (c === '[') { inClass = true; if (re[i + 1] === ']' || (re[i + 1] === '^' && re[i + 2] === ']')) i += re[i + 1] === '^' ? 2 : 1; continue; }
    if (c === ')' && --depth < 0) throw new SqlError(`${fn}: unbalanced ')' in the pattern`, pos);
    if (c !== '(') continue;
    depth++;
    if (re[i + 1] !== '?' || re[i + 2] === 'P' || (re[i + 2] === '<' && re[i + 3] !== '=' && re[i + 3] !== '!')) n++;
  }
  if (depth !== 0 || inClass) throw new SqlError(`${fn}: unterminated ${inClass ? "'['" : "'('"} in the pattern`, pos);
  return n;
}

/** Java regex syntax RE2 spells differently: named groups (?<name>…) are (?P<name>…). Lookaround and backreferences have no RE2 form. */
function javaRegex(re: string, pos: number): string {
  if (/\(\?<?[=!]/.test(re)) throw new SqlError('lookahead and lookbehind ((?=, (?!, (?<=, (?<!) are not supported in patterns', pos);
  if (/\(\?>/.test(re)) throw new SqlError('atomic groups ((?>…)) are not supported in patterns', pos);
  if (/(^|[^\\])[*+?}]\+/.test(re)) throw new SqlError('possessive quantifiers (*+, ++, ?+, {n}+) are not supported in patterns; the plain quantifier matches the same strings here', pos);
  if (/(^|[^\\])\\[1-9]/.test(re)) throw new SqlError('backreferences (\\1…) are not supported in patterns', pos);
  return re.replace(/\(\?<([A-Za-z])/g, '(?P<$1');
}

const POSIX: Record<string, string> = {
  Digit: '[0-9]', Upper: '[A-Z]', Lower: '[a-z]', ASCII: '[\\x00-\\x7F]', Alpha: '[a-zA-Z]', Alnum: '[a-zA-Z0-9]',
  Punct: '[!-/:-@\\[-`{-~]', Blank: '[ \\t]', Space: '[ \\t\\n\\f\\r\\x0B]', Cntrl: '[\\x00-\\x1F\\x7F]', XDigit: '[0-9a-fA-F]',
  Print: '[a-zA-Z0-9!-/:-@\\[-`{-~]', Graph: '[a-zA-Z0-9!-/:-@\\[-`{-~]',
};

/** One element of a Fast Regex sequence: an atom and its quantifier; fixed when it always matches the same length. */
interface FAtom { base: string; q: string; fixed: boolean }
/** A top-level piece of a Fast Regex pattern: a group (its column) or the text between groups. */
interface FItem { group?: number; atoms: FAtom[] }

const atomText = (a: FAtom, lazy: boolean) => a.base + a.q + (lazy && a.q ? '?' : '');

/** The atoms of a Fast Regex sequence (no top-level groups inside): named classes, "strings", @, quantifiers. */
function fastAtoms(p: string, pos: number): FAtom[] {
  const out: FAtom[] = [];
  let alt = false;
  for (let i = 0; i < p.length;) {
    const c = p[i]!;
    let base: string;
    let fixed = true;
    if (c === '\\') { base = p.slice(i, i + 2); i += 2; }
    else if (c === '[') {
      const end = p.indexOf(']', i + 2);
      if (end < 0) throw new SqlError("unterminated '[' in the Fast Regex pattern", pos);
      base = p.slice(i, end + 1); i = end + 1;
    } else if (c === '<') {
      const end = p.indexOf('>', i);
      const name = end < 0 ? '' : p.slice(i + 1, end);
      const range = /^(\d+)-(\d+)$/.exec(name);
      if (POSIX[name]) base = POSIX[name]!;
      else if (range) { base = `(?:${Array.from({ length: Math.min(Number(range[2]) - Number(range[1]) + 1, 1000) }, (_, k) => Number(range[1]) + k).join('|')})`; fixed = false; }
      else throw new SqlError(`unknown named pattern <${name}> in the Fast Regex pattern`, pos);
      i = end + 1;
    } else if (c === '"') {
      const end = p.indexOf('"', i + 1);
      if (end < 0) throw new SqlError('unterminated string in the Fast Regex pattern', pos);
      base = `(?:${reChar(p.slice(i + 1, end))})`; i = end + 1;
    } else if (c === '(') {
      // A nested parenthesis: one atom of variable length, not a column.
      let d = 0;
      let j = i;
      for (; j < p.length; j++) { if (p[j] === '\\') { j++; continue; } if (p[j] === '(') d++; else if (p[j] === ')' && --d === 0) break; }
      if (j >= p.length) throw new SqlError("unterminated '(' in the Fast Regex pattern", pos);
      base = `(?:${fastAtoms(p.slice(i + 1, j), pos).map((a) => atomText(a, false)).join('')})`; fixed = false; i = j + 1;
    } else if (c === '|') { alt = true; out.push({ base: '|', q: '', fixed: false }); i++; continue; }
    else if (c === '@') { out.push({ base: '.', q: '*', fixed: false }); i++; continue; }
    else if (c === '#' || c === '&' || c === '~') throw new SqlError(`'${c}' in a Fast Regex pattern is not supported`, pos);
    else if (c === ')') throw new SqlError("unbalanced ')' in the Fast Regex pattern", pos);
    else { base = c === '.' ? '.' : reChar(c); i++; }
    // The quantifier: a+ is a then a*, a{n,m} is a{n} then a{0,m-n}, so the fixed part can be a delimiter.
    const q = /^(?:[*?+]|\{(\d+)(,(\d*))?\})/.exec(p.slice(i));
    if (!q) { out.push({ base, q: '', fixed }); continue; }
    i += q[0].length;
    if (q[0] === '*' || q[0] === '?') out.push({ base, q: q[0], fixed: false });
    else if (q[0] === '+') out.push({ base, q: '', fixed }, { base, q: '*', fixed: false });
    else {
      const n = Number(q[1]);
      out.push({ base, q: `{${n}}`, fixed });
      if (q[2] !== undefined) out.push({ base, q: q[3] === '' ? '*' : `{0,${Number(q[3]) - n}}`, fixed: false });
    }
  }
  // An alternation makes the whole sequence one variable-length atom.
  return alt ? [{ base: `(?:${out.map((a) => atomText(a, false)).join('')})`, q: '', fixed: false }] : out;
}

/**
 * FAST_REGEX_LOG_PARSE as the SQL reference describes it: the pattern is split into an expression per
 * group and per text between groups; each expression's fixed-length start moves to the end of the
 * expression before it (one wholly fixed is merged into it); the series is then matched in order with
 * no backtracking, a group's expression lazily (it stops at the first place its moved delimiter
 * follows) and the text between groups greedily; the last must reach the end of the input, or there
 * is no row (NULL).
 */
function fastRegexParse(fn: string, pattern: string, pos: number): string {
  const items: FItem[] = [];
  let groups = 0;
  let text = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '\\') { text += pattern.slice(i, i + 2); i++; continue; }
    if (c === '[' || c === '"' || c === '<') {
      const end = pattern.indexOf(c === '[' ? ']' : c === '"' ? '"' : '>', i + 1);
      if (end < 0) throw new SqlError(`unterminated '${c}' in the Fast Regex pattern`, pos);
      text += pattern.slice(i, end + 1); i = end; continue;
    }
    if (c !== '(') { text += c; continue; }
    let d = 0;
    let j = i;
    for (; j < pattern.length; j++) { if (pattern[j] === '\\') { j++; continue; } if (pattern[j] === '(') d++; else if (pattern[j] === ')' && --d === 0) break; }
    if (j >= pattern.length) throw new SqlError("unterminated '(' in the Fast Regex pattern", pos);
    if (text) items.push({ atoms: fastAtoms(text, pos) });
    text = '';
    items.push({ group: ++groups, atoms: fastAtoms(pattern.slice(i + 1, j), pos) });
    i = j;
  }
  if (text) items.push({ atoms: fastAtoms(text, pos) });
  if (groups === 0) throw new SqlError(`${fn}: the pattern has no group (each group is a column)`, pos);
  // Steps: a variable-length part (its group, lazy for a group) and the fixed parts that follow it.
  interface Step { x: string; group?: number; tail: { re: string; group?: number }[] }
  const steps: Step[] = [{ x: '', tail: [] }];
  for (const it of items) {
    let k = 0;
    while (k < it.atoms.length && it.atoms[k]!.fixed) k++;
    if (k > 0) steps[steps.length - 1]!.tail.push({ re: it.atoms.slice(0, k).map((a) => atomText(a, false)).join(''), group: it.group });
    if (k < it.atoms.length) steps.push({ x: it.atoms.slice(k).map((a) => atomText(a, it.group !== undefined)).join(''), group: it.group, tail: [] });
  }
  // One anchored regex over all steps (its preferences are the steps' own: lazy groups, greedy text
  // between) finds a match; it is the no-backtracking one only if every step, matched alone where the
  // steps before it ended, takes exactly what it took there: a step that would have stopped earlier (or
  // gone further) means the series failed, so the row is NULL. One regex and one bound row keep it linear.
  const parts = new Map<number, string[]>();
  const add = (g: number | undefined, sql: string) => { if (g !== undefined) parts.set(g, [...(parts.get(g) ?? []), sql]); };
  const M = '__fm';
  const names: string[] = [];
  let combined = '';
  const checks: string[] = [];
  let offset: string[] = [];
  steps.forEach((st, i) => {
    const stepNames = [`s${i}x`, ...st.tail.map((_, j) => `s${i}t${j}`)];
    combined += `(${st.x})${st.tail.map((t) => `(${t.re})`).join('')}`;
    names.push(...stepNames);
    add(st.group, `${M}.s${i}x`);
    st.tail.forEach((t, j) => add(t.group, `${M}.s${i}t${j}`));
    const len = stepNames.map((n) => `length(${M}.${n})`).join(' + ');
    if (st.x && i < steps.length - 1) {
      const alone = sqlString(`(?s)^(?:${st.x})${st.tail.map((t) => `(?:${t.re})`).join('')}`);
      const rest = offset.length ? `substr(${PARAM}, ${offset.join(' + ')} + 1)` : PARAM;
      checks.push(`length(regexp_extract(${rest}, ${alone}, 0)) = ${len}`);
    }
    offset = [...offset, len];
  });
  const P = sqlString(`(?s)^${combined}$`);
  const row = `struct_pack(${Array.from({ length: groups }, (_, g) => `"COLUMN${g + 1}" := ${(parts.get(g + 1) ?? ["''"]).join(' || ')}`).join(', ')})`;
  return `list_transform([regexp_extract(${PARAM}, ${P}, [${names.map(sqlString).join(', ')}])], lambda ${M}: CASE WHEN regexp_matches(${PARAM}, ${P})${checks.map((c) => ` AND ${c}`).join('')} THEN ${row} END)[1]`;
}

const reChar = (c: string) => c.replace(/[\\.^$|?*+()[\]{}]/g, '\\$&');
const reClass = (c: string) => c.replace(/[\\\]^-]/g, '\\$&');

const W3C_FORMATS: Record<string, string> = {
  COMMON: '%h %l %u %t "%r" %>s %b',
  'COMMON WITH VHOST': '%v %h %l %u %t "%r" %>s %b',
  'NCSA EXTENDED': '%h %l %u %t "%r" %>s %b "%[Referer]i" "%[User-agent]i"',
  REFERER: '%[Referer]i ---> %U',
  AGENT: '%[User-agent]i',
};
/** The specifier letters the SQL reference lists. */
const W3C_LETTERS = 'aABbCDefhHilmnopPqrstTuUvVXIO';
/** Specifiers whose values are numbers (a '-' is NULL); the rest are text. */
const W3C_NUMERIC = new Set(['b', 's', 'D', 'T', 'p', 'P', 'I', 'O']);

/** An Apache log format as a regex with a group per specifier, and each column's type. */
function w3cRegex(format: string, pos: number): { re: string; types: string[] } {
  const f = W3C_FORMATS[format.trim().toUpperCase().replace(/\s+/g, ' ')] ?? format;
  if (f.trim().toUpperCase() === 'IIS') throw new SqlError("W3C_LOG_PARSE: the 'IIS' format is not supported; give its specifiers as a custom format", pos);
  let re = '';
  const types: string[] = [];
  for (let i = 0; i < f.length;) {
    const c = f[i]!;
    if (c !== '%') { re += reChar(c); i++; continue; }
    if (f[i + 1] === '%') { re += '%'; i += 2; continue; }
    // %[!]codes,… [<|>] [{arg}|[arg]] letter
    const m = /^%(?:!?\d{3}(?:,\d{3})*)?[<>]?(?:\{[^}]*\}|\[[^\]]*\])?([a-zA-Z])/.exec(f.slice(i));
    if (!m) throw new SqlError(`W3C_LOG_PARSE: cannot read the specifier at '${f.slice(i, i + 12)}' in the format`, pos);
    const letter = m[1]!;
    if (!W3C_LETTERS.includes(letter)) throw new SqlError(`W3C_LOG_PARSE: unknown format specifier '%${letter}' (${W3C_LETTERS})`, pos);
    const end = i + m[0].length;
    const quoted = f[i - 1] === '"' && f[end] === '"';
    const hasArg = /[{[]/.test(m[0]);
    if (letter === 't' && !hasArg) re += '(\\[[^\\]]*\\])';
    else if (quoted && letter !== 'U') re += '((?:[^"\\\\]|\\\\.)*)';
    else if (letter === 'U') re += '([^\\s?"]*)';
    else if (end >= f.length) re += '(.*)';
    else re += '(\\S*)';
    types.push(W3C_NUMERIC.has(letter) && !hasArg ? 'BIGINT' : 'VARCHAR');
    i = end;
  }
  if (types.length === 0) throw new SqlError(`W3C_LOG_PARSE: the format '${format}' has no specifier (COMMON, COMMON WITH VHOST, NCSA EXTENDED, REFERER, AGENT or %-specifiers)`, pos);
  return { re: '(?s)' + re, types };
}
