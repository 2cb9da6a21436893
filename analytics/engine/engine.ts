// The streaming layer: in-application streams, pumps between them, windows,
// watermarks and lateness, over DuckDB, which evaluates every SELECT. The
// engine is deterministic in its input (rows and watermark advances) and its
// whole state is plain JSON (snapshot/restore), which is what makes the
// worker's checkpoints and exactly-once emission possible.
import { parseStatements, type PumpStmt } from '../sql/statements.js';
import { INTERNAL_COLUMNS, planPump, quote, type PumpPlan } from '../sql/pump.js';
import { SqlError, lineCol } from '../sql/tokens.js';
import { Duck, type FillColumn, type TableColumn } from './duck.js';
import type { ColumnBatch } from './columnBatch.js';
import { assignNumeric, coerce, firstUnfit, numberFits, parseSqlType, TypeError_, type SqlType, type Value } from './types.js';
import { cumulate, hop, tumbleStart, type Span } from './windows.js';
import { KDA_MACROS } from './kdaFunctions.js';
import { copiedValue, copyFilter, projectionOf, type CopyFilter } from './projection.js';
import { batchFoldOf, directFoldOf, directRows, evaluateBatchFold, type BatchFold, type DirectFold } from './batchFold.js';
import { functionMacroSql } from '../sql/functions.js';
import { splitForestPump, type ForestSplit } from '../sql/randomCutForest.js';
import { ForestStage, MAX_NUMERIC_COLUMNS, streamTypeOf, type StageState } from './forestStage.js';

export interface Row { t: number; seq: number; v: Value[] }

export interface StreamColumn { name: string; type: SqlType }

export interface EngineInput {
  /** In-application stream name, e.g. SOURCE_SQL_STREAM_001. */
  name: string;
  columns: { name: string; sqlType: string }[];
  /** Event time for window table functions: the column and how late its rows may come. */
  watermark?: { column: string; delayMs: number };
}

export interface ReferenceTable { name: string; columns: { name: string; sqlType: string }[]; rows: Value[][] }

export interface EngineSpec {
  code: string;
  inputs: EngineInput[];
  references?: ReferenceTable[];
  /** Pumps left out (two-phase aggregation: the combiner fills their targets with combined partials). */
  skipPumps?: string[];
  /** Tumbling pumps (by name) whose results fold batch by batch (two-phase partials of the simple form). */
  preAggregate?: Record<string, PreAggregation>;
}

/**
 * How a tumbling pump's result rows fold into one row per group, so its
 * windows hold result rows instead of input rows: each batch's rows are
 * evaluated at once and folded into the window's groups, and no input row
 * lives until its window closes or sits in a checkpoint. Only for pumps whose
 * results of part of a window combine into the result of all of it (COUNT,
 * SUM, MIN, MAX partials: two-phase aggregation's partials).
 */
export interface PreAggregation {
  /** An empty table of one window's groups (`width`: target columns; `expected`: groups it will likely hold). */
  table(width: number, expected?: number): FoldTable;
}

/** A closed pre-aggregated window's rows (at its end), column by column: `n` rows in group key order. */
export interface FoldedWindow { t: number; cols: Value[][]; n: number }

/** A pre-aggregated window's result rows so far, one per group. */
export interface FoldTable {
  readonly size: number;
  /** Folds result row `v` (target columns) into its group's (`v` is read, not kept). */
  add(v: readonly Value[]): void;
  /** Folds row `r` of `cols` (target columns, column by column) into its group's. */
  addAt(cols: readonly (readonly Value[])[], r: number): void;
  /** The groups' columns, rows in group key order (the same whatever the batches were), or in the order the groups first came. */
  columns(order?: 'key' | 'first'): Value[][];
  /** One new row per group, in group key order, or in the order the groups first came. */
  rows(order?: 'key' | 'first'): Value[][];
  /**
   * Folds rows of a batch straight into this window's groups (batchFold.ts DirectFold), or undefined when
   * the table's groups are not keyed by `d`'s key column beside the window's bounds, or when a sum could
   * pass 2^53 (`magnitude[a]`: how far the batch moves aggregate a's sums at most). The folder takes rows
   * `rows[from..to)` of `b` and returns how many of the groups it folded into it had not folded into since
   * `stamp` changed (one per batch: the groups the batch path would have made of them).
   */
  directFolder?(d: DirectFold, win: Span, magnitude: readonly number[]): DirectFolder | undefined;
  /**
   * Folds rows [0, n) of `cols`, every column doubles (a partial message's, partialFrame.ts), as addAt of
   * each row in turn would; false, nothing folded, when it cannot so (the caller then folds row by row).
   */
  foldNumbers?(cols: readonly Float64Array[], n: number): boolean;
  /** Done with: its memory may go to the next window's table (it must not be used again). */
  release?(): void;
}

export interface DirectFolder { fold(b: ColumnBatch, rows: Int32Array, from: number, to: number, stamp: number): number }

/** Bad application code: the reason and where, as DuckDB or the translator found it. */
export class ApplicationSqlError extends Error {
  constructor(readonly reason: string, readonly pos: number, readonly line: number, readonly column: number) {
    super(`${reason} (line ${line}, column ${column})`);
  }
}

export const ERROR_STREAM = 'error_stream';
export const ERROR_COLUMNS: StreamColumn[] = [
  ['ERROR_TIME', 'TIMESTAMP'], ['ERROR_LEVEL', 'VARCHAR(10)'], ['ERROR_NAME', 'VARCHAR(32)'], ['MESSAGE', 'VARCHAR(4096)'],
  ['DATA_ROWTIME', 'TIMESTAMP'], ['DATA_ROW', 'VARCHAR(49152)'], ['PUMP_NAME', 'VARCHAR(128)'],
].map(([name, t]) => ({ name: name!, type: parseSqlType(t!) }));

/** A window and its rows: input rows, or (folded, a pre-aggregated pump's) its result rows so far. */
interface Win extends Span {
  id: string; key?: string; rows: Row[]; folded?: true;
  /**
   * A folded window as a checkpoint holds it: its groups as columns, in key order (foldTable() folds them
   * into its table when the window is next used). Rows as objects ({t, seq, v} per group) were ~60 bytes of
   * JSON a group, written for every open window at every shard's checkpoint.
   */
  cols?: Value[][];
}

interface RunnerState { closedUpTo: number | null; maxEvent: number | null; windows: Win[]; history: Row[]; pending?: Row[] }

const INTERNAL_TYPES: TableColumn[] = [
  { name: 'ROWTIME', type: parseSqlType('TIMESTAMP') }, { name: '__SEQ', type: parseSqlType('BIGINT') },
  { name: '__WID', type: parseSqlType('BIGINT') }, { name: '__WEND', type: parseSqlType('TIMESTAMP') },
  { name: '__NEW', type: parseSqlType('BOOLEAN') },
];
const WINDOW_COLUMNS: TableColumn[] = [{ name: 'window_start', type: parseSqlType('TIMESTAMP') }, { name: 'window_end', type: parseSqlType('TIMESTAMP') }];

class Pump {
  readonly workColumns: TableColumn[];
  /** Result columns → target columns. */
  outIndex: number[] = [];
  rowtimeIndex = -1;
  /** The source row's arrival number (row-by-row and sliding pumps): peers of one ROWTIME leave in arrival order. */
  seqIndex = -1;
  newIndex = -1;
  targetIndex: number[] = [];
  eventIndex = -1;
  delayMs = 0;
  state: RunnerState = { closedUpTo: null, maxEvent: null, windows: [], history: [] };
  /** The work table's columns: those the pump's query reads (Duck.columnsRead), or all of workColumns. */
  tableColumns: TableColumn[];
  /** Where each table column is in a work row; undefined: the table has every work column. */
  tableIndex?: number[];
  /** Results fold batch by batch (EngineSpec.preAggregate): a window's rows are its result rows so far. */
  pre?: PreAggregation;
  /** Each pre-aggregated window's groups (its `rows` are empty meanwhile; snapshot() writes them out, restore() reads them back). */
  tables = new WeakMap<Win, FoldTable>();
  /** Groups of the last window that closed: the next window's table is sized for as many. */
  lastGroups = 0;
  /** A pre-aggregated pump of the plain shape (batchFold.ts): its batches' groups are made here, not in DuckDB. */
  batchFold?: BatchFold;
  /** A batchFold whose rows fold straight into the windows' groups (batchFold.ts DirectFold). */
  directFold?: DirectFold;
  /** A pump that copies columns (projection.ts): the table column each result column is, its type, the WHERE's filter. */
  projection?: { at: number[]; types: SqlType[]; filter?: CopyFilter };

