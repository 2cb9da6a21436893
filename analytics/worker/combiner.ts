// Phase 2 of two-phase aggregation, on the one replica holding the
// application lease: reads the partials stream in order, keeps one partial per
// window and shard, and closes a window once every input shard's watermark
// (ROWTIME, or for event-time pumps the shard's event-time watermark: its
// greatest event time less the input's allowed lateness) has passed its end (a shard that ended, or whose lease is at SHARD_END, no
// longer holds windows back; a shard nobody reads yet holds them all). The
// combined rows (one per window and key) go into the pump's target stream of
// the combiner's engine, which runs the rest of the application and whose
// output is emitted exactly once by the runner's checkpoint-then-emit cycle.
// The combiner's state (stream position, partials of open windows, shard
// watermarks) is part of that checkpoint.
import type { ApplicationDefinition } from '../../contract/analytics.js';
import type { Store } from '../../stream/connect.js';
import { directSource, kvLeaseStore, SHARD_END } from '../../consumer/index.js';
import { keys as leaseKeys, type LeaseValue } from '../../consumer/leaseRecords.js';
import type { Engine } from '../engine/engine.js';
import { coerce, firstUnfit, numberFits, TypeError_, type SqlType, type Value } from '../engine/types.js';
import type { Decomposition, PartialPump } from '../sql/decompose.js';
import { messagesInRange } from '../../stream/shardRead.js';
import { recycleMessageBytes } from '../../stream/natsSplitMessages.js';
import { InputFeed, inputStreamName } from './inputFeed.js';
import type { CombinerState, PartialRows } from './checkpoint.js';
import { ensurePartialsStream, partialsStreamName, runEpoch, type PartialMessage } from './partials.js';
import { decodePartialMessage } from './partialFrame.js';
import { partialFolding } from './preAggregation.js';

const REFRESH_MS = 2000;

export type { CombinerState };

export class Combiner {
  state: CombinerState = { seq: 0, windows: {}, closedUpTo: {}, wms: {}, ended: [] };
  private required: string[] | undefined;
  private requiredAt = 0;
  private readonly source;
  private readonly leases;
  private readonly stream: string;
  private readonly epoch: string;

  constructor(private readonly store: Store, private readonly def: ApplicationDefinition, private readonly plan: Extract<Decomposition, { decomposable: true }>, private readonly log: (m: string) => void, private readonly runId?: string) {
    this.source = directSource(store);
    this.leases = kvLeaseStore(store);
    this.stream = partialsStreamName(def.name);
    this.epoch = runEpoch(def, runId);
  }

  private purgedAt = 0;

  /** A checkpoint holding `seq` is saved: what it covers is no longer needed (purged every 10 s at most). */
  async committed(seq: number): Promise<void> {
    // Nothing applied yet: nothing to purge. And never purge {seq: 1}: nats-server (2.9.10 measured) takes
    // a purge up to sequence 1 as "purge everything", which would drop partials no checkpoint covers.
    if (seq < 1) return;
    if (Date.now() - this.purgedAt < 10_000) return;
    this.purgedAt = Date.now();
    await this.store.jsm.streams.purge(this.stream, { seq: seq + 1 }).catch((e) => this.log(`combiner: purging partials: ${(e as Error).message}`));
  }

  restore(s: CombinerState | undefined): void {
    if (s) this.state = structuredClone(s);
  }

  /**
   * A fresh run whose partial workers start only after this combiner (an API application's StartApplication
   * from NOW or TRIM_HORIZON): earlier runs' partials are skipped by position instead of read one by one.
   */
  async startAtEnd(): Promise<void> {
    await ensurePartialsStream(this.store, this.def.name);
    this.state.seq = (await this.store.jsm.streams.info(this.stream)).state.last_seq;
  }

  /** Input shards whose watermark must pass a window before it closes. */
  private async requiredShards(): Promise<string[] | undefined> {
    if (this.required && Date.now() - this.requiredAt < REFRESH_MS) return this.required;
    try {
      const out: string[] = [];
      const ended = new Set(this.state.ended);
      for (const i of this.def.inputs) {
        const name = await inputStreamName(this.store, i);
        const k = leaseKeys(InputFeed.consumerName(this.def.name, i.id, this.runId), name);
        const finished = new Set<string>();
        for (const [key, v] of await this.leases.list(k.all)) if (k.isLease(key) && (v.value as LeaseValue).checkpoint === SHARD_END) finished.add((v.value as LeaseValue).shardId);
        for (const s of await this.source.listShards(name)) {
          const id = `${i.id}/${s.shardId}`;
          if (!finished.has(s.shardId) && !ended.has(id)) out.push(id);
        }
      }
      this.required = out;
      this.requiredAt = Date.now();
    } catch (e) {
      this.log(`combiner: listing shards: ${(e as Error).message}`);
    }
    return this.required;
  }

