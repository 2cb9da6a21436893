// ColumnDecoder, the shard workers' fast path from JSON record bytes into a
// ColumnBatch, against RecordMapper (the exact path) as the oracle: whenever
// decode() says true, the row it appended must be RecordMapper.map()'s one
// row (no errors) in every materialised column, compared with Object.is so
// -0 counts; whenever it says false the batch must be as it was. Records come
// from Nexmark- and ticker-shaped streams and from a seeded fuzzer of valid
// and invalid JSON. A decoder that always said false would pass the
// differential, so the coverage tests require the fast path for typical records.
import { ColumnDecoder } from '../../analytics/columnDecoder.js';
import { RecordMapper } from '../../analytics/mapping.js';
import { ColumnBatch } from '../../analytics/engine/columnBatch.js';
import { parseSqlType, type Value } from '../../analytics/engine/types.js';
import type { RecordColumn, RecordFormat } from '../../contract/analytics.js';
import { Nexmark, nexmarkRecord } from '../../bench/lib/nexmark.js';

const JSON_FORMAT: RecordFormat = { type: 'JSON', rowPath: '$' };

interface Outcome { fast: number; slow: number; mismatches: string[] }

/**
 * Decodes each record (placed inside other bytes, so reading past the range
 * would show) the way the worker will: decode(), else RecordMapper's rows
 * through pushRow. Checks each fast row against the oracle and, at the end,
 * every row of the batch against the oracle's rows.
 */
function run(columns: RecordColumn[], materialise: boolean[], records: (string | Buffer)[], format: RecordFormat = JSON_FORMAT): Outcome {
  const decoder = new ColumnDecoder(format, columns);
  const mapper = new RecordMapper(format, columns);
  const batch = new ColumnBatch(columns.map((c) => parseSqlType(c.sqlType)), materialise, 4);
  const out: Outcome = { fast: 0, slow: 0, mismatches: [] };
  const expected: Value[][] = [];
  const same = (a: Value, b: Value) => Object.is(a, b);
  records.forEach((rec, k) => {
    const bytes = typeof rec === 'string' ? Buffer.from(rec, 'utf8') : rec;
    const data = Buffer.concat([Buffer.from('{"pad":[1,'), bytes, Buffer.from('"]}}')]);
    const start = 10;
    const end = start + bytes.length;
    const t = 1_700_000_000_000 + k;
    const n0 = batch.n;
    const ok = decoder.decode(data, start, end, batch, t);
    const oracle = mapper.map(Buffer.from(bytes));
    const show = () => JSON.stringify(bytes.toString('latin1'));
    if (ok) {
      out.fast++;
      if (batch.n !== n0 + 1) out.mismatches.push(`${show()}: n ${n0} → ${batch.n}`);
      else if (oracle.rows.length !== 1 || oracle.errors.length !== 0) out.mismatches.push(`${show()}: fast path took a record the oracle maps to ${oracle.rows.length} rows, errors ${JSON.stringify(oracle.errors)}`);
      else {
        const row = oracle.rows[0]!;
        columns.forEach((c, i) => {
          if (materialise[i] && !same(batch.get(n0, i), row[i] ?? null)) out.mismatches.push(`${show()}: column ${c.name} (${c.sqlType}, ${c.mapping}) ${String(batch.get(n0, i))} ≠ oracle ${String(row[i])}`);
        });
        if (batch.t[n0] !== t) out.mismatches.push(`${show()}: ROWTIME ${batch.t[n0]}`);
      }
      expected.push(...oracle.rows);
    } else {
      out.slow++;
      if (batch.n !== n0) out.mismatches.push(`${show()}: false but n ${n0} → ${batch.n}`);
      for (const r of oracle.rows) batch.pushRow(t, r);
      expected.push(...oracle.rows);
    }
  });
  if (batch.n !== expected.length) out.mismatches.push(`batch holds ${batch.n} rows, oracle ${expected.length}`);
  else {
    for (let r = 0; r < batch.n; r++) {
      columns.forEach((c, i) => {
        if (materialise[i] && !same(batch.get(r, i), expected[r]![i] ?? null)) out.mismatches.push(`row ${r} column ${c.name}: ${String(batch.get(r, i))} ≠ ${String(expected[r]![i])} after the whole batch`);
      });
    }
  }
  for (const c of batch.cols) if (c?.kind === 'value' && c.values.length > batch.n) out.mismatches.push(`value column holds ${c.values.length} slots for ${batch.n} rows`);
  return out;
}

const expectClean = (o: Outcome) => expect(o.mismatches.slice(0, 10)).toEqual([]);

// ---- Typical streams

