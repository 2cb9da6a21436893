// The streaming engine against offline oracles written here in plain JS: for
// every window type, the rows it emits equal a batch computation over the same
// records, with out-of-order and late records and a snapshot/restore midway.
import { Engine, ApplicationSqlError, type Row } from '../../analytics/engine/engine.js';

const SRC = 'SOURCE_SQL_STREAM_001';
const INPUT = {
  name: SRC,
  columns: [
    { name: 'TICKER', sqlType: 'VARCHAR(8)' },
    { name: 'PRICE', sqlType: 'DOUBLE' },
    { name: 'EVENT_TIME', sqlType: 'TIMESTAMP' },
  ],
};

function rng(seed: number) {
  let s = seed >>> 0;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
}

interface Rec { t: number; ticker: string; price: number; ev: number }

/** Batches of records: ROWTIME rising with jitter; event times out of order, some very late. */
function batches(seed: number, n = 40, per = 25, tickers = ['AMZN', 'MSFT', 'AAPL', 'TSLA']): Rec[][] {
  const r = rng(seed);
  const out: Rec[][] = [];
  let now = 1_700_000_000_000;
  for (let b = 0; b < n; b++) {
    const batch: Rec[] = [];
    for (let i = 0; i < per; i++) {
      now += Math.floor(r() * 200);
      const late = r() < 0.05 ? 30_000 : 0;
      batch.push({ t: now - Math.floor(r() * 50), ticker: tickers[Math.floor(r() * tickers.length)]!, price: Math.round(r() * 10000) / 100, ev: now - Math.floor(r() * 4000) - late });
    }
    out.push(batch);
  }
  return out;
}

const toRows = (b: Rec[]) => b.map((x) => ({ t: x.t, v: [x.ticker, x.price, x.ev] }));
const key = (v: unknown[]) => JSON.stringify(v.map((x) => (typeof x === 'number' ? Math.round(x * 1e6) / 1e6 : x)));
const sorted = (rows: unknown[][]) => rows.map(key).sort();

async function run(code: string, bs: Rec[][], opts: { watermarkLag?: number; restoreAt?: number; delayMs?: number; final?: boolean; asInput?: boolean } = {}) {
  const spec = { code, inputs: [{ ...INPUT, watermark: { column: 'EVENT_TIME', delayMs: opts.delayMs ?? 0 } }] };
  let e = await Engine.compile(spec);
  const out = new Map<string, Row[]>();
  const collect = () => { for (const [s, rows] of e.drain()) out.set(s, [...(out.get(s) ?? []), ...rows]); };
  const marks: number[] = [];
  for (let i = 0; i < bs.length; i++) {
    if (opts.restoreAt === i) {
      const snap = JSON.parse(JSON.stringify(e.snapshot()));
      collect();
      e.close();
      e = await Engine.compile(spec);
      e.restore(snap);
    }
    if (opts.asInput) await e.pushInput(SRC, toRows(bs[i]!));
    else await e.push(SRC, toRows(bs[i]!));
    const wm = Math.max(...bs[i]!.map((x) => x.t)) - (opts.watermarkLag ?? 0);
    marks.push(wm);
    await e.advance(wm);
    collect();
  }
  if (opts.final) {
    // Everything has arrived: the watermark moves past the last row.
    await e.advance(Number.MAX_SAFE_INTEGER);
    collect();
  }
  e.close();
  return { out, marks };
}

const DEST = `CREATE OR REPLACE STREAM "DEST" (TICKER VARCHAR(8), N INTEGER, TOTAL DOUBLE, W_END TIMESTAMP);`;

