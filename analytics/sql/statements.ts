// The application code as statements: CREATE [OR REPLACE] STREAM and
// CREATE [OR REPLACE] PUMP … AS INSERT INTO … SELECT STREAM …, the two forms a
// Kinesis Data Analytics SQL application is made of.
import { SqlError, isWord, nameOf, tokenize, type Token } from './tokens.js';

export interface ColumnDef { name: string; sqlType: string }

export interface StreamStmt { kind: 'stream'; name: string; columns: ColumnDef[]; pos: number }

export interface PumpStmt {
  kind: 'pump';
  name: string;
  target: string;
  targetColumns?: string[];
  /** Tokens of the SELECT (spaces and comments included), positions in the application code. */
  select: Token[];
  pos: number;
}

/** CREATE FUNCTION name(params) RETURNS type … RETURN expr: a SQL function (engine: a DuckDB macro). */
export interface FunctionStmt {
  kind: 'function';
  name: string;
  params: ColumnDef[];
  returns: string;
  /** RETURNS NULL ON NULL INPUT. */
  nullOnNull: boolean;
  /** Tokens of the RETURN expression, positions in the application code. */
  body: Token[];
  pos: number;
}

export type Statement = StreamStmt | PumpStmt | FunctionStmt;

/** Index of the next token that is not space or comment, from `i`. */
export function skip(tokens: Token[], i: number): number {
  while (i < tokens.length && (tokens[i]!.kind === 'space' || tokens[i]!.kind === 'comment')) i++;
  return i;
}

/** Index just after the parenthesis that closes the one at `open`. */
export function closing(tokens: Token[], open: number): number {
  let depth = 0;
  for (let i = open; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t.kind !== 'punct') continue;
    if (t.text === '(') depth++;
    else if (t.text === ')' && --depth === 0) return i + 1;
  }
  throw new SqlError("missing ')'", tokens[open]!.pos);
}

class Cursor {
  i = 0;
  constructor(readonly tokens: Token[], readonly endPos: number) {}
  peek(): Token | undefined {
    this.i = skip(this.tokens, this.i);
    return this.tokens[this.i];
  }
  next(): Token {
    const t = this.peek();
    if (!t) throw new SqlError('unexpected end of statement', this.endPos);
    this.i++;
    return t;
  }
  word(...words: string[]): Token {
    const t = this.next();
    if (!isWord(t, ...words)) throw new SqlError(`expected ${words.join(' or ')} but found '${t.text}'`, t.pos);
    return t;
  }
  accept(...words: string[]): boolean {
    if (isWord(this.peek(), ...words)) { this.i++; return true; }
    return false;
  }
  name(what: string): Token {
    const t = this.next();
    if (t.kind !== 'ident' && t.kind !== 'quoted') throw new SqlError(`expected ${what} but found '${t.text}'`, t.pos);
    return t;
  }
  punct(p: string): Token {
    const t = this.next();
    if (t.kind !== 'punct' || t.text !== p) throw new SqlError(`expected '${p}' but found '${t.text}'`, t.pos);
    return t;
  }
}

/** Splits on ';' outside parentheses; empty statements are dropped. */
function split(tokens: Token[]): Token[][] {
  const out: Token[][] = [];
  let cur: Token[] = [];
  let depth = 0;
  for (const t of tokens) {
    if (t.kind === 'punct') {
      if (t.text === '(') depth++;
      else if (t.text === ')') depth--;
      else if (t.text === ';' && depth === 0) { out.push(cur); cur = []; continue; }
    }
    cur.push(t);
  }
  out.push(cur);
  return out.filter((s) => s.some((t) => t.kind !== 'space' && t.kind !== 'comment'));
}

function columnDefs(c: Cursor): ColumnDef[] {
  c.punct('(');
  const cols: ColumnDef[] = [];
  for (;;) {
    const name = nameOf(c.name('a column name'));
    // The type runs to the ',' or ')' at this depth: VARCHAR(4), DECIMAL(10, 2), TIMESTAMP…
    const start = c.peek();
    if (!start) throw new SqlError('unexpected end of statement', c.endPos);
    let type = '';
    for (;;) {
      const t = c.peek();
      if (!t) throw new SqlError("missing ')'", c.endPos);
      if (t.kind === 'punct' && (t.text === ',' || t.text === ')')) break;
      if (t.kind === 'punct' && t.text === '(') {
        const end = closing(c.tokens, c.i);
        type += c.tokens.slice(c.i, end).map((x) => x.text).join('');
        c.i = end;
        continue;
      }
      type += (type && !type.endsWith('(') ? ' ' : '') + c.next().text;
    }
    if (!type) throw new SqlError(`column ${name} has no type`, start.pos);
    cols.push({ name, sqlType: type.toUpperCase() });
    const sep = c.next();
    if (sep.text === ')') break;
    if (sep.text !== ',') throw new SqlError(`expected ',' or ')' but found '${sep.text}'`, sep.pos);
  }
  return cols;
}

