// Engine.emitColumns (the combiner's windows of combined rows): kept as
// columns for the runner when only outputs take the stream, and as rows,
// through the pumps that read it, when one does. The oracle is the rows the
// test hands in, and a downstream pump's result written here.
import { Engine, type EngineInput } from '../../analytics/engine/engine.js';

const SRC = 'SOURCE_SQL_STREAM_001';
const input: EngineInput = { name: SRC, columns: [{ name: 'K', sqlType: 'VARCHAR(8)' }, { name: 'N', sqlType: 'INTEGER' }] };
const block = () => ({ t: 5000, cols: [['a', 'b', null], [1, 2, 3]], n: 3 });

test('a stream nothing in the engine reads keeps the window as columns; drain() alone gives them as rows', async () => {
  const code = `CREATE OR REPLACE STREAM "OUT" (K VARCHAR(8), N INTEGER);
CREATE OR REPLACE PUMP "P" AS INSERT INTO "OUT" SELECT STREAM K, N FROM "${SRC}";`;
  const e = await Engine.compile({ code, inputs: [input] });
  try {
    await e.emitColumns('OUT', block());
    await e.emitColumns('OUT', { t: 6000, cols: [[], []], n: 0 });
    const folded = e.drainFolded();
    expect([...folded.keys()]).toEqual(['OUT']);
    expect(folded.get('OUT')).toEqual([block()]);
    expect(e.drain().get('OUT')).toBeUndefined();
    await e.emitColumns('OUT', block());
    expect(e.drain().get('OUT')!.map((r) => [r.t, r.v])).toEqual([[5000, ['a', 1]], [5000, ['b', 2]], [5000, [null, 3]]]);
  } finally {
    e.close();
  }
});

test('a stream a pump reads takes the window as rows, and the pump evaluates them', async () => {
  const code = `CREATE OR REPLACE STREAM "OUT" (K VARCHAR(8), N INTEGER);
CREATE OR REPLACE STREAM "TWICE" (K VARCHAR(8), N2 INTEGER);
CREATE OR REPLACE PUMP "P" AS INSERT INTO "OUT" SELECT STREAM K, N FROM "${SRC}";
CREATE OR REPLACE PUMP "Q" AS INSERT INTO "TWICE" SELECT STREAM K, N * 2 FROM "OUT";`;
  const e = await Engine.compile({ code, inputs: [input] });
  try {
    await e.emitColumns('OUT', block());
    expect(e.drainFolded().size).toBe(0);
    const out = e.drain();
    expect(out.get('OUT')!.map((r) => r.v)).toEqual([['a', 1], ['b', 2], [null, 3]]);
    expect(out.get('TWICE')!.map((r) => r.v)).toEqual([['a', 2], ['b', 4], [null, 6]]);
  } finally {
    e.close();
  }
});
