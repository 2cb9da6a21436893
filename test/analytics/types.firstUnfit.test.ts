// firstUnfit (types.ts): the column loop coerceColumn and the combiner use to
// find the first value that needs converting, against numberFits() asked
// value by value (the definition it replaces), and sound against coerce(): a
// value it lets through is one coerce(assignNumeric(x)) gives back as it is.
import { assignNumeric, coerce, firstUnfit, numberFits, parseSqlType, type Value } from '../../analytics/engine/types.js';

const TYPES = ['TINYINT', 'SMALLINT', 'INTEGER', 'BIGINT', 'DOUBLE', 'REAL', 'DECIMAL(5,2)', 'TIMESTAMP', 'DATE', 'TIME', 'VARCHAR(8)', 'BOOLEAN'].map(parseSqlType);
const VALUES: unknown[] = [null, undefined, 0, -0, 1, -1, 1.5, -2.5, 127, 128, -128, -129, 32767, 32768, 2 ** 31 - 1, 2 ** 31, -(2 ** 31) - 1,
  Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER + 2, Number.MIN_SAFE_INTEGER - 2, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY,
  1767225600000, 1767225600000.5, 1e300, 5e-324, '7', 'x', true];

const fits = (x: unknown, t: ReturnType<typeof parseSqlType>) => x === null || (typeof x === 'number' && numberFits(x, t));

test('one value: as numberFits says, and what it lets through coerce gives back unchanged', () => {
  for (const t of TYPES) {
    for (const x of VALUES) {
      expect([t.text, x, firstUnfit([x], 1, t)]).toEqual([t.text, x, fits(x, t) ? 1 : 0]);
      if (firstUnfit([x], 1, t) === 1 && x !== null) expect(Object.is(coerce(assignNumeric(x, t), t, 'C'), x)).toBe(true);
    }
  }
});

test('columns: the first value numberFits refuses, only the first n looked at', () => {
  let seed = 5;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
  for (let k = 0; k < 2000; k++) {
    const t = TYPES[Math.floor(rnd() * TYPES.length)]!;
    // Mostly values that fit, so the first misfit lands anywhere.
    const col = Array.from({ length: 1 + Math.floor(rnd() * 40) }, () => (rnd() < 0.93 ? [null, 0, 1, 100][Math.floor(rnd() * 4)] : VALUES[Math.floor(rnd() * VALUES.length)]));
    const n = Math.floor(rnd() * (col.length + 1));
    const want = col.slice(0, n).findIndex((x) => !fits(x, t));
    expect(firstUnfit(col as Value[], n, t)).toBe(want < 0 ? n : want);
  }
});