  constructor(readonly plan: PumpPlan, readonly source: StreamColumn[], readonly target: StreamColumn[]) {
    this.workColumns = [...source, ...INTERNAL_TYPES, ...(plan.window.type === 'tvf' ? WINDOW_COLUMNS : [])];
    this.tableColumns = this.workColumns;
  }

  get eventTime(): boolean {
    return this.plan.window.type === 'tvf' && this.plan.window.timeColumn !== 'ROWTIME';
  }
}

export class Engine {
  private seq = 0;
  private watermark = Number.NEGATIVE_INFINITY;
  private emitted = new Map<string, Row[]>();
  private foldedOut = new Map<string, FoldedWindow[]>();
  /** RANDOM_CUT_FOREST models between their cursor's hidden stream and the pump's (sql/randomCutForest.ts). */
  private forests: ForestStage[] = [];

  private constructor(
    readonly duck: Duck,
    readonly streams: Map<string, StreamColumn[]>,
    /** Pumps in dependency order (a pump comes after those feeding its source). */
    readonly pumps: Pump[],
    readonly declared: Set<string>,
  ) {}

  /** Parses, translates and binds the application code; ApplicationSqlError when DuckDB or the translator rejects it. */
  static async compile(spec: EngineSpec): Promise<Engine> {
    const code = spec.code;
    const fail = (e: unknown): never => {
      if (e instanceof SqlError) {
        const lc = lineCol(code, e.pos);
        throw new ApplicationSqlError(e.message, e.pos, lc.line, lc.column);
      }
      if (e instanceof TypeError_) throw new ApplicationSqlError(e.message, 0, 1, 1);
      throw e;
    };
    const duck = await Duck.open();
    try {
      for (const m of KDA_MACROS) await duck.query(m);
      const streams = new Map<string, StreamColumn[]>();
      const cols = (c: { name: string; sqlType: string }[]) => c.map((x) => ({ name: x.name, type: parseSqlType(x.sqlType) }));
      for (const i of spec.inputs) streams.set(i.name, cols(i.columns));
      streams.set(ERROR_STREAM, ERROR_COLUMNS);
      const declared = new Set<string>();
      const pumpStmts: PumpStmt[] = [];
      let stmts;
      try { stmts = parseStatements(code); } catch (e) { return fail(e); }
      for (const s of stmts) {
        if (s.kind === 'stream') {
          if (streams.has(s.name) && !declared.has(s.name)) fail(new SqlError(`stream ${s.name} is an input stream`, s.pos));
          try { streams.set(s.name, cols(s.columns)); } catch (e) { fail(new SqlError((e as Error).message, s.pos)); }
          declared.add(s.name);
        } else if (s.kind === 'function') {
          // CREATE FUNCTION … RETURN expr: a macro, defined before any pump is planned against it.
          let sql = '';
          try { sql = functionMacroSql(s); } catch (e) { fail(e); }
          try { await duck.query(sql); } catch (e) { fail(new SqlError(`function ${s.name}: ${cleanDuckMessage((e as Error).message)}`, s.pos)); }
        } else if (!spec.skipPumps?.includes(s.name)) pumpStmts.push(s);
      }
      if (pumpStmts.length === 0 && !spec.skipPumps?.length) fail(new SqlError('the application code has no pump (CREATE OR REPLACE PUMP … AS INSERT INTO …)', 0));
      const refs = new Set<string>();
      for (const r of spec.references ?? []) {
        await duck.createTable(r.name, cols(r.columns));
        await duck.fill(r.name, cols(r.columns), r.rows);
        refs.add(r.name);
      }
      // A RANDOM_CUT_FOREST pump runs as its cursor's pump, the forest and its own query (sql/randomCutForest.ts).
      const splits: ForestSplit[] = [];
      const expanded: PumpStmt[] = [];
      for (const s of pumpStmts) {
        let split: ForestSplit | undefined;
        try { split = splitForestPump(s, splits.length); } catch (e) { fail(e); }
        if (split) { splits.push(split); expanded.push(split.cursor, split.outer); } else expanded.push(s);
      }
      const plans: PumpPlan[] = [];
      expanded.forEach((s, i) => { try { plans.push(planPump(s, i)); } catch (e) { fail(e); } });
      const forests: ForestStage[] = [];
      for (const split of splits) forests.push(await Engine.forestStage(duck, code, split, plans.find((p) => p.target === split.inStream)!, streams));
      const hidden = new Set(splits.map((x) => x.inStream));
      const names = new Set<string>();
      for (const p of plans) {
        if (names.has(p.name)) fail(new SqlError(`pump ${p.name} is defined twice`, p.pos));
        names.add(p.name);
        if (!streams.has(p.source)) fail(new SqlError(`stream ${p.source} does not exist`, p.sourcePos));
        if (!streams.has(p.target) || p.target === ERROR_STREAM || !(declared.has(p.target) || hidden.has(p.target))) fail(new SqlError(`stream ${p.target} is not declared with CREATE OR REPLACE STREAM`, p.pos));
        for (const j of p.joins) if (!refs.has(j.name)) fail(new SqlError(`${j.name} is not a reference table (a join on a stream needs a window)`, j.pos));
      }
      const order = topological(plans, (p) => plans.filter((q) => q.target === p.source));
      if (!order) fail(new SqlError('pumps form a cycle', plans[0]?.pos ?? 0));
      const pumps: Pump[] = [];
      for (const plan of order!) {
        const pump = new Pump(plan, streams.get(plan.source)!, streams.get(plan.target)!);
        await duck.createTable(plan.workTable, pump.workColumns);
        if (plan.window.type === 'tvf') {
          const w = plan.window;
          if (w.timeColumn !== 'ROWTIME') {
            pump.eventIndex = pump.source.findIndex((c) => c.name.toUpperCase() === w.timeColumn.toUpperCase());
            const col = pump.source[pump.eventIndex];
            if (!col || col.type.base !== 'TIMESTAMP') fail(new SqlError(`DESCRIPTOR(${w.timeColumn}) must name a TIMESTAMP column of ${plan.source}`, plan.pos));
            const input = spec.inputs.find((i) => i.name === plan.source);
            if (input?.watermark && input.watermark.column.toUpperCase() === w.timeColumn.toUpperCase()) pump.delayMs = input.watermark.delayMs;
          }
          for (const k of w.partitionBy) if (!pump.source.some((c) => c.name.toUpperCase() === k.toUpperCase())) fail(new SqlError(`PARTITION BY ${k}: no such column in ${plan.source}`, plan.pos));
        }
        let result;
        try {
          result = await duck.query(plan.sql);
          if (plan.window.type === 'stagger') await duck.query(`SELECT ${plan.window.partitionSql} FROM ${quote(plan.workTable)} AS ${quote(plan.alias)}`);
        } catch (e) {
          const pos = duckErrorPos((e as Error).message, plan);
          const lc = lineCol(code, pos);
          throw new ApplicationSqlError(cleanDuckMessage((e as Error).message), pos, lc.line, lc.column);
        }
        // Only plan.sql reads the work table of these windows (sliding and stagger pumps run more queries on it).
        if (plan.window.type !== 'sliding' && plan.window.type !== 'stagger') await narrowWorkTable(duck, pump, result.names);
        if (plan.window.type === 'none' && plan.joins.length === 0) {
          const copy = await projectionOf(duck, plan.sql, plan.workTable, plan.alias, pump.tableColumns);
          const filter = copy?.where ? await copyFilter(duck, plan.sql, plan.workTable, plan.alias, pump.tableColumns) : undefined;
          if (copy && (!copy.where || filter)) pump.projection = { at: copy.at, types: copy.at.map((k) => pump.tableColumns[k]!.type), filter };
        }
        const outIndex = result.names.map((n, i) => (n.startsWith('__') ? -1 : i)).filter((i) => i >= 0);
        pump.outIndex = outIndex;
        pump.rowtimeIndex = result.names.indexOf('__ROWTIME');
        pump.seqIndex = result.names.indexOf('__SEQ_OUT');
        pump.newIndex = result.names.indexOf('__NEW');
        const targetCols = plan.targetColumns ?? pump.target.map((c) => c.name);
        pump.targetIndex = targetCols.map((n) => {
          const k = pump.target.findIndex((c) => c.name === n);
          if (k < 0) fail(new SqlError(`stream ${plan.target} has no column ${n}`, plan.pos));
          return k;
        });
        if (outIndex.length !== targetCols.length) {
          fail(new SqlError(`pump ${plan.name} selects ${outIndex.length} column${outIndex.length === 1 ? '' : 's'} but ${plan.target} takes ${targetCols.length}`, plan.pos));
        }
        const pre = spec.preAggregate?.[plan.name];
        if (pre) {
          const w = plan.window;
          if (!(w.type === 'tumbling' || (w.type === 'tvf' && w.fn === 'TUMBLE'))) throw new Error(`pump ${plan.name}: only tumbling windows pre-aggregate`);
          pump.pre = pre;
          if (w.type === 'tumbling') pump.batchFold = await batchFoldOf(duck, plan.sql, plan.workTable, plan.alias, pump.source, w.sizeMs);
          if (pump.batchFold) pump.directFold = directFoldOf(pump.batchFold, pump.outIndex, pump.targetIndex, pump.target);
        }
        pumps.push(pump);
      }
      const engine = new Engine(duck, streams, pumps, declared);
      engine.forests = forests;
      return engine;
    } catch (e) {
      duck.close();
      throw e;
    }
  }

