// RANDOM_CUT_FOREST in the streaming engine: the AWS example application's SQL unchanged, its
// parameters checked as the KDA SQL reference gives them, scores that do not depend on how reads
// were batched or on a checkpoint taken midway, and anomaly scores judged by oracles built here from
// how the input was made (injected outliers, distance from the bulk, a broken periodic shape).
import { Engine, ApplicationSqlError, type Row } from '../../analytics/engine/engine.js';
import type { Value } from '../../analytics/engine/types.js';
import { replicasSplitShards, scaleOutMode } from '../../analytics/sql/decompose.js';
import { passThroughPlan } from '../../analytics/sql/passThrough.js';
import { ApplicationDefinition } from '../../contract/analytics.js';

const SRC = 'SOURCE_SQL_STREAM_001';
const INPUT = { name: SRC, columns: [{ name: 'TEXT', sqlType: 'VARCHAR(10)' }, { name: 'VALUE', sqlType: 'INTEGER' }] };

// The developer guide's example, as written there.
const AWS_EXAMPLE = `
CREATE OR REPLACE STREAM "TEMP_STREAM" ("TEXT" varchar(10), "VALUE" INTEGER, "ANOMALY_SCORE" DOUBLE);
CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "TEMP_STREAM"
SELECT STREAM "TEXT", "VALUE", ANOMALY_SCORE FROM TABLE(RANDOM_CUT_FOREST(CURSOR(SELECT STREAM * FROM "SOURCE_SQL_STREAM_001")));`;

const app = (params: string, select = 'SELECT STREAM "TEXT", "VALUE", ANOMALY_SCORE', cursor = `SELECT STREAM * FROM "${SRC}"`, tail = '') => `
CREATE OR REPLACE STREAM "TEMP_STREAM" ("TEXT" varchar(10), "VALUE" INTEGER, "ANOMALY_SCORE" DOUBLE);
CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "TEMP_STREAM"
${select} FROM TABLE(RANDOM_CUT_FOREST(CURSOR(${cursor})${params}))${tail};`;

function rng(seed: number) {
  let s = seed >>> 0;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) + 0.5) / 2 ** 32;
}

/** Heart rates around 80 (sd 6), with the outliers at `at` far out. */
function heartRates(n: number, at: number[], seed = 7): Value[][] {
  const r = rng(seed);
  return Array.from({ length: n }, (_, i) => {
    const g = Math.sqrt(-2 * Math.log(r())) * Math.cos(2 * Math.PI * r());
    return at.includes(i) ? ['HIGH', 180 + (i % 20)] : ['NORMAL', Math.round(80 + 6 * g)];
  });
}

async function scores(code: string, rows: Value[][], opts: { batch?: number; restoreAt?: number; input?: typeof INPUT } = {}): Promise<Row[]> {
  const spec = { code, inputs: [opts.input ?? INPUT] };
  let e = await Engine.compile(spec);
  const out: Row[] = [];
  const batch = opts.batch ?? 50;
  try {
    for (let i = 0; i < rows.length; i += batch) {
      if (opts.restoreAt !== undefined && i === opts.restoreAt) {
        const saved = JSON.parse(JSON.stringify(e.snapshot()));
        e.close();
        e = await Engine.compile(spec);
        e.restore(saved);
      }
      await e.push(SRC, rows.slice(i, i + batch).map((v, k) => ({ t: 1_700_000_000_000 + (i + k) * 10, v: [...v] })));
      out.push(...(e.drain().get('TEMP_STREAM') ?? []));
    }
  } finally {
    e.close();
  }
  return out;
}

const quantile = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.floor(q * (xs.length - 1))]!;