/** The bench's input columns (bench/analyticsE2e.ts COLUMNS). */
const NEXMARK_COLUMNS: RecordColumn[] = [
  { name: 'EVENT_TYPE', sqlType: 'INTEGER', mapping: '$.event_type' },
  { name: 'DATETIME', sqlType: 'TIMESTAMP', mapping: '$.dateTime' },
  { name: 'AUCTION', sqlType: 'BIGINT', mapping: '$.bid.auction' },
  { name: 'BIDDER', sqlType: 'BIGINT', mapping: '$.bid.bidder' },
  { name: 'PRICE', sqlType: 'DOUBLE', mapping: '$.bid.price' },
  { name: 'CHANNEL', sqlType: 'VARCHAR(16)', mapping: '$.bid.channel' },
  { name: 'URL', sqlType: 'VARCHAR(128)', mapping: '$.bid.url' },
  { name: 'EXTRA', sqlType: 'VARCHAR(64)', mapping: '$.bid.extra' },
];

function nexmarkRecords(n: number, seed = 7, bidderKeys = 0): string[] {
  const g = new Nexmark(seed, Date.UTC(2026, 0, 1), 50_000, bidderKeys);
  return Array.from({ length: n }, () => nexmarkRecord(g.next()).json);
}

const TICKER_COLUMNS: RecordColumn[] = [
  { name: 'TICKER_SYMBOL', sqlType: 'VARCHAR(4)', mapping: '$.TICKER_SYMBOL' },
  { name: 'SECTOR', sqlType: 'VARCHAR(16)', mapping: '$.SECTOR' },
  { name: 'CHANGE', sqlType: 'REAL', mapping: '$.CHANGE' },
  { name: 'PRICE', sqlType: 'REAL', mapping: '$.PRICE' },
];

function tickerRecords(n: number, seed = 3): string[] {
  const rnd = prng(seed);
  const symbols = ['QXZ', 'AAPL', 'AMZN', 'WAS', 'IOP', 'CRM', 'JKL', 'ASD'];
  const sectors = ['HEALTHCARE', 'TECHNOLOGY', 'RETAIL', 'ENERGY', 'FINANCIAL'];
  return Array.from({ length: n }, () => JSON.stringify({
    TICKER_SYMBOL: symbols[Math.floor(rnd() * symbols.length)],
    SECTOR: sectors[Math.floor(rnd() * sectors.length)],
    CHANGE: Math.round((rnd() - 0.5) * 1000) / 100,
    PRICE: Math.round(rnd() * 100_000) / 100,
  }));
}

test('Nexmark records with the bench\'s columns take the fast path (≥99%), auctions and persons with NULL bids included', () => {
  const records = nexmarkRecords(20_000);
  expect(records.filter((r) => !r.includes('"bid"')).length).toBeGreaterThan(1000);
  const layouts = [NEXMARK_COLUMNS.map(() => true), NEXMARK_COLUMNS.map((c) => ['EVENT_TYPE', 'DATETIME', 'BIDDER', 'PRICE'].includes(c.name)), NEXMARK_COLUMNS.map(() => false)];
  for (const materialise of layouts) {
    const o = run(NEXMARK_COLUMNS, materialise, records);
    expectClean(o);
    expect(o.fast).toBeGreaterThanOrEqual(0.99 * records.length);
  }
});

test('KDA ticker records take the fast path (≥99%)', () => {
  const records = tickerRecords(10_000);
  const o = run(TICKER_COLUMNS, TICKER_COLUMNS.map(() => true), records);
  expectClean(o);
  expect(o.fast).toBeGreaterThanOrEqual(0.99 * records.length);
});

// ---- Named cases

const one = (columns: RecordColumn[], record: string | Buffer) => {
  const o = run(columns, columns.map(() => true), [record]);
  expectClean(o);
  return o.fast === 1;
};
const decodeRow = (columns: RecordColumn[], record: string) => {
  const batch = new ColumnBatch(columns.map((c) => parseSqlType(c.sqlType)), columns.map(() => true));
  expect(new ColumnDecoder(JSON_FORMAT, columns).decode(Buffer.from(record), 0, Buffer.byteLength(record), batch, 1)).toBe(true);
  return batch.row(0);
};

test('duplicate keys: the last one wins, as JSON.parse keeps it (also for the object a chain goes through)', () => {
  const cols: RecordColumn[] = [{ name: 'A', sqlType: 'INTEGER', mapping: '$.a' }, { name: 'X', sqlType: 'INTEGER', mapping: '$.o.x' }, { name: 'Y', sqlType: 'INTEGER', mapping: '$.o.y' }];
  expect(decodeRow(cols, '{"a":1,"o":{"x":1,"y":2},"a":2,"o":{"x":3}}')).toEqual([2, 3, null]);
  expect(decodeRow(cols, '{"o":{"x":1,"x":5},"o":{"y":2,"x":4,"y":6}}')).toEqual([null, 4, 6]);
  expect(decodeRow(cols, '{"o":{"x":1},"o":7}')).toEqual([null, null, null]);
});

