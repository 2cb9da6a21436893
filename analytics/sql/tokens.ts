// A lexer for Kinesis Data Analytics SQL that keeps every character (spaces and
// comments too) with its offset, so a rewrite can be mapped back to the text
// the user wrote when DuckDB reports an error position.

export type TokenKind = 'ident' | 'quoted' | 'string' | 'number' | 'punct' | 'space' | 'comment';

export interface Token {
  kind: TokenKind;
  text: string;
  /** Offset in the application code. */
  pos: number;
  /** Upper-cased identifier or keyword (unquoted), the name as written (quoted). */
  upper: string;
}

export class SqlError extends Error {
  constructor(message: string, readonly pos: number) {
    super(message);
  }
}

const PUNCT2 = new Set(['||', '<=', '>=', '<>', '!=', '::']);

export function tokenize(sql: string, base = 0): Token[] {
  const out: Token[] = [];
  let i = 0;
  const push = (kind: TokenKind, end: number, upper?: string) => {
    const text = sql.slice(i, end);
    out.push({ kind, text, pos: base + i, upper: upper ?? text.toUpperCase() });
    i = end;
  };
  while (i < sql.length) {
    const c = sql[i]!;
    if (/\s/.test(c)) {
      let j = i + 1;
      while (j < sql.length && /\s/.test(sql[j]!)) j++;
      push('space', j);
    } else if (c === '-' && sql[i + 1] === '-') {
      const j = sql.indexOf('\n', i);
      push('comment', j < 0 ? sql.length : j);
    } else if (c === '/' && sql[i + 1] === '*') {
      const j = sql.indexOf('*/', i + 2);
      if (j < 0) throw new SqlError('unterminated comment', base + i);
      push('comment', j + 2);
    } else if (c === '"') {
      let j = i + 1;
      let name = '';
      for (;;) {
        if (j >= sql.length) throw new SqlError('unterminated quoted identifier', base + i);
        if (sql[j] === '"') {
          if (sql[j + 1] === '"') { name += '"'; j += 2; continue; }
          break;
        }
        name += sql[j++];
      }
      push('quoted', j + 1, name);
    } else if (c === "'") {
      let j = i + 1;
      for (;;) {
        if (j >= sql.length) throw new SqlError('unterminated string literal', base + i);
        if (sql[j] === "'") {
          if (sql[j + 1] === "'") { j += 2; continue; }
          break;
        }
        j++;
      }
      push('string', j + 1);
    } else if (/[A-Za-z_]/.test(c)) {
      let j = i + 1;
      while (j < sql.length && /[A-Za-z0-9_$]/.test(sql[j]!)) j++;
      push('ident', j);
    } else if (/[0-9]/.test(c) || (c === '.' && /[0-9]/.test(sql[i + 1] ?? ''))) {
      let j = i + 1;
      while (j < sql.length && /[0-9.eE]/.test(sql[j]!)) j++;
      push('number', j);
    } else if (PUNCT2.has(sql.slice(i, i + 2))) {
      push('punct', i + 2);
    } else {
      push('punct', i + 1);
    }
  }
  return out;
}

/** The string literal's value ('it''s' → it's). */
export const stringValue = (t: Token) => t.text.slice(1, -1).replace(/''/g, "'");

/** Identifier name as KDA resolves it: unquoted names are upper-cased, quoted ones kept. */
export const nameOf = (t: Token) => (t.kind === 'quoted' ? t.upper : t.text.toUpperCase());

export const isWord = (t: Token | undefined, ...words: string[]) => t !== undefined && t.kind === 'ident' && words.includes(t.upper);
export const isPunct = (t: Token | undefined, p: string) => t !== undefined && t.kind === 'punct' && t.text === p;

/** Parenthesis depth of every token (a `(` is at the depth outside it): depth 0 is the statement's top level. */
export function depths(tokens: Token[]): number[] {
  const depth: number[] = [];
  let d = 0;
  for (const t of tokens) {
    if (isPunct(t, ')')) d--;
    depth.push(d);
    if (isPunct(t, '(')) d++;
  }
  return depth;
}

/** Line and column (1-based) of an offset. */
export function lineCol(sql: string, pos: number): { line: number; column: number } {
  let line = 1;
  let last = -1;
  for (let i = 0; i < pos && i < sql.length; i++) if (sql[i] === '\n') { line++; last = i; }
  return { line, column: pos - last };
}