  /**
   * A forest pump's cursor bound over its source: the cursor's columns as DuckDB types them make the
   * hidden stream the forest reads, and with ANOMALY_SCORE appended the one the pump's query reads.
   */
  private static async forestStage(duck: Duck, code: string, split: ForestSplit, cursor: PumpPlan, streams: Map<string, StreamColumn[]>): Promise<ForestStage> {
    const fail = (message: string, pos: number): never => {
      const lc = lineCol(code, pos);
      throw new ApplicationSqlError(message, pos, lc.line, lc.column);
    };
    const source = streams.get(cursor.source);
    if (!source) return fail(`stream ${cursor.source} does not exist`, cursor.sourcePos);
    const probe = new Pump(cursor, source, []);
    await duck.createTable(cursor.workTable, probe.workColumns);
    let described;
    try {
      // The query alone first: DuckDB's error positions are then in the text the pieces map.
      await duck.query(cursor.sql);
      described = await duck.query(`DESCRIBE ${cursor.sql}`);
    } catch (e) {
      return fail(cleanDuckMessage((e as Error).message), duckErrorPos((e as Error).message, cursor));
    }
    const columns: StreamColumn[] = [];
    for (const [name, type] of described.rows as [string, string][]) {
      if (name.startsWith('__')) continue;
      // The cursor's rows keep their ROWTIME; a column of that name would clash with it in the hidden streams.
      if (name.toUpperCase() === 'ROWTIME') return fail('RANDOM_CUT_FOREST: the cursor selects ROWTIME; leave it out (its rows keep their ROWTIME) or name it otherwise', cursor.pos);
      const t = streamTypeOf(type);
      if (!t) return fail(`RANDOM_CUT_FOREST: the cursor's column ${name} is of type ${type}, which a stream cannot hold`, cursor.pos);
      const added = ForestStage.added(!!split.explain).find((c) => c.name === name.toUpperCase());
      if (added) return fail(`RANDOM_CUT_FOREST: the cursor already has a column ${added.name}, which the function adds`, cursor.pos);
      columns.push({ name, type: t });
    }
    const stage = new ForestStage(split.outer.name, split.inStream, split.outStream, split.params, columns, split.explain);
    if (stage.numeric.length === 0) fail('RANDOM_CUT_FOREST needs a numeric column (DOUBLE, INTEGER, FLOAT, TINYINT, SMALLINT, REAL or BIGINT) in the cursor', cursor.pos);
    if (stage.numeric.length > MAX_NUMERIC_COLUMNS) fail(`RANDOM_CUT_FOREST takes at most ${MAX_NUMERIC_COLUMNS} numeric columns; the cursor has ${stage.numeric.length}`, cursor.pos);
    streams.set(split.inStream, columns);
    streams.set(split.outStream, [...columns, ...ForestStage.added(!!split.explain)]);
    return stage;
  }

  /** Columns of an in-application stream (inputs, declared streams, error_stream). */
  columns(stream: string): StreamColumn[] | undefined {
    return this.streams.get(stream);
  }

  /**
   * Rows into an in-application stream; `t` is the row's ROWTIME. The row
   * objects become the engine's (their `seq` is set here, no copy per row):
   * callers hand over fresh objects and do not use them after.
   */
  async push(stream: string, rows: { t: number; v: Value[]; seq?: number }[]): Promise<void> {
    for (const r of rows) r.seq = this.seq++;
    await this.deliver(stream, rows as Row[]);
  }

  /**
   * A window's rows as columns (`w.cols` in the stream's column order) into
   * `stream`. Kept as columns, as a folded window is, when only the outputs
   * take the stream (a declared stream nothing here reads: the combiner's
   * usual target, ~0.5 rows per input event at 100k keys, then with no object
   * per row); as rows through push() when a pump or a forest reads it.
   */
  async emitColumns(stream: string, w: FoldedWindow): Promise<void> {
    if (w.n === 0) return;
    if (this.declared.has(stream) && !this.readers(stream)) {
      let list = this.foldedOut.get(stream);
      if (!list) this.foldedOut.set(stream, (list = []));
      list.push(w);
      return;
    }
    const rows = new Array<{ t: number; v: Value[] }>(w.n);
    for (let r = 0; r < w.n; r++) rows[r] = { t: w.t, v: w.cols.map((c) => c[r] ?? null) };
    await this.push(stream, rows);
  }

  /**
   * Records of an input into its in-application stream; `t` is the record's arrival. In KDA a row's
   * ROWTIME is when it entered the in-application stream, so it never lies behind rows already there:
   * a record stored after the ROWTIME watermark passed its arrival stamp (its append took longer than
   * the watermark lag, e.g. under load) enters at the watermark, in the window open then, rather than
   * as a LATE_ROW. Deterministic: the watermark is part of the checkpointed state.
   */
  async pushInput(stream: string, rows: { t: number; v: Value[]; seq?: number }[]): Promise<void> {
    const wm = this.watermark;
    if (wm !== Number.NEGATIVE_INFINITY) for (const r of rows) if (r.t < wm) r.t = wm;
    await this.push(stream, rows);
  }

  /**
   * pushInput() for rows held column by column. When every pump reading
   * `stream` is a pre-aggregated tumbling pump (a shard worker's two-phase
   * partials), the columns go into the work table as they are, with no row
   * object or work row per record; otherwise the batch becomes rows. Same
   * windows, results, errors and state either way (engine.columns.test.ts).
   * `fullRow(r)`: row r with every column (error_stream's DATA_ROW), when the
   * batch holds only the columns the pumps read.
   */
  async pushColumns(stream: string, b: ColumnBatch, fullRow: (r: number) => Value[] = (r) => b.row(r)): Promise<void> {
    const pumps = this.columnarPumps(stream);
    if (!pumps) {
      // inputColumnsRead() asked for every column then: the batch's own rows are whole.
      const whole = b.cols.every((c) => c !== undefined);
      const rows = new Array<{ t: number; v: Value[] }>(b.n);
      for (let r = 0; r < b.n; r++) rows[r] = { t: b.t[r]!, v: whole ? b.row(r) : fullRow(r) };
      return this.pushInput(stream, rows);
    }
    if (b.n === 0) return;
    const wm = this.watermark;
    if (wm !== Number.NEGATIVE_INFINITY) for (let r = 0; r < b.n; r++) if (b.t[r]! < wm) b.t[r] = wm;
    const seq0 = this.seq;
    this.seq += b.n;
    for (const p of pumps) await this.assignTumblingColumns(p, b, seq0, fullRow);
  }

  /** The pumps reading `stream` when all of them take columns (pre-aggregated tumbling), else undefined. */
  private columnarPumps(stream: string): Pump[] | undefined {
    if (this.declared.has(stream) || this.forests.some((f) => f.source === stream)) return undefined;
    const pumps = this.pumps.filter((p) => p.plan.source === stream);
    return pumps.every((p) => p.pre !== undefined) ? pumps : undefined;
  }

  /**
   * Which columns of input `stream` a ColumnBatch must hold for pushColumns:
   * those its pumps' work tables take (and an event-time column), or all of
   * them when the batch will become rows.
   */
  inputColumnsRead(stream: string): boolean[] {
    const n = this.streams.get(stream)?.length ?? 0;
    const all = Array.from({ length: n }, () => true);
    const pumps = this.columnarPumps(stream);
    if (!pumps) return all;
    const read = Array.from({ length: n }, () => false);
    for (const p of pumps) {
      if (!p.tableIndex) return all;
      for (const c of p.tableIndex) if (c < n) read[c] = true;
      if (p.eventIndex >= 0) read[p.eventIndex] = true;
    }
    return read;
  }

  /** A record that could not be mapped or evaluated: a row of error_stream. */
  error(name: string, message: string, dataRowtime: number | null, dataRow: string, pump = ''): void {
    const row: Row = { t: dataRowtime ?? Date.now(), seq: this.seq++, v: [Date.now(), 'ERROR', name, message, dataRowtime, dataRow.slice(0, 49152), pump] };
    this.out(ERROR_STREAM, [row]);
  }