test('keys predicted from the records before: order changes, keys that extend or cut an expected one, unmapped and escaped keys', () => {
  const cols: RecordColumn[] = [
    { name: 'A', sqlType: 'INTEGER', mapping: '$.a' }, { name: 'AB', sqlType: 'INTEGER', mapping: '$.ab' },
    { name: 'X', sqlType: 'VARCHAR(8)', mapping: '$.o.x' }, { name: 'Z', sqlType: 'INTEGER', mapping: '$.z' },
  ];
  const typical = '{"a":1,"ab":2,"u":"skip","o":{"x":"v","w":0},"z":3}';
  const records = [
    ...Array(5).fill(typical),
    // The expected key with more after it, cut short, or another in its place.
    '{"ab":5,"a":6,"u":"skip","o":{"x":"v"},"z":3}', '{"abc":5,"a":6,"o":{"w":1,"x":"y"},"z":3}', '{"a":1,"a":2,"u":1,"o":{},"z":4}',
    typical, '{"a":1,"ab":2,"uu":"skip","o":{"x":"v","w":0},"zz":3,"z":9}', typical,
    // Escaped spellings of expected keys, keys with non-ASCII, and invalid JSON where an expected key is.
    '{"\\u0061":7,"ab":2,"u":"skip","o":{"x":"v"},"z":3}', '{"a":1,"ab":2,"ü":"skip","o":{"x":"v"},"z":3}', '{"a":1,"ab":2,"u":"skip","o":{"x":"v"},"z":3', '{"a":1,"ab"2,"o":{"x":"v"}}',
    '{"a":1,"ab":2,"u":"skip","o":{"x" :"v","w":0},"z":3}', '{ "a" : 1 , "ab" : 2 }', typical, '{"a":1}', '{}', typical,
  ];
  const o = run(cols, [true, true, true, true], records);
  expectClean(o);
  expect(o.fast).toBeGreaterThanOrEqual(records.length - 3);
  // Unmapped keys at more positions than are predicted, and more distinct ones than are kept.
  const wide = Array.from({ length: 40 }, (_, r) => `{${Array.from({ length: 40 }, (_, k) => `"k${(k + r) % 45}":${k}`).join(',')},"a":${r}}`);
  expectClean(run(cols, [true, false, false, false], wide));
});

test('a VARCHAR value longer than its column is left to the exact path, which reports it', () => {
  const cols: RecordColumn[] = [{ name: 'C', sqlType: 'VARCHAR(4)', mapping: '$.c' }, { name: 'N', sqlType: 'INTEGER', mapping: '$.n' }];
  expect(one(cols, '{"c":"abcd","n":1}')).toBe(true);
  expect(one(cols, '{"c":"abcde","n":1}')).toBe(false);
  expect(new RecordMapper(JSON_FORMAT, cols).map(Buffer.from('{"c":"abcde","n":1}')).errors[0]).toMatch(/column C/);
  // Unmaterialised columns are checked all the same; non-ASCII lengths count UTF-16 units as JS does.
  for (const materialised of [true, false]) {
    for (const [rec, fast] of [['{"c":"éééé"}', true], ['{"c":"ééééé"}', false], ['{"c":"😀😀"}', true], ['{"c":"😀😀a"}', false]] as const) {
      expect(run(cols, [materialised, true], [rec]).fast).toBe(fast ? 1 : 0);
      expectClean(run(cols, [materialised, true], [rec]));
    }
  }
});

test('integers: 1.5 is not an INTEGER, 1.0 and 1e2 are; out of range and -0', () => {
  const cols: RecordColumn[] = [{ name: 'I', sqlType: 'INTEGER', mapping: '$.i' }, { name: 'T', sqlType: 'TINYINT', mapping: '$.t' }];
  expect(one(cols, '{"i":1.5}')).toBe(false);
  expect(decodeRow(cols, '{"i":1.0,"t":1e2}')).toEqual([1, 100]);
  expect(one(cols, '{"i":2147483648}')).toBe(false);
  expect(one(cols, '{"i":-2147483648,"t":-128}')).toBe(true);
  expect(one(cols, '{"t":128}')).toBe(false);
  expect(Object.is(decodeRow(cols, '{"i":-0}')[0], -0)).toBe(true);
  expect(one(cols, '{"i":"42","t":" -7 "}')).toBe(true);
});

test('a top level that is not an object, and invalid JSON, are left to the exact path', () => {
  const cols: RecordColumn[] = [{ name: 'A', sqlType: 'INTEGER', mapping: '$.a' }];
  for (const rec of ['[1]', '5', '"a"', 'null', '', ' ', '{"a":01}', '{"a":1.}', '{"a":.5}', '{"a":+1}', '{"a":NaN}', "{'a':1}", '{"a":1}x', '{"a":1', '{"a":"\u0001"}', '{"a":1,}', '\ufeff{"a":1}']) {
    expect([rec, one(cols, rec)]).toEqual([rec, false]);
  }
  expect(one(cols, ' \t\r\n{ "a" : 1 } \n')).toBe(true);
});