describe('tumbling GROUP BY STEP(ROWTIME)', () => {
  const code = `${DEST}
CREATE OR REPLACE PUMP "P" AS INSERT INTO "DEST"
  SELECT STREAM TICKER, COUNT(*), SUM(PRICE), STEP("${SRC}".ROWTIME BY INTERVAL '2' SECOND) + INTERVAL '2' SECOND
  FROM "${SRC}"
  WHERE PRICE > 5
  GROUP BY TICKER, STEP("${SRC}".ROWTIME BY INTERVAL '2' SECOND);`;

  /** Oracle: rows whose 2 s window had closed (end ≤ watermark before their batch) are late. */
  function oracle(bs: Rec[][], marks: number[]) {
    const groups = new Map<string, { ticker: string; n: number; total: number; end: number }>();
    const late: Rec[] = [];
    let wm = -Infinity;
    bs.forEach((b, i) => {
      for (const x of b) {
        const start = Math.floor(x.t / 2000) * 2000;
        if (start + 2000 <= wm) { late.push(x); continue; }
        if (x.price <= 5) continue;
        const k = `${x.ticker}@${start}`;
        const g = groups.get(k) ?? { ticker: x.ticker, n: 0, total: 0, end: start + 2000 };
        g.n++; g.total += x.price;
        groups.set(k, g);
      }
      wm = Math.max(wm, marks[i]!);
    });
    const rows = [...groups.values()].filter((g) => g.end <= wm).map((g) => [g.ticker, g.n, g.total, g.end]);
    return { rows, late };
  }

  test.each([[1], [2], [3]])('seed %i: rows equal the oracle, late rows go to error_stream', async (seed) => {
    const bs = batches(seed);
    const { out, marks } = await run(code, bs, { watermarkLag: 100 });
    const o = oracle(bs, marks);
    expect(o.rows.length).toBeGreaterThan(20);
    expect(sorted(out.get('DEST')!.map((r) => r.v))).toEqual(sorted(o.rows));
    // The output ROWTIME is the window's end.
    for (const r of out.get('DEST')!) expect(r.t).toBe(r.v[3]);
    const errs = out.get('error_stream') ?? [];
    expect(errs.map((r) => r.v[2])).toEqual(o.late.map(() => 'LATE_ROW'));
  });

  test('records read as an input enter at the ROWTIME watermark when it passed their arrival (KDA: ROWTIME is insertion): none is late', async () => {
    const bs = batches(4);
    // Some records stored after the watermark passed their arrival stamp: 3 s behind it.
    bs.forEach((b, i) => { if (i % 5 === 4) b[0]!.t -= 3000; });
    const { out, marks } = await run(code, bs, { watermarkLag: 100, asInput: true });
    // Oracle: each record's ROWTIME is max(its arrival, the watermark before its batch); then plain windows.
    let wm = -Infinity;
    const moved = bs.map((b, i) => {
      const r = b.map((x) => ({ ...x, t: Math.max(x.t, wm) }));
      wm = Math.max(wm, marks[i]!);
      return r;
    });
    const o = oracle(moved, marks);
    expect(o.late).toEqual([]);
    expect(moved.flat().filter((x, k) => x.t !== bs.flat()[k]!.t).length).toBeGreaterThan(0);
    expect(sorted(out.get('DEST')!.map((r) => r.v))).toEqual(sorted(o.rows));
    expect(out.get('error_stream') ?? []).toEqual([]);
  });

  test('a snapshot restored into a new engine continues with the same results', async () => {
    const bs = batches(7);
    const a = await run(code, bs, { watermarkLag: 100 });
    const b = await run(code, bs, { watermarkLag: 100, restoreAt: 17 });
    expect(sorted(b.out.get('DEST')!.map((r) => r.v))).toEqual(sorted(a.out.get('DEST')!.map((r) => r.v)));
  });

  test('FLOOR(ROWTIME TO SECOND) is a one-second tumbling window', async () => {
    const bs = batches(4, 20);
    const { out, marks } = await run(`CREATE OR REPLACE STREAM "DEST" (TICKER VARCHAR(8), N INTEGER);
CREATE OR REPLACE PUMP "P" AS INSERT INTO "DEST" SELECT STREAM TICKER, COUNT(*) FROM "${SRC}" GROUP BY TICKER, FLOOR("${SRC}".ROWTIME TO SECOND);`, bs);
    const counts = new Map<string, number>();
    let wm = -Infinity;
    bs.forEach((b, i) => {
      for (const x of b) {
        const s = Math.floor(x.t / 1000) * 1000;
        if (s + 1000 <= wm) continue;
        counts.set(`${x.ticker}@${s}`, (counts.get(`${x.ticker}@${s}`) ?? 0) + 1);
      }
      wm = marks[i]!;
    });
    const expected = [...counts].filter(([k]) => Number(k.split('@')[1]) + 1000 <= wm).map(([k, n]) => [k.split('@')[0], n]);
    expect(sorted(out.get('DEST')!.map((r) => r.v))).toEqual(sorted(expected));
  });
});