  /** ROWTIME has reached `ms` on every input: closes the windows that end by then. */
  async advance(ms: number): Promise<void> {
    if (ms <= this.watermark) return;
    this.watermark = ms;
    for (const p of this.pumps) {
      if (isWindowed(p) && !p.eventTime) await this.closeWindows(p, ms);
      if (p.plan.window.type === 'sliding') await this.slide(p, []);
    }
  }

  /**
   * Closes every open event-time window, as if the event-time watermark had reached the last one's end
   * (rows for them are late from then on): a shard that ended, or one idle while others move on (two-phase aggregation).
   */
  async closeEventTimeWindows(): Promise<void> {
    for (const p of this.pumps) {
      if (!isWindowed(p) || !p.eventTime || p.state.windows.length === 0) continue;
      await this.closeWindows(p, p.state.windows.reduce((m, w) => Math.max(m, w.end), Number.NEGATIVE_INFINITY));
    }
  }

  /**
   * Two-phase aggregation's combiner: evaluates a windowed pump over rows it has already put into
   * their windows (combined partials), as closeWindows() does, and delivers the result to its target.
   */
  async evaluateWindows(pumpName: string, windows: { start: number; end: number; rows: { t: number; v: Value[] }[] }[]): Promise<void> {
    const p = this.pumps.find((x) => x.plan.name === pumpName);
    if (!p) throw new Error(`no pump ${pumpName}`);
    const rows: Value[][] = [];
    const sources: Row[] = [];
    [...windows].sort((a, b) => a.end - b.end || a.start - b.start).forEach((win, i) => {
      const o = { new: true, wid: i, wend: win.end, ws: win.start };
      for (const x of win.rows) {
        const r: Row = { t: x.t, seq: this.seq++, v: x.v };
        rows.push(work(p, r, o));
        sources.push(r);
      }
    });
    if (rows.length) await this.deliver(p.plan.target, await this.run(p, rows, sources));
  }

  /** Where pump `name` has closed its windows (null: none yet), without a snapshot. */
  closedUpTo(name: string): number | null {
    return this.pumps.find((x) => x.plan.name === name)?.state.closedUpTo ?? null;
  }

  get rowtimeWatermark(): number {
    return this.watermark;
  }

  /** Rows emitted into each declared stream (and error_stream) since the last drain. */
  drain(): Map<string, Row[]> {
    // Folded windows nobody took as columns: rows, ahead of the stream's other rows.
    for (const [stream, blocks] of this.drainFolded()) {
      const rows: Row[] = [];
      for (const b of blocks) {
        for (let r = 0; r < b.n; r++) rows.push({ t: b.t, seq: this.seq++, v: b.cols.map((c) => c[r]!) });
      }
      this.emitted.set(stream, [...rows, ...(this.emitted.get(stream) ?? [])]);
    }
    const out = this.emitted;
    this.emitted = new Map();
    return out;
  }

  /** The closed windows of pre-aggregated pumps, by target stream: each window's rows as columns, in key order. */
  drainFolded(): Map<string, FoldedWindow[]> {
    const out = this.foldedOut;
    this.foldedOut = new Map();
    return out;
  }

  /** A pump or a forest reads `stream`. */
  private readers(stream: string): boolean {
    return this.pumps.some((p) => p.plan.source === stream) || this.forests.some((f) => f.source === stream);
  }

  snapshot(): EngineState {
    return {
      seq: this.seq,
      watermark: Number.isFinite(this.watermark) ? this.watermark : null,
      pumps: Object.fromEntries(this.pumps.map((p) => [p.plan.name, sharesRows(p) ? withSharedRows(p.state) : p.pre ? withTableRows(p) : p.state])),
      ...(this.forests.length ? { forests: Object.fromEntries(this.forests.map((f) => [f.pump, f.state()])) } : {}),
    };
  }

  restore(s: EngineState): void {
    this.seq = s.seq;
    this.watermark = s.watermark ?? Number.NEGATIVE_INFINITY;
    for (const p of this.pumps) {
      const st = s.pumps[p.plan.name];
      if (st) p.state = fromSharedRows(structuredClone(st));
      p.tables = new WeakMap();
    }
    for (const f of this.forests) {
      const st = s.forests?.[f.pump];
      if (st) f.restore(st);
    }
  }

  /** Windows still open and rows they hold (for metrics and tests). */
  openWindows(): number {
    return this.pumps.reduce((n, p) => n + p.state.windows.length, 0);
  }

  close(): void {
    this.duck.close();
  }

  private out(stream: string, rows: Row[]): void {
    if (rows.length === 0) return;
    let list = this.emitted.get(stream);
    if (!list) this.emitted.set(stream, (list = []));
    for (const r of rows) list.push(r);
  }

  private async deliver(stream: string, rows: Row[]): Promise<void> {
    if (rows.length === 0) return;
    if (this.declared.has(stream)) this.out(stream, rows);
    for (const f of this.forests) {
      if (f.source === stream) await this.deliver(f.target, f.score(rows).map((v, i) => ({ t: rows[i]!.t, seq: this.seq++, v })));
    }
    for (const p of this.pumps) {
      if (p.plan.source !== stream) continue;
      const w = p.plan.window;
      if (w.type === 'none') await this.deliver(p.plan.target, (await this.copy(p, rows)) ?? await this.run(p, rows.map((r) => work(p, r, NEW)), rows));
      else if (w.type === 'sliding') await this.slide(p, rows);
      else await this.assign(p, rows);
    }
  }

  /**
   * A copying pump's target rows (projection.ts), as run() would make them from DuckDB's result:
   * the rows its WHERE passes (DuckDB's answer), copied. Undefined for other pumps, or when a value
   * of the batch must go through DuckDB or the WHERE fails (run() then sends the failing rows to
   * error_stream).
   */
  private async copy(p: Pump, rows: Row[]): Promise<Row[] | undefined> {
    const proj = p.projection;
    if (!proj) return undefined;
    const { at, types, filter } = proj;
    const works = rows.map((r) => work(p, r, NEW));
    let pass: Set<number> | undefined;
    if (filter) {
      try {
        await this.duck.fill(filter.table, filter.columns, works.map((w) => filter.at.map((k) => w[k]!)));
        pass = new Set((await this.duck.query(filter.sql)).rows.map((r) => r[0] as number));
      } catch {
        return undefined;
      }
    }
    const res: Value[][] = [];
    for (let i = 0; i < rows.length; i++) {
      if (pass && !pass.has(rows[i]!.seq)) continue;
      const w = works[i]!;
      const v: Value[] = new Array(at.length);
      for (let j = 0; j < at.length; j++) {
        const x = copiedValue(w[at[j]!]!, types[j]!);
        if (x === undefined) return undefined;
        v[j] = x;
      }
      res.push(v);
    }
    return this.results(p, { rows: res });
  }

  /** Fills the pump's work table (rows made by work(), one per source row), runs its query, turns result rows into target rows. */
  private async run(p: Pump, workRows: Value[][], sources: Row[], splits?: { left: number }): Promise<Row[]> {
    await this.duck.fill(p.plan.workTable, p.tableColumns, workRows);
    let res: { names: string[]; rows: Value[][] };
    try {
      res = await this.duck.query(p.plan.sql);
    } catch (e) {
      // A runtime failure (a cast that fails): the rows go to error_stream with the reason. A row-by-row
      // pump's batch is split until the failing rows are alone, so the others still get through. The
      // splits a batch may take are bounded (a quarter of its rows, at least 16): when most rows fail,
      // the rest go to error_stream in small chunks instead of one query per row.
      const budget = splits ?? { left: Math.max(16, Math.ceil(workRows.length / 4)) };
      if (p.plan.window.type === 'none' && workRows.length > 1 && workRows.length === sources.length && budget.left > 0) {
        budget.left -= 2;
        const half = workRows.length >> 1;
        return [...await this.run(p, workRows.slice(0, half), sources.slice(0, half), budget), ...await this.run(p, workRows.slice(half), sources.slice(half), budget)];
      }
      for (const r of sources) this.error('EVALUATION_ERROR', cleanDuckMessage((e as Error).message), r.t, JSON.stringify(r.v), p.plan.name);
      return [];
    }
    return this.results(p, res);
  }

