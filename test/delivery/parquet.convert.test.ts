// JSON → Parquet conversion (runtime/delivery/parquet.ts) read back by an
// independent reader (DuckDB's read_parquet): column types, values, nulls,
// nested struct/array/map, decimals, dates, timestamps of both SerDes, the
// Parquet codecs, failures by record, and byte-identical output for the same
// batch (a replayed flush must overwrite its object with the same bytes).
import { convertToParquet, decimalOf } from '../../stream/delivery/parquet.js';
import type { DataFormatConversionDef } from '../../stream/deliveryStreams.js';
import { HiveTypeError, parseColumns, parseHiveType } from '../../stream/delivery/hiveType.js';
import { readParquet } from '../harness/parquetRead.js';

const COLUMNS = [
  { Name: 'id', Type: 'bigint' },
  { Name: 'name', Type: 'string' },
  { Name: 'code', Type: 'varchar(3)' },
  { Name: 'ok', Type: 'boolean' },
  { Name: 'small', Type: 'tinyint' },
  { Name: 'n', Type: 'int' },
  { Name: 'ratio', Type: 'double' },
  { Name: 'f', Type: 'float' },
  { Name: 'price', Type: 'decimal(10,2)' },
  { Name: 'big', Type: 'decimal(30,4)' },
  { Name: 'day', Type: 'date' },
  { Name: 'ts', Type: 'timestamp' },
  { Name: 'raw', Type: 'binary' },
  { Name: 'tags', Type: 'array<string>' },
  { Name: 'attrs', Type: 'map<string,int>' },
  { Name: 'address', Type: 'struct<city:string,zip:int,geo:struct<lat:double,lon:double>>' },
  { Name: 'items', Type: 'array<struct<sku:string,qty:int>>' },
];

const conv = (over: Partial<DataFormatConversionDef> = {}, columns = COLUMNS): DataFormatConversionDef => ({
  Enabled: true,
  SchemaConfiguration: { DatabaseName: 'db', TableName: 't', Columns: columns },
  InputFormatConfiguration: { Deserializer: { OpenXJsonSerDe: {} } },
  OutputFormatConfiguration: { Serializer: { ParquetSerDe: {} } },
  ...over,
});

const rec = (o: unknown) => ({ data: Buffer.from(typeof o === 'string' ? o : JSON.stringify(o)) });

const FULL = {
  id: 9007199254740993, Name: 'Ada', code: 'ABCDEF', ok: true, small: -5, n: 42, ratio: 0.25, f: 1.5, price: '19.99', big: '12345678901234567890.1234',
  day: '2024-02-29', ts: '2024-02-29T12:34:56.789Z', raw: Buffer.from('hi!').toString('base64'), tags: ['a', 'b'], attrs: { x: 1, y: 2 },
  address: { city: 'Oslo', ZIP: 150, geo: { lat: 59.9, lon: 10.7 } }, items: [{ sku: 's1', qty: 2 }, { sku: 's2', qty: null }],
};

test('types and values read back by DuckDB, with nulls and nested columns', async () => {
  const out = convertToParquet(conv(), [rec(FULL), rec({ id: 2 }), rec({ id: '3', n: '7', ok: 'FALSE', ts: 1518033528, tags: [], attrs: {}, address: null, items: [] })]);
  expect(out.failed).toEqual([]);
  expect(out.rows).toBe(3);
  const t = await readParquet(out.body!, 'SELECT * FROM t ORDER BY id');
  expect(t.codecs).toEqual(['SNAPPY']);
  expect(t.types).toEqual({
    id: 'BIGINT', name: 'VARCHAR', code: 'VARCHAR', ok: 'BOOLEAN', small: 'TINYINT', n: 'INTEGER', ratio: 'DOUBLE', f: 'FLOAT',
    price: 'DECIMAL(10,2)', big: 'DECIMAL(30,4)', day: 'DATE', ts: 'TIMESTAMP', raw: 'BLOB', tags: 'VARCHAR[]', attrs: 'MAP(VARCHAR, INTEGER)',
    address: 'STRUCT(city VARCHAR, zip INTEGER, geo STRUCT(lat DOUBLE, lon DOUBLE))', items: 'STRUCT(sku VARCHAR, qty INTEGER)[]',
  });
  const [b, c, a] = t.rows; // ORDER BY id: 2, 3, then the large one
  // JSON.parse already rounded 9007199254740993 to ...992: what Firehose's JSON parser would keep is not checked here.
  expect(a).toMatchObject({
    name: 'Ada', code: 'ABC', ok: true, small: -5, n: 42, ratio: 0.25, f: 1.5, price: '19.99', big: '12345678901234567890.1234',
    day: '2024-02-29', ts: '2024-02-29 12:34:56.789', tags: ['a', 'b'],
    address: { city: 'Oslo', zip: 150, geo: { lat: 59.9, lon: 10.7 } }, items: [{ sku: 's1', qty: 2 }, { sku: 's2', qty: null }],
  });
  expect(a!.attrs).toEqual([{ key: 'x', value: 1 }, { key: 'y', value: 2 }]);
  expect(b).toMatchObject({ id: '2', name: null, ok: null, price: null, ts: null, tags: null, address: null, items: null });
  expect(c).toMatchObject({ id: '3', n: 7, ok: false, ts: '2018-02-07 19:58:48', tags: [], address: null });
});