describe('RANDOM_CUT_FOREST', () => {
  test("the AWS example: every row comes out with its score; 0 while learning; the injected outliers score far above the bulk", async () => {
    const outliers = [400, 555, 700, 888, 1010];
    const rows = heartRates(1100, outliers);
    const out = await scores(AWS_EXAMPLE, rows);
    expect(out).toHaveLength(rows.length);
    out.forEach((r, i) => expect(r.v.slice(0, 2)).toEqual(rows[i]));
    // The reference: "returns zero for the first subSampleSize records while the model is trained".
    expect(out.slice(0, 256).every((r) => r.v[2] === 0)).toBe(true);
    const score = out.map((r) => r.v[2] as number);
    expect(score.slice(256).every((s) => s > 0)).toBe(true);
    const normal = score.map((s, i) => ({ s, i })).filter(({ i }) => i >= 256 && !outliers.includes(i)).map(({ s }) => s);
    const p99 = quantile(normal, 0.99);
    for (const i of outliers) expect(score[i]!).toBeGreaterThan(1.5 * p99);
    // Oracle: among normal rows, the farther from the bulk's mean (80), the higher the score on the whole.
    const far = out.filter((r, i) => i >= 256 && !outliers.includes(i) && Math.abs((r.v[1] as number) - 80) >= 12).map((r) => r.v[2] as number);
    const near = out.filter((r, i) => i >= 256 && !outliers.includes(i) && Math.abs((r.v[1] as number) - 80) <= 3).map((r) => r.v[2] as number);
    expect(quantile(far, 0.5)).toBeGreaterThan(1.3 * quantile(near, 0.5));
    // Stable: the normal rows' median in each stretch of 200 stays near the overall median.
    const median = quantile(normal, 0.5);
    for (let k = 0; k + 200 <= normal.length; k += 200) {
      const m = quantile(normal.slice(k, k + 200), 0.5);
      expect(Math.abs(m - median) / median).toBeLessThan(0.25);
    }
  });

  test('the same input gives the same scores however it is batched, and after a snapshot/restore midway', async () => {
    const code = app(', 40, 64, 500, 1');
    const rows = heartRates(900, [300, 650], 11);
    const whole = (await scores(code, rows, { batch: 900 })).map((r) => r.v[2]);
    const small = (await scores(code, rows, { batch: 7 })).map((r) => r.v[2]);
    const restored = (await scores(code, rows, { batch: 50, restoreAt: 450 })).map((r) => r.v[2]);
    expect(small).toEqual(whole);
    expect(restored).toEqual(whole);
    expect(new Set(whole.slice(64)).size).toBeGreaterThan(100);
  });

  test('a constant second column changes no score (a dimension without range is never cut)', async () => {
    const rows = heartRates(600, [350, 500], 21);
    const code = (cursor: string) => app(', 40, 64, 300, 1', 'SELECT STREAM "TEXT", "VALUE", ANOMALY_SCORE', cursor);
    const one = (await scores(code(`SELECT STREAM "TEXT", "VALUE" FROM "${SRC}"`), rows)).map((r) => r.v[2]);
    const two = (await scores(code(`SELECT STREAM "TEXT", "VALUE", CAST(7 AS DOUBLE) AS C FROM "${SRC}"`), rows)).map((r) => r.v[2]);
    expect(one).toEqual(two);
    expect(new Set(one.slice(64)).size).toBeGreaterThan(100);
  });

  test("a checkpoint restored into updated code: the same forest resumes, a changed one starts afresh", async () => {
    const rows = heartRates(300, [], 6);
    const first = await Engine.compile({ code: app(', 20, 32'), inputs: [INPUT] });
    let saved;
    try {
      await first.push(SRC, rows.map((v, i) => ({ t: i, v })));
      saved = JSON.parse(JSON.stringify(first.snapshot()));
    } finally {
      first.close();
    }
    const after = async (code: string) => {
      const e = await Engine.compile({ code, inputs: [INPUT] });
      try {
        e.restore(saved);
        await e.push(SRC, [{ t: 1000, v: ['NORMAL', 80] }]);
        return e.drain().get('TEMP_STREAM')![0]!.v[2] as number;
      } finally {
        e.close();
      }
    };
    expect(await after(app(', 20, 32'))).toBeGreaterThan(0);
    // More trees, or two numeric columns instead of one: a new model, learning again (score 0).
    expect(await after(app(', 30, 32'))).toBe(0);
    expect(await after(app(', 20, 32', undefined, `SELECT STREAM "TEXT", "VALUE", "VALUE" * 2 AS V2 FROM "${SRC}"`))).toBe(0);
  });

  test('the checkpointed model is bounded: sample points per tree, none older than timeDecay', async () => {
    const e = await Engine.compile({ code: app(', 10, 32, 200, 1'), inputs: [INPUT] });
    try {
      const rows = heartRates(1500, [], 3);
      await e.push(SRC, rows.map((v, i) => ({ t: 1_700_000_000_000 + i, v })));
      const st = e.snapshot().forests!.STREAM_PUMP!;
      expect(st.seen).toBe(1500);
      expect(st.trees).toHaveLength(10);
      for (const t of st.trees) expect(t.length).toBe(32);
      expect(st.points.length).toBeLessThanOrEqual(10 * 32);
      for (const [seq] of st.points) expect(seq).toBeGreaterThan(1500 - 1 - 200);
    } finally {
      e.close();
    }
  });

  test('shingling scores a break in a periodic shape that single values cannot see', async () => {
    // A sawtooth 0..9 with small noise; at row 600 the value 7 comes where a 3 belongs: a common value, an unseen shape.
    const r = rng(5);
    const rows: Value[][] = Array.from({ length: 800 }, (_, i) => ['S', i === 600 ? 70 : (i % 10) * 10 + Math.round(r() * 2)]);
    const code = (s: number) => app(`, 50, 128, 100000, ${s}`);
    const shingled = (await scores(code(4), rows)).map((x) => x.v[2] as number);
    const single = (await scores(code(1), rows)).map((x) => x.v[2] as number);
    // Learning: the first shingle needs 4 rows, then 128 shingles train the model.
    expect(shingled.slice(0, 3 + 128).every((s) => s === 0)).toBe(true);
    expect(shingled[3 + 128]).toBeGreaterThan(0);
    const normal = (xs: number[]) => xs.filter((_, i) => i >= 200 && (i < 600 || i > 603));
    // Every shingle holding the broken value scores above every shingle of the unbroken shape.
    const top = Math.max(...normal(shingled));
    for (let i = 600; i <= 603; i++) expect(shingled[i]!).toBeGreaterThan(top);
    expect(shingled[600]!).toBeGreaterThan(1.3 * quantile(normal(shingled), 0.99));
    expect(single[600]!).toBeLessThan(quantile(normal(single), 0.9));
  });

  test('non-numeric columns pass through unchanged and do not feed the model; null numbers score 0', async () => {
    const input = { name: SRC, columns: [{ name: 'TEXT', sqlType: 'VARCHAR(10)' }, { name: 'VALUE', sqlType: 'INTEGER' }, { name: 'TS', sqlType: 'TIMESTAMP' }, { name: 'OK', sqlType: 'BOOLEAN' }] };
    const code = `
CREATE OR REPLACE STREAM "TEMP_STREAM" ("TEXT" varchar(10), "VALUE" INTEGER, "TS" TIMESTAMP, "OK" BOOLEAN, "ANOMALY_SCORE" DOUBLE);
CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "TEMP_STREAM"
SELECT STREAM * FROM TABLE(RANDOM_CUT_FOREST(CURSOR(SELECT STREAM * FROM "${SRC}"), 20, 32));`;
    const base = heartRates(200, [150], 9);
    const r = rng(2);
    const withText = base.map((v, i) => [i === 100 ? 'x' : `t${Math.floor(r() * 1000)}`, i === 120 ? null : v[1]!, 1_600_000_000_000 + Math.floor(r() * 1e9), r() < 0.5]);
    const constant = withText.map((v) => ['same', v[1]!, 1_600_000_000_000, true]);
    const a = await scores(code, withText, { input });
    const b = await scores(code, constant, { input });
    a.forEach((x, i) => expect(x.v.slice(0, 4)).toEqual(withText[i]));
    expect(a.map((x) => x.v[4])).toEqual(b.map((x) => x.v[4]));
    expect(a[120]!.v[4]).toBe(0);
    expect(a[121]!.v[4]).toBeGreaterThan(0);
  });

  test('a cursor that projects and filters, and a WHERE on ANOMALY_SCORE outside', async () => {
    const rows = heartRates(300, [250], 4).map((v, i) => (i % 3 === 0 ? ['skip', 999] : v));
    const out = await scores(app(', 30, 64', 'SELECT STREAM "TEXT", "VALUE", ANOMALY_SCORE', `SELECT STREAM "TEXT", "VALUE" FROM "${SRC}" WHERE "TEXT" <> 'skip'`, ' WHERE ANOMALY_SCORE > 2'), rows);
    // 999 never reaches the model (filtered in the cursor); the outlier at 250 does and passes the filter.
    expect(out.some((r) => r.v[1] === 999)).toBe(false);
    expect(out.map((r) => r.v[1])).toContain(rows[250]![1]);
    for (const r of out) expect(r.v[2] as number).toBeGreaterThan(2);
  });

  test('a cursor that selects ROWTIME is refused (its rows keep their ROWTIME); under another name it passes through', async () => {
    const err = await Engine.compile({ code: app('', undefined, `SELECT STREAM ROWTIME, "TEXT", "VALUE" FROM "${SRC}"`), inputs: [INPUT] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApplicationSqlError);
    expect((err as Error).message).toMatch(/the cursor selects ROWTIME/);
    const rows = heartRates(80, [], 4);
    const code = app(', 10, 16', 'SELECT STREAM "TEXT", "VALUE", ANOMALY_SCORE', `SELECT STREAM "TEXT", "VALUE", ROWTIME AS T FROM "${SRC}"`);
    const out = await scores(code, rows);
    expect(out.map((r) => r.t)).toEqual(rows.map((_, i) => 1_700_000_000_000 + i * 10));
    expect(out.map((r) => r.v.slice(0, 2))).toEqual(rows);
  });

  test.each([
    ['a cursor that aggregates per second', `CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (CLICKCOUNT BIGINT, ANOMALY_SCORE DOUBLE);
CREATE OR REPLACE PUMP "P" AS INSERT INTO "DESTINATION_SQL_STREAM"
SELECT STREAM * FROM TABLE(RANDOM_CUT_FOREST(CURSOR(SELECT STREAM COUNT(*) AS CLICKCOUNT FROM "${SRC}" GROUP BY STEP("${SRC}".ROWTIME BY INTERVAL '1' SECOND)), 100, 12, 100000, 1));`],
    ['an in-application stream filled by a windowed pump', `CREATE OR REPLACE STREAM "CLICKSTREAM" (CLICKCOUNT BIGINT);
CREATE OR REPLACE PUMP "CLICKPUMP" AS INSERT INTO "CLICKSTREAM" SELECT STREAM COUNT(*) FROM "${SRC}" GROUP BY FLOOR("${SRC}".ROWTIME TO SECOND);
CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (CLICKCOUNT BIGINT, ANOMALY_SCORE DOUBLE);
CREATE OR REPLACE PUMP "P" AS INSERT INTO "DESTINATION_SQL_STREAM"
SELECT STREAM * FROM TABLE(RANDOM_CUT_FOREST(CURSOR(SELECT STREAM CLICKCOUNT FROM "CLICKSTREAM"), 100, 12, 100000, 1));`],
  ])('over windows: %s; the burst second scores highest', async (_, code) => {
    const e = await Engine.compile({ code, inputs: [INPUT] });
    const out: Row[] = [];
    try {
      const t0 = 1_700_000_000_000;
      // 40 seconds of 18–22 clicks a second, 90 in second 30.
      for (let sec = 0; sec < 40; sec++) {
        const n = sec === 30 ? 90 : 18 + ((sec * 7) % 5);
        await e.push(SRC, Array.from({ length: n }, (_, i) => ({ t: t0 + sec * 1000 + Math.floor((i * 1000) / n), v: ['c', 1] })));
        await e.advance(t0 + (sec + 1) * 1000);
        out.push(...(e.drain().get('DESTINATION_SQL_STREAM') ?? []));
      }
    } finally {
      e.close();
    }
    expect(out.map((r) => r.v[0])).toEqual(Array.from({ length: 40 }, (_, sec) => (sec === 30 ? 90 : 18 + ((sec * 7) % 5))));
    expect(out.slice(0, 12).every((r) => r.v[1] === 0)).toBe(true);
    const best = out.reduce((b, r, i) => ((r.v[1] as number) > (out[b]!.v[1] as number) ? i : b), 0);
    expect(best).toBe(30);
    // Each window's row keeps the window's end as its ROWTIME.
    expect(out[30]!.t).toBe(1_700_000_000_000 + 31_000);
  });

  test("errors in the cursor's query or the pump's own point at the user's code", async () => {
    const at = async (code: string, word: string) => {
      const err = await Engine.compile({ code, inputs: [INPUT] }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ApplicationSqlError);
      const e = err as ApplicationSqlError;
      expect(code.slice(e.pos, e.pos + word.length)).toBe(word);
      return e.message;
    };
    expect(await at(app('', undefined, `SELECT STREAM "TEXT", "NOPE" FROM "${SRC}"`), '"NOPE"')).toMatch(/NOPE/);
    expect(await at(app('', 'SELECT STREAM "TEXT", "VALUE", ANOMALY_SCOR'), 'ANOMALY_SCOR')).toMatch(/ANOMALY_SCOR/);
  });

  test('two forests in one application: each its own model in the snapshot', async () => {
    const code = `CREATE OR REPLACE STREAM "A" ("VALUE" INTEGER, "ANOMALY_SCORE" DOUBLE);
CREATE OR REPLACE STREAM "B" ("VALUE" INTEGER, "ANOMALY_SCORE" DOUBLE);
CREATE OR REPLACE PUMP "PA" AS INSERT INTO "A" SELECT STREAM "VALUE", ANOMALY_SCORE FROM TABLE(RANDOM_CUT_FOREST(CURSOR(SELECT STREAM "VALUE" FROM "${SRC}"), 20, 16));
CREATE OR REPLACE PUMP "PB" AS INSERT INTO "B" SELECT STREAM "VALUE", ANOMALY_SCORE FROM TABLE(RANDOM_CUT_FOREST(CURSOR(SELECT STREAM "VALUE" FROM "${SRC}" WHERE "VALUE" > 80), 10, 32));`;
    const e = await Engine.compile({ code, inputs: [INPUT] });
    try {
      const rows = heartRates(200, [], 8);
      await e.push(SRC, rows.map((v, i) => ({ t: i, v })));
      const out = e.drain();
      expect(out.get('A')).toHaveLength(200);
      expect(out.get('B')).toHaveLength(rows.filter((v) => (v[1] as number) > 80).length);
      const st = e.snapshot().forests!;
      expect(Object.keys(st).sort()).toEqual(['PA', 'PB']);
      expect(st.PA!.trees).toHaveLength(20);
      expect(st.PB!.trees).toHaveLength(10);
      expect(st.PB!.seen).toBe(out.get('B')!.length);
    } finally {
      e.close();
    }
  });

  const bad: [string, RegExp][] = [
    [', 0', /numberOfTrees must be an integer from 1 to 1000, not '0'/],
    [', 1001', /numberOfTrees must be an integer from 1 to 1000/],
    [', 10.5', /numberOfTrees must be an integer/],
    [', -3', /numberOfTrees must be an integer from 1 to 1000, not '-3'/],
    [", 'ten'", /numberOfTrees must be an integer/],
    [', 100, 9', /subSampleSize must be an integer from 10 to 1000/],
    [', 100, 1001', /subSampleSize must be an integer from 10 to 1000/],
    [', 100, 256, 0', /timeDecay must be an integer from 1 to 2147483647/],
    [', 100, 256, 2147483648', /timeDecay must be an integer from 1 to 2147483647/],
    [', 100, 256, 256', /subSampleSize \(256\) must be less than timeDecay \(256\)/],
    [', 100, 256, 100000, 0', /shingleSize must be an integer from 1 to 30/],
    [', 100, 256, 100000, 31', /shingleSize must be an integer from 1 to 30/],
    [', 100, 256, 100000, 1, 5', /takes at most 4 parameters/],
  ];
  test.each(bad)('parameters%s: %s', async (params, message) => {
    const err = await Engine.compile({ code: app(params), inputs: [INPUT] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApplicationSqlError);
    expect((err as Error).message).toMatch(message);
    expect((err as ApplicationSqlError).line).toBe(4);
  });

  test('the defaults when no parameter is given are those the reference gives', async () => {
    const e = await Engine.compile({ code: AWS_EXAMPLE, inputs: [INPUT] });
    try {
      await e.push(SRC, [{ t: 1, v: ['a', 1] }]);
      const st = e.snapshot().forests!.STREAM_PUMP!;
      expect(st.trees).toHaveLength(100);
    } finally {
      e.close();
    }
  });

  test('bad uses are SQL errors: no numeric column, a column the function adds, a bad withDirectionality', async () => {
    const fails = async (code: string) => Engine.compile({ code, inputs: [INPUT] }).then(() => undefined, (e: unknown) => e as Error);
    expect((await fails(app('', 'SELECT STREAM "TEXT", 1, ANOMALY_SCORE', `SELECT STREAM "TEXT" FROM "${SRC}"`)))?.message).toMatch(/needs a numeric column/);
    expect((await fails(app('', 'SELECT STREAM "TEXT", "VALUE", ANOMALY_SCORE', `SELECT STREAM "TEXT", "VALUE", 1.0 AS ANOMALY_SCORE FROM "${SRC}"`)))?.message).toMatch(/already has a column ANOMALY_SCORE/);
    const explain = (params: string) => fails(app(params).replace('RANDOM_CUT_FOREST(', 'RANDOM_CUT_FOREST_WITH_EXPLANATION('));
    expect((await explain(', 100, 256, 100000, 1, 5'))?.message).toMatch(/withDirectionality is TRUE or FALSE, not '5'/);
    expect((await explain(', 100, 256, 100000, 1, true, 1'))?.message).toMatch(/takes at most 5 parameters .*withDirectionality/);
    expect((await explain(', 100, 256, 100000, 31'))?.message).toMatch(/shingleSize must be an integer from 1 to 30/);
    expect((await fails(app('', 'SELECT STREAM "TEXT", "VALUE", ANOMALY_SCORE', `SELECT STREAM "TEXT", "VALUE", 'x' AS ANOMALY_EXPLANATION FROM "${SRC}"`).replace('RANDOM_CUT_FOREST(', 'RANDOM_CUT_FOREST_WITH_EXPLANATION(')))?.message).toMatch(/already has a column ANOMALY_EXPLANATION/);
    expect((await fails(app('', undefined, `SELECT STREAM * FROM "NOPE"`)))?.message).toMatch(/stream NOPE does not exist/);
  });

  test('an application with a forest runs on one active replica (one model of the whole stream), and says why', () => {
    const def = ApplicationDefinition.parse({
      name: 'a', code: AWS_EXAMPLE,
      inputs: [{ id: '1.1', namePrefix: 'SOURCE_SQL_STREAM', source: { kind: 'stream', name: 'i' }, format: { type: 'JSON' }, columns: [{ name: 'TEXT', sqlType: 'VARCHAR(10)', mapping: '$.TEXT' }, { name: 'VALUE', sqlType: 'INTEGER', mapping: '$.VALUE' }] }],
      outputs: [{ id: '1', name: 'TEMP_STREAM', destination: { kind: 'stream', name: 'o' } }],
    });
    expect(replicasSplitShards(def)).toBe(false);
    expect(scaleOutMode(def)).toBe('one active replica (pump STREAM_PUMP: RANDOM_CUT_FOREST keeps one model of the whole stream)');
    expect(passThroughPlan(def)).toEqual({ passThrough: false, reason: 'pump STREAM_PUMP: RANDOM_CUT_FOREST keeps one model of the whole stream (state across records)' });
  });

  describe('RANDOM_CUT_FOREST_WITH_EXPLANATION', () => {
    // The SQL reference's stock ticker example, as written there.
    const STOCKS = { name: SRC, columns: [{ name: 'TICKER_SYMBOL', sqlType: 'VARCHAR(4)' }, { name: 'SECTOR', sqlType: 'VARCHAR(16)' }, { name: 'CHANGE', sqlType: 'REAL' }, { name: 'PRICE', sqlType: 'REAL' }] };
    const example = (fn: string, params: string) => `CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (anomaly REAL, ANOMALY_EXPLANATION VARCHAR(20480));
CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
SELECT "ANOMALY_SCORE", "ANOMALY_EXPLANATION" FROM TABLE (${fn}(CURSOR(SELECT STREAM * FROM "SOURCE_SQL_STREAM_001"), ${params})) WHERE ANOMALY_SCORE > 0`;
    /** CHANGE around 0, PRICE around 100; at 500 a CHANGE far above, at 700 a PRICE far below. */
    function stocks(n: number): Value[][] {
      const r = rng(13);
      const g = () => Math.sqrt(-2 * Math.log(r())) * Math.cos(2 * Math.PI * r());
      return Array.from({ length: n }, (_, i) => ['AMZN', 'TECH', i === 500 ? 40 : Math.fround(2 * g()), i === 700 ? 40 : Math.fround(100 + 3 * g())]);
    }
    async function run(code: string, rows: Value[][]): Promise<Row[]> {
      const e = await Engine.compile({ code, inputs: [STOCKS] });
      try {
        await e.push(SRC, rows.map((v, i) => ({ t: 1_700_000_000_000 + i, v })));
        return e.drain().get('DESTINATION_SQL_STREAM') ?? [];
      } finally {
        e.close();
      }
    }
    type Explained = Record<string, { DIRECTION?: string; STRENGTH?: string; ATTRIBUTION_SCORE: string }>;

    test("the reference's example: attributions sum to the score, the outlying column carries it, in its direction", async () => {
      const rows = stocks(800);
      const out = await run(example('RANDOM_CUT_FOREST_WITH_EXPLANATION', '100, 256, 100000, 1, true'), rows);
      // WHERE ANOMALY_SCORE > 0 drops the learning phase.
      expect(out).toHaveLength(800 - 256);
      for (const r of out) {
        const x = JSON.parse(r.v[1] as string) as Explained;
        expect(Object.keys(x)).toEqual(['CHANGE', 'PRICE']);
        const sum = Number(x.CHANGE!.ATTRIBUTION_SCORE) + Number(x.PRICE!.ATTRIBUTION_SCORE);
        expect(Math.abs(sum - (r.v[0] as number))).toBeLessThan(2e-4);
        for (const c of Object.values(x)) expect(Number(c.STRENGTH)).toBeLessThanOrEqual(Number(c.ATTRIBUTION_SCORE) + 1e-4);
      }
      const at = (i: number) => ({ score: out[i - 256]!.v[0] as number, x: JSON.parse(out[i - 256]!.v[1] as string) as Explained });
      const high = at(500);
      expect(Number(high.x.CHANGE!.ATTRIBUTION_SCORE)).toBeGreaterThan(5 * Number(high.x.PRICE!.ATTRIBUTION_SCORE));
      expect(high.x.CHANGE!.DIRECTION).toBe('HIGH');
      const low = at(700);
      expect(Number(low.x.PRICE!.ATTRIBUTION_SCORE)).toBeGreaterThan(5 * Number(low.x.CHANGE!.ATTRIBUTION_SCORE));
      expect(low.x.PRICE!.DIRECTION).toBe('LOW');
      const normal = out.filter((_, k) => k + 256 !== 500 && k + 256 !== 700).map((r) => r.v[0] as number);
      expect(Math.min(high.score, low.score)).toBeGreaterThan(1.5 * quantile(normal, 0.99));
    });

    test('the same scores as RANDOM_CUT_FOREST; without directionality only attribution scores; zeros while learning', async () => {
      const rows = stocks(400);
      const explained = await run(example('RANDOM_CUT_FOREST_WITH_EXPLANATION', '30, 64, 1000, 2, false').replace(' WHERE ANOMALY_SCORE > 0', ''), rows);
      const plain = await run(example('RANDOM_CUT_FOREST', '30, 64, 1000, 2').replace('"ANOMALY_SCORE", "ANOMALY_EXPLANATION"', `"ANOMALY_SCORE", 'none'`).replace(' WHERE ANOMALY_SCORE > 0', ''), rows);
      expect(explained.map((r) => r.v[0])).toEqual(plain.map((r) => r.v[0]));
      const first = JSON.parse(explained[0]!.v[1] as string) as Explained;
      expect(first).toEqual({ CHANGE: { ATTRIBUTION_SCORE: '0.0000' }, PRICE: { ATTRIBUTION_SCORE: '0.0000' } });
      const learning = await run(example('RANDOM_CUT_FOREST_WITH_EXPLANATION', '30, 64, 1000, 1, TRUE').replace(' WHERE ANOMALY_SCORE > 0', ''), rows.slice(0, 10));
      expect(JSON.parse(learning[3]!.v[1] as string)).toEqual({ CHANGE: { DIRECTION: 'LOW', STRENGTH: '0.0000', ATTRIBUTION_SCORE: '0.0000' }, PRICE: { DIRECTION: 'LOW', STRENGTH: '0.0000', ATTRIBUTION_SCORE: '0.0000' } });
    });
  });
});