  /** The pump's query result as target rows: its new rows in ROWTIME (then arrival) order, coerced to the target's types. */
  private results(p: Pump, res: { rows: Value[][] }): Row[] {
    const out: Row[] = [];
    const rows = res.rows.filter((r) => p.newIndex < 0 || r[p.newIndex] === true);
    const si = p.seqIndex;
    rows.sort((a, b) => (a[p.rowtimeIndex] as number) - (b[p.rowtimeIndex] as number) || (si >= 0 ? (a[si] as number) - (b[si] as number) : 0));
    const { outIndex, targetIndex, target } = p;
    for (const r of rows) {
      const v: Value[] = new Array(target.length).fill(null);
      const t = r[p.rowtimeIndex] as number;
      try {
        // A plain loop: this runs per result row (a window of 100k keys gives 100k rows).
        for (let k = 0; k < outIndex.length; k++) {
          const ti = targetIndex[k]!;
          v[ti] = coerce(assignNumeric(r[outIndex[k]!], target[ti]!.type), target[ti]!.type, target[ti]!.name);
        }
      } catch (e) {
        this.error('TYPE_ERROR', (e as Error).message, t, JSON.stringify(p.outIndex.map((i) => r[i])), p.plan.name);
        continue;
      }
      out.push({ t, seq: this.seq++, v });
    }
    return out;
  }

  /**
   * A row is evaluated once the ROWTIME watermark has passed it: rows of an
   * earlier ROWTIME can no longer come, so its frame (rows in ROWTIME then
   * arrival order up to it, pump.ts windowSpec) does not depend on how reads were split.
   */
  private async slide(p: Pump, incoming: Row[]): Promise<void> {
    const w = p.plan.window;
    if (w.type !== 'sliding') return;
    const waiting = [...(p.state.pending ?? []), ...incoming];
    const rows = waiting.filter((r) => r.t < this.watermark).sort((a, b) => a.t - b.t || a.seq - b.seq);
    p.state.pending = waiting.filter((r) => r.t >= this.watermark);
    if (rows.length === 0) return;
    const all = [...p.state.history.map((r) => work(p, r, OLD)), ...rows.map((r) => work(p, r, NEW))];
    const out = await this.run(p, all, [...p.state.history, ...rows]);
    // Keep what a later row's frame can still reach: RANGE → rows within the range of the newest; ROWS n → n per partition.
    const hist = [...p.state.history, ...rows];
    const newest = hist.reduce((m, r) => Math.max(m, r.t), Number.NEGATIVE_INFINITY);
    const keep = new Set<number>();
    for (const s of w.specs) {
      if (s.rangeMs !== undefined) for (const r of hist) if (r.t >= newest - s.rangeMs) keep.add(r.seq);
      if (s.rows !== undefined) {
        const part = s.partitionSql ? `PARTITION BY ${s.partitionSql} ` : '';
        const q = await this.duck.query(`SELECT "__SEQ" FROM (SELECT "__SEQ", row_number() OVER (${part}ORDER BY "ROWTIME" DESC, "__SEQ" DESC) AS "__RN" FROM ${quote(p.plan.workTable)} AS ${quote(p.plan.alias)}) WHERE "__RN" <= ${s.rows}`);
        for (const r of q.rows) keep.add(r[0] as number);
      }
    }
    p.state.history = hist.filter((r) => keep.has(r.seq));
    await this.deliver(p.plan.target, out);
  }

  /** Puts rows into their windows; rows whose windows have all closed are late (error_stream). */
  private async assign(p: Pump, rows: Row[]): Promise<void> {
    const w = p.plan.window;
    const st = p.state;
    const byId = new Map(st.windows.map((x) => [x.id, x]));
    if (w.type === 'tumbling' || (w.type === 'tvf' && w.fn === 'TUMBLE')) return this.assignTumbling(p, rows, w.sizeMs, byId);
    let keys: string[] | undefined;
    if (w.type === 'stagger') {
      await this.duck.fill(p.plan.workTable, p.workColumns, rows.map((r) => work(p, r, NEW)));
      const q = await this.duck.query(`SELECT ${w.partitionSql} FROM ${quote(p.plan.workTable)} AS ${quote(p.plan.alias)} ORDER BY "__SEQ"`);
      keys = q.rows.map((r) => JSON.stringify(r));
    }
    rows.forEach((r, idx) => {
      const t = p.eventIndex >= 0 ? (r.v[p.eventIndex] as number | null) : r.t;
      if (t === null) {
        this.error('NULL_EVENT_TIME', `the event-time column of ${p.plan.source} is null`, r.t, JSON.stringify(r.v), p.plan.name);
        return;
      }
      // Event time: the watermark moves with every row (max event time so far - delay), so whether a row is
      // late does not depend on how the reads were batched; ROWTIME windows close on advance().
      const running = p.eventTime && st.maxEvent !== null ? st.maxEvent - p.delayMs : Number.NEGATIVE_INFINITY;
      const closed = Math.max(st.closedUpTo ?? Number.NEGATIVE_INFINITY, running);
      if (p.eventTime && (st.maxEvent === null || t > st.maxEvent)) st.maxEvent = t;
      let placed = false;
      const add = (id: string, span: Span, key?: string) => {
        if (span.end <= closed) return;
        let win = byId.get(id);
        if (!win) { win = { id, start: span.start, end: span.end, key, rows: [] }; byId.set(id, win); st.windows.push(win); }
        win.rows.push(r);
        placed = true;
      };
      if (w.type === 'tvf' && w.fn === 'HOP') hop(t, w.sizeMs, w.slideMs).forEach((s) => add(String(s.start), s));
      else if (w.type === 'tvf' && w.fn === 'CUMULATE') cumulate(t, w.sizeMs, w.slideMs).forEach((s) => add(`${s.start}:${s.end}`, s));
      else if (w.type === 'tvf' && w.fn === 'SESSION') {
        const key = JSON.stringify(w.partitionBy.map((k) => r.v[p.source.findIndex((c) => c.name.toUpperCase() === k.toUpperCase())]));
        const gap = w.sizeMs;
        if (t + gap > closed) {
          // Merge every open session of the key that [t, t+gap) touches.
          const touching = st.windows.filter((x) => x.key === key && x.start < t + gap && t < x.end);
          const merged: Win = { id: '', key, start: t, end: t + gap, rows: [r] };
          for (const x of touching) {
            merged.start = Math.min(merged.start, x.start);
            merged.end = Math.max(merged.end, x.end);
            for (const y of x.rows) merged.rows.push(y);
            byId.delete(x.id);
          }
          st.windows = st.windows.filter((x) => !touching.includes(x));
          merged.id = `${key}@${merged.start}`;
          byId.set(merged.id, merged);
          st.windows.push(merged);
          placed = true;
        }
      } else if (w.type === 'stagger') {
        const key = keys![idx]!;
        const open = st.windows.find((x) => x.key === key && x.start <= t && t < x.end);
        if (open) { open.rows.push(r); placed = true; }
        else add(`${key}@${t}`, { start: t, end: t + w.rangeMs }, key);
      }
      if (!placed) {
        this.error('LATE_ROW', `row at ${new Date(t).toISOString()} arrived after its window closed (watermark ${new Date(closed).toISOString()})`, r.t, JSON.stringify(r.v), p.plan.name);
      }
    });
    if (p.eventTime && st.maxEvent !== null) await this.closeWindows(p, st.maxEvent - p.delayMs);
  }

  /**
   * assign() for tumbling windows (STEP, FLOOR, TUMBLE), the hot path: one
   * window per row, and rows come mostly in time order, so a row usually goes
   * to the window of the row before — no span array, id string, lookup or
   * closure per row. Same windows, late rows and state as assign().
   */
  private async assignTumbling(p: Pump, rows: Row[], sizeMs: number, byId: Map<string, Win>): Promise<void> {
    const st = p.state;
    let last: Win | undefined;
    // Pre-aggregated: this batch's rows per window, evaluated and folded below.
    const batch = p.pre ? new Map<Win, Row[]>() : undefined;
    let lastBatch: Row[] | undefined;
    const dataRow = (r: Row) => JSON.stringify(r.v);
    for (const r of rows) {
      const start = this.tumbleStartOf(p, p.eventIndex >= 0 ? (r.v[p.eventIndex] as number | null) : r.t, sizeMs, r.t, dataRow, r);
      if (start === undefined) continue;
      const end = start + sizeMs;
      const same = last !== undefined && last.start === start;
      let win = same ? last! : byId.get(String(start));
      if (win === undefined) {
        win = { id: String(start), start, end, key: undefined, rows: [] };
        if (batch) win.folded = true;
        byId.set(win.id, win);
        st.windows.push(win);
      }
      // A window restored from a checkpoint written before pre-aggregation keeps input rows.
      if (batch && win.folded) {
        if (!same || !lastBatch) {
          lastBatch = batch.get(win);
          if (!lastBatch) batch.set(win, (lastBatch = []));
        }
        lastBatch.push(r);
      } else win.rows.push(r);
      last = win;
    }
    if (batch && batch.size) await this.preAggregate(p, batch);
    if (p.eventTime && st.maxEvent !== null) await this.closeWindows(p, st.maxEvent - p.delayMs);
  }