test('OpenX timestamp forms and key options; Hive TimestampFormats', async () => {
  const cols = [{ Name: 'ts', Type: 'timestamp' }, { Name: 'a_b', Type: 'int' }, { Name: 'ts2', Type: 'string' }];
  const openx = conv({ InputFormatConfiguration: { Deserializer: { OpenXJsonSerDe: { ConvertDotsInJsonKeysToUnderscores: true, ColumnToJsonKeyMappings: { ts2: 'timestamp' } } } } }, cols);
  const out = convertToParquet(openx, [
    rec({ ts: 1518033528123, 'A.B': 1, timestamp: 'x' }), rec({ ts: 1518033528.5, 'a.b': 2 }), rec({ ts: '2017-2-7 15:13:01.392', 'a.b': 3 }), rec({ ts: '2017-02-07T15:13:01.392567Z', 'a.b': 4 }),
  ]);
  expect(out.failed).toEqual([]);
  const t = await readParquet(out.body!, 'SELECT CAST(ts AS VARCHAR) AS ts, a_b, ts2 FROM t ORDER BY a_b');
  expect(t.rows).toEqual([
    { ts: '2018-02-07 19:58:48.123', a_b: 1, ts2: 'x' }, { ts: '2018-02-07 19:58:48.5', a_b: 2, ts2: null },
    { ts: '2017-02-07 15:13:01.392', a_b: 3, ts2: null }, { ts: '2017-02-07 15:13:01.392567', a_b: 4, ts2: null },
  ]);
  // Case-sensitive keys: "A" is not column "a".
  const cs = convertToParquet(conv({ InputFormatConfiguration: { Deserializer: { OpenXJsonSerDe: { CaseInsensitive: false } } } }, [{ Name: 'a', Type: 'int' }]), [rec({ A: 1 }), rec({ a: 2 })]);
  expect((await readParquet(cs.body!, 'SELECT a FROM t')).rows).toEqual([{ a: null }, { a: 2 }]);

  const hive = conv({ InputFormatConfiguration: { Deserializer: { HiveJsonSerDe: { TimestampFormats: ["dd/MM/yyyy'T'HH:mm:ssZ", 'millis'] } } } }, [{ Name: 'ts', Type: 'timestamp' }]);
  const h = convertToParquet(hive, [rec({ ts: '07/02/2017T15:13:01+01:00' }), rec({ ts: 1518033528123 }), rec({ ts: '2017-02-07 15:13:01' }), rec({ ts: '2017-02-07T15:13:01Z' })]);
  expect(h.failed).toEqual([{ index: 3, code: 'DataFormatConversion.MalformedData', message: expect.stringContaining('at ts') }]);
  expect((await readParquet(h.body!, 'SELECT CAST(ts AS VARCHAR) AS ts FROM t')).rows.map((r) => r.ts))
    .toEqual(['2017-02-07 14:13:01', '2018-02-07 19:58:48.123', '2017-02-07 15:13:01']);
});

test('malformed JSON and type mismatches fail per record; the rest convert', async () => {
  const out = convertToParquet(conv(), [rec({ id: 1 }), rec('{"id": 2,'), rec({ id: 'x' }), rec({ id: 4, small: 300 }), rec('[{"id":5}]'), rec('{"id":6}{"id":7}'), rec({ id: 8, tags: 'a' }), rec({ id: 9, day: '2023-02-30' })]);
  expect(out.failed.map((f) => f.index)).toEqual([1, 2, 3, 4, 6, 7]);
  expect(out.failed[0]!.message).toMatch(/JSON/);
  expect(out.failed[1]!.message).toMatch(/at id: expected bigint/);
  expect(out.failed[2]!.message).toMatch(/out of range for tinyint/);
  const t = await readParquet(out.body!, 'SELECT id FROM t ORDER BY id');
  expect(t.rows.map((r) => r.id)).toEqual(['1', '6', '7']);
  expect(convertToParquet(conv(), [rec('nope')])).toEqual({ rows: 0, failed: [{ index: 0, code: 'DataFormatConversion.ParseError', message: expect.stringMatching(/malformed JSON/) }] });
  expect(out.failed[1]!.code).toBe('DataFormatConversion.MalformedData');
});

