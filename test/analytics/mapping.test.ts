// RecordMapper's nested key paths ($.a.b, $["a"]["b"]) read property by
// property: the values must be what the general JSONPath selection gives
// (the oracle here is a plain walk written in the test), missing or non-object
// steps give NULL, and paths with indexes or wildcards keep working.
import { RecordMapper } from '../../analytics/mapping.js';

const columns = [
  { name: 'A', sqlType: 'BIGINT', mapping: '$.bid.auction' },
  { name: 'P', sqlType: 'DOUBLE', mapping: '$["bid"]["price"]' },
  { name: 'C', sqlType: 'VARCHAR(8)', mapping: '$.bid.meta.channel' },
  { name: 'T', sqlType: 'INTEGER', mapping: '$.event_type' },
  { name: 'FIRST', sqlType: 'VARCHAR(8)', mapping: '$.tags[0]' },
];
const mapper = new RecordMapper({ type: 'JSON', rowPath: '$' }, columns);
const row = (doc: unknown) => {
  const m = mapper.map(Buffer.from(JSON.stringify(doc)));
  expect(m.errors).toEqual([]);
  return m.rows[0];
};

test('nested keys read through objects', () => {
  expect(row({ event_type: 2, bid: { auction: 1007, price: 12.5, meta: { channel: 'Apple' } }, tags: ['x', 'y'] })).toEqual([1007, 12.5, 'Apple', 2, 'x']);
});

test('a missing step, a null, an array or a scalar on the way gives NULL', () => {
  expect(row({ event_type: 0, person: { id: 1 } })).toEqual([null, null, null, 0, null]);
  expect(row({ event_type: 2, bid: null })).toEqual([null, null, null, 2, null]);
  expect(row({ event_type: 2, bid: [{ auction: 1 }] })).toEqual([null, null, null, 2, null]);
  expect(row({ event_type: 2, bid: { auction: 3, meta: 'flat' } })).toEqual([3, null, null, 2, null]);
  // Inherited properties are not the record's fields.
  expect(row({ event_type: 2, bid: { meta: {} } })[2]).toBeNull();
  expect(new RecordMapper({ type: 'JSON', rowPath: '$' }, [{ name: 'X', sqlType: 'VARCHAR(64)', mapping: '$.bid.constructor' }]).map(Buffer.from('{"bid":{}}')).rows[0]).toEqual([null]);
});

test('a value of the wrong type is a mapping error naming the column', () => {
  const m = mapper.map(Buffer.from(JSON.stringify({ event_type: 2, bid: { auction: 'not a number' } })));
  expect(m.rows).toEqual([]);
  expect(m.errors[0]).toMatch(/\bA\b/);
});

test('mapTo gives map()\'s rows and reasons, into the caller\'s arrays (JSON, a row path, CSV, bad records)', () => {
  const cases: [RecordMapper, string[]][] = [
    [mapper, [JSON.stringify({ event_type: 2, bid: { auction: 1, price: 2.5 } }), '{not json', JSON.stringify({ event_type: 'two' }), JSON.stringify({ event_type: 1 })]],
    [new RecordMapper({ type: 'JSON', rowPath: '$.items[*]' }, [{ name: 'N', sqlType: 'INTEGER', mapping: '$.n' }]), [JSON.stringify({ items: [{ n: 1 }, { n: 'x' }, { n: 3 }] }), '[]', 'nope']],
    [new RecordMapper({ type: 'CSV', rowDelimiter: '\n', columnDelimiter: ',' }, [{ name: 'A', sqlType: 'INTEGER' }, { name: 'B', sqlType: 'VARCHAR(4)' }]), ['1,a\n2,b\n', 'x,c', '3,dd']],
  ];
  for (const [m, records] of cases) {
    const out: { v: unknown[]; i: number }[] = [];
    const errors: string[] = [];
    const expected: { v: unknown[]; i: number }[] = [];
    const expectedErrors: string[] = [];
    records.forEach((r, i) => {
      m.mapTo(Buffer.from(r), out, errors, (v) => ({ v, i }));
      const got = m.map(Buffer.from(r));
      for (const v of got.rows) expected.push({ v, i });
      expectedErrors.push(...got.errors);
    });
    expect(out).toEqual(expected);
    expect(errors).toEqual(expectedErrors);
    expect(errors.length).toBeGreaterThan(0);
    expect(out.length).toBeGreaterThan(0);
  }
});

test('a row path over an array larger than a call takes arguments maps every element (no stack overflow)', () => {
  const m = new RecordMapper({ type: 'JSON', rowPath: '$.items[*]' }, [{ name: 'N', sqlType: 'INTEGER', mapping: '$.n' }]);
  const n = 300_000;
  const doc = JSON.stringify({ items: Array.from({ length: n }, (_, i) => ({ n: i % 1000 })) });
  const got = m.map(Buffer.from(doc));
  expect(got.errors).toEqual([]);
  expect(got.rows.length).toBe(n);
  expect(got.rows[n - 1]).toEqual([(n - 1) % 1000]);
  const wild = new RecordMapper({ type: 'JSON', rowPath: '$.*' }, [{ name: 'N', sqlType: 'INTEGER', mapping: '$.n' }]);
  const obj = JSON.stringify(Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, { n: 1 }])));
  expect(wild.map(Buffer.from(obj)).rows.length).toBe(n);
});