test('escapes in a materialised string are decoded as JSON.parse decodes them', () => {
  const cols: RecordColumn[] = [{ name: 'S', sqlType: 'VARCHAR(32)', mapping: '$.s' }, { name: 'U', sqlType: 'VARCHAR', mapping: '$.u' }];
  expect(decodeRow(cols, String.raw`{"s":"a\"b\\c\/d\n\t\u00e9\ud83d\ude00","u":"\ud800"}`)).toEqual(['a"b\\c/d\n\té😀', '\ud800']);
  expect(one(cols, '{"s":"\\x"}')).toBe(false);
  expect(one(cols, '{"s":"\\u12"}')).toBe(false);
  // A key spelled with an escape is left to the exact path (it may name a mapped key).
  expect(one(cols, '{"\\u0073":"x"}')).toBe(false);
});

test('a chain through null, an array, a number or a string gives NULL', () => {
  const cols: RecordColumn[] = [{ name: 'A', sqlType: 'BIGINT', mapping: '$.bid.auction' }, { name: 'E', sqlType: 'INTEGER', mapping: '$.e' }];
  for (const bid of ['null', '[{"auction":1}]', '5', '"x"', '{}', 'true']) expect(decodeRow(cols, `{"e":2,"bid":${bid}}`)).toEqual([null, 2]);
  expect(decodeRow(cols, '{"bid":{"auction":9}}')).toEqual([9, null]);
});

test('invalid UTF-8 (which JSON.parse would read as U+FFFD) is left to the exact path', () => {
  const cols: RecordColumn[] = [{ name: 'S', sqlType: 'VARCHAR', mapping: '$.s' }];
  for (const bad of [[0xff], [0xc3], [0xed, 0xa0, 0x80], [0xe0, 0x80, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xc0, 0xaf]]) {
    const rec = Buffer.concat([Buffer.from('{"s":"a'), Buffer.from(bad), Buffer.from('"}')]);
    expect(one(cols, rec)).toBe(false);
  }
  expect(one(cols, '{"s":"aé中😀"}')).toBe(true);
});

test('the timestamp cache: repeats, and texts of the same length differing in their first or last byte only', () => {
  const cols: RecordColumn[] = [{ name: 'T', sqlType: 'TIMESTAMP', mapping: '$.t' }, { name: 'D', sqlType: 'DATE', mapping: '$.t' }, { name: 'U', sqlType: 'TIMESTAMP', mapping: '$.u' }];
  const texts = ['2024-01-02 03:04:05.671', '2024-01-02 03:04:05.671', '2024-01-02 03:04:05.672', '1024-01-02 03:04:05.672', '2024-01-02 03:04:05.672', '2024-01-02 03:04:05.67Z', '2024-01-02 03:04:05.672', '2024-01-02 03:04:05.67x', '2024-01-02 03:04:05.672', '1700000000001', '1700000000002', '1700000000002'];
  const records = texts.flatMap((t, i) => [`{"t":"${t}","u":"${texts[texts.length - 1 - i]}"}`, `{"t":"${t}"}`]);
  for (const materialise of [[true, true, true], [true, false, true]]) {
    const o = run(cols, materialise, records);
    expectClean(o);
    expect(o.slow).toBe(3); // the three records holding '…05.67x'
  }
});

test('the timestamp cache across milliseconds: texts differing from the last in their milliseconds only, and in more', () => {
  const cols: RecordColumn[] = [{ name: 'T', sqlType: 'TIMESTAMP', mapping: '$.t' }, { name: 'D', sqlType: 'DATE', mapping: '$.t' }];
  const texts = [
    '2026-01-01 00:00:00.123', '2026-01-01 00:00:00.124', '2026-01-01 00:00:00.199', '2026-01-01 00:00:00.100', '2026-01-01 00:00:00.999',
    '2026-01-01 00:00:01.000', '2026-01-01 00:00:01.001', '2026-01-01 00:00:01.0x1', '2026-01-01 00:00:01.002', '2026-12-31 23:59:59.998',
    '2026-12-31 23:59:59.999', '2027-12-31 23:59:59.997', '2026-01-01T00:00:00.500Z', '2026-01-01T00:00:00.501Z', '2026-01-01T00:00:00.502+', '2026-01-01T00:00:00.503Z',
    '2026-01-01 00:00:00.5000', '2026-01-01 00:00:00.5001', '2026-02-29 00:00:00.001', '2026-02-29 00:00:00.002', '+26-01-01 00:00:00.123', '+26-01-01 00:00:00.124',
  ];
  const records = texts.map((t) => `{"t":"${t}"}`);
  for (const materialise of [[true, true], [true, false], [false, true]]) {
    const o = run(cols, materialise, records);
    expectClean(o);
    expect(o.fast).toBeGreaterThan(10);
  }
});