describe('sliding windows (OVER … PRECEDING)', () => {
  // Strictly rising ROWTIME: each row's frame is the rows up to it.
  const bs = batches(5, 20, 10).map((b, i) => b.map((x, j) => ({ ...x, t: 1_700_000_000_000 + (i * 10 + j) * 137 })));
  const flat = bs.flat();

  test('RANGE INTERVAL PRECEDING per partition: average over the last 3 seconds', async () => {
    const { out } = await run(`CREATE OR REPLACE STREAM "DEST" (TICKER VARCHAR(8), AVG_PRICE DOUBLE, N INTEGER);
CREATE OR REPLACE PUMP "P" AS INSERT INTO "DEST"
  SELECT STREAM TICKER, AVG(PRICE) OVER W, COUNT(*) OVER W FROM "${SRC}"
  WINDOW W AS (PARTITION BY TICKER RANGE INTERVAL '3' SECOND PRECEDING);`, bs, { final: true });
    const expected = flat.map((x) => {
      const frame = flat.filter((y) => y.ticker === x.ticker && y.t <= x.t && y.t >= x.t - 3000);
      return [x.ticker, frame.reduce((s, y) => s + y.price, 0) / frame.length, frame.length];
    });
    expect(sorted(out.get('DEST')!.map((r) => r.v))).toEqual(sorted(expected));
  });

  test('ROWS n PRECEDING: maximum of the row and the 4 before it, per ticker', async () => {
    const { out } = await run(`CREATE OR REPLACE STREAM "DEST" (TICKER VARCHAR(8), MAX_PRICE DOUBLE);
CREATE OR REPLACE PUMP "P" AS INSERT INTO "DEST"
  SELECT STREAM TICKER, MAX(PRICE) OVER (PARTITION BY TICKER ROWS 4 PRECEDING) FROM "${SRC}";`, bs, { restoreAt: 9, final: true });
    const expected = flat.map((x, i) => {
      const frame = flat.slice(0, i + 1).filter((y) => y.ticker === x.ticker).slice(-5);
      return [x.ticker, Math.max(...frame.map((y) => y.price))];
    });
    expect(out.get('DEST')!.map((r) => key(r.v))).toEqual(expected.map(key));
  });
});

