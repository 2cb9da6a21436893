// The stage between a RANDOM_CUT_FOREST pump's cursor and its own query (sql/randomCutForest.ts
// splits the pump): which cursor columns feed the model, each row's score (and explanation)
// appended in the rows' order, and the model's part of the engine's checkpoint.
import type { ForestParams } from '../sql/randomCutForest.js';
import { RandomCutForest, type ForestState } from './randomCutForest.js';
import { parseSqlType, type Base, type SqlType, type Value } from './types.js';

const NUMERIC = new Set<Base>(['TINYINT', 'SMALLINT', 'INTEGER', 'BIGINT', 'DOUBLE', 'REAL', 'DECIMAL']);

/** The most numeric columns KDA's reference allows the function's input. */
export const MAX_NUMERIC_COLUMNS = 30;

/**
 * A forest between a pump's cursor rows (`source`) and the rows with ANOMALY_SCORE (and, explaining,
 * ANOMALY_EXPLANATION) appended (`target`).
 */
export class ForestStage {
  /** Where the numeric columns are in a cursor row: the model's dimensions. */
  readonly numeric: number[];
  private readonly names: string[];
  forest: RandomCutForest;

  constructor(
    readonly pump: string, readonly source: string, readonly target: string, readonly params: ForestParams,
    columns: { name: string; type: SqlType }[], readonly explain?: { directionality: boolean },
  ) {
    this.numeric = columns.map((c, i) => (NUMERIC.has(c.type.base) ? i : -1)).filter((i) => i >= 0);
    this.names = this.numeric.map((i) => columns[i]!.name);
    this.forest = new RandomCutForest(params, seedOf(pump));
  }

  /** The columns the forest appends to a cursor row. */
  static added(explain: boolean): { name: string; type: SqlType }[] {
    return [{ name: 'ANOMALY_SCORE', type: parseSqlType('DOUBLE') }, ...(explain ? [{ name: 'ANOMALY_EXPLANATION', type: parseSqlType('VARCHAR(20480)') }] : [])];
  }

  /**
   * Each row's values with its score appended, in the rows' order (one at a time: a row is scored
   * against the rows before it). A row with a null or non-finite numeric value is scored 0 and
   * left out of the model (a point needs every coordinate).
   */
  score(rows: { v: Value[] }[]): Value[][] {
    const out: Value[][] = new Array(rows.length);
    const n = this.numeric;
    for (let r = 0; r < rows.length; r++) {
      const v = rows[r]!.v;
      const point: number[] = new Array(n.length);
      let ok = true;
      for (let k = 0; k < n.length; k++) {
        const x = v[n[k]!];
        if (typeof x !== 'number' || !Number.isFinite(x)) { ok = false; break; }
        point[k] = x;
      }
      if (!this.explain) out[r] = [...v, ok ? this.forest.scoreAndAdd(point) : 0];
      else {
        const e = ok ? this.forest.scoreAndAddExplained(point) : { score: 0 };
        out[r] = [...v, e.score, this.explanation(e.high, e.low)];
      }
    }
    return out;
  }

  /**
   * ANOMALY_EXPLANATION: per numeric column (its dimensions summed over the shingle) the attribution
   * score, and with directionality HIGH or LOW (which side of the recent data the value lies on,
   * LOW while learning) and the strength of that direction (|high − low|), as KDA writes it.
   */
  private explanation(high: Float64Array | undefined, low: Float64Array | undefined): string {
    const n = this.names.length;
    const out: Record<string, Record<string, string>> = {};
    this.names.forEach((name, j) => {
      let h = 0;
      let l = 0;
      for (let k = j; high && low && k < high.length; k += n) { h += high[k]!; l += low[k]!; }
      out[name] = this.explain!.directionality
        ? { DIRECTION: h > l ? 'HIGH' : 'LOW', STRENGTH: Math.abs(h - l).toFixed(4), ATTRIBUTION_SCORE: (h + l).toFixed(4) }
        : { ATTRIBUTION_SCORE: (h + l).toFixed(4) };
    });
    return JSON.stringify(out);
  }

  state(): StageState {
    return { ...this.forest.state(), params: this.params, columns: this.numeric.length };
  }

  /**
   * The model of a checkpoint, when it was made with the same parameters over the same number of
   * numeric columns; otherwise (the application's code was updated) the forest starts learning
   * afresh, as KDA's does when an application starts.
   */
  restore(state: StageState): void {
    const same = state.columns === this.numeric.length && JSON.stringify(state.params) === JSON.stringify(this.params);
    this.forest = new RandomCutForest(this.params, seedOf(this.pump), same ? state : undefined);
  }
}

/** A forest stage's checkpointed state: the model and what it was made with. */
export interface StageState extends ForestState { params: ForestParams; columns: number }

/** A seed from the pump's name (FNV-1a), so two forests of an application draw differently but every run alike. */
function seedOf(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/** A stream column type for a column of DuckDB's type (DESCRIBE's column_type); undefined when a stream cannot hold it. */
export function streamTypeOf(duckType: string): SqlType | undefined {
  const t = duckType.toUpperCase();
  const base: Base | undefined =
    t.startsWith('DECIMAL') ? 'DOUBLE'
      : t === 'FLOAT' ? 'REAL'
        : ['HUGEINT', 'UBIGINT', 'UINTEGER'].includes(t) ? 'BIGINT'
          : t === 'USMALLINT' ? 'INTEGER'
            : t === 'UTINYINT' ? 'SMALLINT'
              : t.startsWith('TIMESTAMP') ? 'TIMESTAMP'
                : t === 'BLOB' ? 'VARBINARY'
                  : (['VARCHAR', 'BOOLEAN', 'TINYINT', 'SMALLINT', 'INTEGER', 'BIGINT', 'DOUBLE', 'DATE'] as Base[]).find((b) => b === t);
  return base ? parseSqlType(base) : undefined;
}