test('materialised strings: repeated short ones (kept by their bytes), distinct ones, long ones, colliding ones', () => {
  const rnd = prng(5);
  const cols: RecordColumn[] = [{ name: 'S', sqlType: 'VARCHAR(40)', mapping: '$.s' }, { name: 'U', sqlType: 'VARCHAR', mapping: '$.u' }];
  const few = ['QXZ', 'AAPL', 'ab', 'ba', 'aab', 'abb', 'a_b', 'ab_', 'x'.repeat(32), 'x'.repeat(31) + 'y', ''];
  const records: string[] = [];
  // Few values, then distinct ones long enough for the cache to give up, then few again after it comes back.
  for (let k = 0; k < 5000; k++) records.push(JSON.stringify({ s: few[Math.floor(rnd() * few.length)], u: 'z'.repeat(Math.floor(rnd() * 40)) }));
  for (let k = 0; k < 70_000; k++) records.push(JSON.stringify({ s: `v${k}`, u: few[k % few.length] }));
  for (let k = 0; k < 5000; k++) records.push(JSON.stringify({ s: few[Math.floor(rnd() * few.length)], u: `${k}` }));
  const o = run(cols, [true, true], records);
  expectClean(o);
  expect(o.fast).toBe(records.length);
});

test('other row paths and index or wildcard mappings always take the exact path', () => {
  expect(run([{ name: 'A', sqlType: 'INTEGER', mapping: '$.a' }], [true], ['{"items":[{"a":1}]}'], { type: 'JSON', rowPath: '$.items[*]' }).fast).toBe(0);
  expect(run([{ name: 'A', sqlType: 'INTEGER', mapping: '$.a[0]' }], [true], ['{"a":[1]}']).fast).toBe(0);
});

test('numbers equal Number(text) bit for bit across the grammar (digits, fractions, exponents, -0, huge, tiny)', () => {
  const rnd = prng(11);
  const cols: RecordColumn[] = [{ name: 'X', sqlType: 'DOUBLE', mapping: '$.x' }];
  const texts = Array.from({ length: 20_000 }, () => numberText(rnd));
  texts.push('-0', '0.0', '-0.0e5', '9007199254740993', '9007199254740992', '0.1', '0.30000000000000004', '5e-324', '1.7976931348623157e308', '2.2250738585072014e-308', '123456789012345678901234567890', '1e22', '1e23', '4.35', '1e-22', '1e400', '1e0000000000000000000000000000001', '1e-0000000000000000000000000000001', '0.0000000000000000000000000000001e31', '1e' + '9'.repeat(12));
  const o = run(cols, [true], texts.map((t) => `{"x":${t}}`));
  expectClean(o);
  // Every finite one takes the fast path.
  expect(o.fast).toBe(texts.filter((t) => Number.isFinite(Number(t))).length);
});

// ---- The fuzzer

function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 15), z | 1);
    z ^= z + Math.imul(z ^ (z >>> 7), z | 61);
    return ((z ^ (z >>> 14)) >>> 0) / 2 ** 32;
  };
}

/** A valid JSON number text, from the grammar. */
function numberText(rnd: () => number): string {
  const digits = (n: number, lead = false) => Array.from({ length: n }, (_, i) => String(i === 0 && lead ? 1 + Math.floor(rnd() * 9) : Math.floor(rnd() * 10))).join('');
  const special = ['0', '-0', '1.0', '1.5', '2147483647', '2147483648', '-2147483649', '127', '-128', '9007199254740991', '9007199254740993', '1e2', '1E+2', '1e-2', '1e400', '-1e400', '5e-324', '0.1'];
  if (rnd() < 0.2) return special[Math.floor(rnd() * special.length)]!;
  const r = rnd();
  const len = r < 0.6 ? 1 + Math.floor(rnd() * 6) : 1 + Math.floor(rnd() * 25);
  let t = (rnd() < 0.3 ? '-' : '') + (rnd() < 0.15 ? '0' : digits(len, true));
  if (rnd() < 0.5) t += '.' + digits(1 + Math.floor(rnd() * (rnd() < 0.7 ? 4 : 25)));
  if (rnd() < 0.25) t += (rnd() < 0.5 ? 'e' : 'E') + ['', '+', '-'][Math.floor(rnd() * 3)] + digits(1 + Math.floor(rnd() * 3));
  return t;
}

const KEYS = ['a', 'b', 'n', 's', 'ts', 'o', 'p', 'q', 'é', 'x y', '__proto__'];
const TIMESTAMPS = ['2024-01-02T03:04:05.678Z', '2024-01-02 03:04:05', '2024-01-02', '2024-01-02T03:04:05+01:00', '1700000000000', ' 2024-01-02T03:04Z ', '2024-13-45T00:00:00Z', '2024-01-02T03:04:05.678Z', '13:48:23.456', '7:05'];
const BAD_TOKENS = ['01', '1.', '.5', '+1', 'NaN', 'Infinity', '-', '1e', '0x10', "'s'", 'tru', 'nul', '"\u0001"', '"\\x"', '"\\u12g4"', '[1,]', '{,}', '{"a"}', '"unterminated'];