describe('window table functions on event time with a watermark', () => {
  const tvf = (fn: string) => `CREATE OR REPLACE STREAM "DEST" (WS TIMESTAMP, WE TIMESTAMP, TICKER VARCHAR(8), N INTEGER, HI DOUBLE);
CREATE OR REPLACE PUMP "P" AS INSERT INTO "DEST"
  SELECT STREAM window_start, window_end, TICKER, COUNT(*), MAX(PRICE)
  FROM TABLE(${fn})
  GROUP BY window_start, window_end, TICKER;`;

  type Assign = (ev: number) => [number, number][];
  /** Oracle: a row counts in each of its windows not closed before it (watermark = max event time of the rows before it - delay). */
  function oracle(bs: Rec[][], assign: Assign, delay: number) {
    const acc = new Map<string, [number, number, string, number, number]>();
    let wm = -Infinity;
    let late = 0;
    for (const b of bs) {
      for (const x of b) {
        const open = assign(x.ev).filter(([, e]) => e > wm);
        if (open.length === 0) late++;
        for (const [s, e] of open) {
          const k = `${s}:${e}:${x.ticker}`;
          const g = acc.get(k) ?? [s, e, x.ticker, 0, -Infinity];
          g[3]++; g[4] = Math.max(g[4], x.price);
          acc.set(k, g);
        }
        wm = Math.max(wm, x.ev - delay);
      }
    }
    return { rows: [...acc.values()].filter((g) => g[1] <= wm), late };
  }

  const cases: [string, string, Assign][] = [
    ['TUMBLE', `TUMBLE(TABLE "${SRC}", DESCRIPTOR(EVENT_TIME), INTERVAL '5' SECOND)`, (t) => { const s = Math.floor(t / 5000) * 5000; return [[s, s + 5000]]; }],
    ['HOP', `HOP(TABLE "${SRC}", DESCRIPTOR(EVENT_TIME), INTERVAL '2' SECOND, INTERVAL '6' SECOND)`, (t) => {
      const out: [number, number][] = [];
      for (let s = Math.floor(t / 2000) * 2000 - 4000; s <= t; s += 2000) if (s + 6000 > t) out.push([s, s + 6000]);
      return out;
    }],
    ['CUMULATE', `CUMULATE(TABLE "${SRC}", DESCRIPTOR(EVENT_TIME), INTERVAL '2' SECOND, INTERVAL '8' SECOND)`, (t) => {
      const s = Math.floor(t / 8000) * 8000;
      return [2000, 4000, 6000, 8000].map((k) => [s, s + k] as [number, number]).filter(([, e]) => e > t);
    }],
  ];

  test.each(cases)('%s equals the oracle, late rows in error_stream', async (_name, fn, assign) => {
    const bs = batches(11);
    const { out } = await run(tvf(fn), bs, { delayMs: 1500 });
    const o = oracle(bs, assign, 1500);
    expect(o.rows.length).toBeGreaterThan(10);
    expect(o.late).toBeGreaterThan(0);
    expect(sorted(out.get('DEST')!.map((r) => r.v))).toEqual(sorted(o.rows));
    expect((out.get('error_stream') ?? []).length).toBe(o.late);
  });

  test.each(cases.slice(1))('%s: a snapshot holds each row once, and restored it continues with the oracle\'s results', async (_name, fn, assign) => {
    const bs = batches(11);
    const { out } = await run(tvf(fn), bs, { delayMs: 1500, restoreAt: 20 });
    expect(sorted(out.get('DEST')!.map((r) => r.v))).toEqual(sorted(oracle(bs, assign, 1500).rows));
    // Every row open in 3 (HOP 6 s / 2 s) or up to 4 (CUMULATE 8 s / 2 s) windows: the snapshot is not that many times the rows.
    const e = await Engine.compile({ code: tvf(fn), inputs: [{ ...INPUT, watermark: { column: 'EVENT_TIME', delayMs: 1e9 } }] });
    const rows = toRows(bs.flat());
    await e.push(SRC, rows);
    expect(JSON.stringify(e.snapshot()).length).toBeLessThan(2 * JSON.stringify(rows).length);
    e.close();
  });

  test('SESSION with PARTITION BY: sessions recomputed from scratch after every batch', async () => {
    // Sparse tickers so that gaps occur.
    const bs = batches(13, 40, 6, ['A', 'B', 'C', 'D', 'E', 'F', 'G', 'H']);
    const gap = 1200;
    const { out } = await run(`CREATE OR REPLACE STREAM "DEST" (WS TIMESTAMP, WE TIMESTAMP, TICKER VARCHAR(8), N INTEGER);
CREATE OR REPLACE PUMP "P" AS INSERT INTO "DEST"
  SELECT STREAM window_start, window_end, TICKER, COUNT(*)
  FROM TABLE(SESSION(TABLE "${SRC}" PARTITION BY TICKER, DESCRIPTOR(EVENT_TIME), INTERVAL '1.2' SECOND))
  GROUP BY window_start, window_end, TICKER;`, bs, { delayMs: 500, restoreAt: 20 });
    // Oracle: pending rows; after each batch, gap-merge the pending rows per ticker and emit the sessions ending by the watermark.
    let pending: Rec[] = [];
    let wm = -Infinity;
    const emitted: unknown[][] = [];
    for (const b of bs) {
      for (const x of b) {
        if (x.ev + gap > wm) pending.push(x);
        wm = Math.max(wm, x.ev - 500);
      }
      const byTicker = new Map<string, Rec[]>();
      for (const x of pending) byTicker.set(x.ticker, [...(byTicker.get(x.ticker) ?? []), x]);
      const keep: Rec[] = [];
      for (const [ticker, rs] of byTicker) {
        rs.sort((a, c) => a.ev - c.ev);
        let cur: Rec[] = [];
        const flush = () => {
          if (!cur.length) return;
          const s = cur[0]!.ev;
          const e = cur[cur.length - 1]!.ev + gap;
          if (e <= wm) emitted.push([s, e, ticker, cur.length]); else keep.push(...cur);
          cur = [];
        };
        for (const x of rs) {
          if (cur.length && x.ev >= cur[cur.length - 1]!.ev + gap) flush();
          cur.push(x);
        }
        flush();
      }
      pending = keep;
    }
    expect(emitted.length).toBeGreaterThan(20);
    expect(sorted(out.get('DEST')!.map((r) => r.v))).toEqual(sorted(emitted));
  });
});

