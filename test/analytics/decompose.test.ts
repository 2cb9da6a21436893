// Two-phase aggregation plans (pure): which pumps split into partials per
// shard and a combination, why the others run on one active replica, and
// that partials computed by the engine over any split of the rows combine to
// what the engine computes over all of them (the engine's own result is the oracle).
import { decompose, scaleOutMode } from '../../analytics/sql/decompose.js';
import { combine } from '../../analytics/worker/combiner.js';
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
  expect(scaleOutMode(def(pump(`K, COUNT(DISTINCT V), SUM(V), AVG(V), ${W}`)))).toMatch(/^one active replica \(pump P: COUNT\(DISTINCT/);
});