  /** `data`: the message's bytes (a partial's window keeps them; decoded when it closes). */
  private apply(m: PartialMessage, data: Uint8Array): void {
    const id = `${m.input}/${m.shard}`;
    const st = this.state;
    if (m.type === 'watermark') {
      st.wms[id] = Math.max(st.wms[id] ?? Number.NEGATIVE_INFINITY, m.wm);
      if (m.ewm) {
        const e = ((st.ewms ??= {})[id] ??= {});
        for (const [s, v] of Object.entries(m.ewm)) e[s] = Math.max(e[s] ?? Number.NEGATIVE_INFINITY, v);
      }
      if (m.idle !== undefined) (st.idle ??= {})[id] = m.idle;
    }
    else if (m.type === 'end') { if (!st.ended.includes(id)) st.ended.push(id); this.required = undefined; }
    else if (m.type === 'partial') {
      // A window already combined: the same partial published again after a move (dropped), or, for
      // event time, rows a shard took in after the others had closed the window without it (it was idle).
      if (m.t <= (st.closedUpTo[m.stream] ?? Number.NEGATIVE_INFINITY)) {
        const p = this.plan.pumps.find((x) => x.partialStream === m.stream);
        if (p?.eventTime && this.engine) {
          for (const r of partialRows({ message: data })) this.engine.error('LATE_ROW', `partial aggregate of shard ${id} for the window ending ${new Date(m.t).toISOString()} arrived after the window closed on the other shards' event-time watermarks`, m.t, JSON.stringify(r), p.name);
        }
        return;
      }
      const w = ((st.windows[m.stream] ??= {})[String(m.t)] ??= {});
      // One entry per shard and chunk: the same chunk published again replaces itself. A copy of the
      // message's bytes (the read's buffer is not kept for it).
      w[`${id}#${m.chunk ?? 0}`] = { message: data.slice() };
    }
  }

  private engine?: Engine;
  private ensured = false;

  /** Applies what the partials stream holds, then combines the windows every shard has passed. */
  async step(engine: Engine): Promise<{ n: number; wm: number }> {
    this.engine = engine;
    let n = 0;
    // Once: the stream exists and takes direct gets (one an earlier worker created may not).
    if (!this.ensured) {
      await ensurePartialsStream(this.store, this.def.name);
      this.ensured = true;
    }
    const info = await this.store.jsm.streams.info(this.stream);
    const last = Math.min(info.state.last_seq, this.state.seq + 2000);
    // Pipelined direct gets. One STREAM.MSG.GET at a time (JSON and base64 of up to ~100 KB each, and a
    // request object with its error built) took ~0.06 µs of CPU per event at 100k keys (profile of a
    // 3M-event run), and waited out one round trip per message.
    for await (const sm of messagesInRange(this.store, this.stream, Math.max(this.state.seq + 1, info.state.first_seq), last)) {
      const m = decodePartialMessage<PartialMessage & { epoch?: string }>(sm.data, false);
      if (m.epoch !== this.epoch) { /* an earlier definition's */ }
      else if (m.type === 'errors') for (const e of m.errors) engine.error(e[0], e[1], e[2], e[3], e[4]);
      else this.apply(m, sm.data);
      // Applied (a partial's window keeps a copy): its buffer goes back for the next reads.
      recycleMessageBytes([sm.data]);
      n++;
      this.state.seq = sm.seq;
    }
    // Messages gone from the stream (purged, expired) are passed over.
    if (last > this.state.seq) this.state.seq = last;
    const required = await this.requiredShards();
    if (!required) return { n, wm: Number.NEGATIVE_INFINITY };
    let wm = Number.POSITIVE_INFINITY;
    for (const id of required) wm = Math.min(wm, this.state.wms[id] ?? Number.NEGATIVE_INFINITY);
    if (wm === Number.POSITIVE_INFINITY) wm = Number.NEGATIVE_INFINITY;
    for (const p of this.plan.pumps) await this.close(engine, p, p.eventTime ? this.eventWatermark(required, p.partialStream) : wm);
    return { n, wm };
  }

  private eventWatermark(required: string[], stream: string): number {
    return eventWatermark(this.state, required, stream);
  }