describe('stagger windows', () => {
  test('WINDOWED BY STAGGER: a window per key opens with its first row and lasts the range', async () => {
    const bs = batches(17, 30, 8);
    const { out, marks } = await run(`CREATE OR REPLACE STREAM "DEST" (TICKER VARCHAR(8), MINUTE_START TIMESTAMP, N INTEGER);
CREATE OR REPLACE PUMP "P" AS INSERT INTO "DEST"
  SELECT STREAM TICKER, FLOOR(EVENT_TIME TO SECOND), COUNT(*)
  FROM "${SRC}"
  WINDOWED BY STAGGER (PARTITION BY FLOOR(EVENT_TIME TO SECOND), TICKER RANGE INTERVAL '3' SECOND);`, bs, { restoreAt: 12 });
    // Oracle: windows per (ticker, second of event time) on ROWTIME.
    const open = new Map<string, { start: number; n: number }[]>();
    let wm = -Infinity;
    const emitted: unknown[][] = [];
    bs.forEach((b, i) => {
      for (const x of b) {
        const sec = Math.floor(x.ev / 1000) * 1000;
        const k = `${x.ticker}|${sec}`;
        const ws = open.get(k) ?? [];
        const w = ws.find((y) => y.start <= x.t && x.t < y.start + 3000);
        if (w) w.n++;
        else ws.push({ start: x.t, n: 1 });
        open.set(k, ws);
      }
      wm = marks[i]!;
      for (const [k, ws] of open) {
        const [ticker, sec] = k.split('|');
        for (const w of ws.filter((y) => y.start + 3000 <= wm)) emitted.push([ticker, Number(sec), w.n]);
        open.set(k, ws.filter((y) => y.start + 3000 > wm));
      }
    });
    expect(emitted.length).toBeGreaterThan(20);
    expect(sorted(out.get('DEST')!.map((r) => r.v))).toEqual(sorted(emitted));
  });
});

describe('clauses after TABLE(TUMBLE(…))', () => {
  test('QUALIFY is a clause, not an alias: the highest-priced rows per window (Nexmark q7)', async () => {
    const code = `CREATE OR REPLACE STREAM "DEST" (WS TIMESTAMP, TICKER VARCHAR(8), PRICE DOUBLE);
CREATE OR REPLACE PUMP "P" AS INSERT INTO "DEST"
  SELECT window_start, TICKER, PRICE
  FROM TABLE(TUMBLE(TABLE "${SRC}", DESCRIPTOR(EVENT_TIME), INTERVAL '2' SECOND))
  QUALIFY PRICE = max(PRICE) OVER (PARTITION BY window_start, window_end);`;
    // In event-time order, distinct prices: no late rows, one highest row per window.
    const r = rng(11);
    const recs: Rec[] = Array.from({ length: 200 }, (_, i) => ({ t: 1_700_000_000_000 + i * 50, ticker: `T${i % 7}`, price: i + Math.round(r() * 1000) * 1000, ev: 1_700_000_000_000 + i * 50 }));
    const { out } = await run(code, [recs.slice(0, 100), recs.slice(100)], { final: true });
    const best = new Map<number, Rec>();
    for (const x of recs) {
      const w = Math.floor(x.ev / 2000) * 2000;
      if (!best.has(w) || best.get(w)!.price < x.price) best.set(w, x);
    }
    // The event-time watermark (greatest event time, no delay) closes every window but the last.
    const maxEv = Math.max(...recs.map((x) => x.ev));
    const closed = [...best].filter(([w]) => w + 2000 <= maxEv);
    expect(closed.length).toBe(4);
    expect(sorted(out.get('DEST')!.map((x) => x.v))).toEqual(sorted(closed.map(([w, x]) => [w, x.ticker, x.price])));
  });
});

