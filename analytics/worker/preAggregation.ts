// How a simple-form partial pump's result rows fold together (Engine's
// PreAggregation), so a shard's engine keeps one partial row per window and
// group instead of every input row until the window closes; the combiner
// folds the shards' partial rows with it too (combiner.ts combine()). Each
// item is a column (AVG two: a SUM and a COUNT), folded by foldTable.ts;
// group keys are the `key` items.
import type { PreAggregation } from '../engine/engine.js';
import type { PartialPump } from '../sql/decompose.js';
import { ColumnFoldTable, type Fold } from './foldTable.js';

/** Partial columns in order: what each holds (AVG takes two: its SUM, then its COUNT). */
function columnsOf(items: PartialPump['items']): ('key' | Fold)[] {
  return items.flatMap((it) => (it === 'avg' ? (['sum', 'count'] as const) : [it]));
}

/** The pump's folding in a shard's engine, or undefined when its rows do not fold there (general form, or a window other than tumbling). */
export function preAggregation(p: PartialPump): PreAggregation | undefined {
  if (p.general || p.items.length === 0 || p.window.fn !== 'TUMBLE') return undefined;
  return partialFolding(p);
}

const foldings = new WeakMap<PartialPump, PreAggregation>();

/**
 * How a simple-form pump's partial rows fold, whatever its window (the combiner folds HOP's too). One per
 * pump: the combiner asks at every window it closes, and code V8 had optimized around a new one each time
 * was dropped when the last one was collected ("weak objects"), then optimized again.
 */
export function partialFolding(p: PartialPump): PreAggregation {
  let f = foldings.get(p);
  if (!f) foldings.set(p, (f = folding(p)));
  return f;
}

function folding(p: PartialPump): PreAggregation {
  const cols = columnsOf(p.items);
  const keys = cols.flatMap((c, i) => (c === 'key' ? [i] : []));
  const folds = cols.flatMap((c, i) => (c === 'key' ? [] : [[i, c] as const]));
  return { table: (width, expected) => new ColumnFoldTable(width, keys, folds, expected) };
}
