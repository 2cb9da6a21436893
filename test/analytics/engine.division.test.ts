// Division as KDA SQL does it: INTEGER / INTEGER is an INTEGER truncated
// toward zero (the SQL standard, SQLstream), at any depth of an expression and
// over aggregates; a DECIMAL, DOUBLE or decimal-literal operand divides exactly.
// Every expected value is computed here in JS from the same records.
import { Engine, type Row } from '../../analytics/engine/engine.js';

const SRC = 'SOURCE_SQL_STREAM_001';
const INPUT = {
  name: SRC,
  columns: [
    { name: 'A', sqlType: 'INTEGER' }, { name: 'B', sqlType: 'INTEGER' }, { name: 'S', sqlType: 'SMALLINT' },
    { name: 'L', sqlType: 'BIGINT' }, { name: 'D', sqlType: 'DOUBLE' }, { name: 'M', sqlType: 'DECIMAL(10,2)' },
  ],
};

function rng(seed: number) {
  let s = seed >>> 0;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
}

interface Rec { t: number; a: number; b: number; s: number; l: number; d: number; m: number }

function records(n: number): Rec[] {
  const r = rng(9);
  const out: Rec[] = [];
  const nz = (x: number) => (x === 0 ? 1 : x);
  for (let i = 0; i < n; i++) {
    out.push({
      t: 1_700_000_000_000 + i * 97,
      a: Math.floor(r() * 2001) - 1000,
      b: nz(Math.floor(r() * 41) - 20),
      s: nz(Math.floor(r() * 15) - 7),
      l: Math.floor(r() * 2e12) - 1e12,
      d: Math.round((r() * 200 - 100) * 100) / 100 || 0.5,
      m: Math.round((r() * 200 - 100) * 100) / 100 || 0.25,
    });
  }
  return out;
}

async function runApp(code: string, recs: Rec[]): Promise<Row[]> {
  const e = await Engine.compile({ code, inputs: [INPUT] });
  try {
    await e.push(SRC, recs.map((x) => ({ t: x.t, v: [x.a, x.b, x.s, x.l, x.d, x.m] })));
    await e.advance(recs[recs.length - 1]!.t + 3_600_000);
    const out = e.drain();
    expect(out.get('error_stream') ?? []).toEqual([]);
    return out.get('DEST_SQL_STREAM') ?? [];
  } finally {
    e.close();
  }
}

const close = (got: number, want: number) => expect(Math.abs(got - want)).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(want)));

describe('KDA division', () => {
  const recs = records(300);

  it('INTEGER / INTEGER truncates toward zero, nested and mixed with exact types', async () => {
    // DOUBLE target columns: a DOUBLE division result would keep its fraction there.
    const code = `
      CREATE OR REPLACE STREAM "DEST_SQL_STREAM" (
        q1 DOUBLE, q2 INTEGER, q3 DOUBLE, q4 DOUBLE, q5 DOUBLE, q6 BIGINT, q7 DOUBLE, q8 INTEGER, q9 DOUBLE, q10 DOUBLE);
      CREATE OR REPLACE PUMP "P" AS INSERT INTO "DEST_SQL_STREAM"
        SELECT STREAM A / B, ((A + 7) / B) * 3 - A / (S * 2), A / D, M / B, A / 2.0, L / S, CAST(A AS DOUBLE) / B,
               ABS(A) / 7 / 3, 1 / 2 + A / B, (A / B) * 1.5
        FROM "SOURCE_SQL_STREAM_001";`;
    const rows = await runApp(code, recs);
    expect(rows).toHaveLength(recs.length);
    const q = (x: number) => Math.trunc(x) + 0; // +0: no -0 from the oracle
    rows.forEach((row, i) => {
      const x = recs[i]!;
      const v = row.v as number[];
      expect(v[0]).toBe(q(x.a / x.b));
      expect(v[1]).toBe(q((x.a + 7) / x.b) * 3 - q(x.a / (x.s * 2)));
      close(v[2]!, x.a / x.d);
      close(v[3]!, x.m / x.b);
      close(v[4]!, x.a / 2);
      expect(v[5]).toBe(q(x.l / x.s));
      close(v[6]!, x.a / x.b);
      expect(v[7]).toBe(q(q(Math.abs(x.a) / 7) / 3));
      expect(v[8]).toBe(q(x.a / x.b));
      close(v[9]!, q(x.a / x.b) * 1.5);
    });
    // The records exercise the negative cases where truncating and flooring differ.
    expect(recs.some((x) => x.a / x.b < 0 && !Number.isInteger(x.a / x.b))).toBe(true);
  });

  it('over aggregates of a tumbling window: SUM(INTEGER) / COUNT(*) is an integer', async () => {
    const code = `
      CREATE OR REPLACE STREAM "DEST_SQL_STREAM" (k INTEGER, per_row DOUBLE, avg_d DOUBLE);
      CREATE OR REPLACE PUMP "P" AS INSERT INTO "DEST_SQL_STREAM"
        SELECT STREAM S, SUM(A) / COUNT(*), SUM(D) / COUNT(*)
        FROM "SOURCE_SQL_STREAM_001"
        GROUP BY S, STEP("SOURCE_SQL_STREAM_001".ROWTIME BY INTERVAL '10' SECOND);`;
    const rows = await runApp(code, recs);
    const groups = new Map<string, { k: number; sa: number; sd: number; n: number }>();
    for (const x of recs) {
      const id = `${Math.floor(x.t / 10_000)}|${x.s}`;
      const g = groups.get(id) ?? { k: x.s, sa: 0, sd: 0, n: 0 };
      g.sa += x.a; g.sd += x.d; g.n++;
      groups.set(id, g);
    }
    const want = [...groups.values()].map((g) => [g.k, Math.trunc(g.sa / g.n), g.sd / g.n]);
    const norm = (r: number[][]) => r.map((v) => JSON.stringify([v[0], v[1], Math.round(v[2]! * 1e6) / 1e6])).sort();
    expect(norm(rows.map((r) => r.v as number[]))).toEqual(norm(want));
    // Some window's negative mean has a fraction, where truncating and flooring differ.
    expect([...groups.values()].some((g) => g.sa < 0 && g.sa % g.n !== 0)).toBe(true);
  });
});