/** A random JSON text (valid unless `badRate` > 0), with random whitespace and escapes. */
function genJson(rnd: () => number, badRate: number): string {
  const pick = <T>(a: readonly T[]) => a[Math.floor(rnd() * a.length)]!;
  const ws = () => (rnd() < 0.85 ? '' : pick([' ', '\t', '\n', '\r', '  \n ']));
  const str = (s: string) => {
    let out = '"';
    for (const ch of s) {
      const c = ch.codePointAt(0)!;
      if (ch === '"' || ch === '\\') out += '\\' + ch;
      else if (c < 0x20) out += rnd() < 0.5 ? `\\u${c.toString(16).padStart(4, '0')}` : ({ 10: '\\n', 9: '\\t', 13: '\\r', 8: '\\b', 12: '\\f' } as Record<number, string>)[c] ?? `\\u${c.toString(16).padStart(4, '0')}`;
      else if (rnd() < 0.05) out += [...ch.split('')].map((u) => `\\u${u.charCodeAt(0).toString(16).padStart(4, '0')}`).join('');
      else if (ch === '/' && rnd() < 0.5) out += '\\/';
      else out += ch;
    }
    return out + '"';
  };
  const text = () => {
    const r = rnd();
    if (r < 0.25) return pick(TIMESTAMPS);
    if (r < 0.35) return pick(['true', 'false', 'TRUE', '42', ' -7 ', '1.5', '', ' ', '0x10', '1e3']);
    const pool = ['a', 'b', 'Z', ' ', '0', '9', '"', '\\', '/', '\n', '\u0001', '\u007f', 'é', '中', '😀', '\u2028', '\ud800'];
    return Array.from({ length: Math.floor(rnd() * (rnd() < 0.8 ? 8 : 40)) }, () => pick(pool)).join('');
  };
  const value = (depth: number): string => {
    if (badRate > 0 && rnd() < badRate) return pick(BAD_TOKENS);
    const r = rnd();
    if (r < 0.3) return numberText(rnd);
    if (r < 0.55) return str(text());
    if (r < 0.62) return pick(['true', 'false', 'null']);
    if (depth < 4 && r < 0.9) {
      const n = Math.floor(rnd() * 5);
      const members = Array.from({ length: n }, () => {
        const k = rnd() < 0.9 ? pick(KEYS) : text();
        const key = rnd() < 0.03 ? `"\\u${k.charCodeAt(0).toString(16).padStart(4, '0')}${k.slice(1)}"` : str(k);
        return `${ws()}${key}${ws()}:${ws()}${value(depth + 1)}${ws()}`;
      });
      return `{${members.join(',')}${n ? '' : ws()}}`;
    }
    if (depth < 4) return `[${Array.from({ length: Math.floor(rnd() * 4) }, () => `${ws()}${value(depth + 1)}${ws()}`).join(',')}]`;
    return 'null';
  };
  // Mostly objects at the top, with the mapped keys likely present.
  const top = rnd() < 0.93
    ? `{${Array.from({ length: Math.floor(rnd() * 8) }, () => `${ws()}${str(pick(KEYS))}${ws()}:${ws()}${value(1)}${ws()}`).join(',')}}`
    : value(3);
  return ws() + top + ws();
}

/** Damages a valid text at the byte level. */
function damage(rnd: () => number, s: string): Buffer {
  const b = Buffer.from(s, 'utf8');
  const at = Math.floor(rnd() * (b.length + 1));
  const pick = <T>(a: readonly T[]) => a[Math.floor(rnd() * a.length)]!;
  switch (Math.floor(rnd() * 6)) {
    case 0: return b.subarray(0, at);
    case 1: return Buffer.concat([b, Buffer.from(pick(['x', '}', ',', ' 1', '{}', '\u0000']))]);
    case 2: { const c = Buffer.from(b); if (at < c.length) c[at] = pick([0x27, 0x30, 0x2e, 0x2b, 0x01, 0x4e, 0x7d, 0x5d, 0x2c, 0x22, 0x5c, 0x20]); return c; }
    case 3: return Buffer.concat([b.subarray(0, at), Buffer.from(pick([[0xff], [0xc3], [0xed, 0xa0, 0x80], [0xe0, 0x9f, 0xbf], [0x01], [0x0a]])), b.subarray(at)]);
    case 4: return Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), b]);
    default: return Buffer.concat([b.subarray(0, at), b.subarray(Math.min(b.length, at + 1 + Math.floor(rnd() * 3)))]);
  }
}

const TYPES = ['INTEGER', 'BIGINT', 'SMALLINT', 'TINYINT', 'DOUBLE', 'REAL', 'DECIMAL(8,2)', 'VARCHAR(4)', 'VARCHAR(64)', 'VARCHAR', 'CHAR(2)', 'BOOLEAN', 'TIMESTAMP', 'DATE', 'TIME', 'VARBINARY(8)'];

