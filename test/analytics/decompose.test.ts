// Two-phase aggregation plans (pure): which pumps split into partials per
// shard and a combination, why the others run on one active replica, and
// that partials computed by the engine over any split of the rows combine to
// what the engine computes over all of them (the engine's own result is the oracle).
import { decompose, scaleOutMode } from '../../analytics/sql/decompose.js';
import { combine, eventWatermark } from '../../analytics/worker/combiner.js';
import { combinerSpec } from '../../analytics/worker/runner.js';
import { verifiedPlan } from '../../analytics/worker/twoPhase.js';
import { Engine } from '../../analytics/engine/engine.js';
import type { Value } from '../../analytics/engine/types.js';

const IN = ['SOURCE_SQL_STREAM_001'];
const head = `CREATE OR REPLACE STREAM "OUT" (K VARCHAR(8), N INTEGER, S DOUBLE, A DOUBLE, W TIMESTAMP);\n`;
const pump = (select: string, tail = `GROUP BY K, STEP("SOURCE_SQL_STREAM_001".ROWTIME BY INTERVAL '10' SECOND)`) =>
  `${head}CREATE OR REPLACE PUMP "P" AS INSERT INTO "OUT" SELECT STREAM ${select} FROM "SOURCE_SQL_STREAM_001" ${tail};`;
const W = `STEP("SOURCE_SQL_STREAM_001".ROWTIME BY INTERVAL '10' SECOND)`;

test('COUNT, SUM, AVG with a STEP window decompose; AVG becomes SUM and COUNT', () => {
  const d = decompose(pump(`K, COUNT(*), SUM(V) AS S, AVG(V), ${W}`), IN, ['OUT']);
  expect(d.decomposable).toBe(true);
  if (!d.decomposable) return;
  expect(d.pumps[0]!.items).toEqual(['key', 'count', 'sum', 'avg', 'key']);
  expect(d.partialCode).toContain('SUM(V), COUNT(V)');
});

