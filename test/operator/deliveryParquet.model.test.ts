// The CRD path of record format conversion, pure: a DeliveryStream's
// spec.s3.parquet → validateDeliveryStream → deliveryDefinitionOf → the
// definition the worker reads (DataFormatConversionConfiguration in the
// Firehose shape, with the inline columns), and the reasons it is refused.
import { DeliveryStreamSpec, type DeliveryStream } from '../../crds/schema/deliverystream.js';
import { deliveryDefinitionOf } from '../../operator/model/deliveryDefinition.js';
import { validateDeliveryStream } from '../../operator/model/validate.js';
import { deliveryChildren } from '../../operator/model/workers.js';
import { parseDeliveryConfig } from '../../contract/delivery.js';
import { WORKER_CONFIG_KEY } from '../../contract/mounts.js';

const COLUMNS = [{ name: 'id', type: 'bigint' }, { name: 'tags', type: 'array<string>' }];
const raw = (s3: Record<string, unknown>) => ({ source: { type: 'DirectPut' }, s3: { bucket: 'lake', format: 'PARQUET', ...s3 } });
const resource = (spec: DeliveryStreamSpec): DeliveryStream => ({ apiVersion: 'shardline.dev/v1alpha1', kind: 'DeliveryStream', metadata: { name: 'clicks', namespace: 'web', uid: 'u-1', generation: 1 }, spec });

test('spec.s3.parquet becomes the Firehose DataFormatConversionConfiguration the worker reads', () => {
  const v = validateDeliveryStream(raw({ parquet: { schema: { columns: COLUMNS }, deserializer: 'Hive', hive: { timestampFormats: ['millis'] }, compression: 'GZIP', enableDictionaryCompression: false } }));
  if (!v.ok) throw new Error(v.message);
  const r = deliveryDefinitionOf(resource(v.spec), v.spec, undefined, 'eu-west-1', '123456789012');
  if (!r.ok) throw new Error(r.message);
  expect(r.def.s3.CompressionFormat).toBe('UNCOMPRESSED');
  expect(r.def.s3.ProcessingConfiguration).toBeUndefined();
  expect(r.def.s3.DataFormatConversionConfiguration).toEqual({
    Enabled: true,
    // The table defaults to <namespace>.<name>: what the Firehose API's SchemaConfiguration can name.
    SchemaConfiguration: { CatalogId: '123456789012', Region: 'eu-west-1', VersionId: 'LATEST', DatabaseName: 'web', TableName: 'clicks', Columns: [{ Name: 'id', Type: 'bigint' }, { Name: 'tags', Type: 'array<string>' }] },
    InputFormatConfiguration: { Deserializer: { HiveJsonSerDe: { TimestampFormats: ['millis'] } } },
    OutputFormatConfiguration: { Serializer: { ParquetSerDe: { Compression: 'GZIP', BlockSizeBytes: 256 * 1024 * 1024, PageSizeBytes: 1024 * 1024, EnableDictionaryCompression: false, WriterVersion: 'V1' } } },
  });
  // The worker's config file names the stream; the conversion travels in the definition (the store), as for API-made streams.
  const kids = deliveryChildren(resource(v.spec), v.spec, undefined, { image: 'i', natsUrl: 'nats://n:4222', pdbApiVersion: 'policy/v1', sharedEndpoint: 'http://x' });
  expect(parseDeliveryConfig(JSON.parse((kids.configMap as any).data[WORKER_CONFIG_KEY])).deliveryStreamName).toBe('clicks');
});

test('OpenX options, and an explicit database/table name', () => {
  const spec = DeliveryStreamSpec.parse(raw({ parquet: { schema: { databaseName: 'db', tableName: 't', columns: COLUMNS }, openX: { caseInsensitive: false, columnToJsonKeyMappings: { id: 'ID' } } } }));
  const r = deliveryDefinitionOf(resource(spec), spec, undefined, 'us-east-1', '000000000000');
  if (!r.ok) throw new Error(r.message);
  const c = r.def.s3.DataFormatConversionConfiguration!;
  expect(c.SchemaConfiguration).toMatchObject({ DatabaseName: 'db', TableName: 't' });
  expect(c.InputFormatConfiguration).toEqual({ Deserializer: { OpenXJsonSerDe: { CaseInsensitive: false, ConvertDotsInJsonKeysToUnderscores: false, ColumnToJsonKeyMappings: { id: 'ID' } } } });
  expect(c.OutputFormatConfiguration!.Serializer!.ParquetSerDe!.Compression).toBe('SNAPPY');
});

