// Which applications are pass-through: every pump is stateless (a projection,
// filter, expressions, reference-data joins; no window, no aggregate, no
// DISTINCT or ORDER BY, which the engine would apply per read batch). Such an
// application gives the same rows whichever process reads a shard, so every
// replica runs it over the shards it leases (worker/passThrough.ts) and emits
// its rows itself, instead of one active replica running it all.
import { parseStatements } from './statements.js';
import { planPump } from './pump.js';
import { forestCall } from './randomCutForest.js';
import { depths, isPunct, isWord } from './tokens.js';
import { AGGREGATES } from './aggregates.js';
import type { ApplicationDefinition } from '../../contract/analytics.js';

export type PassThroughPlan = { passThrough: true } | { passThrough: false; reason: string };

export function passThroughPlan(def: ApplicationDefinition): PassThroughPlan {
  let stmts;
  try {
    stmts = parseStatements(def.code);
  } catch (e) {
    return { passThrough: false, reason: (e as Error).message };
  }
  // HTTP and Lambda outputs are at-least-once through the active replica's checkpoint (runner.ts).
  const other = def.outputs.find((o) => o.destination.kind !== 'stream' && o.destination.kind !== 'firehose');
  if (other) return { passThrough: false, reason: `output ${other.name} goes to ${other.destination.kind === 'lambda' ? 'a Lambda function' : 'an HTTP endpoint'}` };
  let pumps = 0;
  for (const s of stmts) {
    if (s.kind !== 'pump') continue;
    const why = (r: string): PassThroughPlan => ({ passThrough: false, reason: `pump ${s.name}: ${r}` });
    const forest = forestCall(s);
    if (forest) return why(`${forest.fn.upper} keeps one model of the whole stream (state across records)`);
    let plan;
    try {
      plan = planPump(s, pumps);
    } catch (e) {
      return why((e as Error).message);
    }
    pumps++;
    if (plan.window.type !== 'none') return why(`it has a ${plan.window.type === 'tvf' ? `${plan.window.fn} window` : `${plan.window.type} window`}`);
    const tokens = s.select;
    const depth = depths(tokens);
    for (let i = 0; i < tokens.length; i++) {
      const t = tokens[i]!;
      if (t.kind !== 'ident') continue;
      const next = tokens.slice(i + 1).find((x) => x.kind !== 'space' && x.kind !== 'comment');
      if (AGGREGATES.has(t.upper) && isPunct(next, '(')) return why(`${t.upper} aggregates`);
      if (isWord(t, 'OVER')) return why('it has a window function');
      if (depth[i] === 0 && isWord(t, 'GROUP', 'HAVING', 'ORDER', 'LIMIT', 'QUALIFY', 'DISTINCT', 'UNION', 'WINDOW', 'WINDOWED')) return why(`${t.upper} is not stateless`);
      if (depth[i]! > 0 && isWord(t, 'SELECT')) return why('a sub-query is not stateless');
    }
  }
  if (pumps === 0) return { passThrough: false, reason: 'no pump' };
  return { passThrough: true };
}