test.each([
  [pump(`K, COUNT(DISTINCT V), SUM(V), AVG(V), ${W}`), /COUNT\(DISTINCT/],
  [pump(`K, COUNT(*) + 1, SUM(V), AVG(V), ${W}`), /expression over an aggregate/],
  [pump(`K, COUNT(*), SUM(V), AVG(V), ${W}`, `GROUP BY K, ${W} HAVING COUNT(*) > 1`), /HAVING/],
  [pump(`K, 1, 2.0, 3.0, ROWTIME`, ''), /does not aggregate over a window/],
  [pump(`K, COUNT(*), SUM(V), MEDIAN(V), ${W}`), /not one of COUNT, SUM, MIN, MAX, AVG/],
])('not decomposable, with the reason: %#', (code, reason) => {
  const d = decompose(code, IN, ['OUT']);
  expect(d.decomposable).toBe(false);
  if (!d.decomposable) expect(d.reason).toMatch(reason);
});

test('partials of any split of the rows combine to the single-engine result', async () => {
  const code = pump(`K, COUNT(*), SUM(V), AVG(V), ${W}`);
  const d = decompose(code, IN, ['OUT']);
  if (!d.decomposable) throw new Error(d.reason);
  const inputs = [{ name: 'SOURCE_SQL_STREAM_001', columns: [{ name: 'K', sqlType: 'VARCHAR(8)' }, { name: 'V', sqlType: 'INTEGER' }] }];
  const rows = Array.from({ length: 300 }, (_, i) => ({ t: 1_000 + i * 97, v: [`k${i % 4}`, (i * 13) % 17] as Value[] }));
  const run = async (c: string, rs: typeof rows, stream: string) => {
    const e = await Engine.compile({ code: c, inputs });
    await e.push('SOURCE_SQL_STREAM_001', rs);
    await e.advance(1e9);
    const out = e.drain().get(stream) ?? [];
    e.close();
    return out;
  };
  const whole = (await run(code, rows, 'OUT')).map((r) => JSON.stringify(r.v)).sort();
  // Three "shards": rows dealt out round-robin, each aggregated on its own.
  const parts: { t: number; v: Value[] }[] = [];
  for (let s = 0; s < 3; s++) parts.push(...(await run(d.partialCode, rows.filter((_, i) => i % 3 === s), d.pumps[0]!.partialStream)));
  const byT = new Map<number, Value[][]>();
  for (const p of parts) byT.set(p.t, [...(byT.get(p.t) ?? []), p.v]);
  const combined = [...byT.values()].flatMap((ps) => combine(d.pumps[0]!, ps)).map((v) => JSON.stringify(v)).sort();
  expect(combined.length).toBe(whole.length);
  expect(combined.map((s) => JSON.parse(s)).map((v: Value[]) => [v[0], v[1], v[2], Math.round((v[3] as number) * 1e9), v[4]]))
    .toEqual(whole.map((s) => JSON.parse(s)).map((v: Value[]) => [v[0], v[1], v[2], Math.round((v[3] as number) * 1e9), v[4]]));
});

test('the scale-out mode the operator reports and the worker logs', () => {
  const def = (code: string) => ({ name: 'a', code, references: [], outputs: [{ id: '1.1', name: 'OUT', destination: { kind: 'stream' as const, name: 'o' }, format: 'JSON' as const }],
    inputs: [{ id: '1.1', namePrefix: 'SOURCE_SQL_STREAM', parallelism: 1, source: { kind: 'stream' as const, name: 's' }, format: { type: 'JSON' as const, rowPath: '$' }, encoding: 'UTF-8' as const, columns: [{ name: 'K', sqlType: 'VARCHAR(8)' }, { name: 'V', sqlType: 'INTEGER' }] }] });
  expect(scaleOutMode(def(pump(`K, COUNT(*), SUM(V), AVG(V), ${W}`)))).toBe('replicas split the shards (two-phase aggregation)');
  expect(scaleOutMode(def(pump(`K, COUNT(DISTINCT V), SUM(V), AVG(V), ${W}`)))).toBe('replicas split the shards (two-phase aggregation)');
  expect(scaleOutMode(def(pump(`K, COUNT(*), SUM(V), MEDIAN(V), ${W}`)))).toMatch(/^one active replica \(pump P: 'MEDIAN' is not one of/);
});

// ---- The general form (HAVING, expressions over aggregates, DISTINCT, event time), against one engine over all rows.

const COLS = [{ name: 'K', sqlType: 'VARCHAR(8)' }, { name: 'V', sqlType: 'INTEGER' }, { name: 'ET', sqlType: 'TIMESTAMP' }];
const INPUT = { name: 'SOURCE_SQL_STREAM_001', columns: COLS };
type In = { t: number; v: Value[] };

/** The application on one engine over every row: what one replica emits into `out`. */
async function oneReplica(code: string, rows: In[], out: string, delayMs?: number) {
  const e = await Engine.compile({ code, inputs: [{ ...INPUT, ...(delayMs !== undefined ? { watermark: { column: 'ET', delayMs } } : {}) }] });
  await e.push(INPUT.name, rows);
  await e.advance(Number.MAX_SAFE_INTEGER);
  await e.closeEventTimeWindows();
  const r = e.drain().get(out) ?? [];
  e.close();
  return r.map((x) => ({ t: x.t, v: x.v }));
}

/** Two-phase in one process: a partial engine per "shard" (rows dealt round-robin), then the combiner's engine. */
async function twoPhase(code: string, rows: In[], out: string, shards: number, delayMs?: number) {
  const def = { name: 'a', code, references: [], outputs: [{ id: '1.1', name: out, destination: { kind: 'stream' as const, name: 'o' }, format: 'JSON' as const }], inputs: [{ id: '1.1', namePrefix: 'SOURCE_SQL_STREAM', parallelism: 1, source: { kind: 'stream' as const, name: 's' }, format: { type: 'JSON' as const, rowPath: '$' }, encoding: 'UTF-8' as const, columns: COLS, ...(delayMs !== undefined ? { watermark: { column: 'ET', delaySeconds: delayMs / 1000 } } : {}) }] };
  const d = await verifiedPlan(def as any, []);
  if (!d.decomposable) throw new Error(d.reason);
  const watermark = delayMs !== undefined ? { watermark: { column: 'ET', delayMs } } : {};
  const partials = new Map<string, Map<number, Value[][]>>();
  for (let s = 0; s < shards; s++) {
    const e = await Engine.compile({ code: d.partialCode, inputs: [{ ...INPUT, ...watermark }] });
    await e.push(INPUT.name, rows.filter((_, i) => i % shards === s));
    await e.advance(Number.MAX_SAFE_INTEGER);
    await e.closeEventTimeWindows();
    for (const [stream, list] of e.drain()) for (const r of list) {
      const m = partials.get(stream) ?? new Map<number, Value[][]>();
      partials.set(stream, m);
      m.set(r.t, [...(m.get(r.t) ?? []), r.v]);
    }
    e.close();
  }
  const c = await Engine.compile(combinerSpec(def as any, [], d));
  for (const p of d.pumps) {
    const wins = [...(partials.get(p.partialStream) ?? new Map<number, Value[][]>())].sort((a, b) => a[0] - b[0]);
    const start = (end: number) => (p.window.fn === 'CUMULATE' ? Math.floor((end - 1) / p.window.sizeMs) * p.window.sizeMs : end - p.window.sizeMs);
    if (p.general) {
      await c.evaluateWindows(p.name, wins.map(([end, vs]) => ({ start: start(end), end, rows: vs.map((v) => ({ t: start(end), v: p.general!.timeColumn ? [...v, start(end)] : v })) })));
    } else {
      for (const [end, vs] of wins) await c.push(p.target, combine(p, vs).map((v) => ({ t: end, v })));
    }
  }
  const r = c.drain().get(out) ?? [];
  c.close();
  return { d, rows: r.map((x) => ({ t: x.t, v: x.v })) };
}

const canon = (rows: { t: number; v: Value[] }[]) => rows.map((r) => JSON.stringify([r.t, ...r.v.map((x) => (typeof x === 'number' && !Number.isInteger(x) ? Math.round(x * 1e9) / 1e9 : x))])).sort();

const ROWS: In[] = Array.from({ length: 600 }, (_, i) => ({ t: 1_000 + i * 97, v: [`k${i % 5}`, (i * 13) % 17, 1_000 + i * 97 - (i % 7) * 300] }));

test.each([
  ['HAVING and expressions over aggregates',
    `CREATE OR REPLACE STREAM "OUT" (K VARCHAR(8), AVGV DOUBLE, SIZE VARCHAR(8), SPREAD INTEGER, N INTEGER, W TIMESTAMP);
CREATE OR REPLACE PUMP "P" AS INSERT INTO "OUT"
SELECT STREAM K, SUM(V) / COUNT(*) AS avg_v, CASE WHEN COUNT(*) > 10 THEN 'big' ELSE 'small' END, MAX(V) - MIN(V), COUNT(V) + 1, ${W}
FROM "SOURCE_SQL_STREAM_001" WHERE V > 2
GROUP BY K, ${W} HAVING SUM(V) > 40 AND AVG(V) >= 5;`],
  ['integer division over sums and counts (KDA: INTEGER / INTEGER is an INTEGER), MIN/MAX of expressions',
    `CREATE OR REPLACE STREAM "OUT" (K VARCHAR(8), Q INTEGER, Q2 INTEGER, A DOUBLE, M INTEGER, W TIMESTAMP);
CREATE OR REPLACE PUMP "P" AS INSERT INTO "OUT"
SELECT STREAM K, SUM(V) / COUNT(*), SUM(V * 3 + 1) / 7, AVG(V), MAX(V * 2) - MIN(V - 1), ${W}
FROM "SOURCE_SQL_STREAM_001" GROUP BY K, ${W};`],
  ['a group key left out of the select list',
    `CREATE OR REPLACE STREAM "OUT" (N INTEGER, S INTEGER, W TIMESTAMP);
CREATE OR REPLACE PUMP "P" AS INSERT INTO "OUT" SELECT STREAM COUNT(*), SUM(V), ${W} FROM "SOURCE_SQL_STREAM_001" GROUP BY K, ${W};`],
  ['an expression as the group key, qualified names',
    `CREATE OR REPLACE STREAM "OUT" (UK VARCHAR(8), N INTEGER, W TIMESTAMP);
CREATE OR REPLACE PUMP "P" AS INSERT INTO "OUT" SELECT STREAM UPPER(s.K) AS UK, COUNT(*) * 2, STEP(s.ROWTIME BY INTERVAL '10' SECOND)
FROM "SOURCE_SQL_STREAM_001" AS s GROUP BY UPPER(s.K), STEP(s.ROWTIME BY INTERVAL '10' SECOND) HAVING COUNT(*) > 3;`],
  ['COUNT(DISTINCT), APPROX_COUNT_DISTINCT, SUM(DISTINCT)',
    `CREATE OR REPLACE STREAM "OUT" (K VARCHAR(8), D INTEGER, AD INTEGER, SD INTEGER, N INTEGER, W TIMESTAMP);
CREATE OR REPLACE PUMP "P" AS INSERT INTO "OUT" SELECT STREAM K, COUNT(DISTINCT V), APPROX_COUNT_DISTINCT(V), SUM(DISTINCT V), COUNT(*), ${W}
FROM "SOURCE_SQL_STREAM_001" GROUP BY K, ${W} HAVING COUNT(DISTINCT V) > 2;`],
  ['HOP over ROWTIME with HAVING, an alias after TABLE(…)',
    `CREATE OR REPLACE STREAM "OUT" (K VARCHAR(8), R DOUBLE, WS TIMESTAMP, WE TIMESTAMP);
CREATE OR REPLACE PUMP "P" AS INSERT INTO "OUT" SELECT STREAM h.K, SUM(h.V) * 1.0 / COUNT(*), window_start, window_end
FROM TABLE(HOP(TABLE "SOURCE_SQL_STREAM_001", DESCRIPTOR(ROWTIME), INTERVAL '5' SECOND, INTERVAL '20' SECOND)) AS h
GROUP BY h.K, window_start, window_end HAVING MAX(h.V) > 10;`],
  ['CUMULATE over ROWTIME, COUNT(DISTINCT)',
    `CREATE OR REPLACE STREAM "OUT" (D INTEGER, WS TIMESTAMP, WE TIMESTAMP);
CREATE OR REPLACE PUMP "P" AS INSERT INTO "OUT" SELECT STREAM COUNT(DISTINCT K), window_start, window_end
FROM TABLE(CUMULATE(TABLE "SOURCE_SQL_STREAM_001", DESCRIPTOR(ROWTIME), INTERVAL '5' SECOND, INTERVAL '20' SECOND))
GROUP BY window_start, window_end;`],
])('general form: %s combines to the one-engine result', async (_name, code) => {
  const whole = await oneReplica(code, ROWS, 'OUT');
  expect(whole.length).toBeGreaterThan(5);
  for (const shards of [1, 3]) {
    const { d, rows } = await twoPhase(code, ROWS, 'OUT', shards);
    expect(d.decomposable && d.pumps[0]!.general).toBeTruthy();
    expect(canon(rows)).toEqual(canon(whole));
  }
});

test('event-time TUMBLE (in order per shard): simple and general form combine to the one-engine result', async () => {
  // Rows in event-time order, so that no row is late on one engine or on any shard.
  const rows = ROWS.map((r, i) => ({ t: r.t, v: [r.v[0], r.v[1], 5_000 + i * 50] as Value[] }));
  const tvf = `TABLE(TUMBLE(TABLE "SOURCE_SQL_STREAM_001", DESCRIPTOR(ET), INTERVAL '2' SECOND))`;
  const simple = `CREATE OR REPLACE STREAM "OUT" (K VARCHAR(8), N INTEGER, WS TIMESTAMP);
CREATE OR REPLACE PUMP "P" AS INSERT INTO "OUT" SELECT STREAM K, COUNT(*), window_start FROM ${tvf} GROUP BY K, window_start;`;
  const general = `CREATE OR REPLACE STREAM "OUT" (K VARCHAR(8), N INTEGER, D INTEGER, WS TIMESTAMP);
CREATE OR REPLACE PUMP "P" AS INSERT INTO "OUT" SELECT STREAM K, COUNT(*) + 0, COUNT(DISTINCT V), window_start FROM ${tvf} GROUP BY K, window_start HAVING COUNT(*) > 2;`;
  for (const [code, form] of [[simple, false], [general, true]] as const) {
    const whole = await oneReplica(code, rows, 'OUT', 1000);
    expect(whole.length).toBeGreaterThan(5);
    const { d, rows: got } = await twoPhase(code, rows, 'OUT', 3, 1000);
    expect(d.decomposable && d.pumps[0]!.eventTime).toBe(true);
    expect(Boolean(d.decomposable && d.pumps[0]!.general)).toBe(form);
    expect(canon(got)).toEqual(canon(whole));
  }
});

test.each([
  [`K, COUNT(DISTINCT V), COUNT(DISTINCT K), ${W}`, /DISTINCT over two columns/],
  [`K, COUNT(DISTINCT V + 1), SUM(V), ${W}`, /carried only for a column/],
  [`K, SUM(V) FILTER (WHERE V > 1), COUNT(*), ${W}`, /FILTER/],
  [`K, MEDIAN(V) + 1, COUNT(*), ${W}`, /'MEDIAN' is not one of/],
])('general form refuses, with the reason: %s', (select, reason) => {
  const code = `${head}CREATE OR REPLACE PUMP "P" AS INSERT INTO "OUT" SELECT STREAM ${select} FROM "SOURCE_SQL_STREAM_001" GROUP BY K, ${W};`;
  const d = decompose(code.replace('(K VARCHAR(8), N INTEGER, S DOUBLE, A DOUBLE, W TIMESTAMP)', '(K VARCHAR(8), N INTEGER, S DOUBLE, W TIMESTAMP)'), [INPUT], ['OUT']);
  expect(d.decomposable).toBe(false);
  if (!d.decomposable) expect(d.reason).toMatch(reason);
});

test('the general form\'s partial and final SELECT', () => {
  const d = decompose(`CREATE OR REPLACE STREAM "OUT" (K VARCHAR(8), R DOUBLE, D INTEGER, W TIMESTAMP);
CREATE OR REPLACE PUMP "P" AS INSERT INTO "OUT" SELECT STREAM K, SUM(V) / COUNT(*), COUNT(DISTINCT V), ${W} FROM "SOURCE_SQL_STREAM_001" WHERE V > 0 GROUP BY K, ${W} HAVING AVG(V) > 1;`, [INPUT], ['OUT']);
  if (!d.decomposable) throw new Error(d.reason);
  // Partial: the carried key, one column per aggregate, the distinct column (grouped), WHERE kept, no HAVING.
  expect(d.partialCode).toContain('SELECT STREAM "K", SUM(V) AS "$A0", COUNT(*) AS "$A1", SUM(V) AS "$A2", COUNT(V) AS "$A2N", "V" AS "$D" FROM "SOURCE_SQL_STREAM_001" WHERE V > 0 GROUP BY K, STEP');
  expect(d.partialCode).toMatch(/GROUP BY K, STEP\("SOURCE_SQL_STREAM_001"\.ROWTIME BY INTERVAL '10' SECOND\), "K", "V";$/);
  expect(d.partialCode).not.toContain('HAVING');
  // Final: the combinations over the partial rows, named as the source; no WHERE; HAVING after merging.
  expect(d.finalCode).toContain('SELECT STREAM K, SUM("$A0") / CAST(SUM("$A1") AS BIGINT), CAST(COUNT(DISTINCT "$D") AS BIGINT), STEP');
  expect(d.finalCode).toContain('FROM "__COMBINE_0" AS "SOURCE_SQL_STREAM_001" GROUP BY');
  expect(d.finalCode).toContain('HAVING  (CAST(SUM("$A2") AS DOUBLE) / NULLIF(SUM("$A2N"), 0)) > 1;');
  expect(d.finalCode).not.toContain('WHERE');
});

test('the combiner\'s event-time watermark: the least over shards; a silent shard holds back, idle ones do not', () => {
  const req = ['1.1/a', '1.1/b', '1.1/c'];
  const ewms = { '1.1/a': { S: 5000 }, '1.1/b': { S: 3000 }, '1.1/c': { S: 9000 } };
  expect(eventWatermark({ ewms }, req, 'S')).toBe(3000);
  expect(eventWatermark({ ewms: { '1.1/a': { S: 5000 } } }, req, 'S')).toBe(Number.NEGATIVE_INFINITY); // b and c never reported
  expect(eventWatermark({ ewms, idle: { '1.1/b': true } }, req, 'S')).toBe(5000);
  expect(eventWatermark({ ewms: { '1.1/a': { S: 5000 } }, idle: { '1.1/b': true, '1.1/c': true } }, req, 'S')).toBe(5000);
  expect(eventWatermark({ ewms, idle: { '1.1/a': true, '1.1/b': true, '1.1/c': true } }, req, 'S')).toBe(9000); // all idle: the greatest
  expect(eventWatermark({ ewms }, req, 'OTHER')).toBe(Number.NEGATIVE_INFINITY);
});

test('closeEventTimeWindows closes every open event-time window; rows for them are late from then on', async () => {
  const code = `CREATE OR REPLACE STREAM "OUT" (K VARCHAR(8), N INTEGER, WS TIMESTAMP);
CREATE OR REPLACE PUMP "P" AS INSERT INTO "OUT" SELECT STREAM K, COUNT(*), window_start
FROM TABLE(TUMBLE(TABLE "SOURCE_SQL_STREAM_001", DESCRIPTOR(ET), INTERVAL '1' SECOND)) GROUP BY K, window_start;`;
  const e = await Engine.compile({ code, inputs: [{ ...INPUT, watermark: { column: 'ET', delayMs: 5000 } }] });
  await e.push(INPUT.name, [{ t: 1, v: ['a', 1, 1_500] }, { t: 2, v: ['a', 2, 2_500] }]);
  expect(e.drain().get('OUT')).toBeUndefined(); // within the 5 s lateness: open
  await e.closeEventTimeWindows();
  expect(e.drain().get('OUT')!.map((r) => r.v)).toEqual([['a', 1, 1_000], ['a', 1, 2_000]]);
  await e.push(INPUT.name, [{ t: 3, v: ['a', 3, 2_900] }, { t: 4, v: ['a', 4, 3_100] }]);
  const out = e.drain();
  expect(out.get('error_stream')!.map((r) => r.v[2])).toEqual(['LATE_ROW']);
  expect(e.openWindows()).toBe(1);
  e.close();
});

// ---- Variance and standard deviation: count, mean and squared deviations per shard, merged pairwise.

test('STDDEV_POP/SAMP, VAR_POP/SAMP, STDDEV, VARIANCE (also DISTINCT, in expressions and HAVING) combine to DuckDB\'s own over all rows, also far from zero', async () => {
  const { DuckDBInstance } = await import('@duckdb/node-api');
  // Values around 1e9 with a spread of a few units: a sum of squares would lose every digit of the variance.
  const rows: In[] = Array.from({ length: 900 }, (_, i) => ({ t: 1_000 + i * 97, v: [`k${i % 5}`, i % 11 === 0 ? null : 1_000_000_000 + ((i * 13) % 17), 0] }));
  const code = `CREATE OR REPLACE STREAM "OUT" (K VARCHAR(8), SP DOUBLE, SS DOUBLE, VP DOUBLE, VS DOUBLE, SD DOUBLE, VR DOUBLE, SDD DOUBLE, CV DOUBLE, N INTEGER, W TIMESTAMP);
CREATE OR REPLACE PUMP "P" AS INSERT INTO "OUT"
SELECT STREAM K, STDDEV_POP(V), STDDEV_SAMP(V), VAR_POP(V), VAR_SAMP(V), STDDEV(V), VARIANCE(V), STDDEV_SAMP(DISTINCT V), STDDEV_POP(V) / AVG(V), COUNT(*), ${W}
FROM "SOURCE_SQL_STREAM_001" GROUP BY K, ${W} HAVING VAR_POP(V) > 1;`;
  // The oracle: DuckDB's own aggregates in a plain batch query over the same rows (not the engine, not the plan).
  const db = await DuckDBInstance.create(':memory:');
  const conn = await db.connect();
  await conn.run('CREATE TABLE r (k VARCHAR, v BIGINT, w BIGINT)');
  await conn.run(`INSERT INTO r VALUES ${rows.map((r) => `('${r.v[0]}', ${r.v[1] ?? 'NULL'}, ${Math.floor(r.t / 10_000) * 10_000})`).join(', ')}`);
  const q = await conn.runAndReadAll(`SELECT k, stddev_pop(v), stddev_samp(v), var_pop(v), var_samp(v), stddev(v), variance(v), stddev_samp(DISTINCT v), stddev_pop(v) / avg(v), count(*), w
    FROM r GROUP BY k, w HAVING var_pop(v) > 1 ORDER BY w, k`);
  const want = q.getRows().map((r) => r.map((x) => (typeof x === 'bigint' ? Number(x) : x)) as (string | number | null)[]);
  conn.closeSync();
  expect(want.length).toBeGreaterThan(20);
  for (const shards of [3, 40]) {
    const { d, rows: got } = await twoPhase(code, rows, 'OUT', shards);
    expect(d.decomposable && d.pumps[0]!.general).toBeTruthy();
    const byKey = new Map(got.map((r) => [`${r.v[0]}|${r.v[10]}`, r.v]));
    expect(byKey.size).toBe(want.length);
    for (const w of want) {
      const g = byKey.get(`${w[0]}|${w[10]}`);
      expect(g).toBeDefined();
      expect(g![9]).toBe(w[9]);
      for (let c = 1; c <= 8; c++) {
        if (w[c] === null) { expect(g![c]).toBeNull(); continue; }
        // Around 1e9 a DOUBLE holds ~7 decimals below the point: DuckDB's one pass and the merged partials
        // each differ from the exact value by ~1e-8 relative.
        expect(Math.abs((g![c] as number) - (w[c] as number))).toBeLessThanOrEqual(1e-7 * Math.max(1, Math.abs(w[c] as number)));
      }
    }
  }
  // What the tolerance rules out: sums of squares of these values in DOUBLE (the textbook partials) are off by far more.
  const vs = rows.filter((r) => r.v[0] === want[0]![0] && Math.floor(r.t / 10_000) * 10_000 === want[0]![10] && r.v[1] !== null).map((r) => r.v[1] as number);
  const naive = (vs.reduce((a, x) => a + x * x, 0) - vs.reduce((a, x) => a + x, 0) ** 2 / vs.length) / vs.length;
  expect(Math.abs(naive - (want[0]![3] as number))).toBeGreaterThan(1e-7 * (want[0]![3] as number));
});