function genLayout(rnd: () => number): { columns: RecordColumn[]; materialise: boolean[] } {
  const pick = <T>(a: readonly T[]) => a[Math.floor(rnd() * a.length)]!;
  const n = 1 + Math.floor(rnd() * 8);
  const columns = Array.from({ length: n }, (_, i) => {
    const depth = rnd() < 0.5 ? 1 : rnd() < 0.7 ? 2 : 3;
    const keys = Array.from({ length: depth }, (_, j) => (j < depth - 1 ? pick(['o', 'p', 'q', 'a']) : pick(KEYS)));
    const mapping = '$' + keys.map((k) => (/^[A-Za-z_$][\w$-]*$/.test(k) ? `.${k}` : `["${k}"]`)).join('');
    return { name: `C${i}`, sqlType: pick(TYPES), mapping };
  });
  return { columns, materialise: columns.map(() => rnd() < 0.7) };
}

test('fuzz: valid and damaged JSON under random column layouts agree with RecordMapper', () => {
  const rnd = prng(2026);
  let fast = 0;
  let total = 0;
  let validFast = 0;
  let valid = 0;
  for (let layout = 0; layout < 300; layout++) {
    const { columns, materialise } = genLayout(rnd);
    const records: (string | Buffer)[] = [];
    for (let k = 0; k < 100; k++) {
      const r = rnd();
      if (r < 0.6) records.push(genJson(rnd, 0));
      else if (r < 0.8) records.push(genJson(rnd, 0.05));
      else records.push(damage(rnd, genJson(rnd, 0)));
    }
    const o = run(columns, materialise, records);
    expectClean(o);
    fast += o.fast;
    total += records.length;
    for (const rec of records) {
      let parsed = true;
      try { JSON.parse(Buffer.from(rec).toString('utf8')); } catch { parsed = false; }
      if (parsed) valid++;
    }
    validFast += o.fast;
  }
  // The fuzzer must exercise the fast path (not only its refusals) and the exact path.
  expect(valid).toBeGreaterThan(0.5 * total);
  expect(validFast).toBeGreaterThan(0.25 * valid);
  expect(total - fast).toBeGreaterThan(0.2 * total);
});

test('fuzz: the same layouts on records built to fit them mostly take the fast path', () => {
  const rnd = prng(99);
  const layout: RecordColumn[] = [
    { name: 'I', sqlType: 'INTEGER', mapping: '$.n' },
    { name: 'S', sqlType: 'VARCHAR(64)', mapping: '$.s' },
    { name: 'T', sqlType: 'TIMESTAMP', mapping: '$.ts' },
    { name: 'D', sqlType: 'DATE', mapping: '$.ts' },
    { name: 'X', sqlType: 'DOUBLE', mapping: '$.o.p.x' },
    { name: 'B', sqlType: 'BOOLEAN', mapping: '$.o.b' },
    { name: 'TM', sqlType: 'TIME', mapping: '$.o.tm' },
  ];
  const records = Array.from({ length: 5000 }, () => {
    const doc: Record<string, unknown> = { n: Math.floor((rnd() - 0.5) * 1e6), s: 'ab\u00e9"\\'.slice(0, Math.floor(rnd() * 6)), ts: TIMESTAMPS[Math.floor(rnd() * 6)], o: { p: { x: (rnd() - 0.5) * 1e10 }, b: rnd() < 0.5, tm: '12:34:56' } };
    if (rnd() < 0.2) delete doc.o;
    return JSON.stringify(doc, null, rnd() < 0.3 ? 2 : undefined);
  });
  for (const materialise of [layout.map(() => true), layout.map((_, i) => i % 2 === 0)]) {
    const o = run(layout, materialise, records);
    expectClean(o);
    expect(o.fast).toBeGreaterThan(0.99 * records.length);
  }
});

// ---- CSV

const CSV_TYPES = ['INTEGER', 'BIGINT', 'TINYINT', 'DOUBLE', 'REAL', 'VARCHAR(4)', 'VARCHAR(16)', 'VARCHAR', 'BOOLEAN', 'TIMESTAMP', 'DATE', 'TIME'];

/** A random CSV field: numbers in Number()'s forms and others, text, timestamps, empty. */
function csvField(rnd: () => number): string {
  const pick = <T>(a: readonly T[]) => a[Math.floor(rnd() * a.length)]!;
  const r = rnd();
  if (r < 0.35) return numberText(rnd);
  if (r < 0.5) return pick(['007', '1.', '.5', '+1', '-', '.', '1e', ' 12 ', '0x10', 'Infinity', '-0', '+.5e-3', '1_000', '12\r', '\uFEFF1', '1.e5', '.e5', 'e5', '99999999999999999999', '9007199254740993']);
  if (r < 0.65) return pick(TIMESTAMPS);
  if (r < 0.72) return pick(['true', 'FALSE', 'yes', '']);
  return Array.from({ length: Math.floor(rnd() * 10) }, () => pick(['a', 'Z', ' ', '"', "'", 'é', '中', '😀', ',', '|', ':', '\t'])).join('');
}