  private async close(engine: Engine, p: PartialPump, wm: number): Promise<void> {
    const wins = this.state.windows[p.partialStream] ?? {};
    const ends = Object.keys(wins).map(Number).filter((t) => t <= wm).sort((a, b) => a - b);
    if (ends.length === 0) return;
    if (p.general) {
      // The general form: the final pump runs over the partial rows of the windows closing now.
      const g = p.general;
      const start = (end: number) => (p.window.fn === 'CUMULATE' ? Math.floor((end - 1) / p.window.sizeMs) * p.window.sizeMs : end - p.window.sizeMs);
      const windows = ends.map((end) => {
        const ws = start(end);
        const rows = Object.values(wins[String(end)]!).flatMap(partialRows).map((v) => ({ t: ws, v: g.timeColumn ? [...v, ws] : v }));
        delete wins[String(end)];
        return { start: ws, end, rows };
      });
      this.state.closedUpTo[p.partialStream] = Math.max(this.state.closedUpTo[p.partialStream] ?? Number.NEGATIVE_INFINITY, ends[ends.length - 1]!);
      await engine.evaluateWindows(p.name, windows);
      return;
    }
    const cols = engine.columns(p.target)!;
    const at = p.targetColumns.map((c) => cols.findIndex((x) => x.name === c));
    const types = at.map((i) => cols[i]!.type);
    const names = at.map((i) => cols[i]!.name);
    for (const t of ends) {
      const items = combineColumns(p, Object.values(wins[String(t)]!));
      const { cols: typed, bad } = coerceItems(items.cols, items.n, types, names);
      // A row a value of which its column's type does not take: error_stream (its combined values), not the target.
      for (const [r, message] of bad) engine.error('TYPE_ERROR', message, t, JSON.stringify(items.cols.map((c) => c[r] ?? null)), p.name);
      const keep = bad.size ? rowsWithout(typed, items.n, bad) : { cols: typed, n: items.n };
      const block: Value[][] = Array.from({ length: cols.length }, () => []);
      at.forEach((i, k) => { block[i] = keep.cols[k]!; });
      await engine.emitColumns(p.target, { t, cols: block, n: keep.n });
      delete wins[String(t)];
    }
    this.state.closedUpTo[p.partialStream] = Math.max(this.state.closedUpTo[p.partialStream] ?? Number.NEGATIVE_INFINITY, ends[ends.length - 1]!);
  }
}

/**
 * An event-time pump's watermark: the least of the required shards' event-time watermarks (a shard
 * that has not reported one holds every window back); idle shards (caught up, no records for a while)
 * are left out, and when every shard is idle the greatest counts (nothing is arriving anywhere).
 */
export function eventWatermark(state: Pick<CombinerState, 'ewms' | 'idle'>, required: string[], stream: string): number {
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  let active = false;
  for (const id of required) {
    const e = state.ewms?.[id]?.[stream];
    if (e !== undefined) max = Math.max(max, e);
    if (state.idle?.[id]) continue;
    active = true;
    min = Math.min(min, e ?? Number.NEGATIVE_INFINITY);
  }
  return active ? min : max;
}

/** A window entry as rows or columns (a partial message decoded). */
function entryOf(e: PartialRows): Value[][] | { cols: Value[][] } {
  if (Array.isArray(e) || 'cols' in e) return e;
  if ('blob' in e) throw new Error('a combiner window entry still names a checkpoint blob');
  // Columns of doubles as Float64Arrays: combineColumns folds them so (foldNumbers).
  const m = decodePartialMessage<{ rows?: Value[][]; cols?: Value[][] }>(e.message, 'typed');
  return m.cols ? { cols: m.cols } : m.rows ?? [];
}

/** A partial message's or a window entry's rows (columnar ones turned into rows). */
export function partialRows(e: PartialRows | { rows?: Value[][]; cols?: Value[][] }): Value[][] {
  const m = 'message' in e || 'blob' in e ? entryOf(e as PartialRows) : e;
  if (Array.isArray(m)) return m;
  const cols = m.cols;
  if (!cols) return 'rows' in m ? m.rows ?? [] : [];
  const n = cols[0]?.length ?? 0;
  return Array.from({ length: n }, (_, r) => cols.map((c) => c[r] ?? null));
}

/**
 * Simple form: one row per key from the partial rows of one window, folded as a shard's engine folds
 * them (foldTable.ts): COUNT and SUM add up, MIN/MAX compare, AVG divides the summed SUM by the
 * summed COUNT. Keys in the order they first appear.
 */
export function combine(p: PartialPump, partials: Value[][]): Value[][] {
  return combineWindow(p, [partials]);
}

/** combine() over a window's entries as the combiner holds them: rows, or (from shard engines) columns. */
export function combineWindow(p: PartialPump, entries: PartialRows[]): Value[][] {
  const { cols, n } = combineColumns(p, entries);
  const out: Value[][] = new Array(n);
  for (let r = 0; r < n; r++) out[r] = cols.map((c) => c[r] ?? null);
  return out;
}