describe('chains, reference tables, errors', () => {
  test('a pump reads another pump\'s stream; a reference table joins', async () => {
    const e = await Engine.compile({
      code: `CREATE OR REPLACE STREAM "FILTERED" (TICKER VARCHAR(8), PRICE DOUBLE);
CREATE OR REPLACE PUMP "P1" AS INSERT INTO "FILTERED" SELECT STREAM TICKER, PRICE * 2 FROM "${SRC}" WHERE PRICE > 50;
CREATE OR REPLACE STREAM "OUT" (TICKER VARCHAR(8), COMPANY VARCHAR(32), N INTEGER);
CREATE OR REPLACE PUMP "P2" AS INSERT INTO "OUT"
  SELECT STREAM f.TICKER, c.COMPANY, COUNT(*) FROM "FILTERED" AS f JOIN "COMPANIES" AS c ON f.TICKER = c.TICKER
  GROUP BY f.TICKER, c.COMPANY, STEP(f.ROWTIME BY INTERVAL '10' SECOND);`,
      inputs: [INPUT],
      references: [{ name: 'COMPANIES', columns: [{ name: 'TICKER', sqlType: 'VARCHAR(8)' }, { name: 'COMPANY', sqlType: 'VARCHAR(32)' }], rows: [['AMZN', 'Amazon'], ['MSFT', 'Microsoft']] }],
    });
    await e.push(SRC, [
      { t: 1000, v: ['AMZN', 60, 0] }, { t: 2000, v: ['AMZN', 40, 0] }, { t: 3000, v: ['MSFT', 70, 0] },
      { t: 4000, v: ['AAPL', 90, 0] }, { t: 5000, v: ['AMZN', 55, 0] },
    ]);
    await e.advance(10_000);
    const out = e.drain();
    expect(out.get('FILTERED')!.map((r) => r.v)).toEqual([['AMZN', 120], ['MSFT', 140], ['AAPL', 180], ['AMZN', 110]]);
    expect(sorted(out.get('OUT')!.map((r) => r.v))).toEqual(sorted([['AMZN', 'Amazon', 2], ['MSFT', 'Microsoft', 1]]));
    e.close();
  });

  test('a value that does not fit the target column goes to error_stream with the reason', async () => {
    const e = await Engine.compile({
      code: `CREATE OR REPLACE STREAM "OUT" (T VARCHAR(3));
CREATE OR REPLACE PUMP "P" AS INSERT INTO "OUT" SELECT STREAM TICKER FROM "${SRC}";`,
      inputs: [INPUT],
    });
    await e.push(SRC, [{ t: 1, v: ['AMZN', 1, 0] }, { t: 2, v: ['GE', 1, 0] }]);
    const out = e.drain();
    expect(out.get('OUT')!.map((r) => r.v)).toEqual([['GE']]);
    expect(out.get('error_stream')![0]!.v[3]).toMatch(/longer than VARCHAR\(3\)/);
    e.close();
  });

  test('a query that fails when a window closes sends each of the window\'s rows, whole, to error_stream', async () => {
    // The work table holds only TICKER and the bookkeeping columns the query reads; the error rows still carry every source column.
    const e = await Engine.compile({
      code: `CREATE OR REPLACE STREAM "OUT" (N INTEGER);
CREATE OR REPLACE PUMP "P" AS INSERT INTO "OUT" SELECT STREAM SUM(CAST(TICKER AS INTEGER)) FROM "${SRC}" GROUP BY STEP("${SRC}".ROWTIME BY INTERVAL '1' SECOND);`,
      inputs: [INPUT],
    });
    await e.push(SRC, [{ t: 1000, v: ['12', 1.5, 900] }, { t: 1500, v: ['AMZN', 2.5, 1400] }, { t: 2100, v: ['7', 3, 2000] }]);
    await e.advance(2000);
    const first = e.drain();
    expect(first.get('OUT')).toBeUndefined();
    expect(first.get('error_stream')!.map((r) => [r.v[2], r.v[4], r.v[5], r.v[6]])).toEqual([
      ['EVALUATION_ERROR', 1000, '["12",1.5,900]', 'P'],
      ['EVALUATION_ERROR', 1500, '["AMZN",2.5,1400]', 'P'],
    ]);
    expect(first.get('error_stream')![0]!.v[3]).toMatch(/AMZN/);
    await e.advance(3000);
    expect(e.drain().get('OUT')!.map((r) => r.v)).toEqual([[7]]);
    e.close();
  });

  const bad = async (code: string) => {
    try {
      (await Engine.compile({ code, inputs: [INPUT] })).close();
    } catch (e) {
      if (e instanceof ApplicationSqlError) return e;
      throw e;
    }
    throw new Error('compiled');
  };

  test('DuckDB binder errors point at the column in the application code', async () => {
    const e = await bad(`CREATE OR REPLACE STREAM "D" (A DOUBLE);\nCREATE OR REPLACE PUMP "P" AS INSERT INTO "D"\n  SELECT STREAM PRICEE FROM "${SRC}";`);
    expect(e.reason).toMatch(/Binder Error: Referenced column "PRICEE" not found/);
    expect([e.line, e.column]).toEqual([3, 17]);
  });

  test('DuckDB parser errors after a rewritten STEP still point into the code', async () => {
    const e = await bad(`CREATE OR REPLACE STREAM "D" (N INTEGER);\nCREATE OR REPLACE PUMP "P" AS INSERT INTO "D"\n  SELECT STREAM COUNT(*) FROM "${SRC}"\n  GROUP BY STEP("${SRC}".ROWTIME BY INTERVAL '1' SECOND) HAVING COUNT(*) > 1 1;`);
    expect(e.reason).toMatch(/Parser Error: syntax error at or near "1"/);
    expect(e.line).toBe(4);
    expect(e.column).toBeGreaterThan(60);
  });

  test('translator errors: unknown stream, undeclared target, column count, GROUP BY without a window', async () => {
    expect((await bad(`CREATE OR REPLACE STREAM "D" (A DOUBLE);\nCREATE OR REPLACE PUMP "P" AS INSERT INTO "D" SELECT STREAM PRICE FROM "NOPE";`)).message)
      .toBe('stream NOPE does not exist (line 2, column 72)');
    expect((await bad(`CREATE OR REPLACE PUMP "P" AS INSERT INTO "D" SELECT STREAM PRICE FROM "${SRC}";`)).reason).toMatch(/stream D is not declared/);
    expect((await bad(`CREATE OR REPLACE STREAM "D" (A DOUBLE, B DOUBLE);\nCREATE OR REPLACE PUMP "P" AS INSERT INTO "D" SELECT STREAM PRICE FROM "${SRC}";`)).reason)
      .toBe('pump P selects 1 column but D takes 2');
    expect((await bad(`CREATE OR REPLACE STREAM "D" (N INTEGER);\nCREATE OR REPLACE PUMP "P" AS INSERT INTO "D" SELECT STREAM COUNT(*) FROM "${SRC}" GROUP BY TICKER;`)).reason)
      .toMatch(/GROUP BY on a stream needs a window/);
    expect((await bad(`CREATE STREM "D" (N INTEGER);`)).message).toBe("expected STREAM or PUMP or FUNCTION but found 'STREM' (line 1, column 8)");
  });
});