  /**
   * The start of the tumbling window a row at time `t` (event time or ROWTIME) goes to, moving the pump's
   * event-time watermark; undefined when it goes nowhere, reported to error_stream (NULL event time, or
   * its window already closed: late). `dataRow(row)` is the row's text for the report.
   */
  private tumbleStartOf<R>(p: Pump, t: number | null, sizeMs: number, rowtime: number, dataRow: (row: R) => string, row: R): number | undefined {
    const st = p.state;
    if (t === null) {
      this.error('NULL_EVENT_TIME', `the event-time column of ${p.plan.source} is null`, rowtime, dataRow(row), p.plan.name);
      return undefined;
    }
    const running = p.eventTime && st.maxEvent !== null ? st.maxEvent - p.delayMs : Number.NEGATIVE_INFINITY;
    const closed = Math.max(st.closedUpTo ?? Number.NEGATIVE_INFINITY, running);
    if (p.eventTime && (st.maxEvent === null || t > st.maxEvent)) st.maxEvent = t;
    const start = tumbleStart(t, sizeMs);
    if (start + sizeMs <= closed) {
      this.error('LATE_ROW', `row at ${new Date(t).toISOString()} arrived after its window closed (watermark ${new Date(closed).toISOString()})`, rowtime, dataRow(row), p.plan.name);
      return undefined;
    }
    return start;
  }

  /**
   * assignTumbling() and preAggregate() over a ColumnBatch: the same windows,
   * late rows and errors row by row, then the placed rows' columns, grouped by
   * window in the order the windows first appear (as the row path orders its
   * work rows), straight into the work table, one query, and the fold.
   */
  private async assignTumblingColumns(p: Pump, b: ColumnBatch, seq0: number, fullRow: (r: number) => Value[]): Promise<void> {
    const { slotOf, wins } = this.placeTumbling(p, b, seq0, fullRow);
    if (wins.length) await this.preAggregateColumns(p, b, seq0, slotOf, wins, fullRow);
    if (p.eventTime && p.state.maxEvent !== null) await this.closeWindows(p, p.state.maxEvent - p.delayMs);
  }

  // The per-row loops of the column path are functions of their own, apart from the async steps that
  // call them once a batch: V8 optimizes a loop's function while the loop runs (on-stack replacement),
  // and code of that function the first batch had not reached yet had no type feedback, so each later
  // part deoptimized it in turn; a 1M-event worker recompiled these two steps eight times each.

  /** Each row's window slot (-1: late, error or a row-holding window) and the windows, in order of first row. */
  private placeTumbling(p: Pump, b: ColumnBatch, seq0: number, fullRow: (r: number) => Value[]): { slotOf: Int32Array; wins: Win[] } {
    const sizeMs = (p.plan.window as { sizeMs: number }).sizeMs;
    const st = p.state;
    const byId = new Map(st.windows.map((x) => [x.id, x]));
    const n = b.n;
    const slotOf = new Int32Array(n).fill(-1);
    const wins: Win[] = [];
    const slots = new Map<Win, number>();
    let last: Win | undefined;
    let lastSlot = -1;
    const dataRow = (r: number) => JSON.stringify(fullRow(r));
    for (let r = 0; r < n; r++) {
      const start = this.tumbleStartOf(p, p.eventIndex >= 0 ? (b.get(r, p.eventIndex) as number | null) : b.t[r]!, sizeMs, b.t[r]!, dataRow, r);
      if (start === undefined) continue;
      const end = start + sizeMs;
      let win = last !== undefined && last.start === start ? last : byId.get(String(start));
      if (win === undefined) {
        win = { id: String(start), start, end, key: undefined, rows: [], folded: true };
        byId.set(win.id, win);
        st.windows.push(win);
      }
      // A window restored from a checkpoint written before pre-aggregation keeps input rows.
      if (!win.folded) {
        win.rows.push({ t: b.t[r]!, seq: seq0 + r, v: fullRow(r) });
        last = win;
        continue;
      }
      if (win !== last || lastSlot < 0) {
        let k = slots.get(win);
        if (k === undefined) {
          k = wins.length;
          wins.push(win);
          slots.set(win, k);
        }
        lastSlot = k;
      }
      slotOf[r] = lastSlot;
      last = win;
    }
    return { slotOf, wins };
  }

  private async preAggregateColumns(p: Pump, b: ColumnBatch, seq0: number, slotOf: Int32Array, wins: Win[], fullRow: (r: number) => Value[]): Promise<void> {
    const sel = windowOrder(slotOf, b.n, wins.length);
    if (p.directFold) {
      const groups = this.foldDirect(p, p.directFold, b, sel, slotOf, wins);
      // Numbered as foldColumns() numbers the batch path's result rows: the same engine state either way.
      if (groups >= 0) { this.seq += groups; return; }
    }
    const byEnd = new Map(wins.map((x) => [x.end, x]));
    const folded = p.batchFold && evaluateBatchFold(p.batchFold, b, sel, slotOf, wins);
    if (folded) return this.foldColumns(p, folded, byEnd);
    const data = this.workData(p, b, seq0, slotOf, wins, sel);
    const m = sel.length;
    await this.duck.fillColumns(p.plan.workTable, p.tableColumns, m, data);
    let res: { cols: Value[][]; n: number };
    try {
      res = await this.duck.queryColumns(p.plan.sql);
    } catch (e) {
      for (let k = 0; k < m; k++) this.error('EVALUATION_ERROR', cleanDuckMessage((e as Error).message), b.t[sel[k]!]!, JSON.stringify(fullRow(sel[k]!)), p.plan.name);
      return;
    }
    this.foldColumns(p, res, byEnd);
  }

  /** Batches folded straight into window tables so far: each one's stamp (DirectFolder). */
  private directBatches = 0;

  /**
   * Rows `sel` (grouped by window, `slotOf`) folded straight into their windows' groups: the number of
   * groups the batch path would have made of them, or -1 (nothing folded) when it must take the batch
   * (directRows), a window's table is not keyed for it, or a window's bound does not fit its column.
   */
  private foldDirect(p: Pump, d: DirectFold, b: ColumnBatch, sel: Int32Array, slotOf: Int32Array, wins: Win[]): number {
    const direct = directRows(p.batchFold!, d, b, sel);
    if (!direct) return -1;
    const { rows, magnitude } = direct;
    const folders: DirectFolder[] = [];
    for (const win of wins) {
      if (!d.bounds.every((x) => numberFits(win[x.kind], p.target[x.target]!.type))) return -1;
      const f = foldTable(p, win).directFolder?.(d, win, magnitude);
      if (!f) return -1;
      folders.push(f);
    }
    const stamp = ++this.directBatches;
    let groups = 0;
    for (let k = 0; k < rows.length;) {
      const s = slotOf[rows[k]!]!;
      let e = k + 1;
      while (e < rows.length && slotOf[rows[e]!] === s) e++;
      groups += folders[s]!.fold(b, rows, k, e, stamp);
      k = e;
    }
    return groups;
  }

  /** The work table's columns for the placed rows `sel`: the usual batch (one window, no late rows) as it lies, column views, no gather. */
  private workData(p: Pump, b: ColumnBatch, seq0: number, slotOf: Int32Array, wins: Win[], sel: Int32Array): FillColumn[] {
    const m = sel.length;
    const nSource = p.source.length;
    const idx = p.tableIndex ?? p.workColumns.map((_, i) => i);
    const identity = isIdentity(sel);
    const one = wins.length === 1 ? wins[0]! : undefined;
    let scratch = 0;
    const numbers = (what: 'seq' | 'slot' | 'end' | 'start'): FillColumn => {
      const out = this.scratch(scratch++, m);
      if (what === 'seq') for (let k = 0; k < m; k++) out[k] = seq0 + sel[k]!;
      else if (what === 'slot') gatherInts(slotOf, sel, out);
      else windowBounds(slotOf, sel, wins, what === 'end', out);
      return { numbers: out };
    };
    return idx.map((c): FillColumn => {
      if (c < nSource) {
        const col = b.cols[c];
        if (!col) return { constant: null };
        if (col.kind === 'value') return identity ? { values: col.values } : { values: gatherValues(col.values, sel) };
        if (identity) return { numbers: col.values.subarray(0, m), nulls: col.nulls.subarray(0, m) };
        const nulls = new Uint8Array(m);
        const out = this.scratch(scratch++, m);
        gatherNumbers(col.values, col.nulls, sel, out, nulls);
        return { numbers: out, nulls };
      }
      switch (c - nSource) {
        case 0: {
          if (identity) return { numbers: b.t.subarray(0, m) };
          const out = this.scratch(scratch++, m);
          gatherNumbers(b.t, undefined, sel, out, undefined);
          return { numbers: out };
        }
        case 1: return numbers('seq');
        case 2: return one ? { constant: 0 } : numbers('slot');
        case 3: case 6: return one ? { constant: one.end } : numbers('end');
        case 4: return { constant: true };
        default: return one ? { constant: one.start } : numbers('start');
      }
    });
  }

