// Which applications are pass-through (pure): every pump stateless, so every
// replica runs them over the shards it leases (worker/passThrough.ts); why the
// others are not.
import { passThroughPlan } from '../../analytics/sql/passThrough.js';
import { replicasSplitShards, scaleOutMode } from '../../analytics/sql/decompose.js';
import { ApplicationDefinition } from '../../contract/analytics.js';

const def = (code: string, outputs: unknown[] = [{ id: '1', name: 'OUT', destination: { kind: 'stream', name: 'o' } }]) => ApplicationDefinition.parse({
  name: 'a', code,
  inputs: [{ id: '1.1', namePrefix: 'SOURCE_SQL_STREAM', source: { kind: 'stream', name: 'i' }, format: { type: 'JSON' }, columns: [{ name: 'K', sqlType: 'VARCHAR(8)', mapping: '$.k' }, { name: 'V', sqlType: 'DOUBLE', mapping: '$.v' }] }],
  outputs,
});
const S = `CREATE OR REPLACE STREAM "OUT" (K VARCHAR(8), V DOUBLE, T TIMESTAMP);\n`;
const P = (select: string) => `${S}CREATE OR REPLACE PUMP "P" AS INSERT INTO "OUT" ${select};`;

test.each([
  P(`SELECT STREAM K, V, ROWTIME FROM "SOURCE_SQL_STREAM_001"`),
  P(`SELECT STREAM UPPER(K), V * 2, "SOURCE_SQL_STREAM_001".ROWTIME FROM "SOURCE_SQL_STREAM_001" WHERE V > 1 AND K LIKE 'a%'`),
  P(`SELECT STREAM CASE WHEN V > 1 THEN 'x' ELSE K END, COALESCE(V, 0), ROWTIME FROM "SOURCE_SQL_STREAM_001" AS s`),
  // A chain of stateless pumps.
  `${S}CREATE OR REPLACE STREAM "MID" (K VARCHAR(8), V DOUBLE);
CREATE OR REPLACE PUMP "A" AS INSERT INTO "MID" SELECT STREAM K, V FROM "SOURCE_SQL_STREAM_001" WHERE V > 0;
CREATE OR REPLACE PUMP "B" AS INSERT INTO "OUT" SELECT STREAM K, V, ROWTIME FROM "MID";`,
])('pass-through: %#', (code) => {
  expect(passThroughPlan(def(code))).toEqual({ passThrough: true });
  expect(scaleOutMode(def(code))).toBe('replicas split the shards (pass-through: every pump is stateless)');
  // The operator follows the input's lag for it (more replicas share the shards).
  expect(replicasSplitShards(def(code))).toBe(true);
});

test.each([
  [P(`SELECT STREAM K, COUNT(*), STEP(ROWTIME BY INTERVAL '1' SECOND) FROM "SOURCE_SQL_STREAM_001" GROUP BY K, STEP(ROWTIME BY INTERVAL '1' SECOND)`), /tumbling window/],
  [P(`SELECT STREAM K, AVG(V) OVER (PARTITION BY K RANGE INTERVAL '1' MINUTE PRECEDING), ROWTIME FROM "SOURCE_SQL_STREAM_001"`), /sliding window/],
  [P(`SELECT STREAM K, MAX(V), ROWTIME FROM "SOURCE_SQL_STREAM_001"`), /MAX aggregates/],
  // Refused when compiled: streaming DISTINCT needs state across batches (sql/kdaScalars.ts).
  [P(`SELECT STREAM DISTINCT K, V, ROWTIME FROM "SOURCE_SQL_STREAM_001"`), /SELECT STREAM DISTINCT without a GROUP BY window is not supported/],
  [P(`SELECT STREAM K, V, ROWTIME FROM "SOURCE_SQL_STREAM_001" ORDER BY V`), /ORDER is not stateless/],
  [P(`SELECT STREAM K, V, ROWTIME FROM "SOURCE_SQL_STREAM_001" WHERE V > (SELECT 1)`), /sub-query/],
  // One stateful pump in a chain keeps the whole application on one active replica.
  [`${S}CREATE OR REPLACE STREAM "MID" (K VARCHAR(8), V DOUBLE);
CREATE OR REPLACE PUMP "A" AS INSERT INTO "MID" SELECT STREAM K, V FROM "SOURCE_SQL_STREAM_001";
CREATE OR REPLACE PUMP "B" AS INSERT INTO "OUT" SELECT STREAM K, SUM(V), FLOOR(ROWTIME TO MINUTE) FROM "MID" GROUP BY K, FLOOR(ROWTIME TO MINUTE);`, /pump B: it has a tumbling window/],
])('not pass-through, with the reason: %#', (code, reason) => {
  const p = passThroughPlan(def(code));
  expect(p.passThrough).toBe(false);
  if (!p.passThrough) expect(p.reason).toMatch(reason);
  // Only the windowed aggregates that decompose split the shards instead.
  expect(replicasSplitShards(def(code))).toBe(/COUNT\(\*\)/.test(code));
});

test('an HTTP or Lambda output keeps a stateless application on one active replica (at-least-once through its checkpoint)', () => {
  const code = P(`SELECT STREAM K, V, ROWTIME FROM "SOURCE_SQL_STREAM_001"`);
  const p = passThroughPlan(def(code, [{ id: '1', name: 'OUT', destination: { kind: 'http', url: 'http://x/y' } }]));
  expect(p).toEqual({ passThrough: false, reason: 'output OUT goes to an HTTP endpoint' });
  expect(scaleOutMode(def(code, [{ id: '1', name: 'OUT', destination: { kind: 'lambda', arn: 'arn:aws:lambda:us-east-1:1:function:f' } }]))).toMatch(/^one active replica/);
});
