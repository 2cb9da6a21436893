// `FROM TABLE(RANDOM_CUT_FOREST(CURSOR(SELECT STREAM …), [numberOfTrees, subSampleSize, timeDecay, shingleSize]))`
// split into what the streaming layer runs: the cursor's query as a pump into a hidden stream, the
// forest between that stream and a second hidden one (the cursor's columns plus ANOMALY_SCORE), and
// the pump's own query reading the second. Each part then is an ordinary row-by-row pump, and the
// forest (engine/randomCutForest.ts) sees the cursor's rows one at a time in ROWTIME order.
import { SqlError, depths, isPunct, isWord, type Token } from './tokens.js';
import { closing, skip, type PumpStmt } from './statements.js';

export interface ForestParams { numberOfTrees: number; subSampleSize: number; timeDecay: number; shingleSize: number }

/** The defaults the KDA SQL reference gives. */
export const FOREST_DEFAULTS: ForestParams = { numberOfTrees: 100, subSampleSize: 256, timeDecay: 100_000, shingleSize: 1 };

export const FOREST_FUNCTIONS = ['RANDOM_CUT_FOREST', 'RANDOM_CUT_FOREST_WITH_EXPLANATION'];

export interface ForestSplit {
  /** The cursor's SELECT into `inStream`. */
  cursor: PumpStmt;
  /** The pump's SELECT, reading `outStream` where it read TABLE(RANDOM_CUT_FOREST(…)). */
  outer: PumpStmt;
  inStream: string;
  outStream: string;
  params: ForestParams;
  /** RANDOM_CUT_FOREST_WITH_EXPLANATION: ANOMALY_EXPLANATION too, with each column's direction when asked. */
  explain?: { directionality: boolean };
}

/** Where the pump's FROM names a forest function: the TABLE keyword's index and the function token; undefined when it does not. */
export function forestCall(stmt: PumpStmt): { tableAt: number; fn: Token } | undefined {
  const tokens = stmt.select;
  const depth = depths(tokens);
  const fromAt = tokens.findIndex((t, i) => depth[i] === 0 && isWord(t, 'FROM'));
  if (fromAt < 0) return undefined;
  const tableAt = skip(tokens, fromAt + 1);
  const open = skip(tokens, tableAt + 1);
  const fn = tokens[skip(tokens, open + 1)];
  if (!isWord(tokens[tableAt], 'TABLE') || !isPunct(tokens[open], '(') || !isWord(fn, ...FOREST_FUNCTIONS)) return undefined;
  return { tableAt, fn: fn! };
}

/** The parts of a forest pump (its `index`-th among the application's), or undefined for any other pump. */
export function splitForestPump(stmt: PumpStmt, index: number): ForestSplit | undefined {
  const call = forestCall(stmt);
  if (!call) return undefined;
  const { tableAt, fn } = call;
  const tokens = stmt.select;
  const sig = (i: number) => skip(tokens, i);
  const open = sig(tableAt + 1);
  const close = closing(tokens, open);
  const fnAt = sig(open + 1);
  const args = sig(fnAt + 1);
  if (!isPunct(tokens[args], '(')) throw new SqlError(`expected '(' after ${fn.upper}`, fn.pos);
  const argsClose = closing(tokens, args);
  if (sig(argsClose) !== close - 1) throw new SqlError(`expected ')' after ${fn.upper}(…)`, tokens[sig(argsClose)]?.pos ?? fn.pos);
  const cursorAt = sig(args + 1);
  const copen = sig(cursorAt + 1);
  if (!isWord(tokens[cursorAt], 'CURSOR') || !isPunct(tokens[copen], '(')) {
    throw new SqlError(`${fn.upper}'s first argument is CURSOR(SELECT STREAM … FROM <stream>)`, tokens[cursorAt]?.pos ?? fn.pos);
  }
  const cclose = closing(tokens, copen);
  const inner = tokens.slice(copen + 1, cclose - 1);
  if (!isWord(inner[skip(inner, 0)], 'SELECT')) throw new SqlError('CURSOR needs SELECT STREAM … FROM <stream>', tokens[copen]!.pos);
  const { params, directionality } = forestParams(tokens, sig(cclose), argsClose - 1, fn);
  const inStream = `__RCF_${index}_IN`;
  const outStream = `__RCF_${index}_OUT`;
  const table = tokens[tableAt]!;
  const name: Token = { kind: 'quoted', text: `"${outStream}"`, pos: table.pos, upper: outStream };
  return {
    cursor: { kind: 'pump', name: `${stmt.name}:CURSOR`, target: inStream, select: inner, pos: stmt.pos },
    outer: { ...stmt, select: [...tokens.slice(0, tableAt), name, ...tokens.slice(close)] },
    inStream,
    outStream,
    params,
    ...(fn.upper === 'RANDOM_CUT_FOREST_WITH_EXPLANATION' ? { explain: { directionality } } : {}),
  };
}

/** The documented ranges (KDA SQL reference, RANDOM_CUT_FOREST). */
const RANGES: [keyof ForestParams, number, number][] = [
  ['numberOfTrees', 1, 1000], ['subSampleSize', 10, 1000], ['timeDecay', 1, 2147483647], ['shingleSize', 1, 30],
];

/**
 * `, n [, n …]` from `i` (after the cursor) to `end` (the call's ')'): the optional parameters, in
 * order; RANDOM_CUT_FOREST_WITH_EXPLANATION's last one is withDirectionality, TRUE or FALSE.
 */
function forestParams(tokens: Token[], i: number, end: number, fn: Token): { params: ForestParams; directionality: boolean } {
  const params = { ...FOREST_DEFAULTS };
  const explain = fn.upper === 'RANDOM_CUT_FOREST_WITH_EXPLANATION';
  const names = [...RANGES.map((r) => r[0]), ...(explain ? ['withDirectionality'] : [])];
  let directionality = false;
  let k = 0;
  while (i < end) {
    if (!isPunct(tokens[i], ',')) throw new SqlError(`expected ',' but found '${tokens[i]?.text}'`, tokens[i]?.pos ?? fn.pos);
    i = skip(tokens, i + 1);
    if (explain && k === RANGES.length) {
      const t = tokens[i];
      if (!isWord(t, 'TRUE', 'FALSE')) throw new SqlError(`${fn.upper}: withDirectionality is TRUE or FALSE, not '${t?.text ?? ''}'`, t?.pos ?? fn.pos);
      directionality = t!.upper === 'TRUE';
      k++;
      i = skip(tokens, i + 1);
      continue;
    }
    const range = RANGES[k++];
    if (!range) throw new SqlError(`${fn.upper} takes at most ${names.length} parameters after the cursor (${names.join(', ')})`, tokens[i]?.pos ?? fn.pos);
    const [name, min, max] = range;
    const neg = isPunct(tokens[i], '-');
    const at = neg ? skip(tokens, i + 1) : i;
    const t = tokens[at];
    const value = t?.kind === 'number' ? Number(t.text) * (neg ? -1 : 1) : NaN;
    if (!Number.isInteger(value) || value < min || value > max) {
      throw new SqlError(`${fn.upper}: ${name} must be an integer from ${min} to ${max}, not '${neg ? '-' : ''}${t?.text ?? ''}'`, tokens[i]?.pos ?? fn.pos);
    }
    params[name] = value;
    i = skip(tokens, at + 1);
  }
  if (params.subSampleSize >= params.timeDecay) {
    throw new SqlError(`${fn.upper}: subSampleSize (${params.subSampleSize}) must be less than timeDecay (${params.timeDecay})`, fn.pos);
  }
  return { params, directionality };
}