  /**
   * fold() over the result's columns, as results() makes target rows of them: new rows only, each value
   * coerced to its target column's type (a row with a TYPE_ERROR leaves the batch), folded into its
   * window's groups. Coerced column by column (a column whose values are already of the type is used as
   * it is), so no array or boxed number per row. Result rows go to the windows in DuckDB's order, as
   * results()'s stable sort on the window's end keeps it.
   */
  private foldColumns(p: Pump, res: { cols: Value[][]; n: number }, byEnd: Map<number, Win>): void {
    const { outIndex, targetIndex, target } = p;
    const rowtime = res.cols[p.rowtimeIndex]!;
    const isNew = p.newIndex >= 0 ? res.cols[p.newIndex] : undefined;
    // Target columns no result column fills read as NULL (an empty column).
    const cols: Value[][] = Array.from({ length: target.length }, () => []);
    let bad: Map<number, string> | undefined;
    for (let k = 0; k < outIndex.length; k++) {
      const ti = targetIndex[k]!;
      cols[ti] = coerceColumn(res.cols[outIndex[k]!]!, res.n, target[ti]!.type, target[ti]!.name, (r, m) => {
        if (!(bad ??= new Map()).has(r)) bad.set(r, m);
      });
    }
    let win: Win | undefined;
    let table: FoldTable | undefined;
    for (let r = 0; r < res.n; r++) {
      if (isNew && isNew[r] !== true) continue;
      const t = rowtime[r] as number;
      const e = bad?.get(r);
      if (e !== undefined) {
        this.error('TYPE_ERROR', e, t, JSON.stringify(outIndex.map((c) => res.cols[c]![r])), p.plan.name);
        continue;
      }
      // An aggregated pump's row time is its window's end (max of __WEND).
      if (win?.end !== t) {
        win = byEnd.get(t);
        if (!win) throw new Error(`pump ${p.plan.name}: a result row at ${t} is in no window of the batch`);
        table = foldTable(p, win);
      }
      table!.addAt(cols, r);
      // Numbered as results() numbers its rows: the row path and this one leave the same engine state.
      this.seq++;
    }
  }

  /** Reused number columns for preAggregateColumns (a new Float64Array per column and batch kept the GC busy). */
  private scratchColumns: Float64Array[] = [];
  private scratch(i: number, m: number): Float64Array {
    let a = this.scratchColumns[i];
    if (!a || a.length < m) this.scratchColumns[i] = a = new Float64Array(Math.max(m, 1024));
    return a.subarray(0, m);
  }

  /** Evaluates a batch's rows of each window (one query) and folds the results into the windows' rows. */
  private async preAggregate(p: Pump, batch: Map<Win, Row[]>): Promise<void> {
    const rows: Value[][] = [];
    const sources: Row[] = [];
    const byEnd = new Map<number, Win>();
    let i = 0;
    for (const [win, list] of batch) {
      const o = { new: true, wid: i++, wend: win.end, ws: win.start };
      for (const r of list) { rows.push(work(p, r, o)); sources.push(r); }
      byEnd.set(win.end, win);
    }
    this.fold(p, await this.run(p, rows, sources), byEnd);
  }

  /** A pre-aggregated pump's result rows of a batch folded into their windows' rows (one per group). */
  private fold(p: Pump, results: Row[], byEnd: Map<number, Win>): void {
    let win: Win | undefined;
    let table: FoldTable | undefined;
    for (const r of results) {
      // An aggregated pump's row time is its window's end (max of __WEND).
      if (win?.end !== r.t) {
        win = byEnd.get(r.t);
        if (!win) throw new Error(`pump ${p.plan.name}: a result row at ${r.t} is in no window of the batch`);
        table = foldTable(p, win);
      }
      table!.add(r.v);
    }
  }

  /** Evaluates and removes every window of the pump that ends at or before `wm`. */
  private async closeWindows(p: Pump, wm: number): Promise<void> {
    const st = p.state;
    if (st.closedUpTo !== null && wm <= st.closedUpTo) return;
    st.closedUpTo = wm;
    const closing = st.windows.filter((x) => x.end <= wm).sort((a, b) => a.end - b.end || a.start - b.start || (a.key ?? '').localeCompare(b.key ?? ''));
    if (closing.length === 0) return;
    st.windows = st.windows.filter((x) => x.end > wm);
    // Folded windows' rows are their results already, put in an order that does not depend on the batches:
    // as columns (drainFolded) when nothing in this engine reads them, the partial workers' case.
    if (closing.every((w) => w.folded) && this.declared.has(p.plan.target) && !this.readers(p.plan.target)) {
      let list = this.foldedOut.get(p.plan.target);
      if (!list) this.foldedOut.set(p.plan.target, (list = []));
      for (const win of closing) {
        const table = foldTable(p, win);
        p.lastGroups = table.size;
        if (table.size) list.push({ t: win.end, cols: table.columns(), n: table.size });
        releaseTable(p, win);
      }
      return;
    }
    const folded: Row[] = [];
    for (const win of closing) {
      if (!win.folded) continue;
      // The row time of a pre-aggregated pump's rows is their window's end (fold()).
      for (const v of foldTable(p, win).rows()) folded.push({ t: win.end, seq: this.seq++, v });
      releaseTable(p, win);
    }
    const rows: Value[][] = [];
    const sources: Row[] = [];
    closing.forEach((win, i) => {
      if (win.folded) return;
      const o = { new: true, wid: i, wend: win.end, ws: win.start };
      for (const r of win.rows) { rows.push(work(p, r, o)); sources.push(r); }
    });
    const evaluated = rows.length ? await this.run(p, rows, sources) : [];
    // Stable: each window's rows stay together, in window order.
    const out = folded.length === 0 ? evaluated : evaluated.length === 0 ? folded : [...folded, ...evaluated].sort((a, b) => a.t - b.t);
    await this.deliver(p.plan.target, out);
  }
}

/**
 * A result column as its target column's type (assignNumeric, then coerce), `n` rows: the column
 * itself when every value already is one (numberFits), else a coerced copy; `bad(r, message)` for
 * each value that does not convert (NULL in the copy).
 */
function coerceColumn(col: Value[], n: number, t: SqlType, name: string, bad: (r: number, message: string) => void): Value[] {
  let r = firstUnfit(col, n, t);
  if (r === n) return col;
  const out = col.slice(0, n);
  for (; r < n; r++) {
    try {
      out[r] = coerce(assignNumeric(col[r] ?? null, t), t, name);
    } catch (e) {
      if (!(e instanceof TypeError_)) throw e;
      bad(r, e.message);
      out[r] = null;
    }
  }
  return out;
}

/** A pre-aggregated window's groups, made from its rows the first time (a window restored from a checkpoint). */
function foldTable(p: Pump, win: Win): FoldTable {
  let t = p.tables.get(win);
  if (!t) {
    t = p.pre!.table(p.target.length, p.lastGroups);
    // Checkpoints hold a window's groups as columns; earlier ones as rows.
    const cols = win.cols;
    if (cols) for (let r = 0, n = cols[0]?.length ?? 0; r < n; r++) t.addAt(cols, r);
    for (const r of win.rows) t.add(r.v);
    win.rows = [];
    delete win.cols;
    p.tables.set(win, t);
  }
  return t;
}

/** A closed window's table, read for the last time: its arrays go to the next windows' tables. */
function releaseTable(p: Pump, win: Win): void {
  p.tables.get(win)?.release?.();
  p.tables.delete(win);
}

/** A pre-aggregated pump's state with each folded window's groups as its columns (Win.cols; their seq is given at close). */
function withTableRows(p: Pump): RunnerState {
  return {
    ...p.state,
    windows: p.state.windows.map((w) => {
      const t = p.tables.get(w);
      return t ? { ...w, rows: [], cols: t.columns() } : w;
    }),
  };
}

export interface EngineState {
  seq: number;
  watermark: number | null;
  pumps: Record<string, RunnerState | SharedRowsState>;
  /** RANDOM_CUT_FOREST models by pump name. */
  forests?: Record<string, StageState>;
}

/**
 * A pump's state with each row once: HOP and CUMULATE put one row into
 * several open windows (HOP 10 s / 2 s: five), and serialising the windows'
 * row lists as they are wrote every row that many times into each checkpoint.
 * Windows name their rows by index into `rows`.
 */
