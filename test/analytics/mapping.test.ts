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
