// How a simple-form partial pump's result rows fold together (Engine's
// PreAggregation), so a shard's engine keeps one partial row per window and
// group instead of every input row until the window closes; the combiner
// folds the shards' partial rows with it too (combiner.ts combine()). COUNT
// and SUM add up (a SUM of nothing is NULL), MIN and MAX compare, AVG is a
// SUM and a COUNT; group keys are the `key` items.
import type { PreAggregation } from '../engine/engine.js';
import type { Value } from '../engine/types.js';
import type { PartialPump } from '../sql/decompose.js';

type Fold = 'count' | 'sum' | 'min' | 'max';

/** Partial columns in order: what each holds (AVG takes two: its SUM, then its COUNT). */
function columnsOf(items: PartialPump['items']): ('key' | Fold)[] {
  return items.flatMap((it) => (it === 'avg' ? (['sum', 'count'] as const) : [it]));
}

const NULL_KEY = Symbol('NULL');

/** Nulls first, then numbers or strings by value (never locale-dependent). */
function compareValues(a: Value, b: Value): number {
  if (a === b) return 0;
  if (a === null) return -1;
  if (b === null) return 1;
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  const x = String(a);
  const y = String(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** The pump's folding in a shard's engine, or undefined when its rows do not fold there (general form, or a window other than tumbling). */
export function preAggregation(p: PartialPump): PreAggregation | undefined {
  if (p.general || p.items.length === 0 || p.window.fn !== 'TUMBLE') return undefined;
  return partialFolding(p);
}

/** How a simple-form pump's partial rows fold, whatever its window (the combiner folds HOP's too). */
export function partialFolding(p: PartialPump): PreAggregation {
  const cols = columnsOf(p.items);
  const keys = cols.flatMap((c, i) => (c === 'key' ? [i] : []));
  const folds = cols.flatMap((c, i) => (c === 'key' ? [] : [[i, c] as const]));
  const one = keys.length === 1 ? keys[0]! : -1;
  return {
    key: one >= 0 ? (v) => v[one] ?? NULL_KEY : (v) => JSON.stringify(keys.map((i) => v[i] ?? null)),
    fold(acc, v) {
      for (const [i, f] of folds) {
        const x = v[i] ?? null;
        if (x === null) continue;
        const a = acc[i] ?? null;
        if (a === null) acc[i] = f === 'count' || f === 'sum' ? Number(x) : x;
        else if (f === 'count' || f === 'sum') acc[i] = Number(a) + Number(x);
        else if (f === 'min' ? compareValues(x, a) < 0 : compareValues(x, a) > 0) acc[i] = x;
      }
    },
    compare(a, b) {
      for (const i of keys) {
        const c = compareValues(a[i] ?? null, b[i] ?? null);
        if (c !== 0) return c;
      }
      return 0;
    },
  };
}