/** Groups of the last window combineColumns() combined, per pump: the next window's table is sized for about as many. */
const lastGroups = new WeakMap<PartialPump, number>();

/** combineWindow()'s rows as columns, one per item of the pump (`n` rows): the form the combiner emits them in. */
export function combineColumns(p: PartialPump, held: PartialRows[]): { cols: Value[][]; n: number } {
  const width = p.items.reduce((n, it) => n + (it === 'avg' ? 2 : 1), 0);
  const entries = held.map(entryOf);
  // At most one group per partial row, and about as many as the pump's last window had: sized for the
  // fewer (at 100k keys four shards' partial rows were ~1.8 times the groups, and a table sized for them
  // spread its hash table and folds over twice the memory a window's lookups then missed in).
  let rows = 0;
  for (const e of entries) rows += Array.isArray(e) ? e.length : e.cols[0]?.length ?? 0;
  const last = lastGroups.get(p);
  const table = partialFolding(p).table(width, last === undefined ? rows : Math.min(rows, Math.ceil(last * 1.25)));
  for (const e of entries) {
    if (Array.isArray(e)) for (const r of e) table.add(r);
    else {
      const n = e.cols[0]?.length ?? 0;
      if (table.foldNumbers?.(e.cols as unknown as Float64Array[], n)) continue;
      for (let r = 0; r < n; r++) table.addAt(e.cols, r);
    }
  }
  // Fresh arrays (a slice each): the item columns are made in place.
  const acc = table.columns('first');
  const n = table.size;
  table.release?.();
  lastGroups.set(p, n);
  const cols: Value[][] = [];
  let c = 0;
  for (const it of p.items) {
    const x = acc[c]!;
    if (it === 'avg') {
      const count = acc[c + 1]!;
      const avg: Value[] = new Array(n);
      for (let r = 0; r < n; r++) {
        const k = Number(count[r] ?? 0);
        avg[r] = k > 0 ? Number(x[r] ?? 0) / k : null;
      }
      cols.push(avg);
      c += 2;
      continue;
    }
    // COUNT and SUM as numbers, as they were added up (a COUNT partial is never NULL; 0 if one were).
    if (it === 'count' || it === 'sum') asNumbers(x, n, it === 'count');
    cols.push(x);
    c++;
  }
  return { cols, n };
}

/**
 * x[0…n) as numbers in place; NULL as 0 when `count`, else kept. A function of its own: the loop, compiled
 * while it ran (on-stack replacement), threw the code away at the code after it, at every window.
 */
function asNumbers(x: Value[], n: number, count: boolean): void {
  if (count) for (let r = 0; r < n; r++) x[r] = Number(x[r] ?? 0);
  else for (let r = 0; r < n; r++) x[r] = x[r] === null || x[r] === undefined ? null : Number(x[r]);
}

/**
 * Combined item columns as their target columns' types (coerce(), value by value, as a row is
 * inserted): a column is itself when every value already is one (numberFits: a count, a sum), else a
 * coerced copy. `bad`: each row a value of which does not convert, with the first such value's reason.
 */
export function coerceItems(cols: readonly Value[][], n: number, types: readonly SqlType[], names: readonly string[]): { cols: Value[][]; bad: Map<number, string> } {
  const bad = new Map<number, string>();
  const out = cols.map((col, k) => {
    const t = types[k]!;
    const first = firstUnfit(col, n, t);
    if (first === n) return col;
    const copy = col.slice(0, n);
    for (let r = first; r < n; r++) {
      const x = col[r] ?? null;
      if (x === null || (typeof x === 'number' && numberFits(x, t))) continue;
      try {
        copy[r] = coerce(x, t, names[k]!);
      } catch (e) {
        if (!(e instanceof TypeError_)) throw e;
        if (!bad.has(r)) bad.set(r, e.message);
        copy[r] = null;
      }
    }
    return copy;
  });
  // Reported in row order, as rows are inserted.
  return { cols: out, bad: new Map([...bad].sort((a, b) => a[0] - b[0])) };
}

/** The columns without the rows in `drop`. */
function rowsWithout(cols: readonly Value[][], n: number, drop: ReadonlyMap<number, unknown>): { cols: Value[][]; n: number } {
  const kept: number[] = [];
  for (let r = 0; r < n; r++) if (!drop.has(r)) kept.push(r);
  return { cols: cols.map((c) => kept.map((r) => c[r] ?? null)), n: kept.length };
}