test('CSV: typical records (one line) take the fast path and agree with RecordMapper', () => {
  const rnd = prng(17);
  const cols: RecordColumn[] = [{ name: 'SYM', sqlType: 'VARCHAR(4)' }, { name: 'SECTOR', sqlType: 'VARCHAR(16)' }, { name: 'CHANGE', sqlType: 'REAL' }, { name: 'PRICE', sqlType: 'DOUBLE' }, { name: 'N', sqlType: 'INTEGER' }, { name: 'T', sqlType: 'TIMESTAMP' }];
  const records = Array.from({ length: 5000 }, (_, k) => `${['QXZ', 'AAPL', 'WAS'][k % 3]},${['RETAIL', 'ENERGY'][k % 2]},${Math.round((rnd() - 0.5) * 1000) / 100},${Math.round(rnd() * 100_000) / 100},${Math.floor(rnd() * 1e6) - 5e5},2026-01-01 00:00:0${k % 10}.${k % 1000}${k % 2 ? '\n' : ''}`);
  for (const materialise of [cols.map(() => true), cols.map((_, i) => i % 2 === 1)]) {
    const o = run(cols, materialise, records, { type: 'CSV', rowDelimiter: '\n', columnDelimiter: ',' });
    expectClean(o);
    expect(o.fast).toBe(records.length);
  }
  // Several lines, no line, or a too-long value: the exact path.
  const fmt: RecordFormat = { type: 'CSV', rowDelimiter: '\n', columnDelimiter: ',' };
  const two: RecordColumn[] = [{ name: 'A', sqlType: 'INTEGER' }, { name: 'B', sqlType: 'VARCHAR(2)' }];
  expect(run(two, [true, true], ['1,a\n2,b', '', '\n\n', '1,abc', '1.5,a', 'x,a'], fmt).fast).toBe(0);
  expect(run(two, [true, true], ['1,ab', '\n\n1,a\n', '1', ',', '1,a,extra,fields', '-0,'], fmt).fast).toBe(6);
});

test('fuzz: CSV records under random delimiters and layouts agree with RecordMapper', () => {
  const rnd = prng(404);
  const pick = <T>(a: readonly T[]) => a[Math.floor(rnd() * a.length)]!;
  let fast = 0;
  let total = 0;
  for (let layout = 0; layout < 200; layout++) {
    const format: RecordFormat = { type: 'CSV', rowDelimiter: pick(['\n', '\\n', '\r\n', '||', '中']), columnDelimiter: pick([',', '\t', '\\t', '|', '::', ',,', 'é']) };
    const row = format.rowDelimiter.replace('\\n', '\n');
    const col = format.columnDelimiter.replace('\\t', '\t');
    const n = 1 + Math.floor(rnd() * 6);
    const columns = Array.from({ length: n }, (_, i) => ({ name: `C${i}`, sqlType: pick(CSV_TYPES) }));
    const materialise = columns.map(() => rnd() < 0.7);
    const records: (string | Buffer)[] = Array.from({ length: 100 }, () => {
      const lines = pick([1, 1, 1, 1, 0, 2]);
      // Mostly fields that fit their column's type (so whole rows can), sometimes anything.
      const fitting = (i: number) => {
        const t = columns[i]?.sqlType ?? 'VARCHAR';
        if (rnd() < 0.15) return csvField(rnd);
        if (/INT/.test(t)) return String(Math.floor((rnd() - 0.5) * (t === 'TINYINT' ? 250 : 1e6)));
        if (/DOUBLE|REAL/.test(t)) return numberText(rnd);
        if (/TIMESTAMP|DATE/.test(t)) return pick(TIMESTAMPS.slice(0, 6));
        if (t === 'TIME') return '12:34:56';
        if (t === 'BOOLEAN') return pick(['true', 'FALSE']);
        return pick(['ab', 'é', '😀', '', 'abcd']);
      };
      let text = Array.from({ length: lines }, () => Array.from({ length: Math.floor(rnd() * (n + 2)) }, (_, i) => fitting(i)).join(col)).join(row);
      if (rnd() < 0.2) text = pick([row, '']) + text + pick([row, row + row, '']);
      if (rnd() < 0.05) return Buffer.concat([Buffer.from(text), Buffer.from(pick([[0xff], [0xc3], [0xed, 0xa0, 0x80]]))]);
      return text;
    });
    const o = run(columns, materialise, records, format);
    expectClean(o);
    fast += o.fast;
    total += records.length;
  }
  expect(fast).toBeGreaterThan(0.2 * total);
  expect(total - fast).toBeGreaterThan(0.2 * total);
});