test('the same batch gives byte-identical objects; codecs and dictionary options apply', async () => {
  const batch = Array.from({ length: 300 }, (_, i) => rec({ ...FULL, id: i, name: `n${i % 7}` }));
  const a = convertToParquet(conv(), batch).body!;
  const b = convertToParquet(structuredClone(conv()), batch.map((r) => ({ data: Buffer.from(r.data) }))).body!;
  expect(a.equals(b)).toBe(true);
  for (const codec of ['GZIP', 'UNCOMPRESSED'] as const) {
    const body = convertToParquet(conv({ OutputFormatConfiguration: { Serializer: { ParquetSerDe: { Compression: codec, EnableDictionaryCompression: false, PageSizeBytes: 64 * 1024 } } } }), batch).body!;
    const t = await readParquet(body, 'SELECT count(*)::INT AS n, count(DISTINCT name)::INT AS d FROM t');
    expect(t.codecs).toEqual([codec]);
    expect(t.rows).toEqual([{ n: 300, d: 7 }]);
  }
  // A small BlockSizeBytes gives several row groups.
  const grouped = convertToParquet(conv({ OutputFormatConfiguration: { Serializer: { ParquetSerDe: { BlockSizeBytes: 20_000 } } } }), batch).body!;
  expect((await readParquet(grouped, 'SELECT 1')).rowGroups).toBeGreaterThan(5);
  expect((await readParquet(a, 'SELECT 1')).rowGroups).toBe(1);
});

test('Hive type strings are validated', () => {
  expect(parseHiveType('array<struct<a:int,b:map<string,array<decimal(5,2)>>>>')).toEqual({
    kind: 'array', element: { kind: 'struct', fields: [{ name: 'a', type: { kind: 'int' } }, { name: 'b', type: { kind: 'map', key: { kind: 'string' }, value: { kind: 'array', element: { kind: 'decimal', precision: 5, scale: 2 } } } }] },
  });
  expect(parseHiveType('DECIMAL')).toEqual({ kind: 'decimal', precision: 10, scale: 0 });
  for (const bad of ['strin', 'decimal(40,2)', 'decimal(5,6)', 'array<int', 'map<array<int>,int>', 'struct<a:int,a:int>', 'varchar(0)', 'int extra', 'array<>']) {
    expect(() => parseHiveType(bad)).toThrow(HiveTypeError);
  }
  expect(() => parseColumns([{ Name: 'a', Type: 'int' }, { Name: 'A', Type: 'int' }])).toThrow(/declared twice/);
  expect(() => parseColumns([{ Name: '1a', Type: 'int' }])).toThrow(/not a valid Hive column name/);
  expect(() => parseColumns([{ Name: 'a', Type: 'struct<x>' }])).toThrow(/Column a has an invalid type/);
  expect(decimalOf('1.005', 5, 2)).toBe(101n);
  expect(decimalOf('-2.5e2', 5, 1)).toBe(-2500n);
  expect(decimalOf('1234.5', 4, 1)).toBeUndefined();
});

test('a flush formed twice (the replay after a crash) writes the same keys and the same Parquet bytes', async () => {
  const { buildObjects } = await import('../../runtime/delivery/objects.js');
  const flush = () => ({
    deliveryStreamName: 'ds', uid: 'uid-1', shardId: 'shardId-000000000000', first: { seq: '1' }, last: { seq: '300' }, versionId: 1,
    s3: {
      BucketARN: 'arn:aws:s3:::b', Prefix: 'p/', ErrorOutputPrefix: 'e/', BufferingHints: { SizeInMBs: 1, IntervalInSeconds: 0 }, CompressionFormat: 'UNCOMPRESSED' as const,
      DataFormatConversionConfiguration: conv(),
    },
    records: Array.from({ length: 300 }, (_, i) => ({
      recordId: String(i + 1), data: Buffer.from(i === 5 ? '{bad' : JSON.stringify({ ...FULL, id: i })), arrivalMs: 1_700_000_000_000 + i,
      kinesis: { shardId: 'shardId-000000000000', partitionKey: 'k', sequenceNumber: `4960${i}`, subsequenceNumber: i === 5 ? 2 : undefined },
    })),
  });
  const ctx = { deliveryStreamArn: 'arn:aws:firehose:us-east-1:000000000000:deliverystream/ds', region: 'us-east-1', functions: {}, functionTimeoutMs: 1000 };
  const a = await buildObjects(flush(), ctx);
  const b = await buildObjects(flush(), ctx);
  const data = a.filter((o) => !o.error);
  expect(data).toHaveLength(1);
  expect(data[0]!.key).toMatch(/^p\/2023\/11\/14\/22\/ds-1-2023-11-14-22-13-20-[0-9a-f-]{36}\.parquet$/);
  expect(data[0]!.records).toBe(299);
  expect(a.map((o) => o.key)).toEqual(b.map((o) => o.key));
  expect(Buffer.compare(data[0]!.body, b.find((o) => !o.error)!.body)).toBe(0);
  const err = a.find((o) => o.error)!;
  expect(err).toMatchObject({ error: 'format-conversion-failed', records: 1, key: expect.stringMatching(/^e\/.*[0-9a-f]$/) });
  // Firehose's documented error document, with the Kinesis record's position.
  expect(JSON.parse(err.body.toString())).toEqual({
    attemptsMade: 1, arrivalTimestamp: 1_700_000_000_005, ErrorCode: 'DataFormatConversion.ParseError', ErrorMessage: expect.stringMatching(/^Encountered malformed JSON/),
    attemptEndingTimestamp: expect.any(Number), rawData: Buffer.from('{bad').toString('base64'), sequenceNumber: '49605', subSequenceNumber: 2,
    dataCatalogTable: { databaseName: 'db', tableName: 't', region: 'us-east-1', versionId: 'LATEST' },
  });
});