interface SharedRowsState extends Omit<RunnerState, 'windows'> { rows: Row[]; windows: (Omit<Win, 'rows'> & { rowRefs: number[] })[] }

/** Pumps whose open windows can hold the same row. */
const sharesRows = (p: Pump) => p.plan.window.type === 'tvf' && (p.plan.window.fn === 'HOP' || p.plan.window.fn === 'CUMULATE');

function withSharedRows(st: RunnerState): SharedRowsState {
  const index = new Map<Row, number>();
  const rows: Row[] = [];
  const windows = st.windows.map(({ rows: wr, ...w }) => ({
    ...w,
    rowRefs: wr.map((r) => {
      let i = index.get(r);
      if (i === undefined) {
        i = rows.length;
        rows.push(r);
        index.set(r, i);
      }
      return i;
    }),
  }));
  return { ...st, windows, rows };
}

/** The state as the pump holds it (a state written before shared rows passes through). */
function fromSharedRows(st: RunnerState | SharedRowsState): RunnerState {
  if (!('rows' in st)) return st;
  const { rows, windows, ...rest } = st;
  return { ...rest, windows: windows.map(({ rowRefs, ...w }) => ({ ...w, rows: rowRefs.map((i) => rows[i]!) })) };
}

/**
 * The work table cut down to the columns the pump's query reads, so a batch
 * converts and copies only those into DuckDB (q1-style projections and
 * aggregations read a few of many input columns). Kept only when the query
 * binds to it with the same result columns; otherwise the full table stays.
 */
async function narrowWorkTable(duck: Duck, pump: Pump, names: string[]): Promise<void> {
  const read = await duck.columnsRead(pump.plan.sql, pump.plan.workTable, pump.workColumns);
  const keep = pump.workColumns.map((_, i) => i).filter((i) => read[i]);
  if (keep.length === pump.workColumns.length) return;
  if (keep.length === 0) keep.push(pump.source.length); // a table needs a column: ROWTIME
  const cols = keep.map((i) => pump.workColumns[i]!);
  await duck.createTable(pump.plan.workTable, cols);
  try {
    const again = await duck.query(pump.plan.sql);
    if (again.names.join('\u0000') === names.join('\u0000')) {
      pump.tableColumns = cols;
      pump.tableIndex = keep;
      return;
    }
  } catch {
    // falls back to the full table below
  }
  await duck.createTable(pump.plan.workTable, pump.workColumns);
}

const isWindowed = (p: Pump) => p.plan.window.type !== 'none' && p.plan.window.type !== 'sliding';

interface WorkExtra { new: boolean; wid?: number; wend?: number; ws?: number }
const NEW: WorkExtra = { new: true };
const OLD: WorkExtra = { new: false };

/**
 * A row of the pump's work table: the source columns, then ROWTIME and the
 * bookkeeping columns (workColumns' order); only the columns the table holds
 * when it was narrowed (tableIndex), so no full row is built for them.
 */
function work(p: Pump, r: Row, o: WorkExtra): Value[] {
  const idx = p.tableIndex;
  if (idx) {
    const n = p.source.length;
    const row: Value[] = new Array(idx.length);
    for (let k = 0; k < idx.length; k++) {
      const c = idx[k]!;
      row[k] = c < n ? r.v[c]! : workExtra(c - n, r, o);
    }
    return row;
  }
  const row: Value[] = [...r.v, r.t, r.seq, o.wid ?? null, o.wend ?? null, o.new];
  if (p.plan.window.type === 'tvf') row.push(o.ws ?? null, o.wend ?? null);
  return row;
}

/** Work column source.length + j: ROWTIME, __SEQ, __WID, __WEND, __NEW, window_start, window_end. */
function workExtra(j: number, r: Row, o: WorkExtra): Value {
  switch (j) {
    case 0: return r.t;
    case 1: return r.seq;
    case 2: return o.wid ?? null;
    case 3: return o.wend ?? null;
    case 4: return o.new;
    case 5: return o.ws ?? null;
    default: return o.wend ?? null;
  }
}

function topological<T>(items: T[], deps: (t: T) => T[]): T[] | undefined {
  const out: T[] = [];
  const state = new Map<T, 1 | 2>();
  const visit = (t: T): boolean => {
    const s = state.get(t);
    if (s === 2) return true;
    if (s === 1) return false;
    state.set(t, 1);
    for (const d of deps(t)) if (!visit(d)) return false;
    state.set(t, 2);
    out.push(t);
    return true;
  };
  for (const t of items) if (!visit(t)) return undefined;
  return out;
}

/** DuckDB's message without the echoed line (the position is reported separately). */
export function cleanDuckMessage(m: string): string {
  return m.split('\n\nLINE ')[0]!.trim();
}

/**
 * The offset in the application code of the position DuckDB marks with '^' under
 * `LINE n: <excerpt>` in the rewritten query: the excerpt is found in the
 * rewritten line, and the piece holding that offset gives the original offset.
 */
export function duckErrorPos(message: string, plan: PumpPlan): number {
  const m = /\nLINE (\d+): (.*)\n( *)\^/.exec(message);
  if (!m) return plan.pos;
  const lineNo = Number(m[1]);
  const prefix = `LINE ${m[1]}: `.length;
  let excerpt = m[2]!;
  let caret = m[3]!.length - prefix;
  if (excerpt.startsWith('...')) { excerpt = excerpt.slice(3); caret -= 3; }
  if (excerpt.endsWith('...')) excerpt = excerpt.slice(0, -3);
  const lines = plan.sql.split('\n');
  const line = lines[lineNo - 1] ?? '';
  const at = line.indexOf(excerpt);
  let off = 0;
  for (let i = 0; i < lineNo - 1; i++) off += lines[i]!.length + 1;
  off += Math.max(0, at) + Math.max(0, caret);
  let acc = 0;
  for (const piece of plan.pieces) {
    if (off < acc + piece.text.length) return piece.verbatim ? piece.pos + (off - acc) : piece.pos;
    acc += piece.text.length;
  }
  return plan.pos;
}

export { INTERNAL_COLUMNS };

// ---- The column path's row loops (assignTumblingColumns), each a small function V8 optimizes whole:
// V8 compiles a long loop while it runs (on-stack replacement), and code after the loop that had not run
// yet made it throw that code away at the end of a call, then compile it again at the next batch.

/** The placed rows (slot >= 0), window by window (a counting sort on the slot), each window's in arrival order. */
function windowOrder(slotOf: Int32Array, n: number, nWins: number): Int32Array {
  const counts = new Int32Array(nWins + 1);
  countSlots(slotOf, n, counts);
  for (let k = 1; k <= nWins; k++) counts[k]! += counts[k - 1]!;
  const sel = new Int32Array(counts[nWins]!);
  placeBySlot(slotOf, n, counts.subarray(0, nWins), sel);
  return sel;
}

function countSlots(slotOf: Int32Array, n: number, counts: Int32Array): void {
  for (let r = 0; r < n; r++) if (slotOf[r]! >= 0) counts[slotOf[r]! + 1]!++;
}

/** Each placed row at its window's next place (`at`: where each window's rows start). */
function placeBySlot(slotOf: Int32Array, n: number, at: Int32Array, sel: Int32Array): void {
  for (let r = 0; r < n; r++) {
    const k = slotOf[r]!;
    if (k >= 0) sel[at[k]!++] = r;
  }
}

function isIdentity(sel: Int32Array): boolean {
  for (let k = 0; k < sel.length; k++) if (sel[k] !== k) return false;
  return true;
}

function gatherValues(values: readonly Value[], sel: Int32Array): Value[] {
  const out = new Array<Value>(sel.length);
  for (let k = 0; k < sel.length; k++) out[k] = values[sel[k]!] ?? null;
  return out;
}

function gatherNumbers(values: Float64Array, nulls: Uint8Array | undefined, sel: Int32Array, out: Float64Array, outNulls: Uint8Array | undefined): void {
  for (let k = 0; k < sel.length; k++) out[k] = values[sel[k]!]!;
  if (nulls && outNulls) for (let k = 0; k < sel.length; k++) outNulls[k] = nulls[sel[k]!]!;
}

function gatherInts(values: Int32Array, sel: Int32Array, out: Float64Array): void {
  for (let k = 0; k < sel.length; k++) out[k] = values[sel[k]!]!;
}

function windowBounds(slotOf: Int32Array, sel: Int32Array, wins: readonly Win[], end: boolean, out: Float64Array): void {
  for (let k = 0; k < sel.length; k++) {
    const w = wins[slotOf[sel[k]!]!]!;
    out[k] = end ? w.end : w.start;
  }
}