test('refusals: no schema, S3 compression, bad column types, options of the other deserializer, a bad timestamp format', () => {
  expect(validateDeliveryStream(raw({}))).toMatchObject({ ok: false, reason: 'InvalidSpec', message: expect.stringMatching(/spec\.s3\.parquet \(the schema\) is required/) });
  expect(validateDeliveryStream(raw({ compression: 'GZIP', parquet: { schema: { columns: COLUMNS } } }))).toMatchObject({ ok: false, message: expect.stringMatching(/UNCOMPRESSED/) });
  expect(validateDeliveryStream(raw({ parquet: { schema: { columns: COLUMNS }, hive: {} } }))).toMatchObject({ ok: false, message: expect.stringMatching(/needs deserializer Hive/) });
  expect(validateDeliveryStream(raw({ parquet: { schema: { columns: [{ name: '9x', type: 'int' }] } } }))).toMatchObject({ ok: false, reason: 'InvalidSpec' });
  for (const [type, why] of [['int32', /unknown type int32/], ['array<int', /expected '>'/], ['decimal(39,1)', /precision must be between 1 and 38/], ['map<struct<a:int>,int>', /map keys must be a primitive/]] as const) {
    const spec = DeliveryStreamSpec.parse(raw({ parquet: { schema: { columns: [{ name: 'a', type }] } } }));
    const r = deliveryDefinitionOf(resource(spec), spec, undefined, 'us-east-1', '000000000000');
    expect(r).toMatchObject({ ok: false, reason: 'InvalidSchema', message: expect.stringMatching(why) });
    expect(!r.ok && r.message).toMatch(/^The schema of web\.clicks is invalid: Column a has an invalid type/);
  }
  const spec = DeliveryStreamSpec.parse(raw({ parquet: { schema: { columns: COLUMNS }, deserializer: 'Hive', hive: { timestampFormats: ['yyyy-MM-dd EEE'] } } }));
  expect(deliveryDefinitionOf(resource(spec), spec, undefined, 'us-east-1', '000000000000')).toMatchObject({ ok: false, reason: 'InvalidSchema', message: expect.stringMatching(/TimestampFormats entry/) });
});

test('spec.s3.parquet.catalogTable: the definition names the Glue table without columns (the worker resolves it); with inline columns too, or neither, InvalidSpec', () => {
  const v = validateDeliveryStream(raw({ parquet: { catalogTable: { databaseName: 'Shop', tableName: 'orders' } } }));
  if (!v.ok) throw new Error(v.message);
  const r = deliveryDefinitionOf(resource(v.spec), v.spec, undefined, 'us-east-1', '000000000000');
  if (!r.ok) throw new Error(r.message);
  expect(r.def.s3.DataFormatConversionConfiguration!.SchemaConfiguration).toEqual({ CatalogId: '000000000000', Region: 'us-east-1', VersionId: 'LATEST', DatabaseName: 'Shop', TableName: 'orders' });
  // The 1.20 apiserver strips CEL: the operator's own check says what is wrong.
  const both = raw({ parquet: { catalogTable: { databaseName: 'shop', tableName: 'orders' }, schema: { columns: COLUMNS } } });
  expect(validateDeliveryStream(both)).toMatchObject({ ok: false, reason: 'InvalidSpec', message: 'spec.s3.parquet needs exactly one of schema (inline columns) and catalogTable (a Glue catalog table)' });
  expect(validateDeliveryStream(raw({ parquet: {} }))).toMatchObject({ ok: false, reason: 'InvalidSpec', message: expect.stringMatching(/exactly one of schema/) });
  const spec = DeliveryStreamSpec.parse(both);
  expect(deliveryDefinitionOf(resource(spec), spec, undefined, 'us-east-1', '000000000000')).toMatchObject({ ok: false, reason: 'InvalidSchema', message: expect.stringMatching(/exactly one of schema/) });
});