export function parseStatements(code: string): Statement[] {
  const out: Statement[] = [];
  for (const tokens of split(tokenize(code))) {
    const end = tokens[tokens.length - 1]!;
    const c = new Cursor(tokens, end.pos + end.text.length);
    const first = c.word('CREATE');
    if (c.accept('OR')) c.word('REPLACE');
    const what = c.word('STREAM', 'PUMP', 'FUNCTION');
    if (what.upper === 'FUNCTION') { out.push(functionStmt(c, first.pos)); continue; }
    if (what.upper === 'STREAM') {
      const name = nameOf(c.name('a stream name'));
      const columns = columnDefs(c);
      if (c.accept('DESCRIPTION')) c.next();
      const extra = c.peek();
      if (extra) throw new SqlError(`unexpected '${extra.text}' after the column list`, extra.pos);
      out.push({ kind: 'stream', name, columns, pos: first.pos });
      continue;
    }
    const name = nameOf(c.name('a pump name'));
    c.accept('STOPPED', 'STARTED');
    c.word('AS');
    c.word('INSERT');
    c.word('INTO');
    const target = nameOf(c.name('a stream name'));
    let targetColumns: string[] | undefined;
    const p = c.peek();
    if (p?.kind === 'punct' && p.text === '(') {
      c.next();
      targetColumns = [];
      for (;;) {
        targetColumns.push(nameOf(c.name('a column name')));
        if (c.next().text === ')') break;
      }
    }
    const sel = c.peek();
    if (!isWord(sel, 'SELECT')) throw new SqlError(`expected SELECT but found '${sel?.text ?? 'end of statement'}'`, sel?.pos ?? c.endPos);
    // `SELECT … UNION ALL SELECT …` merges streams: one pump per branch into the same target (named
    // <pump>, <pump>__UNION_2, …), as a KDA application would write it with several pumps.
    unionBranches(tokens.slice(c.i)).forEach((select, b) => out.push({ kind: 'pump', name: b ? `${name}__UNION_${b + 1}` : name, target, targetColumns, select, pos: first.pos }));
  }
  return out;
}

const FUNCTION_OPTIONS = ['LANGUAGE', 'CONTAINS', 'READS', 'MODIFIES', 'NO', 'DETERMINISTIC', 'NOT', 'RETURNS', 'CALLED', 'SPECIFIC', 'PARAMETER', 'RETURN', 'EXTERNAL'];

/** After CREATE [OR REPLACE] FUNCTION: name ( [p type, …] ) RETURNS type [options] RETURN expr. */
function functionStmt(c: Cursor, pos: number): FunctionStmt {
  const name = nameOf(c.name('a function name'));
  const open = c.peek();
  const params = open?.kind === 'punct' && open.text === '(' && c.tokens[skip(c.tokens, c.i + 1)]?.text === ')' ? (c.i = skip(c.tokens, c.i + 1) + 1, []) : columnDefs(c);
  c.word('RETURNS');
  let returns = '';
  while (c.peek() && !isWord(c.peek(), ...FUNCTION_OPTIONS)) returns += (returns && c.peek()!.text !== '(' && !returns.endsWith('(') ? ' ' : '') + c.next().text;
  if (!returns) throw new SqlError('expected the return type after RETURNS', c.peek()?.pos ?? c.endPos);
  let nullOnNull = false;
  for (;;) {
    const t = c.next();
    if (isWord(t, 'RETURN')) break;
    if (isWord(t, 'EXTERNAL')) throw new SqlError('external (Java) functions are not supported: only CREATE FUNCTION … RETURN <expression>', t.pos);
    if (isWord(t, 'RETURNS') && c.accept('NULL')) { c.word('ON'); c.word('NULL'); c.word('INPUT'); nullOnNull = true; }
  }
  const body = c.tokens.slice(c.i);
  if (c.peek() === undefined) throw new SqlError('expected an expression after RETURN', c.endPos);
  return { kind: 'function', name, params, returns: returns.toUpperCase(), nullOnNull, body, pos };
}

/** The SELECT's tokens split at top-level UNION ALL; UNION without ALL (a DISTINCT over streams) is refused. */
function unionBranches(select: Token[]): Token[][] {
  const out: Token[][] = [];
  let depth = 0;
  let from = 0;
  for (let i = 0; i < select.length; i++) {
    const t = select[i]!;
    if (t.kind === 'punct' && t.text === '(') depth++;
    else if (t.kind === 'punct' && t.text === ')') depth--;
    else if (depth === 0 && isWord(t, 'UNION')) {
      const all = skip(select, i + 1);
      if (!isWord(select[all], 'ALL')) throw new SqlError('UNION without ALL (distinct rows across streams) is not supported: use UNION ALL', t.pos);
      const next = skip(select, all + 1);
      if (!isWord(select[next], 'SELECT')) throw new SqlError(`expected SELECT after UNION ALL but found '${select[next]?.text ?? 'end of statement'}'`, select[next]?.pos ?? t.pos);
      out.push(select.slice(from, i));
      from = next;
      i = next - 1;
    }
  }
  out.push(select.slice(from));
  return out;
}
